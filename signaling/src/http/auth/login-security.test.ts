import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argon2Hasher, type PasswordHasher } from '../../identity/passwords.ts';
import { databaseKinds } from '../../db/test-database.ts';
import { ADMIN_PASSWORD, CANARY, api, loginAs, startTestServer, type TestServer } from '../../testing/test-server.ts';

/** A real Argon2id hasher that records each verification it performs. */
function observedHasher() {
  const verified: string[] = [];
  const hasher: PasswordHasher = {
    hash: argon2Hasher.hash,
    async verify(hash, password) {
      verified.push(hash);
      return argon2Hasher.verify(hash, password);
    },
  };
  return { hasher, verified };
}

describe('unknown usernames take the wrong-password path', () => {
  let s: TestServer;
  const o = observedHasher();
  beforeAll(async () => {
    s = await startTestServer({ hasher: o.hasher, env: { LOGIN_MAX_FAILURES: '50' } });
  });
  afterAll(async () => s?.close());

  it('verifies exactly one Argon2id hash for an unknown user, as for a wrong password', async () => {
    o.verified.length = 0;
    const unknown = await api(s.url, 'POST', '/api/auth/login', { body: { username: 'nobody-here', password: `${CANARY}-whatever-1` } });
    const afterUnknown = [...o.verified];
    o.verified.length = 0;
    const wrong = await api(s.url, 'POST', '/api/auth/login', { body: { username: 'admin', password: `${CANARY}-wrong-pass-1` } });
    const afterWrong = [...o.verified];
    expect(unknown.status).toBe(401);
    expect(wrong.status).toBe(401);
    expect(unknown.body).toEqual(wrong.body);
    expect(unknown.body.error.code).toBe('ERR_AUTH_INVALID_CREDENTIALS');
    expect(afterUnknown).toHaveLength(1);
    expect(afterWrong).toHaveLength(1);
    // The dummy is a real Argon2id hash with the same parameters as a user's.
    expect(afterUnknown[0]).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    expect(afterWrong[0]).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    expect(afterUnknown[0]).not.toBe(afterWrong[0]);
  });

  it('stores user passwords as Argon2id at OWASP minimum parameters', async () => {
    const row = await s.tdb.db.prisma.user.findUnique({ where: { username: 'admin' } });
    expect(row?.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
  });
});

describe('login rate limiting', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ env: { LOGIN_MAX_FAILURES: '5', BLOCK_THRESHOLD: '1000' } });
  });
  afterAll(async () => s?.close());

  it('answers 429 with Retry-After after 5 failures for a username, before checking the password', async () => {
    for (let i = 0; i < 5; i++) {
      expect((await api(s.url, 'POST', '/api/auth/login', { body: { username: 'admin', password: `${CANARY}-bad-${i}-xxxx` } })).status).toBe(401);
    }
    const limited = await api(s.url, 'POST', '/api/auth/login', { body: { username: 'admin', password: ADMIN_PASSWORD } });
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('ERR_AUTH_RATE_LIMITED');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(900);
  });

  it('a spoofed X-Forwarded-For from an untrusted peer does not reset the per-IP limit', async () => {
    const r = await api(s.url, 'POST', '/api/auth/login', { body: { username: 'someone-else', password: `${CANARY}-bad-xxxxx` }, headers: { 'x-forwarded-for': '9.9.9.9' } });
    expect(r.status).toBe(429);
  });

  it('audits every failure with the client IP', async () => {
    const rows = await s.tdb.db.prisma.auditEvent.findMany({ where: { type: 'login_failed' } });
    expect(rows.length).toBeGreaterThanOrEqual(5);
    expect(rows.every((r) => r.clientIp === '127.0.0.1')).toBe(true);
  });
});

describe('automatic IP blocking', () => {
  let s: TestServer;
  let admin: string;
  beforeAll(async () => {
    // The block threshold is 3 here; the per-username/IP limiter is set high to isolate blocking.
    s = await startTestServer({ env: { BLOCK_THRESHOLD: '3', BLOCK_COOLOFF_S: '600', LOGIN_MAX_FAILURES: '1000', TRUSTED_PROXIES: '127.0.0.1' } });
    admin = await loginAs(s.url, 'admin', ADMIN_PASSWORD);
  });
  afterAll(async () => s?.close());

  const attempt = (ip: string, password = `${CANARY}-bad-pass-1`) =>
    api(s.url, 'POST', '/api/auth/login', { body: { username: 'admin', password }, headers: { 'x-forwarded-for': ip } });

  it('blocks an IP after more than BLOCK_THRESHOLD failures; its correct password then gets 429 too', async () => {
    for (let i = 0; i < 4; i++) expect((await attempt('198.51.100.7')).status).toBe(401);
    const r = await attempt('198.51.100.7', ADMIN_PASSWORD);
    expect(r.status).toBe(429);
    expect(r.body.error.code).toBe('ERR_AUTH_IP_BLOCKED');
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(500);
    // Another address is unaffected.
    expect((await attempt('198.51.100.8', ADMIN_PASSWORD)).status).toBe(200);
  });

  it('audits ip_blocked and lists it for admins; failed-connections groups by IP', async () => {
    const audit = await api(s.url, 'GET', '/api/audit?type=ip_blocked', { token: admin });
    expect(audit.body.events.map((e: { clientIp: string }) => e.clientIp)).toContain('198.51.100.7');
    const list = await api(s.url, 'GET', '/api/blocked-ips', { token: admin });
    expect(list.body.blocked.map((b: { ip: string }) => b.ip)).toEqual(['198.51.100.7']);
    const failed = await api(s.url, 'GET', '/api/audit/failed-connections?window=1h', { token: admin });
    const g = failed.body.groups.find((x: { ip: string; type: string }) => x.ip === '198.51.100.7' && x.type === 'login_failed');
    expect(g.count).toBe(4);
  });

  it('an admin unblocks it; unblocking again is 404', async () => {
    expect((await api(s.url, 'DELETE', '/api/blocked-ips/198.51.100.7', { token: admin })).status).toBe(200);
    expect((await attempt('198.51.100.7', ADMIN_PASSWORD)).status).toBe(200);
    const again = await api(s.url, 'DELETE', '/api/blocked-ips/198.51.100.7', { token: admin });
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe('ERR_IP_NOT_BLOCKED');
  });

  it('counts an IPv6 client by its /64: rotating addresses inside it does not escape the block', async () => {
    // Four failures from four addresses of one /64 (a subscriber's own network) cross the threshold of 3.
    for (let i = 1; i <= 4; i++) expect((await attempt(`2001:db8:5:6::${i.toString(16)}`)).status).toBe(401);
    const r = await attempt('2001:db8:5:6:ffff:1:2:3', ADMIN_PASSWORD);
    expect(r.status).toBe(429);
    expect(r.body.error.code).toBe('ERR_AUTH_IP_BLOCKED');
    // The neighbouring /64 is someone else.
    expect((await attempt('2001:db8:5:7::1', ADMIN_PASSWORD)).status).toBe(200);
    const list = await api(s.url, 'GET', '/api/blocked-ips', { token: admin });
    expect(list.body.blocked.map((b: { ip: string }) => b.ip)).toContain('2001:db8:5:6::/64');
    // An admin unblocks it by any address inside it (or by the /64 as listed).
    expect((await api(s.url, 'DELETE', `/api/blocked-ips/${encodeURIComponent('2001:db8:5:6::99')}`, { token: admin })).status).toBe(200);
    expect((await attempt('2001:db8:5:6::1', ADMIN_PASSWORD)).status).toBe(200);
    expect((await api(s.url, 'DELETE', `/api/blocked-ips/${encodeURIComponent('2001:db8:5:6::/64')}`, { token: admin })).body.error.code).toBe('ERR_IP_NOT_BLOCKED');
  });

  it('paginates the audit log with a cursor and filters by ip', async () => {
    const p1 = await api(s.url, 'GET', '/api/audit?limit=2', { token: admin });
    expect(p1.body.events).toHaveLength(2);
    const p2 = await api(s.url, 'GET', `/api/audit?limit=2&cursor=${p1.body.nextCursor}`, { token: admin });
    expect(Number(p2.body.events[0].id)).toBeLessThan(Number(p1.body.events[1].id));
    const byIp = await api(s.url, 'GET', '/api/audit?ip=198.51.100.8', { token: admin });
    expect(byIp.body.events.length).toBeGreaterThan(0);
    expect(byIp.body.events.every((e: { clientIp: string }) => e.clientIp === '198.51.100.8')).toBe(true);
    expect((await api(s.url, 'GET', '/api/audit?ip=not-an-ip', { token: admin })).status).toBe(400);
  });
});

describe.each(databaseKinds())('durable security state on %s', (kind) => {
  it('revocations and blocked IPs survive a real restart on the same database', async () => {
    let s = await startTestServer({ kind, env: { BLOCK_THRESHOLD: '2', LOGIN_MAX_FAILURES: '1000', TRUSTED_PROXIES: '127.0.0.1' } });
    try {
      const token = await loginAs(s.url, 'admin', ADMIN_PASSWORD);
      const keep = await loginAs(s.url, 'admin', ADMIN_PASSWORD);
      expect((await api(s.url, 'POST', '/api/auth/logout', { token })).status).toBe(200);
      for (let i = 0; i < 3; i++) await api(s.url, 'POST', '/api/auth/login', { body: { username: 'x', password: `${CANARY}-nope-nope` }, headers: { 'x-forwarded-for': '203.0.113.50' } });
      s = await s.restart();
      expect((await api(s.url, 'GET', '/api/auth/me', { token })).body.error.code).toBe('ERR_AUTH_TOKEN_REVOKED');
      expect((await api(s.url, 'GET', '/api/auth/me', { token: keep })).status).toBe(200);
      const blocked = await api(s.url, 'POST', '/api/auth/login', { body: { username: 'admin', password: ADMIN_PASSWORD }, headers: { 'x-forwarded-for': '203.0.113.50' } });
      expect(blocked.status).toBe(429);
      expect(blocked.body.error.code).toBe('ERR_AUTH_IP_BLOCKED');
    } finally {
      await s.close();
    }
  });
});
