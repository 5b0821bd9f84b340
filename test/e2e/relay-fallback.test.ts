// Automatic fallback to the relay: (1) the agent's ICE configuration cannot produce a candidate
// pair (TURN-only policy with an unreachable TURN server), so P2P never connects and the agent
// switches at its ICE timeout; (2) P2P works, then dies mid-session (the viewer's peer connection
// is closed), and the agent moves that viewer to the relay while its socket stays connected.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { collectFrames, expectStampedFrames, startScenario, type Scenario } from '../support/scenario.ts';
import { sleep } from '../support/wait.ts';
import { startServerProcess, type ServerProcess } from '../support/server-process.ts';

const ICE_TIMEOUT_MS = 3000;
/** A TURN-only configuration that can never produce a candidate: port 9 (discard) speaks no TURN. */
const NO_P2P = ['--ice-servers', JSON.stringify([{ urls: 'turn:127.0.0.1:9?transport=udp', username: 'u', credential: 'c' }]), '--ice-transport-policy', 'relay'];

let server: ServerProcess;
let sc: Scenario | undefined;
beforeAll(async () => {
  server = await startServerProcess();
});
afterAll(async () => {
  await server?.stop();
});
afterEach(async () => {
  await sc?.stop();
  sc = undefined;
});

describe('relay fallback', () => {
  it('falls back to the relay when ICE cannot connect within the ICE timeout', async () => {
    sc = await startScenario({ reuseServer: server, agentArgs: [...NO_P2P, '--ice-timeout-ms', String(ICE_TIMEOUT_MS)] });
    const joinedAt = Date.now();
    const viewer = await sc.join();
    const frames = await collectFrames(viewer, 12, ICE_TIMEOUT_MS + 25_000);
    const firstRelayMs = frames[0]!.receivedAtMs - joinedAt;
    expect(frames.every((f) => f.path === 'relay')).toBe(true);
    expect(frames[0]!.keyframe).toBe(true);
    expectStampedFrames(frames, sc.startedAt);
    // The viewer did try P2P (it answered the offer); nothing arrived before the timeout.
    expect(viewer.stats.peerConnections).toBe(1);
    expect(firstRelayMs).toBeGreaterThanOrEqual(ICE_TIMEOUT_MS - 500);
    const fell = await sc.agent.waitForLog((l) => l.msg === 'fell back to the relay' && l.viewerId === viewer.viewerId);
    expect(fell.reason).toBe('ice_timeout');
    await sc.waitForPath('relay');
    console.info(`[fallback] first relay frame ${firstRelayMs} ms after join (ICE timeout ${ICE_TIMEOUT_MS} ms)`);
  });

  it('moves a viewer to the relay when its P2P link dies mid-session, without reconnecting its socket', async () => {
    sc = await startScenario({ reuseServer: server });
    const viewer = await sc.join();
    const socketId = viewer.socket.id;
    const p2p = await collectFrames(viewer, 8);
    expect(p2p.every((f) => f.path === 'p2p')).toBe(true);
    await sc.waitForPath('p2p');

    const brokenAt = Date.now();
    viewer.closePeer();
    const relayed = await collectFrames(viewer, 10, 30_000, (f) => f.path === 'relay');
    // A keyframe starts the new path; under load a delta already encoded for this viewer may go
    // out on the relay just before it, which is still right (the viewer keeps its framebuffer),
    // so the keyframe must come among the first frames and every frame must decode to its stamp.
    expect(relayed.slice(0, 3).some((f) => f.keyframe)).toBe(true);
    expect(viewer.stats.deltasWithoutBase).toBe(0);
    expectStampedFrames(relayed, sc.startedAt);
    // Seamless: the same socket, no new join, and the picture continued where it was.
    expect(viewer.socket.id).toBe(socketId);
    expect(viewer.socket.connected).toBe(true);
    expect(relayed[0]!.seq).toBeGreaterThan(p2p.at(-1)!.seq);
    await sc.waitForPath('relay');
    await sc.agent.waitForLog((l) => l.msg === 'fell back to the relay' && l.viewerId === viewer.viewerId);

    // Input follows the path too.
    const sent = await viewer.sendInput({ type: 'key', code: 'KeyQ', down: true, t: Date.now() });
    expect(sent.path).toBe('relay');
    await sc.agent.waitForLog((l) => l.msg === 'input applied' && l.type === 'key' && l.path === 'relay');
    console.info(`[fallback] mid-session switch: first relay frame ${relayed[0]!.receivedAtMs - brokenAt} ms after the P2P link died`);
  });

  it('with --relay never, fails clearly instead of falling back: an error in the log and no path', async () => {
    sc = await startScenario({ reuseServer: server, agentArgs: [...NO_P2P, '--ice-timeout-ms', String(ICE_TIMEOUT_MS), '--relay', 'never'] });
    const viewer = await sc.join();
    const failed = await sc.agent.waitForLog((l) => l.level === 'error' && l.msg.includes('relay is disabled') && l.viewerId === viewer.viewerId, ICE_TIMEOUT_MS + 20_000);
    expect(failed.reason).toBe('ice_timeout');
    await sleep(1500);
    expect(viewer.stats.frames).toBe(0);
    expect((await sc.session())?.path).toBeNull();
    expect(sc.agent.logs.some((l) => l.msg === 'fell back to the relay')).toBe(false);
  });
});
