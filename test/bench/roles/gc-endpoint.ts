// GuruConnect relay endpoints: an agent streaming valid codec chunks as relay:frame (ack window
// for backpressure), and a viewer counting relayed bytes; also relay input latency probes.
import { io } from 'socket.io-client';
import { chunkFrame, encodeFrame } from '@guruconnect/shared/codec';
import { goodputCounter } from '../lib/goodput.ts';
import { report, roleArgs } from '../lib/roles.ts';

interface Args {
  url: string;
  mode: 'agent' | 'viewer';
  key?: string;
  token?: string;
  sessionId?: string;
  durationMs: number;
  /** agent: stream frames; viewer: count them. 'input': viewer sends input at `rate`, agent reports latencies. */
  workload: 'frames' | 'input';
  rate?: number;
}
const a = roleArgs<Args>();
const query = a.mode === 'agent' ? { agent_id: 'bench-agent', name: 'Bench', api_key: a.key!, protocol: '1' } : { token: a.token!, session_id: a.sessionId!, protocol: '1' };
const socket = io(a.url, { path: `/ws/${a.mode}`, query, transports: ['websocket'], reconnection: false });
socket.on('connect_error', (e) => {
  report({ type: 'error', message: e.message });
  process.exit(1);
});

if (a.mode === 'agent') {
  socket.on('session:welcome', (w: { sessionId: string }) => report({ type: 'ready', sessionId: w.sessionId }));
  const lat: number[] = [];
  socket.on('relay:input', (m: { input: { t: number } }) => lat.push(performance.timeOrigin + performance.now() - m.input.t));
  socket.on('viewer:joined', (v: { viewerId: string }) => {
    if (a.workload === 'input') {
      setTimeout(() => {
        report({ type: 'result', latencies: lat });
        process.exit(0);
      }, a.durationMs + 500);
      return;
    }
    // ~3.9 MiB frames chunked into 64 KiB messages, streamed with at most 32 unacked messages.
    const rects = Array.from({ length: 62 }, (_, i) => ({ x: 0, y: 0, width: 16, height: 16, codec: 'jpeg' as const, data: new Uint8Array(63_000).fill(i) }));
    const frame = encodeFrame({ seq: 1, captureTsMs: Date.now(), keyframe: true, screenWidth: 16, screenHeight: 16, rects });
    let frameId = 0;
    let queue: Uint8Array[] = [];
    let inFlight = 0;
    const end = Date.now() + a.durationMs + 2000;
    const pump = () => {
      while (inFlight < 32 && Date.now() < end) {
        if (queue.length === 0) queue = chunkFrame(frame, ++frameId);
        inFlight++;
        socket.emit('relay:frame', { to: v.viewerId, data: queue.shift()! }, () => {
          inFlight--;
          pump();
        });
      }
    };
    pump();
  });
} else {
  socket.on('session:welcome', () => {
    report({ type: 'ready' });
    if (a.workload === 'input') {
      const every = 1000 / (a.rate ?? 500);
      let sent = 0;
      const start = performance.now();
      const tick = () => {
        const due = Math.floor((performance.now() - start) / every);
        while (sent < due) {
          sent++;
          // ~32-byte event.
          socket.emit('relay:input', { type: 'pointer:move', x: sent % 1000, y: 5, t: performance.timeOrigin + performance.now() });
        }
        if (performance.now() - start < a.durationMs) setTimeout(tick, 1);
      };
      tick();
      return;
    }
    const count = goodputCounter(a.durationMs);
    socket.on('relay:frame', (d: Buffer) => count(d.length));
  });
}
