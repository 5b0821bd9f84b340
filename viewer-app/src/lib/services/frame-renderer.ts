import { CodecError, decodeCursor, decodeFrame, FrameReassembler, peekMessageType, readChunkHeader, rectImageScale, type Frame, type FrameRect } from '@guruconnect/shared/codec';
import { RELAY_CHUNK_MAX_BYTES } from '@guruconnect/shared/limits';
import type { MediaPath } from '@guruconnect/shared/protocol';

/** Decoded frames waiting to be drawn beyond this are dropped and a keyframe is requested. */
const MAX_QUEUED_FRAMES = 6;
const MIME: Record<Exclude<FrameRect['codec'], 'raw'>, string> = { jpeg: 'image/jpeg', png: 'image/png' };

/** What the connection panel shows; refreshed by `snapshot()`. */
export interface RenderStats {
  /** Frames drawn in the last second. */
  fps: number;
  /** Codec bytes received in the last second. */
  bytesPerS: number;
  framesDrawn: number;
  /** Capture → drawn of the last frame, in ms (meaningful when the two clocks agree). */
  delayMs: number | null;
  screenWidth: number;
  screenHeight: number;
  lastSeq: number | null;
  codecErrors: number;
}

export interface FrameRendererOptions {
  /** Called when the picture cannot continue without a keyframe (lost chunk, backlog, resize). */
  needKeyframe(): void;
  /** The remote screen changed size. */
  resized?(width: number, height: number): void;
  /**
   * A relayed frame is done with (drawn, skipped or superseded): the server may send more
   * (`relay:ack`, flow control). Called for every relayed frame, whatever became of it.
   */
  relayFrameDone?(frameId: number): void;
}

interface Queued {
  frame: Frame;
  /** Chunk frame id of a relayed frame, to acknowledge; null on P2P. */
  relayId: number | null;
}

/**
 * Codec messages → frames → the canvas. One reassembler per path (each is one ordered stream);
 * rects are drawn in frame order: jpeg/png through `createImageBitmap`, raw through `ImageData`.
 * Deltas are skipped until a keyframe has been drawn on the current canvas size.
 */
export class FrameRenderer {
  readonly #o: FrameRendererOptions;
  readonly #reassemblers: Record<MediaPath, FrameReassembler> = { p2p: new FrameReassembler(), relay: new FrameReassembler({ maxChunkBytes: RELAY_CHUNK_MAX_BYTES }) };
  #canvas: HTMLCanvasElement | null = null;
  #ctx: CanvasRenderingContext2D | null = null;
  #queue: Queued[] = [];
  #drawing = false;
  #haveBase = false;
  #drawnAt: number[] = [];
  #received: Array<{ at: number; bytes: number }> = [];
  #stats: RenderStats = { fps: 0, bytesPerS: 0, framesDrawn: 0, delayMs: null, screenWidth: 0, screenHeight: 0, lastSeq: null, codecErrors: 0 };
  #closed = false;

  constructor(o: FrameRendererOptions) {
    this.#o = o;
  }

  attach(canvas: HTMLCanvasElement): void {
    this.#canvas = canvas;
    this.#ctx = canvas.getContext('2d', { alpha: false });
    this.#haveBase = false;
    this.#o.needKeyframe();
  }

  detach(): void {
    this.#canvas = null;
    this.#ctx = null;
    this.#haveBase = false;
    this.#release(this.#queue.splice(0));
  }

  /** The path changed: partial frames of the old stream are gone, and the new one starts with a keyframe. */
  resetStream(path: MediaPath | null): void {
    for (const r of Object.values(this.#reassemblers)) r.reset();
    if (path !== null) this.#haveBase = false;
  }

  push(bytes: Uint8Array, path: MediaPath): void {
    if (this.#closed) return;
    this.#received.push({ at: performance.now(), bytes: bytes.byteLength });
    try {
      const type = peekMessageType(bytes);
      if (type === 'cursor') {
        decodeCursor(bytes); // validated; the agent's screen already shows its pointer
        return;
      }
      if (type !== 'chunk') throw new CodecError('unknownType', 'frames arrive chunked');
      const relayId = path === 'relay' ? readChunkHeader(bytes).frameId : null;
      const whole = this.#reassemblers[path].push(bytes);
      if (whole) {
        let frame: Frame;
        try {
          frame = decodeFrame(whole);
        } catch (err) {
          this.#release([{ frame: null as unknown as Frame, relayId }]);
          throw err;
        }
        this.#enqueue({ frame, relayId });
      }
    } catch (err) {
      this.#stats.codecErrors++;
      if (err instanceof CodecError) this.#lost();
      else throw err;
    }
  }

  /** Current numbers for the connection panel. */
  snapshot(): RenderStats {
    const now = performance.now();
    this.#drawnAt = this.#drawnAt.filter((t) => now - t <= 1000);
    this.#received = this.#received.filter((r) => now - r.at <= 1000);
    this.#stats.fps = this.#drawnAt.length;
    this.#stats.bytesPerS = this.#received.reduce((sum, r) => sum + r.bytes, 0);
    return { ...this.#stats };
  }

  close(): void {
    this.#closed = true;
    this.detach();
  }

  #lost(): void {
    this.#haveBase = false;
    this.#o.needKeyframe();
  }

  #enqueue(item: Queued): void {
    const frame = item.frame;
    if (!this.#ctx || (!frame.keyframe && !this.#haveBase)) return this.#release([item]);
    // A keyframe supersedes every delta still waiting.
    if (frame.keyframe) this.#release(this.#queue.splice(0));
    this.#queue.push(item);
    if (this.#queue.length > MAX_QUEUED_FRAMES) {
      this.#release(this.#queue.splice(0));
      this.#lost();
      return;
    }
    if (!this.#drawing) void this.#drain();
  }

  /** Acknowledge relayed frames that are done with. */
  #release(items: Queued[]): void {
    for (const it of items) if (it.relayId !== null) this.#o.relayFrameDone?.(it.relayId);
  }

  async #drain(): Promise<void> {
    this.#drawing = true;
    try {
      for (let item = this.#queue.shift(); item; item = this.#queue.shift()) {
        try {
          await this.#draw(item.frame);
        } finally {
          this.#release([item]);
        }
      }
    } finally {
      this.#drawing = false;
    }
  }

  async #draw(frame: Frame): Promise<void> {
    const canvas = this.#canvas;
    const ctx = this.#ctx;
    if (!canvas || !ctx) return;
    if (canvas.width !== frame.screenWidth || canvas.height !== frame.screenHeight) {
      canvas.width = frame.screenWidth;
      canvas.height = frame.screenHeight;
      this.#stats.screenWidth = frame.screenWidth;
      this.#stats.screenHeight = frame.screenHeight;
      this.#o.resized?.(frame.screenWidth, frame.screenHeight);
      if (!frame.keyframe) return this.#lost();
    }
    if (frame.keyframe) this.#haveBase = true;
    if (!this.#haveBase) return;
    // Decode every compressed rect in parallel, then paint them in order.
    let images: Array<ImageBitmap | ImageData>;
    try {
      images = await Promise.all(frame.rects.map((r) => decodeRect(r)));
    } catch {
      this.#stats.codecErrors++;
      return this.#lost();
    }
    if (this.#canvas !== canvas) {
      for (const img of images) if (img instanceof ImageBitmap) img.close();
      return;
    }
    // An image may be smaller than its rect by a codec scale (a catch-up for a slow path):
    // drawImage stretches it. Any other size is not what the agent sent.
    if (frame.rects.some((r, i) => rectImageScale(r, images[i]!.width, images[i]!.height) === null)) {
      for (const img of images) if (img instanceof ImageBitmap) img.close();
      this.#stats.codecErrors++;
      return this.#lost();
    }
    frame.rects.forEach((r, i) => {
      const img = images[i]!;
      if (img instanceof ImageBitmap) {
        ctx.drawImage(img, r.x, r.y, r.width, r.height);
        img.close();
      } else ctx.putImageData(img, r.x, r.y);
    });
    this.#drawnAt.push(performance.now());
    this.#stats.framesDrawn++;
    this.#stats.lastSeq = frame.seq;
    this.#stats.delayMs = Math.max(0, Date.now() - frame.captureTsMs);
  }
}

function decodeRect(r: FrameRect): Promise<ImageBitmap | ImageData> {
  if (r.codec === 'raw') {
    const pixels = new Uint8ClampedArray(r.width * r.height * 4);
    pixels.set(r.data);
    return Promise.resolve(new ImageData(pixels, r.width, r.height));
  }
  // Copy out of the frame buffer: Blob takes a snapshot anyway, and this keeps the types plain.
  return createImageBitmap(new Blob([r.data.slice()], { type: MIME[r.codec] }));
}
