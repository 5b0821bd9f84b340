// The small-heap relay process of `ws-relay-handoff.ts`: takes upgraded sockets over IPC, finishes
// the WebSocket handshake, relays like `ws-relay.ts`.
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

const wss = new WebSocketServer({ noServer: true, maxPayload: 4 * 1024 * 1024 });
let receiver: WebSocket | null = null;
process.on('message', (msg: { type: string; url: string; method: string; headers: Record<string, string>; head: string }, socket?: Socket) => {
  if (msg.type !== 'upgrade' || !socket) return;
  // ws reads only the method, url and headers of the request.
  const req = { method: msg.method, url: msg.url, headers: msg.headers, socket } as unknown as IncomingMessage;
  wss.handleUpgrade(req, socket, Buffer.from(msg.head, 'base64'), (ws) => {
    if (msg.url.includes('recv')) receiver = ws;
    else ws.on('message', (data, isBinary) => receiver?.send(data, { binary: isBinary }));
  });
});
process.on('disconnect', () => process.exit(0));
process.send?.({ type: 'child-ready' });
