/**
 * Dirty-region detection between two RGBA8 frames of the same size, in square tiles, and the
 * merge of dirty tiles into a few rectangles worth encoding.
 *
 * Comparison runs on native `memcmp` (`Buffer#compare` over sub-ranges of views of the same
 * memory, no copies). Node's memcmp only says whether a range differs, not where, and each call
 * costs ~100 ns of fixed overhead, so the work is: as few calls as possible, each clean byte read
 * about once, and little JavaScript per call.
 * - A band of tile rows at the top or under a clean band is compared whole first (one call if clean).
 *   Its first differing pixel row is found by galloping down (rows 1, 2, 4, … at a time), then
 *   bisecting; rows above it are clean for every tile and never read again.
 * - In that row, a band under a dirty band first tests alone each tile that was dirty above (windows
 *   span several bands); otherwise, and for the rest of the row, a range that differs is bisected
 *   to its first differing tile, then the tiles after it are tested one by one while they differ
 *   (changes come in runs), and what follows is bisected again only if it differs.
 * - From that row on, the clean bytes between dirty tiles are compared as memory-contiguous spans:
 *   the span after a row's last dirty tile continues into the next row up to its first dirty tile,
 *   so a band with one block of dirty tiles costs one call per pixel row. The runs of dirty tiles
 *   are recomputed only when a tile turns dirty, not for every pixel row.
 * Measured at 1080p on the synthetic desktop's next frame (13 of 17 tile rows changing), as the
 * bench's `diff_cost` (relative to one `Buffer.compare` of two identical frames; medians of 18
 * interleaved runs on a loaded 2-core machine): ≈ 1.9× (1.6–2.3×) with 1,610 calls, 189 of them on
 * ranges that differ; was ≈ 2.07× (1.7–2.4×) with 1,776 calls, 341 differing. Most of the gain is
 * JavaScript: listing the dirty runs for every pixel row cost ≈ 100–150 µs per frame, as much as
 * the fixed cost of ~1,000 calls; the rest is fewer calls to find dirty tiles. What is left is
 * the calls the frame needs (one per clean span per pixel row: the three bands with the video and
 * the moving window's edges need 3 per row, ~40% of all calls), the ~100 ns each, and reads that
 * restart at every call (from DRAM, under load, that costs more than the bytes themselves).
 * Tried and dropped, measured on the same frame: also spanning dirty runs that were equal in the
 * previous row, with backed-off probes (fewer calls on ranges that match, more that do not: 1,638–
 * 1,686 calls in all); comparing fresh views with `Buffer.compare` or `equals` (~20 ns more per
 * call than the offsets' checks); a JavaScript `Int32Array` loop for spans of ≤ 512 bytes (no
 * gain); reading ahead the first bytes of the next spans from JavaScript (slower). A JavaScript loop
 * over the whole frame is 20–30×.
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

/** The two frames and the grid being filled, shared by the helpers of `findDirtyTiles`. */
interface Scan {
  readonly a: Buffer;
  readonly b: Buffer;
  /** Bytes per pixel row. */
  readonly stride: number;
  /** Bytes of one tile in one pixel row (the last tile of a row may be narrower). */
  readonly tileBytes: number;
  readonly cols: number;
  readonly dirty: Uint8Array;
  /** Index in `dirty` of the current band's first tile. */
  first: number;
}

/** Whether the frames differ in bytes start..end−1 (memcmp stops at the first difference). */
function differs(scan: Scan, start: number, end: number): boolean {
  return scan.b.compare(scan.a, start, end, start, end) !== 0;
}

/** Byte offset of tile `t` in the pixel row at `rowStart`; `t = cols` gives the end of the row. */
function tileAt(scan: Scan, rowStart: number, t: number): number {
  return rowStart + Math.min(t * scan.tileBytes, scan.stride);
}

/** Marks tile `t` of the current band dirty; returns 1 when it was clean before. */
function mark(scan: Scan, t: number): number {
  if (scan.dirty[scan.first + t] === 1) return 0;
  scan.dirty[scan.first + t] = 1;
  return 1;
}

/**
 * Marks the tiles among s..e−1 of the current band whose bytes in the pixel row at `rowStart`
 * differ, knowing that the range as a whole differs; returns how many were clean before.
 */
function splitRow(scan: Scan, rowStart: number, s: number, e: number): number {
  let found = 0;
  for (;;) {
    // The first differing tile: while a first half does not differ, the second half does.
    let lo = s;
    let hi = e;
    // Right after a dirty tile, the change most likely runs on into the next one: test it alone.
    if (hi - lo > 1 && s > 0 && scan.dirty[scan.first + s - 1] === 1) {
      if (differs(scan, tileAt(scan, rowStart, s), tileAt(scan, rowStart, s + 1))) hi = s + 1;
      else lo = s + 1;
    }
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (differs(scan, tileAt(scan, rowStart, lo), tileAt(scan, rowStart, mid))) hi = mid;
      else lo = mid;
    }
    found += mark(scan, lo);
    // Changes come in runs (a window, a line of text): one call per tile beats bisecting each.
    let t = lo + 1;
    while (t < e && differs(scan, tileAt(scan, rowStart, t), tileAt(scan, rowStart, t + 1))) found += mark(scan, t++);
    // Tile t is clean in this row (or t = e); what follows it is bisected only if it differs.
    if (t + 1 >= e || !differs(scan, tileAt(scan, rowStart, t + 1), tileAt(scan, rowStart, e))) return found;
    s = t + 1;
  }
}

/**
 * Tests alone, in the pixel row at `rowStart`, each tile of the current band that is dirty in the
 * band above, and marks those that differ; returns how many it marked.
 */
function markFromAbove(scan: Scan, rowStart: number): number {
  const above = scan.first - scan.cols;
  let found = 0;
  for (let t = 0; t < scan.cols; t++) {
    if (scan.dirty[above + t] === 1 && differs(scan, tileAt(scan, rowStart, t), tileAt(scan, rowStart, t + 1))) found += mark(scan, t);
  }
  return found;
}

/**
 * The first of pixel rows y0..y1−1 that differs, or −1 when none does; `known`: the rows are known
 * to differ (then the last block needs no call). Blocks of 1, 2, 4, … rows from the top, each clean
 * row read once, then bisection of the first block that differs.
 */
function firstDifferingRow(scan: Scan, y0: number, y1: number, known: boolean): number {
  const stride = scan.stride;
  let lo = y0;
  let hi = y1;
  for (let step = 1; ; step *= 2) {
    const end = Math.min(lo + step, y1);
    if (end === y1 && known) break;
    if (differs(scan, lo * stride, end * stride)) {
      hi = end;
      break;
    }
    if (end === y1) return -1;
    lo = end;
  }
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (differs(scan, lo * stride, mid * stride)) hi = mid;
    else lo = mid;
  }
  return lo;
}

/** Lists the runs of dirty tiles of the current band, runStart[i] ≤ tile < runEnd[i]; returns how many. */
function listRuns(scan: Scan, runStart: Int32Array, runEnd: Int32Array): number {
  const { dirty, first, cols } = scan;
  let runs = 0;
  for (let t = 0; t < cols; t++) {
    if (dirty[first + t] !== 1) continue;
    runStart[runs] = t;
    while (t + 1 < cols && dirty[first + t + 1] === 1) t++;
    runEnd[runs++] = t + 1;
  }
  return runs;
}

/**
 * Compares, in pixel rows lo..y1−1 of the current band, the tiles still clean: per row, the spans
 * between runs of dirty tiles, the last one running on into the next row. `clean`: how many tiles
 * of the band are still clean; `rowDone`: every tile of row `lo` has been compared already.
 * Returns how many tiles are left clean.
 */
function scanRows(scan: Scan, lo: number, y1: number, clean: number, rowDone: boolean): number {
  const { stride, tileBytes, cols } = scan;
  const runStart = new Int32Array(cols);
  const runEnd = new Int32Array(cols);
  let runs = 0;
  let runsFor = -1;
  for (let y = lo; y < y1 && clean > 0; y++) {
    // Tiles only ever turn dirty, so an unchanged count means unchanged runs.
    if (runsFor !== clean) {
      runs = listRuns(scan, runStart, runEnd);
      runsFor = clean;
    }
    const rowStart = y * stride;
    const done = y === lo && rowDone;
    // Row `lo`'s head, unless the whole row was compared (the head of every later row is compared
    // with the span that runs on from the row above).
    if (y === lo && !rowDone && runStart[0]! > 0) {
      const e = runStart[0]!;
      if (differs(scan, rowStart, rowStart + e * tileBytes)) clean -= splitRow(scan, rowStart, 0, e);
    }
    if (!done) {
      for (let g = 0; g + 1 < runs; g++) {
        const s = runEnd[g]!;
        const e = runStart[g + 1]!;
        if (differs(scan, rowStart + s * tileBytes, rowStart + e * tileBytes)) clean -= splitRow(scan, rowStart, s, e);
      }
    }
    // The span from the last dirty tile of this row to the first dirty tile of the next one.
    const s = runEnd[runs - 1]!;
    const headEnd = y + 1 < y1 ? runStart[0]! : 0;
    const start = tileAt(scan, rowStart, s);
    const end = rowStart + stride + headEnd * tileBytes;
    if (start === end || !differs(scan, start, end)) continue;
    // Without a head the span was the tail. When the tail was compared already (row `lo`), or
    // turns out clean, the head differs.
    const tailDiffers = s < cols && !done && (headEnd === 0 || differs(scan, start, rowStart + stride));
    if (tailDiffers) clean -= splitRow(scan, rowStart, s, cols);
    if (headEnd > 0 && (!tailDiffers || differs(scan, rowStart + stride, end))) clean -= splitRow(scan, rowStart + stride, 0, headEnd);
  }
  return clean;
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
  const stride = width * 4;
  const scan: Scan = { a: view(prev), b: view(curr), stride, tileBytes: tileSize * 4, cols, dirty, first: 0 };
  let count = 0;
  let countAbove = 0;
  for (let ty = 0; ty < rows; ty++) {
    const y0 = ty * tileSize;
    const y1 = Math.min(y0 + tileSize, height);
    const aboveDirty = count > countAbove;
    countAbove = count;
    // Under a clean band a band is usually clean too: one call settles it. Under a dirty one it
    // usually differs from its top row, which the search below tests first.
    if (!aboveDirty && !differs(scan, y0 * stride, y1 * stride)) continue;
    scan.first = ty * cols;
    const lo = firstDifferingRow(scan, y0, y1, !aboveDirty);
    if (lo < 0) continue;
    let clean = cols - (aboveDirty ? markFromAbove(scan, lo * stride) : 0);
    // Row `lo` differs: when no tile from above does, bisect the whole row.
    const rowDone = clean === cols;
    if (rowDone) clean -= splitRow(scan, lo * stride, 0, cols);
    count += cols - scanRows(scan, lo, y1, clean, rowDone);
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
