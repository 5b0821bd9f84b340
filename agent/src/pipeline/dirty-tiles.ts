/**
 * Dirty-region detection between two RGBA8 frames of the same size, in square tiles, and the
 * merge of dirty tiles into a few rectangles worth encoding.
 *
 * Comparison runs on native `memcmp` (`Buffer#compare` over sub-ranges of views of the same
 * memory, no copies): first a whole band of tile rows; in a band that differs, each pixel row's
 * runs of tiles not yet known to be dirty, one call per run, bisecting only a run that differs.
 * Measured at 1080p (`dirty-tiles.bench.ts`, relative to one `Buffer.compare` of two identical
 * frames): identical frames ≈ 1.1–1.4×; the synthetic desktop's next frame (15 of 17 tile rows
 * changing) ≈ 2.4×; worse on a loaded machine, where the per-call cost grows. A JavaScript loop
 * over `Uint32Array` views, the obvious alternative, is 20–30×.
 */

/** Default tile side in pixels (a multiple of 16, so tiles follow the JPEG 4:2:0 MCU grid). */
export const DEFAULT_TILE_SIZE_PX = 64;
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
  let count = 0;

  /** Marks the dirty tiles among tiles s..e−1 of `first`'s row, whose bytes in this pixel row differ. */
  const split = (first: number, rowStart: number, rowEnd: number, s: number, e: number): number => {
    if (e - s === 1) {
      dirty[first + s] = 1;
      return 1;
    }
    let found = 0;
    const mid = (s + e) >> 1;
    for (const [lo, hi] of [
      [s, mid],
      [mid, e],
    ] as const) {
      const start = rowStart + lo * tileBytes;
      const end = Math.min(rowStart + hi * tileBytes, rowEnd);
      if (b.compare(a, start, end, start, end) !== 0) found += split(first, rowStart, rowEnd, lo, hi);
    }
    return found;
  };

  for (let ty = 0; ty < rows; ty++) {
    const bandStart = ty * tileSize * stride;
    const bandEnd = Math.min((ty + 1) * tileSize, height) * stride;
    if (b.compare(a, bandStart, bandEnd, bandStart, bandEnd) === 0) continue;
    const first = ty * cols;
    let clean = cols;
    for (let rowStart = bandStart; rowStart < bandEnd && clean > 0; rowStart += stride) {
      const rowEnd = rowStart + stride;
      // Compare each run of still-clean tiles in one call; bisect only a run that differs.
      for (let tx = 0; tx < cols; ) {
        if (dirty[first + tx] === 1) {
          tx++;
          continue;
        }
        let runEnd = tx + 1;
        while (runEnd < cols && dirty[first + runEnd] !== 1) runEnd++;
        const start = rowStart + tx * tileBytes;
        const end = Math.min(rowStart + runEnd * tileBytes, rowEnd);
        if (b.compare(a, start, end, start, end) !== 0) clean -= split(first, rowStart, rowEnd, tx, runEnd);
        tx = runEnd;
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
