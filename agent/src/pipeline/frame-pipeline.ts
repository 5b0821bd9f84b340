import { chunkFrame, encodeFrame, FRAME_HEADER_BYTES, RECT_HEADER_BYTES, RECT_IMAGE_SCALES, type FrameRect } from '@guruconnect/shared/codec';
import { FRAME_CHUNK_MAX_BYTES, FRAME_MAX_BYTES, FRAME_MAX_RECTS } from '@guruconnect/shared/limits';
import sharp from 'sharp';
import type { RawFrame } from '../capture/screen-source.ts';
import { DEFAULT_TILE_SIZE_PX, findDirtyTiles, mergeDirtyTiles, type PixelRect, type TileGrid } from './dirty-tiles.ts';
import type { CatchUpOptions, EncodedUpdate, FramePipeline, PipelineOptions } from './types.ts';

/**
 * Largest rect encoded as one image, in pixels: the most whose raw RGBA still fits one frame with
 * its headers, since an encoding that comes out larger than raw is replaced by raw — so every
 * encoded rect fits in one frame. Bigger dirty rects are cut into bands (a 1080p keyframe into 2,
 * which encode in parallel). Every band is one sharp call with ~1–1.5 ms of fixed cost: with
 * 512 Ki pixels a 1080p keyframe was 4 bands and cost ~30% more CPU than 2 (bench/README.md,
 * `encode_efficiency`).
 */
export const RECT_MAX_PIXELS = Math.floor((FRAME_MAX_BYTES - FRAME_HEADER_BYTES - RECT_HEADER_BYTES) / 4);
/**
 * Default cap on merged dirty rects per update. Every rect is one sharp encode at the agent and one
 * decode at the viewer, each with a fixed cost (~1 ms of libvips pipeline set-up) whatever its
 * size, while merging nearby rects wastes little: on the 1080p synthetic desktop (15 rects per
 * update with a cap of 32), a cap of 8 cut agent encode CPU by ~30% and viewer decode CPU by
 * ~40% per frame for +0% bytes (`npm run bench -- --only g2g_latency`; bench/README.md).
 */
export const PIPELINE_MAX_RECTS = 8;
/** Default number of rects encoded at once (sharp runs them on the libuv thread pool). */
export const DEFAULT_ENCODE_CONCURRENCY = 4;
/** Cut lines of split rects fall on multiples of this (the JPEG 4:2:0 MCU), relative to the rect. */
const SPLIT_ALIGN_PX = 16;
/**
 * JPEG settings. Huffman-table optimisation (`optimiseCoding`, sharp's default) is a second pass
 * over every rect: on the 1080p desktop scene it costs ~20–25% of the agent's encode CPU to save
 * ~8% of the bytes (99.4 vs 91.6 KiB per update). Latency and frame rate are CPU-bound on the
 * agent; bandwidth is far under its limit (bench/README.md), so the pass is off.
 */
export const JPEG_OPTIONS = (quality: number) => ({ quality, mozjpeg: false, chromaSubsampling: '4:2:0', optimiseCoding: false }) as const;
/**
 * JPEG settings of scaled catch-ups: with Huffman-table optimisation. A scaled image has a
 * sixteenth (scale 4) of the pixels, so the second pass is cheap, while the standard tables are a
 * large part of its bytes: on the 1080p synthetic desktop a scale-4 catch-up is 6.6 KB with it
 * and 9.3 KB without.
 */
export const SCALED_JPEG_OPTIONS = (quality: number) => ({ ...JPEG_OPTIONS(quality), optimiseCoding: true }) as const;
/**
 * Most rects of a catch-up at `scale`: half as many at scale 4 as at 1 and 2 (8 → 4). Merging
 * covers some clean tiles too, which cost little at a sixteenth of the pixels, while every rect
 * is one more JPEG header (5.8 KB instead of 6.6 KB per update on the synthetic desktop).
 */
export function maxRectsAtScale(maxRects: number, scale: number): number {
  return scale >= 4 ? Math.max(1, Math.floor(maxRects / 2)) : maxRects;
}
/**
 * A rect is encoded smaller (a scaled catch-up) only when its shorter side is at least this: a
 * small rect saves few bytes, and small rects are where the detail is (a typed glyph).
 */
export const SCALE_MIN_SIDE_PX = 32;
/** zlib level for lossless tiles: screen content compresses well already at low levels. */
const PNG_COMPRESSION_LEVEL = 3;

/** Settings of `createFramePipeline`: the shared `PipelineOptions` plus tuning knobs. */
export interface FramePipelineOptions extends PipelineOptions {
  /** Most merged dirty rects per update before splitting (default `PIPELINE_MAX_RECTS`). */
  maxRects?: number;
  /** Rect encodes in flight at once (default `DEFAULT_ENCODE_CONCURRENCY`). */
  concurrency?: number;
  /** Largest chunk message (default `FRAME_CHUNK_MAX_BYTES`). */
  maxChunkBytes?: number;
  /** JPEG quality of catch-up deltas (default `catchUpQualityFor(quality)`); `refine` resends those tiles at `quality`. */
  catchUpQuality?: number;
}

/**
 * JPEG quality of a catch-up delta: a viewer that fell behind is on a path slower than the
 * stream, and how stale its picture gets is the time its catch-ups take to cross that path. On
 * the 1080p synthetic desktop a quality-35 delta is 0.65 of the bytes of a quality-70 one (67 vs
 * 102 KB; quality 10: 0.36), bench/README.md `slow_viewer`. The tiles are sharpened by `refine`
 * once the viewer keeps up again.
 */
export function catchUpQualityFor(quality: number): number {
  return Math.max(10, Math.round(quality / 2));
}

/** Cuts `rect` into pieces of at most `maxPixels`, full-width bands when possible. */
export function splitRect(rect: PixelRect, maxPixels = RECT_MAX_PIXELS): PixelRect[] {
  if (rect.width * rect.height <= maxPixels) return [rect];
  let bandHeight = Math.floor(maxPixels / rect.width / SPLIT_ALIGN_PX) * SPLIT_ALIGN_PX;
  let pieceWidth = rect.width;
  if (bandHeight < SPLIT_ALIGN_PX) {
    bandHeight = SPLIT_ALIGN_PX;
    pieceWidth = Math.max(SPLIT_ALIGN_PX, Math.floor(maxPixels / SPLIT_ALIGN_PX / SPLIT_ALIGN_PX) * SPLIT_ALIGN_PX);
  }
  const pieces: PixelRect[] = [];
  for (let dy = 0; dy < rect.height; dy += bandHeight) {
    for (let dx = 0; dx < rect.width; dx += pieceWidth) {
      pieces.push({ x: rect.x + dx, y: rect.y + dy, width: Math.min(pieceWidth, rect.width - dx), height: Math.min(bandHeight, rect.height - dy) });
    }
  }
  return pieces;
}

/** The RGBA pixels of `rect`: a view for full-width rects, else a copy. */
function crop(frame: RawFrame, rect: PixelRect): Uint8Array {
  const stride = frame.width * 4;
  if (rect.x === 0 && rect.width === frame.width) return frame.data.subarray(rect.y * stride, (rect.y + rect.height) * stride);
  const rowBytes = rect.width * 4;
  const out = new Uint8Array(rowBytes * rect.height);
  for (let row = 0; row < rect.height; row++) {
    const start = (rect.y + row) * stride + rect.x * 4;
    out.set(frame.data.subarray(start, start + rowBytes), row * rowBytes);
  }
  return out;
}

/** Runs `fn` over `items` with at most `limit` promises pending, keeping the order of results. */
async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Groups rects, in order, into frames that respect `FRAME_MAX_BYTES` and `FRAME_MAX_RECTS`. */
function packFrames(rects: readonly FrameRect[]): FrameRect[][] {
  const frames: FrameRect[][] = [];
  let current: FrameRect[] = [];
  let size = FRAME_HEADER_BYTES;
  for (const rect of rects) {
    const add = RECT_HEADER_BYTES + rect.data.length;
    if (current.length > 0 && (size + add > FRAME_MAX_BYTES || current.length >= FRAME_MAX_RECTS)) {
      frames.push(current);
      current = [];
      size = FRAME_HEADER_BYTES;
    }
    current.push(rect);
    size += add;
  }
  if (current.length > 0) frames.push(current);
  return frames;
}

function countTiles(tiles: Uint8Array): number {
  let count = 0;
  for (const t of tiles) count += t;
  return count;
}

/** Marks every tile that `rects` (tile-aligned, from `mergeDirtyTiles`) touch. */
function markRects(tiles: Uint8Array, rects: readonly PixelRect[], cols: number, tileSize: number): void {
  for (const r of rects) {
    const tx1 = Math.ceil((r.x + r.width) / tileSize);
    const ty1 = Math.ceil((r.y + r.height) / tileSize);
    for (let ty = Math.floor(r.y / tileSize); ty < ty1; ty++) {
      for (let tx = Math.floor(r.x / tileSize); tx < tx1; tx++) tiles[ty * cols + tx] = 1;
    }
  }
}

function assertIntIn(value: number, min: number, max: number, name: string): void {
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`${name} must be an integer in ${min}..${max}`);
}

/**
 * Creates the encoder for one viewer stream. Keeps its own copy of the last frame it encoded
 * (updated only where tiles were dirty), so callers may reuse or mutate `frame.data` once
 * `encode` has resolved, but not while it runs. Call `encode` once at a time.
 *
 * An update bigger than `FRAME_MAX_BYTES` is split across several codec frames that share `seq`
 * and `captureTsMs`; only the first carries the keyframe flag (the screen is complete after the
 * last), and each frame is chunked under its own `frameId` (a u32 counter per pipeline).
 * Rects are JPEG (4:2:0, quality `quality`) or, with `lossless`, PNG; a rect whose encoding would
 * not be smaller than its raw pixels is sent `raw`.
 */
export function createFramePipeline(options: FramePipelineOptions): FramePipeline {
  const {
    quality,
    lossless = false,
    tileSize = DEFAULT_TILE_SIZE_PX,
    maxRects = PIPELINE_MAX_RECTS,
    concurrency = DEFAULT_ENCODE_CONCURRENCY,
    maxChunkBytes = FRAME_CHUNK_MAX_BYTES,
    catchUpQuality = catchUpQualityFor(options.quality),
  } = options;
  assertIntIn(quality, 1, 100, 'quality');
  assertIntIn(catchUpQuality, 1, 100, 'catchUpQuality');
  assertIntIn(tileSize, 8, 4096, 'tileSize');
  if (tileSize % 8 !== 0) throw new RangeError('tileSize must be a multiple of 8 (the JPEG block)');
  assertIntIn(maxRects, 1, FRAME_MAX_RECTS, 'maxRects');
  assertIntIn(concurrency, 1, 64, 'concurrency');

  /** The reference: the last frame encoded (what a viewer in sync shows), and its `seq`. */
  let previous: { width: number; height: number; data: Uint8Array; seq: number } | null = null;
  /** The dirty tiles of the last `advance` (reused by a second encode of the same frame). */
  let lastGrid: TileGrid | null = null;
  /**
   * Viewers that fell behind: the tiles that changed since each last got an update (`null`: it
   * needs everything, e.g. the screen size changed). Kept against the reference as it advances.
   */
  const behind = new Map<string, Uint8Array | null>();
  /**
   * Viewers whose last catch-up was at `catchUpQuality`: the tiles they show at that quality. A
   * tile leaves the set when a full-quality update covers it (a delta while in sync, or `refine`).
   */
  const soft = new Map<string, Uint8Array>();
  let nextFrameId = 0;

  const encodeRect = async (frame: RawFrame, rect: PixelRect, q: number, scale: number): Promise<FrameRect> => {
    const pixels = crop(frame, rect);
    let image = sharp(pixels, { raw: { width: rect.width, height: rect.height, channels: 4 } });
    if (scale > 1 && !lossless && Math.min(rect.width, rect.height) >= SCALE_MIN_SIDE_PX) {
      // Bilinear: of sharp's kernels the fewest bytes after JPEG, at about the cost of the encode.
      image = image.resize(Math.ceil(rect.width / scale), Math.ceil(rect.height / scale), { fit: 'fill', kernel: 'linear' });
    }
    const encoded = lossless
      ? await image.png({ compressionLevel: PNG_COMPRESSION_LEVEL, adaptiveFiltering: false }).toBuffer()
      : await image.jpeg(scale > 1 ? SCALED_JPEG_OPTIONS(q) : JPEG_OPTIONS(q)).toBuffer();
    if (encoded.length >= pixels.length) return { ...rect, codec: 'raw', data: pixels };
    return { ...rect, codec: lossless ? 'png' : 'jpeg', data: encoded };
  };

  /** Copies the dirty tiles of `grid` (by horizontal runs) from `frame` into the reference. */
  const copyDirty = (frame: RawFrame, grid: TileGrid, into: Uint8Array): void => {
    const stride = frame.width * 4;
    for (let ty = 0; ty < grid.rows; ty++) {
      const y0 = ty * tileSize;
      const y1 = Math.min(y0 + tileSize, frame.height);
      for (let tx = 0; tx < grid.cols; tx++) {
        if (grid.dirty[ty * grid.cols + tx] !== 1) continue;
        const c0 = tx;
        while (tx + 1 < grid.cols && grid.dirty[ty * grid.cols + tx + 1] === 1) tx++;
        const x0 = c0 * tileSize * 4;
        const x1 = Math.min((tx + 1) * tileSize, frame.width) * 4;
        for (let y = y0; y < y1; y++) into.set(frame.data.subarray(y * stride + x0, y * stride + x1), y * stride + x0);
      }
    }
  };

  /**
   * Moves the reference to `frame` and adds what changed to every viewer that is behind. Returns
   * the dirty tiles, or null when there was no comparable reference (everything changed).
   */
  const advance = (frame: RawFrame): TileGrid | null => {
    if (previous !== null && previous.seq === frame.seq && previous.width === frame.width && previous.height === frame.height) return lastGrid;
    if (previous === null || previous.width !== frame.width || previous.height !== frame.height) {
      previous = { width: frame.width, height: frame.height, data: frame.data.slice(), seq: frame.seq };
      lastGrid = null;
      for (const id of behind.keys()) behind.set(id, null);
      // Every viewer gets a whole screen (a keyframe) next: nothing of the old one to sharpen.
      soft.clear();
      return null;
    }
    const grid = findDirtyTiles(previous.data, frame.data, frame.width, frame.height, tileSize);
    if (grid.count > 0) {
      copyDirty(frame, grid, previous.data);
      for (const tiles of behind.values()) {
        if (tiles === null) continue;
        for (let i = 0; i < tiles.length; i++) tiles[i]! |= grid.dirty[i]!;
      }
      // A viewer that is behind gets these tiles in its next (soft) catch-up; the others in this
      // tick's delta, at full quality — those are soft no more. (A behind viewer keeps its soft
      // tiles: its catch-up re-marks what it covers.)
      for (const [id, tiles] of soft) {
        if (behind.has(id)) continue;
        for (let i = 0; i < tiles.length; i++) if (grid.dirty[i] === 1) tiles[i] = 0;
      }
    }
    previous.seq = frame.seq;
    lastGrid = grid;
    return grid;
  };

  /** Encodes `rects` of `frame` into chunk messages (several codec frames if it is big). */
  const encodeUpdate = async (frame: RawFrame, rects: PixelRect[], keyframe: boolean, q = quality, scale = 1): Promise<EncodedUpdate> => {
    const { width, height } = frame;
    const pieces = rects.flatMap((rect) => splitRect(rect));
    let encoded: FrameRect[];
    try {
      encoded = await mapBounded(pieces, concurrency, (rect) => encodeRect(frame, rect, q, scale));
    } catch (err) {
      // The viewers never got this update: resynchronise everyone with a keyframe.
      previous = null;
      lastGrid = null;
      throw err;
    }
    const messages: Uint8Array[] = [];
    for (const [index, group] of packFrames(encoded).entries()) {
      const bytes = encodeFrame({
        seq: frame.seq,
        captureTsMs: frame.captureTsMs,
        keyframe: keyframe && index === 0,
        screenWidth: width,
        screenHeight: height,
        rects: group,
      });
      messages.push(...chunkFrame(bytes, nextFrameId, maxChunkBytes));
      nextFrameId = (nextFrameId + 1) >>> 0;
    }
    return {
      seq: frame.seq,
      captureTsMs: frame.captureTsMs,
      keyframe,
      messages,
      bytes: messages.reduce((sum, m) => sum + m.length, 0),
      rects: encoded.length,
    };
  };

  const checkFrame = (frame: RawFrame): void => {
    if (frame.data.length !== frame.width * frame.height * 4) throw new RangeError('frame.data must be width × height × 4 bytes');
  };
  const whole = (frame: RawFrame): PixelRect[] => [{ x: 0, y: 0, width: frame.width, height: frame.height }];

  return {
    async encode(frame, opts): Promise<EncodedUpdate | null> {
      checkFrame(frame);
      if (opts.keyframe) {
        // Viewers behind still need what changed since their last update; otherwise skip the diff.
        if (behind.size > 0 || previous === null) advance(frame);
        else if (previous.width === frame.width && previous.height === frame.height) {
          // Reuse the reference's memory: a fresh 8 MB copy costs ~4 ms at 1080p (page faults), a copy into it ~1.
          previous.data.set(frame.data);
          previous.seq = frame.seq;
          lastGrid = null;
        } else previous = { width: frame.width, height: frame.height, data: frame.data.slice(), seq: frame.seq };
        return encodeUpdate(frame, whole(frame), true);
      }
      const grid = advance(frame);
      if (grid === null) return encodeUpdate(frame, whole(frame), true);
      if (grid.count === 0) return null;
      return encodeUpdate(frame, mergeDirtyTiles(grid, frame.width, frame.height, { maxRects }), false);
    },
    lag(viewerId: string): void {
      if (behind.has(viewerId)) return;
      behind.set(viewerId, previous === null ? null : new Uint8Array(Math.ceil(previous.width / tileSize) * Math.ceil(previous.height / tileSize)));
    },
    async catchUp(frame, viewerId, opts: CatchUpOptions = {}): Promise<EncodedUpdate | null> {
      checkFrame(frame);
      const scale = opts.scale ?? 1;
      if (!(RECT_IMAGE_SCALES as readonly number[]).includes(scale)) throw new RangeError(`scale must be one of ${RECT_IMAGE_SCALES.join(', ')}`);
      if (!behind.has(viewerId)) throw new Error(`viewer ${viewerId} is not behind`);
      const grid = advance(frame);
      const tiles = behind.get(viewerId)!;
      behind.delete(viewerId);
      if (grid === null || tiles === null) {
        soft.delete(viewerId);
        return encodeUpdate(frame, whole(frame), true);
      }
      const count = countTiles(tiles);
      if (count === 0) return null;
      const union: TileGrid = { tileSize, cols: grid.cols, rows: grid.rows, dirty: tiles, count };
      const rects = mergeDirtyTiles(union, frame.width, frame.height, { maxRects: lossless ? maxRects : maxRectsAtScale(maxRects, scale) });
      if (lossless || (catchUpQuality >= quality && scale === 1)) return encodeUpdate(frame, rects, false);
      const update = await encodeUpdate(frame, rects, false, Math.min(catchUpQuality, quality), scale);
      // Merged rects may cover clean tiles too: those are soft now as well.
      const marks = soft.get(viewerId) ?? new Uint8Array(tiles.length);
      markRects(marks, rects, grid.cols, tileSize);
      soft.set(viewerId, marks);
      return update;
    },
    async refine(frame, viewerId): Promise<EncodedUpdate | null> {
      checkFrame(frame);
      if (behind.has(viewerId)) throw new Error(`viewer ${viewerId} is behind`);
      const tiles = soft.get(viewerId);
      soft.delete(viewerId);
      const grid = advance(frame);
      if (!tiles || grid === null) return null; // a keyframe is due anyway
      const count = countTiles(tiles);
      if (count === 0) return null;
      const set: TileGrid = { tileSize, cols: grid.cols, rows: grid.rows, dirty: tiles, count };
      return encodeUpdate(frame, mergeDirtyTiles(set, frame.width, frame.height, { maxRects }), false);
    },
    forget(viewerId: string): void {
      behind.delete(viewerId);
      soft.delete(viewerId);
    },
    reset(): void {
      previous = null;
      lastGrid = null;
    },
  };
}
