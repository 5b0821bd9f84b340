import { readChunkHeader } from '@guruconnect/shared/codec';

/** A frame (or a lone cursor message) as the unit the relay forwards or drops. */
interface Unit {
  frameId: number | null;
  keyframe: boolean;
  chunks: Uint8Array[];
  /** Chunks already handed to the transport (a started unit can no longer be dropped). */
  sent: number;
  complete: boolean;
  bytes: number;
}

export interface RelayQueueOptions {
  /** Bytes held per viewer before dropping; a couple of frames. */
  maxBytes: number;
  /** Write one message to the viewer's socket. */
  send(chunk: Uint8Array): void;
  /** True while the viewer's transport has too much in flight. */
  congested(): boolean;
  /** Frames were dropped: the agent should send a keyframe. */
  onDrop(frames: number): void;
  /**
   * The viewer's credit opened (true: it can take another frame now) or closed (false: frames
   * sent now would wait here). Called on changes only, once the viewer acknowledges frames; the
   * agent then skips that viewer while closed and sends it one catch-up delta when it opens,
   * instead of frames this queue would drop.
   */
  onCredit?(open: boolean): void;
  /**
   * Credit window in frames, in effect once the viewer has acknowledged a frame: at most this
   * many frames sent and unacknowledged, and at most this many waiting here.
   */
  windowFrames: number;
  /**
   * The viewer said it acknowledges every frame: the window applies from the first frame, not
   * from its first ack. Until that ack a joining viewer on a slow link would otherwise be sent
   * everything the agent produces, seconds of frames it then shows late.
   */
  acknowledges?: boolean;
  /** A cap on the window set by the agent (`relay:window`; see `maxWindowFrames`). */
  maxWindowFrames?: number;
  /** Chunks went out to the viewer (the queue shrank). */
  onProgress?(): void;
  now?: () => number;
}

/**
 * A window that has been shut this long with no ack is opened again: acks for frames the viewer
 * discarded (a path switch resets its reassembler) never come, and must not stall it for good.
 */
export const RELAY_ACK_TIMEOUT_MS = 2000;
/**
 * The window shrinks for a viewer that acknowledges slowly: frames in flight to it should take
 * about this long to be consumed, so a viewer that decodes 3 frames/s gets 1 frame at a time
 * (its frames are one interval old, not three) while a 30 fps viewer keeps the whole window.
 */
export const RELAY_IN_FLIGHT_BUDGET_MS = 100;

/**
 * The per-viewer relay queue: bounded in bytes; forwards whole frames in order; when full,
 * drops the oldest frames not yet started (non-key first) and asks for a keyframe. One slow
 * viewer never slows the others, and the server's memory per viewer stays ≤ maxBytes + one chunk.
 */
export class RelayQueue {
  readonly #o: RelayQueueOptions;
  readonly #units: Unit[] = [];
  #bytes = 0;
  /** Frame id whose remaining chunks are discarded (its first chunks were dropped). */
  #discarding: number | null = null;
  dropped = 0;
  forwarded = 0;
  /** Frame ids fully sent and not yet acknowledged (oldest first). */
  readonly #inFlight: number[] = [];
  /** The viewer acknowledges frames: the credit window applies. */
  #credit = false;
  /** When the last ack arrived (or the window last opened). */
  #progressAt = 0;
  /** Moving average of the time between acks (ms); null until two acks arrived. */
  #ackIntervalMs: number | null = null;
  /** The credit state last reported through `onCredit`. */
  #reportedOpen = true;
  #reopenTimer: NodeJS.Timeout | null = null;
  #maxWindow: number;

  constructor(o: RelayQueueOptions) {
    this.#o = o;
    this.#maxWindow = o.maxWindowFrames ?? o.windowFrames;
    if (o.acknowledges) {
      this.#credit = true;
      this.#progressAt = this.#now();
    }
  }

  get queuedBytes(): number {
    return this.#bytes;
  }

  /** Accept one message from the agent (already validated as a codec message ≤ RELAY_CHUNK_MAX_BYTES). */
  push(message: Uint8Array, kind: 'chunk' | 'other'): void {
    if (kind === 'other') {
      this.#units.push({ frameId: null, keyframe: false, chunks: [message], sent: 0, complete: true, bytes: message.length });
    } else {
      const h = readChunkHeader(message);
      if (h.index === 0) {
        this.#discarding = null;
        this.#units.push({ frameId: h.frameId, keyframe: h.keyframe, chunks: [], sent: 0, complete: false, bytes: 0 });
      } else if (this.#discarding === h.frameId) {
        return;
      }
      const unit = this.#units[this.#units.length - 1];
      if (!unit || unit.frameId !== h.frameId) return; // a stray chunk of a dropped frame
      unit.chunks.push(message);
      unit.bytes += message.length;
      unit.complete = h.index === h.count - 1;
    }
    this.#bytes += message.length;
    this.#shed();
    this.drain();
  }

  /**
   * Another frame pushed now could be dropped: the queue holds half its byte cap, or frames wait
   * two short of the window that sheds. The media relay stops reading the agent's socket then, so
   * TCP slows a fast agent down instead of the queue dropping what it already sent.
   */
  get full(): boolean {
    if (this.#bytes >= this.#o.maxBytes / 2) return true;
    if (!this.#credit) return false;
    let waiting = 0;
    for (const u of this.#units) if (u.frameId !== null && u.sent === 0) waiting++;
    return waiting >= Math.max(1, this.#o.windowFrames - 1);
  }

  /** Can the viewer take another frame now (nothing waiting for credit)? */
  get open(): boolean {
    if (!this.#credit) return true;
    let waiting = 0;
    for (const u of this.#units) if (u.frameId !== null && u.sent === 0) waiting++;
    return waiting === 0 && this.#inFlight.length < this.window;
  }

  #reportCredit(): void {
    if (!this.#credit || !this.#o.onCredit) return;
    const open = this.open;
    if (!open) this.#armReopen();
    if (open === this.#reportedOpen) return;
    this.#reportedOpen = open;
    this.#o.onCredit(open);
  }

  /**
   * While the credit is shut, nothing may arrive to re-check it (the agent holds frames back):
   * after `RELAY_ACK_TIMEOUT_MS` with no ack the window opens again, as it would on a push.
   */
  #armReopen(): void {
    if (this.#reopenTimer) return;
    const wait = Math.max(1, RELAY_ACK_TIMEOUT_MS - (this.#now() - this.#progressAt));
    this.#reopenTimer = setTimeout(() => {
      this.#reopenTimer = null;
      if (this.#now() - this.#progressAt >= RELAY_ACK_TIMEOUT_MS) {
        this.#inFlight.length = 0;
        this.#progressAt = this.#now();
      }
      this.drain();
    }, wait);
    this.#reopenTimer.unref?.();
  }

  /** Send what the transport can take now. Call again when the transport drains. */
  drain(): void {
    this.#pump();
    this.#reportCredit();
  }

  #pump(): void {
    const before = this.forwarded;
    this.#pumpUnits();
    if (this.forwarded !== before) this.#o.onProgress?.();
  }

  #pumpUnits(): void {
    while (this.#units.length > 0 && !this.#o.congested()) {
      const unit = this.#units[0]!;
      // A new frame waits for credit; a frame already started is finished.
      if (unit.sent === 0 && unit.frameId !== null && this.#credit && this.#inFlight.length >= this.window) {
        if (this.#now() - this.#progressAt < RELAY_ACK_TIMEOUT_MS) return;
        this.#inFlight.length = 0;
        this.#progressAt = this.#now();
      }
      if (unit.sent >= unit.chunks.length) {
        if (unit.complete) {
          this.#units.shift();
          continue;
        }
        return; // waiting for the rest of this frame from the agent
      }
      const chunk = unit.chunks[unit.sent]!;
      unit.chunks[unit.sent] = EMPTY; // release it as soon as it is written
      unit.sent++;
      this.#bytes -= chunk.length;
      this.forwarded++;
      this.#o.send(chunk);
      if (unit.complete && unit.sent === unit.chunks.length) {
        this.#units.shift();
        if (unit.frameId !== null) {
          this.#inFlight.push(unit.frameId);
          if (this.#inFlight.length > MAX_IN_FLIGHT) this.#inFlight.shift();
        }
      }
    }
  }

  /** The viewer received and decoded frame `frameId` (and so every frame sent before it). */
  ack(frameId: number): void {
    if (!this.#credit) this.#progressAt = this.#now();
    this.#credit = true;
    const i = this.#inFlight.indexOf(frameId);
    if (i === -1) return; // not one we are waiting for (late, repeated or made up): changes nothing
    this.#inFlight.splice(0, i + 1);
    const now = this.#now();
    const interval = now - this.#progressAt;
    this.#ackIntervalMs = this.#ackIntervalMs === null ? interval : 0.8 * this.#ackIntervalMs + 0.2 * interval;
    this.#progressAt = now;
    this.drain();
  }

  #now(): number {
    return (this.#o.now ?? Date.now)();
  }

  /** Frames that may be in flight now: the configured window, fewer for a slow viewer, never over the agent's cap. */
  get window(): number {
    const max = Math.min(this.#o.windowFrames, this.#maxWindow);
    if (this.#ackIntervalMs === null) return max;
    return Math.max(1, Math.min(max, Math.ceil(RELAY_IN_FLIGHT_BUDGET_MS / Math.max(1, this.#ackIntervalMs))));
  }

  /**
   * The agent's cap on the window (`relay:window`): 1 for a viewer it found on a path too slow for
   * full-size updates, where a second frame in flight would only wait behind the first. Raising
   * it lets waiting frames go at once.
   */
  get maxWindowFrames(): number {
    return this.#maxWindow;
  }

  set maxWindowFrames(frames: number) {
    this.#maxWindow = Math.max(1, frames);
    this.drain();
  }

  get unacknowledged(): number {
    return this.#inFlight.length;
  }

  #over(): boolean {
    if (this.#bytes > this.#o.maxBytes) return true;
    if (!this.#credit) return false;
    let frames = 0;
    for (const u of this.#units) if (u.frameId !== null && u.sent === 0) frames++;
    return frames > this.#o.windowFrames;
  }

  #shed(): void {
    let dropped = 0;
    for (const preferKey of [false, true]) {
      for (let i = 0; i < this.#units.length && this.#over(); ) {
        const u = this.#units[i]!;
        const isNewest = i === this.#units.length - 1;
        // First pass: unsent delta frames, oldest first. Second pass: any unsent frame but the newest.
        if (u.sent === 0 && (preferKey ? !isNewest : !u.keyframe)) {
          this.#units.splice(i, 1);
          this.#bytes -= u.chunks.reduce((n, c) => n + c.length, 0);
          if (!u.complete && u.frameId !== null) this.#discarding = u.frameId;
          if (u.frameId !== null) dropped++;
          continue;
        }
        i++;
      }
    }
    if (dropped > 0) {
      this.dropped += dropped;
      this.#o.onDrop(dropped);
    }
  }

  /** Forget everything (viewer gone). */
  clear(): void {
    this.#units.length = 0;
    this.#bytes = 0;
    if (this.#reopenTimer) clearTimeout(this.#reopenTimer);
    this.#reopenTimer = null;
  }
}

const EMPTY = new Uint8Array(0);
/** Bound on remembered in-flight frame ids (a viewer that stops acknowledging cannot grow it). */
const MAX_IN_FLIGHT = 64;
