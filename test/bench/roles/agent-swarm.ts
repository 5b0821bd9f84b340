// Many idle authenticated agents from one process (deprecated shared key + distinct machine uids).
import { io, type Socket } from 'socket.io-client';
import { report, roleArgs } from '../lib/roles.ts';

const a = roleArgs<{ url: string; key: string; count: number; concurrency: number; offset: number }>();
const sockets: Socket[] = [];
let welcomed = 0;
let failed = 0;
let next = 0;
const start = performance.now();

function openOne(): void {
  if (next >= a.count) return;
  const i = a.offset + next++;
  const s = io(a.url, {
    path: '/ws/agent',
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    query: { agent_id: `swarm-${i}`, name: `Swarm ${i}`, machine_uid: `swarm-uid-${String(i).padStart(8, '0')}`, api_key: a.key, protocol: '1' },
  });
  sockets.push(s);
  s.once('session:welcome', () => {
    welcomed++;
    done();
  });
  s.once('connect_error', () => {
    failed++;
    done();
  });
}

function done(): void {
  if (welcomed + failed === a.count) {
    report({ type: 'connected', welcomed, failed, ms: performance.now() - start });
    return;
  }
  openOne();
}

for (let i = 0; i < Math.min(a.concurrency, a.count); i++) openOne();
process.on('message', (m: { type: string }) => {
  if (m.type === 'count') report({ type: 'count', connected: sockets.filter((s) => s.connected).length });
});
