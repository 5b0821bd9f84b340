// Baseline: raw TCP loopback goodput with 64 KiB writes and write-buffer backpressure.
import { createServer, connect } from 'node:net';
import { report, roleArgs } from '../lib/roles.ts';

const a = roleArgs<{ mode: 'recv' | 'send'; port?: number; durationMs: number }>();
if (a.mode === 'recv') {
  const srv = createServer((sock) => {
    let bytes = 0;
    let first = 0;
    sock.on('data', (d) => {
      if (!first) {
        first = performance.now();
        setTimeout(() => {
          report({ type: 'result', bytes, ms: performance.now() - first });
          process.exit(0);
        }, a.durationMs);
      }
      bytes += d.length;
    });
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
