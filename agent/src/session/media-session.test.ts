import { afterEach, describe, expect, it } from 'vitest';
import { INPUT_MAX_MESSAGE_BYTES, RELAY_CHUNK_MAX_BYTES } from '@guruconnect/shared/limits';
import { decodeFrame, FrameReassembler, readChunkHeader } from '@guruconnect/shared/codec';
import { createSyntheticInput, type SyntheticInput } from '../input/synthetic-input.ts';
import { silentLogger } from '../log/logger.ts';
import { fakePeerFactory, fakePipeline, fakeSource } from '../testing/fakes.ts';
import { MediaSession } from './media-session.ts';
import type { AgentWelcome } from '../connection/agent-connection.ts';
import type { RelayMode } from '../cli/args.ts';

const welcome: AgentWelcome = {
  sessionId: '00000000-0000-4000-8000-000000000001',
  machineId: '00000000-0000-4000-8000-000000000002',
  kind: 'unattended',
  iceServers: [],
  relayPolicy: 'auto',
  protocol: 1,
};
const USER = '00000000-0000-4000-8000-000000000003';
const move = { type: 'pointer:move', x: 10, y: 20, t: 1 } as const;

let sessions: MediaSession[] = [];
afterEach(() => {
  for (const s of sessions) s.close();
  sessions = [];
});

function harness(relayMode: RelayMode = 'auto', rectBytes?: number) {
  const sink: SyntheticInput = createSyntheticInput();
  const sent: Array<{ event: string; payload: unknown }> = [];
  const { factory, peers } = fakePeerFactory();
  let buffered = 0;
  const session = new MediaSession({
    source: fakeSource(),
    pipeline: fakePipeline(undefined, { rectBytes }),
    sink,
    fps: 10,
    relayMode,
    iceServersOverride: null,
    iceTransportPolicy: 'all',
    iceTimeoutMs: 60_000,
    createPeer: factory,
    log: silentLogger,
    signalling: {
      ready: true,
      send: (event, payload) => {
        sent.push({ event, payload });
        return true;
      },
      bufferedBytes: () => buffered,
    },
  });
  sessions.push(session);
  session.onWelcome(welcome, false);
  const join = (viewerId: string, control: boolean) => session.onViewerJoined({ viewerId, userId: USER, displayName: 'Tech', control });
  return { session, sink, sent, peers, join, setBuffered: (n: number) => (buffered = n) };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

describe('MediaSession: the input boundary', () => {
  type Row = [proves: string, control: boolean, send: (h: ReturnType<typeof harness>) => void, applied: number, refusedCode: string | null];
  const p2p = (data: unknown) => (h: ReturnType<typeof harness>) => {
    h.peers[0]!.open();
    h.peers[0]!.receive(data);
  };
  const relay = (input: unknown) => (h: ReturnType<typeof harness>) => h.session.onRelayInput('v1', input);
  const rows: Row[] = [
    ['P2P input from a viewer with control is applied', true, p2p(JSON.stringify(move)), 1, null],
    ['P2P input from a view-only viewer is refused', false, p2p(JSON.stringify(move)), 0, 'ERR_INPUT_NOT_ALLOWED'],
    ['a P2P message over 64 KiB is refused before parsing', true, p2p(JSON.stringify({ ...move, pad: 'x'.repeat(INPUT_MAX_MESSAGE_BYTES) })), 0, 'ERR_PROTOCOL_MESSAGE_TOO_LARGE'],
    ['a binary P2P message over 64 KiB is refused as too large', true, p2p(new ArrayBuffer(INPUT_MAX_MESSAGE_BYTES + 1)), 0, 'ERR_PROTOCOL_MESSAGE_TOO_LARGE'],
    ['a small binary P2P message is refused as invalid', true, p2p(new ArrayBuffer(8)), 0, 'ERR_PROTOCOL_INVALID_MESSAGE'],
    ['malformed JSON on P2P is refused', true, p2p('{"type":'), 0, 'ERR_PROTOCOL_INVALID_MESSAGE'],
    ['an unknown field on P2P is refused (strict schemas)', true, p2p(JSON.stringify({ ...move, extra: 1 })), 0, 'ERR_PROTOCOL_INVALID_MESSAGE'],
    ['a hello of another protocol version is refused with its own code', true, p2p(JSON.stringify({ type: 'control:hello', protocol: 99, role: 'viewer' })), 0, 'ERR_PROTOCOL_VERSION'],
    ['relay input from a viewer with control is applied', true, relay(move), 1, null],
    ['relay input from a view-only viewer is refused (the server checks too)', false, relay(move), 0, 'ERR_INPUT_NOT_ALLOWED'],
    ['invalid relay input is refused', true, relay({ type: 'pointer:move', x: -1, y: 0, t: 0 }), 0, 'ERR_PROTOCOL_INVALID_MESSAGE'],
  ];

  it.each(rows)('%s', async (_proves, control, send, applied, refusedCode) => {
    const h = harness();
    h.join('v1', control);
    send(h);
    await flush();
    expect(h.sink.applied).toHaveLength(applied);
    if (refusedCode) expect(h.session.input.refused.get(refusedCode as never)).toBe(1);
    else expect(h.session.input.refusedTotal).toBe(0);
  });

  it('ignores relay input from a socket that is not a viewer of this session', async () => {
    const h = harness();
    h.session.onRelayInput('stranger', move);
    await flush();
    expect(h.sink.applied).toHaveLength(0);
  });

  it('answers control messages from any viewer, control or not', () => {
    const h = harness();
    h.join('v1', false);
    h.peers[0]!.open();
    const link = h.session.viewers.get('v1')!;
    link.needsKeyframe = false;
    h.peers[0]!.receive(JSON.stringify({ type: 'control:keyframe-request' }));
    h.peers[0]!.receive(JSON.stringify({ type: 'control:ping', t: 42 }));
    expect(link.needsKeyframe).toBe(true);
    expect(h.peers[0]!.jsonOut.at(-1)).toEqual({ type: 'control:pong', t: 42 });
    expect(h.session.input.refusedTotal).toBe(0);
  });

  it('a server keyframe request (relay drop) resyncs that viewer', () => {
    const h = harness('force');
    h.join('v1', true);
    const link = h.session.viewers.get('v1')!;
    link.needsKeyframe = false;
    h.session.onKeyframeRequest('v1', 'relay_drop');
    expect(link.needsKeyframe).toBe(true);
  });
});

describe('MediaSession: paths', () => {
  it('reports the relay when forced and answers with one relay:frame per chunk for all relay viewers', async () => {
    const h = harness('force');
    h.join('v1', true);
    h.join('v2', false);
    expect(h.sent.filter((s) => s.event === 'path:report').map((s) => s.payload)).toEqual([
      { viewerId: 'v1', path: 'relay', reason: 'forced' },
      { viewerId: 'v2', path: 'relay', reason: 'forced' },
    ]);
    h.session.start();
    await new Promise((r) => setTimeout(r, 50));
    const frames = h.sent.filter((s) => s.event === 'relay:frame').map((s) => s.payload as { to: unknown; data: Uint8Array });
    expect(frames.length).toBeGreaterThan(0);
    expect(frames[0]!.to).toEqual(['v1', 'v2']);
    expect(frames[0]!.data).toBeInstanceOf(Uint8Array);
  });

  it('sends a frame over the relay in chunks of up to RELAY_CHUNK_MAX_BYTES, not data-channel chunks', async () => {
    const rectBytes = RELAY_CHUNK_MAX_BYTES + 1000; // 2 relay chunks, 5 data-channel chunks
    const h = harness('force', rectBytes);
    h.join('v1', true);
    h.session.start();
    await new Promise((r) => setTimeout(r, 50));
    const chunks = h.sent.filter((s) => s.event === 'relay:frame').map((s) => (s.payload as { data: Uint8Array }).data);
    const first = readChunkHeader(chunks[0]!);
    expect(first).toMatchObject({ index: 0, count: 2, keyframe: true });
    expect(chunks[0]!.length).toBe(RELAY_CHUNK_MAX_BYTES);
    const r = new FrameReassembler({ maxChunkBytes: RELAY_CHUNK_MAX_BYTES });
    r.push(chunks[0]!);
    const frame = decodeFrame(r.push(chunks[1]!)!);
    expect(frame.rects[0]!.data.length).toBe(rectBytes);
    expect(frame.keyframe).toBe(true);
  });

  it('forwards signals to the right viewer and drops those from strangers', () => {
    const h = harness();
    h.join('v1', true);
    h.session.onSignal('answer', { from: 'v1', description: { type: 'answer', sdp: 'v=0' } });
    h.session.onSignal('answer', { from: 'nobody', description: { type: 'answer', sdp: 'v=0' } });
    expect(h.peers).toHaveLength(1);
    expect(h.peers[0]!.signalsIn).toEqual([{ kind: 'answer', payload: { description: { type: 'answer', sdp: 'v=0' }, candidate: undefined } }]);
  });

  it('the server policy relayPolicy=force forces the relay even with --relay auto', () => {
    const h = harness('auto');
    h.session.onWelcome({ ...welcome, relayPolicy: 'force' }, false);
    h.join('v1', true);
    expect(h.peers).toHaveLength(0);
    expect(h.session.viewers.get('v1')!.state).toBe('relay');
  });

  it('with --relay never, a server that requires the relay gets no media path at all (no P2P behind its back)', () => {
    const h = harness('never');
    h.session.onWelcome({ ...welcome, relayPolicy: 'force' }, false);
    h.join('v1', true);
    expect(h.peers).toHaveLength(0);
    expect(h.session.viewers.size).toBe(0);
  });

  it('after a reconnect keeps re-announced viewers (re-reporting their path) and drops the others', async () => {
    const h = harness('force');
    h.join('v1', true);
    h.join('v2', true);
    h.sent.length = 0;
    h.session.onWelcome(welcome, true);
    h.join('v1', false);
    expect(h.session.viewers.get('v1')!.control).toBe(false);
    expect(h.sent).toEqual([{ event: 'path:report', payload: { viewerId: 'v1', path: 'relay', reason: 'agent_reconnected' } }]);
    await new Promise((r) => setTimeout(r, 3100));
    expect([...h.session.viewers.keys()]).toEqual(['v1']);
  });
});
