import { chunkFrame, encodedFrameLength, encodeFrame, RECT_HEADER_BYTES, type Frame, type FrameRect } from '@guruconnect/shared/codec';
import { FRAME_CHUNK_MAX_BYTES, FRAME_MAX_BYTES } from '@guruconnect/shared/limits';

/** Side of a change-detection tile, in pixels. */
export const TILE_PX = 64;
/** Largest captured side; bigger screens are scaled down before encoding. */
export const CAPTURE_MAX_SIDE_PX = 1920;
/** Above this share of changed tiles one full-screen rect is cheaper than many small ones. */
const FULL_REDRAW_SHARE = 0.4;
const JPEG_QUALITY = 0.7;

/** One capture, encoded for the wire: chunk messages ready to send. */
export interface EncodedUpdate {
  keyframe: boolean;
  /** Chunk messages of one or more frames, in order. */
  chunks: Uint8Array[];
  bytes: number;
}

type Canvas2D = OffscreenCanvas | HTMLCanvasElement;

function makeCanvas(width: number, height: number): Canvas2D {
  if (typeof OffscreenCanvas !== 'undefined') return new OffscreenCanvas(width, height);
  const c = document.createElement('canvas');
  c.width = width;
  c.height = height;
  return c;
}

function context(c: Canvas2D): OffscreenCanvasRenderingContext2D | CanvasRenderingContext2D {
  const ctx = c.getContext('2d', { willReadFrequently: true, alpha: false }) as OffscreenCanvasRenderingContext2D | CanvasRenderingContext2D | null;
  if (!ctx) throw new Error('2d canvas unavailable');
  return ctx;
}

async function toJpeg(c: Canvas2D): Promise<Uint8Array> {
  const blob =
    c instanceof HTMLCanvasElement
      ? await new Promise<Blob>((resolve, reject) => c.toBlob((b) => (b ? resolve(b) : reject(new Error('encode failed'))), 'image/jpeg', JPEG_QUALITY))
      : await c.convertToBlob({ type: 'image/jpeg', quality: JPEG_QUALITY });
  return new Uint8Array(await blob.arrayBuffer());
}

/** Rectangles (in tile units) covering the changed tiles: runs per tile row, merged down when identical. */
export function dirtyRects(changed: boolean[], cols: number, rows: number): Array<{ col: number; row: number; cols: number; rows: number }> {
  const out: Array<{ col: number; row: number; cols: number; rows: number }> = [];
  let open = new Map<string, { col: number; row: number; cols: number; rows: number }>();
  for (let row = 0; row < rows; row++) {
    const next = new Map<string, { col: number; row: number; cols: number; rows: number }>();
    for (let col = 0; col < cols; ) {
      if (!changed[row * cols + col]) {
        col++;
        continue;
      }
      const start = col;
      while (col < cols && changed[row * cols + col]) col++;
      const key = `${start}:${col}`;
      const above = open.get(key);
      if (above) {
        above.rows++;
        next.set(key, above);
        open.delete(key);
      } else {
        const r = { col: start, row, cols: col - start, rows: 1 };
        out.push(r);
        next.set(key, r);
      }
    }
    open = next;
  }
  return out;
}

/**
 * Turns a screen-share video into codec frames: draws the current video frame to a canvas, finds
 * the 64×64 tiles that changed since the previous capture, JPEG-encodes them (or the whole screen
 * for a keyframe) in the page, and packs them with the shared `encodeFrame` + `chunkFrame`.
 */
export class ScreenEncoder {
  readonly #video: HTMLVideoElement;
  #work: Canvas2D | null = null;
  #prev: Uint32Array | null = null;
  #cur: ImageData | null = null;
  #seq = 0;
  #frameId = 0;

  constructor(video: HTMLVideoElement) {
    this.#video = video;
  }

  get width(): number {
    return this.#work?.width ?? 0;
  }

  get height(): number {
    return this.#work?.height ?? 0;
  }

  /** Grabs the current video frame. Returns false when the video has no picture yet. */
  capture(): boolean {
    const vw = this.#video.videoWidth;
    const vh = this.#video.videoHeight;
    if (vw < 1 || vh < 1) return false;
    const scale = Math.min(1, CAPTURE_MAX_SIDE_PX / Math.max(vw, vh));
    const w = Math.max(1, Math.round(vw * scale));
    const h = Math.max(1, Math.round(vh * scale));
    if (!this.#work || this.#work.width !== w || this.#work.height !== h) {
      this.#work = makeCanvas(w, h);
      this.#prev = null;
    }
    const ctx = context(this.#work);
    ctx.drawImage(this.#video, 0, 0, w, h);
    // getImageData returns a fresh buffer each time, so the previous one can be kept as is.
    if (this.#cur) this.#prev = new Uint32Array(this.#cur.data.buffer);
    this.#cur = ctx.getImageData(0, 0, w, h);
    return true;
  }

  /** The whole current capture as one keyframe. */
  async keyframe(): Promise<EncodedUpdate | null> {
    if (!this.#work || !this.#cur) return null;
    const data = await toJpeg(this.#work);
    return this.#pack([{ x: 0, y: 0, width: this.#work.width, height: this.#work.height, codec: 'jpeg', data }], true);
  }

  /** What changed between the previous and the current capture, or null when nothing did. */
  async delta(): Promise<EncodedUpdate | null> {
    const work = this.#work;
    const cur = this.#cur;
    if (!work || !cur) return null;
    const prev = this.#prev;
    const { width: w, height: h } = work;
    const cols = Math.ceil(w / TILE_PX);
    const rows = Math.ceil(h / TILE_PX);
    const changed = new Array<boolean>(cols * rows).fill(prev === null);
    if (prev) {
      const now = new Uint32Array(cur.data.buffer);
      for (let row = 0; row < rows; row++) {
        for (let col = 0; col < cols; col++) changed[row * cols + col] = tileDiffers(prev, now, w, h, col, row);
      }
    }
    const dirty = changed.filter(Boolean).length;
    if (dirty === 0) return null;
    if (dirty / changed.length > FULL_REDRAW_SHARE) {
      const data = await toJpeg(work);
      return this.#pack([{ x: 0, y: 0, width: w, height: h, codec: 'jpeg', data }], false);
    }
    const rects: FrameRect[] = [];
    for (const r of dirtyRects(changed, cols, rows)) {
      const x = r.col * TILE_PX;
      const y = r.row * TILE_PX;
      const rw = Math.min(r.cols * TILE_PX, w - x);
      const rh = Math.min(r.rows * TILE_PX, h - y);
      const tile = makeCanvas(rw, rh);
      context(tile).drawImage(work, x, y, rw, rh, 0, 0, rw, rh);
      rects.push({ x, y, width: rw, height: rh, codec: 'jpeg', data: await toJpeg(tile) });
    }
    return this.#pack(rects, false);
  }

  /** Frames of at most FRAME_MAX_BYTES each (a big update is split), chunked for the wire. */
  #pack(rects: FrameRect[], keyframe: boolean): EncodedUpdate {
    const screenWidth = this.width;
    const screenHeight = this.height;
    const frames: Frame[] = [];
    let batch: FrameRect[] = [];
    const flush = () => {
      if (batch.length === 0) return;
      frames.push({ seq: this.#nextSeq(), captureTsMs: Date.now(), keyframe: keyframe && frames.length === 0, screenWidth, screenHeight, rects: batch });
      batch = [];
    };
    for (const rect of rects) {
      const candidate = { seq: 0, captureTsMs: 0, keyframe, screenWidth, screenHeight, rects: [...batch, rect] };
      if (batch.length > 0 && encodedFrameLength(candidate) > FRAME_MAX_BYTES) flush();
      if (RECT_HEADER_BYTES + rect.data.length > FRAME_MAX_BYTES - 64) continue; // cannot ever fit; skip
      batch.push(rect);
    }
    flush();
    const chunks: Uint8Array[] = [];
    for (const frame of frames) {
      this.#frameId = (this.#frameId + 1) >>> 0;
      chunks.push(...chunkFrame(encodeFrame(frame), this.#frameId, FRAME_CHUNK_MAX_BYTES));
    }
    return { keyframe, chunks, bytes: chunks.reduce((n, c) => n + c.length, 0) };
  }

  #nextSeq(): number {
    this.#seq = (this.#seq + 1) >>> 0;
    return this.#seq;
  }
}

function tileDiffers(a: Uint32Array, b: Uint32Array, w: number, h: number, col: number, row: number): boolean {
  const x0 = col * TILE_PX;
  const y0 = row * TILE_PX;
  const x1 = Math.min(x0 + TILE_PX, w);
  const y1 = Math.min(y0 + TILE_PX, h);
  for (let y = y0; y < y1; y++) {
    const base = y * w;
    for (let x = x0; x < x1; x++) if (a[base + x] !== b[base + x]) return true;
  }
  return false;
}
