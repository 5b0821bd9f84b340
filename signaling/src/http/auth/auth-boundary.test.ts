import { createHmac, generateKeyPairSync, randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, CANARY, TEST_JWT_SECRET, api, loginAs, startTestServer, type TestServer } from '../../testing/test-server.ts';
import { JWT_AUDIENCE_API, JWT_AUDIENCE_VIEWER, JWT_ISSUER } from '../../identity/tokens.ts';

const key = new TextEncoder().encode(TEST_JWT_SECRET);
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const nowS = () => Math.floor(Date.now() / 1000);

let s: TestServer;
let adminToken: string;
let adminId: string;
let techToken: string;
let techId: string;
let viewOnlyToken: string;
let noViewToken: string;
let sessionId: string;

/** Sign any header/payload bytes with our secret, bypassing jose's own checks. */
function rawSign(header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', TEST_JWT_SECRET).update(input).digest('base64url')}`;
}

async function forge(claims: Record<string, unknown>, opts: { secret?: Uint8Array; header?: Record<string, unknown> } = {}) {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', ...opts.header }).sign(opts.secret ?? key);
}

beforeAll(async () => {
  s = await startTestServer();
  adminToken = await loginAs(s.url, 'admin', ADMIN_PASSWORD);
  adminId = (await api(s.url, 'GET', '/api/auth/me', { token: adminToken })).body.user.id;
  const mk = async (username: string, permissions: string[]) => {
    const r = await api(s.url, 'POST', '/api/users', { token: adminToken, body: { username, password: `${CANARY}-${username}-pw`, permissions } });
    expect(r.status).toBe(201);
    return { id: r.body.id as string, token: await loginAs(s.url, username, `${CANARY}-${username}-pw`) };
  };
  ({ id: techId, token: techToken } = await mk('tech', ['view', 'control', 'chat', 'manage_codes']));
  ({ token: viewOnlyToken } = await mk('viewer', ['view']));
  ({ token: noViewToken } = await mk('noview', ['chat']));
  sessionId = (await s.tdb.db.prisma.session.create({ data: { kind: 'unattended', status: 'offline' } })).id;
});
afterAll(async () => s?.close());

describe('login-token boundary (each row tries to cross it)', () => {
  const good = () => ({ sub: adminId, jti: randomUUID(), purpose: 'login', role: 'admin', iss: JWT_ISSUER, aud: JWT_AUDIENCE_API, iat: nowS(), exp: nowS() + 600 });
  const rows: Array<[string, () => Promise<string>, number, string]> = [
    ['alg:none is refused', async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(good())}.`, 401, 'ERR_AUTH_INVALID_TOKEN'],
    ['HS256 signed with a wrong secret is refused', () => forge(good(), { secret: new TextEncoder().encode('x'.repeat(40)) }), 401, 'ERR_AUTH_INVALID_TOKEN'],
    ['an RS256 header is refused (algorithm pinned)', async () => {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      return new SignJWT(good()).setProtectedHeader({ alg: 'RS256' }).sign(privateKey);
    }, 401, 'ERR_AUTH_INVALID_TOKEN'],
    ['algorithm confusion (HS256 header, body claims RS) still needs our secret', () => forge(good(), { secret: new TextEncoder().encode('-----BEGIN PUBLIC KEY-----xxxxxxxxxxxxxxxx') }), 401, 'ERR_AUTH_INVALID_TOKEN'],
    ['an expired token is refused', () => forge({ ...good(), iat: nowS() - 1000, exp: nowS() - 100 }), 401, 'ERR_AUTH_TOKEN_EXPIRED'],
    ['a not-yet-valid token is refused', () => forge({ ...good(), nbf: nowS() + 3600 }), 401, 'ERR_AUTH_INVALID_TOKEN'],
    ['a token without jti is refused', () => forge({ ...good(), jti: undefined }), 401, 'ERR_AUTH_INVALID_TOKEN'],
    ['a wrong issuer is refused', () => forge({ ...good(), iss: 'evil' }), 401, 'ERR_AUTH_INVALID_TOKEN'],
    ['a wrong audience is refused', () => forge({ ...good(), aud: 'something-else' }), 401, 'ERR_AUTH_WRONG_TOKEN_KIND'],
    ['a viewer token on the HTTP API is refused', () => forge({ ...good(), purpose: 'viewer', aud: JWT_AUDIENCE_VIEWER, session_id: sessionId, parent_jti: randomUUID(), control: true }), 401, 'ERR_AUTH_WRONG_TOKEN_KIND'],
    ['purpose other than login under the API audience is refused', () => forge({ ...good(), purpose: 'viewer' }), 401, 'ERR_AUTH_WRONG_TOKEN_KIND'],
    ['a token for a user that does not exist is refused', () => forge({ ...good(), sub: randomUUID() }), 401, 'ERR_AUTH_INVALID_TOKEN'],
    ['a header with jku is refused before crypto', () => forge(good(), { header: { jku: 'http://evil/keys' } }), 401, 'ERR_AUTH_INVALID_TOKEN'],
    ['a header with an embedded jwk is refused', () => forge(good(), { header: { jwk: { kty: 'oct', k: 'AAAA' } } }), 401, 'ERR_AUTH_INVALID_TOKEN'],
    ['a header with a kid is refused (keys never come from the token)', () => forge(good(), { header: { kid: '../../etc/passwd' } }), 401, 'ERR_AUTH_INVALID_TOKEN'],
    ['a header with crit is refused', async () => rawSign({ alg: 'HS256', crit: ['b64'], b64: false }, good()), 401, 'ERR_AUTH_INVALID_TOKEN'],
    ['a header with zip is refused', async () => rawSign({ alg: 'HS256', zip: 'DEF' }, good()), 401, 'ERR_AUTH_INVALID_TOKEN'],
    ['a header with x5u is refused', async () => rawSign({ alg: 'HS256', x5u: 'http://evil/cert' }, good()), 401, 'ERR_AUTH_INVALID_TOKEN'],
    ['a correctly signed token with alg HS512 is refused', async () => {
      const input = `${b64({ alg: 'HS512' })}.${b64(good())}`;
      return `${input}.${createHmac('sha512', TEST_JWT_SECRET).update(input).digest('base64url')}`;
    }, 401, 'ERR_AUTH_INVALID_TOKEN'],
    ['a JWE-shaped (five segment) token is refused', async () => 'a.b.c.d.e', 401, 'ERR_AUTH_INVALID_TOKEN'],
    ['a token over 8 KB is refused', () => forge({ ...good(), pad: 'x'.repeat(9000) }), 401, 'ERR_AUTH_INVALID_TOKEN'],
    ['duplicate claims in the payload are refused', async () => {
      const t = await forge(good());
      const [h, p] = t.split('.');
      const dup = Buffer.from(Buffer.from(p!, 'base64url').toString().replace(/^\{/, '{"role":"technician",')).toString('base64url');
      return `${h}.${dup}.${t.split('.')[2]}`;
    }, 401, 'ERR_AUTH_INVALID_TOKEN'],
    ['a role claim other than admin|technician is refused', () => forge({ ...good(), role: 'root' }), 401, 'ERR_AUTH_INVALID_TOKEN'],
  ];
  it.each(rows)('%s', async (_what, make, status, code) => {
    const r = await api(s.url, 'GET', '/api/users', { token: await make() });
    expect(r.status).toBe(status);
    expect(r.body.error.code).toBe(code);
  });

  it('a forged token that is otherwise perfect works (the rows above are not failing for another reason)', async () => {
    const r = await api(s.url, 'GET', '/api/users', { token: await forge(good()) });
    expect(r.status).toBe(200);
  });

  it.each([
    ['no Authorization header', undefined, 'ERR_AUTH_REQUIRED'],
    ['a Basic header', 'Basic YWRtaW46eA==', 'ERR_AUTH_INVALID_TOKEN'],
    ['a token in the query string is ignored', undefined, 'ERR_AUTH_REQUIRED'],
  ])('refuses %s', async (_w, authorization, code) => {
    const r = await api(s.url, 'GET', `/api/users?token=${adminToken}`, { headers: authorization ? { authorization } : {} });
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe(code);
  });
});

describe('admin-only endpoints refuse a technician with 403', () => {
  const rows: Array<[string, string, unknown?]> = [
    ['GET', '/api/users'],
    ['POST', '/api/users', { username: 'x1', password: `${CANARY}-xxxxxxxxxx` }],
    ['PATCH', `/api/users/${randomUUID()}`, { disabled: true }],
    ['POST', `/api/users/${randomUUID()}/revoke-tokens`],
    ['GET', '/api/agent-keys'],
    ['POST', '/api/agent-keys', { name: 'k' }],
    ['DELETE', `/api/agent-keys/${randomUUID()}`],
    ['GET', '/api/audit'],
    ['GET', '/api/audit/failed-connections'],
    ['GET', '/api/blocked-ips'],
    ['DELETE', '/api/blocked-ips/1.2.3.4'],
  ];
  it.each(rows)('%s %s', async (method, path, body) => {
    const r = await api(s.url, method, path, { token: techToken, body });
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('ERR_AUTH_FORBIDDEN');
  });
});

describe('viewer tokens', () => {
  it('refuses to mint without the view permission (403)', async () => {
    const r = await api(s.url, 'POST', `/api/sessions/${sessionId}/viewer-token`, { token: noViewToken });
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('ERR_AUTH_FORBIDDEN');
  });

  it('mints control:false for a user without control', async () => {
    const r = await api(s.url, 'POST', `/api/sessions/${sessionId}/viewer-token`, { token: viewOnlyToken });
    expect(r.status).toBe(200);
    expect(r.body.control).toBe(false);
    const claims = JSON.parse(Buffer.from(r.body.token.split('.')[1], 'base64url').toString());
    expect(claims).toMatchObject({ purpose: 'viewer', session_id: sessionId, control: false });
    expect(claims.exp - claims.iat).toBeLessThanOrEqual(300);
  });

  it('mints control:true with the control permission, bound to the session and its parent', async () => {
    const r = await api(s.url, 'POST', `/api/sessions/${sessionId}/viewer-token`, { token: techToken });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ expiresIn: 300, control: true });
    const claims = JSON.parse(Buffer.from(r.body.token.split('.')[1], 'base64url').toString());
    expect(claims.parent_jti).toBeTypeOf('string');
  });

  it('answers 404 for an unknown session and 404 for a removed one', async () => {
    expect((await api(s.url, 'POST', `/api/sessions/${randomUUID()}/viewer-token`, { token: techToken })).status).toBe(404);
    const removed = await s.tdb.db.prisma.session.create({ data: { kind: 'unattended', status: 'removed', removedAt: new Date() } });
    const r = await api(s.url, 'POST', `/api/sessions/${removed.id}/viewer-token`, { token: techToken });
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('ERR_SESSION_NOT_FOUND');
  });
});

describe('token revocation', () => {
  it('logout revokes the token and every viewer token minted from it', async () => {
    const token = await loginAs(s.url, 'tech', `${CANARY}-tech-pw`);
    const minted = await api(s.url, 'POST', `/api/sessions/${sessionId}/viewer-token`, { token });
    const viewerJti = JSON.parse(Buffer.from(minted.body.token.split('.')[1], 'base64url').toString()).jti;
    expect((await api(s.url, 'POST', '/api/auth/logout', { token })).body.revoked).toBeGreaterThanOrEqual(2);
    const r = await api(s.url, 'GET', '/api/auth/me', { token });
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('ERR_AUTH_TOKEN_REVOKED');
    await expect(s.app.services.identity.verifyViewerToken(minted.body.token)).rejects.toMatchObject({ code: 'ERR_AUTH_TOKEN_REVOKED' });
    expect(s.app.services.revocations.isRevoked(viewerJti)).toBe(true);
  });

  it('logout-all kills every token of the caller, old and live', async () => {
    const a = await loginAs(s.url, 'viewer', `${CANARY}-viewer-pw`);
    const b = await loginAs(s.url, 'viewer', `${CANARY}-viewer-pw`);
    expect((await api(s.url, 'POST', '/api/auth/logout-all', { token: a })).status).toBe(200);
    for (const t of [a, b]) expect((await api(s.url, 'GET', '/api/auth/me', { token: t })).body.error.code).toBe('ERR_AUTH_TOKEN_REVOKED');
    const fresh = await loginAs(s.url, 'viewer', `${CANARY}-viewer-pw`);
    expect((await api(s.url, 'GET', '/api/auth/me', { token: fresh })).status).toBe(200);
    viewOnlyToken = fresh;
  });

  it('lists the caller’s live tokens without secrets and revokes one of them', async () => {
    const t1 = await loginAs(s.url, 'noview', `${CANARY}-noview-pw`);
    const list = await api(s.url, 'GET', '/api/auth/tokens', { token: t1 });
    expect(list.status).toBe(200);
    expect(JSON.stringify(list.body)).not.toContain(t1);
    const other = list.body.tokens.find((t: { current: boolean }) => !t.current);
    expect(other).toBeDefined();
    expect((await api(s.url, 'DELETE', `/api/auth/tokens/${other.jti}`, { token: t1 })).status).toBe(200);
    expect((await api(s.url, 'GET', '/api/auth/me', { token: noViewToken })).status).toBe(401);
    noViewToken = t1;
  });

  it('refuses to revoke another user’s token (404)', async () => {
    const adminTokens = await api(s.url, 'GET', '/api/auth/tokens', { token: adminToken });
    const jti = adminTokens.body.tokens[0].jti;
    const r = await api(s.url, 'DELETE', `/api/auth/tokens/${jti}`, { token: techToken });
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('ERR_TOKEN_NOT_FOUND');
    expect((await api(s.url, 'GET', '/api/auth/me', { token: adminToken })).status).toBe(200);
  });

  it('disabling a user stops all their tokens at once; re-enabling does not revive them', async () => {
    const made = await api(s.url, 'POST', '/api/users', { token: adminToken, body: { username: 'temp', password: `${CANARY}-temp-pw-1`, permissions: ['view'] } });
    const t = await loginAs(s.url, 'temp', `${CANARY}-temp-pw-1`);
    expect((await api(s.url, 'PATCH', `/api/users/${made.body.id}`, { token: adminToken, body: { disabled: true } })).status).toBe(200);
    const r = await api(s.url, 'GET', '/api/auth/me', { token: t });
    expect(r.status).toBe(401);
    expect(['ERR_AUTH_USER_DISABLED', 'ERR_AUTH_TOKEN_REVOKED']).toContain(r.body.error.code);
    const login = await api(s.url, 'POST', '/api/auth/login', { body: { username: 'temp', password: `${CANARY}-temp-pw-1` } });
    expect(login.status).toBe(401);
    expect(login.body.error.code).toBe('ERR_AUTH_USER_DISABLED');
    await api(s.url, 'PATCH', `/api/users/${made.body.id}`, { token: adminToken, body: { disabled: false } });
    expect((await api(s.url, 'GET', '/api/auth/me', { token: t })).status).toBe(401);
  });

  it('an admin revokes all tokens of a user', async () => {
    const t = await loginAs(s.url, 'tech', `${CANARY}-tech-pw`);
    expect((await api(s.url, 'POST', `/api/users/${techId}/revoke-tokens`, { token: adminToken })).status).toBe(200);
    expect((await api(s.url, 'GET', '/api/auth/me', { token: t })).status).toBe(401);
    techToken = await loginAs(s.url, 'tech', `${CANARY}-tech-pw`);
  });
});

describe('accounts', () => {
  it('refuses passwords shorter than 12 characters', async () => {
    const r = await api(s.url, 'POST', '/api/users', { token: adminToken, body: { username: 'shorty', password: 'Short-pw-11' } });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('ERR_AUTH_WEAK_PASSWORD');
  });

  it('refuses a duplicate username case-insensitively', async () => {
    const r = await api(s.url, 'POST', '/api/users', { token: adminToken, body: { username: 'TECH', password: `${CANARY}-dup-pw-01` } });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('ERR_USER_EXISTS');
  });

  it('refuses to disable or demote the last active admin', async () => {
    const r = await api(s.url, 'PATCH', `/api/users/${adminId}`, { token: adminToken, body: { role: 'technician' } });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('ERR_USER_LAST_ADMIN');
  });

  it('has no HTTP path that creates an admin without authentication (fresh-install class)', async () => {
    for (const path of ['/api/users', '/api/setup', '/api/auth/register', '/setup', '/api/bootstrap']) {
      const r = await api(s.url, 'POST', path, { body: { username: 'evil', password: `${CANARY}-evil-pass-1`, role: 'admin' } });
      expect([401, 404]).toContain(r.status);
    }
    expect(await s.app.services.users.findByUsername('evil')).toBeNull();
  });

  it('validates bodies with a code', async () => {
    const r = await api(s.url, 'POST', '/api/auth/login', { body: { username: 42 } });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('ERR_VALIDATION');
  });
});
