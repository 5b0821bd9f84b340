// Load: a flood of unauthenticated handshakes (no, malformed or forged credentials, on every plane,
// as WebSocket upgrades and as polling opens) from several loopback addresses, many in parallel,
// with the server's default blocking limits. Every attempt is refused before any upgrade (never
// a 101, never a 2xx), the flooding addresses end up blocked, the server's RSS stays flat, and
// legitimate agents connecting from another address during the flood all get in.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRole, type Role } from '../bench/lib/roles.ts';
import { api, createAgentKey, login } from '../support/api.ts';
import { fullRun } from '../support/figures.ts';
import { mergeFigures } from '../support/merge-figures.ts';
import { startServerProcess, type ServerProcess } from '../support/server-process.ts';
import { sleep } from '../support/wait.ts';
import { allAuditEvents, createPgDatabase, type TestPgDatabase } from '../faults/support.ts';

const FULL = fullRun();
// Safety bounds: the flood runs until the legitimate agents are in, then it is stopped.
const MAX_REQUESTS = FULL ? 200_000 : 30_000;
const MIN_REQUESTS = FULL ? 50_000 : 2000;
const CONCURRENCY = FULL ? 200 : 50;
const LEGIT_AGENTS = FULL ? 100 : 20;
const FROM = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];

let db: TestPgDatabase;
let server: ServerProcess;
const roles: Role[] = [];

beforeAll(async () => {
  db = await createPgDatabase();
  server = await startServerProcess({ env: { DATABASE_URL: db.url, LOG_LEVEL: 'info' } });
}, 120_000);
afterAll(async () => {
  await Promise.allSettled(roles.map((r) => r.stop()));
  await server?.stop();
  await db?.drop();
}, 120_000);

describe('handshake flood of unauthenticated clients', () => {
  it('refuses every one before the upgrade, keeps RSS flat and lets legitimate agents in', async () => {
    const admin = await login(server.url);
    const keys = await Promise.all(Array.from({ length: LEGIT_AGENTS }, (_, i) => createAgentKey(server.url, admin, `legit-${i}`)));
    const rssKiB: number[] = [server.rssKiB()];

    const flood = startRole(new URL('./roles/flood.ts', import.meta.url), { port: server.port, from: FROM, concurrency: CONCURRENCY, maxRequests: MAX_REQUESTS, maxMs: FULL ? 300_000 : 60_000, reportAt: MIN_REQUESTS });
    roles.push(flood);
    const done = flood.next<{ sent: number; answered: number; upgraded: number; accepted2xx: number; networkErrors: number; statuses: Record<string, number>; ms: number }>('done', FULL ? 400_000 : 120_000);
    await flood.next('flooding', 60_000);

    // Legitimate agents (from 127.0.0.1) connect while the flood runs.
    const legit = startRole(new URL('./roles/agents.ts', import.meta.url), {
      url: server.url,
      keys: keys.map((k) => k.key),
      offset: 0,
      concurrency: 5,
      churnEvery: 0,
      churnPeriodMs: 1000,
      frameEveryMs: 1000,
      chatEveryMs: 5000,
    });
    roles.push(legit);
    const legitReady = legit.next<{ welcomes: number; connectErrors: number; sessions: Array<{ sessionId: string | null }> }>('ready', 120_000);
    const reached = flood.next('reached', FULL ? 400_000 : 120_000);
    let floodDoneAt = Infinity;
    let legitAt = Infinity;
    let reachedAt = Infinity;
    void done.then(() => (floodDoneAt = Date.now()), () => undefined);
    void legitReady.then(() => (legitAt = Date.now()), () => undefined);
    void reached.then(() => (reachedAt = Date.now()), () => undefined);
    // Sample until the legitimate agents are in and the flood made its minimum count (or ended).
    for (let i = 0; i < 1000 && !(legitAt < Infinity && (reachedAt < Infinity || floodDoneAt < Infinity)); i++) {
      rssKiB.push(server.rssKiB());
      await sleep(500);
    }
    const agents = await legitReady;
    await reached;
    // The legitimate agents were all in while the flood still ran.
    const overlapped = legitAt < floodDoneAt;
    flood.send({ type: 'stop' });
    const result = await done;
    rssKiB.push(server.rssKiB());
    legit.send({ type: 'stop' });
    const legitStopped = await legit.next<{ unexpectedDisconnects: number; connected: number }>('stopped', 30_000);

    const blocked = await api(server.url, 'GET', '/api/blocked-ips', { token: admin });
    const floodMinutes = Math.ceil(result.ms / 60_000) + 1;
    const blockedAudits = await allAuditEvents(server.url, admin, { type: 'connection_rejected_blocked_ip' });
    const blockedIps = (blocked.body.blocked as Array<{ ip: string }>).map((b) => b.ip).sort();
    await mergeFigures('load', 'flood', {
      requests: result.sent,
      answered: result.answered,
      upgraded: result.upgraded,
      accepted2xx: result.accepted2xx,
      networkErrors: result.networkErrors,
      statuses: result.statuses,
      floodMs: result.ms,
      legitimateAgents: LEGIT_AGENTS,
      legitimateAgentsIn: agents.welcomes,
      legitimateDuringFlood: overlapped,
      blockedAddresses: blockedIps,
      blockedRefusalsAudited: blockedAudits.length,
      rssKiB,
    });

    expect(result.upgraded).toBe(0);
    expect(result.accepted2xx).toBe(0);
    expect(result.answered).toBe(result.sent);
    expect(Object.keys(result.statuses).every((s) => Number(s) >= 400 && Number(s) < 500)).toBe(true);
    expect(result.sent).toBeGreaterThan(400);
    // Every flooding address crossed the failure threshold and is blocked; 127.0.0.1 is not.
    expect(blockedIps).toEqual(FROM);
    // Refusals of a blocked address are audited about once a minute per address, not once each
    // (one audit row per refused request let a flood fill the table and starve the pool).
    expect(blockedAudits.length).toBeGreaterThanOrEqual(FROM.length);
    expect(blockedAudits.length).toBeLessThanOrEqual(FROM.length * floodMinutes);
    expect(blockedAudits.every((e) => typeof e.details.unauditedSinceLast === 'number')).toBe(true);

    expect(overlapped).toBe(true);
    expect(agents.connectErrors).toBe(0);
    expect(agents.welcomes).toBe(LEGIT_AGENTS);
    expect(new Set(agents.sessions.map((s) => s.sessionId)).size).toBe(LEGIT_AGENTS);
    expect(legitStopped.unexpectedDisconnects).toBe(0);
    expect(legitStopped.connected).toBe(LEGIT_AGENTS);

    // Flat: no sample during or after the flood is far above the first one.
    expect(Math.max(...rssKiB)).toBeLessThanOrEqual(rssKiB[0]! * 1.5 + 64 * 1024);
    expect((await api(server.url, 'GET', '/healthz')).status).toBe(200);
  }, FULL ? 900_000 : 180_000);
});
