// Reference point for `relay_goodput`: a bare socket.io 2-hop relay — the same library, transport
// and message shape as the product's relay (`relay:frame {to, data}`), but no auth, no
// checks, no queue. The gap between it and plain `ws` is socket.io's framing, not our code.
import { createServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import { report } from '../lib/roles.ts';

const http = createServer();
const io = new Server(http, { path: '/sio', transports: ['websocket'], maxHttpBufferSize: 4 * 1024 * 1024, perMessageDeflate: false });
let receiver: Socket | null = null;
io.on('connection', (socket) => {
  if (socket.handshake.query.role === 'recv') receiver = socket;
  socket.on('relay:frame', (m: { to: string; data: Buffer }, ack?: (r: { ok: true }) => void) => {
    receiver?.emit('relay:frame', m.data);
    ack?.({ ok: true });
  });
});
http.listen(0, '127.0.0.1', () => report({ type: 'ready', port: (http.address() as { port: number }).port }));
