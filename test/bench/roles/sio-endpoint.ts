// Endpoints of the bare socket.io relay (sio-relay.ts): a sender streaming 64 KiB `relay:frame`
// messages with at most 32 unacknowledged (as the product's bench agent), and a counting receiver.
import { io } from 'socket.io-client';
import { goodputCounter } from '../lib/goodput.ts';
import { report, roleArgs } from '../lib/roles.ts';

const a = roleArgs<{ port: number; mode: 'send' | 'recv'; durationMs: number; messageBytes: number }>();
const socket = io(`http://127.0.0.1:${a.port}`, { path: '/sio', transports: ['websocket'], query: { role: a.mode }, reconnection: false });
socket.on('connect_error', (e) => {
  report({ type: 'error', message: e.message });
  process.exit(1);
});
socket.on('connect', () => {
  if (a.mode === 'recv') {
    const count = goodputCounter(a.durationMs);
    socket.on('relay:frame', (d: Buffer) => count(d.length));
    report({ type: 'ready' });
    return;
  }
  const data = Buffer.alloc(a.messageBytes, 7);
  const end = Date.now() + a.durationMs + 2000;
  let inFlight = 0;
  const pump = () => {
    while (inFlight < 32 && Date.now() < end) {
      inFlight++;
      socket.emit('relay:frame', { to: 'receiver', data }, () => {
        inFlight--;
        pump();
      });
    }
  };
  pump();
});
