import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, CANARY, api, loginAs, startTestServer, type TestServer } from '../testing/test-server.ts';
import { agentQuery, connect, connectKeyedAgent, consoleTicket, createAgentKey, next, probe, viewerToken, type PlaneName } from '../testing/clients.ts';

let s: TestServer;
let admin: string;
let liveKey: string;
let sessionA: string;
let sessionB: string;
const ctx: Record<string, string> = {};

beforeAll(async () => {
  s = await startTestServer({ env: { BLOCK_THRESHOLD: '1000' } });
  admin = await loginAs(s.url, 'admin', ADMIN_PASSWORD);
  liveKey = (await createAgentKey(s, admin, 'live')).key;
  const a = await connectKeyedAgent(s, liveKey);
  sessionA = a.welcome.sessionId;
  const b = await connectKeyedAgent(s, (await createAgentKey(s, admin, 'b')).key);
  sessionB = b.welcome.sessionId;

  const revoked = await createAgentKey(s, admin, 'revoked');
  await api(s.url, 'DELETE', `/api/agent-keys/${revoked.id}`, { token: admin });
  ctx.revokedKey = revoked.key;

  // A key whose machine has been removed cannot be resolved.
  const orphan = await createAgentKey(s, admin, 'orphan');
  const om = await connectKeyedAgent(s, orphan.key);
  om.socket.close();
  await s.tdb.db.prisma.machine.update({ where: { id: om.welcome.machineId }, data: { removedAt: new Date() } });
  ctx.orphanKey = orphan.key;

  const mkCode = async () => (await api(s.url, 'POST', '/api/support-codes', { token: admin, body: { label: 'x' } })).body.code as string;
  ctx.expiredCode = await mkCode();
  await s.tdb.db.prisma.supportCode.updateMany({ where: { code: ctx.expiredCode }, data: { expiresAt: new Date(Date.now() - 1000) } });
  ctx.cancelledCode = await mkCode();
  await api(s.url, 'POST', `/api/support-codes/${ctx.cancelledCode}/cancel`, { token: admin });
  ctx.usedCode = await mkCode();
  const used = await connect(s.url, 'agent', agentQuery({ support_code: ctx.usedCode }));
  await next(used, 'session:welcome');
  ctx.unusedCode = String((Number(ctx.usedCode) + 500_000) % 1_000_000).padStart(6, '0');

  ctx.login = admin;
  ctx.viewerA = await viewerToken(s, admin, sessionA);
  const tech = await api(s.url, 'POST', '/api/users', { token: admin, body: { username: 'tech', password: `${CANARY}-tech-pw-01`, permissions: ['view'] } });
  expect(tech.status).toBe(201);
  ctx.wrongSig = `${ctx.viewerA.split('.').slice(0, 2).join('.')}.${'A'.repeat(43)}`;
  const used1 = await consoleTicket(s, admin);
  (await connect(s.url, 'console', { ticket: used1 })).close();
  ctx.usedTicket = used1;
});
afterAll(async () => s?.close());

type Row = [what: string, plane: PlaneName, query: () => Record<string, string>, status: number, code: string, headers?: Record<string, string>];

const rows: Row[] = [
  ['agent: no credential', 'agent', () => agentQuery({}), 401, 'ERR_AUTH_REQUIRED'],
  ['agent: a support code never issued', 'agent', () => agentQuery({ support_code: ctx.unusedCode! }), 401, 'ERR_SUPPORT_CODE_INVALID'],
  ['agent: a malformed support code', 'agent', () => agentQuery({ support_code: '12ab56' }), 401, 'ERR_SUPPORT_CODE_INVALID'],
  ['agent: an expired support code', 'agent', () => agentQuery({ support_code: ctx.expiredCode! }), 401, 'ERR_SUPPORT_CODE_EXPIRED'],
  ['agent: a cancelled support code', 'agent', () => agentQuery({ support_code: ctx.cancelledCode! }), 401, 'ERR_SUPPORT_CODE_CANCELLED'],
  ['agent: an already used support code (single use)', 'agent', () => agentQuery({ support_code: ctx.usedCode! }), 401, 'ERR_SUPPORT_CODE_USED'],
  ['agent: an unknown agent key', 'agent', () => agentQuery({ api_key: `cak_${'x'.repeat(43)}` }), 401, 'ERR_AGENT_KEY_INVALID'],
  ['agent: a revoked agent key', 'agent', () => agentQuery({ api_key: ctx.revokedKey! }), 401, 'ERR_AGENT_KEY_INVALID'],
  ['agent: a login JWT as api_key (no JWT branch)', 'agent', () => agentQuery({ api_key: ctx.login! }), 401, 'ERR_AGENT_KEY_INVALID'],
  ['agent: a viewer JWT as api_key', 'agent', () => agentQuery({ api_key: ctx.viewerA! }), 401, 'ERR_AGENT_KEY_INVALID'],
  ['agent: a valid key whose machine cannot be resolved', 'agent', () => agentQuery({ api_key: ctx.orphanKey! }), 503, 'ERR_AGENT_MACHINE_UNRESOLVED'],
  ['agent: both support_code and api_key', 'agent', () => agentQuery({ api_key: liveKey, support_code: '123456' }), 400, 'ERR_VALIDATION'],
  ['agent: a protocol mismatch', 'agent', () => agentQuery({ api_key: liveKey, protocol: '999' }), 400, 'ERR_PROTOCOL_VERSION'],
  ['agent: a malformed agent_id', 'agent', () => agentQuery({ api_key: liveKey, agent_id: '<script>' }), 400, 'ERR_VALIDATION'],
  ['agent: an HTML name is refused, never stored', 'agent', () => agentQuery({ api_key: liveKey, name: 'x'.repeat(500) }), 400, 'ERR_VALIDATION'],
  ['viewer: no token', 'viewer', () => ({ session_id: sessionA }), 401, 'ERR_AUTH_REQUIRED'],
  ['viewer: a login token on the viewer plane', 'viewer', () => ({ token: ctx.login!, session_id: sessionA }), 401, 'ERR_AUTH_WRONG_TOKEN_KIND'],
  ['viewer: a viewer token with a wrong signature', 'viewer', () => ({ token: ctx.wrongSig!, session_id: sessionA }), 401, 'ERR_AUTH_INVALID_TOKEN'],
  ['viewer: a token for session A used on session B', 'viewer', () => ({ token: ctx.viewerA!, session_id: sessionB }), 403, 'ERR_SESSION_WRONG_SESSION'],
  ['viewer: an agent key as viewer token', 'viewer', () => ({ token: liveKey, session_id: sessionA }), 401, 'ERR_AUTH_INVALID_TOKEN'],
  ['viewer: a foreign Origin (cross-site WebSocket hijacking)', 'viewer', () => ({ token: ctx.viewerA!, session_id: sessionA }), 403, 'ERR_AUTH_ORIGIN_FORBIDDEN', { origin: 'https://evil.example' }],
  ['viewer: a malformed session id', 'viewer', () => ({ token: ctx.viewerA!, session_id: 'nope' }), 400, 'ERR_VALIDATION'],
  ['viewer: relay_acks other than 1', 'viewer', () => ({ token: ctx.viewerA!, session_id: sessionA, relay_acks: 'yes' }), 400, 'ERR_VALIDATION'],
  ['console: no ticket', 'console', () => ({}), 401, 'ERR_AUTH_REQUIRED'],
  ['console: a used ticket (single use)', 'console', () => ({ ticket: ctx.usedTicket! }), 401, 'ERR_AUTH_INVALID_TICKET'],
  ['console: a login token instead of a ticket', 'console', () => ({ ticket: ctx.login!.slice(0, 100) }), 401, 'ERR_AUTH_INVALID_TICKET'],
  ['console: a foreign Origin', 'console', () => ({ ticket: 'gct_x' }), 403, 'ERR_AUTH_ORIGIN_FORBIDDEN', { origin: 'http://localhost.evil.example' }],
];

describe.each(['polling', 'websocket'] as const)('handshake refusals over %s: status, code, never 101', (mode) => {
  it.each(rows)('%s', async (_what, plane, query, status, code, headers) => {
    const r = await probe(s.url, plane, { protocol: '1', ...query() }, mode, headers);
    expect(r.upgraded).toBe(false);
    expect(r.status).toBe(status);
    expect(r.body.error.code).toBe(code);
  });
});

describe('accepted handshakes', () => {
  it('a live agent key upgrades to a WebSocket (101)', async () => {
    const r = await probe(s.url, 'agent', { protocol: '1', ...agentQuery({ api_key: liveKey }) }, 'websocket');
    expect(r.status).toBe(101);
  });

  it('a viewer with its own session token and the right Origin connects', async () => {
    const socket = await connect(s.url, 'viewer', { token: await viewerToken(s, admin, sessionA), session_id: sessionA }, { origin: s.config.PUBLIC_URL });
    expect((await next(socket, 'session:welcome')).sessionId).toBe(sessionA);
    socket.close();
  });

  it('a console ticket works once, over polling too', async () => {
    const socket = await connect(s.url, 'console', { ticket: await consoleTicket(s, admin) }, { transports: ['polling'] });
    expect((await next(socket, 'console:welcome')).userId).toBeTypeOf('string');
    socket.close();
  });

  it('a viewer token for a removed session is refused with 404', async () => {
    const token = await viewerToken(s, admin, sessionB);
    await api(s.url, 'DELETE', `/api/sessions/${sessionB}`, { token: admin });
    const r = await probe(s.url, 'viewer', { protocol: '1', token, session_id: sessionB }, 'websocket');
    expect(r.status).toBe(404);
  });
});

describe('refusals are audited with reason and client IP', () => {
  it.each([
    ['connection_rejected_invalid_code'],
    ['connection_rejected_expired_code'],
    ['connection_rejected_cancelled_code'],
    ['connection_rejected_invalid_api_key'],
    ['connection_rejected_invalid_token'],
    ['connection_rejected_wrong_session'],
    ['connection_rejected_no_auth'],
    ['connection_rejected_origin'],
    ['connection_rejected_unresolved_machine'],
  ])('%s', async (type) => {
    const rows = await s.tdb.db.prisma.auditEvent.findMany({ where: { type } });
    expect(rows.length).toBeGreaterThan(0);
    expect(rows[0]!.clientIp).toBe('127.0.0.1');
    expect(JSON.stringify(rows[0]!.details)).toMatch(/"plane"/);
  });
});

describe('IP blocking on the planes', () => {
  it('a blocked IP gets 429 with Retry-After before any credential work', async () => {
    const t = await startTestServer({ env: { BLOCK_THRESHOLD: '2', TRUSTED_PROXIES: '127.0.0.1' } });
    try {
      const xff = { 'x-forwarded-for': '203.0.113.77' };
      for (let i = 0; i < 3; i++) await probe(t.url, 'agent', { protocol: '1', ...agentQuery({ support_code: '000001' }) }, 'websocket', xff);
      const r = await probe(t.url, 'agent', { protocol: '1', ...agentQuery({ api_key: `cak_${randomUUID()}` }) }, 'websocket', xff);
      expect(r.status).toBe(429);
      expect(r.body.error.code).toBe('ERR_AUTH_IP_BLOCKED');
    } finally {
      await t.close();
    }
  });
});
