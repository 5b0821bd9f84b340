// One slow viewer must not slow the others, and must not grow the server. Both viewers are on the
// relay (`--relay force`), so they share the agent's socket and the server: the slow one stops
// reading its WebSocket once it has taken ~10% of the frame rate each second (real TCP
// backpressure); the server's bounded per-viewer queue must shed its frames (and ask the agent for
// a keyframe) instead of buffering them, while the fast viewer keeps its rate.
//
// The server runs with small relay limits (64 KiB high-water mark, 256 KiB queue) so the bound is
// reached within seconds instead of after tens of megabytes; see the report on how the server
// estimates its WebSocket write buffer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureFps, startScenario, type Scenario } from '../support/scenario.ts';
import { waitUntil } from '../support/wait.ts';

const FPS = 12;
const WINDOW_MS = 5000;

let sc: Scenario;
beforeAll(async () => {
  sc = await startScenario({
    server: { env: { RELAY_HIGH_WATER_BYTES: String(64 * 1024), RELAY_QUEUE_MAX_BYTES: String(256 * 1024) } },
    // 1280×720 at high quality: ~0.8 MB/s per viewer, so the slow viewer's backlog builds fast.
    agentArgs: ['--relay', 'force', '--fps', String(FPS), '--size', '1280x720', '--quality', '90'],
  });
});
afterAll(async () => {
  await sc?.stop();
});

describe('a slow viewer', () => {
  it('does not slow the other viewer; the server sheds its backlog and its memory stays bounded', async () => {
    const fast = await sc.join({ decode: false });
    await waitUntil(() => fast.stats.frames >= 10, 20_000, 'fast viewer warmed up');
    const alone = await measureFps(fast, WINDOW_MS);
    const rssBaselineKiB = sc.server.rssKiB();
    const fastBytesAtJoin = fast.stats.bytes;

    let rssMaxKiB = rssBaselineKiB;
    const sampler = setInterval(() => {
      rssMaxKiB = Math.max(rssMaxKiB, sc.server.rssKiB());
    }, 200);
    try {
      const slow = await sc.join({ maxFramesPerS: Math.max(1, Math.round(FPS / 10)), decode: false });
      const relayDrops = () => sc.agent.logs.filter((l) => l.msg === 'keyframe requested' && l.viewerId === slow.viewerId && l.reason === 'relay_drop').length;
      // The server sheds instead of buffering: it drops the slow viewer's frames and asks the agent to resync it.
      await waitUntil(() => relayDrops() > 0, 30_000, 'the server dropping frames for the slow viewer');
      const slowBefore = slow.stats.frames;
      const withSlow = await measureFps(fast, WINDOW_MS);
      const slowRate = ((slow.stats.frames - slowBefore) * 1000) / WINDOW_MS;
      const offeredMiB = (fast.stats.bytes - fastBytesAtJoin) / 2 ** 20;
      console.info(
        `[slow-viewer] fast viewer alone ${alone.toFixed(1)} fps, with the slow viewer ${withSlow.toFixed(1)} fps; slow viewer ${slowRate.toFixed(1)} fps; ` +
          `relay-drop keyframe requests ${relayDrops()}; ~${offeredMiB.toFixed(1)} MiB offered to the slow viewer; ` +
          `server RSS ${(rssBaselineKiB / 1024).toFixed(0)} → max ${(rssMaxKiB / 1024).toFixed(0)} MiB`,
      );
      expect(withSlow).toBeGreaterThanOrEqual(0.9 * alone);
      expect(slowRate).toBeLessThan(withSlow / 2);
      // Far less than what was offered to the slow viewer; the queue bound is 256 KiB.
      expect(rssMaxKiB - rssBaselineKiB).toBeLessThan(48 * 1024);
      expect(slow.stats.codecErrors).toBe(0);
    } finally {
      clearInterval(sampler);
    }
  }, 60_000);
});
