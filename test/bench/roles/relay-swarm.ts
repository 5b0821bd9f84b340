// Many relayed sessions from one process: per session an agent socket streaming `relay:frame`
// chunks (`frameBytes` frames at `fps`, stamped with their send time) to a viewer socket that
// times their arrival. Plain socket.io clients speaking the product protocol, so one process can
// hold dozens of sessions; the server under test does the real checks, queueing and forwarding.
import { io, type Socket } from 'socket.io-client';
import { chunkFrame, decodeFrame, encodeFrame, FrameReassembler } from '@guruconnect/shared/codec';
import { PROTOCOL_VERSION } from '@guruconnect/shared/limits';
import { report, roleArgs } from '../lib/roles.ts';

const a = roleArgs<{ url: string; key: string; admin: string; offset: number; fps: number; frameBytes: number }>();
const CONNECT_TIMEOUT_MS = 20_000;

interface Session {
  agent: Socket;
  viewer: Socket;
  timer: NodeJS.Timeout | null;
}
const sessions: Session[] = [];
let sent = 0;
let received = 0;
let latencies: number[] = [];
let windowStart = 0;
const rect = { x: 0, y: 0, width: 16, height: 16, codec: 'jpeg' as const, data: new Uint8Array(a.frameBytes).fill(7) };

function connect(path: string, query: Record<string, string>, welcome = 'session:welcome'): Promise<{ socket: Socket; welcome: Record<string, unknown> }> {
  const socket = io(a.url, { path, query: { ...query, protocol: String(PROTOCOL_VERSION) }, transports: ['websocket'], reconnection: false, forceNew: true, timeout: CONNECT_TIMEOUT_MS });
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${path}: no welcome`)), CONNECT_TIMEOUT_MS);
    socket.once('connect_error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    socket.once(welcome, (w: Record<string, unknown>) => {
      clearTimeout(t);
      resolve({ socket, welcome: w });
    });
  });
}

async function openSession(i: number): Promise<void> {
  const n = a.offset + i;
  const agent = await connect('/ws/agent', { agent_id: `relay-${n}`, name: `Relay ${n}`, machine_uid: `relay-uid-${String(n).padStart(6, '0')}`, api_key: a.key });
  const joined = new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no viewer:joined')), CONNECT_TIMEOUT_MS);
    agent.socket.once('viewer:joined', (v: { viewerId: string }) => {
      clearTimeout(t);
      resolve(v.viewerId);
    });
  });
  joined.catch(() => {}); // awaited below; a failure before that must not crash the process
  const r = await fetch(`${a.url}/api/sessions/${String(agent.welcome.sessionId)}/viewer-token`, { method: 'POST', headers: { authorization: `Bearer ${a.admin}` } });
  if (!r.ok) throw new Error(`viewer token: ${r.status}`);
  const { token } = (await r.json()) as { token: string };
  const viewer = await connect('/ws/viewer', { token, session_id: String(agent.welcome.sessionId) });
  const reassembler = new FrameReassembler();
  viewer.socket.on('relay:frame', (d: Uint8Array) => {
    const whole = reassembler.push(d);
    if (!whole) return;
    const sentAt = decodeFrame(whole).captureTsMs;
    // Only frames sent inside the window count, so `received / sent` is a delivery ratio.
    if (sentAt < windowStart) return;
    received++;
    latencies.push(Date.now() - sentAt);
  });
  const to = await joined;
  const s: Session = { agent: agent.socket, viewer: viewer.socket, timer: null };
  sessions.push(s);
  let frameId = 0;
  // Independent agents: each starts at a random phase of the frame interval.
  setTimeout(() => {
    s.timer = setInterval(() => {
      frameId++;
      const frame = encodeFrame({ seq: frameId, captureTsMs: Date.now(), keyframe: false, screenWidth: 16, screenHeight: 16, rects: [rect] });
      for (const data of chunkFrame(frame, frameId)) agent.socket.emit('relay:frame', { to, data });
      sent++;
    }, 1000 / a.fps);
  }, Math.random() * (1000 / a.fps));
}

async function grow(count: number): Promise<number> {
  let failed = 0;
  const start = sessions.length;
  const queue = Array.from({ length: count }, (_, i) => start + i);
  // A few handshakes at a time, as agents and technicians arrive.
  await Promise.all(
    Array.from({ length: Math.min(8, count) }, async () => {
      for (let i = queue.shift(); i !== undefined; i = queue.shift()) await openSession(i).catch(() => failed++);
    }),
  );
  return failed;
}

process.on('message', (m: { type: string; count?: number }) => {
  if (m.type === 'grow') void grow(m.count ?? 0).then((failed) => report({ type: 'grown', sessions: sessions.length, failed }));
  if (m.type === 'reset') {
    windowStart = Date.now();
    sent = 0;
    received = 0;
    latencies = [];
  }
  if (m.type === 'collect') report({ type: 'result', sent, received, latencies });
});
report({ type: 'ready' });
