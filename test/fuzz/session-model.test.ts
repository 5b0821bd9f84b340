// Model-based test of the session lifecycle against ONE real in-process server: keyed agents from a
// small pool connect, reconnect while their old socket lingers (supersede), race themselves and
// disconnect; viewers attach and detach; the reaper runs over sessions aged through the database;
// an admin removes sessions and machines. After every step the invariants must hold:
//   - the reaper never reaps a session that is online or has a viewer attached;
//   - a machine has at most one live (online|offline) persistent session;
//   - no orphans: a session the registry shows online is online in the database, and a session the
//     database says is online has a live agent in the registry;
//   - every viewer the registry holds is attached to a session that is still live.
// A smaller property restarts the server. FUZZ_RUNS sets the number of command sequences; under
// `npm run verify` the budgets of the two properties are set apart (targets `session-model` and
// `session-restarts`), since a restart costs as much as dozens of sequences.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Socket } from 'socket.io-client';
import { ADMIN_PASSWORD, api, loginAs, startTestServer, type TestServer } from '../../signaling/src/testing/test-server.ts';
import { agentQuery, closed, connect, connectKeyedAgent, connectViewer, createAgentKey, next } from '../../signaling/src/testing/clients.ts';
import { eventually, fuzzBudget, fuzzRuns, sleep } from '../security/harness.ts';

const RUNS = fuzzRuns(10);
const RESTART_RUNS = fuzzBudget('session-restarts') ?? Math.max(1, Math.ceil(RUNS / 10));
const POOL = 3;

let s: TestServer;
let admin: string;

interface PoolAgent {
  name: string;
  /** Created on the first connect (most sequences never touch every agent of the pool). */
  key: string | null;
  machineId: string | null;
  /** Sessions this agent was welcomed into, latest last. */
  sessions: string[];
  sockets: Socket[];
  removed: boolean;
}
interface Model {
  agents: PoolAgent[];
  viewers: Array<{ socket: Socket; sessionId: string }>;
}
type Real = Record<string, never>;

const prisma = () => s.tdb.db.prisma;
const registry = () => s.app.services.registry;
const live = (x: Socket) => x.connected;
/** Machines of the running sequence: earlier sequences' machines are offline and untouched since. */
let sequenceMachines: string[] = [];

async function keyOf(a: PoolAgent): Promise<string> {
  a.key ??= (await createAgentKey(s, admin, a.name)).key;
  return a.key;
}

/** Every invariant, as a list of violations (empty when all hold). */
async function violations(): Promise<string[]> {
  const out: string[] = [];
  // Scoped so each check costs the same at sequence 10,000 as at sequence 1: every online session, the
  // running sequence's machines, and the sessions viewers hold.
  const viewerSessions = [...new Set([...registry().viewers.values()].map((v) => v.sessionId))];
  const rows = await prisma().session.findMany({ where: { kind: 'unattended', OR: [{ status: 'online' }, { machineId: { in: sequenceMachines } }, { id: { in: viewerSessions } }] } });
  const byId = new Map(rows.map((r) => [r.id, r]));
  const perMachine = new Map<string, string[]>();
  for (const r of rows) if (r.machineId && !r.removedAt && (r.status === 'online' || r.status === 'offline')) perMachine.set(r.machineId, [...(perMachine.get(r.machineId) ?? []), r.id]);
  for (const [machine, ids] of perMachine) if (ids.length > 1) out.push(`machine ${machine} has ${ids.length} live persistent sessions`);
  for (const a of registry().agents.values()) {
    const row = byId.get(a.sessionId);
    if (a.kind === 'unattended' && row?.status !== 'online') out.push(`registry shows ${a.sessionId} online, database says ${row?.status}`);
  }
  for (const r of rows) if (r.status === 'online' && !registry().sessions.get(r.id)?.agent) out.push(`database shows ${r.id} online with no live agent`);
  for (const v of registry().viewers.values()) {
    const row = byId.get(v.sessionId);
    if (row && (row.removedAt || row.status === 'removed' || row.status === 'ended')) out.push(`viewer attached to ${row.status} session ${v.sessionId}`);
  }
  const agentsPerMachine = new Map<string, number>();
  for (const a of registry().agents.values()) agentsPerMachine.set(a.machineId, (agentsPerMachine.get(a.machineId) ?? 0) + 1);
  for (const [machine, n] of agentsPerMachine) if (n > 1) out.push(`machine ${machine} has ${n} live agents`);
  return out;
}

/** The system is asynchronous: invariants must hold once the step has settled (≤ 3 s). */
async function expectInvariants(step: string): Promise<void> {
  let last: string[] = [];
  await eventually(async () => (last = await violations()).length === 0, 3000, 50);
  expect(last, `after ${step}`).toEqual([]);
}

const waitGone = (socketId: string | undefined) => eventually(() => !socketId || (!registry().agents.has(socketId) && !registry().viewers.has(socketId)), 3000, 5);

// ---- commands ---------------------------------------------------------------------------------------

class ConnectAgent implements fc.AsyncCommand<Model, Real> {
  constructor(readonly i: number) {}
  check = (m: Readonly<Model>) => !m.agents[this.i]!.removed;
  async run(m: Model): Promise<void> {
    const a = m.agents[this.i]!;
    const old = a.sockets.filter(live);
    const c = await connectKeyedAgent(s, await keyOf(a));
    a.machineId = c.welcome.machineId;
    sequenceMachines.push(c.welcome.machineId);
    a.sessions.push(c.welcome.sessionId);
    // A lingering old socket of the same machine is superseded.
    await Promise.all(old.map((x) => closed(x, 3000)));
    a.sockets = [c.socket];
    if (old.length) expect(a.sessions.at(-2), 'a reconnect reattaches to the same session').toBe(c.welcome.sessionId);
    await expectInvariants(this.toString());
  }
  toString = () => `connect(${this.i})`;
}

class RaceConnect implements fc.AsyncCommand<Model, Real> {
  constructor(readonly i: number) {}
  check = (m: Readonly<Model>) => !m.agents[this.i]!.removed;
  async run(m: Model): Promise<void> {
    const a = m.agents[this.i]!;
    const old = a.sockets.filter(live);
    const key = await keyOf(a);
    const both = await Promise.allSettled([connect(s.url, 'agent', agentQuery({ api_key: key })), connect(s.url, 'agent', agentQuery({ api_key: key }))]);
    const sockets = both.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    await Promise.all(old.map((x) => closed(x, 3000)));
    // Exactly one of the racers stays; it is welcomed.
    expect(await eventually(() => sockets.filter(live).length === 1, 3000), 'one racer stays connected').toBe(true);
    const winner = sockets.find(live)!;
    const w = await next(winner, 'session:welcome');
    a.machineId = w.machineId;
    sequenceMachines.push(w.machineId);
    a.sessions.push(w.sessionId);
    a.sockets = [winner];
    await expectInvariants(this.toString());
  }
  toString = () => `race-connect(${this.i})`;
}

class DisconnectAgent implements fc.AsyncCommand<Model, Real> {
  constructor(readonly i: number) {}
  check = (m: Readonly<Model>) => m.agents[this.i]!.sockets.some(live);
  async run(m: Model): Promise<void> {
    const a = m.agents[this.i]!;
    for (const x of a.sockets) {
      const id = x.id;
      x.close();
      await waitGone(id);
    }
    a.sockets = [];
    await expectInvariants(this.toString());
  }
  toString = () => `disconnect(${this.i})`;
}

class AttachViewer implements fc.AsyncCommand<Model, Real> {
  constructor(readonly i: number) {}
  check = (m: Readonly<Model>) => m.agents[this.i]!.sessions.length > 0;
  async run(m: Model): Promise<void> {
    const sessionId = m.agents[this.i]!.sessions.at(-1)!;
    const row = await prisma().session.findUnique({ where: { id: sessionId } });
    if (!row || row.removedAt || row.status === 'removed') {
      // A removed session takes no viewer.
      expect((await api(s.url, 'POST', `/api/sessions/${sessionId}/viewer-token`, { token: admin })).status).toBe(404);
      return;
    }
    const v = await connectViewer(s, admin, sessionId);
    m.viewers.push({ socket: v.socket, sessionId });
    await expectInvariants(this.toString());
  }
  toString = () => `attach-viewer(${this.i})`;
}

class DetachViewer implements fc.AsyncCommand<Model, Real> {
  constructor(readonly j: number) {}
  check = (m: Readonly<Model>) => m.viewers.length > 0;
  async run(m: Model): Promise<void> {
    const [v] = m.viewers.splice(this.j % m.viewers.length, 1);
    const id = v!.socket.id;
    v!.socket.close();
    await waitGone(id);
    await expectInvariants(this.toString());
  }
  toString = () => `detach-viewer(${this.j})`;
}

class Reap implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(): Promise<void> {
    // Age every live persistent session, online and watched ones included: only the reaper's own
    // checks may keep them.
    await prisma().session.updateMany({ where: { kind: 'unattended', removedAt: null }, data: { lastSeenAt: new Date(Date.now() - 3_600_000) } });
    const busy = [...registry().sessions.values()].filter((x) => x.agent || x.viewers.size > 0).map((x) => x.id);
    const reaped = await s.app.sessions.reap();
    expect(reaped.filter((id) => busy.includes(id)), 'reaped a busy session').toEqual([]);
    for (const id of busy) expect((await prisma().session.findUnique({ where: { id } }))?.status, `busy session ${id}`).not.toBe('removed');
    await expectInvariants(this.toString());
  }
  toString = () => 'reap';
}

class RemoveSession implements fc.AsyncCommand<Model, Real> {
  constructor(readonly i: number) {}
  check = (m: Readonly<Model>) => m.agents[this.i]!.sessions.length > 0;
  async run(m: Model): Promise<void> {
    const a = m.agents[this.i]!;
    const sessionId = a.sessions.at(-1)!;
    expect((await api(s.url, 'DELETE', `/api/sessions/${sessionId}`, { token: admin })).status).toBe(200);
    const gone = [...(sessionId === a.sessions.at(-1) ? a.sockets : []), ...m.viewers.filter((v) => v.sessionId === sessionId).map((v) => v.socket)];
    await Promise.all(gone.map((x) => closed(x, 3000)));
    a.sockets = a.sockets.filter(live);
    m.viewers = m.viewers.filter((v) => v.sessionId !== sessionId);
    await expectInvariants(this.toString());
  }
  toString = () => `remove-session(${this.i})`;
}

class RemoveMachine implements fc.AsyncCommand<Model, Real> {
  constructor(readonly i: number) {}
  check = (m: Readonly<Model>) => m.agents[this.i]!.machineId !== null && !m.agents[this.i]!.removed;
  async run(m: Model): Promise<void> {
    const a = m.agents[this.i]!;
    expect((await api(s.url, 'DELETE', `/api/machines/${a.machineId}`, { token: admin })).status).toBe(200);
    const mine = new Set(a.sessions);
    await Promise.all([...a.sockets, ...m.viewers.filter((v) => mine.has(v.sessionId)).map((v) => v.socket)].map((x) => closed(x, 3000)));
    a.sockets = [];
    a.removed = true;
    m.viewers = m.viewers.filter((v) => !mine.has(v.sessionId));
    // Its key is revoked with it.
    await expect(connect(s.url, 'agent', agentQuery({ api_key: a.key! }))).rejects.toThrow();
    await expectInvariants(this.toString());
  }
  toString = () => `remove-machine(${this.i})`;
}

const agentIndex = fc.nat(POOL - 1);
const commands = fc.commands(
  [
    agentIndex.map((i) => new ConnectAgent(i)),
    agentIndex.map((i) => new ConnectAgent(i)),
    agentIndex.map((i) => new RaceConnect(i)),
    agentIndex.map((i) => new DisconnectAgent(i)),
    agentIndex.map((i) => new AttachViewer(i)),
    fc.nat().map((j) => new DetachViewer(j)),
    fc.constant(new Reap()),
    fc.constant(new Reap()),
    agentIndex.map((i) => new RemoveSession(i)),
    agentIndex.map((i) => new RemoveMachine(i)),
  ],
  { maxCommands: 14 },
);

beforeAll(async () => {
  s = await startTestServer({ env: { STALE_SESSION_TTL_S: '1', REAPER_INTERVAL_S: '3600', BLOCK_THRESHOLD: '1000' } });
  admin = await loginAs(s.url, 'admin', ADMIN_PASSWORD);
});
afterAll(async () => s?.close());

describe('session lifecycle model', () => {
  it('keeps every invariant through any sequence of connects, supersedes, viewers, reaps and removals', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(commands, async (cmds) => {
        run++;
        const agents: PoolAgent[] = [];
        for (let i = 0; i < POOL; i++) agents.push({ name: `model-${run}-${i}`, key: null, machineId: null, sessions: [], sockets: [], removed: false });
        sequenceMachines = [];
        const model: Model = { agents, viewers: [] };
        try {
          await fc.asyncModelRun(() => ({ model, real: {} }), cmds);
        } finally {
          const all = [...model.agents.flatMap((a) => a.sockets), ...model.viewers.map((v) => v.socket)];
          for (const x of all) x.close();
          await Promise.all(all.map((x) => waitGone(x.id)));
        }
        await expectInvariants('the sequence');
      }),
      { numRuns: RUNS },
    );
  });
});

describe('server restarts', () => {
  it('after a restart nothing is online, support sessions are ended, and keyed agents reattach to their session', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ connected: fc.boolean(), watched: fc.boolean() }), { minLength: 1, maxLength: POOL }), fc.boolean(), async (plan, withSupport) => {
        const agents = await Promise.all(plan.map(async (p, i) => ({ ...p, ...(await connectKeyedAgent(s, (await createAgentKey(s, admin, `restart-${i}-${Date.now()}`)).key)) })));
        sequenceMachines = agents.map((a) => a.welcome.machineId);
        for (const a of agents) {
          if (a.watched) await connectViewer(s, admin, a.welcome.sessionId);
          if (!a.connected) a.socket.close();
        }
        let supportSession: string | null = null;
        if (withSupport) {
          const code = (await api(s.url, 'POST', '/api/support-codes', { token: admin, body: {} })).body.code;
          const sup = await connect(s.url, 'agent', agentQuery({ support_code: code }));
          supportSession = (await next(sup, 'session:welcome')).sessionId;
        }
        await sleep(100);

        s = await s.restart();
        admin = await loginAs(s.url, 'admin', ADMIN_PASSWORD);
        expect(await prisma().session.count({ where: { status: 'online' } }), 'online after restart').toBe(0);
        if (supportSession) expect((await prisma().session.findUnique({ where: { id: supportSession } }))?.status).toBe('ended');
        for (const a of agents) expect((await prisma().session.findUnique({ where: { id: a.welcome.sessionId } }))?.status).toBe('offline');
        await expectInvariants('restart');
        // Reconnecting with a fresh key bound to the same machine lands in the same session.
        for (const a of agents) {
          const key = await createAgentKey(s, admin, 'again', a.welcome.machineId);
          const again = await connectKeyedAgent(s, key.key);
          expect(again.welcome.sessionId).toBe(a.welcome.sessionId);
          again.socket.close();
          await waitGone(again.socket.id);
        }
        await expectInvariants('reconnect after restart');
      }),
      { numRuns: RESTART_RUNS },
    );
  });
});
