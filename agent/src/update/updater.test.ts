import { existsSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { UpdateManifest, UpdateReport } from '@guruconnect/shared/protocol';
import { createLogger } from '../log/logger.ts';
import { installPaths, UPDATE_EXIT } from './index.ts';
import { hasOpenssl, json, makeInstallRoot, makePki, makeReleaseKey, makeTarGz, sha256Hex, signWith, startHttpsServer, tempDir, type CertPair, type TestHttpsServer } from './test-kit.ts';
import { createUpdater, loadUpdateTrust, type UpdaterOptions } from './updater.ts';

const AGENT_KEY = `cak_${'B'.repeat(43)}`;
const key = makeReleaseKey('release-test');
const PINNED = [{ keyId: key.keyId, publicKeyPem: key.publicKeyPem }];
const PACKAGE = makeTarGz({ VERSION: '1.1.0\n' });
const EVENT_TIMEOUT_MS = 20_000;

describe.skipIf(!hasOpenssl)('the agent updater (recovery, confirmation, checks) against a local HTTPS server', () => {
  let dir: string;
  let pki: CertPair;
  let server: TestHttpsServer;
  const roots: string[] = [];
  let logLines: Array<Record<string, unknown>>;

  beforeAll(async () => {
    dir = tempDir('updater');
    pki = makePki(dir, 'server');
    server = await startHttpsServer(pki);
  });
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
    for (const r of roots) rmSync(r, { recursive: true, force: true });
  });
  beforeEach(() => {
    logLines = [];
    server.seen.length = 0;
    server.routes.clear();
    server.routes.set('POST /api/agent/update-report', json(200, { recorded: true }));
    server.routes.set('GET /pkg/agent-1.1.0.tar.gz', (_req, res) => res.writeHead(200, { 'content-length': PACKAGE.length }).end(PACKAGE));
  });

  const manifest = (over: Partial<UpdateManifest> = {}): UpdateManifest => ({
    version: '1.1.0',
    platform: 'linux-x64',
    channel: 'stable',
    url: `${server.url}/pkg/agent-1.1.0.tar.gz`,
    sha256: sha256Hex(PACKAGE),
    size: PACKAGE.length,
    issuedAt: '2026-02-01T00:00:00.000Z',
    ...over,
  });
  const publish = (doc: unknown) => server.routes.set('GET /api/agent/update', json(200, doc));
  const reports = (): UpdateReport[] => server.seen.filter((r) => r.path === '/api/agent/update-report').map((r) => JSON.parse(r.body) as UpdateReport);
  const installRoot = () => {
    const root = makeInstallRoot('1.0.0');
    roots.push(root);
    return root;
  };

  /** An updater as main.ts builds one; `exits` records what it asked main to exit with. */
  function updater(root: string, version: string, over: Partial<UpdaterOptions> = {}) {
    const exits: number[] = [];
    let exited: (code: number) => void = () => undefined;
    const exitRequested = new Promise<number>((resolve) => (exited = resolve));
    const u = createUpdater({
      root,
      serverUrl: server.url,
      agentKey: AGENT_KEY,
      channel: 'stable',
      intervalMs: 6 * 3600_000,
      currentVersion: version,
      trustedKeys: PINNED,
      ca: pki.caPem,
      env: {},
      platform: 'linux-x64',
      logger: createLogger({ level: 'debug', write: (l) => logLines.push(JSON.parse(l) as Record<string, unknown>) }),
      requestExit: (code) => {
        exits.push(code);
        exited(code);
      },
      ...over,
    });
    return { u, exits, exitRequested };
  }

  /** Runs 1.0.0 in `root` until it applies 1.1.0 (asks for exit 75). */
  async function applyUpdate(root: string) {
    publish(signWith(manifest(), key));
    const old = updater(root, '1.0.0');
    expect(await old.u.start()).toEqual({ kind: 'continue' });
    await old.u.onConnected();
    expect(await old.u.checkNow('test')).toMatchObject({ kind: 'applied', version: '1.1.0', exitCode: UPDATE_EXIT.restartForUpdate });
    old.u.close();
    return old;
  }

  it('applies an available update and asks main to exit with 75, once; later checks are skipped', async () => {
    const root = installRoot();
    const old = await applyUpdate(root);
    expect(old.exits).toEqual([UPDATE_EXIT.restartForUpdate]);
    expect(readlinkSync(installPaths(root).current)).toBe(join('versions', '1.1.0'));
    expect(await old.u.checkNow('again')).toEqual({ kind: 'skipped', why: 'stopping' });
    expect(old.exits).toHaveLength(1);
  });

  it('the new version defers checks until its first welcome, then confirms and reports applied', async () => {
    const root = installRoot();
    await applyUpdate(root);
    server.seen.length = 0;
    const next = updater(root, '1.1.0');
    expect(await next.u.start()).toEqual({ kind: 'continue' });
    expect(await next.u.checkNow('early')).toMatchObject({ kind: 'skipped', why: 'the running update is not confirmed yet' });
    expect(server.seen.filter((r) => r.path === '/api/agent/update')).toEqual([]);
    // A check asked for while the welcome is being confirmed waits for the confirmation, then runs.
    const [, right] = await Promise.all([next.u.onConnected(), next.u.checkNow('right after the welcome')]);
    expect(right).toEqual({ kind: 'up_to_date', version: '1.1.0' });
    next.u.close();
    expect(existsSync(installPaths(root).pending)).toBe(false);
    expect(reports()).toEqual([expect.objectContaining({ outcome: 'applied', fromVersion: '1.0.0', toVersion: '1.1.0', runningVersion: '1.1.0' })]);
    // Now it checks: the same manifest is its own version.
    const after = updater(root, '1.1.0');
    await after.u.start();
    expect(await after.u.checkNow('test')).toEqual({ kind: 'up_to_date', version: '1.1.0' });
    after.u.close();
    expect(next.exits).toEqual([]);
  });

  it('rolls back a new version that never connects, at its deadline, and asks main to exit with 76', async () => {
    const root = installRoot();
    await applyUpdate(root);
    const next = updater(root, '1.1.0', { confirmTimeoutMs: 1500 });
    expect(await next.u.start()).toEqual({ kind: 'continue' });
    const code = await Promise.race([next.exitRequested, new Promise((_r, rej) => setTimeout(() => rej(new Error('no rollback in time')), EVENT_TIMEOUT_MS))]);
    next.u.close();
    expect(code).toBe(UPDATE_EXIT.restartAfterRollback);
    expect(readlinkSync(installPaths(root).current)).toBe(join('versions', '1.0.0'));
    expect(reports()).toContainEqual(expect.objectContaining({ outcome: 'rejected', reason: 'rolled_back', toVersion: '1.1.0', runningVersion: '1.0.0' }));
  });

  it('rolls back a new version that keeps restarting without connecting: the 4th start exits with 76 at once', async () => {
    const root = installRoot();
    await applyUpdate(root);
    for (let i = 0; i < 3; i++) {
      const crashing = updater(root, '1.1.0');
      expect(await crashing.u.start()).toEqual({ kind: 'continue' });
      crashing.u.close();
    }
    const last = updater(root, '1.1.0');
    expect(await last.u.start()).toEqual({ kind: 'exit', exitCode: UPDATE_EXIT.restartAfterRollback });
    expect(readlinkSync(installPaths(root).current)).toBe(join('versions', '1.0.0'));
    // The restored version delivers what the failed one could not (here: already delivered, nothing waits).
    const restored = updater(root, '1.0.0');
    expect(await restored.u.start()).toEqual({ kind: 'continue' });
    await restored.u.onConnected();
    restored.u.close();
    expect(reports()).toContainEqual(expect.objectContaining({ outcome: 'rejected', reason: 'rolled_back' }));
  });

  it('the restored version reports a rollback the launcher did (a new version that never started), once', async () => {
    const root = installRoot();
    await applyUpdate(root);
    // What agent/bin/guru-agent-launcher.mjs leaves after switching back.
    const pending = JSON.parse(readFileSync(installPaths(root).pending, 'utf8')) as Record<string, unknown>;
    writeFileSync(installPaths(root).launcherRollback, JSON.stringify({ ...pending, failures: 5, rolledBackAt: new Date().toISOString() }));
    rmSync(installPaths(root).pending);
    rmSync(installPaths(root).current);
    symlinkSync(join('versions', '1.0.0'), installPaths(root).current);
    server.seen.length = 0;

    // Another version than the restored one leaves the record alone.
    const other = updater(root, '0.9.0');
    await other.u.start();
    other.u.close();
    expect(existsSync(installPaths(root).launcherRollback)).toBe(true);

    const restored = updater(root, '1.0.0');
    expect(await restored.u.start()).toEqual({ kind: 'continue' });
    restored.u.close();
    expect(existsSync(installPaths(root).launcherRollback)).toBe(false);
    expect(reports()).toEqual([expect.objectContaining({ outcome: 'rejected', reason: 'rolled_back', toVersion: '1.1.0', runningVersion: '1.0.0', detail: expect.stringMatching(/launcher switched back after 5 failed starts/) })]);
    // The replay mark still names the failed release: offered again, it is refused.
    expect(await (async () => {
      const again = updater(root, '1.0.0');
      await again.u.start();
      const r = await again.u.checkNow('test');
      again.u.close();
      return r;
    })()).toMatchObject({ kind: 'rejected', reason: 'replay' });
  });

  it('a rejected update keeps the running version and does not ask to exit', async () => {
    const root = installRoot();
    const signed = signWith(manifest(), key);
    publish({ ...signed, manifest: { ...signed.manifest, size: signed.manifest.size + 1 } });
    const u = updater(root, '1.0.0');
    await u.u.start();
    await u.u.onConnected();
    expect(await u.u.checkNow('test')).toMatchObject({ kind: 'rejected', reason: 'bad_signature' });
    u.u.close();
    expect(u.exits).toEqual([]);
    expect(readlinkSync(installPaths(root).current)).toBe(join('versions', '1.0.0'));
    expect(reports()).toEqual([expect.objectContaining({ outcome: 'rejected', reason: 'bad_signature' })]);
  });

  it('a check requested during a check runs once more after it; further requests join that one', async () => {
    const root = installRoot();
    publish(signWith(manifest({ version: '1.0.0' }), key));
    const u = updater(root, '1.0.0');
    await u.u.start();
    const results = await Promise.all([u.u.checkNow('a'), u.u.checkNow('b'), u.u.checkNow('c')]);
    u.u.close();
    expect(results.map((r) => r.kind)).toEqual(['up_to_date', 'up_to_date', 'up_to_date']);
    expect(server.seen.filter((r) => r.path === '/api/agent/update')).toHaveLength(2);
  });

  it('skips checks when the build pins no release key', async () => {
    const root = installRoot();
    const u = updater(root, '1.0.0', { trustedKeys: [] });
    await u.u.start();
    expect(await u.u.checkNow('test')).toEqual({ kind: 'skipped', why: 'no release keys pinned' });
    u.u.close();
    expect(logLines).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'self-updates are off: this build pins no release keys' }));
  });

  describe('loadUpdateTrust', () => {
    const file = (name: string, text: string) => {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    };

    it('pins the keys of a file in a development build and refuses it in a production build', () => {
      const keys = file('keys.json', JSON.stringify({ keyId: key.keyId, publicKeyPem: key.publicKeyPem }));
      expect(loadUpdateTrust({ caFile: null, keysFile: keys, flavor: 'development', compiledKeys: [] }).trustedKeys).toEqual(PINNED);
      expect(() => loadUpdateTrust({ caFile: null, keysFile: keys, flavor: 'production', compiledKeys: [] })).toThrow(/only by a development build/);
    });

    it('adds the CA of --update-ca to the bundled roots', () => {
      const ca = loadUpdateTrust({ caFile: file('ca.pem', pki.caPem), keysFile: null, flavor: 'production', compiledKeys: PINNED }).ca as string[];
      expect(ca.at(-1)).toBe(pki.caPem);
      expect(ca.length).toBeGreaterThan(10);
    });

    it.each<[string, { keysFile?: string; caFile?: string; text: string }, RegExp]>([
      ['a key file that is not JSON', { keysFile: 'not-json.json', text: '{' }, /not a readable JSON file/],
      ['a key file of the wrong shape', { keysFile: 'shape.json', text: '[{"id":1}]' }, /must hold/],
      ['three keys', { keysFile: 'three.json', text: JSON.stringify([1, 2, 3].map((i) => ({ keyId: `k${i}`, publicKeyPem: key.publicKeyPem }))) }, /must hold/],
      ['a key that is not Ed25519 PEM', { keysFile: 'bad-key.json', text: JSON.stringify({ keyId: 'k1', publicKeyPem: 'nope' }) }, /--update-keys/],
      ['a CA file without a certificate', { caFile: 'empty.pem', text: 'hello' }, /no PEM certificate/],
    ])('refuses %s', (_what, c, message) => {
      const path = file(c.keysFile ?? c.caFile!, c.text);
      expect(() =>
        loadUpdateTrust({ caFile: c.caFile ? path : null, keysFile: c.keysFile ? path : null, flavor: 'development', compiledKeys: [] }),
      ).toThrow(message);
    });
  });
});
