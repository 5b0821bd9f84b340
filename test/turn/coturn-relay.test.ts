import { spawn, type ChildProcess, execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import wrtc from '@roamhq/wrtc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FrameReassembler, chunkFrame, decodeFrame, encodeFrame } from '@guruconnect/shared/codec';
import { ADMIN_PASSWORD, loginAs, startTestServer, type TestServer } from '../../signaling/src/testing/test-server.ts';
import { call, connectKeyedAgent, connectViewer, createAgentKey, next } from '../../signaling/src/testing/clients.ts';

const hasCoturn = (() => {
  try {
    execFileSync('which', ['turnserver']);
    return true;
  } catch {
    return false;
  }
})();
const SECRET = 'turn-secret-for-tests-0123456789';

/** Debian's coturn on loopback with the TURN REST scheme (`use-auth-secret`). */
function startCoturn(port: number): ChildProcess {
  const dir = mkdtempSync(join(tmpdir(), 'gc-turn-'));
  return spawn('turnserver', [
    '-n', '--no-cli', '--no-tls', '--no-dtls', '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1', `--listening-port=${port}`,
    '--use-auth-secret', `--static-auth-secret=${SECRET}`, '--realm=guruconnect.test', '--allow-loopback-peers',
    `--min-port=${port + 10}`, `--max-port=${port + 200}`, `--log-file=${join(dir, 'turn.log')}`, '--simple-log', '--fingerprint',
  ], { stdio: 'ignore' });
}

describe.skipIf(!hasCoturn)('TURN through a real coturn', () => {
  let turn: ChildProcess;
  let s: TestServer;
  const port = 34000 + Math.floor(Math.random() * 2000);
  beforeAll(async () => {
    turn = startCoturn(port);
    await new Promise((r) => setTimeout(r, 500));
    s = await startTestServer({ env: { TURN_URLS: `turn:127.0.0.1:${port}?transport=udp`, TURN_SECRET: SECRET, TURN_TTL_S: '600' } });
  });
  afterAll(async () => {
    turn?.kill('SIGKILL');
    await s?.close();
  });

  it('hands out time-limited coturn credentials and streams frames agent → viewer over a relay-only pair', async () => {
    const admin = await loginAs(s.url, 'admin', ADMIN_PASSWORD);
    const agent = await connectKeyedAgent(s, (await createAgentKey(s, admin)).key);
    const viewer = await connectViewer(s, admin, agent.welcome.sessionId);
    const turnServer = agent.welcome.iceServers.find((x: { urls: string[] }) => String(x.urls).startsWith('turn:'));
    expect(turnServer.username).toMatch(/^\d+:agent:/);
    expect(Number(turnServer.username.split(':')[0])).toBeGreaterThan(Date.now() / 1000);

    // Both peers may only use relay candidates: the media must go through coturn.
    const a = new wrtc.RTCPeerConnection({ iceServers: agent.welcome.iceServers, iceTransportPolicy: 'relay' });
    const v = new wrtc.RTCPeerConnection({ iceServers: viewer.welcome.iceServers, iceTransportPolicy: 'relay' });
    // Signaling goes through GuruConnect's planes, as in production.
    a.onicecandidate = (e: { candidate: RTCIceCandidate | null }) => e.candidate && void call(agent.socket, 'signal:candidate', { to: viewer.welcome.viewerId, candidate: e.candidate.toJSON() });
    v.onicecandidate = (e: { candidate: RTCIceCandidate | null }) => e.candidate && void call(viewer.socket, 'signal:candidate', { candidate: e.candidate.toJSON() });
    agent.socket.on('signal:candidate', (m: { candidate: RTCIceCandidateInit }) => void a.addIceCandidate(m.candidate));
    viewer.socket.on('signal:candidate', (m: { candidate: RTCIceCandidateInit }) => void v.addIceCandidate(m.candidate));
    const channel = a.createDataChannel('frames');
    const got = new Promise<Uint8Array>((resolve) => {
      v.ondatachannel = (e: { channel: RTCDataChannel }) => {
        const r = new FrameReassembler();
        e.channel.binaryType = 'arraybuffer';
        e.channel.onmessage = (m: MessageEvent) => {
          const whole = r.push(new Uint8Array(m.data as ArrayBuffer));
          if (whole) resolve(whole);
        };
      };
    });
    await a.setLocalDescription(await a.createOffer());
    await call(agent.socket, 'signal:offer', { to: viewer.welcome.viewerId, description: a.localDescription!.toJSON() });
    const offer = await next(viewer.socket, 'signal:offer');
    await v.setRemoteDescription(offer.description);
    await v.setLocalDescription(await v.createAnswer());
    await call(viewer.socket, 'signal:answer', { description: v.localDescription!.toJSON() });
    await a.setRemoteDescription((await next(agent.socket, 'signal:answer')).description);

    await new Promise<void>((resolve) => (channel.readyState === 'open' ? resolve() : (channel.onopen = () => resolve())));
    const frame = encodeFrame({ seq: 42, captureTsMs: Date.now(), keyframe: true, screenWidth: 64, screenHeight: 64, rects: [{ x: 0, y: 0, width: 64, height: 64, codec: 'raw', data: new Uint8Array(64 * 64 * 4).fill(9) }] });
    for (const c of chunkFrame(frame, 1, 16 * 1024)) channel.send(c as Uint8Array<ArrayBuffer>);
    expect(decodeFrame(await got).seq).toBe(42);

    // The selected pair is relay on both ends.
    const stats = await a.getStats();
    const types = new Map<string, string>();
    let pairLocal: string | undefined;
    stats.forEach((r: { type: string; id: string; candidateType?: string; state?: string; nominated?: boolean; localCandidateId?: string }) => {
      if (r.type === 'local-candidate') types.set(r.id, r.candidateType ?? '');
      if (r.type === 'candidate-pair' && r.state === 'succeeded' && r.localCandidateId) pairLocal = r.localCandidateId;
    });
    expect(pairLocal && types.get(pairLocal)).toBe('relay');
    a.close();
    v.close();
    agent.socket.close();
    viewer.socket.close();
  }, 30_000);
});
