import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chunkFrame, encodeFrame } from '@guruconnect/shared/codec';
import { ADMIN_PASSWORD, startServerProcess, type ServerProcess } from '../support/server-process.ts';
import { agentQuery, call, closed, connect, next, received } from '../../signaling/src/testing/clients.ts';

const PG = process.env.TEST_DATABASE_URL;
const REDIS = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function http(base: string, method: string, path: string, token?: string, body?: unknown) {
  const r = await fetch(`${base}${path}`, { method, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : undefined };
}
const login = async (base: string) => (await http(base, 'POST', '/api/auth/login', undefined, { username: 'admin', password: ADMIN_PASSWORD })).body.token as string;
const frameChunk = (id: number) => chunkFrame(encodeFrame({ seq: id, captureTsMs: Date.now(), keyframe: true, screenWidth: 8, screenHeight: 8, rects: [] }), id)[0]!;

async function eventually(fn: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (await fn()) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('condition not met in time');
}

// Two signaling processes on real PostgreSQL and Redis. Needs TEST_DATABASE_URL (CI sets it).
describe.skipIf(!PG)('two signaling nodes on Redis and PostgreSQL', () => {
  let dbName: string;
  let dbUrl: string;
  let n1: ServerProcess;
  let n2: ServerProcess;

  beforeAll(async () => {
    dbName = `gc_cluster_${randomBytes(5).toString('hex')}`;
    const admin = new pg.Client({ connectionString: PG });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    const u = new URL(PG!);
    u.pathname = `/${dbName}`;
    dbUrl = u.toString();
    const env = { DATABASE_URL: dbUrl, REDIS_URL: REDIS, CLUSTER_NAME: `t-${dbName}`, LOG_LEVEL: 'info' };
    n1 = await startServerProcess({ env: { ...env, NODE_ID: 'node-1' } });
    n2 = await startServerProcess({ env: { ...env, NODE_ID: 'node-2' } });
  }, 90_000);

  afterAll(async () => {
    await Promise.allSettled([n1?.stop(), n2?.stop()]);
    const admin = new pg.Client({ connectionString: PG });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  });

  // Before the test that kills node 1.
  it("an agent's relay window cap reaches its viewer's queue on the other node", async () => {
    const admin1 = await login(n1.url);
    const admin2 = await login(n2.url);
    const key = (await http(n1.url, 'POST', '/api/agent-keys', admin1, { name: 'cluster-window' })).body.key as string;
    const agent = await connect(n1.url, 'agent', agentQuery({ api_key: key, agent_id: 'cluster-window-agent' }));
    const welcome = await next(agent, 'session:welcome');
    const vt = (await http(n2.url, 'POST', `/api/sessions/${welcome.sessionId}/viewer-token`, admin2)).body.token as string;
    const viewer = await connect(n2.url, 'viewer', { token: vt, session_id: welcome.sessionId, relay_acks: '1' });
    const vw = await next(viewer, 'session:welcome');
    await next(agent, 'viewer:joined');
    expect(await call(agent, 'relay:window', { viewerId: vw.viewerId, frames: 1 })).toMatchObject({ ok: true });
    await new Promise((r) => setTimeout(r, 300)); // the cap travels on the bus, the frames on their own channel
    for (let id = 1; id <= 3; id++) expect((await call(agent, 'relay:frame', { to: vw.viewerId, data: frameChunk(id) })).ok).toBe(true);
    await eventually(async () => received(viewer, 'relay:frame').length >= 1, 3000);
    await new Promise((r) => setTimeout(r, 300));
    // One frame in flight on node 2's queue; its credit, shut, reaches the agent on node 1.
    expect(received(viewer, 'relay:frame')).toHaveLength(1);
    expect(await next(agent, 'relay:credit')).toEqual({ viewerId: vw.viewerId, open: false });
    expect(await call(agent, 'relay:window', { viewerId: vw.viewerId, frames: 3 })).toMatchObject({ ok: true });
    await eventually(async () => received(viewer, 'relay:frame').length >= 3, 3000);
    agent.close();
    viewer.close();
  }, 30_000);

  it('agent on node 1 and viewer on node 2 meet: join, signaling, relayed frame, chat, revocation, removal; node 1 dies and node 2 carries on', async () => {
    const admin1 = await login(n1.url);
    const admin2 = await login(n2.url);
    const key = (await http(n1.url, 'POST', '/api/agent-keys', admin1, { name: 'cluster' })).body.key as string;
    const q = agentQuery({ api_key: key, agent_id: 'cluster-agent' });
    let agent = await connect(n1.url, 'agent', q);
    const welcome = await next(agent, 'session:welcome');

    // The viewer mints its token on node 2 and connects to node 2.
    const vt = (await http(n2.url, 'POST', `/api/sessions/${welcome.sessionId}/viewer-token`, admin2)).body.token as string;
    const viewer = await connect(n2.url, 'viewer', { token: vt, session_id: welcome.sessionId });
    const vw = await next(viewer, 'session:welcome');
    expect(vw.agentOnline).toBe(true);
    expect((await next(agent, 'viewer:joined')).viewerId).toBe(vw.viewerId);

    // SDP both ways across nodes.
    expect((await call(viewer, 'signal:offer', { description: { type: 'offer', sdp: 'v=0 cross' } })).ok).toBe(true);
    expect((await next(agent, 'signal:offer')).from).toBe(vw.viewerId);
    expect((await call(agent, 'signal:answer', { to: vw.viewerId, description: { type: 'answer', sdp: 'v=0 back' } })).ok).toBe(true);
    expect((await next(viewer, 'signal:answer')).description.sdp).toBe('v=0 back');

    // A relayed frame crosses nodes byte for byte.
    const chunk = frameChunk(1);
    expect((await call(agent, 'relay:frame', { to: vw.viewerId, data: chunk })).ok).toBe(true);
    expect(new Uint8Array(await next(viewer, 'relay:frame'))).toEqual(chunk);

    // Chat.
    expect((await call(viewer, 'chat:send', { text: 'hello across nodes' })).ok).toBe(true);
    expect((await next(agent, 'chat:message')).text).toBe('hello across nodes');

    // A logout on node 1 is refused on node 2 within one second.
    const t = await login(n1.url);
    expect((await http(n2.url, 'GET', '/api/auth/me', t)).status).toBe(200);
    await http(n1.url, 'POST', '/api/auth/logout', t);
    const ms = await eventually(async () => (await http(n2.url, 'GET', '/api/auth/me', t)).status === 401, 1000);
    expect(ms).toBeLessThan(1000);

    // Admin removal on node 2 disconnects the agent on node 1.
    const key2 = (await http(n2.url, 'POST', '/api/agent-keys', admin2, { name: 'doomed' })).body.key as string;
    const doomed = await connect(n1.url, 'agent', agentQuery({ api_key: key2 }));
    const dw = await next(doomed, 'session:welcome');
    const gone = closed(doomed, 3000);
    expect((await http(n2.url, 'DELETE', `/api/machines/${dw.machineId}`, admin2)).status).toBe(200);
    await gone;

    // Node 1 dies: the agent reconnects to node 2, reattaches to its session, and frames flow again.
    const agentGone = closed(agent, 5000);
    process.kill(n1.pid, 'SIGKILL');
    await agentGone;
    agent = await connect(n2.url, 'agent', q);
    const again = await next(agent, 'session:welcome');
    expect(again.sessionId).toBe(welcome.sessionId);
    await next(agent, 'viewer:joined');
    const chunk2 = frameChunk(2);
    expect((await call(agent, 'relay:frame', { to: vw.viewerId, data: chunk2 })).ok).toBe(true);
    expect(new Uint8Array(await next(viewer, 'relay:frame'))).toEqual(chunk2);
    expect(viewer.connected).toBe(true);
    agent.close();
    viewer.close();
  }, 90_000);
});
