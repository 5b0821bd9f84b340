import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { InputMessage } from '@guruconnect/shared/protocol';
import type { InputSink } from './input-sink.ts';
import { COMBO_CHORDS, KEYSYM_PATTERN, keysymForCode, POINTER_BUTTON_NUMBERS, WHEEL_BUTTONS } from './keymap.ts';

/**
 * Injects input into an X display through XTest, using Debian's `xdotool`.
 *
 * Pointer, key and combo messages go to ONE long-running `xdotool -` that reads commands from
 * stdin line by line (verified with xdotool 3.20160805: each line runs as it arrives, a bad line
 * is reported on stderr and skipped). Each message's lines are followed by `getmouselocation`,
 * whose output line is the acknowledgement: X processes requests in order, so when it arrives
 * the events before it have been injected. Messages are pipelined (written without waiting for
 * earlier acks) and acknowledged in order. Lines are built only from integers and keysyms from
 * the allow-list in `keymap.ts`; nothing else ever reaches xdotool's stdin.
 *
 * `text` spawns `xdotool type -- <text>` with the text as one argv element (no shell, no
 * parsing), one process per run of ASCII / non-ASCII characters, after every earlier message is
 * acknowledged; later messages wait for it.
 */

export interface X11InputOptions {
  /** X display, e.g. `:0`. */
  display: string;
  /** Delay between typed ASCII characters of a `text` message, ms (default 2). */
  typeDelayMs?: number;
  /**
   * Delay between typed characters that are not ASCII, ms (default 50). xdotool types those by
   * binding a spare keycode and unbinding it right after; with a short delay the application may
   * look the keycode up after the unbinding and drop the character (seen at 2–25 ms in xterm).
   */
  remapTypeDelayMs?: number;
  /** Longest wait for xdotool to acknowledge a message, ms (default 2000); then it is restarted. */
  ackTimeoutMs?: number;
  /** Wheel pixels per notch (X wheel click), default 100. */
  wheelPxPerNotch?: number;
}

const DISPLAY_PATTERN = /^[A-Za-z0-9._-]*:\d{1,5}(\.\d{1,3})?$/;
/** Every line written to xdotool's stdin matches this: a command word and plain tokens. */
const SAFE_LINE = /^[a-z]+( [A-Za-z0-9_+-]{1,64}){0,8}$/;
const MAX_NOTCHES_PER_MESSAGE = 30;
const STDERR_TAIL_BYTES = 1024;

interface Ack {
  resolve: () => void;
  reject: (err: Error) => void;
}

function isCoordinate(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0;
}

/** Creates the sink. xdotool starts on the first message and restarts after a failure. */
export function createX11Input(options: X11InputOptions): InputSink {
  const { display, typeDelayMs = 2, remapTypeDelayMs = 50, ackTimeoutMs = 2000, wheelPxPerNotch = 100 } = options;
  if (!DISPLAY_PATTERN.test(display)) throw new Error(`invalid X display name ${JSON.stringify(display)}`);
  // `env` sets DISPLAY for xdotool (it has no display flag) while inheriting the rest
  // (PATH, XAUTHORITY) without this module reading the environment.
  const xdotool = (args: string[]): ChildProcessWithoutNullStreams => spawn('env', [`DISPLAY=${display}`, 'xdotool', ...args]);

  let child: ChildProcessWithoutNullStreams | null = null;
  let acks: Ack[] = [];
  let stderrTail = '';
  let tail: Promise<void> = Promise.resolve(); // settles once every earlier message is written (or typed)
  const pending = new Set<Promise<void>>(); // acks not yet received
  const heldKeys = new Set<string>();
  const heldButtons = new Set<number>();
  const wheel = { x: 0, y: 0 };
  let closed = false;
  let closing: Promise<void> | null = null;

  const failAll = (proc: ChildProcessWithoutNullStreams, err: Error): void => {
    if (child !== proc) return;
    child = null;
    const failed = acks;
    acks = [];
    for (const ack of failed) ack.reject(err);
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  };

  const start = (): ChildProcessWithoutNullStreams => {
    if (child !== null) return child;
    const proc = xdotool(['-']);
    let stdout = '';
    proc.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
      for (let nl = stdout.indexOf('\n'); nl >= 0; nl = stdout.indexOf('\n')) {
        stdout = stdout.slice(nl + 1);
        if (child === proc) acks.shift()?.resolve();
      }
    });
    proc.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderrTail = (stderrTail + text).slice(-STDERR_TAIL_BYTES);
    });
    proc.stdin.on('error', () => {}); // EPIPE when xdotool dies; the exit handler reports it
    proc.on('error', (err) => failAll(proc, new Error(`xdotool for X display ${display} failed to start: ${err.message}`)));
    proc.on('exit', (code, signal) => {
      failAll(proc, new Error(`xdotool for X display ${display} exited (${signal ?? `code ${code}`}): ${stderrTail.trim()}`));
    });
    child = proc;
    return proc;
  };

  /** Writes `lines` plus the ack probe now; the promise settles when xdotool has run them. */
  const send = (lines: readonly string[]): Promise<void> => {
    for (const line of lines) if (!SAFE_LINE.test(line)) throw new Error(`refusing unsafe xdotool line ${JSON.stringify(line)}`);
    const proc = start();
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => failAll(proc, new Error(`xdotool for X display ${display} did not answer in ${ackTimeoutMs} ms`)), ackTimeoutMs);
      acks.push({
        resolve: () => (clearTimeout(timer), resolve()),
        reject: (err) => (clearTimeout(timer), reject(err)),
      });
    });
    proc.stdin.write(`${lines.join('\n')}\ngetmouselocation\n`);
    pending.add(done);
    void done.catch(() => {}).finally(() => pending.delete(done));
    return done;
  };

  const typeRun = (text: string, delayMs: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const proc = xdotool(['type', '--delay', String(delayMs), '--', text]);
      let err = '';
      proc.stderr.setEncoding('utf8').on('data', (chunk: string) => (err = (err + chunk).slice(-STDERR_TAIL_BYTES)));
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000 + text.length * (delayMs + 5));
      proc.on('error', (e) => (clearTimeout(timer), reject(e)));
      proc.on('exit', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else reject(new Error(`xdotool type on X display ${display} failed (code ${code}): ${err.trim()}`));
      });
    });

  /** Types ASCII runs fast and every other run slowly (see `remapTypeDelayMs`). */
  const typeText = async (text: string): Promise<void> => {
    for (const [run] of text.matchAll(/[\x20-\x7e\n\t]+|[^\x20-\x7e\n\t]+/g)) {
      await typeRun(run, /^[\x20-\x7e\n\t]/.test(run) ? typeDelayMs : remapTypeDelayMs);
    }
  };

  /** Whole wheel notches in `delta` px, keeping the remainder for the next message. */
  const notches = (axis: 'x' | 'y', delta: number): number => {
    wheel[axis] += delta;
    const n = Math.trunc(wheel[axis] / wheelPxPerNotch);
    wheel[axis] -= n * wheelPxPerNotch;
    return Math.max(-MAX_NOTCHES_PER_MESSAGE, Math.min(MAX_NOTCHES_PER_MESSAGE, n));
  };

  /** The xdotool lines for a message; [] when there is nothing (allowed) to do. */
  const linesFor = (msg: Exclude<InputMessage, { type: 'text' }>): string[] => {
    switch (msg.type) {
      case 'pointer:move':
        return isCoordinate(msg.x) && isCoordinate(msg.y) ? [`mousemove ${msg.x} ${msg.y}`] : [];
      case 'pointer:button': {
        const button = Object.hasOwn(POINTER_BUTTON_NUMBERS, msg.button) ? POINTER_BUTTON_NUMBERS[msg.button] : undefined;
        if (button === undefined || !isCoordinate(msg.x) || !isCoordinate(msg.y)) return [];
        if (msg.down) heldButtons.add(button);
        else heldButtons.delete(button);
        return [`mousemove ${msg.x} ${msg.y}`, `${msg.down ? 'mousedown' : 'mouseup'} ${button}`];
      }
      case 'pointer:wheel': {
        if (!isCoordinate(msg.x) || !isCoordinate(msg.y)) return [];
        const lines = [`mousemove ${msg.x} ${msg.y}`];
        const dy = notches('y', msg.dy);
        const dx = notches('x', msg.dx);
        if (dy !== 0) lines.push(`click --repeat ${Math.abs(dy)} --delay 1 ${dy > 0 ? WHEEL_BUTTONS.down : WHEEL_BUTTONS.up}`);
        if (dx !== 0) lines.push(`click --repeat ${Math.abs(dx)} --delay 1 ${dx > 0 ? WHEEL_BUTTONS.right : WHEEL_BUTTONS.left}`);
        return lines;
      }
      case 'key': {
        const keysym = keysymForCode(msg.code);
        if (keysym === undefined || !KEYSYM_PATTERN.test(keysym)) return [];
        if (msg.down) heldKeys.add(keysym);
        else heldKeys.delete(keysym);
        return [`${msg.down ? 'keydown' : 'keyup'} ${keysym}`];
      }
      case 'keys:combo': {
        const chord = Object.hasOwn(COMBO_CHORDS, msg.combo) ? COMBO_CHORDS[msg.combo] : undefined;
        return chord === undefined ? [] : [`key ${chord.join('+')}`];
      }
      default:
        return [];
    }
  };

  return {
    kind: 'x11',
    apply(msg: InputMessage): Promise<void> {
      if (closed) return Promise.resolve();
      if (msg.type === 'text') {
        const text = msg.text.replace(/\r\n?/g, '\n').replace(/\0/g, '');
        if (text.length === 0) return Promise.resolve();
        const job = tail.then(() => Promise.allSettled([...pending])).then(() => typeText(text));
        tail = job.catch(() => {});
        return job;
      }
      const lines = linesFor(msg);
      if (lines.length === 0) return Promise.resolve();
      // Wrapped in an object so the chain waits for the write, not for the ack.
      const written = tail.then(() => ({ done: send(lines) }));
      tail = written.then(
        () => {},
        () => {},
      );
      return written.then((w) => w.done);
    },
    close(): Promise<void> {
      closing ??= (async () => {
        closed = true;
        await tail;
        const release = [...[...heldKeys].map((k) => `keyup ${k}`), ...[...heldButtons].map((b) => `mouseup ${b}`)];
        heldKeys.clear();
        heldButtons.clear();
        if (release.length > 0) await send(release).catch(() => {});
        const proc = child;
        if (proc === null) return;
        const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
        proc.stdin.end();
        const killer = setTimeout(() => proc.kill('SIGKILL'), 1000);
        await exited;
        clearTimeout(killer);
      })();
      return closing;
    },
  };
}
