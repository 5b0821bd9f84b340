// A technician's viewer (test/support/viewer-client.ts: the web app's join, P2P answer and relay
// fallback) in its own process. Waits for its media path, then sends `pointer:move` input at
// `rate` per second for `durationMs` on each `go`, each stamped with the send time `t` (epoch ms).
import type { MediaPath } from '@guruconnect/shared/protocol';
import { ViewerClient } from '../../support/viewer-client.ts';
import { ADMIN_PASSWORD } from '../../support/server-process.ts';
import { report, roleArgs } from '../lib/roles.ts';

const a = roleArgs<{ url: string; sessionId: string; path: MediaPath; rate: number }>();
const viewer = await ViewerClient.join({ baseUrl: a.url, sessionId: a.sessionId, username: 'admin', password: ADMIN_PASSWORD, forceRelay: a.path === 'relay', decode: false });
// The path is up once a frame has come over it (and, for P2P, the input channel is open).
const deadline = Date.now() + 30_000;
await viewer.nextFrame((f) => f.path === a.path, 30_000);
while (a.path === 'p2p' && !viewer.p2pInputOpen && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
if (a.path === 'p2p' && !viewer.p2pInputOpen) throw new Error('P2P input channel did not open');
report({ type: 'ready' });

/** One burst of input at `rate` for `durationMs`. */
async function burst(durationMs: number): Promise<{ sent: number; p2p: number; relay: number }> {
  const every = 1000 / a.rate;
  const paths: Record<MediaPath, number> = { p2p: 0, relay: 0 };
  let sent = 0;
  const start = performance.now();
  await new Promise<void>((done) => {
    const tick = () => {
      const due = Math.floor((performance.now() - start) / every);
      while (sent < due) {
        sent++;
        // ~50 bytes of JSON; not awaited, like the web app (the relay's ack arrives later).
        const path = viewer.p2pInputOpen ? 'p2p' : 'relay';
        paths[path]++;
        void viewer.sendInput({ type: 'pointer:move', x: sent % 1000, y: 5, t: performance.timeOrigin + performance.now() }).catch(() => {});
      }
      if (performance.now() - start < durationMs) setTimeout(tick, 1);
      else done();
    };
    tick();
  });
  await new Promise((r) => setTimeout(r, 300));
  return { sent, ...paths };
}

process.on('message', (m: { type: string; durationMs?: number }) => {
  if (m.type === 'go') void burst(m.durationMs ?? 1000).then((r) => report({ type: 'sent', ...r }));
  if (m.type === 'stop') void viewer.close().then(() => process.exit(0));
});
