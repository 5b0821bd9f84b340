import { describe, expect, it, vi } from 'vitest';
import { findDirtyTiles, mergeDirtyTiles, type PixelRect, type TileGrid } from './dirty-tiles.ts';

/** mulberry32: small seeded PRNG so failures reproduce. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function frame(width: number, height: number, seed = 1): Uint8Array {
  const next = prng(seed);
  return new Uint8Array(width * height * 4).map(() => Math.floor(next() * 256));
}

/** The obvious per-pixel answer, to check the fast one against. */
function referenceDirty(a: Uint8Array, b: Uint8Array, width: number, height: number, tile: number): number[] {
  const cols = Math.ceil(width / tile);
  const dirty = new Set<number>();
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    const px = i >> 2;
    dirty.add(Math.floor(Math.floor(px / width) / tile) * cols + Math.floor((px % width) / tile));
  }
  return [...dirty].sort((x, y) => x - y);
}

function dirtyIndexes(grid: TileGrid): number[] {
  return [...grid.dirty.keys()].filter((i) => grid.dirty[i] === 1);
}

function gridOf(cols: number, rows: number, dirtyCells: [number, number][], tileSize = 64): TileGrid {
  const dirty = new Uint8Array(cols * rows);
  for (const [c, r] of dirtyCells) dirty[r * cols + c] = 1;
  return { tileSize, cols, rows, dirty, count: dirtyCells.length };
}

function covers(rects: PixelRect[], x: number, y: number): boolean {
  return rects.some((r) => x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height);
}

describe('findDirtyTiles', () => {
  it('finds nothing between identical frames', () => {
    const a = frame(1920, 1080);
    const grid = findDirtyTiles(a, a.slice(), 1920, 1080);
    expect(grid).toMatchObject({ cols: 30, rows: 17, count: 0 });
  });

  it.each([
    ['first byte of a tile', 128, 192, 0],
    ['last byte of a tile', 191, 255, 3],
    ['alpha only', 150, 200, 3],
    ['partial edge tile, last pixel of the screen', 1919, 1079, 2],
  ])('marks exactly one tile for a change at the %s', (_name, x, y, channel) => {
    const a = frame(1920, 1080);
    const b = a.slice();
    const i = (y * 1920 + x) * 4 + channel;
    b[i] = (b[i] ?? 0) ^ 0x80;
    const grid = findDirtyTiles(a, b, 1920, 1080);
    expect(dirtyIndexes(grid)).toEqual([Math.floor(y / 64) * 30 + Math.floor(x / 64)]);
    expect(grid.count).toBe(1);
  });

  it('agrees with a per-pixel reference on random changes', () => {
    const next = prng(42);
    for (let round = 0; round < 40; round++) {
      const width = 50 + Math.floor(next() * 300);
      const height = 30 + Math.floor(next() * 200);
      const tile = [8, 16, 32, 64][Math.floor(next() * 4)] ?? 16;
      const a = frame(width, height, round);
      const b = a.slice();
      const changes = Math.floor(next() * 12);
      for (let k = 0; k < changes; k++) {
        const i = Math.floor(next() * b.length);
        b[i] = (b[i] ?? 0) ^ 1;
      }
      const grid = findDirtyTiles(a, b, width, height, tile);
      expect(dirtyIndexes(grid), `round ${round}`).toEqual(referenceDirty(a, b, width, height, tile));
      expect(grid.count).toBe(dirtyIndexes(grid).length);
    }
  });

  it('agrees with a per-pixel reference on windows, glyphs, lines and single bytes', () => {
    // Changes that span several bands and tiles (the search from the band above, runs of dirty
    // tiles), that start below a band's top row or right after a dirty tile, that touch partial
    // edge tiles, on frames whose sides are not multiples of the tile size.
    const next = prng(7);
    const below = (n: number) => Math.floor(next() * n);
    for (let round = 0; round < 150; round++) {
      const tile = [1, 3, 8, 16, 32, 64][below(6)] ?? 16;
      const width = 1 + below(260);
      const height = 1 + below(200);
      const a = frame(width, height, 1000 + round);
      const b = a.slice();
      const changes = below(8);
      for (let k = 0; k < changes; k++) {
        const x0 = below(width);
        const y0 = below(height);
        const w = 1 + below(next() < 0.5 ? 4 : width);
        const h = 1 + below(next() < 0.5 ? 4 : height);
        const density = next();
        for (let y = y0; y < Math.min(y0 + h, height); y++) {
          for (let x = x0; x < Math.min(x0 + w, width); x++) {
            if (next() > density) continue;
            const i = (y * width + x) * 4 + below(4);
            b[i] = (b[i] ?? 0) ^ (1 + below(255));
          }
        }
      }
      const grid = findDirtyTiles(a, b, width, height, tile);
      expect(dirtyIndexes(grid), `round ${round}: ${width}×${height}, tile ${tile}`).toEqual(referenceDirty(a, b, width, height, tile));
      expect(grid.count).toBe(dirtyIndexes(grid).length);
    }
  });

  it('finds a window that spans bands, including where it starts below a band top', () => {
    const a = frame(640, 480);
    const b = a.slice();
    // Tiles 2–5 of bands 1–3, from pixel row 100 (inside band 1) to 250 (inside band 3); and one
    // tile of band 2 (col 8) whose change starts at its last row, right under a clean tile.
    const touch = (x: number, y: number) => {
      const i = (y * 640 + x) * 4 + 1;
      b[i] = (b[i] ?? 0) ^ 0x40;
    };
    for (let y = 100; y <= 250; y++) for (let x = 130; x < 380; x += 7) touch(x, y);
    touch(550, 191);
    const expected = [];
    for (let r = 1; r <= 3; r++) for (let c = 2; c <= 5; c++) expected.push(r * 10 + c);
    expected.push(2 * 10 + 8);
    expect(dirtyIndexes(findDirtyTiles(a, b, 640, 480))).toEqual(expected.sort((x, y) => x - y));
  });

  it('settles a clean band with one compare', () => {
    const a = frame(320, 200);
    const compare = vi.spyOn(Buffer.prototype, 'compare');
    try {
      expect(findDirtyTiles(a, a.slice(), 320, 200, 64).count).toBe(0);
      expect(compare).toHaveBeenCalledTimes(4);
    } finally {
      compare.mockRestore();
    }
  });

  it('works on views that start inside a larger buffer', () => {
    const backing = new Uint8Array(8 + 64 * 64 * 4);
    const a = backing.subarray(8);
    const b = a.slice();
    b[64 * 4 * 40 + 4 * 33] = 1;
    expect(dirtyIndexes(findDirtyTiles(a, b, 64, 64, 16))).toEqual([2 * 4 + 2]);
  });

  it('refuses frames of the wrong size and a bad tile size', () => {
    expect(() => findDirtyTiles(new Uint8Array(16), new Uint8Array(12), 2, 2)).toThrow(RangeError);
    expect(() => findDirtyTiles(new Uint8Array(16), new Uint8Array(16), 2, 2, 0)).toThrow(RangeError);
  });
});

describe('mergeDirtyTiles', () => {
  it('returns nothing for a clean grid', () => {
    expect(mergeDirtyTiles(gridOf(30, 17, []), 1920, 1080)).toEqual([]);
  });

  it('covers one dirty tile with one tile-sized rect', () => {
    expect(mergeDirtyTiles(gridOf(30, 17, [[2, 3]]), 1920, 1080)).toEqual([{ x: 128, y: 192, width: 64, height: 64 }]);
  });

  it('clips an edge tile to the screen', () => {
    expect(mergeDirtyTiles(gridOf(30, 17, [[29, 16]]), 1920, 1080)).toEqual([{ x: 1856, y: 1024, width: 64, height: 56 }]);
  });

  it('merges a block of tiles into one rect and an L shape into two', () => {
    const block = gridOf(30, 17, [
      [4, 2],
      [5, 2],
      [4, 3],
      [5, 3],
      [4, 4],
      [5, 4],
    ]);
    expect(mergeDirtyTiles(block, 1920, 1080)).toEqual([{ x: 256, y: 128, width: 128, height: 192 }]);
    const ell = gridOf(30, 17, [
      [1, 1],
      [1, 2],
      [2, 2],
    ]);
    expect(mergeDirtyTiles(ell, 1920, 1080)).toEqual([
      { x: 64, y: 64, width: 64, height: 64 },
      { x: 64, y: 128, width: 128, height: 64 },
    ]);
  });

  it('caps the number of rects and still covers every dirty tile', () => {
    const cells: [number, number][] = [];
    for (let r = 0; r < 17; r += 2) for (let c = r % 4; c < 30; c += 4) cells.push([c, r]);
    const grid = gridOf(30, 17, cells);
    for (const maxRects of [1, 4, 16]) {
      const rects = mergeDirtyTiles(grid, 1920, 1080, { maxRects, fullScreenRatio: 1.01 });
      expect(rects.length).toBeLessThanOrEqual(maxRects);
      for (const [c, r] of cells) expect(covers(rects, c * 64 + 1, r * 64 + 1)).toBe(true);
    }
  });

  it('sends the whole screen when most of it is dirty', () => {
    const cells: [number, number][] = [];
    for (let r = 0; r < 17; r++) for (let c = 0; c < 20; c++) cells.push([c, r]);
    expect(mergeDirtyTiles(gridOf(30, 17, cells), 1920, 1080)).toEqual([{ x: 0, y: 0, width: 1920, height: 1080 }]);
  });
});
