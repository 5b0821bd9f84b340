import { createHash, createPublicKey, verify } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentVersionsSchema, manifestSigningBytes, signedManifestSchema, type SignedManifest, type UpdateReport } from '@guruconnect/shared/protocol';
import { runRelease } from '../../cli/release.ts';
import { buildServices, type Services } from '../../compose.ts';
import { parseConfig } from '../../config/config.ts';
import { createTestDatabase, databaseKinds, type TestDatabase } from '../../db/test-database.ts';
import type { Principal } from '../../identity/principal.ts';
import { bootstrapAdmin } from '../../identity/bootstrap.ts';
import { createLogger } from '../../logging/logger.ts';
import { parseTrustedProxies, resolveClientIp } from '../../net/client-ip.ts';
import { ADMIN_PASSWORD, CANARY, LOG_DIR, TEST_JWT_SECRET } from '../../testing/test-server.ts';
import { UpdateCatalog } from '../../updates/update-catalog.ts';
import { installErrorHandling } from '../errors.ts';
import type { RouteEnv } from '../route.ts';
import { updateRoutes, UPDATE_REPORTS_PER_HOUR } from './routes.ts';

/** 40 characters, many distinct, none of the words config.ts refuses. */
const SHARED_KEY = 'Qm7vT2xK9pL4wR8zN3bH6jF1cY5dG0sVaE2uW7kX';
const TECH_PASSWORD = `${CANARY}-tech-pass-01`;
const T = (d: number) => new Date(Date.UTC(2026, 0, d)).toISOString();

interface Harness {
  http: FastifyInstance;
  services: Services;
  tdb: TestDatabase;
  logFile: string;
  manifestDir: string;
  keysDir: string;
  catalogNow: { ms: number };
  close(): Promise<void>;
}

/**
 * The update routes on a Fastify instance built like app.ts builds its own (client IP,
 * error mapping), over the real services and a private test database. Once app.ts registers
 * `updateRoutes`, the same requests reach the same handlers there.
 */
async function startHarness(kind: 'pglite' | 'postgres'): Promise<Harness> {
  const tdb = await createTestDatabase(kind);
  const manifestDir = join(tdb.dataDir, 'manifests');
  const keysDir = join(tdb.dataDir, 'keys');
  mkdirSync(manifestDir);
  const parsed = parseConfig({ JWT_SECRET: TEST_JWT_SECRET, BOOTSTRAP_ADMIN_PASSWORD: ADMIN_PASSWORD, DATA_DIR: tdb.dataDir, AGENT_API_KEY: SHARED_KEY, LOG_LEVEL: 'debug' });
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  mkdirSync(LOG_DIR, { recursive: true });
  const logFile = join(LOG_DIR, `updates-${Date.now()}-${Math.random().toString(36).slice(2, 8)}.log`);
  const logger = createLogger({ level: 'debug', destination: pino.destination({ dest: logFile, sync: true }) });
  const services = await buildServices({ config: parsed.config, db: tdb.db, logger });
  await bootstrapAdmin({ ...services, logger, console: { print: () => undefined }, password: ADMIN_PASSWORD });

  const http = Fastify({ loggerInstance: logger }) as unknown as FastifyInstance;
  const trusted = parseTrustedProxies([]);
  http.decorateRequest('clientIp', '');
  http.addHook('onRequest', async (req) => {
    req.clientIp = resolveClientIp(req.raw.socket.remoteAddress, req.headers['x-forwarded-for'], trusted);
  });
  installErrorHandling(http);
  const catalogNow = { ms: Date.now() };
  const env: RouteEnv = { authenticator: services.authenticator };
  updateRoutes(http, env, {
    catalog: new UpdateCatalog({ dir: manifestDir, logger, now: () => catalogNow.ms }),
    agentKeys: services.agentKeys,
    audit: services.audit,
    ipBlocker: services.ipBlocker,
    machines: services.machines,
    auditStore: services.auditStore,
    logger,
  });
  await http.ready();
  return {
    http,
    services,
    tdb,
    logFile,
    manifestDir,
    keysDir,
    catalogNow,
    async close() {
      await http.close();
      await tdb.cleanup();
    },
  };
}

/** Run the release CLI in-process; fails the test on a non-zero exit. */
async function release(...argv: string[]): Promise<string> {
  let out = '';
  let err = '';
  const code = await runRelease(argv, { env: {}, out: (s) => (out += s), err: (s) => (err += s) });
  if (code !== 0) throw new Error(`release ${argv[0]} exited ${code}: ${err}`);
  return out;
}

describe.each(databaseKinds())('agent update routes (%s)', (kind) => {
  let h: Harness;
  let admin: Principal;
  let adminToken: string;
  let techToken: string;
  let keyId: string;
  let publicKeyPem: string;
  let agent: { key: string; keyId: string; machineId: string };
  let ipSeq = 0;
  /** A fresh client address per refused row, so the IP blocker never couples the rows. */
  const freshIp = () => `198.51.100.${++ipSeq}`;

  async function newAgentKey(name: string, bind = true) {
    const { record, key } = await h.services.agentKeys.create({ name }, admin, '127.0.0.1');
    let machineId = '';
    if (bind) {
      machineId = (await h.services.machines.create({ name, keyed: true, agentVersion: '1.0.0' }, new Date())).id;
      await h.services.agentKeys.bindMachine(record.id, machineId);
    }
    return { key, keyId: record.id, machineId };
  }

  /** Package → manifest → signature with the release CLI, into the manifest directory. */
  async function publishSigned(file: string, args: { version: string; platform?: string; channel?: string; issuedAt?: string }) {
    const pkg = join(h.tdb.dataDir, `pkg-${args.version}.tgz`);
    writeFileSync(pkg, `package ${args.version}`);
    const draft = join(h.tdb.dataDir, `draft-${file}`);
    rmSync(draft, { force: true });
    await release('manifest', '--file', pkg, '--version', args.version, '--platform', args.platform ?? 'linux-x64', '--channel', args.channel ?? 'stable', '--url', `https://updates.example.com/agent-${args.version}.tgz`, '--out', draft);
    if (args.issuedAt) writeFileSync(draft, JSON.stringify({ ...JSON.parse(readFileSync(draft, 'utf8')), issuedAt: args.issuedAt }));
    await release('sign', '--key', join(h.keysDir, `${keyId}.private.pem`), '--manifest', draft, '--out', join(h.manifestDir, file), '--force');
    return JSON.parse(readFileSync(join(h.manifestDir, file), 'utf8')) as SignedManifest;
  }

  const rescan = () => (h.catalogNow.ms += 60_000);

  const get = (url: string, authorization?: string, ip = '127.0.0.1') => h.http.inject({ method: 'GET', url, headers: authorization ? { authorization } : {}, remoteAddress: ip });
  const report = (body: unknown, authorization: string | undefined, ip = '127.0.0.1', headers: Record<string, string> = {}) =>
    h.http.inject({ method: 'POST', url: '/api/agent/update-report', headers: { ...(authorization ? { authorization } : {}), ...headers }, payload: body as object, remoteAddress: ip });

  const auditRows = async (type: 'agent_update_applied' | 'agent_update_rejected' | 'connection_rejected_invalid_api_key') =>
    h.services.auditStore.list({ type, limit: 500 });

  beforeAll(async () => {
    h = await startHarness(kind);
    const login = await h.services.identity.login('admin', ADMIN_PASSWORD, { ip: '127.0.0.1' });
    adminToken = login.token;
    admin = await h.services.authenticator.authenticate(`Bearer ${adminToken}`);
    await h.services.userAdmin.create({ username: 'tech', password: TECH_PASSWORD, role: 'technician', permissions: ['view', 'control', 'chat', 'manage_codes'] }, admin, '127.0.0.1');
    techToken = (await h.services.identity.login('tech', TECH_PASSWORD, { ip: '127.0.0.1' })).token;

    const out = await release('keygen', '--out', h.keysDir);
    keyId = /key id:\s+(\S+)/.exec(out)![1]!;
    publicKeyPem = readFileSync(join(h.keysDir, `${keyId}.public.pem`), 'utf8');
    agent = await newAgentKey('front-desk');
  });
  afterAll(async () => h?.close());

  describe('GET /api/agent/update', () => {
    let v110: SignedManifest;
    let v120: SignedManifest;
    beforeAll(async () => {
      v110 = await publishSigned('linux-stable-1.1.0.json', { version: '1.1.0', issuedAt: T(10) });
      v120 = await publishSigned('linux-stable-1.2.0.json', { version: '1.2.0', issuedAt: T(20) });
      await publishSigned('mac-beta.json', { version: '2.0.0-beta.1', platform: 'darwin-arm64', channel: 'beta', issuedAt: T(21) });
      // Files the server must skip, with a warning, and never serve.
      const unsigned = { ...v120.manifest, version: '9.9.9', platform: 'win32-x64' };
      writeFileSync(join(h.manifestDir, 'win-unsigned.json'), JSON.stringify(unsigned));
      writeFileSync(join(h.manifestDir, 'win-garbage.json'), '{"manifest": ');
      writeFileSync(join(h.manifestDir, 'win-badsig.json'), JSON.stringify({ ...v120, manifest: unsigned, signature: 'not base64!' }));
      writeFileSync(join(h.manifestDir, 'win-huge.json'), JSON.stringify({ ...v120, manifest: { ...v120.manifest, platform: 'win32-x64' }, pad: 'x'.repeat(20_000) }));
      writeFileSync(join(h.manifestDir, 'win-signed.txt'), JSON.stringify({ ...v120, manifest: { ...v120.manifest, platform: 'win32-x64' } }));
      rescan();
    });

    it('serves the newest signed manifest for the platform and channel, exactly as signed', async () => {
      const r = await get('/api/agent/update?platform=linux-x64&channel=stable', `AgentKey ${agent.key}`);
      expect(r.statusCode).toBe(200);
      expect(r.headers['cache-control']).toBe('no-store');
      expect(r.json()).toEqual(v120);
      expect(r.json()).toEqual(JSON.parse(readFileSync(join(h.manifestDir, 'linux-stable-1.2.0.json'), 'utf8')));
      // …and what it served verifies with the release public key: the server did not touch it.
      const doc = signedManifestSchema.parse(r.json());
      expect(verify(null, manifestSigningBytes(doc.manifest), createPublicKey(publicKeyPem), Buffer.from(doc.signature, 'base64'))).toBe(true);
      expect(v110.manifest.version).toBe('1.1.0');
    });

    it('defaults to the stable channel and keeps channels apart', async () => {
      expect((await get('/api/agent/update?platform=linux-x64', `AgentKey ${agent.key}`)).json().manifest.version).toBe('1.2.0');
      expect((await get('/api/agent/update?platform=darwin-arm64&channel=beta', `AgentKey ${agent.key}`)).json().manifest.version).toBe('2.0.0-beta.1');
      const none = await get('/api/agent/update?platform=darwin-arm64&channel=stable', `AgentKey ${agent.key}`);
      expect(none.statusCode).toBe(404);
      expect(none.json().error.code).toBe('ERR_NOT_FOUND');
    });

    it('never serves an unsigned, garbage, malformed, oversized or non-.json file — and warns about each', async () => {
      const r = await get('/api/agent/update?platform=win32-x64', `AgentKey ${agent.key}`);
      expect(r.statusCode).toBe(404);
      expect(r.json().error.code).toBe('ERR_NOT_FOUND');
      const warnings = readFileSync(h.logFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { msg: string; file?: string; reason?: string; level: number })
        .filter((l) => l.msg === 'update manifest skipped');
      expect(warnings.map((w) => w.file).sort()).toEqual(['win-badsig.json', 'win-garbage.json', 'win-huge.json', 'win-unsigned.json']);
      expect(warnings.every((w) => w.level === 40)).toBe(true);
    });

    it('warns about a bad file once, not on every rescan', async () => {
      const count = () => readFileSync(h.logFile, 'utf8').split('\n').filter((l) => l.includes('"file":"win-garbage.json"')).length;
      const before = count();
      rescan();
      await get('/api/agent/update?platform=win32-x64', `AgentKey ${agent.key}`);
      expect(count()).toBe(before);
    });

    it('picks up a newly published manifest after the rescan interval', async () => {
      await publishSigned('linux-stable-1.3.0.json', { version: '1.3.0', issuedAt: T(25) });
      expect((await get('/api/agent/update?platform=linux-x64', `AgentKey ${agent.key}`)).json().manifest.version).toBe('1.2.0');
      rescan();
      expect((await get('/api/agent/update?platform=linux-x64', `AgentKey ${agent.key}`)).json().manifest.version).toBe('1.3.0');
      rmSync(join(h.manifestDir, 'linux-stable-1.3.0.json'));
      rescan();
    });

    it('answers 400 ERR_VALIDATION for an unknown platform, after authentication', async () => {
      const r = await get('/api/agent/update?platform=amiga-m68k', `AgentKey ${agent.key}`);
      expect(r.statusCode).toBe(400);
      expect(r.json().error.code).toBe('ERR_VALIDATION');
      expect((await get('/api/agent/update?platform=amiga-m68k')).statusCode).toBe(401);
    });

    it('accepts the deprecated shared agent key (reading a signed manifest needs no machine)', async () => {
      expect((await get('/api/agent/update?platform=linux-x64', `AgentKey ${SHARED_KEY}`)).statusCode).toBe(200);
    });

    const refused: Array<[string, () => Promise<string | undefined>, number, string]> = [
      ['no Authorization header', async () => undefined, 401, 'ERR_AUTH_REQUIRED'],
      ['a login token as Bearer', async () => `Bearer ${adminToken}`, 401, 'ERR_AUTH_REQUIRED'],
      ['an agent key as Bearer', async () => `Bearer ${agent.key}`, 401, 'ERR_AUTH_REQUIRED'],
      ['a random well-formed agent key', async () => `AgentKey cak_${'Z'.repeat(43)}`, 401, 'ERR_AGENT_KEY_INVALID'],
      ['a login token as an agent key', async () => `AgentKey ${adminToken}`, 401, 'ERR_AGENT_KEY_INVALID'],
      ['a revoked agent key', async () => {
        const k = await newAgentKey('revoked-reader');
        await h.services.agentKeys.revoke(k.keyId, admin, '127.0.0.1');
        return `AgentKey ${k.key}`;
      }, 401, 'ERR_AGENT_KEY_INVALID'],
    ];
    it.each(refused)('refuses %s', async (_what, auth, status, code) => {
      const r = await get('/api/agent/update?platform=linux-x64', await auth(), freshIp());
      expect(r.statusCode).toBe(status);
      expect(r.json().error.code).toBe(code);
    });
  });

  describe('POST /api/agent/update-report', () => {
    const base = { platform: 'linux-x64', channel: 'stable', fromVersion: '1.0.0', decidedAt: T(12) } as const;
    const applied: UpdateReport = { outcome: 'applied', ...base, toVersion: '1.1.0', runningVersion: '1.1.0', issuedAt: T(10), signingKeyId: 'ed25519-0123456789abcdef' };
    const rejected: UpdateReport = { outcome: 'rejected', reason: 'hash_mismatch', ...base, runningVersion: '1.0.0', toVersion: '1.2.0', issuedAt: T(20), detail: 'SHA-256 abcd… does not match the manifest' };

    it('audits an applied update with the machine and the client IP, and records the version the machine runs', async () => {
      const a = await newAgentKey('applied-pc');
      const r = await report(applied, `AgentKey ${a.key}`, '203.0.113.9', { 'x-forwarded-for': '192.0.2.200' });
      expect(r.statusCode).toBe(200);
      expect(r.json()).toEqual({ recorded: true });
      const row = (await auditRows('agent_update_applied')).find((e) => e.target === `machine:${a.machineId}`);
      expect(row).toMatchObject({ clientIp: '203.0.113.9', actor: `key:${a.keyId}`, details: expect.objectContaining({ machineId: a.machineId, machineName: 'applied-pc', fromVersion: '1.0.0', toVersion: '1.1.0', runningVersion: '1.1.0', signedBy: applied.signingKeyId, keyId: a.keyId }) });
      expect((await h.services.machines.findById(a.machineId))?.agentVersion).toBe('1.1.0');
    });

    it.each(['bad_signature', 'unknown_key', 'downgrade', 'replay', 'hash_mismatch', 'size_mismatch', 'tls_untrusted', 'min_version', 'rolled_back'] as const)(
      'audits a rejection with its reason %s, the machine and the client IP',
      async (reason) => {
        const a = await newAgentKey(`rejecting-${reason}`);
        const ip = freshIp();
        const r = await report({ ...rejected, reason }, `AgentKey ${a.key}`, ip);
        expect(r.statusCode).toBe(200);
        const row = (await auditRows('agent_update_rejected')).find((e) => e.target === `machine:${a.machineId}`);
        expect(row).toMatchObject({ clientIp: ip, details: expect.objectContaining({ reason, machineId: a.machineId, fromVersion: '1.0.0', toVersion: '1.2.0', detail: rejected.outcome === 'rejected' ? rejected.detail : '' }) });
        expect((await h.services.machines.findById(a.machineId))?.agentVersion).toBe('1.0.0');
      },
    );

    it('records the restored version after a rollback', async () => {
      const a = await newAgentKey('rolled-back-pc');
      await h.services.machines.touch(a.machineId, { name: 'rolled-back-pc', agentVersion: '1.1.0' }, new Date());
      await report({ ...rejected, reason: 'rolled_back', toVersion: '1.1.0', runningVersion: '1.0.0' }, `AgentKey ${a.key}`);
      expect((await h.services.machines.findById(a.machineId))?.agentVersion).toBe('1.0.0');
    });

    const unauthorised: Array<[string, () => Promise<string | undefined>, number, string]> = [
      ['a missing agent key', async () => undefined, 401, 'ERR_AUTH_REQUIRED'],
      ['an invalid agent key', async () => `AgentKey cak_${'Q'.repeat(43)}`, 401, 'ERR_AGENT_KEY_INVALID'],
      ['a revoked agent key', async () => {
        const k = await newAgentKey('revoked-reporter');
        await h.services.agentKeys.revoke(k.keyId, admin, '127.0.0.1');
        return `AgentKey ${k.key}`;
      }, 401, 'ERR_AGENT_KEY_INVALID'],
      ['an admin login token', async () => `Bearer ${adminToken}`, 401, 'ERR_AUTH_REQUIRED'],
      ['the shared agent key (no machine to attribute)', async () => `AgentKey ${SHARED_KEY}`, 403, 'ERR_AUTH_FORBIDDEN'],
      ['a key that never connected (no machine yet)', async () => `AgentKey ${(await newAgentKey('unbound', false)).key}`, 403, 'ERR_AUTH_FORBIDDEN'],
    ];
    it.each(unauthorised)('refuses %s and audits no update', async (_what, auth, status, code) => {
      const before = (await auditRows('agent_update_applied')).length + (await auditRows('agent_update_rejected')).length;
      const r = await report(applied, await auth(), freshIp());
      expect(r.statusCode).toBe(status);
      expect(r.json().error.code).toBe(code);
      expect((await auditRows('agent_update_applied')).length + (await auditRows('agent_update_rejected')).length).toBe(before);
    });

    it('audits an invalid agent key as a refused connection, with the client IP', async () => {
      const ip = freshIp();
      await report(applied, `AgentKey cak_${'R'.repeat(43)}`, ip);
      expect((await auditRows('connection_rejected_invalid_api_key')).filter((e) => e.clientIp === ip)).toEqual([
        expect.objectContaining({ details: expect.objectContaining({ plane: 'http', route: 'POST /api/agent/update-report' }) }),
      ]);
    });

    it('checks the key before the body: a bad key with a bad body is 401, a good key with a bad body is 400', async () => {
      expect((await report({ nonsense: true }, `AgentKey cak_${'S'.repeat(43)}`, freshIp())).statusCode).toBe(401);
      const bad: Array<unknown> = [
        { nonsense: true },
        { ...rejected, reason: 'because' },
        { ...applied, outcome: 'rejected' },
        { ...applied, extra: 1 },
        { ...rejected, detail: 'line\nbreak' },
        { ...rejected, detail: 'lone \uD800 surrogate' },
        { ...applied, runningVersion: 'latest' },
      ];
      for (const body of bad) {
        const r = await report(body, `AgentKey ${agent.key}`);
        expect(r.statusCode, JSON.stringify(body)).toBe(400);
        expect(r.json().error.code).toBe('ERR_VALIDATION');
      }
    });

    it('refuses a key whose machine was removed', async () => {
      const a = await newAgentKey('removed-pc');
      await h.services.machines.markRemoved(a.machineId, new Date());
      const r = await report(applied, `AgentKey ${a.key}`);
      expect(r.statusCode).toBe(503);
      expect(r.json().error.code).toBe('ERR_AGENT_MACHINE_UNRESOLVED');
    });

    it(`limits each key to ${UPDATE_REPORTS_PER_HOUR} reports an hour`, async () => {
      const a = await newAgentKey('chatty-pc');
      for (let i = 0; i < UPDATE_REPORTS_PER_HOUR; i++) expect((await report(applied, `AgentKey ${a.key}`)).statusCode).toBe(200);
      const r = await report(applied, `AgentKey ${a.key}`);
      expect(r.statusCode).toBe(429);
      expect(r.json().error.code).toBe('ERR_RATE_LIMITED');
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
    });

    it('blocks an address that keeps presenting invalid keys', async () => {
      const ip = freshIp();
      const codes: string[] = [];
      for (let i = 0; i < 25; i++) codes.push((await report(applied, `AgentKey cak_${String(i).padStart(43, 'x')}`, ip)).json().error.code);
      expect(codes).toContain('ERR_AUTH_IP_BLOCKED');
      expect((await report(applied, `AgentKey ${agent.key}`, ip)).json().error.code).toBe('ERR_AUTH_IP_BLOCKED');
    });
  });

  describe('GET /api/agent/versions', () => {
    it('is admin-only: 401 without a login, 403 for a technician with every permission, 401 for an agent key', async () => {
      expect((await get('/api/agent/versions')).statusCode).toBe(401);
      const tech = await get('/api/agent/versions', `Bearer ${techToken}`);
      expect(tech.statusCode).toBe(403);
      expect(tech.json().error.code).toBe('ERR_AUTH_FORBIDDEN');
      expect((await get('/api/agent/versions', `AgentKey ${agent.key}`)).statusCode).toBe(401);
    });

    it('shows which machines run which version, what is published, recent rejections with reasons and applied updates', async () => {
      const a = await newAgentKey('versions-pc');
      const applied: UpdateReport = { outcome: 'applied', platform: 'linux-x64', channel: 'stable', fromVersion: '0.9.0', toVersion: '1.0.0', runningVersion: '1.0.0', issuedAt: T(11), signingKeyId: 'ed25519-0123456789abcdef', decidedAt: T(12) };
      await report(applied, `AgentKey ${a.key}`, '203.0.113.77');
      await report({ outcome: 'rejected', reason: 'downgrade', platform: 'linux-x64', channel: 'stable', fromVersion: '1.0.0', runningVersion: '1.0.0', toVersion: '0.9.0', decidedAt: T(13) }, `AgentKey ${a.key}`, '203.0.113.77');
      const r = await get('/api/agent/versions?limit=5', `Bearer ${adminToken}`);
      expect(r.statusCode).toBe(200);
      const body = agentVersionsSchema.parse(r.json());
      const versions = body.versions.map((v) => v.version);
      expect(versions.indexOf('1.1.0')).toBeLessThan(versions.indexOf('1.0.0'));
      expect(body.versions.find((v) => v.version === '1.0.0')?.machines).toContainEqual(expect.objectContaining({ id: a.machineId, name: 'versions-pc' }));
      expect(body.published).toEqual(
        expect.arrayContaining([
          { platform: 'linux-x64', channel: 'stable', version: '1.2.0', issuedAt: T(20), keyId },
          { platform: 'darwin-arm64', channel: 'beta', version: '2.0.0-beta.1', issuedAt: T(21), keyId },
        ]),
      );
      expect(body.rejections.length).toBeLessThanOrEqual(5);
      expect(body.rejections[0]).toEqual({ at: expect.any(String), machineId: a.machineId, machineName: 'versions-pc', reason: 'downgrade', fromVersion: '1.0.0', toVersion: '0.9.0', detail: null, clientIp: '203.0.113.77' });
      expect(body.applied[0]).toEqual({
        at: expect.any(String),
        machineId: a.machineId,
        machineName: 'versions-pc',
        fromVersion: applied.fromVersion,
        toVersion: applied.toVersion,
        signedBy: applied.signingKeyId,
      });
    });
  });
});

describe('the release CLI', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gc-release-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keygen writes a 0600 private key and a public key named by the derived id, and never overwrites', async () => {
    const out = await release('keygen', '--out', join(dir, 'k'));
    const id = /key id:\s+(ed25519-[0-9a-f]{16})/.exec(out)![1]!;
    expect(readdirSync(join(dir, 'k')).sort()).toEqual([`${id}.private.pem`, `${id}.public.pem`]);
    const { statSync } = await import('node:fs');
    expect(statSync(join(dir, 'k', `${id}.private.pem`)).mode & 0o777).toBe(0o600);
    expect(out).not.toContain('PRIVATE KEY');
    const raw = createPublicKey(readFileSync(join(dir, 'k', `${id}.public.pem`), 'utf8')).export({ type: 'spki', format: 'der' }).subarray(-32);
    expect(id).toBe(`ed25519-${createHash('sha256').update(raw).digest('hex').slice(0, 16)}`);
  });

  it('sign refuses a manifest that does not parse, and one issued far in the future', async () => {
    const out = await release('keygen', '--out', join(dir, 'k2'));
    const id = /key id:\s+(\S+)/.exec(out)![1]!;
    const key = join(dir, 'k2', `${id}.private.pem`);
    const m = { version: '1.0.0', platform: 'linux-x64', channel: 'stable', url: 'https://u.example.com/a.tgz', sha256: 'a'.repeat(64), size: 1 };
    const errs: string[] = [];
    const run = (manifest: unknown) => {
      writeFileSync(join(dir, 'm.json'), JSON.stringify(manifest));
      return runRelease(['sign', '--key', key, '--manifest', join(dir, 'm.json'), '--out', join(dir, 's.json'), '--force'], { env: {}, out: () => undefined, err: (s) => errs.push(s) });
    };
    await expect(run({ ...m, url: 'http://u.example.com/a.tgz' })).resolves.toBe(2);
    await expect(run({ ...m, issuedAt: new Date(Date.now() + 2 * 3600_000).toISOString() })).resolves.toBe(2);
    await expect(run(m)).resolves.toBe(0);
    expect(await release('verify', '--pub', join(dir, 'k2', `${id}.public.pem`), '--signed', join(dir, 's.json'))).toContain('valid: 1.0.0');
    const other = /key id:\s+(\S+)/.exec(await release('keygen', '--out', join(dir, 'k3')))![1]!;
    await expect(runRelease(['verify', '--pub', join(dir, 'k3', `${other}.public.pem`), '--signed', join(dir, 's.json')], { env: {}, out: () => undefined, err: () => undefined })).resolves.toBe(1);
  });

  it('encrypts the private key when GURU_RELEASE_KEY_PASSPHRASE is set, and needs it to sign', async () => {
    const env = { GURU_RELEASE_KEY_PASSPHRASE: `${CANARY}-release-passphrase` };
    let out = '';
    expect(await runRelease(['keygen', '--out', join(dir, 'k4')], { env, out: (s) => (out += s), err: () => undefined })).toBe(0);
    const id = /key id:\s+(\S+)/.exec(out)![1]!;
    expect(readFileSync(join(dir, 'k4', `${id}.private.pem`), 'utf8')).toContain('ENCRYPTED PRIVATE KEY');
    writeFileSync(join(dir, 'm4.json'), JSON.stringify({ version: '1.0.0', platform: 'linux-x64', channel: 'stable', url: 'https://u.example.com/a.tgz', sha256: 'a'.repeat(64), size: 1 }));
    const args = ['sign', '--key', join(dir, 'k4', `${id}.private.pem`), '--manifest', join(dir, 'm4.json'), '--out', join(dir, 's4.json')];
    expect(await runRelease(args, { env: {}, out: () => undefined, err: () => undefined })).toBe(1);
    expect(await runRelease(args, { env, out: () => undefined, err: () => undefined })).toBe(0);
  });

  it('set-flavor rewrites exactly the BUILD_FLAVOR line of a staged build', async () => {
    const src = readFileSync(new URL('../../../../agent/src/update/build-flavor.ts', import.meta.url), 'utf8');
    const file = join(dir, 'build-flavor.ts');
    writeFileSync(file, src);
    await release('set-flavor', '--file', file, 'production');
    const rewritten = readFileSync(file, 'utf8');
    expect(rewritten).toContain("export const BUILD_FLAVOR: BuildFlavor = 'production';");
    expect(rewritten.replace("BUILD_FLAVOR: BuildFlavor = 'production';", "BUILD_FLAVOR: BuildFlavor = 'development';")).toBe(src);
    const mod = (await import(/* @vite-ignore */ file)) as { BUILD_FLAVOR: string };
    expect(mod.BUILD_FLAVOR).toBe('production');
    writeFileSync(file, src.replace('export const BUILD_FLAVOR', 'export let BUILD_FLAVOR'));
    await expect(runRelease(['set-flavor', '--file', file, 'production'], { env: {}, out: () => undefined, err: () => undefined })).resolves.toBe(1);
  });
});
