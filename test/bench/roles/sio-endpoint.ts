// Endpoints of the bare socket.io relay (sio-relay.ts): a sender streaming `relay:frame` messages
// paced by its socket's unsent bytes (as the product's bench agent), and a counting receiver.
import { io } from 'socket.io-client';
import { socketBufferedBytes } from '../../../agent/src/connection/agent-connection.ts';
import { goodputCounter, SENDER_BUFFER_BYTES, senderEnd } from '../lib/goodput.ts';
import { report, roleArgs } from '../lib/roles.ts';

const a = roleArgs<{ port: number; mode: 'send' | 'recv'; durationMs: number; messageBytes: number; warmupMs?: number }>();
const socket = io(`http://127.0.0.1:${a.port}`, { path: '/sio', transports: ['websocket'], query: { role: a.mode }, reconnection: false });
socket.on('connect_error', (e) => {
  report({ type: 'error', message: e.message });
  process.exit(1);
});
socket.on('connect', () => {
  if (a.mode === 'recv') {
    const count = goodputCounter(a.durationMs, a.warmupMs);
    socket.on('relay:frame', (d: Buffer) => count(d.length));
    report({ type: 'ready' });
    return;
  }
  const data = Buffer.alloc(a.messageBytes, 7);
  const end = senderEnd(a.durationMs, a.warmupMs);
  const pump = () => {
    while (socketBufferedBytes(socket) < SENDER_BUFFER_BYTES && Date.now() < end) socket.emit('relay:frame', { to: 'receiver', data });
    if (Date.now() < end) setTimeout(pump, 1);
  };
  pump();
});
