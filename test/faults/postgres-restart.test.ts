// Fault: PostgreSQL crashes and comes back while the server has traffic. The database is a private
// PostgreSQL instance of this test (initdb in a temp dir, its own port), so crashing it touches no
// other test. While it is down `/readyz` answers 503 ERR_NOT_READY and the process stays up
// (`/healthz` 200); once it is back the same server process recovers by itself: `/readyz` 200,
// logins and agent handshakes work again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createAgentKey, login } from '../support/api.ts';
import { startAgentProcess, type AgentProcess } from '../support/agent-process.ts';
import { ADMIN_PASSWORD, ADMIN_USER, startServerProcess, type ServerProcess } from '../support/server-process.ts';
import { sleep, waitUntil } from '../support/wait.ts';
import { createPgDatabase, recordFaultFigures, startPrivatePostgres, type PrivatePostgres } from './support.ts';

let pgi: PrivatePostgres;
let server: ServerProcess;
const agents: AgentProcess[] = [];

beforeAll(async () => {
  pgi = await startPrivatePostgres();
  const db = await createPgDatabase(pgi.url);
  server = await startServerProcess({ env: { DATABASE_URL: db.url } });
}, 120_000);
afterAll(async () => {
  await Promise.allSettled(agents.map((a) => a.stop()));
  await server?.stop();
  await pgi?.destroy();
});

const readyz = () => api(server.url, 'GET', '/readyz').catch(() => ({ status: 0, body: null }));

describe('PostgreSQL restarted during traffic', () => {
  it('reports 503 while the database is down and recovers without a server restart', async () => {
    const admin = await login(server.url);
    const { key } = await createAgentKey(server.url, admin, 'pg-fault-1');
    const first = startAgentProcess({ server: server.url, key });
    agents.push(first);
    await first.sessionId(60_000);
    const pid = server.pid;

    // Traffic through the whole fault: logins and sessions listings, every answer counted.
    let stop = false;
    const statuses = new Map<number, number>();
    const traffic = (async () => {
      for (let i = 0; i < 100_000 && !stop; i++) {
        const r = await api(server.url, 'POST', '/api/auth/login', { body: { username: ADMIN_USER, password: ADMIN_PASSWORD } }).catch(() => ({ status: 0 }));
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        await sleep(100);
      }
    })();

    try {
      await pgi.crash();
      const down = await waitUntil(async () => {
        const r = await readyz();
        return r.status === 503 ? r : null;
      }, 30_000, '/readyz 503', 200);
      expect(down.body.error.code).toBe('ERR_NOT_READY');
      expect((await api(server.url, 'GET', '/healthz')).status).toBe(200);
      // A login needs the database: it fails cleanly (an error status, never a hang or a crash).
      const failed = await api(server.url, 'POST', '/api/auth/login', { body: { username: ADMIN_USER, password: ADMIN_PASSWORD } });
      expect(failed.status).toBe(503);
      expect(failed.body.error.code).toBe('ERR_DB_UNAVAILABLE');
      expect(failed.body.error.code).toEqual(expect.any(String));

      await pgi.start();
      await waitUntil(async () => (await readyz()).status === 200, 60_000, '/readyz 200 again', 200);
      // The pool reconnects on demand; the first query after the restart may still meet a dead client.
      const token = await waitUntil(async () => {
        const r = await api(server.url, 'POST', '/api/auth/login', { body: { username: ADMIN_USER, password: ADMIN_PASSWORD } });
        return r.status === 200 ? (r.body.token as string) : null;
      }, 30_000, 'a login to work again', 200);
      // An agent handshake (key lookup, session rows, audit) works again.
      const again = await createAgentKey(server.url, token, 'pg-fault-2');
      const second = startAgentProcess({ server: server.url, key: again.key });
      agents.push(second);
      await second.sessionId(60_000);
    } finally {
      stop = true;
      await traffic;
    }

    expect(server.pid).toBe(pid); // recovered by itself, not restarted
    expect((await api(server.url, 'GET', '/healthz')).status).toBe(200);
    expect(first.child.exitCode).toBeNull();
    expect(statuses.get(200) ?? 0).toBeGreaterThan(0);
    const outcomes = Object.fromEntries([...statuses].map(([k, v]) => [String(k), v]));
    // Nothing but success or a clean error answer; 0 would be a dropped connection.
    expect(Object.keys(outcomes).every((s) => s === '200' || Number(s) >= 500)).toBe(true);

    await recordFaultFigures('postgresRestart', { database: 'private PostgreSQL instance (pg_ctl stop -m immediate, then start)', readyz503WhileDown: true, recoveredWithoutRestart: true, loginOutcomes: outcomes });
  }, 180_000);
});
