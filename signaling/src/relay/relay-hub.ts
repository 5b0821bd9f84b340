import { RELAY_ACK_WINDOW_FRAMES } from '@guruconnect/shared/limits';
import { RelayQueue } from './relay-queue.ts';

/** The transport of one viewer socket, as the relay sees it. */
export interface ViewerTransport {
  send(chunk: Uint8Array): void;
  /** Bytes written but not yet taken by the network. */
  bufferedBytes(): number;
  /** Call `cb` once when the transport may have drained. */
  onDrain(cb: () => void): void;
}

export interface RelayHubOptions {
  maxQueueBytes: number;
  highWaterBytes: number;
  transportOf(viewerId: string): ViewerTransport | null;
  requestKeyframe(viewerId: string): void;
  /** The viewer acknowledges relayed frames from the first one: its credit window starts at once. */
  acknowledges?(viewerId: string): boolean;
  /** A viewer's relay credit opened or closed (tell its agent: `relay:credit`). */
  creditChanged?(viewerId: string, open: boolean): void;
  /** A viewer's queue sent chunks (it may no longer be `full`). */
  progressed?(viewerId: string): void;
  now?: () => number;
}

/**
 * At most one keyframe request per viewer this often after drops. A slow viewer drops most
 * frames; each keyframe costs the agent a full-screen encode that every other viewer waits for.
 */
export const RELAY_DROP_KEYFRAME_INTERVAL_MS = 1000;

/** Per-viewer relay queues for one server process. */
export class RelayHub {
  readonly #o: RelayHubOptions;
  readonly #queues = new Map<string, { q: RelayQueue; waiting: boolean; lastKeyReq: number }>();
  /** Window caps set by agents (`relay:window`) for viewers whose queue may not exist yet. */
  readonly #windows = new Map<string, number>();
  bytesForwarded = 0;
  framesDropped = 0;

  constructor(o: RelayHubOptions) {
    this.#o = o;
  }

  forward(viewerId: string, message: Uint8Array, kind: 'chunk' | 'other'): boolean {
    let entry = this.#queues.get(viewerId);
    if (!entry) {
      const transport = this.#o.transportOf(viewerId);
      if (!transport) return false;
      const e = { q: null as unknown as RelayQueue, waiting: false, lastKeyReq: 0 };
      e.q = new RelayQueue({
        maxBytes: this.#o.maxQueueBytes,
        windowFrames: RELAY_ACK_WINDOW_FRAMES,
        acknowledges: this.#o.acknowledges?.(viewerId) ?? false,
        maxWindowFrames: this.#windows.get(viewerId),
        now: this.#o.now,
        send: (c) => {
          this.bytesForwarded += c.length;
          transport.send(c);
        },
        congested: () => {
          const over = transport.bufferedBytes() > this.#o.highWaterBytes;
          if (over && !e.waiting) {
            e.waiting = true;
            transport.onDrain(() => {
              e.waiting = false;
              e.q.drain();
            });
          }
          return over;
        },
        onCredit: (open) => this.#o.creditChanged?.(viewerId, open),
        onProgress: () => this.#o.progressed?.(viewerId),
        onDrop: (n) => {
          this.framesDropped += n;
          const now = (this.#o.now ?? Date.now)();
          if (now - e.lastKeyReq > RELAY_DROP_KEYFRAME_INTERVAL_MS) {
            e.lastKeyReq = now;
            this.#o.requestKeyframe(viewerId);
          }
        },
      });
      entry = e;
      this.#queues.set(viewerId, entry);
    }
    entry.q.push(message, kind);
    return true;
  }

  /** The agent caps a viewer's credit window (`relay:window`, 1..`RELAY_ACK_WINDOW_FRAMES`). */
  setWindow(viewerId: string, frames: number): void {
    const capped = Math.max(1, Math.min(RELAY_ACK_WINDOW_FRAMES, Math.floor(frames)));
    if (capped === RELAY_ACK_WINDOW_FRAMES) this.#windows.delete(viewerId);
    // Only for a viewer with a socket here: a cap that arrives after its disconnect (and `drop`) is not kept.
    else if (this.#o.transportOf(viewerId)) this.#windows.set(viewerId, capped);
    const q = this.#queues.get(viewerId)?.q;
    if (q) q.maxWindowFrames = capped;
  }

  /** The agent's cap on a viewer's window, if it set one (`relay:window`). */
  windowOf(viewerId: string): number | undefined {
    return this.#windows.get(viewerId);
  }

  /** A viewer on this node acknowledged a relayed frame. */
  ack(viewerId: string, frameId: number): void {
    this.#queues.get(viewerId)?.q.ack(frameId);
  }

  /** Another frame for this viewer now could be dropped (see `RelayQueue.full`); false without a queue. */
  isFull(viewerId: string): boolean {
    return this.#queues.get(viewerId)?.q.full ?? false;
  }

  queuedBytes(viewerId: string): number {
    return this.#queues.get(viewerId)?.q.queuedBytes ?? 0;
  }

  totalQueuedBytes(): number {
    let n = 0;
    for (const e of this.#queues.values()) n += e.q.queuedBytes;
    return n;
  }

  drop(viewerId: string): void {
    this.#queues.get(viewerId)?.q.clear();
    this.#queues.delete(viewerId);
    this.#windows.delete(viewerId);
  }
}
