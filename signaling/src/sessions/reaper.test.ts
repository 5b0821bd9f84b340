import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../db/test-database.ts';
import { ADMIN_PASSWORD, api, loginAs, startTestServer, type TestServer } from '../testing/test-server.ts';
import { agentQuery, closed, connect, connectKeyedAgent, connectViewer, createAgentKey, next } from '../testing/clients.ts';

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('reaper and supersede', () => {
  let s: TestServer;
  let admin: string;
  beforeAll(async () => {
    // Long interval: the test drives the reaper itself.
    s = await startTestServer({ env: { STALE_SESSION_TTL_S: '1', REAPER_INTERVAL_S: '3600' } });
    admin = await loginAs(s.url, 'admin', ADMIN_PASSWORD);
  });
  afterAll(async () => s?.close());

  const ageSession = (id: string) => s.tdb.db.prisma.session.updateMany({ where: { id }, data: { lastSeenAt: new Date(Date.now() - 3600_000) } });
  const statusOf = async (id: string) => (await s.tdb.db.prisma.session.findUnique({ where: { id } }))?.status;

  it('reaps a persistent session offline past the TTL with no viewers', async () => {
    const a = await connectKeyedAgent(s, (await createAgentKey(s, admin, 'stale')).key);
    a.socket.close();
    await wait(200);
    expect(await statusOf(a.welcome.sessionId)).toBe('offline');
    await ageSession(a.welcome.sessionId);
    expect(await s.app.sessions.reap()).toContain(a.welcome.sessionId);
    expect(await statusOf(a.welcome.sessionId)).toBe('removed');
    expect(await s.tdb.db.prisma.auditEvent.count({ where: { type: 'session_removed', sessionId: a.welcome.sessionId } })).toBe(1);
  });

  it('never reaps an online session, even with a stale timestamp', async () => {
    const a = await connectKeyedAgent(s, (await createAgentKey(s, admin, 'online')).key);
    await ageSession(a.welcome.sessionId);
    expect(await s.app.sessions.reap()).not.toContain(a.welcome.sessionId);
    expect(await statusOf(a.welcome.sessionId)).toBe('online');
    a.socket.close();
  });

  it('never reaps an offline session that a viewer is attached to', async () => {
    const a = await connectKeyedAgent(s, (await createAgentKey(s, admin, 'watched')).key);
    const v = await connectViewer(s, admin, a.welcome.sessionId);
    a.socket.close();
    await next(v.socket, 'agent:offline');
    await ageSession(a.welcome.sessionId);
    expect(await s.app.sessions.reap()).not.toContain(a.welcome.sessionId);
    expect(await statusOf(a.welcome.sessionId)).toBe('offline');
    expect(v.socket.connected).toBe(true);
    v.socket.close();
  });

  it('never reaps a support session', async () => {
    const code = (await api(s.url, 'POST', '/api/support-codes', { token: admin, body: {} })).body.code;
    const agent = await connect(s.url, 'agent', agentQuery({ support_code: code }));
    const w = await next(agent, 'session:welcome');
    await ageSession(w.sessionId);
    expect(await s.app.sessions.reap()).not.toContain(w.sessionId);
    expect(await statusOf(w.sessionId)).toBe('online');
    agent.close();
  });

  it('a reconnecting keyed agent reattaches to its session, never reaped under concurrent reconnects', async () => {
    const keys = await Promise.all(Array.from({ length: 6 }, (_, i) => createAgentKey(s, admin, `race-${i}`)));
    const first = await Promise.all(keys.map((k) => connectKeyedAgent(s, k.key)));
    const ids = first.map((f) => f.welcome.sessionId);
    await Promise.all(first.map((f) => { const g = closed(f.socket); f.socket.close(); return g; }));
    await wait(200);
    for (const id of ids) await ageSession(id);
    // Reconnect everyone while the reaper runs several times.
    const [again] = await Promise.all([
      Promise.all(keys.map((k) => connectKeyedAgent(s, k.key))),
      (async () => {
        for (let i = 0; i < 5; i++) await s.app.sessions.reap();
      })(),
    ]);
    for (const [i, a] of again.entries()) {
      const st = await statusOf(a.welcome.sessionId);
      expect(st).toBe('online');
      // Either it reattached to the same session or the reaper won first and a new one was made.
      if (a.welcome.sessionId !== ids[i]) expect(await statusOf(ids[i]!)).toBe('removed');
      else expect(a.welcome.sessionId).toBe(ids[i]);
    }
    // And no machine has two live persistent sessions.
    for (const a of again) {
      expect(await s.tdb.db.prisma.session.count({ where: { machineId: a.welcome.machineId, status: { in: ['online', 'offline'] } } })).toBe(1);
      a.socket.close();
    }
  });

  it('reattaches (not duplicates) when a keyed agent reconnects normally', async () => {
    const key = await createAgentKey(s, admin, 'reattach');
    const a = await connectKeyedAgent(s, key.key);
    const gone = closed(a.socket);
    a.socket.close();
    await gone;
    await wait(100);
    const b = await connectKeyedAgent(s, key.key);
    expect(b.welcome.sessionId).toBe(a.welcome.sessionId);
    b.socket.close();
  });

  it('supersedes older offline duplicates of the machine, but not a watched one', async () => {
    const key = await createAgentKey(s, admin, 'dupes');
    const a = await connectKeyedAgent(s, key.key);
    a.socket.close();
    await wait(200);
    // A leftover second persistent session for the same machine (e.g. from an older agent install).
    const dup = await s.tdb.db.prisma.session.create({ data: { machineId: a.welcome.machineId, kind: 'unattended', status: 'offline', lastSeenAt: new Date(Date.now() - 1000) } });
    const b = await connectKeyedAgent(s, key.key);
    expect(b.welcome.sessionId).toBe(a.welcome.sessionId);
    expect(await statusOf(dup.id)).toBe('removed');
    b.socket.close();
  });
});

describe.each(databaseKinds())('restart restore on %s', (kind) => {
  it('persistent sessions come back offline and reconnecting agents reattach', async () => {
    let s = await startTestServer({ kind });
    try {
      const admin = await loginAs(s.url, 'admin', ADMIN_PASSWORD);
      const key = await createAgentKey(s, admin, 'restore');
      const a = await connectKeyedAgent(s, key.key);
      const code = (await api(s.url, 'POST', '/api/support-codes', { token: admin, body: {} })).body.code;
      const sup = await connect(s.url, 'agent', agentQuery({ support_code: code }));
      const sw = await next(sup, 'session:welcome');
      s = await s.restart();
      a.socket.close();
      sup.close();
      const admin2 = await loginAs(s.url, 'admin', ADMIN_PASSWORD);
      const list = (await api(s.url, 'GET', '/api/sessions', { token: admin2 })).body.sessions;
      expect(list.find((x: { id: string }) => x.id === a.welcome.sessionId)?.status).toBe('offline');
      expect(list.find((x: { id: string }) => x.id === sw.sessionId)).toBeUndefined();
      expect((await s.tdb.db.prisma.session.findUnique({ where: { id: sw.sessionId } }))?.status).toBe('ended');
      const b = await connectKeyedAgent(s, key.key);
      expect(b.welcome.sessionId).toBe(a.welcome.sessionId);
      expect(b.welcome.machineId).toBe(a.welcome.machineId);
      b.socket.close();
    } finally {
      await s.close();
    }
  });
});
