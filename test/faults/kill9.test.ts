// Fault: the server process is killed with SIGKILL mid-session (no shutdown code runs at all).
// On PostgreSQL, a restart on the same port and database must bring back: the agents (real
// processes) reattached to the same persistent sessions, and every audit event whose action the
// server had acknowledged before the kill (an HTTP 2xx, an agent's or a viewer's welcome).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createAgentKey, createUser, getSession, login } from '../support/api.ts';
import { startAgentProcess, type AgentProcess } from '../support/agent-process.ts';
import { fullRun } from '../support/figures.ts';
import { ADMIN_PASSWORD, ADMIN_USER, startServerProcess, type ServerProcess } from '../support/server-process.ts';
import { ViewerClient } from '../support/viewer-client.ts';
import { waitUntil } from '../support/wait.ts';
import { allAuditEvents, createPgDatabase, recordFaultFigures, type TestPgDatabase } from './support.ts';

const AGENTS = fullRun() ? 4 : 2;
const BURST = fullRun() ? 100 : 20;

let db: TestPgDatabase;
let server: ServerProcess;
const agents: AgentProcess[] = [];
const viewers: ViewerClient[] = [];

beforeAll(async () => {
  db = await createPgDatabase();
  server = await startServerProcess({ env: { DATABASE_URL: db.url } });
});
afterAll(async () => {
  await Promise.allSettled(viewers.map((v) => v.close()));
  await Promise.allSettled(agents.map((a) => a.stop()));
  await server?.stop();
  await db?.drop();
});

interface Acked {
  type: string;
  /** What identifies this very event in the log. */
  match: (e: { type: string; sessionId: string | null; details: Record<string, unknown>; actor: string | null }) => boolean;
}

describe('kill -9 of the server mid-session', () => {
  it('agents reattach to the same sessions after the restart and no acknowledged audit event is lost', async () => {
    const acked: Acked[] = [];
    const admin = await login(server.url);
    acked.push({ type: 'login_succeeded', match: (e) => e.actor === ADMIN_USER });

    const sessionIds: string[] = [];
    for (let i = 0; i < AGENTS; i++) {
      const { key } = await createAgentKey(server.url, admin, `fault-key-${i}`);
      acked.push({ type: 'agent_key_created', match: () => true });
      const agent = startAgentProcess({ server: server.url, key });
      agents.push(agent);
    }
    for (const agent of agents) {
      const id = await agent.sessionId(60_000);
      sessionIds.push(id);
      acked.push({ type: 'session_started', match: (e) => e.sessionId === id });
    }
    expect(new Set(sessionIds).size).toBe(AGENTS);

    // A technician watching the first session at the moment of the crash.
    const viewer = await ViewerClient.join({ baseUrl: server.url, sessionId: sessionIds[0]!, username: ADMIN_USER, password: ADMIN_PASSWORD, decode: false });
    viewers.push(viewer);
    acked.push({ type: 'login_succeeded', match: (e) => e.actor === ADMIN_USER });
    acked.push({ type: 'viewer_joined', match: (e) => e.sessionId === sessionIds[0] });
    await viewer.nextFrame(() => true, 30_000);

    // A burst of audited writes, the last one acknowledged right before the kill.
    const created = await Promise.all(Array.from({ length: BURST }, (_, i) => createUser(server.url, admin, `crash-${i}`, ['view'])));
    for (const u of created) acked.push({ type: 'user_created', match: (e) => e.details.username === u.username });
    const beforeKill = await getSession(server.url, admin, sessionIds[0]!);
    expect(beforeKill?.viewers).toHaveLength(1);

    const killed = await server.kill('SIGKILL');
    expect(killed.signal).toBe('SIGKILL');
    // The agents notice and back off while the server is down.
    await Promise.all(agents.map((a) => a.waitForLog((l) => l.msg === 'reconnecting', 30_000, 'a reconnect attempt')));

    await server.start();
    const resumed = await Promise.all(agents.map((a) => a.waitForLog((l) => l.msg === 'session welcome' && l.resumed === true, 90_000, 'the agent back on the restarted server')));
    expect(resumed.map((l) => String(l.sessionId))).toEqual(sessionIds);

    const admin2 = await login(server.url);
    for (const id of sessionIds) {
      const s = await waitUntil(async () => {
        const found = await getSession(server.url, admin2, id);
        return found?.status === 'online' ? found : null;
      }, 30_000, `session ${id} online again`, 200);
      expect(s.id).toBe(id);
    }
    // No duplicate session came up for any machine.
    const list = await api(server.url, 'GET', '/api/sessions', { token: admin2 });
    const live = (list.body.sessions as Array<{ id: string; status: string }>).filter((s) => s.status === 'online');
    expect(live.map((s) => s.id).sort()).toEqual([...sessionIds].sort());

    // Every acknowledged event is in the log (multiset: two identical acks need two events).
    const events = await allAuditEvents(server.url, admin2);
    const pool = [...events];
    const missing: string[] = [];
    for (const a of acked) {
      const i = pool.findIndex((e) => e.type === a.type && a.match(e));
      if (i === -1) missing.push(a.type);
      else pool.splice(i, 1);
    }
    expect(missing).toEqual([]);

    // The session is usable after the crash: a new viewer gets pictures.
    const after = await ViewerClient.join({ baseUrl: server.url, sessionId: sessionIds[0]!, username: ADMIN_USER, password: ADMIN_PASSWORD, decode: false });
    viewers.push(after);
    await after.nextFrame(() => true, 30_000);
    for (const a of agents) expect(a.child.exitCode).toBeNull();

    await recordFaultFigures('kill9', {
      agents: AGENTS,
      sessionsReattached: resumed.length,
      auditEventsAcknowledged: acked.length,
      auditEventsFound: acked.length - missing.length,
      auditEventsLost: missing.length,
    });
  }, 180_000);
});
