import { report } from './roles.ts';

/** Unsent bytes every bulk sender of the relay cases keeps at most (ws, bare socket.io, GuruConnect). */
export const SENDER_BUFFER_BYTES = 4 * 1024 * 1024;

/**
 * The receiving side of a goodput measurement: from the first byte it lets `warmupMs` pass
 * uncounted (every party's JIT warms up: a relay runs for days, a measurement for seconds), then
 * counts bytes for `durationMs`, reports `{type:'result', bytes, ms}` and exits. Returns the
 * function to call per message.
 */
export function goodputCounter(durationMs: number, warmupMs = 0): (bytes: number) => void {
  let total = 0;
  let first = 0;
  let counting = warmupMs <= 0;
  return (bytes) => {
    if (!first) {
      first = performance.now();
      if (!counting) setTimeout(() => ((counting = true), (first = performance.now())), warmupMs);
      setTimeout(() => {
        report({ type: 'result', bytes: total, ms: performance.now() - first });
        process.exit(0);
      }, warmupMs + durationMs);
    }
    if (counting) total += bytes;
  };
}

/** How long a bulk sender keeps sending: the receiver's warm-up and window, and 2 s to spare. */
export function senderEnd(durationMs: number, warmupMs = 0): number {
  return Date.now() + warmupMs + durationMs + 2000;
}
