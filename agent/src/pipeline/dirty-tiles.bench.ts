/**
 * Cost of dirty-tile detection relative to one `Buffer.compare` of a whole 1080p frame.
 * Run: `npx tsx agent/src/pipeline/dirty-tiles.bench.ts` (a script, not a test).
 */
import { createSyntheticSource } from '../capture/synthetic-source.ts';
import { DEFAULT_TILE_SIZE_PX, findDirtyTiles } from './dirty-tiles.ts';

const WIDTH = 1920;
const HEIGHT = 1080;
const ROUNDS = 200;

/** Median over `ROUNDS` single runs, after a warm-up: robust to a busy machine. */
function timeMs(fn: () => void): number {
  for (let i = 0; i < 10; i++) fn();
  const samples: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const start = performance.now();
    fn();
    samples.push(performance.now() - start);
  }
  samples.sort((x, y) => x - y);
  return samples[Math.floor(samples.length / 2)] ?? 0;
}

/** The straightforward alternative: a JS loop over `Uint32Array` views, early exit per tile. */
function u32LoopDirtyCount(prev: Uint8Array, curr: Uint8Array): number {
  const p = new Uint32Array(prev.buffer, prev.byteOffset, WIDTH * HEIGHT);
  const c = new Uint32Array(curr.buffer, curr.byteOffset, WIDTH * HEIGHT);
  const t = DEFAULT_TILE_SIZE_PX;
  let count = 0;
  for (let y0 = 0; y0 < HEIGHT; y0 += t) {
    for (let x0 = 0; x0 < WIDTH; x0 += t) {
      tile: for (let y = y0; y < Math.min(y0 + t, HEIGHT); y++) {
        for (let i = y * WIDTH + x0, end = y * WIDTH + Math.min(x0 + t, WIDTH); i < end; i++) {
          if (p[i] !== c[i]) {
            count++;
            break tile;
          }
        }
      }
    }
  }
  return count;
}

const source = createSyntheticSource({ width: WIDTH, height: HEIGHT, now: () => 0 });
const before = await source.capture();
const after = await source.capture();
const same = before.data.slice();
const scattered = before.data.slice();
// One changed byte in the bottom-right pixel of every third tile: the worst case for early exit.
for (let y = DEFAULT_TILE_SIZE_PX - 1; y < HEIGHT; y += DEFAULT_TILE_SIZE_PX) {
  for (let x = DEFAULT_TILE_SIZE_PX - 1; x < WIDTH; x += 3 * DEFAULT_TILE_SIZE_PX) {
    const i = (y * WIDTH + x) * 4;
    scattered[i] = (scattered[i] ?? 0) ^ 1;
  }
}
const noise = new Uint8Array(WIDTH * HEIGHT * 4).map((_, i) => (i * 2_654_435_761) >>> 24);

const prevBuf = Buffer.from(before.data.buffer, before.data.byteOffset, before.data.byteLength);
const sameBuf = Buffer.from(same.buffer);
const baseline = timeMs(() => Buffer.compare(prevBuf, sameBuf));
console.log(`Buffer.compare of one 1080p frame (identical): ${baseline.toFixed(3)} ms`);

const cases: [string, Uint8Array][] = [
  ['identical frames', same],
  ['synthetic desktop, next frame', after.data],
  ['1 changed byte in every 3rd tile', scattered],
  ['every pixel changed', noise],
];
for (const [name, curr] of cases) {
  let count = 0;
  const ms = timeMs(() => {
    count = findDirtyTiles(before.data, curr, WIDTH, HEIGHT).count;
  });
  console.log(`findDirtyTiles, ${name}: ${ms.toFixed(3)} ms = ${(ms / baseline).toFixed(2)}× Buffer.compare (${count} dirty tiles)`);
}
const loopMs = timeMs(() => u32LoopDirtyCount(before.data, same));
console.log(`(reference) Uint32Array JS loop, identical frames: ${loopMs.toFixed(3)} ms = ${(loopMs / baseline).toFixed(2)}× Buffer.compare`);
