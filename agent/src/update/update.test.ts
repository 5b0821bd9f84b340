import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { updateReportSchema, type SignedManifest, type UpdateManifest, type UpdateRejectReason, type UpdateReport } from '@guruconnect/shared/protocol';
import { createLogger } from '../log/logger.ts';
import {
  confirmUpdate,
  createHttpReporter,
  installPaths,
  readCurrentVersion,
  readUpdateState,
  recoverPendingUpdate,
  runUpdateCycle,
  scheduleRollback,
  UPDATE_CONFIRM_TIMEOUT_MS,
  UPDATE_EXIT,
  type CheckOptions,
} from './index.ts';
import { writeUpdateState } from './install-layout.ts';
import { cleanDetail } from './report.ts';
import {
  hasOpenssl,
  json,
  makeInstallRoot,
  makePki,
  makeReleaseKey,
  makeTarGz,
  sha256Hex,
  signWith,
  startHttpsServer,
  tempDir,
  type CertPair,
  type TestHttpsServer,
} from './test-kit.ts';

const AGENT_KEY = `cak_${'A'.repeat(43)}`;
const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-02-01T00:00:00.000Z';
const T2 = '2026-03-01T00:00:00.000Z';
const T3 = '2026-04-01T00:00:00.000Z';

const k1 = makeReleaseKey('release-2026a');
const k2 = makeReleaseKey('release-2026b');
const evil = makeReleaseKey('evil');
const PINNED = [k1, k2].map(({ keyId, publicKeyPem }) => ({ keyId, publicKeyPem }));
const PACKAGE = makeTarGz({ VERSION: '1.1.0\n', 'bin/agent.mjs': 'console.log("guru-agent 1.1.0");\n' });

describe.skipIf(!hasOpenssl)('agent updates over HTTPS (openssl PKI trusted only by this test)', () => {
  let dir: string;
  let trusted: CertPair;
  let rogueCerts: CertPair;
  let server: TestHttpsServer;
  let rogue: TestHttpsServer;
  let logLines: Array<Record<string, unknown>>;
  const roots: string[] = [];
  const savedTlsEnv = process.env.NODE_TLS_REJECT_UNAUTHORIZED;

  beforeAll(async () => {
    dir = tempDir('pki');
    trusted = makePki(dir, 'trusted');
    rogueCerts = makePki(dir, 'rogue');
    server = await startHttpsServer(trusted);
    rogue = await startHttpsServer(rogueCerts);
    // Everything below must hold even when the process asks Node not to check certificates.
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
  });
  afterAll(async () => {
    if (savedTlsEnv === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    else process.env.NODE_TLS_REJECT_UNAUTHORIZED = savedTlsEnv;
    await server?.close();
    await rogue?.close();
    rmSync(dir, { recursive: true, force: true });
    for (const r of roots) rmSync(r, { recursive: true, force: true });
  });

  beforeEach(() => {
    server.seen.length = 0;
    server.routes.clear();
    logLines = [];
    server.routes.set('GET /pkg/agent-1.1.0.tar.gz', (_req, res) => res.writeHead(200, { 'content-length': PACKAGE.length }).end(PACKAGE));
    server.routes.set('POST /api/agent/update-report', json(200, { recorded: true }));
    rogue.routes.set('GET /pkg/agent-1.1.0.tar.gz', (_req, res) => res.writeHead(200, { 'content-length': PACKAGE.length }).end(PACKAGE));
  });

  const manifest = (over: Partial<UpdateManifest> = {}): UpdateManifest => ({
    version: '1.1.0',
    platform: 'linux-x64',
    channel: 'stable',
    url: `${server.url}/pkg/agent-1.1.0.tar.gz`,
    sha256: sha256Hex(PACKAGE),
    size: PACKAGE.length,
    issuedAt: T2,
    ...over,
  });

  /** Serve this document as the update manifest, to agents presenting the agent key only. */
  const publish = (doc: unknown, on: TestHttpsServer = server) =>
    on.routes.set('GET /api/agent/update', (req, res) => {
      if (req.headers.authorization !== `AgentKey ${AGENT_KEY}`) return void res.writeHead(401).end();
      json(200, doc)(req, res, Buffer.alloc(0));
    });

  /** An install root running 1.0.0 that last applied an update issued at T1. */
  async function installed(): Promise<string> {
    const root = makeInstallRoot('1.0.0');
    roots.push(root);
    await writeUpdateState(root, { lastAppliedIssuedAt: T1 });
    return root;
  }

  const logger = () => createLogger({ level: 'debug', write: (line) => logLines.push(JSON.parse(line) as Record<string, unknown>) });
  const reporterFor = (root: string, serverUrl = server.url) =>
    createHttpReporter({ serverUrl, agentKey: AGENT_KEY, ca: trusted.caPem, outboxPath: installPaths(root).outbox, logger: logger() });

  async function cycle(root: string, over: Partial<CheckOptions> = {}) {
    const state = await readUpdateState(root);
    return runUpdateCycle({
      serverUrl: server.url,
      agentKey: AGENT_KEY,
      platform: 'linux-x64',
      currentVersion: (await readCurrentVersion(root))!,
      lastAppliedIssuedAt: state.lastAppliedIssuedAt,
      trustedKeys: PINNED,
      ca: trusted.caPem,
      root,
      reporter: reporterFor(root),
      logger: logger(),
      env: {},
      ...over,
    });
  }

  const reports = (): UpdateReport[] => server.seen.filter((r) => r.path === '/api/agent/update-report').map((r) => JSON.parse(r.body) as UpdateReport);

  function expectUntouched(root: string) {
    expect(readlinkSync(join(root, 'current'))).toBe(join('versions', '1.0.0'));
    expect(readdirSync(join(root, 'versions'))).toEqual(['1.0.0']);
    expect(existsSync(installPaths(root).pending)).toBe(false);
    expect(existsSync(installPaths(root).downloads) ? readdirSync(installPaths(root).downloads) : []).toEqual([]);
  }

  function expectRejectedAndReported(result: { kind: string }, reason: UpdateRejectReason) {
    expect(result).toMatchObject({ kind: 'rejected', reason });
    expect(reports()).toEqual([expect.objectContaining({ outcome: 'rejected', reason, fromVersion: '1.0.0', runningVersion: '1.0.0', platform: 'linux-x64' })]);
    expect(server.seen.find((r) => r.path === '/api/agent/update-report')?.authorization).toBe(`AgentKey ${AGENT_KEY}`);
    expect(logLines).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'update rejected', reason }));
  }

  describe('a good update', () => {
    it('is applied: files in place, current points at it, restart requested, rollback point recorded', async () => {
      const root = await installed();
      publish(signWith(manifest(), k1));
      const r = await cycle(root);
      expect(r).toEqual({ kind: 'applied', version: '1.1.0', previousVersion: '1.0.0', exitCode: UPDATE_EXIT.restartForUpdate });
      expect(readlinkSync(join(root, 'current'))).toBe(join('versions', '1.1.0'));
      expect(readFileSync(join(root, 'current', 'VERSION'), 'utf8')).toBe('1.1.0\n');
      expect(readFileSync(join(root, 'current', 'bin', 'agent.mjs'), 'utf8')).toContain('1.1.0');
      expect(existsSync(join(root, 'versions', '1.0.0', 'VERSION'))).toBe(true); // kept for rollback
      expect(await readUpdateState(root)).toEqual({ lastAppliedIssuedAt: T2 });
      expect(JSON.parse(readFileSync(installPaths(root).pending, 'utf8'))).toMatchObject({ version: '1.1.0', previousVersion: '1.0.0', issuedAt: T2, signingKeyId: k1.keyId, starts: 0 });
      expect(readdirSync(installPaths(root).downloads)).toEqual([]);
      expect(server.seen.find((s) => s.path === '/api/agent/update')?.authorization).toBe(`AgentKey ${AGENT_KEY}`);
      // `applied` is reported only once the new version has connected.
      expect(reports()).toEqual([]);
    });

    it('is confirmed by the new version after it connects, which reports `applied`', async () => {
      const root = await installed();
      publish(signWith(manifest(), k1));
      const applied = await cycle(root);
      expect(applied.kind).toBe('applied');
      // The supervisor starts current/ (1.1.0); it recovers, connects, confirms.
      const recovery = await recoverPendingUpdate({ root, logger: logger() });
      expect(recovery).toMatchObject({ kind: 'awaiting_confirmation', version: '1.1.0' });
      const confirmed = await confirmUpdate({ root, runningVersion: '1.1.0', reporter: reporterFor(root), logger: logger() });
      expect(confirmed).toEqual({ kind: 'confirmed', version: '1.1.0', previousVersion: '1.0.0' });
      expect(existsSync(installPaths(root).pending)).toBe(false);
      expect(reports()).toEqual([
        expect.objectContaining({ outcome: 'applied', fromVersion: '1.0.0', toVersion: '1.1.0', runningVersion: '1.1.0', issuedAt: T2, signingKeyId: k1.keyId }),
      ]);
      // The next check finds nothing newer.
      await expect(cycle(root)).resolves.toEqual({ kind: 'up_to_date', version: '1.1.0' });
    });

    it('verifies against the second pinned key (key rotation)', async () => {
      const root = await installed();
      publish(signWith(manifest(), k2));
      await expect(cycle(root)).resolves.toMatchObject({ kind: 'applied', version: '1.1.0' });
    });

    it('follows an https redirect to the package and still checks it', async () => {
      const root = await installed();
      server.routes.set('GET /cdn/agent.tgz', (_req, res) => res.writeHead(302, { location: '/pkg/agent-1.1.0.tar.gz' }).end());
      publish(signWith(manifest({ url: `${server.url}/cdn/agent.tgz` }), k1));
      await expect(cycle(root)).resolves.toMatchObject({ kind: 'applied' });
    });

    it('answers up_to_date, reporting nothing, when the server offers the running version', async () => {
      const root = await installed();
      publish(signWith(manifest({ version: '1.0.0' }), k1));
      await expect(cycle(root)).resolves.toEqual({ kind: 'up_to_date', version: '1.0.0' });
      expect(reports()).toEqual([]);
    });
  });

  // Each row is a way to get a package onto the machine that must fail; `current` never moves.
  const refused: Array<[string, UpdateRejectReason, () => unknown, { rogueServer?: true; systemRootsOnly?: true }?]> = [
    ['a tampered manifest (version changed after signing)', 'bad_signature', () => tamper(signWith(manifest(), k1), { version: '1.2.0' })],
    ['a tampered manifest (package URL changed after signing)', 'bad_signature', () => tamper(signWith(manifest(), k1), { url: `${server.url}/pkg/other.tar.gz` })],
    ['a tampered manifest (hash and size changed after signing)', 'bad_signature', () => tamper(signWith(manifest(), k1), { sha256: 'f'.repeat(64), size: 10 })],
    ['a manifest signed with a wrong key under a pinned key id', 'bad_signature', () => signWith(manifest(), evil, k1.keyId)],
    ['a manifest signed by a key that is not pinned', 'unknown_key', () => signWith(manifest(), evil)],
    ['a signature moved onto another manifest', 'bad_signature', () => ({ ...signWith(manifest(), k1), signature: signWith(manifest({ version: '9.0.0' }), k1).signature })],
    ['a downgrade (older version, newer issuedAt)', 'downgrade', () => signWith(manifest({ version: '0.9.0', issuedAt: T3 }), k1)],
    ['a replayed older manifest (newer version, issued before the last applied)', 'replay', () => signWith(manifest({ version: '1.2.0', issuedAt: T0 }), k1)],
    ['a replay of the last applied manifest', 'replay', () => signWith(manifest({ issuedAt: T1 }), k1)],
    ['a minVersion above the running version', 'min_version', () => signWith(manifest({ minVersion: '1.0.5' }), k1)],
    ['a manifest for another platform', 'wrong_target', () => signWith(manifest({ platform: 'darwin-arm64' }), k1)],
    ['a manifest for another channel', 'wrong_target', () => signWith(manifest({ channel: 'beta' }), k1)],
    ['an unsigned manifest', 'invalid_manifest', () => manifest()],
    ['a manifest with a field the signature does not cover', 'invalid_manifest', () => ({ ...signWith(manifest(), k1), manifest: { ...manifest(), script: 'rm -rf /' } })],
    ['a package whose SHA-256 differs', 'hash_mismatch', () => signWith(manifest({ sha256: sha256Hex(Buffer.from('something else')) }), k1)],
    ['a package larger than the manifest says', 'size_mismatch', () => signWith(manifest({ size: PACKAGE.length - 1 }), k1)],
    ['a package smaller than the manifest says', 'size_mismatch', () => signWith(manifest({ size: PACKAGE.length + 1 }), k1)],
    ['a package on a server whose certificate is untrusted', 'tls_untrusted', () => signWith(manifest({ url: `${rogue.url}/pkg/agent-1.1.0.tar.gz` }), k1)],
    ['an update server whose certificate is untrusted (NODE_TLS_REJECT_UNAUTHORIZED=0 is set)', 'tls_untrusted', () => signWith(manifest(), k1), { rogueServer: true }],
    ['an update server trusted only by the system roots, not by the pinned CA', 'tls_untrusted', () => signWith(manifest(), k1), { systemRootsOnly: true }],
  ];

  it.each(refused)('rejects %s with %s and leaves current unchanged', async (_what, reason, doc, how = {}) => {
    const root = await installed();
    publish(doc(), how.rogueServer ? rogue : server);
    const r = await cycle(root, { ...(how.rogueServer ? { serverUrl: rogue.url } : {}), ...(how.systemRootsOnly ? { ca: undefined } : {}) });
    expectUntouched(root);
    expect(await readUpdateState(root)).toEqual({ lastAppliedIssuedAt: T1 });
    expectRejectedAndReported(r, reason);
  });

  it('stops reading a package that streams past its declared size (no Content-Length) and rejects it', async () => {
    const root = await installed();
    let written = 0;
    let closedEarly = false;
    server.routes.set('GET /pkg/endless', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(16 * 1024, 7);
      res.on('close', () => (closedEarly = !res.writableFinished));
      const pump = () => {
        while (!res.destroyed && written < 256 * 1024 * 1024) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    publish(signWith(manifest({ url: `${server.url}/pkg/endless`, size: 100_000 }), k1));
    const r = await cycle(root);
    expectRejectedAndReported(r, 'size_mismatch');
    expectUntouched(root);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(closedEarly).toBe(true);
    expect(written).toBeLessThan(64 * 1024 * 1024);
  });

  it('refuses a redirect from the package URL to plain http', async () => {
    const root = await installed();
    server.routes.set('GET /pkg/redirect', (_req, res) => res.writeHead(302, { location: 'http://127.0.0.1:9/agent.tgz' }).end());
    publish(signWith(manifest({ url: `${server.url}/pkg/redirect` }), k1));
    expectRejectedAndReported(await cycle(root), 'tls_untrusted');
    expectUntouched(root);
  });

  it('reports `unavailable` (not a decision, not reported) when the server refuses the agent key', async () => {
    const root = await installed();
    publish(signWith(manifest(), k1));
    await expect(cycle(root, { agentKey: `cak_${'B'.repeat(43)}` })).resolves.toEqual({ kind: 'unavailable', detail: 'HTTP 401' });
    expect(reports()).toEqual([]);
    expectUntouched(root);
  });

  describe('reports', () => {
    it('sends the same rejection once a day, not on every check', async () => {
      const root = await installed();
      publish(signWith(manifest({ version: '0.9.0', issuedAt: T3 }), k1));
      await cycle(root);
      await cycle(root);
      expect(reports()).toHaveLength(1);
    });

    it('keeps a report the server could not take (503) and drops one it refused (400)', async () => {
      const root = await installed();
      publish(signWith(manifest({ version: '0.9.0', issuedAt: T3 }), k1));
      server.routes.set('POST /api/agent/update-report', json(503, {}));
      await cycle(root);
      expect(JSON.parse(readFileSync(installPaths(root).outbox, 'utf8')).queue).toHaveLength(1);
      server.routes.set('POST /api/agent/update-report', json(400, { error: { code: 'ERR_VALIDATION', message: 'no' } }));
      await expect(reporterFor(root).flush()).resolves.toBe(0);
      expect(JSON.parse(readFileSync(installPaths(root).outbox, 'utf8')).queue).toHaveLength(0);
    });

    it('cleans the detail so the server accepts it', () => {
      const detail = cleanDetail(`bad\nline\u0000${'x'.repeat(198)}\u{1F600}`);
      expect(detail.length).toBeLessThanOrEqual(200);
      expect(updateReportSchema.safeParse({ outcome: 'rejected', reason: 'replay', platform: 'linux-x64', channel: 'stable', fromVersion: '1.0.0', runningVersion: '1.0.0', decidedAt: T0, detail }).success).toBe(true);
    });
  });

  describe('rollback', () => {
    async function appliedRoot(): Promise<{ root: string; appliedAt: number }> {
      const root = await installed();
      publish(signWith(manifest(), k1));
      const before = Date.now();
      expect((await cycle(root)).kind).toBe('applied');
      return { root, appliedAt: before };
    }

    it('rolls back a new version that has not connected within the timeout, reports it, and never re-applies that release', async () => {
      const { root, appliedAt } = await appliedRoot();
      const r = await recoverPendingUpdate({ root, reporter: reporterFor(root), logger: logger(), now: () => appliedAt + UPDATE_CONFIRM_TIMEOUT_MS + 5_000 });
      expect(r).toEqual({ kind: 'rolled_back', from: '1.1.0', to: '1.0.0', exitCode: UPDATE_EXIT.restartAfterRollback });
      expect(readlinkSync(join(root, 'current'))).toBe(join('versions', '1.0.0'));
      expect(existsSync(installPaths(root).pending)).toBe(false);
      expect(reports()).toEqual([expect.objectContaining({ outcome: 'rejected', reason: 'rolled_back', fromVersion: '1.0.0', toVersion: '1.1.0', runningVersion: '1.0.0' })]);
      expect(logLines).toContainEqual(expect.objectContaining({ level: 'error', msg: 'update rolled back; restarting the previous version' }));
      // The restored version sees the same manifest again: it is a replay now, not an update loop.
      server.seen.length = 0;
      const again = await cycle(root);
      expect(again).toMatchObject({ kind: 'rejected', reason: 'replay' });
      expect(readlinkSync(join(root, 'current'))).toBe(join('versions', '1.0.0'));
    });

    it('rolls back a new version that keeps crashing before it connects', async () => {
      const { root, appliedAt } = await appliedRoot();
      const now = () => appliedAt + 1_000;
      for (let i = 0; i < 3; i++) await expect(recoverPendingUpdate({ root, now })).resolves.toMatchObject({ kind: 'awaiting_confirmation' });
      await expect(recoverPendingUpdate({ root, now, reporter: reporterFor(root) })).resolves.toMatchObject({ kind: 'rolled_back', to: '1.0.0' });
      expect(reports()).toEqual([expect.objectContaining({ reason: 'rolled_back', detail: expect.stringContaining('started 3 times') })]);
    });

    it('rolls back at the deadline while the new version is still trying to connect', async () => {
      const { root } = await appliedRoot();
      const recovery = await recoverPendingUpdate({ root });
      expect(recovery.kind).toBe('awaiting_confirmation');
      const rolled = await new Promise((resolve) => scheduleRollback({ root, deadlineMs: Date.now() + 30, reporter: reporterFor(root), onRolledBack: resolve }));
      expect(rolled).toMatchObject({ kind: 'rolled_back', exitCode: UPDATE_EXIT.restartAfterRollback });
      expect(readlinkSync(join(root, 'current'))).toBe(join('versions', '1.0.0'));
      // Confirming afterwards does nothing: the update is gone.
      await expect(confirmUpdate({ root, runningVersion: '1.1.0' })).resolves.toEqual({ kind: 'none' });
    });

    it('does not roll back an update confirmed before the deadline', async () => {
      const { root } = await appliedRoot();
      let fired = false;
      const timer = scheduleRollback({ root, deadlineMs: Date.now() + 80, onRolledBack: () => (fired = true) });
      await confirmUpdate({ root, runningVersion: '1.1.0' });
      timer.cancel();
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect(fired).toBe(false);
      expect(readlinkSync(join(root, 'current'))).toBe(join('versions', '1.1.0'));
    });

    it('delivers a rollback decided while the server was unreachable once the restored version can reach it', async () => {
      const { root, appliedAt } = await appliedRoot();
      const offline = reporterFor(root, 'https://127.0.0.1:9');
      await expect(recoverPendingUpdate({ root, reporter: offline, now: () => appliedAt + UPDATE_CONFIRM_TIMEOUT_MS + 5_000 })).resolves.toMatchObject({ kind: 'rolled_back' });
      expect(reports()).toEqual([]);
      expect(JSON.parse(readFileSync(installPaths(root).outbox, 'utf8')).queue).toHaveLength(1);
      await expect(reporterFor(root).flush()).resolves.toBe(0);
      expect(reports()).toEqual([expect.objectContaining({ reason: 'rolled_back' })]);
    });

    it('ignores a pending record that does not match current (an apply that never switched)', async () => {
      const { root } = await appliedRoot();
      const { switchCurrent } = await import('./install-layout.ts');
      await switchCurrent(root, '1.0.0');
      await expect(recoverPendingUpdate({ root, now: () => Date.now() + 10 * UPDATE_CONFIRM_TIMEOUT_MS })).resolves.toEqual({ kind: 'none' });
      expect(existsSync(installPaths(root).pending)).toBe(false);
    });
  });
});

function tamper(doc: SignedManifest, change: Partial<UpdateManifest>): SignedManifest {
  return { ...doc, manifest: { ...doc.manifest, ...change } };
}
