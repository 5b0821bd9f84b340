// Load: N keyed agents and M relay viewers, from separate client processes, against one server
// process (PostgreSQL) for T seconds of mixed traffic — agent handshakes and reconnects (churn),
// relay frames, chat both ways, viewers leaving and rejoining. Must hold: zero unexpected
// disconnects, zero refused handshakes or joins, zero error acks or ack timeouts, no error in the
// server's log, every churned agent back on its own session, and a server RSS whose last third
// does not climb (shape, not speed). Short in `npm test`; 1,000 agents, 100 viewers, 5 minutes
// under VERIFY_FULL=1.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRole, type Role } from '../bench/lib/roles.ts';
import { createAgentKey, login } from '../support/api.ts';
import { fullRun } from '../support/figures.ts';
import { mergeFigures } from '../support/merge-figures.ts';
import { ADMIN_PASSWORD, ADMIN_USER, startServerProcess, type ServerProcess } from '../support/server-process.ts';
import { sleep } from '../support/wait.ts';
import { createPgDatabase, type TestPgDatabase } from '../faults/support.ts';

const FULL = fullRun();
const AGENTS = FULL ? 1000 : 200;
const AGENT_PROCESSES = FULL ? 4 : 2;
const VIEWERS = FULL ? 100 : 20;
const VIEWER_PROCESSES = FULL ? 2 : 1;
const TRAFFIC_S = FULL ? 300 : 20;
/** Every 10th agent drops and re-establishes its connection, each about every 8 s. */
const CHURN_EVERY = 10;

type Stats = Record<string, number> & { reasons: Record<string, number> };

let db: TestPgDatabase;
let server: ServerProcess;
const roles: Role[] = [];

beforeAll(async () => {
  db = await createPgDatabase();
  server = await startServerProcess({ env: { DATABASE_URL: db.url, LOG_LEVEL: 'info', BLOCK_THRESHOLD: '100000' } });
}, 120_000);
afterAll(async () => {
  await Promise.allSettled(roles.map((r) => r.stop()));
  await server?.stop();
  await db?.drop();
}, 120_000);

function sum(all: Stats[], key: string): number {
  return all.reduce((n, s) => n + Number(s[key] ?? 0), 0);
}
function reasons(all: Stats[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of all) for (const [k, v] of Object.entries(s.reasons ?? {})) out[k] = (out[k] ?? 0) + v;
  return out;
}

describe(`load: ${AGENTS} agents, ${VIEWERS} viewers, ${TRAFFIC_S} s`, () => {
  it('holds mixed traffic with no unexpected disconnect, no error and a flat RSS', async () => {
    const admin = await login(server.url);
    const keys: string[] = [];
    for (let i = 0; i < AGENTS; i += 25) {
      const batch = await Promise.all(Array.from({ length: Math.min(25, AGENTS - i) }, (_, j) => createAgentKey(server.url, admin, `load-${i + j}`)));
      keys.push(...batch.map((k) => k.key));
    }

    const perProcess = Math.ceil(AGENTS / AGENT_PROCESSES);
    const agentRoles: Role[] = [];
    for (let p = 0; p < AGENT_PROCESSES; p++) {
      const slice = keys.slice(p * perProcess, (p + 1) * perProcess);
      const role = startRole(new URL('./roles/agents.ts', import.meta.url), {
        url: server.url,
        keys: slice,
        offset: p * perProcess,
        concurrency: 10,
        churnEvery: CHURN_EVERY,
        churnPeriodMs: 8000,
        frameEveryMs: 500,
        chatEveryMs: 5000,
      });
      roles.push(role);
      agentRoles.push(role);
    }
    const ready = await Promise.all(agentRoles.map((r) => r.next<Stats & { sessions: Array<{ i: number; sessionId: string | null; churner: boolean }> }>('ready', FULL ? 600_000 : 180_000)));
    const sessions = ready.flatMap((r) => r.sessions);
    expect(sessions.filter((s) => !s.sessionId)).toEqual([]);
    expect(new Set(sessions.map((s) => s.sessionId)).size).toBe(AGENTS);

    // Viewers watch sessions of agents that do not churn, one viewer per session.
    const watched = sessions.filter((s) => !s.churner).slice(0, VIEWERS).map((s) => s.sessionId!);
    expect(watched).toHaveLength(VIEWERS);
    const perViewerProcess = Math.ceil(VIEWERS / VIEWER_PROCESSES);
    const viewerRoles: Role[] = [];
    for (let p = 0; p < VIEWER_PROCESSES; p++) {
      const role = startRole(new URL('./roles/viewers.ts', import.meta.url), {
        url: server.url,
        username: ADMIN_USER,
        password: ADMIN_PASSWORD,
        sessions: watched.slice(p * perViewerProcess, (p + 1) * perViewerProcess),
        churnPeriodMs: 10_000,
        chatEveryMs: 5000,
      });
      roles.push(role);
      viewerRoles.push(role);
    }
    const viewersReady = await Promise.all(viewerRoles.map((r) => r.next<Stats>('ready', 180_000)));
    expect(sum(viewersReady, 'joins')).toBe(VIEWERS);

    // Traffic runs; the server's RSS is sampled every second.
    const rssKiB: number[] = [];
    const started = Date.now();
    for (let i = 0; i < TRAFFIC_S * 2 && Date.now() - started < TRAFFIC_S * 1000; i++) {
      rssKiB.push(server.rssKiB());
      await sleep(1000);
    }
    const stopped = async (rs: Role[]) => Promise.all(rs.map((r) => (r.send({ type: 'stop' }), r.next<Stats>('stopped', 60_000))));
    const viewerStats = await stopped(viewerRoles);
    const agentStats = await stopped(agentRoles);

    const figures = {
      agents: AGENTS,
      viewers: VIEWERS,
      agentProcesses: AGENT_PROCESSES,
      viewerProcesses: VIEWER_PROCESSES,
      trafficS: TRAFFIC_S,
      handshakes: sum(agentStats, 'handshakes'),
      agentChurns: sum(agentStats, 'churns'),
      reattachedSameSession: sum(agentStats, 'reattachedSameSession'),
      welcomePendingAtStop: sum(agentStats, 'welcomePending'),
      viewerJoins: sum(viewerStats, 'joins'),
      viewerChurns: sum(viewerStats, 'churns'),
      relayFramesSent: sum(agentStats, 'framesSent'),
      relayFramesDelivered: sum(agentStats, 'framesDelivered'),
      relayFramesReceived: sum(viewerStats, 'framesReceived'),
      chatsSent: sum(agentStats, 'chatsSent') + sum(viewerStats, 'chatsSent'),
      chatsReceived: sum(agentStats, 'chatsReceived') + sum(viewerStats, 'chatsReceived'),
      unexpectedDisconnects: sum(agentStats, 'unexpectedDisconnects') + sum(viewerStats, 'unexpectedDisconnects'),
      refusedHandshakes: sum(agentStats, 'connectErrors') + sum(viewerStats, 'joinFailures'),
      errorAcks: sum(agentStats, 'errorAcks') + sum(viewerStats, 'errorAcks'),
      ackTimeouts: sum(agentStats, 'ackTimeouts') + sum(viewerStats, 'ackTimeouts'),
      okAcks: sum(agentStats, 'okAcks') + sum(viewerStats, 'okAcks'),
      connectedAtEnd: { agents: sum(agentStats, 'connected'), viewers: sum(viewerStats, 'connected') },
      problems: { ...reasons(agentStats), ...reasons(viewerStats) },
      rssKiB,
    };
    await mergeFigures('load', 'mixed', figures);

    expect(figures.problems).toEqual({});
    expect(figures.unexpectedDisconnects).toBe(0);
    expect(figures.refusedHandshakes).toBe(0);
    expect(figures.errorAcks).toBe(0);
    expect(figures.ackTimeouts).toBe(0);
    expect(sum(agentStats, 'sessionChanged')).toBe(0);
    // Every churn came back to its own session, but for those still reconnecting at the stop.
    expect(figures.agentChurns).toBeGreaterThan(0);
    expect(figures.reattachedSameSession).toBe(figures.agentChurns - figures.welcomePendingAtStop);
    expect(figures.welcomePendingAtStop).toBeLessThanOrEqual(2 * AGENT_PROCESSES);
    expect(figures.viewerChurns).toBeGreaterThan(0);
    expect(figures.relayFramesReceived).toBeGreaterThan(0);
    expect(figures.relayFramesDelivered).toBeGreaterThan(0);
    expect(figures.chatsReceived).toBeGreaterThan(0);
    // Everyone is still connected at the end, but for a churn or two in flight per process.
    expect(figures.connectedAtEnd.agents).toBeGreaterThanOrEqual(AGENTS - 2 * AGENT_PROCESSES);
    expect(figures.connectedAtEnd.viewers).toBeGreaterThanOrEqual(VIEWERS - 2 * VIEWER_PROCESSES);

    // No error in the server's own log (when this run's log folder still holds it).
    const log = server.readLog();
    if (process.env.CI) expect(log).toContain('server listening');
    const errors = log.split('\n').filter((l) => /"level":(50|60)/.test(l));
    expect(errors.slice(0, 3)).toEqual([]);

    // RSS shape: the last third of the run does not climb past the first two thirds'
    // peak by more than a generous margin (GC and allocator noise allowed).
    const third = Math.floor(rssKiB.length / 3);
    const before = Math.max(...rssKiB.slice(0, rssKiB.length - third));
    const last = Math.max(...rssKiB.slice(rssKiB.length - third));
    expect(last).toBeLessThanOrEqual(before * 1.25 + 64 * 1024);
    expect(server.rssKiB()).toBeGreaterThan(0); // still alive
  }, FULL ? 1_800_000 : 240_000);
});
