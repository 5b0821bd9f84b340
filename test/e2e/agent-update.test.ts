// Agent self-update end to end: the real server (HTTPS, a private CA) serves manifests signed by
// the release CLI; a local HTTPS package server serves real agent builds; the agent runs under
// its launcher from an install root. A good update is applied and the agent comes back on the
// new version; every kind of bad update is refused with its reason while the agent keeps running;
// a new version that cannot connect is rolled back (by itself after 3 starts, or by the launcher
// when it never starts at all) and the old one runs again.
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import { request } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignedManifest, UpdateManifest, UpdateRejectReason } from '@guruconnect/shared/protocol';
import { makePki, makeReleaseKey, sha256Hex, signWith, startHttpsServer, tempDir, type CertPair, type ReleaseKey, type TestHttpsServer } from '../../agent/src/update/test-kit.ts';
import { startAgentProcess, type AgentLogLine, type AgentProcess } from '../support/agent-process.ts';
import { ADMIN_PASSWORD, ADMIN_USER, REPO_ROOT, startServerProcess, type ServerProcess } from '../support/server-process.ts';
import { waitUntil } from '../support/wait.ts';

const run = promisify(execFile);
const LAUNCHER = join(REPO_ROOT, 'agent', 'bin', 'guru-agent-launcher.mjs');
const OLD = '0.1.0';
const GOOD = '0.2.0';
const BROKEN = '0.3.0';
const EMPTY = '0.4.0';
const STEP_TIMEOUT_MS = 45_000;

let dir: string;
let serverPki: CertPair;
let packagePki: CertPair;
let roguePki: CertPair;
let server: ServerProcess;
let packages: TestHttpsServer;
let rogue: TestHttpsServer;
let agent: AgentProcess;
let admin: string;
let root: string;
let manifestDir: string;
let releaseKeyId: string;
let releaseKeyFile: string;
const stranger: ReleaseKey = makeReleaseKey('ed25519-0000000000000000');
const pkg: Record<string, Buffer> = {};
let goodSigned: SignedManifest;
let brokenSigned: SignedManifest;
const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();

/** The server's admin API over HTTPS, trusting only the test's server CA. */
function call(method: string, path: string, o: { token?: string; body?: unknown } = {}): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any -- test helper
  return new Promise((resolve, reject) => {
    const req = request(`${server.url}${path}`, {
      method,
      ca: serverPki.caPem,
      rejectUnauthorized: true,
      timeout: 15_000,
      headers: { ...(o.token ? { authorization: `Bearer ${o.token}` } : {}), ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined });
      });
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.end(o.body === undefined ? undefined : JSON.stringify(o.body));
  });
}

/** A real agent build of `version`: the agent's sources with that version, resolving its dependencies from the repository. */
async function buildPackage(version: string, patchMain?: (source: string) => string, withoutEntry = false): Promise<Buffer> {
  const stage = join(dir, `stage-${version}`);
  mkdirSync(join(stage, 'agent'), { recursive: true });
  cpSync(join(REPO_ROOT, 'agent', 'src'), join(stage, 'agent', 'src'), { recursive: true, filter: (p) => !p.endsWith('.test.ts') });
  const pj = JSON.parse(readFileSync(join(REPO_ROOT, 'agent', 'package.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(stage, 'agent', 'package.json'), JSON.stringify({ ...pj, version }, null, 2));
  cpSync(join(REPO_ROOT, 'agent', 'tsconfig.json'), join(stage, 'agent', 'tsconfig.json'));
  cpSync(join(REPO_ROOT, 'tsconfig.base.json'), join(stage, 'tsconfig.base.json'));
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(stage, 'node_modules'));
  if (patchMain) {
    const main = join(stage, 'agent', 'src', 'main.ts');
    const before = readFileSync(main, 'utf8');
    const after = patchMain(before);
    if (after === before) throw new Error('the package patch did not apply');
    writeFileSync(main, after);
  }
  if (withoutEntry) rmSync(join(stage, 'agent', 'src', 'bin.mjs'));
  const out = join(dir, `agent-${version}.tar.gz`);
  await run('tar', ['-czf', out, '-C', stage, '.']);
  return readFileSync(out);
}

async function release(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'signaling/src/cli/release.ts', ...args], { cwd: REPO_ROOT, timeout: 60_000 });
  return stdout;
}

/** `npm run release -- manifest` then `sign`, with issuedAt set in the draft. */
async function releaseManifest(version: string, issuedAt: string): Promise<SignedManifest> {
  const file = join(dir, `agent-${version}.tar.gz`);
  const draft = join(dir, `draft-${version}.json`);
  const signed = join(dir, `signed-${version}.json`);
  await release('manifest', '--file', file, '--version', version, '--platform', 'linux-x64', '--channel', 'stable', '--url', `${packages.url}/agent-${version}.tar.gz`, '--out', draft);
  writeFileSync(draft, JSON.stringify({ ...(JSON.parse(readFileSync(draft, 'utf8')) as object), issuedAt }));
  await release('sign', '--key', releaseKeyFile, '--manifest', draft, '--out', signed);
  return JSON.parse(readFileSync(signed, 'utf8')) as SignedManifest;
}

/** Replace what the server publishes (it rereads the directory at every request here). */
function publish(doc: unknown): void {
  const tmp = join(dir, 'publish.tmp');
  writeFileSync(tmp, JSON.stringify(doc));
  renameSync(tmp, join(manifestDir, 'linux-x64-stable.json'));
}

async function auditEvents(type: string): Promise<Array<{ details: Record<string, unknown>; createdAt: string }>> {
  const r = await call('GET', `/api/audit?type=${type}&limit=50`, { token: admin });
  expect(r.status).toBe(200);
  return r.body.events;
}

async function machine(): Promise<{ id: string; agentVersion: string | null; online: boolean; sessionId: string | null }> {
  const r = await call('GET', '/api/machines', { token: admin });
  expect(r.status).toBe(200);
  expect(r.body.machines).toHaveLength(1);
  return r.body.machines[0];
}

const starts = () => agent.logs.filter((l) => l.msg === 'agent starting');
const waitLog = (p: (l: AgentLogLine) => boolean, what: string) => agent.waitForLog(p, STEP_TIMEOUT_MS, what);
/** After log line `from`, the agent started as `version` and the server welcomed that process. */
async function runningAgain(version: string, from: number): Promise<void> {
  const start = await waitUntil(() => {
    const i = agent.logs.findIndex((l, j) => j >= from && l.msg === 'agent starting');
    return i >= 0 ? i + 1 : 0;
  }, STEP_TIMEOUT_MS, `agent ${version} starting`);
  expect(agent.logs[start - 1]!.version).toBe(version);
  await waitUntil(() => agent.logs.slice(start).some((l) => l.msg === 'session welcome'), STEP_TIMEOUT_MS, `agent ${version} welcomed`);
}

beforeAll(async () => {
  dir = tempDir('e2e');
  serverPki = makePki(dir, 'server');
  packagePki = makePki(dir, 'packages');
  roguePki = makePki(dir, 'rogue');
  manifestDir = join(dir, 'manifests');
  mkdirSync(manifestDir);
  const keys = join(dir, 'keys');
  const [, , oldPkg, goodPkg, brokenPkg, emptyPkg] = await Promise.all([
    startServerProcess({
      tls: { certFile: join(dir, 'server', 'server.pem'), keyFile: join(dir, 'server', 'server.key'), caPem: serverPki.caPem },
      env: { UPDATE_MANIFEST_DIR: manifestDir, UPDATE_MANIFEST_RESCAN_S: '0' },
    }).then((s) => (server = s)), // assigned at once, so afterAll stops it even if a sibling fails
    release('keygen', '--out', keys),
    buildPackage(OLD),
    buildPackage(GOOD),
    // Cannot connect: fails right after the update recovery, on every start.
    buildPackage(BROKEN, (s) => s.replace('  const updater = started;\n', "  const updater = started;\n  throw new Error('this build cannot reach the server');\n")),
    // Points to nothing: the entry the launcher runs is missing, so the agent never starts.
    buildPackage(EMPTY, undefined, true),
  ]);
  Object.assign(pkg, { [OLD]: oldPkg, [GOOD]: goodPkg, [BROKEN]: brokenPkg, [EMPTY]: emptyPkg });
  const pub = readdirSync(keys).find((f) => f.endsWith('.public.pem'))!;
  releaseKeyId = pub.replace('.public.pem', '');
  releaseKeyFile = join(keys, `${releaseKeyId}.private.pem`);
  writeFileSync(join(dir, 'pinned.json'), JSON.stringify({ keyId: releaseKeyId, publicKeyPem: readFileSync(join(keys, pub), 'utf8') }));
  writeFileSync(join(dir, 'update-ca.pem'), serverPki.caPem + packagePki.caPem);

  packages = await startHttpsServer(packagePki);
  rogue = await startHttpsServer(roguePki);
  for (const [version, bytes] of Object.entries(pkg)) {
    for (const s of [packages, rogue]) s.routes.set(`GET /agent-${version}.tar.gz`, (_req, res) => res.writeHead(200, { 'content-length': bytes.length }).end(bytes));
  }
  [goodSigned, brokenSigned] = await Promise.all([releaseManifest(GOOD, minutesAgo(30)), releaseManifest(BROKEN, minutesAgo(1))]);

  const login = await call('POST', '/api/auth/login', { body: { username: ADMIN_USER, password: ADMIN_PASSWORD } });
  admin = login.body.token;
  const created = await call('POST', '/api/agent-keys', { token: admin, body: { name: 'update-e2e' } });
  expect(created.status).toBe(201);

  // The install root: versions/0.1.0 unpacked from its package, current -> versions/0.1.0.
  root = join(dir, 'root');
  mkdirSync(join(root, 'versions', OLD), { recursive: true });
  await run('tar', ['-xzf', join(dir, `agent-${OLD}.tar.gz`), '-C', join(root, 'versions', OLD)]);
  symlinkSync(join('versions', OLD), join(root, 'current'));

  agent = startAgentProcess({
    server: server.url,
    key: created.body.key,
    launch: [LAUNCHER, '--root', root, '--restart-delay-ms', '200', '--max-restart-delay-ms', '1000', '--'],
    args: ['--update-ca', join(dir, 'update-ca.pem'), '--update-keys', join(dir, 'pinned.json')],
    env: {
      // The agent's socket trusts the server CA like any Node TLS client; the update path trusts only --update-ca.
      NODE_EXTRA_CA_CERTS: join(dir, 'server', 'ca.pem'),
      // Must not weaken the update path (the untrusted-certificate row below).
      NODE_TLS_REJECT_UNAUTHORIZED: '0',
    },
  });
  await runningAgain(OLD, 0);
}, 180_000);

afterAll(async () => {
  await agent?.stop();
  await Promise.allSettled([server?.stop(), packages?.close(), rogue?.close()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('agent self-update across processes (launcher, real server, signed manifests)', () => {
  it('applies a good update, restarts into it and reconnects on the new version', async () => {
    const before = await machine();
    expect(before).toMatchObject({ agentVersion: OLD, online: true });
    publish(goodSigned);
    agent.child.kill('SIGUSR2');
    const restart = await waitLog((l) => l.msg === 'agent updated; restarting into the new version', 'the launcher restarting into the update');
    await runningAgain(GOOD, agent.logs.indexOf(restart));
    expect(readlinkSync(join(root, 'current'))).toBe(join('versions', GOOD));
    const applied = await waitUntil(async () => (await auditEvents('agent_update_applied'))[0], STEP_TIMEOUT_MS, 'agent_update_applied');
    expect(applied.details).toMatchObject({ fromVersion: OLD, toVersion: GOOD, runningVersion: GOOD, signedBy: releaseKeyId, machineId: before.id });
    const after = await waitUntil(async () => {
      const m = await machine();
      return m.online && m.sessionId !== null && m.agentVersion === GOOD ? m : null;
    }, STEP_TIMEOUT_MS, 'the machine online on the new version');
    expect(after.id).toBe(before.id);
    expect(readFileSync(join(root, 'state.json'), 'utf8')).toContain(goodSigned.manifest.issuedAt);
  });

  const offer = (over: Partial<UpdateManifest>): UpdateManifest => ({
    ...brokenSigned.manifest,
    issuedAt: minutesAgo(10),
    ...over,
  });
  // Rows signed with the release key use the CLI's key file through test-kit's signer (the same
  // bytes: release-interop.test.ts); the two real releases above were signed by the CLI itself.
  const releaseSign = (m: UpdateManifest) =>
    signWith(m, { keyId: releaseKeyId, privateKey: createPrivateKey(readFileSync(releaseKeyFile)), publicKeyPem: '' });
  const rows: Array<[string, UpdateRejectReason, () => unknown]> = [
    ['a tampered manifest (size changed after signing)', 'bad_signature', () => ({ ...brokenSigned, manifest: { ...brokenSigned.manifest, size: brokenSigned.manifest.size + 1 } })],
    ['a manifest signed with the wrong key under the pinned key id', 'bad_signature', () => ({ ...signWith(offer({}), stranger), keyId: releaseKeyId })],
    ['a manifest signed by a key that is not pinned', 'unknown_key', () => signWith(offer({ issuedAt: minutesAgo(9) }), stranger)],
    ['a package whose SHA-256 differs', 'hash_mismatch', () => releaseSign(offer({ sha256: sha256Hex(Buffer.from('something else')), issuedAt: minutesAgo(8) }))],
    ['a package whose size differs', 'size_mismatch', () => releaseSign(offer({ size: pkg[BROKEN]!.length + 1, issuedAt: minutesAgo(7) }))],
    ['a downgrade', 'downgrade', () => releaseSign(offer({ version: '0.1.5', url: `${packages.url}/agent-${OLD}.tar.gz`, sha256: sha256Hex(pkg[OLD]!), size: pkg[OLD]!.length, issuedAt: minutesAgo(6) }))],
    ['a replayed older manifest (issued before the last applied update)', 'replay', () => releaseSign(offer({ issuedAt: minutesAgo(45) }))],
    ['a package host whose certificate is not trusted', 'tls_untrusted', () => releaseSign(offer({ url: `${rogue.url}/agent-${BROKEN}.tar.gz`, issuedAt: minutesAgo(5) }))],
  ];

  it.each(rows)('refuses %s (%s), reports it, and keeps running the current version', async (_what, reason, doc) => {
    const startsBefore = starts().length;
    const auditBefore = (await auditEvents('agent_update_rejected')).length;
    publish(doc());
    agent.child.kill('SIGUSR2');
    const events = await waitUntil(async () => {
      const e = await auditEvents('agent_update_rejected');
      return e.length > auditBefore ? e : null;
    }, STEP_TIMEOUT_MS, `agent_update_rejected ${reason}`);
    expect(events).toHaveLength(auditBefore + 1);
    expect(events[0]!.details).toMatchObject({ reason, fromVersion: GOOD, runningVersion: GOOD });
    expect(agent.logs).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'update rejected', reason }));
    expect(starts().length).toBe(startsBefore);
    expect(agent.child.exitCode).toBeNull();
    expect(readlinkSync(join(root, 'current'))).toBe(join('versions', GOOD));
    expect(await machine()).toMatchObject({ agentVersion: GOOD, online: true });
  });

  it('rolls back a new version that cannot connect, and the previous version runs again', async () => {
    publish(brokenSigned);
    agent.child.kill('SIGUSR2');
    await waitLog((l) => l.msg === 'starting agent' && l.current === join('versions', BROKEN), `the launcher starting ${BROKEN}`);
    await waitLog((l) => l.msg === 'agent failed', `${BROKEN} failing`);
    const restart = await waitLog((l) => l.msg === 'agent update rolled back; restarting the previous version', 'the launcher restarting after the rollback');
    await runningAgain(GOOD, agent.logs.indexOf(restart));
    expect(readlinkSync(join(root, 'current'))).toBe(join('versions', GOOD));
    const rolledBack = await waitUntil(async () => (await auditEvents('agent_update_rejected')).find((e) => e.details.reason === 'rolled_back'), STEP_TIMEOUT_MS, 'agent_update_rejected rolled_back');
    expect(rolledBack.details).toMatchObject({ toVersion: BROKEN, runningVersion: GOOD });
    expect(await waitUntil(async () => {
      const m = await machine();
      return m.online && m.agentVersion === GOOD ? m : null;
    }, STEP_TIMEOUT_MS, 'the machine online on the restored version')).toBeTruthy();
    // The rolled-back release is now a replay: offered again, it is refused, not reinstalled.
    agent.child.kill('SIGUSR2');
    await waitUntil(async () => (await auditEvents('agent_update_rejected')).find((e) => e.details.reason === 'replay' && e.details.toVersion === BROKEN && e.details.issuedAt === brokenSigned.manifest.issuedAt), STEP_TIMEOUT_MS, 'the rolled-back release refused as a replay');
  });

  it('rolls back a new version that never starts at all (its entry is missing): the launcher switches back, the restored agent reports it', async () => {
    publish(releaseSign({ ...brokenSigned.manifest, version: EMPTY, url: `${packages.url}/agent-${EMPTY}.tar.gz`, sha256: sha256Hex(pkg[EMPTY]!), size: pkg[EMPTY]!.length, issuedAt: new Date().toISOString() }));
    agent.child.kill('SIGUSR2');
    await waitLog((l) => l.msg === 'starting agent' && l.current === join('versions', EMPTY), `the launcher starting ${EMPTY}`);
    const restart = await waitLog((l) => l.msg === 'update rolled back by the launcher: the new version never started', 'the launcher rolling back');
    expect(restart).toMatchObject({ version: EMPTY, previousVersion: GOOD, failures: 5 });
    await runningAgain(GOOD, agent.logs.indexOf(restart));
    expect(readlinkSync(join(root, 'current'))).toBe(join('versions', GOOD));
    const rolledBack = await waitUntil(async () => (await auditEvents('agent_update_rejected')).find((e) => e.details.reason === 'rolled_back' && e.details.toVersion === EMPTY), STEP_TIMEOUT_MS, `agent_update_rejected rolled_back ${EMPTY}`);
    expect(rolledBack.details).toMatchObject({ runningVersion: GOOD, detail: expect.stringContaining('launcher switched back') });
    expect(await machine()).toMatchObject({ agentVersion: GOOD });
  });
});
