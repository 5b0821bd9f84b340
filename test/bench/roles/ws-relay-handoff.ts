// Reference for relay_goodput: what an out-of-process media relay would move. This process has a
// heap as big as the signaling server's (`ballastMiB`) and accepts every WebSocket upgrade on its
// HTTP port, then hands the TCP socket to a child process with a small heap
// (`ws-relay-child.ts`), which completes the handshake and relays — the big heap never sees a
// relayed byte. Node passes the socket with `child.send(msg, socket)`; the parent's own reads are
// stopped first (`freezeForHandoff`, the product's media plane does the same), or bytes the client sends right after the handshake could be read and
// dropped by the parent before the child takes over.
import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { freezeForHandoff } from '../../../signaling/src/media/socket-handoff.ts';
import { holdHeap } from '../lib/heap-ballast.ts';
import { report, roleArgs } from '../lib/roles.ts';

const a = roleArgs<{ ballastMiB: number }>();
const heapBytes = holdHeap(a.ballastMiB);
const child = fork(fileURLToPath(new URL('./ws-relay-child.ts', import.meta.url)), [], { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });

const server = createServer((_req, res) => res.writeHead(404).end());
server.on('upgrade', (req, socket: Socket, head: Buffer) => {
  socket.on('error', () => socket.destroy());
  const extra = freezeForHandoff(socket);
  const whole = extra ? Buffer.concat([head, extra]) : head;
  child.send({ type: 'upgrade', url: req.url, method: req.method, headers: req.headers, head: whole.toString('base64') }, socket, (err) => {
    if (err) socket.destroy();
  });
});
child.once('message', () => {
  server.listen(0, '127.0.0.1', () => report({ type: 'ready', port: (server.address() as { port: number }).port, heapBytes }));
});
const bye = () => {
  child.kill();
  process.exit(0);
};
process.on('disconnect', bye);
process.on('SIGTERM', bye);
