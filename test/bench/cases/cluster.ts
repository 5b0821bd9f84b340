import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Metric } from '../lib/metric.ts';
import { startRole } from '../lib/roles.ts';
import { ADMIN_PASSWORD, startServerProcess, type ServerProcess } from '../../support/server-process.ts';
import type { CaseOptions } from './relay.ts';

const PG = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';
const REDIS = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const SHARED_KEY = 'Qw7#Zt2!Lp9@Xn4$Rv8%Kb3^Md6&Jh1*Fs5';
const MB = 1024 * 1024;

async function post(url: string, token: string | null, body?: unknown) {
  const r = await fetch(url, { method: 'POST', headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  return (await r.json()) as Record<string, string>;
}

async function withCluster<T>(nodes: number, fn: (servers: ServerProcess[]) => Promise<T>): Promise<T> {
  const db = `gc_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${db}`);
  const u = new URL(PG);
  u.pathname = `/${db}`;
  const env = { DATABASE_URL: u.toString(), REDIS_URL: REDIS, CLUSTER_NAME: db, LOG_LEVEL: 'warn', AGENT_API_KEY: SHARED_KEY, BLOCK_THRESHOLD: '100000' };
  const servers: ServerProcess[] = [];
  try {
    for (let i = 0; i < nodes; i++) servers.push(await startServerProcess({ env: { ...env, NODE_ID: `bench-${i}` } }));
    return await fn(servers);
  } finally {
    await Promise.allSettled(servers.map((s) => s.stop()));
    await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await admin.end();
  }
}

async function handshakesPerS(servers: ServerProcess[], total: number): Promise<number> {
  const t0 = performance.now();
  const swarms = servers.map((s, i) => startRole('agent-swarm', { url: s.url, key: SHARED_KEY, count: Math.floor(total / servers.length), concurrency: 25, offset: i * total }));
  const r = await Promise.all(swarms.map((s) => s.next<{ welcomed: number }>('connected', 300_000)));
  const rate = r.reduce((n, x) => n + x.welcomed, 0) / ((performance.now() - t0) / 1000);
  await Promise.all(swarms.map((s) => s.stop()));
  return rate;
}

async function relayMBps(agentNode: ServerProcess, viewerNode: ServerProcess, durationMs: number): Promise<number> {
  const token = (await post(`${agentNode.url}/api/auth/login`, null, { username: 'admin', password: ADMIN_PASSWORD })).token!;
  const key = (await post(`${agentNode.url}/api/agent-keys`, token, { name: 'bench' })).key!;
  const agent = startRole('gc-endpoint', { url: agentNode.url, mode: 'agent', key, durationMs, workload: 'frames' });
  const { sessionId } = await agent.next<{ sessionId: string }>('ready');
  const vt = (await post(`${viewerNode.url}/api/sessions/${sessionId}/viewer-token`, token)).token!;
  const viewer = startRole('gc-endpoint', { url: viewerNode.url, mode: 'viewer', token: vt, sessionId, durationMs, workload: 'frames' });
  const r = await viewer.next<{ bytes: number; ms: number }>('result');
  await Promise.all([agent.stop(), viewer.stop()]);
  return r.bytes / MB / (r.ms / 1000);
}

/** Handshakes/s and relayed MB/s on one node vs two nodes (PostgreSQL + Redis). */
export async function clusterScaling(o: CaseOptions): Promise<Metric[]> {
  const total = o.quick ? 20 : 1000;
  const durationMs = o.quick ? 700 : 5000;
  const measureOne = async (a: ServerProcess) => ({ hs: await handshakesPerS([a], total), relay: await relayMBps(a, a, durationMs) });
  const measureTwo = async (a: ServerProcess, b: ServerProcess) => ({ hs: await handshakesPerS([a, b], total), relay: await relayMBps(a, b, durationMs) });
  // Quick mode: one two-node cluster, the single-node figures on node A alone (starting clusters is most of the time).
  const { one, two } = o.quick
    ? await withCluster(2, async ([a, b]) => ({ one: await measureOne(a!), two: await measureTwo(a!, b!) }))
    : { one: await withCluster(1, async ([a]) => measureOne(a!)), two: await withCluster(2, async ([a, b]) => measureTwo(a!, b!)) };
  return [
    { name: 'cluster_handshakes', value: two.hs / one.hs, unit: 'ratio', baseline: { value: one.hs, unit: 'handshakes/s', what: 'one node' }, target: 'report', pass: null, reps: 1, spread: 0, details: { twoNodes: Number(two.hs.toFixed(0)) } },
    { name: 'cluster_relay', value: two.relay / one.relay, unit: 'ratio', baseline: { value: one.relay, unit: 'MB/s', what: 'relay on one node' }, target: 'report', pass: null, reps: 1, spread: 0, details: { crossNodeMBps: Number(two.relay.toFixed(1)) } },
  ];
}
