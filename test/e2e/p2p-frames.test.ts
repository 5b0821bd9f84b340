// A viewer gets the agent's screen over the P2P `frames` data channel: real server process, real
// agent process (synthetic 640×360 screen), Node viewer with real WebRTC.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectFrames, expectStampedFrames, startScenario, type Scenario } from '../support/scenario.ts';

let sc: Scenario;
beforeAll(async () => {
  sc = await startScenario();
});
afterAll(async () => {
  await sc?.stop();
});

describe('P2P frames', () => {
  it('delivers stamped frames over the data channel and reports the p2p path', async () => {
    const viewer = await sc.join();
    const frames = await collectFrames(viewer, 24);
    expect(frames.every((f) => f.path === 'p2p')).toBe(true);
    expect(frames[0]!.keyframe).toBe(true);
    expect(frames[0]!.width).toBe(640);
    expect(frames[0]!.height).toBe(360);
    expectStampedFrames(frames, sc.startedAt);
    expect(viewer.stats.framesByPath.relay).toBe(0);
    expect(viewer.stats.codecErrors + viewer.stats.decodeErrors + viewer.stats.deltasWithoutBase).toBe(0);
    await sc.waitForPath('p2p');
    await sc.agent.waitForLog((l) => l.msg === 'p2p connected' && l.viewerId === viewer.viewerId);
    // The agent greets on the input channel.
    expect(viewer.controlMessages).toContainEqual({ type: 'control:hello', protocol: 1, role: 'agent' });
    console.info(`[p2p] first frame ${viewer.stats.firstFrameMs} ms after join`);
  });

  it('answers a keyframe request on the input channel with a keyframe', async () => {
    const viewer = sc.viewers[0]!;
    await collectFrames(viewer, 3);
    const next = viewer.nextFrame((f) => f.keyframe);
    viewer.requestKeyframe();
    const key = await next;
    expect(key.path).toBe('p2p');
    expect(key.stamp?.seq).toBe(key.seq);
  });

  it('streams to a second viewer on its own P2P link without disturbing the first', async () => {
    const first = sc.viewers[0]!;
    const second = await sc.join();
    const [a, b] = await Promise.all([collectFrames(first, 10), collectFrames(second, 10)]);
    expectStampedFrames(a, sc.startedAt);
    expectStampedFrames(b, sc.startedAt);
    expect(b[0]!.keyframe).toBe(true);
    expect(b.every((f) => f.path === 'p2p')).toBe(true);
  });
});
