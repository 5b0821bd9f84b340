// Every HTTP route that takes a body, a query or path parameters, fed random input by an admin (so
// nothing stops at authentication): the answer is a 2xx, or a 4xx whose body carries a code from
// the shared union with that code's status — never a 500, never a hang. FUZZ_RUNS sets the runs.
import { createHash, randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_STATUS, isErrorCode } from '@guruconnect/shared/errors';
import { ADMIN_PASSWORD, CANARY, api, loginAs, startTestServer, type TestServer } from '../../signaling/src/testing/test-server.ts';
import type { PasswordHasher } from '../../signaling/src/identity/passwords.ts';
import { fuzzRuns, healthy, http, randomSource, watchProcessFaults, type HttpResult } from '../security/harness.ts';

const RUNS = fuzzRuns(40);

/** The fuzz is about the HTTP layer, not Argon2: a fast hasher keeps each login cheap. */
const fastHasher: PasswordHasher = {
  hash: async (pw) => `sha256$${createHash('sha256').update(pw).digest('hex')}`,
  verify: async (hash, pw) => hash === `sha256$${createHash('sha256').update(pw).digest('hex')}`,
};

let s: TestServer;
let admin: string;
let victimId: string;
const faults = watchProcessFaults();

beforeAll(async () => {
  s = await startTestServer({ hasher: fastHasher, env: { BLOCK_THRESHOLD: '1000', LOGIN_MAX_FAILURES: '1000' } });
  admin = await loginAs(s.url, 'admin', ADMIN_PASSWORD);
  // PATCH targets this user only, so no input can lock the admin out.
  victimId = (await api(s.url, 'POST', '/api/users', { token: admin, body: { username: 'victim', password: `${CANARY}-victim-pw` } })).body.id;
});
afterAll(async () => {
  faults.stop();
  await s?.close();
});

/** The contract every answer keeps. */
function expectContract(r: HttpResult, what: string): void {
  expect(r.status, `${what}: ${r.text.slice(0, 300)}`).not.toBeGreaterThanOrEqual(500);
  expect(r.status, what).toBeGreaterThanOrEqual(200);
  if (r.status >= 400) {
    const code = r.body?.error?.code;
    expect(isErrorCode(code), `${what}: code ${String(code)}`).toBe(true);
    expect(ERROR_STATUS[code as keyof typeof ERROR_STATUS], `${what}: status of ${code}`).toBe(r.status);
  }
}

// ---- input generators ------------------------------------------------------------------------------

const surrogates = fc.string({ unit: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)), maxLength: 8 });
const weirdString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  surrogates,
  fc.constantFrom('', ' ', '\u0000', 'a\u0000b', '%00', '../..', '<script>', '__proto__', 'constructor', '9'.repeat(19), '-1', 'NaN', 'null', 'true', '0x10', '1e309', '\u202E', '\uFEFF'),
  fc.integer({ min: 1000, max: 70_000 }).map((n) => 'x'.repeat(n)),
);
const scalar = fc.oneof(weirdString, fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null), fc.constantFrom(-1, 0, 1, 2 ** 31, 2 ** 53, -(2 ** 63)));
const junk: fc.Arbitrary<unknown> = fc.oneof({ weight: 3, arbitrary: scalar }, { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }) }, { weight: 1, arbitrary: fc.array(scalar, { maxLength: 600 }) });
/** Deeply nested JSON as text (a parsed copy would overflow the reporter's recursion, not the server's). */
const deepText = fc.tuple(fc.integer({ min: 100, max: 20_000 }), fc.constantFrom('[', '{"a":'), fc.constantFrom('', '{"username":', '{"ids":', '{"name":')).map(([d, open, field]) => {
  const inner = open === '[' ? '['.repeat(d) + ']'.repeat(d) : `${open.repeat(d)}1${'}'.repeat(d)}`;
  return field ? `${field}${inner}}` : inner;
});

/** An object with the route's field names (plus junk keys), each valid-ish or junk. */
function shaped(fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<string> {
  const entries = Object.fromEntries(Object.entries(fields).map(([k, valid]) => [k, fc.oneof({ weight: 2, arbitrary: valid }, { weight: 1, arbitrary: junk })]));
  return fc.oneof(
    { weight: 6, arbitrary: fc.tuple(fc.record(entries, { requiredKeys: [] }), fc.dictionary(fc.oneof(weirdString, fc.constantFrom('__proto__', 'constructor', 'prototype')), junk, { maxKeys: 3 })).map(([a, b]) => JSON.stringify({ ...b, ...a })) },
    { weight: 2, arbitrary: junk.map((j) => JSON.stringify(j) ?? 'null') },
    { weight: 1, arbitrary: deepText },
  );
}

const uuid = fc.uuid();
const perms = fc.array(fc.constantFrom('view', 'control', 'chat', 'manage_codes', 'admin', ''), { maxLength: 20 });
const password = fc.oneof(fc.string({ minLength: 12, maxLength: 40 }), weirdString);
const isoDate = fc.date({ min: new Date(-62_000_000_000_000), max: new Date(253_402_300_799_000), noInvalidDate: true }).map((d) => d.toISOString());

interface BodyRoute {
  method: string;
  path: () => string;
  body: fc.Arbitrary<string>;
}
const bodyRoutes: Record<string, BodyRoute> = {
  'POST /api/auth/login': { method: 'POST', path: () => '/api/auth/login', body: shaped({ username: fc.oneof(fc.constantFrom('admin', 'victim', 'ADMIN'), weirdString), password }) },
  'POST /api/users': { method: 'POST', path: () => '/api/users', body: shaped({ username: fc.oneof(fc.stringMatching(/^[A-Za-z0-9._-]{2,64}$/), weirdString), displayName: weirdString, password, role: fc.constantFrom('admin', 'technician', 'root'), permissions: perms }) },
  'PATCH /api/users/:id': { method: 'PATCH', path: () => `/api/users/${victimId}`, body: shaped({ displayName: weirdString, role: fc.constantFrom('technician', 'root'), permissions: perms, disabled: fc.boolean(), password }) },
  'POST /api/support-codes': { method: 'POST', path: () => '/api/support-codes', body: shaped({ label: weirdString, ttlMinutes: fc.oneof(fc.integer({ min: -5, max: 100 }), fc.double()) }) },
  'POST /api/agent-keys': { method: 'POST', path: () => '/api/agent-keys', body: shaped({ name: weirdString, machineId: fc.oneof(uuid, weirdString) }) },
  'POST /api/machines/bulk-remove': { method: 'POST', path: () => '/api/machines/bulk-remove', body: shaped({ ids: fc.oneof(fc.array(fc.oneof(uuid, weirdString), { maxLength: 30 }), fc.array(uuid, { minLength: 499, maxLength: 502 })) }) },
};

describe('HTTP bodies: any JSON gets a 2xx or a coded 4xx, never a 500 or a hang', () => {
  it.each(Object.keys(bodyRoutes))('%s', async (name) => {
    const route = bodyRoutes[name]!;
    await fc.assert(
      fc.asyncProperty(route.body, async (body) => {
        const r = await http(s.url, route.method, route.path(), { token: admin, raw: body, headers: { 'content-type': 'application/json' }, from: randomSource() });
        expectContract(r, `${name} ${body.slice(0, 200)}`);
      }),
      { numRuns: RUNS },
    );
  });

  const rawBody = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
    fc.constantFrom('{', '{"a":', '[1,2', '{"__proto__":{"role":"admin"}}', '{"constructor":{"prototype":{"x":1}}}', '\uFEFF{}', 'null', '', '"x"', '1e999', '{"a":1,"a":2}', Buffer.from([0xc3, 0x28]), Buffer.from([0xed, 0xa0, 0x80])),
    fc.integer({ min: 60_000, max: 120_000 }).map((n) => `{"username":"${'u'.repeat(n)}"}`),
  );
  const contentType = fc.constantFrom('application/json', 'application/json; charset=utf-16', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json;;', '', 'APPLICATION/JSON');
  it.each(Object.keys(bodyRoutes))('%s with raw bytes and any content type', async (name) => {
    const route = bodyRoutes[name]!;
    await fc.assert(
      fc.asyncProperty(rawBody, contentType, async (raw, type) => {
        const r = await http(s.url, route.method, route.path(), { token: admin, raw, headers: type ? { 'content-type': type } : {}, from: randomSource() });
        expectContract(r, `${name} ${type} ${String(raw).slice(0, 120)}`);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('HTTP queries and path parameters', () => {
  const queryValue = fc.oneof(weirdString, fc.integer().map(String), isoDate, fc.stringMatching(/^\d{1,19}$/), fc.constantFrom('login_failed', 'session_started', '127.0.0.1', '::ffff:1.2.3.4', '1h', '9999d', '0s'));
  const query = (keys: string[]) =>
    fc.array(fc.tuple(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...keys) }, { weight: 1, arbitrary: weirdString.map((k) => k.slice(0, 20)) }), queryValue), { maxLength: 6 }).map((pairs) => new URLSearchParams(pairs.map(([k, v]): [string, string] => [k, v.slice(0, 4000)])).toString());
  const queryRoutes: Array<[string, string, string[]]> = [
    ['GET /api/audit', '/api/audit', ['type', 'ip', 'actor', 'session', 'since', 'until', 'cursor', 'limit']],
    ['GET /api/audit/failed-connections', '/api/audit/failed-connections', ['window']],
  ];
  it.each(queryRoutes)('%s', async (name, path, keys) => {
    await fc.assert(
      fc.asyncProperty(query(keys), async (q) => {
        expectContract(await http(s.url, 'GET', `${path}?${q}`, { token: admin }), `${name}?${q.slice(0, 300)}`);
      }),
      { numRuns: RUNS },
    );
  });

  const encode = (v: string) => encodeURIComponent(v.replace(/[\uD800-\uDFFF]/g, (c) => `%${c.charCodeAt(0).toString(16)}`));
  const segment = fc.oneof(weirdString.map((v) => encode(v.slice(0, 300))), fc.constantFrom('%', '%25', '%zz', '%c3%28', '%ed%a0%80', '..', '%2e%2e', '%2f', '1.2.3.4', '::1', randomUUID(), '000000', '123456'));
  const paramRoutes: Array<[string, string]> = [
    ['DELETE', '/api/blocked-ips/:p'],
    ['DELETE', '/api/agent-keys/:p'],
    ['PATCH', '/api/users/:p'],
    ['POST', '/api/users/:p/revoke-tokens'],
    ['DELETE', '/api/auth/tokens/:p'],
    ['POST', '/api/sessions/:p/viewer-token'],
    ['DELETE', '/api/sessions/:p'],
    ['DELETE', '/api/machines/:p'],
    ['POST', '/api/support-codes/:p/cancel'],
    ['GET', '/api/join/:p'],
  ];
  it.each(paramRoutes)('%s %s', async (method, path) => {
    await fc.assert(
      fc.asyncProperty(segment, async (p) => {
        const r = await http(s.url, method, path.replace(':p', p), { token: admin, body: method === 'PATCH' ? { displayName: 'x' } : undefined, from: randomSource() });
        expectContract(r, `${method} ${path} ${p}`);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('after the fuzz', () => {
  it('the server still answers, the admin is intact, and nothing was left unhandled', async () => {
    expect(await healthy(s.url)).toBe(true);
    expect((await api(s.url, 'GET', '/api/auth/me', { token: admin })).status).toBe(200);
    expect(faults.rejections).toEqual([]);
    expect(faults.exceptions).toEqual([]);
  });
});
