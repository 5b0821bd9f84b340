// Baseline: raw TCP loopback goodput with 64 KiB writes and write-buffer backpressure.
import { createServer, connect } from 'node:net';
import { goodputCounter } from '../lib/goodput.ts';
import { report, roleArgs } from '../lib/roles.ts';

const a = roleArgs<{ mode: 'recv' | 'send'; port?: number; durationMs: number }>();
if (a.mode === 'recv') {
  const srv = createServer((sock) => {
    const count = goodputCounter(a.durationMs);
    sock.on('data', (d) => count(d.length));
  }).listen(0, '127.0.0.1', () => report({ type: 'ready', port: (srv.address() as { port: number }).port }));
} else {
  const sock = connect(a.port!, '127.0.0.1', () => {
    const payload = Buffer.alloc(65536, 5);
    const end = Date.now() + a.durationMs + 2000;
    const pump = () => {
      while (Date.now() < end) if (!sock.write(payload)) return void sock.once('drain', pump);
    };
    pump();
  });
  sock.on('error', () => process.exit(0));
}
