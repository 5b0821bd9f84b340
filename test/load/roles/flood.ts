// Load role: a flood of unauthenticated handshakes — WebSocket upgrades and engine.io polling
// opens on every plane with no, malformed or forged credentials — from a few loopback source
// addresses, many in flight at once. Bounded in count and time; stops on `stop`. Counts every
// answer: an upgrade (101) or a 2xx would be a client the server let in.
import { request, type IncomingMessage } from 'node:http';
import { randomBytes } from 'node:crypto';
import { report, roleArgs } from '../../bench/lib/roles.ts';

interface Args {
  port: number;
  /** Source addresses (127.0.0.0/8), used in turn. */
  from: string[];
  concurrency: number;
  maxRequests: number;
  maxMs: number;
  /** Report `reached` once this many attempts were made. */
  reportAt: number;
}

const a = roleArgs<Args>();
process.on('disconnect', () => process.exit(0)); // never outlive the test

const fakeJwt = () => `${Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url')}.${randomBytes(48).toString('base64url')}.${randomBytes(32).toString('base64url')}`;
const ATTEMPTS: Array<() => string> = [
  () => '/ws/agent/?EIO=4&transport=websocket&protocol=1&agent_id=x&name=Flood',
  () => `/ws/agent/?EIO=4&transport=websocket&protocol=1&agent_id=flood&name=Flood&api_key=cak_${randomBytes(24).toString('base64url')}`,
  () => `/ws/agent/?EIO=4&transport=websocket&protocol=1&agent_id=flood&name=Flood&support_code=${String(randomBytes(4).readUInt32BE() % 1_000_000).padStart(6, '0')}`,
  () => `/ws/agent/?EIO=4&transport=websocket&protocol=1&agent_id=flood&name=Flood&api_key=${fakeJwt()}`,
  () => `/ws/viewer/?EIO=4&transport=websocket&protocol=1&session_id=00000000-0000-4000-8000-000000000000&token=${fakeJwt()}`,
  () => '/ws/viewer/?EIO=4&transport=websocket&protocol=1',
  () => `/ws/console/?EIO=4&transport=websocket&protocol=1&ticket=${randomBytes(16).toString('hex')}`,
  () => `/ws/agent/?EIO=4&transport=polling&protocol=1&agent_id=flood&name=Flood&api_key=cak_${randomBytes(24).toString('base64url')}`,
];

const stats = { sent: 0, answered: 0, upgraded: 0, accepted2xx: 0, networkErrors: 0, statuses: {} as Record<string, number> };
let stop = false;
const started = Date.now();

function once(n: number): Promise<void> {
  const path = ATTEMPTS[n % ATTEMPTS.length]!();
  const websocket = path.includes('transport=websocket');
  return new Promise((resolve) => {
    if (++stats.sent === 200) report({ type: 'flooding' });
    if (stats.sent === a.reportAt) report({ type: 'reached' });
    const req = request({
      host: '127.0.0.1',
      port: a.port,
      path,
      localAddress: a.from[n % a.from.length],
      agent: false,
      headers: websocket ? { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': randomBytes(16).toString('base64'), 'sec-websocket-version': '13' } : {},
      timeout: 30_000,
    });
    req.on('upgrade', (_res, socket) => {
      stats.upgraded++;
      socket.destroy();
      resolve();
    });
    req.on('response', (res: IncomingMessage) => {
      stats.answered++;
      const code = res.statusCode ?? 0;
      stats.statuses[code] = (stats.statuses[code] ?? 0) + 1;
      if (code >= 200 && code < 300) stats.accepted2xx++;
      res.resume();
      res.on('end', () => resolve());
      res.on('error', () => resolve());
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => {
      stats.networkErrors++;
      resolve();
    });
    req.end();
  });
}

process.on('message', (m: { type: string }) => {
  if (m.type === 'stop') stop = true;
});

let next = 0;
const worker = async () => {
  while (!stop && next < a.maxRequests && Date.now() - started < a.maxMs) {
    await once(next++);
  }
};
void Promise.all(Array.from({ length: a.concurrency }, worker)).then(() => report({ type: 'done', ...stats, ms: Date.now() - started }));
