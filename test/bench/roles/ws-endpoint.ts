// Baseline endpoints for the ws relay: a sender with bufferedAmount backpressure, a counting receiver;
// with `rate`, a sender of ~32-byte stamped JSON events and a receiver of their one-way latencies.
import WebSocket from 'ws';
import { goodputCounter, SENDER_BUFFER_BYTES, senderEnd } from '../lib/goodput.ts';
import { report, roleArgs } from '../lib/roles.ts';

const a = roleArgs<{ url: string; mode: 'send' | 'recv'; durationMs: number; messageBytes: number; rate?: number; warmupMs?: number }>();
const ws = new WebSocket(a.url);
ws.binaryType = 'nodebuffer';
ws.on('open', () => {
  if (a.rate !== undefined) return void input(a.rate);
  if (a.mode === 'recv') {
    const count = goodputCounter(a.durationMs, a.warmupMs);
    ws.on('message', (d: Buffer) => count(d.length));
    report({ type: 'ready' });
    return;
  }
  const payload = Buffer.alloc(a.messageBytes, 7);
  const end = senderEnd(a.durationMs, a.warmupMs);
  const pump = () => {
    while (ws.bufferedAmount < SENDER_BUFFER_BYTES && Date.now() < end) ws.send(payload);
    if (Date.now() < end) setTimeout(pump, 1);
  };
  pump();
});

function input(rate: number): void {
  if (a.mode === 'recv') {
    const latencies: number[] = [];
    ws.on('message', (d: Buffer) => latencies.push(performance.timeOrigin + performance.now() - (JSON.parse(d.toString()) as { t: number }).t));
    process.on('message', () => report({ type: 'result', latencies }));
    report({ type: 'ready' });
    return;
  }
  const every = 1000 / rate;
  let sent = 0;
  const start = performance.now();
  const tick = () => {
    const due = Math.floor((performance.now() - start) / every);
    while (sent < due) ws.send(JSON.stringify({ type: 'pointer:move', x: ++sent % 1000, y: 5, t: performance.timeOrigin + performance.now() }));
    if (performance.now() - start < a.durationMs) setTimeout(tick, 1);
    else report({ type: 'sent', sent });
  };
  tick();
}
