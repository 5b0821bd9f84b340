import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { InputMessage } from '@guruconnect/shared/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InputSink } from './input-sink.ts';
import { createX11Input } from './x11-input.ts';

const hasXvfb = spawnSync('sh', ['-c', 'command -v Xvfb'], { stdio: 'ignore' }).status === 0;

interface Xvfb {
  display: string;
  stop(): Promise<void>;
}

/**
 * Starts Xvfb on a free display in :90–:99. Readiness comes from Xvfb itself (`-displayfd`), so
 * a server another test file started on the same number at the same moment is never mistaken
 * for ours: ours then exits (display taken) and the next number is tried.
 */
async function startXvfb(): Promise<Xvfb> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const n = 90 + Math.floor(Math.random() * 10);
    if (existsSync(`/tmp/.X${n}-lock`)) continue;
    const display = `:${n}`;
    const child = spawn('Xvfb', [display, '-screen', '0', '640x480x24', '-nolisten', 'tcp', '-displayfd', '3'], { stdio: ['ignore', 'ignore', 'ignore', 'pipe'] });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const ready = await new Promise<boolean>((resolve) => {
      let said = '';
      child.stdio[3]?.on('data', (chunk: Buffer) => {
        said += chunk.toString();
        if (said.includes('\n')) resolve(true);
      });
      void exited.then(() => resolve(false));
      setTimeout(() => resolve(false), 10_000).unref();
    });
    if (ready) {
      return {
        display,
        stop: async () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          await exited;
        },
      };
    }
    child.kill('SIGKILL');
    await exited;
  }
  throw new Error('could not start Xvfb on any display in :90–:99');
}

const t = 0;
const move = (x: number, y: number): InputMessage => ({ type: 'pointer:move', x, y, t });
const key = (code: string, down: boolean): InputMessage => ({ type: 'key', code, down, t });
const tap = (code: string): InputMessage[] => [key(code, true), key(code, false)];

async function waitFor<T>(probe: () => T | undefined, what: string, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

describe.skipIf(!hasXvfb)('x11 input (Xvfb + xdotool)', () => {
  let xvfb: Xvfb;
  let sink: InputSink;
  const children: ChildProcess[] = [];
  const xdotool = (...args: string[]): string =>
    spawnSync('xdotool', args, { env: { ...process.env, DISPLAY: xvfb.display }, encoding: 'utf8' }).stdout.trim();
  /** Starts an X client and waits until its window (by title) is mapped; returns the window id. */
  const openWindow = async (title: string, command: string, args: string[]): Promise<{ child: ChildProcess; window: string; output: () => string }> => {
    let output = '';
    const child = spawn(command, ['-display', xvfb.display, ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
    child.stdout?.setEncoding('utf8').on('data', (text: string) => (output += text));
    children.push(child);
    const window = await waitFor(() => xdotool('search', '--onlyvisible', '--name', title).split('\n')[0] || undefined, `window ${title}`);
    return { child, window, output: () => output };
  };

  beforeAll(async () => {
    xvfb = await startXvfb();
    sink = createX11Input({ display: xvfb.display });
  });
  afterAll(async () => {
    await sink?.close();
    for (const child of children) child.kill();
    await xvfb?.stop();
  });

  it('moves the pointer to the requested coordinates', async () => {
    await sink.apply(move(123, 45));
    expect(xdotool('getmouselocation')).toMatch(/^x:123 y:45 /);
  });

  it('types text and keys into a focused terminal', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gc-x11-input-'));
    const file = join(dir, 'typed.txt');
    try {
      const { window } = await openWindow('gc-typing', 'xterm', ['-T', 'gc-typing', '-geometry', '60x10+0+0', '-e', 'sh', '-c', 'cat > "$0"', file]);
      xdotool('windowfocus', '--sync', window);
      await sink.apply({ type: 'text', text: 'héllo -n "$(id)" `x`; done', t });
      for (const m of tap('Enter')) await sink.apply(m);
      await sink.apply({ type: 'text', text: '--version\n', t }); // an option-looking text is still just text
      for (const m of [key('ShiftLeft', true), ...tap('KeyA'), key('ShiftLeft', false), ...tap('KeyB'), ...tap('Digit7'), ...tap('Minus'), ...tap('Enter')]) {
        await sink.apply(m);
      }
      const text = await waitFor(() => {
        const content = existsSync(file) ? readFileSync(file, 'utf8') : '';
        return content.split('\n').length >= 4 ? content : undefined;
      }, 'typed lines');
      expect(text).toBe('héllo -n "$(id)" `x`; done\n--version\nAb7-\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('clicks, scrolls and presses combos where asked (observed by xev)', async () => {
    const xev = await openWindow('gc-xev-click', 'xev', ['-name', 'gc-xev-click', '-geometry', '200x150+300+200', '-event', 'button', '-event', 'keyboard']);
    xdotool('windowfocus', '--sync', xev.window);
    const messages: InputMessage[] = [
      { type: 'pointer:button', button: 'left', down: true, x: 350, y: 260, t },
      { type: 'pointer:button', button: 'left', down: false, x: 350, y: 260, t },
      { type: 'pointer:button', button: 'right', down: true, x: 420, y: 300, t },
      { type: 'pointer:button', button: 'right', down: false, x: 420, y: 300, t },
      { type: 'pointer:wheel', dx: 0, dy: 250, x: 400, y: 250, t }, // two notches down, 50 px kept
      { type: 'pointer:wheel', dx: 0, dy: 50, x: 400, y: 250, t }, // the third notch
      { type: 'pointer:wheel', dx: 0, dy: -100, x: 400, y: 250, t }, // one notch up
      { type: 'keys:combo', combo: 'ctrl-alt-del', t },
    ];
    for (const m of messages) await sink.apply(m);
    const out = await waitFor(() => (/keysym 0x[0-9a-f]+, Delete\)[\s\S]*KeyRelease/.test(xev.output()) ? xev.output() : undefined), 'xev events');
    const presses = [...out.matchAll(/ButtonPress event[^\n]*\n[^\n]*root:\((\d+),(\d+)\)[^\n]*\n[^\n]*button (\d+)/g)].map((m) => m.slice(1).map(Number));
    expect(presses).toEqual([
      [350, 260, 1],
      [420, 300, 3],
      [400, 250, 5],
      [400, 250, 5],
      [400, 250, 5],
      [400, 250, 4],
    ]);
    const keys = [...out.matchAll(/KeyPress event[\s\S]*?keysym 0x[0-9a-f]+, (\w+)\)/g)].map((m) => m[1]);
    expect(keys).toEqual(['Control_L', 'Alt_L', 'Delete']);
  });

  it('ignores key codes outside the keymap and keeps working', async () => {
    for (const code of ['NotAKey', 'constructor', '__proto__', 'F13', 'KeyAA']) {
      await expect(sink.apply(key(code, true))).resolves.toBeUndefined();
    }
    await sink.apply(move(7, 9));
    expect(xdotool('getmouselocation')).toMatch(/^x:7 y:9 /);
  });

  it('injects pointer moves with low latency', async () => {
    const count = 200;
    const start = performance.now();
    for (let i = 0; i < count; i++) await sink.apply(move(i, i));
    const msPerMove = (performance.now() - start) / count;
    const burstStart = performance.now();
    await Promise.all(Array.from({ length: count }, (_, i) => sink.apply(move(i + 1, 2 * i))));
    const burstMs = (performance.now() - burstStart) / count;
    console.log(`xdotool pointer move: ${msPerMove.toFixed(2)} ms each awaited, ${burstMs.toFixed(2)} ms each pipelined`);
    expect(xdotool('getmouselocation')).toMatch(/^x:200 y:398 /);
    expect(msPerMove).toBeLessThan(20);
  });

  it('releases held keys when closed', async () => {
    const xev = await openWindow('gc-xev-release', 'xev', ['-name', 'gc-xev-release', '-geometry', '100x100+0+300', '-event', 'keyboard']);
    xdotool('windowfocus', '--sync', xev.window);
    const own = createX11Input({ display: xvfb.display });
    await own.apply(key('ShiftRight', true));
    await own.close();
    await own.close();
    await own.apply(key('KeyQ', true)); // ignored after close
    const out = await waitFor(() => (/KeyRelease[\s\S]*Shift_R/.test(xev.output()) ? xev.output() : undefined), 'Shift_R release');
    expect(out).not.toMatch(/, q\)/);
  });

  it('refuses a malformed display name', () => {
    expect(() => createX11Input({ display: ':0 && reboot' })).toThrow(/invalid X display/);
  });
});
