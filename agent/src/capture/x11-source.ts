import { execFile, spawn } from 'node:child_process';
import type { RawFrame, ScreenSource } from './screen-source.ts';

/**
 * Captures a real X display with Debian's `ffmpeg -f x11grab`, one long-running child writing
 * raw RGBA frames to its stdout. Frames are assembled from the pipe as they arrive; `capture()`
 * returns the newest complete frame not yet returned (older ones are dropped, never queued), or
 * waits for the next one. Returned `data` belongs to the caller.
 */

export interface X11SourceOptions {
  /** X display, e.g. `:0` or `:99` (optionally `host:N.S`). */
  display: string;
  /** Capture size from the top-left corner; default: the whole screen (from `xdpyinfo`). */
  width?: number;
  height?: number;
  /** Frames per second ffmpeg grabs. */
  fps: number;
  /** Draw the pointer into the frames (x11grab `-draw_mouse`); default true. */
  drawCursor?: boolean;
  /** How long `capture()` waits for a frame before failing; default 5000 ms. */
  frameTimeoutMs?: number;
}

const DISPLAY_PATTERN = /^[A-Za-z0-9._-]*:\d{1,5}(\.\d{1,3})?$/;
const STDERR_TAIL_BYTES = 2048;

function run(file: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(err, { stderr }));
      else resolve(stdout);
    });
  });
}

/** Width and height of the default screen of `display`, via `xdpyinfo`. Throws naming the display. */
export async function queryScreenSize(display: string): Promise<{ width: number; height: number }> {
  if (!DISPLAY_PATTERN.test(display)) throw new Error(`invalid X display name ${JSON.stringify(display)}`);
  let out: string;
  try {
    out = await run('xdpyinfo', ['-display', display], 5000);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('xdpyinfo not found: install x11-utils to capture an X display');
    const detail = String((err as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(`X display ${display} is not reachable${detail ? `: ${detail}` : ''}`);
  }
  const match = /dimensions:\s+(\d+)x(\d+) pixels/.exec(out);
  if (match === null) throw new Error(`xdpyinfo gave no screen dimensions for X display ${display}`);
  return { width: Number(match[1]), height: Number(match[2]) };
}

interface Waiter {
  resolve: (frame: RawFrame) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** Starts capturing `display`. Rejects, naming the display, when it is unreachable. */
export async function createX11Source(options: X11SourceOptions): Promise<ScreenSource> {
  const { display, fps, drawCursor = true, frameTimeoutMs = 5000 } = options;
  if (!Number.isFinite(fps) || fps <= 0 || fps > 240) throw new RangeError('fps must be in (0, 240]');
  const screen = await queryScreenSize(display);
  const width = options.width ?? screen.width;
  const height = options.height ?? screen.height;
  for (const [name, value, max] of [
    ['width', width, screen.width],
    ['height', height, screen.height],
  ] as const) {
    if (!Number.isInteger(value) || value < 1 || value > max) {
      throw new RangeError(`${name} ${value} does not fit X display ${display} (${screen.width}×${screen.height})`);
    }
  }

  const frameBytes = width * height * 4;
  // Probing off: x11grab's stream parameters are known, and probing would hold back the first
  // frames until 5 MB had been read (2 s for a small screen at 10 fps).
  const args = ['-nostdin', '-hide_banner', '-loglevel', 'error', '-probesize', '32', '-analyzeduration', '0', '-fflags', 'nobuffer'];
  args.push('-f', 'x11grab', '-draw_mouse', drawCursor ? '1' : '0', '-framerate', String(fps), '-video_size', `${width}x${height}`, '-i', display);
  args.push('-f', 'rawvideo', '-pix_fmt', 'rgba', '-');
  const child = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });

  let assembling: Uint8Array = new Uint8Array(frameBytes);
  let filled = 0;
  let spare: Uint8Array | null = null; // a dropped frame's buffer, reused for the next one
  let latest: { data: Uint8Array; captureTsMs: number } | null = null;
  let seq = 0;
  let failure: Error | null = null;
  let stderrTail = '';
  const waiters = new Set<Waiter>();

  const fail = (err: Error): void => {
    failure ??= err;
    for (const waiter of waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(failure);
    }
    waiters.clear();
  };
  const hand = (waiter: Waiter, frame: { data: Uint8Array; captureTsMs: number }): void => {
    clearTimeout(waiter.timer);
    waiters.delete(waiter);
    waiter.resolve({ width, height, data: frame.data, captureTsMs: frame.captureTsMs, seq: seq++ });
  };

  child.stdout.on('data', (chunk: Buffer) => {
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(chunk.length - offset, frameBytes - filled);
      assembling.set(chunk.subarray(offset, offset + take), filled);
      filled += take;
      offset += take;
      if (filled < frameBytes) continue;
      const complete = { data: assembling, captureTsMs: Date.now() };
      if (latest !== null) spare = latest.data; // never returned: reuse rather than queue
      latest = null;
      const [waiter] = waiters;
      if (waiter === undefined) latest = complete;
      else hand(waiter, complete);
      assembling = spare ?? new Uint8Array(frameBytes);
      spare = null;
      filled = 0;
    }
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderrTail = (stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
  });
  const exited = new Promise<void>((resolve) => {
    child.on('error', (err: NodeJS.ErrnoException) => {
      fail(err.code === 'ENOENT' ? new Error('ffmpeg not found: install ffmpeg to capture an X display') : new Error(`ffmpeg for X display ${display} failed: ${err.message}`));
      resolve();
    });
    child.on('exit', (code, signal) => {
      fail(new Error(`ffmpeg x11grab of X display ${display} exited (${signal ?? `code ${code}`})${stderrTail ? `: ${stderrTail.trim()}` : ''}`));
      resolve();
    });
  });

  let closing: Promise<void> | null = null;
  let closed = false;
  return {
    kind: 'x11',
    width,
    height,
    capture(): Promise<RawFrame> {
      if (closed) return Promise.reject(new Error(`x11 source for ${display} is closed`));
      if (failure !== null) return Promise.reject(failure);
      return new Promise<RawFrame>((resolve, reject) => {
        const waiter: Waiter = {
          resolve,
          reject,
          timer: setTimeout(() => {
            waiters.delete(waiter);
            reject(new Error(`no frame from X display ${display} within ${frameTimeoutMs} ms`));
          }, frameTimeoutMs),
        };
        waiters.add(waiter);
        if (latest !== null) {
          const frame = latest;
          latest = null;
          hand(waiter, frame);
        }
      });
    },
    close(): Promise<void> {
      closed = true;
      closing ??= (async () => {
        fail(new Error(`x11 source for ${display} is closed`));
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const killer = setTimeout(() => child.kill('SIGKILL'), 2000);
          await exited;
          clearTimeout(killer);
        }
        child.stdout.removeAllListeners('data');
        child.stderr.removeAllListeners('data');
      })();
      return closing;
    },
  };
}
