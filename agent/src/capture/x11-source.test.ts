import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RawFrame } from './screen-source.ts';
import { createX11Source } from './x11-source.ts';

const hasXvfb = spawnSync('sh', ['-c', 'command -v Xvfb'], { stdio: 'ignore' }).status === 0;

interface Xvfb {
  display: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts Xvfb on a free display in :90–:99. Readiness comes from Xvfb itself (`-displayfd`), so
 * a server another test file started on the same number at the same moment is never mistaken
 * for ours: ours then exits (display taken) and the next number is tried.
 */
async function startXvfb(size = '640x480x24'): Promise<Xvfb> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const n = 90 + Math.floor(Math.random() * 10);
    if (existsSync(`/tmp/.X${n}-lock`)) continue;
    const display = `:${n}`;
    const child = spawn('Xvfb', [display, '-screen', '0', size, '-nolisten', 'tcp', '-displayfd', '3'], { stdio: ['ignore', 'ignore', 'ignore', 'pipe'] });
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
        process: child,
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

/** Covers the whole screen with one colour: a borderless xterm painted fg = bg = cursor colour. */
function paintScreen(display: string, colour: string): ChildProcess {
  const args = ['-display', display, '-b', '0', '-bw', '0', '-bg', colour, '-fg', colour, '-cr', colour, '-geometry', '300x200+0+0', '-e', 'sleep', '60'];
  return spawn('xterm', args, { stdio: 'ignore' });
}

function pixel(frame: RawFrame, x: number, y: number): number[] {
  const i = (y * frame.width + x) * 4;
  return Array.from(frame.data.subarray(i, i + 4));
}

/** Captures until `pred` holds (the X server paints asynchronously), failing after `ms`. */
async function captureUntil(capture: () => Promise<RawFrame>, pred: (f: RawFrame) => boolean, ms = 15_000): Promise<RawFrame> {
  const deadline = Date.now() + ms;
  for (;;) {
    const frame = await capture();
    if (pred(frame)) return frame;
    if (Date.now() > deadline) throw new Error('condition not met in time');
  }
}

describe.skipIf(!hasXvfb)('x11 source (Xvfb)', () => {
  let xvfb: Xvfb;
  beforeAll(async () => {
    xvfb = await startXvfb();
  });
  afterAll(async () => {
    await xvfb?.stop();
  });

  it('detects the screen size and captures the root window colour', async () => {
    const red = paintScreen(xvfb.display, '#ff0000');
    const source = await createX11Source({ display: xvfb.display, fps: 20, drawCursor: false });
    try {
      expect(source).toMatchObject({ kind: 'x11', width: 640, height: 480 });
      const frame = await captureUntil(() => source.capture(), (f) => pixel(f, 320, 240)[0] === 255);
      expect(frame.data.length).toBe(640 * 480 * 4);
      expect(pixel(frame, 320, 240)).toEqual([255, 0, 0, 255]);
      expect(pixel(frame, 0, 0)).toEqual([255, 0, 0, 255]);
      expect(pixel(frame, 639, 479)).toEqual([255, 0, 0, 255]);
    } finally {
      await source.close();
      red.kill();
    }
  });

  it('returns the newest frame rather than a queue of old ones', async () => {
    const green = paintScreen(xvfb.display, '#00ff00');
    let blue: ChildProcess | undefined;
    const source = await createX11Source({ display: xvfb.display, fps: 30, drawCursor: false });
    try {
      const first = await captureUntil(() => source.capture(), (f) => pixel(f, 10, 10)[1] === 255);
      blue = paintScreen(xvfb.display, '#0000ff');
      await sleep(1500); // the blue window maps; ~45 frames arrive meanwhile, all but the newest dropped
      const next = await source.capture();
      expect(pixel(next, 10, 10)).toEqual([0, 0, 255, 255]);
      expect(next.seq).toBe(first.seq + 1);
      expect(next.captureTsMs).toBeGreaterThan(first.captureTsMs);
      expect(next.data.buffer).not.toBe(first.data.buffer);
      expect(pixel(first, 10, 10)).toEqual([0, 255, 0, 255]); // the caller's frame was not reused
    } finally {
      await source.close();
      green.kill();
      blue?.kill();
    }
  });

  it('captures a top-left region when given a size', async () => {
    const source = await createX11Source({ display: xvfb.display, width: 320, height: 200, fps: 10 });
    try {
      const frame = await source.capture();
      expect(frame).toMatchObject({ width: 320, height: 200 });
      expect(frame.data.length).toBe(320 * 200 * 4);
    } finally {
      await source.close();
    }
  });

  it('refuses a size larger than the screen', async () => {
    await expect(createX11Source({ display: xvfb.display, width: 1000, height: 480, fps: 10 })).rejects.toThrow(RangeError);
  });

  it('names the display when it does not exist', async () => {
    const free = [80, 81, 82, 83, 84, 85, 86, 87, 88, 89].find((n) => !existsSync(`/tmp/.X${n}-lock`)) ?? 89;
    await expect(createX11Source({ display: `:${free}`, fps: 10 })).rejects.toThrow(`X display :${free} is not reachable`);
  });

  it('refuses a malformed display name before running anything', async () => {
    await expect(createX11Source({ display: ':0; rm -rf /', fps: 10 })).rejects.toThrow(/invalid X display/);
  });

  it('fails pending and later captures, naming the display, when the X server goes away', async () => {
    const doomed = await startXvfb('320x240x24');
    const source = await createX11Source({ display: doomed.display, fps: 10 });
    try {
      await source.capture();
      await doomed.stop();
      await expect(captureUntil(() => source.capture(), () => false, 10_000)).rejects.toThrow(doomed.display);
    } finally {
      await source.close();
      await doomed.stop();
    }
  });

  it('closes idempotently and refuses captures afterwards', async () => {
    const source = await createX11Source({ display: xvfb.display, fps: 10 });
    await Promise.all([source.close(), source.close()]);
    await source.close();
    await expect(source.capture()).rejects.toThrow(/closed/);
  });
});
