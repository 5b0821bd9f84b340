// One slow viewer must not slow the others, and must not grow the server. Both viewers are on the
// relay (`--relay force`), so they share the agent's socket and the server: the slow one stops
// reading its WebSocket for most of every second (real TCP backpressure), the server's bounded
// per-viewer queue drops its frames and asks the agent for keyframes, and the fast viewer's rate
// is compared with its rate while alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureFps, startScenario, type Scenario } from '../support/scenario.ts';
import { sleep, waitUntil } from '../support/wait.ts';

const FPS = 12;
const WINDOW_MS = 6000;

let sc: Scenario;
beforeAll(async () => {
  // 1280×720: enough bytes per second that the slow viewer's TCP buffers fill within seconds.
  sc = await startScenario({ agentArgs: ['--relay', 'force', '--fps', String(FPS), '--size', '1280x720', '--quality', '90'] });
});
afterAll(async () => {
  await sc?.stop();
});

describe('a slow viewer', () => {
  it('does not slow the other viewer, and the server’s memory stays bounded', async () => {
    const fast = await sc.join({ decode: false });
    await waitUntil(() => fast.stats.frames >= 10, 20_000, 'fast viewer warmed up');
    const alone = await measureFps(fast, WINDOW_MS);
    const rssBaselineKiB = sc.server.rssKiB();

    let rssMaxKiB = rssBaselineKiB;
    const sampler = setInterval(() => {
      rssMaxKiB = Math.max(rssMaxKiB, sc.server.rssKiB());
    }, 200);
    try {
      const slow = await sc.join({ maxFramesPerS: Math.max(1, Math.round(FPS / 10)), decode: false });
      await waitUntil(() => slow.stats.frames >= 1, 20_000, 'slow viewer got a frame');
      await sleep(2000);
      const slowBefore = slow.stats.frames;
      const withSlow = await measureFps(fast, WINDOW_MS);
      const slowRate = ((slow.stats.frames - slowBefore) * 1000) / WINDOW_MS;
      const drops = sc.agent.logs.filter((l) => l.msg === 'keyframe requested' && l.viewerId === slow.viewerId && l.reason === 'relay_drop').length;
      console.info(`[slow-viewer] fast alone ${alone.toFixed(1)} fps, with slow viewer ${withSlow.toFixed(1)} fps; slow viewer ${slowRate.toFixed(1)} fps; relay-drop keyframe requests ${drops}; server RSS ${Math.round(rssBaselineKiB / 1024)} → max ${Math.round(rssMaxKiB / 1024)} MiB`);
      expect(withSlow).toBeGreaterThanOrEqual(0.9 * alone);
      expect(slowRate).toBeLessThan(withSlow);
      expect(rssMaxKiB - rssBaselineKiB).toBeLessThan(96 * 1024);
    } finally {
      clearInterval(sampler);
    }
  }, 60_000);
});
