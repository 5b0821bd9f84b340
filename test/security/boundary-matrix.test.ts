// The server's trust boundaries, black-box: one table, one row per way to try to cross, each against a
// running server over real HTTP and WebSocket. Every row names what it proves; after every row the
// server must still answer `/healthz`. Rows that expect a refusal come from their own loopback address,
// so the failures they count towards IP blocking never leak into another row.
import { createHmac, generateKeyPairSync, randomUUID, sign as rsaSign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Socket } from 'socket.io-client';
import { AGENT_MAX_MESSAGE_BYTES, CONSOLE_MAX_MESSAGE_BYTES, VIEWER_MAX_MESSAGE_BYTES } from '@guruconnect/shared/limits';
import { ADMIN_PASSWORD, CANARY, TEST_JWT_SECRET, api, loginAs, startTestServer, type TestServer } from '../../signaling/src/testing/test-server.ts';
import { agentQuery, call, closed, connect, connectKeyedAgent, connectViewer, consoleTicket, createAgentKey, next, received, viewerToken } from '../../signaling/src/testing/clients.ts';
import { JWT_AUDIENCE_API, JWT_AUDIENCE_VIEWER, JWT_ISSUER } from '../../signaling/src/identity/tokens.ts';
import {
  MiB,
  RawClient,
  eventually,
  freshSource,
  healthy,
  heapAfterGc,
  http,
  probe,
  rawHttp,
  readFrames,
  sleep,
  upgradeHead,
  watchProcessFaults,
  wsFrame,
  type PlaneName,
  type ProbeResult,
} from './harness.ts';

let s: TestServer;
let base: string;
let admin: string;
let adminId: string;
let adminJti: string;
let tech: string;
let watcher: string;
let techB: string;
let agentA: { socket: Socket; welcome: { sessionId: string; machineId: string } };
let agentB: { socket: Socket; welcome: { sessionId: string; machineId: string } };
let sessionA: string;
let sessionB: string;
const codes: Record<string, string> = {};
const faults = watchProcessFaults();

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const nowS = () => Math.floor(Date.now() / 1000);
const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

/** A JWT with any header and payload, HMAC-signed with `secret` (our own secret by default). */
function jwt(header: Record<string, unknown>, payload: Record<string, unknown>, secret: string | Buffer = TEST_JWT_SECRET, hash = 'sha256'): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac(hash, secret).update(input).digest('base64url')}`;
}
const loginClaims = (over: Record<string, unknown> = {}) => ({ sub: adminId, jti: randomUUID(), purpose: 'login', role: 'admin', iss: JWT_ISSUER, aud: JWT_AUDIENCE_API, iat: nowS(), exp: nowS() + 600, ...over });
const viewerClaims = (over: Record<string, unknown> = {}) => ({
  sub: adminId,
  jti: randomUUID(),
  purpose: 'viewer',
  session_id: sessionA,
  parent_jti: adminJti,
  control: true,
  iss: JWT_ISSUER,
  aud: JWT_AUDIENCE_VIEWER,
  iat: nowS(),
  exp: nowS() + 300,
  ...over,
});
const HS256 = { alg: 'HS256', typ: 'JWT' };

/** A refused handshake: the status and code, and never `101 Switching Protocols`. */
function expectRefused(r: ProbeResult, status: number, code?: string): void {
  expect(r.upgraded, 'upgraded to a WebSocket').toBe(false);
  expect(r.status).toBe(status);
  if (code) expect(r.body?.error?.code).toBe(code);
}
const handshake = (plane: PlaneName, query: Record<string, string>, o: { origin?: string; mode?: 'polling' | 'websocket'; from?: string } = {}) =>
  probe(base, plane, query, o.mode ?? 'websocket', { from: o.from ?? freshSource(), headers: o.origin ? { origin: o.origin } : {} });
/** An HTTP API call with a login token, from a fresh address. */
const apiAs = (token: string | undefined, method: string, path: string, body?: unknown) => http(base, method, path, { token, body, from: freshSource() });

async function newCode(token = tech): Promise<string> {
  const r = await api(base, 'POST', '/api/support-codes', { token, body: {} });
  expect(r.status).toBe(201);
  return r.body.code as string;
}
/** Six-digit codes that no support code in the database has. */
async function unusedCodes(n: number): Promise<string[]> {
  const live = new Set((await s.tdb.db.prisma.supportCode.findMany({ select: { code: true } })).map((c) => c.code));
  const out: string[] = [];
  for (let c = 100_000 + Math.floor(Math.random() * 800_000); out.length < n; c = (c + 7919) % 1_000_000) if (c >= 100_000 && !live.has(String(c))) out.push(String(c));
  return out;
}
async function newUser(username: string, permissions: string[]): Promise<{ id: string; password: string; token: string }> {
  const password = `${CANARY}-${username}-pw`;
  const r = await api(base, 'POST', '/api/users', { token: admin, body: { username, password, permissions } });
  expect(r.status).toBe(201);
  return { id: r.body.id as string, password, token: await loginAs(base, username, password) };
}
const openConsole = async (login: string) => connect(base, 'console', { ticket: await consoleTicket(s, login) });
const rawConsole = async (login = admin) => RawClient.open(base, 'console', { ticket: await consoleTicket(s, login) });
/** Sockets a row opened; closed after the row whatever happened. */
const opened: Array<{ close(): void }> = [];
const keep = <T extends { close(): void }>(x: T): T => (opened.push(x), x);

const FILE_MARKERS = [/"workspaces"/, /"name":\s*"guruconnect"/, /root:x:0:0/, /\[boot loader\]/i, /JWT_SECRET=/];
const noFileContents = (text: string) => FILE_MARKERS.every((m) => !m.test(text));

/** A WebSocket handshake written by hand on TCP, then socket.io CONNECT; returns the open socket. */
async function rawTcpSocketIo(plane: PlaneName, query: Record<string, string>) {
  const up = await rawHttp(base, upgradeHead(base, plane, query));
  expect(up.status).toBe(101);
  const frames = () => [...readFrames(up.received())].map((f) => (f.opcode === 1 ? f.payload.toString('utf8') : f.payload));
  expect(await eventually(() => frames().some((f) => typeof f === 'string' && f.startsWith('0{')))).toBe(true);
  up.socket.write(wsFrame(1, Buffer.from('40'), true));
  expect(await eventually(() => frames().some((f) => typeof f === 'string' && f.startsWith('40{')))).toBe(true);
  return up;
}

/** Streams 1-byte text fragments without FIN until the server closes the connection or `limit` is passed. */
async function fragmentFlood(plane: PlaneName, query: Record<string, string>, limit: number): Promise<{ sent: number; closedByServer: boolean }> {
  const up = await rawTcpSocketIo(plane, query);
  let gone = false;
  void up.ended.then(() => (gone = true));
  up.socket.on('error', () => (gone = true));
  let sent = 0;
  const one = Buffer.from('4');
  up.socket.write(wsFrame(1, one, false));
  sent++;
  while (!gone && sent <= limit) {
    const batch: Buffer[] = [];
    for (let i = 0; i < 2048 && sent <= limit; i++, sent++) batch.push(wsFrame(0, one, false));
    if (!up.socket.write(Buffer.concat(batch))) await Promise.race([new Promise((r) => up.socket.once('drain', r)), up.ended]);
    await sleep(0);
  }
  const closedByServer = gone || (await Promise.race([up.ended.then(() => true), sleep(3000).then(() => false)]));
  up.socket.destroy();
  return { sent, closedByServer };
}

interface Row {
  name: string;
  run(): Promise<void>;
}
const rows: Row[] = [];
const row = (name: string, run: () => Promise<void>) => rows.push({ name, run });

// ---- tokens on the wrong plane, wrong session, wrong signature --------------------------------------

row('a login token on /ws/viewer is refused with 401 (and never upgraded)', async () => {
  expectRefused(await handshake('viewer', { token: admin, session_id: sessionA }), 401, 'ERR_AUTH_WRONG_TOKEN_KIND');
  expectRefused(await handshake('viewer', { token: admin, session_id: sessionA }, { mode: 'polling' }), 401, 'ERR_AUTH_WRONG_TOKEN_KIND');
});
row('a viewer token for session A is refused on session B with 403', async () => {
  expectRefused(await handshake('viewer', { token: await viewerToken(s, admin, sessionA), session_id: sessionB }), 403, 'ERR_SESSION_WRONG_SESSION');
});
row('a login JWT offered as an agent api_key is refused with 401 (no JWT branch on the agent plane)', async () => {
  expectRefused(await handshake('agent', agentQuery({ api_key: admin })), 401, 'ERR_AGENT_KEY_INVALID');
});
row('a viewer token with a wrong signature is refused with 401', async () => {
  const t = await viewerToken(s, admin, sessionA);
  expectRefused(await handshake('viewer', { token: `${t.split('.').slice(0, 2).join('.')}.${'A'.repeat(43)}`, session_id: sessionA }), 401, 'ERR_AUTH_INVALID_TOKEN');
});
row('a login token with a wrong signature is refused by the HTTP API with 401', async () => {
  const r = await apiAs(jwt(HS256, loginClaims(), 'another-secret-that-is-long-enough!!'), 'GET', '/api/auth/me');
  expect(r.status).toBe(401);
  expect(r.body.error.code).toBe('ERR_AUTH_INVALID_TOKEN');
});
row('the control: a correctly forged login token is accepted (the JWT rows fail for their own reason)', async () => {
  expect((await apiAs(jwt(HS256, loginClaims()), 'GET', '/api/auth/me')).status).toBe(200);
});

// ---- JWT classes ------------------------------------------------------------------------------------

const jwtRows: Array<[string, () => string, string]> = [
  ['alg "none" with an empty signature', () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(loginClaims())}.`, 'ERR_AUTH_INVALID_TOKEN'],
  ['alg "None"/"NONE" spelled differently', () => `${b64({ alg: 'NONE' })}.${b64(loginClaims())}.${'A'.repeat(43)}`, 'ERR_AUTH_INVALID_TOKEN'],
  ['algorithm confusion: RS256 header with a real RSA signature', () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const input = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64(loginClaims())}`;
    return `${input}.${rsaSign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
  }, 'ERR_AUTH_INVALID_TOKEN'],
  ['algorithm confusion: HS256 keyed with a public key PEM', () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    return jwt(HS256, loginClaims(), publicKey.export({ type: 'spki', format: 'pem' }) as string);
  }, 'ERR_AUTH_INVALID_TOKEN'],
  ['HS512 correctly signed with our own secret (algorithm pinned to HS256)', () => jwt({ alg: 'HS512' }, loginClaims(), TEST_JWT_SECRET, 'sha512'), 'ERR_AUTH_INVALID_TOKEN'],
  ['a forged kid (path traversal) signed with an empty key', () => jwt({ ...HS256, kid: '../../../../dev/null' }, loginClaims(), ''), 'ERR_AUTH_INVALID_TOKEN'],
  ['a kid naming a key that does not exist, otherwise valid', () => jwt({ ...HS256, kid: 'key-2024' }, loginClaims()), 'ERR_AUTH_INVALID_TOKEN'],
  ['no kid and a guessed secret', () => jwt(HS256, loginClaims(), 'secret'), 'ERR_AUTH_INVALID_TOKEN'],
  ['an embedded jwk carrying the attacker’s key', () => jwt({ ...HS256, jwk: { kty: 'oct', k: Buffer.from('attacker').toString('base64url') } }, loginClaims(), 'attacker'), 'ERR_AUTH_INVALID_TOKEN'],
  ['an expired token', () => jwt(HS256, loginClaims({ iat: nowS() - 1000, exp: nowS() - 100 })), 'ERR_AUTH_TOKEN_EXPIRED'],
  ['a not-yet-valid token (nbf in an hour)', () => jwt(HS256, loginClaims({ nbf: nowS() + 3600 })), 'ERR_AUTH_INVALID_TOKEN'],
  ['a wrong issuer', () => jwt(HS256, loginClaims({ iss: 'evil' })), 'ERR_AUTH_INVALID_TOKEN'],
  ['a wrong audience', () => jwt(HS256, loginClaims({ aud: 'guruconnect:admin' })), 'ERR_AUTH_WRONG_TOKEN_KIND'],
  ['an oversized token (over 8 KiB)', () => jwt(HS256, loginClaims({ pad: 'x'.repeat(9000) })), 'ERR_AUTH_INVALID_TOKEN'],
  ['duplicate claims (a second "role")', () => {
    const payload = JSON.stringify(loginClaims({ role: 'technician' })).replace(/^\{/, '{"role":"admin",');
    const input = `${b64(HS256)}.${Buffer.from(payload).toString('base64url')}`;
    return `${input}.${createHmac('sha256', TEST_JWT_SECRET).update(input).digest('base64url')}`;
  }, 'ERR_AUTH_INVALID_TOKEN'],
  ['a __proto__ claim', () => {
    const payload = JSON.stringify(loginClaims()).replace(/^\{/, '{"__proto__":{"role":"admin"},');
    const input = `${b64(HS256)}.${Buffer.from(payload).toString('base64url')}`;
    return `${input}.${createHmac('sha256', TEST_JWT_SECRET).update(input).digest('base64url')}`;
  }, 'ERR_AUTH_INVALID_TOKEN'],
];
for (const [what, make, code] of jwtRows) {
  row(`JWT class on the HTTP API — ${what} — is refused with 401`, async () => {
    const r = await apiAs(make(), 'GET', '/api/users');
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe(code);
  });
}
row('JWT classes on /ws/viewer — alg none, expired, not-yet-valid, wrong iss, forged kid — are refused with 401 and never upgraded', async () => {
  const tokens = [
    `${b64({ alg: 'none' })}.${b64(viewerClaims())}.`,
    jwt(HS256, viewerClaims({ iat: nowS() - 1000, exp: nowS() - 100 })),
    jwt(HS256, viewerClaims({ nbf: nowS() + 3600 })),
    jwt(HS256, viewerClaims({ iss: 'evil' })),
    jwt({ ...HS256, kid: '../../dev/null' }, viewerClaims(), ''),
    jwt(HS256, viewerClaims({ aud: JWT_AUDIENCE_API })),
  ];
  for (const token of tokens) expectRefused(await handshake('viewer', { token, session_id: sessionA }), 401);
  // The control: the same claims, correctly signed, connect.
  const ok = await probe(base, 'viewer', { token: jwt(HS256, viewerClaims()), session_id: sessionA }, 'websocket');
  expect(ok.status).toBe(101);
});

// ---- revocation -------------------------------------------------------------------------------------

row('logout revokes the login token and its viewer tokens, and closes its open viewer and console sockets within 1 s', async () => {
  const login = await loginAs(base, 'tech', `${CANARY}-tech-pw`);
  const v = keep((await connectViewer(s, login, sessionA)).socket);
  const c = keep(await openConsole(login));
  const minted = await viewerToken(s, login, sessionA);
  expect((await api(base, 'POST', '/api/auth/logout', { token: login })).status).toBe(200);
  await Promise.all([closed(v, 1000), closed(c, 1000)]);
  expect((await apiAs(login, 'GET', '/api/auth/me')).body.error.code).toBe('ERR_AUTH_TOKEN_REVOKED');
  expectRefused(await handshake('viewer', { token: minted, session_id: sessionA }), 401, 'ERR_AUTH_TOKEN_REVOKED');
});
row('logout-all kills every token of the caller and closes sockets opened with any of them within 1 s', async () => {
  const u = await newUser('multi', ['view']);
  const other = await loginAs(base, 'multi', u.password);
  const c = keep(await openConsole(other));
  const spare = await consoleTicket(s, other);
  expect((await api(base, 'POST', '/api/auth/logout-all', { token: u.token })).status).toBe(200);
  await closed(c, 1000);
  for (const t of [u.token, other]) expect((await apiAs(t, 'GET', '/api/auth/me')).body.error.code).toBe('ERR_AUTH_TOKEN_REVOKED');
  expectRefused(await handshake('console', { ticket: spare }), 401, 'ERR_AUTH_TOKEN_REVOKED');
});
row('disabling a user refuses their tokens and sign-in, and closes their open viewer and console sockets within 1 s', async () => {
  const u = await newUser('to-disable', ['view']);
  const v = keep((await connectViewer(s, u.token, sessionA)).socket);
  const c = keep(await openConsole(u.token));
  expect((await api(base, 'PATCH', `/api/users/${u.id}`, { token: admin, body: { disabled: true } })).status).toBe(200);
  await Promise.all([closed(v, 1000), closed(c, 1000)]);
  expect((await apiAs(u.token, 'GET', '/api/auth/me')).status).toBe(401);
  const again = await http(base, 'POST', '/api/auth/login', { body: { username: 'to-disable', password: u.password }, from: freshSource() });
  expect(again.status).toBe(401);
  expect(again.body.error.code).toBe('ERR_AUTH_USER_DISABLED');
});
row('revoking an agent key closes the agent’s open socket within 1 s and refuses the key afterwards', async () => {
  const key = await createAgentKey(s, admin, 'to-revoke');
  const a = await connectKeyedAgent(s, key.key);
  keep(a.socket);
  expect((await api(base, 'DELETE', `/api/agent-keys/${key.id}`, { token: admin })).status).toBe(200);
  await closed(a.socket, 1000);
  expectRefused(await handshake('agent', agentQuery({ api_key: key.key })), 401, 'ERR_AGENT_KEY_INVALID');
});
row('a console ticket is single use and dies with the login it came from', async () => {
  const login = await loginAs(base, 'tech', `${CANARY}-tech-pw`);
  const ticket = await consoleTicket(s, login);
  const spare = await consoleTicket(s, login);
  keep(await connect(base, 'console', { ticket }));
  expectRefused(await handshake('console', { ticket }), 401, 'ERR_AUTH_INVALID_TICKET');
  await api(base, 'POST', '/api/auth/logout', { token: login });
  expectRefused(await handshake('console', { ticket: spare }), 401, 'ERR_AUTH_TOKEN_REVOKED');
});

// ---- support codes ----------------------------------------------------------------------------------

for (const [what, key, code] of [
  ['a cancelled', 'cancelled', 'ERR_SUPPORT_CODE_CANCELLED'],
  ['an expired', 'expired', 'ERR_SUPPORT_CODE_EXPIRED'],
  ['an already used (single use)', 'used', 'ERR_SUPPORT_CODE_USED'],
  ['a guessed (never issued)', 'guessed', 'ERR_SUPPORT_CODE_INVALID'],
] as const) {
  row(`${what} support code is refused on /ws/agent with 401 and never upgraded`, async () => {
    expectRefused(await handshake('agent', agentQuery({ support_code: codes[key]! })), 401, code);
  });
}
row('repeated support-code guesses on /ws/agent block the address: then even a valid code gets 429, and stays unused', async () => {
  const from = freshSource();
  const valid = await newCode();
  for (const guess of await unusedCodes(6)) expectRefused(await handshake('agent', agentQuery({ support_code: guess }), { from }), 401, 'ERR_SUPPORT_CODE_INVALID');
  expectRefused(await handshake('agent', agentQuery({ support_code: valid }), { from }), 429, 'ERR_AUTH_IP_BLOCKED');
  expect((await api(base, 'GET', `/api/join/${valid}`)).body.usable).toBe(true);
});
row('repeated GET /api/join/:code guesses block the address: then even a valid code gets 429', async () => {
  const from = freshSource();
  const valid = await newCode();
  for (const guess of await unusedCodes(6)) expect((await http(base, 'GET', `/api/join/${guess}`, { from })).status).toBe(404);
  const r = await http(base, 'GET', `/api/join/${valid}`, { from });
  expect(r.status).toBe(429);
  expect(r.body.error.code).toBe('ERR_AUTH_IP_BLOCKED');
  expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
});

// ---- machine_uid dedup --------------------------------------------------------------------------------

row('a keyed agent claiming another machine’s machine_uid gets its own machine; the other is untouched', async () => {
  const uid = `uid-${randomUUID()}`;
  const y = keep(await connect(base, 'agent', agentQuery({ support_code: await newCode(), machine_uid: uid, name: 'Machine Y' })));
  const yw = await next(y, 'session:welcome');
  const before = await s.tdb.db.prisma.machine.findUnique({ where: { id: yw.machineId } });
  const spoof = await connectKeyedAgent(s, (await createAgentKey(s, admin, 'spoofer')).key, { machine_uid: uid, name: 'Spoofer' });
  keep(spoof.socket);
  expect(spoof.welcome.machineId).not.toBe(yw.machineId);
  expect(await s.tdb.db.prisma.machine.findUnique({ where: { id: yw.machineId } })).toEqual(before);
  expect(y.connected).toBe(true);
});
row('an un-keyed machine_uid collision with a live agent can only deny: 409, the live agent stays, its machine keeps its name', async () => {
  const uid = `uid-${randomUUID()}`;
  const first = keep(await connect(base, 'agent', agentQuery({ support_code: await newCode(), machine_uid: uid, name: 'Real' })));
  const fw = await next(first, 'session:welcome');
  expectRefused(await handshake('agent', agentQuery({ support_code: await newCode(), machine_uid: uid, name: 'Evil' })), 409, 'ERR_AGENT_UID_IN_USE');
  await sleep(50);
  expect(first.connected).toBe(true);
  expect((await s.tdb.db.prisma.machine.findUnique({ where: { id: fw.machineId } }))?.name).toBe('Real');
});
row('two un-keyed agents racing for one machine_uid: one is refused, neither is superseded by the other', async () => {
  const uid = `uid-${randomUUID()}`;
  const [c1, c2] = [await newCode(), await newCode()];
  const results = await Promise.allSettled([connect(base, 'agent', agentQuery({ support_code: c1, machine_uid: uid })), connect(base, 'agent', agentQuery({ support_code: c2, machine_uid: uid }))]);
  const sockets = results.flatMap((r) => (r.status === 'fulfilled' ? [keep(r.value)] : []));
  await sleep(300);
  expect(sockets.filter((x) => x.connected)).toHaveLength(1);
  for (const x of sockets) expect(received(x, 'server:disconnect')).toEqual([]);
});

// ---- removal by non-admins ----------------------------------------------------------------------------

row('a technician cannot remove a machine, a session or machines in bulk (403); nothing changes', async () => {
  const a = await connectKeyedAgent(s, (await createAgentKey(s, admin, 'rm-target')).key);
  keep(a.socket);
  for (const [method, path, body] of [
    ['DELETE', `/api/machines/${a.welcome.machineId}`, undefined],
    ['DELETE', `/api/sessions/${a.welcome.sessionId}`, undefined],
    ['POST', '/api/machines/bulk-remove', { ids: [a.welcome.machineId] }],
  ] as const) {
    const r = await apiAs(tech, method, path, body);
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('ERR_AUTH_FORBIDDEN');
  }
  expect(a.socket.connected).toBe(true);
  expect((await s.tdb.db.prisma.machine.findUnique({ where: { id: a.welcome.machineId } }))?.removedAt).toBeNull();
  expect((await s.tdb.db.prisma.session.findUnique({ where: { id: a.welcome.sessionId } }))?.status).toBe('online');
});
row('an anonymous caller cannot remove anything (401)', async () => {
  for (const [method, path] of [['DELETE', `/api/machines/${agentA.welcome.machineId}`], ['DELETE', `/api/sessions/${sessionA}`], ['POST', '/api/machines/bulk-remove']] as const) {
    expect((await apiAs(undefined, method, path, method === 'POST' ? { ids: [agentA.welcome.machineId] } : undefined)).status).toBe(401);
  }
  expect(agentA.socket.connected).toBe(true);
});
row('a technician cannot revoke another user’s tokens or unblock addresses (403)', async () => {
  expect((await apiAs(tech, 'POST', `/api/users/${adminId}/revoke-tokens`)).status).toBe(403);
  expect((await apiAs(tech, 'DELETE', '/api/blocked-ips/127.10.0.1')).status).toBe(403);
  expect((await apiAs(admin, 'GET', '/api/auth/me')).status).toBe(200);
});

// ---- cross-site WebSocket hijacking -------------------------------------------------------------------

for (const [plane, origin] of [
  ['console', 'https://evil.example'],
  ['viewer', 'https://evil.example'],
  ['console', 'null'],
  ['viewer', 'http://127.0.0.1.evil.example'],
  ['viewer', 'http://127.0.0.1'],
] as const) {
  row(`a foreign Origin (${origin}) on /ws/${plane} is refused with 403 before the upgrade, valid credential or not`, async () => {
    const query: Record<string, string> = plane === 'console' ? { ticket: await consoleTicket(s, admin) } : { token: await viewerToken(s, admin, sessionA), session_id: sessionA };
    expectRefused(await handshake(plane, query, { origin }), 403, 'ERR_AUTH_ORIGIN_FORBIDDEN');
    expectRefused(await handshake(plane, query, { origin, mode: 'polling' }), 403, 'ERR_AUTH_ORIGIN_FORBIDDEN');
  });
}
row('the control: the server’s own Origin is accepted on /ws/viewer', async () => {
  const v = keep(await connect(base, 'viewer', { token: await viewerToken(s, admin, sessionA), session_id: sessionA }, { origin: s.config.PUBLIC_URL }));
  expect((await next(v, 'session:welcome')).sessionId).toBe(sessionA);
});
row('an empty sid= does not skip the handshake check: no credential, foreign Origin → refused, never a 101', async () => {
  expectRefused(await handshake('console', { sid: '' }, { origin: 'https://evil.example' }), 403, 'ERR_AUTH_ORIGIN_FORBIDDEN');
  expectRefused(await handshake('agent', { sid: '' }), 401, 'ERR_AUTH_REQUIRED');
  expectRefused(await handshake('viewer', { sid: '' }, { mode: 'polling' }), 401, 'ERR_AUTH_REQUIRED');
  expectRefused(await handshake('agent', { sid: 'not-a-session' }), 400);
});

// ---- relay input and chat -----------------------------------------------------------------------------

row('a viewer without control cannot send input on the relay path; the agent receives nothing', async () => {
  const w = await connectViewer(s, watcher, sessionA);
  keep(w.socket);
  expect(w.welcome.control).toBe(false);
  const before = received(agentA.socket, 'relay:input').length;
  for (const input of [{ type: 'pointer:move', x: 1, y: 1, t: 1 }, { type: 'key', code: 'KeyA', down: true, t: 2 }, { type: 'text', text: 'rm -rf /', t: 3 }]) {
    expect(await call(w.socket, 'relay:input', input)).toMatchObject({ ok: false, error: { code: 'ERR_INPUT_NOT_ALLOWED' } });
  }
  await sleep(100);
  expect(received(agentA.socket, 'relay:input')).toHaveLength(before);
});
row('chat never crosses sessions: B’s agent, B’s viewer and B’s technician console never see A’s chat', async () => {
  const va = await connectViewer(s, tech, sessionA);
  const vb = await connectViewer(s, techB, sessionB);
  const cb = keep(await openConsole(techB));
  keep(va.socket);
  keep(vb.socket);
  await sleep(50);
  const text = `${CANARY}-chat-${randomUUID()}`;
  expect((await call(va.socket, 'chat:send', { text })).ok).toBe(true);
  expect((await call(agentA.socket, 'chat:send', { text: `${text}-reply` })).ok).toBe(true);
  expect((await next(va.socket, 'chat:message')).text).toBe(text);
  await sleep(150);
  for (const x of [vb.socket, agentB.socket, cb]) expect(received(x, 'chat:message').map((m) => (m as { text: string }).text).filter((t) => t.startsWith(text))).toEqual([]);
});
row('an agent can signal only viewers of its own session', async () => {
  const vb = await connectViewer(s, admin, sessionB);
  keep(vb.socket);
  expect(await call(agentA.socket, 'signal:offer', { to: vb.welcome.viewerId, description: { type: 'offer', sdp: 'v=0' } })).toMatchObject({ ok: false, error: { code: 'ERR_SIGNAL_NOT_ALLOWED' } });
  expect(await call(agentA.socket, 'relay:frame', { to: vb.welcome.viewerId, data: new Uint8Array([1, 2, 0, 0]) })).toMatchObject({ ok: true, data: { delivered: 0 } });
  // Nor throttle another session's viewer: its relay window is its own agent's to cap.
  expect(await call(agentA.socket, 'relay:window', { viewerId: vb.welcome.viewerId, frames: 1 })).toMatchObject({ ok: false, error: { code: 'ERR_SIGNAL_NOT_ALLOWED' } });
  await sleep(100);
  expect(received(vb.socket, 'signal:offer')).toEqual([]);
  expect(received(vb.socket, 'relay:frame')).toEqual([]);
});

// ---- oversized messages -------------------------------------------------------------------------------

row(`an agent message over the agent plane cap (${AGENT_MAX_MESSAGE_BYTES} bytes) closes that socket and is audited`, async () => {
  const a = await connectKeyedAgent(s, (await createAgentKey(s, admin, 'big')).key);
  const before = await s.tdb.db.prisma.auditEvent.count({ where: { type: 'message_too_large' } });
  a.socket.emit('chat:send', { text: 'x'.repeat(AGENT_MAX_MESSAGE_BYTES + 1) });
  await closed(a.socket, 10_000);
  expect(await eventually(async () => (await s.tdb.db.prisma.auditEvent.count({ where: { type: 'message_too_large' } })) > before)).toBe(true);
});
row(`a viewer message over the viewer plane cap (${VIEWER_MAX_MESSAGE_BYTES} bytes) closes that socket`, async () => {
  const v = await connectViewer(s, admin, sessionA);
  v.socket.emit('chat:send', { text: 'y'.repeat(VIEWER_MAX_MESSAGE_BYTES + 1) });
  await closed(v.socket, 5000);
});
row(`a console message over the console plane cap (${CONSOLE_MAX_MESSAGE_BYTES} bytes) closes that socket`, async () => {
  const c = await openConsole(admin);
  c.emit('console:ping', { pad: 'z'.repeat(CONSOLE_MAX_MESSAGE_BYTES + 1) });
  await closed(c, 5000);
});
row('a binary attachment over the viewer cap closes the socket too', async () => {
  const v = await connectViewer(s, admin, sessionA);
  v.socket.emit('chat:send', { text: 'hi', blob: new Uint8Array(VIEWER_MAX_MESSAGE_BYTES + 1) });
  await closed(v.socket, 5000);
});

// ---- rate limits and X-Forwarded-For from an untrusted peer -------------------------------------------

row('rotating X-Forwarded-For from an untrusted peer does not escape the per-IP login limit; failures are audited with the real peer', async () => {
  const from = freshSource();
  for (let i = 0; i < 5; i++) {
    const r = await http(base, 'POST', '/api/auth/login', { from, body: { username: `nobody-${i}`, password: `${CANARY}-wrong-${i}-xx` }, headers: { 'x-forwarded-for': `198.51.100.${i + 1}` } });
    expect(r.status).toBe(401);
  }
  const limited = await http(base, 'POST', '/api/auth/login', { from, body: { username: 'tech', password: `${CANARY}-tech-pw` }, headers: { 'x-forwarded-for': '198.51.100.99' } });
  expect(limited.status).toBe(429);
  const rows = await s.tdb.db.prisma.auditEvent.findMany({ where: { type: 'login_failed', actor: { startsWith: 'nobody-' } } });
  expect(rows.map((r) => r.clientIp)).toEqual(Array(5).fill(from));
});
row('rotating X-Forwarded-For from an untrusted peer does not escape support-code guess blocking on /ws/agent', async () => {
  const from = freshSource();
  for (const [i, guess] of (await unusedCodes(6)).entries()) {
    expectRefused(await probe(base, 'agent', agentQuery({ support_code: guess }), 'websocket', { from, headers: { 'x-forwarded-for': `203.0.113.${i + 1}` } }), 401);
  }
  expectRefused(await probe(base, 'agent', agentQuery({ support_code: await newCode() }), 'websocket', { from, headers: { 'x-forwarded-for': '203.0.113.200' } }), 429, 'ERR_AUTH_IP_BLOCKED');
});
row('rotating X-Forwarded-For from an untrusted peer does not escape join-lookup blocking', async () => {
  const from = freshSource();
  for (const [i, guess] of (await unusedCodes(6)).entries()) expect((await http(base, 'GET', `/api/join/${guess}`, { from, headers: { 'x-forwarded-for': `192.0.2.${i + 1}` } })).status).toBe(404);
  expect((await http(base, 'GET', `/api/join/${await newCode()}`, { from, headers: { 'x-forwarded-for': '192.0.2.77' } })).status).toBe(429);
});

// ---- agent metadata ------------------------------------------------------------------------------------

for (const [field, value] of [
  ['name', '<img src=x onerror=alert(1)>'],
  ['name', '<script>alert(document.cookie)</script>'],
  ['hostname', 'pc"><svg onload=alert(1)>'],
  ['os', 'Linux <b>6.1</b>'],
  ['name', 'bad\u0000name'],
  ['name', 'rtl\u202Eexe.txt'],
  ['hostname', 'h'.repeat(8 * 1024)],
] as const) {
  row(`agent metadata: ${field} = ${JSON.stringify(value.length > 40 ? `${value.slice(0, 12)}…(${value.length} chars)` : value)} is refused at the handshake and never stored`, async () => {
    const name = `meta-${randomUUID()}`;
    const query = agentQuery({ api_key: (await createAgentKey(s, admin, name)).key, ...(field === 'name' ? {} : { name }), [field]: value });
    const machines = await s.tdb.db.prisma.machine.count();
    expectRefused(await handshake('agent', query), 400, 'ERR_VALIDATION');
    expect(await s.tdb.db.prisma.machine.count()).toBe(machines);
  });
}
row('agent metadata of a megabyte is refused before the upgrade (431) and the server stays up', async () => {
  const r = await handshake('agent', agentQuery({ support_code: '123456', name: 'n'.repeat(MiB) }));
  expect(r.upgraded).toBe(false);
  expect(r.status).toBe(431);
});

// ---- unknown events and leftover handlers -------------------------------------------------------------

row('a leftover handler on a live socket (not in the event map) is unreachable by name; the caller gets ERR_PROTOCOL_UNKNOWN_EVENT', async () => {
  const v = await connectViewer(s, admin, sessionA);
  keep(v.socket);
  const server = s.app.planes.io.viewer.sockets.sockets.get(v.socket.id!)!;
  let reached = 0;
  server.on('debug:dump', () => void reached++);
  server.on('admin:remove-everything', () => void reached++);
  for (const event of ['debug:dump', 'admin:remove-everything']) expect(await call(v.socket, event, {})).toMatchObject({ ok: false, error: { code: 'ERR_PROTOCOL_UNKNOWN_EVENT' } });
  v.socket.emit('debug:dump', {});
  await sleep(50);
  expect(reached).toBe(0);
  expect(await call(v.socket, 'keyframe:request', {})).toMatchObject({ ok: true });
});

// ---- static paths and setup -----------------------------------------------------------------------------

for (const path of ['/..%2f..%2fpackage.json', '/%2e%2e/%2e%2e/etc/passwd', '/..%2f..%2f..%2f..%2fetc%2fpasswd', '/ws/agent/..%2f..%2fpackage.json', '/api/..%2f..%2f.env', '//etc/passwd', '/static/../../package.json', '/%252e%252e/%252e%252e/package.json', '/..\\..\\package.json']) {
  row(`path traversal ${path} never returns file contents`, async () => {
    for (const method of ['GET', 'HEAD']) {
      const r = await http(base, method, path, { from: freshSource() });
      expect(r.status, method).toBeGreaterThanOrEqual(400);
      expect(noFileContents(r.text)).toBe(true);
    }
  });
}
row('there is no pre-auth setup path: POST /api/setup and friends create nobody', async () => {
  for (const path of ['/api/setup', '/api/auth/register', '/api/bootstrap', '/setup', '/api/users/bootstrap', '/api/admin']) {
    const r = await http(base, 'POST', path, { body: { username: 'evil-admin', password: `${CANARY}-evil-pass-1`, role: 'admin' }, from: freshSource() });
    expect([401, 404]).toContain(r.status);
  }
  expect(await s.app.services.users.findByUsername('evil-admin')).toBeNull();
});
row('/api/users without authentication: listing and creating are refused with 401', async () => {
  expect((await http(base, 'GET', '/api/users', { from: freshSource() })).status).toBe(401);
  const r = await http(base, 'POST', '/api/users', { body: { username: 'evil2', password: `${CANARY}-evil-pass-2`, role: 'admin' }, from: freshSource() });
  expect(r.status).toBe(401);
  expect(await s.app.services.users.findByUsername('evil2')).toBeNull();
});

// ---- malformed input gets a code, never a 500 (regressions of fuzz findings) ---------------------------

row('a malformed URL escape (/%, /api/join/%zz) gets a coded 400, not Fastify’s own body', async () => {
  for (const path of ['/%', '/api/join/%zz', '/api/sessions/%E0%A4%A']) {
    const r = await http(base, 'GET', path, { from: freshSource() });
    expect(r.status, path).toBe(400);
    expect(r.body?.error?.code, path).toBe('ERR_VALIDATION');
  }
  const long = await apiAs(admin, 'DELETE', `/api/sessions/${'x'.repeat(150)}`);
  expect(long.body?.error?.code).toBe('ERR_VALIDATION');
});
row('a NUL byte in a public login, a query, a path parameter or a body is refused with 400, never a 500', async () => {
  const login = await http(base, 'POST', '/api/auth/login', { body: { username: 'ad\u0000min', password: 'x' }, from: freshSource() });
  expect(login.status).toBe(400);
  expect(login.body.error.code).toBe('ERR_VALIDATION');
  for (const [method, path, body] of [
    ['GET', '/api/audit?actor=%00', undefined],
    ['DELETE', '/api/auth/tokens/%00', undefined],
    ['POST', '/api/agent-keys', { name: 'k\u0000' }],
    ['POST', '/api/users', { username: 'nul-user', displayName: 'a\u0000b', password: `${CANARY}-nul-pw-123` }],
  ] as const) {
    const r = await apiAs(admin, method, path, body);
    expect(r.status, `${method} ${path}`).toBe(400);
    expect(r.body.error.code).toBe('ERR_VALIDATION');
  }
});
row('an unpaired UTF-16 surrogate in a body is refused with 400, never a 500', async () => {
  for (const [path, body] of [['/api/agent-keys', { name: '\udc00\udc00' }], ['/api/support-codes', { label: 'a\ud800' }], ['/api/auth/login', { username: '\ud83d', password: 'x' }]] as const) {
    const r = await http(base, 'POST', path, { token: admin, raw: JSON.stringify(body), headers: { 'content-type': 'application/json' }, from: freshSource() });
    expect(r.status, path).toBe(400);
    expect(r.body.error.code).toBe('ERR_VALIDATION');
  }
});
row('an agent key for a machine that does not exist is refused with 404 ERR_MACHINE_NOT_FOUND', async () => {
  const r = await apiAs(admin, 'POST', '/api/agent-keys', { name: 'ghost', machineId: randomUUID() });
  expect(r.status).toBe(404);
  expect(r.body.error.code).toBe('ERR_MACHINE_NOT_FOUND');
});
row('unblocking an address whose parameter decodes to a bare % is refused with 400, never a 500', async () => {
  const r = await apiAs(admin, 'DELETE', '/api/blocked-ips/%25');
  expect(r.status).toBe(400);
  expect(r.body.error.code).toBe('ERR_VALIDATION');
});
row('a relay chunk with a truncated header is refused with ERR_PROTOCOL_INVALID_MESSAGE, not an internal error', async () => {
  const v = await connectViewer(s, admin, sessionA);
  keep(v.socket);
  for (const data of [new Uint8Array([1, 3]), new Uint8Array([1, 3, 0, 0, 0, 0, 0, 0, 0, 0]), new Uint8Array([1, 3, ...new Array(12).fill(0)])]) {
    expect(await call(agentA.socket, 'relay:frame', { to: v.welcome.viewerId, data })).toMatchObject({ ok: false, error: { code: 'ERR_PROTOCOL_INVALID_MESSAGE' } });
  }
});

row('an agent cannot make its relay report vanish from the audit log with a NUL or an unpaired surrogate', async () => {
  const v = await connectViewer(s, admin, sessionA);
  keep(v.socket);
  const before = await s.tdb.db.prisma.auditEvent.count({ where: { type: 'relay_started', sessionId: sessionA } });
  expect(await call(agentA.socket, 'path:report', { viewerId: v.welcome.viewerId, path: 'relay', reason: 'x\u0000y\ud800' })).toMatchObject({ ok: true });
  expect(await eventually(async () => (await s.tdb.db.prisma.auditEvent.count({ where: { type: 'relay_started', sessionId: sessionA } })) > before)).toBe(true);
  expect(await call(agentA.socket, 'path:report', { viewerId: v.welcome.viewerId, path: 'p2p' })).toMatchObject({ ok: true });
});

// ---- known CVE regressions --------------------------------------------------------------------------------

row('CVE-2024-38355: a client emitting an event named "error" does not crash the server; the connection still answers', async () => {
  const c = keep(await rawConsole());
  c.send('42["error",{"message":"boom"}]');
  c.send('42["error"]');
  expect(await c.call('error', {})).toMatchObject({ ok: false, error: { code: 'ERR_PROTOCOL_UNKNOWN_EVENT' } });
  expect(await c.alive('console')).toBe(true);
});
row('CVE-2023-32695: a binary event whose placeholder points at __proto__ is refused without an uncaught exception', async () => {
  const c = keep(await rawConsole());
  c.send('451-["console:ping",{"_placeholder":true,"num":"__proto__"}]');
  c.send(Buffer.from([1, 2, 3]));
  await Promise.race([c.closed, sleep(300)]);
  const d = keep(await rawConsole());
  d.send('42["x",{"_placeholder":true,"num":"__proto__"}]');
  expect(await d.call('x', { _placeholder: true, num: '__proto__' })).toMatchObject({ ok: false, error: { code: 'ERR_PROTOCOL_UNKNOWN_EVENT' } });
  expect(await d.call('console:ping', { _placeholder: true, num: 0 })).toMatchObject({ ok: true });
});
row('socket.io-parser: bogus attachment counts (huge, negative, non-numeric, missing) leave the server up', async () => {
  for (const packet of ['4999999999999-["console:ping",{}]', '45-1-["console:ping"]', '45a-["console:ping"]', '45-', '451-', '451-["console:ping",{"_placeholder":true,"num":1}]', '461-[1,{}]', '42["console:ping"', '42[]', '42{"a":1}', '4271["console:ping",{}]', '49', '4']) {
    const c = keep(await rawConsole());
    c.send(packet);
    c.send(Buffer.from([0xde, 0xad]));
    c.send('42["console:ping",{}]');
    await Promise.race([c.closed, sleep(50)]);
    expect(await healthy(base), packet).toBe(true);
  }
});
row('engine.io: malformed packets (unknown types, empty, binary garbage, invalid UTF-8 text) leave the server up', async () => {
  for (const packet of ['9', '', '5', '6', '1', '0', '\u0000', '4\uD800', '7{"x":1}', Buffer.from([0xff, 0xfe, 0xfd]), Buffer.alloc(0)]) {
    const c = keep(await rawConsole());
    c.send(packet);
    await Promise.race([c.closed, sleep(30)]);
    expect(await healthy(base), JSON.stringify(packet)).toBe(true);
  }
  const c = keep(await rawConsole());
  c.ws.send(Buffer.from([0x34, 0xc3, 0x28, 0xed, 0xa0, 0x80]), { binary: false });
  expect(await Promise.race([c.closed, sleep(3000).then(() => -1)])).toBe(1007);
});
row('engine.io: a text packet over the plane cap closes the connection (CVE-2022-41940 class)', async () => {
  const c = keep(await rawConsole());
  c.send(`4${'x'.repeat(CONSOLE_MAX_MESSAGE_BYTES + 10)}`);
  expect(await Promise.race([c.closed, sleep(5000).then(() => -1)])).toBe(1009);
});
row('engine.io over polling: crafted POST bodies to a live polling session leave the server up', async () => {
  const open = await probe(base, 'console', { ticket: await consoleTicket(s, admin) }, 'polling');
  expect(open.status).toBe(200);
  const sid = (JSON.parse(String(open.body).slice(1)) as { sid: string }).sid;
  const path = `/ws/console/?EIO=4&transport=polling&sid=${sid}`;
  for (const [raw, type] of [
    ['40', 'text/plain;charset=UTF-8'],
    ['4\u001e9\u001e\u001e', 'text/plain'],
    ['b' + Buffer.from([1, 2, 3]).toString('base64'), 'text/plain'],
    ['bnot-base64!!', 'text/plain'],
    [Buffer.from([0xff, 0x00, 0xfe]), 'application/octet-stream'],
    [`4${'x'.repeat(CONSOLE_MAX_MESSAGE_BYTES + 1)}`, 'text/plain'],
  ] as const) {
    const r = await http(base, 'POST', path, { raw, headers: { 'content-type': type } });
    expect(r.status).toBeLessThan(500);
  }
});
row('CVE-2024-37890: an upgrade with 2,000 headers pushing the WebSocket key out is refused, and the server stays up', async () => {
  const filler = Array.from({ length: 2000 }, (_, i) => `x${i % 10}: 1`);
  const up = await rawHttp(base, upgradeHead(base, 'agent', agentQuery({ api_key: (await createAgentKey(s, admin, 'flood')).key }), filler, { keyLast: true }), { from: freshSource() });
  up.socket.destroy();
  expect(up.status).not.toBe(101);
  expect(up.status).toBeGreaterThanOrEqual(400);
  const anon = await rawHttp(base, upgradeHead(base, 'console', {}, filler, { keyLast: true }), { from: freshSource() });
  anon.socket.destroy();
  expect(anon.status).toBe(401);
});
row('GHSA-96hv-2xvq-fx4p: 1-byte fragments without FIN past the plane cap close the connection, and memory does not grow', async () => {
  const baseline = heapAfterGc();
  const r = await fragmentFlood('console', { ticket: await consoleTicket(s, admin) }, CONSOLE_MAX_MESSAGE_BYTES + 1);
  expect(r.closedByServer).toBe(true);
  const v = await fragmentFlood('viewer', { token: await viewerToken(s, admin, sessionA), session_id: sessionA }, VIEWER_MAX_MESSAGE_BYTES + 1);
  expect(v.closedByServer).toBe(true);
  await sleep(100);
  expect(heapAfterGc() - baseline).toBeLessThan(32 * MiB);
});
row('GHSA-96hv-2xvq-fx4p on the agent plane: a fragment stream is cut off long before its 4 MiB cap', async () => {
  const baseline = heapAfterGc();
  const r = await fragmentFlood('agent', agentQuery({ api_key: (await createAgentKey(s, admin, 'frag')).key }), AGENT_MAX_MESSAGE_BYTES + 1);
  expect(r.closedByServer).toBe(true);
  expect(r.sent).toBeLessThan(AGENT_MAX_MESSAGE_BYTES);
  await sleep(100);
  expect(heapAfterGc() - baseline).toBeLessThan(32 * MiB);
});

// ---------------------------------------------------------------------------------------------------------

beforeAll(async () => {
  s = await startTestServer({ env: { BLOCK_THRESHOLD: '5', LOGIN_MAX_FAILURES: '5' } });
  base = s.url;
  admin = await loginAs(base, 'admin', ADMIN_PASSWORD);
  adminId = (await api(base, 'GET', '/api/auth/me', { token: admin })).body.user.id;
  adminJti = claimsOf(admin).jti as string;
  tech = (await newUser('tech', ['view', 'control', 'chat', 'manage_codes'])).token;
  watcher = (await newUser('watcher', ['view', 'chat'])).token;
  techB = (await newUser('tech-b', ['view', 'chat'])).token;
  agentA = await connectKeyedAgent(s, (await createAgentKey(s, admin, 'A')).key);
  agentB = await connectKeyedAgent(s, (await createAgentKey(s, admin, 'B')).key);
  sessionA = agentA.welcome.sessionId;
  sessionB = agentB.welcome.sessionId;

  codes.expired = await newCode();
  await s.tdb.db.prisma.supportCode.updateMany({ where: { code: codes.expired }, data: { expiresAt: new Date(Date.now() - 1000) } });
  codes.cancelled = await newCode();
  await api(base, 'POST', `/api/support-codes/${codes.cancelled}/cancel`, { token: tech });
  codes.used = await newCode();
  const used = await connect(base, 'agent', agentQuery({ support_code: codes.used }));
  await next(used, 'session:welcome');
  opened.push(used);
  codes.guessed = (await unusedCodes(1))[0]!;
});
afterAll(async () => {
  faults.stop();
  for (const x of opened) x.close();
  agentA?.socket.close();
  agentB?.socket.close();
  await s?.close();
});

describe('boundary matrix', () => {
  it('has at least 60 rows, each named for what it proves', () => {
    expect(rows.length).toBeGreaterThanOrEqual(60);
    expect(new Set(rows.map((r) => r.name)).size).toBe(rows.length);
  });

  for (const { name, run } of rows) it(name, async () => {
    try {
      await run();
    } finally {
      for (const x of opened.splice(0)) x.close();
    }
    expect(await healthy(base), '/healthz after the row').toBe(true);
    expect(agentA.socket.connected && agentB.socket.connected, 'the bystander agents are still connected').toBe(true);
  });

  it('no row caused an unhandled rejection or an uncaught exception in the server process', () => {
    expect(faults.rejections).toEqual([]);
    expect(faults.exceptions).toEqual([]);
  });
});
