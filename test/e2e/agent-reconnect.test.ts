// The agent reconnects on its own (exponential backoff with jitter) when the server goes away, the
// server reattaches its session, and streaming resumes for the viewers the server knows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectFrames, expectStampedFrames, startScenario, type Scenario } from '../support/scenario.ts';

let sc: Scenario;
beforeAll(async () => {
  sc = await startScenario();
});
afterAll(async () => {
  await sc?.stop();
});

describe('agent reconnect', () => {
  it('comes back to the same session after a server restart and streams to a new viewer', async () => {
    const before = await sc.join();
    await collectFrames(before, 5);
    const welcomes = () => sc.agent.logs.filter((l) => l.msg === 'session welcome');
    expect(welcomes()).toHaveLength(1);

    await sc.server.restart();
    const resumed = await sc.agent.waitForLog((l) => l.msg === 'session welcome' && l.resumed === true, 60_000, 'the agent back on the restarted server');
    expect(resumed.sessionId).toBe(sc.sessionId);
    const retries = sc.agent.logs.filter((l) => l.msg === 'reconnecting');
    expect(retries.length).toBeGreaterThan(0);
    expect(retries.every((l) => typeof l.inMs === 'number' && l.inMs <= 30_000)).toBe(true);
    // The old viewer's socket died with the server; the server does not re-announce it, so the agent drops it.
    await sc.agent.waitForLog((l) => l.msg === 'viewer left' && l.viewerId === before.viewerId, 15_000, 'the stale viewer dropped');

    const after = await sc.join();
    const frames = await collectFrames(after, 10);
    expect(frames[0]!.keyframe).toBe(true);
    expectStampedFrames(frames, sc.startedAt);
    expect(sc.agent.exit).toBeDefined();
    expect(sc.agent.child.exitCode).toBeNull();
  }, 90_000);
});
