// Baseline endpoints for the ws relay: a sender with bufferedAmount backpressure, a counting receiver.
import WebSocket from 'ws';
import { report, roleArgs } from '../lib/roles.ts';

const a = roleArgs<{ url: string; mode: 'send' | 'recv'; durationMs: number; messageBytes: number }>();
const ws = new WebSocket(a.url);
ws.binaryType = 'nodebuffer';
ws.on('open', () => {
  if (a.mode === 'recv') {
    let bytes = 0;
    let first = 0;
    ws.on('message', (d: Buffer) => {
      if (!first) {
        first = performance.now();
        setTimeout(() => {
          report({ type: 'result', bytes, ms: performance.now() - first });
          process.exit(0);
        }, a.durationMs);
      }
      bytes += d.length;
    });
    report({ type: 'ready' });
    return;
  }
  const payload = Buffer.alloc(a.messageBytes, 7);
  const end = Date.now() + a.durationMs + 2000;
  const pump = () => {
    while (ws.bufferedAmount < 4 * 1024 * 1024 && Date.now() < end) ws.send(payload);
    if (Date.now() < end) setTimeout(pump, 1);
  };
  pump();
});
