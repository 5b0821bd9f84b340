// Real remote control of a real X server: Xvfb, the agent capturing it (`--source x11`) and
// injecting input with xdotool, a viewer clicking and typing. `xev` shows what reached a window;
// `xdotool getmouselocation` where the pointer is. Skipped when the X tools are not installed.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScenario, type Scenario } from '../support/scenario.ts';
import { stopChild } from '../support/server-process.ts';
import type { ViewerClient } from '../support/viewer-client.ts';
import { waitUntil } from '../support/wait.ts';

const TOOLS = ['Xvfb', 'xdotool', 'xev', 'xdpyinfo', 'ffmpeg'];
const has = (tool: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const missing = TOOLS.filter((t) => !has(t));

/** Starts Xvfb on a display number it picks itself (`-displayfd`), so parallel tests never collide. */
function startXvfb(): Promise<{ child: ChildProcess; display: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', '800x600x24', '-nolisten', 'tcp'], { stdio: ['ignore', 'ignore', 'ignore', 'pipe'] });
    let out = '';
    const t = setTimeout(() => reject(new Error('Xvfb did not report its display')), 15_000);
    child.stdio[3]!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /^(\d+)\n/.exec(out);
      if (!m) return;
      clearTimeout(t);
      resolve({ child, display: `:${m[1]}` });
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`Xvfb exited with ${code}`));
    });
  });
}

const x = (display: string, ...args: string[]) => execFileSync('xdotool', args, { env: { ...process.env, DISPLAY: display }, encoding: 'utf8' }).trim();

describe.skipIf(missing.length > 0)('remote control of an X display', () => {
  let display = '';
  let xvfb: ChildProcess;
  let xev: ChildProcess;
  let xevOut = '';
  let sc: Scenario;
  let viewer: ViewerClient;

  beforeAll(async () => {
    ({ child: xvfb, display } = await startXvfb());
    // A window at the top-left that prints the key and button events it receives.
    xev = spawn('xev', ['-display', display, '-geometry', '400x300+0+0', '-event', 'keyboard', '-event', 'button', '-event', 'structure'], { stdio: ['ignore', 'pipe', 'ignore'] });
    xev.stdout!.on('data', (b: Buffer) => (xevOut += b.toString()));
    await waitUntil(() => xevOut.includes('MapNotify'), 15_000, 'the xev window');

    sc = await startScenario({ agentArgs: ['--source', 'x11', '--display', display, '--fps', '10'] });
    viewer = await sc.join();
    await waitUntil(() => viewer.stats.frames > 0, 30_000, 'a frame of the X display');
  }, 90_000);

  afterAll(async () => {
    await sc?.stop();
    if (xev) await stopChild(xev);
    if (xvfb) await stopChild(xvfb);
  });

  it('streams the X screen', () => {
    expect([viewer.width, viewer.height]).toEqual([800, 600]);
  });

  it('moves the X pointer to the coordinates the viewer clicked', async () => {
    await viewer.sendInput({ type: 'pointer:move', x: 123, y: 234, t: Date.now() });
    await viewer.sendInput({ type: 'pointer:button', button: 'left', down: true, x: 123, y: 234, t: Date.now() });
    await viewer.sendInput({ type: 'pointer:button', button: 'left', down: false, x: 123, y: 234, t: Date.now() });
    await waitUntil(() => /x:123 y:234\b/.test(x(display, 'getmouselocation')), 15_000, 'the pointer at 123,234');
    await waitUntil(() => /ButtonPress event[\s\S]*button 1,/.test(xevOut) && /ButtonRelease event/.test(xevOut), 15_000, 'the click in the xev window');
  });

  it('types text into the window under the pointer', async () => {
    // Without a window manager the keyboard focus follows the pointer, which is over xev now.
    const before = xevOut.length;
    await viewer.sendInput({ type: 'text', text: 'hello', t: Date.now() });
    const typed = () => [...xevOut.slice(before).matchAll(/KeyPress event[\s\S]*?XLookupString gives \d+ bytes: (?:\(\w+\) "(.)")?/g)].map((m) => m[1] ?? '').join('');
    await waitUntil(() => typed().includes('hello'), 15_000, 'the typed text in xev');
  });

  it('presses physical keys by their code', async () => {
    const before = xevOut.length;
    await viewer.sendInput({ type: 'key', code: 'KeyQ', down: true, t: Date.now() });
    await viewer.sendInput({ type: 'key', code: 'KeyQ', down: false, t: Date.now() });
    await waitUntil(() => /KeyRelease event[\s\S]*keysym 0x71, q\)/.test(xevOut.slice(before)), 15_000, 'KeyQ in xev');
  });
});
