import { INPUT_MAX_MESSAGE_BYTES, RELAY_INPUT_BURST, RELAY_INPUT_RATE_PER_S } from '@guruconnect/shared/limits';
import type { ErrorCode } from '@guruconnect/shared/errors';
import type { InputMessage, MediaPath } from '@guruconnect/shared/protocol';
import type { InputSink } from '../input/input-sink.ts';
import type { Logger } from '../log/logger.ts';

/** Why a viewer's input was not applied. */
export type InputRefusal = Extract<
  ErrorCode,
  'ERR_INPUT_NOT_ALLOWED' | 'ERR_PROTOCOL_MESSAGE_TOO_LARGE' | 'ERR_PROTOCOL_INVALID_MESSAGE' | 'ERR_PROTOCOL_VERSION' | 'ERR_INPUT_THROTTLED'
>;

/** Input waiting for the sink beyond this is refused (`ERR_INPUT_THROTTLED`): a stuck sink must not grow memory. */
export const INPUT_QUEUE_MAX = 256;
/** Refusals logged per viewer at warn before switching to one line per 100. */
const REFUSALS_LOGGED_IN_FULL = 20;

/** Per-viewer token bucket, the same budget the server applies to relay input. */
class TokenBucket {
  #tokens: number;
  #at: number;
  constructor(
    readonly ratePerS: number,
    readonly burst: number,
    now: number,
  ) {
    this.#tokens = burst;
    this.#at = now;
  }

  take(now: number): boolean {
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#at) / 1000) * this.ratePerS);
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

interface Pending {
  viewerId: string;
  path: MediaPath;
  msg: InputMessage;
}

/** Size of a received data-channel message in bytes, whatever its type. */
export function messageBytes(data: unknown): number {
  if (typeof data === 'string') return data.length;
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength;
  return 0;
}

/**
 * The one door to the InputSink. Input is applied only for a viewer whose `control` is true (from
 * `viewer:joined`, enforced here on P2P and again on the relay even though the server checks it
 * too), one message at a time, in arrival order. Consecutive pointer moves are coalesced while the
 * sink is busy. P2P input gets the same rate limit the server applies to relay input
 * (`RELAY_INPUT_RATE_PER_S`, bursts of `RELAY_INPUT_BURST`), since no server sees it. Everything
 * refused is counted and logged (type and code only, never text).
 */
export class InputGate {
  readonly #sink: InputSink;
  readonly #log: Logger;
  readonly #queue: Pending[] = [];
  #draining = false;
  #closed = false;
  readonly applied = new Map<string, number>();
  readonly refused = new Map<InputRefusal, number>();
  readonly #refusedByViewer = new Map<string, number>();
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #now: () => number;

  constructor(sink: InputSink, log: Logger, now: () => number = Date.now) {
    this.#sink = sink;
    this.#log = log;
    this.#now = now;
  }

  get refusedTotal(): number {
    let n = 0;
    for (const v of this.refused.values()) n += v;
    return n;
  }

  /** Queue a validated input message from a viewer; false when refused. */
  submit(viewer: { id: string; control: boolean }, msg: InputMessage, path: MediaPath): boolean {
    if (this.#closed) return false;
    if (!viewer.control) {
      this.refuse(viewer.id, path, 'ERR_INPUT_NOT_ALLOWED', msg.type);
      return false;
    }
    if (path === 'p2p') {
      let bucket = this.#buckets.get(viewer.id);
      if (!bucket) this.#buckets.set(viewer.id, (bucket = new TokenBucket(RELAY_INPUT_RATE_PER_S, RELAY_INPUT_BURST, this.#now())));
      if (!bucket.take(this.#now())) {
        this.refuse(viewer.id, path, 'ERR_INPUT_THROTTLED', msg.type);
        return false;
      }
    }
    const last = this.#queue.at(-1);
    if (msg.type === 'pointer:move' && last?.msg.type === 'pointer:move' && last.viewerId === viewer.id) {
      last.msg = msg;
      return true;
    }
    if (this.#queue.length >= INPUT_QUEUE_MAX) {
      this.refuse(viewer.id, path, 'ERR_INPUT_THROTTLED', msg.type);
      return false;
    }
    this.#queue.push({ viewerId: viewer.id, path, msg });
    void this.#drain();
    return true;
  }

  /** Count and log a refused message. */
  refuse(viewerId: string, path: MediaPath, code: InputRefusal, type?: string, bytes?: number): void {
    this.refused.set(code, (this.refused.get(code) ?? 0) + 1);
    const n = (this.#refusedByViewer.get(viewerId) ?? 0) + 1;
    this.#refusedByViewer.set(viewerId, n);
    if (n <= REFUSALS_LOGGED_IN_FULL || n % 100 === 0) {
      this.#log.warn('input refused', { viewerId, path, code, type, bytes, refused: n, capBytes: bytes !== undefined ? INPUT_MAX_MESSAGE_BYTES : undefined });
    }
  }

  async #drain(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    try {
      for (let next = this.#queue.shift(); next && !this.#closed; next = this.#queue.shift()) {
        try {
          await this.#sink.apply(next.msg);
          this.applied.set(next.msg.type, (this.applied.get(next.msg.type) ?? 0) + 1);
          this.#log.debug('input applied', { viewerId: next.viewerId, path: next.path, type: next.msg.type });
        } catch (err) {
          this.#log.warn('input sink failed', { type: next.msg.type, err });
        }
      }
    } finally {
      this.#draining = false;
    }
  }

  /** Forget a viewer that left. */
  forget(viewerId: string): void {
    this.#buckets.delete(viewerId);
    this.#refusedByViewer.delete(viewerId);
  }

  close(): void {
    this.#closed = true;
    this.#queue.length = 0;
  }
}
