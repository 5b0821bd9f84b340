// A viewer on a link too slow for the stream gets catch-ups smaller per side (scaled images the
// viewer stretches over their rects), so what it shows stays recent instead of seconds behind,
// while a viewer on a fast path keeps full-size updates. Both on the relay (`--relay force`); the
// slow one's link carries `SLOW_LINK_BYTES_PER_S` (it reads its WebSocket only as fast as that).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScenario, type Scenario } from '../support/scenario.ts';
import { waitUntil } from '../support/wait.ts';

const SLOW_LINK_BYTES_PER_S = 40_000;

let sc: Scenario;
beforeAll(async () => {
  sc = await startScenario({
    // 960×540 at 15 fps: each update of the moving synthetic desktop is tens of KB at full size.
    agentArgs: ['--relay', 'force', '--fps', '15', '--size', '960x540', '--quality', '80'],
  });
});
afterAll(async () => {
  await sc?.stop();
});

describe('a viewer on a slow link', () => {
  it('gets scaled catch-ups that decode cleanly, and the fast viewer none', async () => {
    const fast = await sc.join({});
    const slow = await sc.join({ maxBytesPerS: SLOW_LINK_BYTES_PER_S });
    await waitUntil(() => slow.stats.scaledRects >= 10, 40_000, 'the slow viewer getting scaled rects');
    const ages: number[] = [];
    slow.onFrame((f) => ages.push(Date.now() - f.captureTsMs));
    const frames0 = slow.stats.frames;
    await waitUntil(() => slow.stats.frames >= frames0 + 10, 30_000, 'ten more frames at the slow viewer');
    ages.sort((a, b) => a - b);
    const median = ages[Math.floor(ages.length / 2)]!;
    console.info(`[slow-link] slow viewer: ${slow.stats.frames} frames, ${slow.stats.scaledRects} scaled rects, median age ${median} ms; fast viewer ${fast.stats.frames} frames`);
    expect(slow.stats.decodeErrors).toBe(0);
    expect(slow.stats.codecErrors).toBe(0);
    expect(slow.stats.deltasWithoutBase).toBe(0);
    // Recent pictures: a full-size catch-up of this scene takes seconds on this link.
    expect(median).toBeLessThan(1500);
    expect(fast.stats.frames).toBeGreaterThan(slow.stats.frames);
    expect(fast.stats.scaledRects).toBe(0);
    expect(fast.stats.decodeErrors).toBe(0);
  }, 90_000);
});
