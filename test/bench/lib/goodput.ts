import { report } from './roles.ts';

/** Unsent bytes every bulk sender of the relay cases keeps at most (ws, bare socket.io, GuruConnect). */
export const SENDER_BUFFER_BYTES = 4 * 1024 * 1024;

/**
 * The receiving side of a goodput measurement: counts bytes from the first one for `durationMs`,
 * then reports `{type:'result', bytes, ms}` and exits. Returns the function to call per message.
 */
export function goodputCounter(durationMs: number): (bytes: number) => void {
  let total = 0;
  let first = 0;
  return (bytes) => {
    if (!first) {
      first = performance.now();
      setTimeout(() => {
        report({ type: 'result', bytes: total, ms: performance.now() - first });
        process.exit(0);
      }, durationMs);
    }
    total += bytes;
  };
}
