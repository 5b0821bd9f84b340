// `--relay force`: no WebRTC at all; frames travel agent → server → viewer as `relay:frame`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectFrames, expectStampedFrames, startScenario, type Scenario } from '../support/scenario.ts';

let sc: Scenario;
beforeAll(async () => {
  sc = await startScenario({ agentArgs: ['--relay', 'force'] });
});
afterAll(async () => {
  await sc?.stop();
});

describe('forced relay', () => {
  it('delivers stamped frames through the server and reports the relay path', async () => {
    const viewer = await sc.join();
    const frames = await collectFrames(viewer, 24);
    expect(frames.every((f) => f.path === 'relay')).toBe(true);
    expect(frames[0]!.keyframe).toBe(true);
    expectStampedFrames(frames, sc.startedAt);
    expect(viewer.stats.peerConnections).toBe(0);
    expect(viewer.stats.codecErrors + viewer.stats.decodeErrors + viewer.stats.deltasWithoutBase).toBe(0);
    await sc.waitForPath('relay');
    await sc.agent.waitForLog((l) => l.msg === 'using the relay' && l.viewerId === viewer.viewerId && l.reason === 'forced');
    console.info(`[relay] first frame ${viewer.stats.firstFrameMs} ms after join`);
  });

  it('moves the viewer onto the media plane (the relay process) and keeps the picture intact', async () => {
    const viewer = sc.viewers[0]!;
    // The agent opened its media socket and switched this viewer at a keyframe.
    await sc.agent.waitForLog((l) => l.msg === 'media plane open');
    const before = viewer.stats.mediaMessages;
    const frames = await collectFrames(viewer, 20);
    expect(viewer.stats.mediaMessages).toBeGreaterThan(before);
    expectStampedFrames(frames, sc.startedAt);
    expect(viewer.stats.codecErrors + viewer.stats.decodeErrors + viewer.stats.deltasWithoutBase).toBe(0);
  });

  it('answers a keyframe request over the relay with a keyframe', async () => {
    const viewer = sc.viewers[0]!;
    const next = viewer.nextFrame((f) => f.keyframe);
    viewer.requestKeyframe();
    const key = await next;
    expect(key.path).toBe('relay');
  });

  it('takes input over the relay from a viewer with control', async () => {
    const viewer = sc.viewers[0]!;
    const sent = await viewer.sendInput({ type: 'pointer:button', button: 'left', down: true, x: 5, y: 6, t: Date.now() });
    expect(sent.path).toBe('relay');
    expect(sent.ack?.ok).toBe(true);
    await sc.agent.waitForLog((l) => l.msg === 'input applied' && l.type === 'pointer:button' && l.path === 'relay');
  });
});
