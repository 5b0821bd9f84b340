/**
 * Dirty-region detection between two RGBA8 frames of the same size, in square tiles, and the
 * merge of dirty tiles into a few rectangles worth encoding.
 *
 * Comparison runs on native `memcmp` (`Buffer#compare` over sub-ranges of views of the same
 * memory, no copies). Node's memcmp only says whether a range differs, not where, and each call
 * costs ~100 ns of fixed overhead, so the work is: as few calls as possible, and each clean byte
 * read about once.
 * - A band of tile rows is compared whole; if it differs, its first differing pixel row is found by
 *   bisecting row blocks (rows above it are clean for every tile, and never read again).
 * - From that row on, the clean bytes between dirty tiles are compared as memory-contiguous spans:
 *   the span after a row's last dirty tile continues into the next row up to its first dirty tile,
 *   so a band with one block of dirty tiles costs one call per pixel row. A span that differs is
 *   split by row and bisected by tile.
 * Measured at 1080p (relative to one `Buffer.compare` of two identical frames, medians of 40
 * interleaved runs on a loaded 2-core machine): identical frames ≈ 1.1×; the synthetic desktop's
 * next frame (13 of 17 tile rows changing) ≈ 2.2× (was 2.5× with a band compare, then every pixel
 * row from the band's top); one changed byte in the last row of every 3rd tile ≈ 1.65× (was 3.2×).
 * What is left is the ~1,800 calls the desktop frame needs (one per clean span per pixel row):
 * replaying just those calls costs ≈ 2× the whole-frame compare (≈ 100 ns fixed per call, plus
 * the non-sequential reads). A JavaScript loop over `Uint32Array` views is 20–30×.
 */

/** Default tile side in pixels (a multiple of 16, so tiles follow the JPEG 4:2:0 MCU grid). */
export const DEFAULT_TILE_SIZE_PX = 64;
/** Pixel rows compared per call while a band is clean (small: the block that differs is re-read). */
const ROW_BLOCK = 8;
/** Default cap on merged rectangles per update. */
export const DEFAULT_MAX_RECTS = 32;
/** Default share of the screen above which the whole screen is sent as one rectangle. */
export const DEFAULT_FULL_SCREEN_RATIO = 0.6;

/** Which tiles differ. `dirty[row * cols + col]` is 1 for a dirty tile; edge tiles may be partial. */
export interface TileGrid {
  readonly tileSize: number;
  readonly cols: number;
  readonly rows: number;
  readonly dirty: Uint8Array;
  /** Number of dirty tiles. */
  readonly count: number;
}

/** A rectangle in screen pixels. */
export interface PixelRect {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

function view(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Marks the tiles where `curr` differs from `prev` (both `width × height × 4` bytes, RGBA8).
 * Stops comparing a tile at its first differing row.
 */
export function findDirtyTiles(prev: Uint8Array, curr: Uint8Array, width: number, height: number, tileSize = DEFAULT_TILE_SIZE_PX): TileGrid {
  const length = width * height * 4;
  if (prev.length !== length || curr.length !== length) throw new RangeError('frames must be width × height × 4 bytes');
  if (!Number.isInteger(tileSize) || tileSize < 1) throw new RangeError('tileSize must be a positive integer');
  const cols = Math.ceil(width / tileSize);
  const rows = Math.ceil(height / tileSize);
  const dirty = new Uint8Array(cols * rows);
  const a = view(prev);
  const b = view(curr);
  const stride = width * 4;
  const tileBytes = tileSize * 4;
  const differs = (start: number, end: number): boolean => b.compare(a, start, end, start, end) !== 0;
  // Runs of dirty tiles in the current band: gapStart[i] ≤ tile < gapEnd[i].
  const gapStart = new Int32Array(cols);
  const gapEnd = new Int32Array(cols);
  let gaps = 0;
  let first = 0;
  let count = 0;

  /**
   * Marks the tiles among s..e−1 of the band whose bytes in the pixel row at `rowStart` differ,
   * knowing that the range as a whole differs; returns how many were clean before.
   */
  const split = (rowStart: number, s: number, e: number): number => {
    if (e - s === 1) {
      if (dirty[first + s] === 1) return 0;
      dirty[first + s] = 1;
      return 1;
    }
    const mid = (s + e) >> 1;
    // The range differs: when its first half does not, its second half does.
    if (!differs(rowStart + s * tileBytes, rowStart + mid * tileBytes)) return split(rowStart, mid, e);
    const found = split(rowStart, s, mid);
    return differs(rowStart + mid * tileBytes, Math.min(rowStart + e * tileBytes, rowStart + stride)) ? found + split(rowStart, mid, e) : found;
  };
  const readGaps = () => {
    gaps = 0;
    for (let tx = 0; tx < cols; tx++) {
      if (dirty[first + tx] !== 1) continue;
      gapStart[gaps] = tx;
      while (tx + 1 < cols && dirty[first + tx + 1] === 1) tx++;
      gapEnd[gaps++] = tx + 1;
    }
  };

  for (let ty = 0; ty < rows; ty++) {
    const y0 = ty * tileSize;
    const y1 = Math.min(y0 + tileSize, height);
    // Blocks of pixel rows in order, so clean rows are read once; bisect the first block that
    // differs for its first differing row.
    let lo = y0;
    let hi = y0;
    while (lo < y1) {
      hi = Math.min(lo + ROW_BLOCK, y1);
      if (differs(lo * stride, hi * stride)) break;
      lo = hi;
    }
    if (lo >= y1) continue;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (differs(lo * stride, mid * stride)) hi = mid;
      else lo = mid;
    }
    first = ty * cols;
    let clean = cols - split(lo * stride, 0, cols);
    // From here every pixel row's bytes up to its first dirty tile have been compared already.
    for (let y = lo; y < y1 && clean > 0; y++) {
      readGaps();
      const rowStart = y * stride;
      for (let g = 0; g < gaps; g++) {
        const s = gapEnd[g]!;
        const last = g === gaps - 1;
        if (!last) {
          if (y === lo) continue; // the whole of row `lo` was just compared
          const e = gapStart[g + 1]!;
          if (differs(rowStart + s * tileBytes, rowStart + e * tileBytes)) clean -= split(rowStart, s, e);
          continue;
        }
        // The span from the last dirty tile of this row to the first dirty tile of the next one.
        const nextRow = y + 1 < y1;
        const headEnd = nextRow ? gapStart[0]! : 0;
        const start = rowStart + Math.min(s * tileBytes, stride);
        const end = rowStart + stride + headEnd * tileBytes;
        if (start === end || !differs(start, end)) continue;
        // Row `lo`'s tail was compared with the whole row; when the tail is clean the head differs.
        const tailDiffers = s < cols && y !== lo && differs(start, rowStart + stride);
        if (tailDiffers) clean -= split(rowStart, s, cols);
        if (headEnd > 0 && (!tailDiffers || differs(rowStart + stride, end))) clean -= split(rowStart + stride, 0, headEnd);
      }
    }
    count += cols - clean;
  }
  return { tileSize, cols, rows, dirty, count };
}

/** A rectangle in tile units, inclusive bounds. */
interface TileRect {
  c0: number;
  c1: number;
  r0: number;
  r1: number;
}

function tileArea(r: TileRect): number {
  return (r.c1 - r.c0 + 1) * (r.r1 - r.r0 + 1);
}

/** Horizontal runs of dirty tiles per row, merged downwards while a run repeats exactly. */
function runsToRects(grid: TileGrid, boundingRunPerRow: boolean): TileRect[] {
  const rects: TileRect[] = [];
  let open = new Map<number, TileRect>();
  for (let r = 0; r < grid.rows; r++) {
    const runs: [number, number][] = [];
    for (let c = 0; c < grid.cols; c++) {
      if (grid.dirty[r * grid.cols + c] !== 1) continue;
      const start = c;
      while (c + 1 < grid.cols && grid.dirty[r * grid.cols + c + 1] === 1) c++;
      runs.push([start, c]);
    }
    const firstRun = runs[0];
    const lastRun = runs[runs.length - 1];
    if (boundingRunPerRow && firstRun !== undefined && lastRun !== undefined) runs.splice(0, runs.length, [firstRun[0], lastRun[1]]);
    const next = new Map<number, TileRect>();
    for (const [c0, c1] of runs) {
      const key = c0 * 65_536 + c1;
      const rect = open.get(key);
      if (rect !== undefined && rect.r1 === r - 1) {
        rect.r1 = r;
        next.set(key, rect);
      } else {
        const created = { c0, c1, r0: r, r1: r };
        rects.push(created);
        next.set(key, created);
      }
    }
    open = next;
  }
  return rects;
}

/** Merges the pair that wastes the least area until at most `max` rects remain. */
function mergeGreedily(rects: TileRect[], max: number): TileRect[] {
  const out = rects.slice();
  while (out.length > max) {
    let best = { i: 0, j: 1, cost: Infinity };
    for (let i = 0; i < out.length; i++) {
      for (let j = i + 1; j < out.length; j++) {
        const a = out[i] as TileRect;
        const b = out[j] as TileRect;
        const merged = { c0: Math.min(a.c0, b.c0), c1: Math.max(a.c1, b.c1), r0: Math.min(a.r0, b.r0), r1: Math.max(a.r1, b.r1) };
        const cost = tileArea(merged) - tileArea(a) - tileArea(b);
        if (cost < best.cost) best = { i, j, cost };
      }
    }
    const a = out[best.i] as TileRect;
    const b = out[best.j] as TileRect;
    out[best.i] = { c0: Math.min(a.c0, b.c0), c1: Math.max(a.c1, b.c1), r0: Math.min(a.r0, b.r0), r1: Math.max(a.r1, b.r1) };
    out.splice(best.j, 1);
  }
  return out;
}

export interface MergeOptions {
  /** Most rectangles to return (≥ 1). */
  maxRects?: number;
  /** When dirty tiles (or the merged rects) cover at least this share of the screen, return the whole screen. */
  fullScreenRatio?: number;
}

/**
 * Turns dirty tiles into at most `maxRects` pixel rectangles that cover every dirty tile
 * (clipped to the screen). Merged rects may also cover clean tiles and may overlap each other;
 * both are harmless, since every rect carries the current pixels.
 * Returns `[]` when nothing is dirty and one whole-screen rect when most of the screen is.
 */
export function mergeDirtyTiles(grid: TileGrid, width: number, height: number, options: MergeOptions = {}): PixelRect[] {
  const { maxRects = DEFAULT_MAX_RECTS, fullScreenRatio = DEFAULT_FULL_SCREEN_RATIO } = options;
  if (!Number.isInteger(maxRects) || maxRects < 1) throw new RangeError('maxRects must be a positive integer');
  if (grid.count === 0) return [];
  const whole = [{ x: 0, y: 0, width, height }];
  const totalTiles = grid.cols * grid.rows;
  if (grid.count >= fullScreenRatio * totalTiles) return whole;

  let rects = runsToRects(grid, false);
  // Greedy merging is cubic: past a few times the cap, first collapse each row to one run.
  if (rects.length > 4 * maxRects) rects = runsToRects(grid, true);
  if (rects.length > maxRects) rects = mergeGreedily(rects, maxRects);
  if (rects.reduce((sum, r) => sum + tileArea(r), 0) >= fullScreenRatio * totalTiles) return whole;

  const t = grid.tileSize;
  return rects.map((r) => {
    const x = r.c0 * t;
    const y = r.r0 * t;
    return { x, y, width: Math.min((r.c1 + 1) * t, width) - x, height: Math.min((r.r1 + 1) * t, height) - y };
  });
}
