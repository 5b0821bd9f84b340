// Baseline: a plain `ws` 2-hop relay — no auth, no checks, no queue. With `ballastMiB`, the same
// relay in a process whose heap is as big as the signaling server's (a reference point).
import { WebSocketServer, type WebSocket } from 'ws';
import { holdHeap } from '../lib/heap-ballast.ts';
import { report, roleArgs } from '../lib/roles.ts';

const a = roleArgs<{ ballastMiB?: number }>();
const heapBytes = a.ballastMiB ? holdHeap(a.ballastMiB) : process.memoryUsage().heapUsed;
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 4 * 1024 * 1024 });
let receiver: WebSocket | null = null;
wss.on('connection', (ws, req) => {
  if (req.url?.includes('recv')) receiver = ws;
  else ws.on('message', (data, isBinary) => receiver?.send(data, { binary: isBinary }));
});
wss.on('listening', () => report({ type: 'ready', port: (wss.address() as { port: number }).port, heapBytes }));
