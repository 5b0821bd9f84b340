// The release CLI (signaling/src/cli/release.ts, run as operators run it) and the agent's
// verifier agree on the canonical encoding: what `npm run release -- sign` writes, the agent
// accepts, and any edit to it is refused.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { pinKeys, verifySignedManifest } from './manifest-verify.ts';

const CLI = fileURLToPath(new URL('../../../signaling/src/cli/release.ts', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const dir = mkdtempSync(join(tmpdir(), 'gc-update-interop-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function release(...args: string[]): string {
  const r = spawnSync(process.execPath, ['--import', TSX, CLI, ...args], { cwd: dir, env: { PATH: process.env.PATH }, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`release ${args[0]} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

describe('manifests signed by the release CLI', () => {
  it('verify in the agent against the pinned public key, and not once edited', () => {
    const out = release('keygen', '--out', join(dir, 'keys'));
    const keyId = /key id:\s+(\S+)/.exec(out)![1]!;
    const pin = JSON.parse(out.trim().split('\n').at(-1)!) as { keyId: string; publicKeyPem: string };
    expect(pin.keyId).toBe(keyId);
    writeFileSync(join(dir, 'agent.tgz'), 'not really a tarball');
    release('manifest', '--file', join(dir, 'agent.tgz'), '--version', '3.1.4', '--platform', 'linux-arm64', '--url', 'https://updates.example.com/agent-3.1.4.tgz', '--min-version', '3.0.0', '--out', join(dir, 'm.json'));
    release('sign', '--key', join(dir, 'keys', `${keyId}.private.pem`), '--manifest', join(dir, 'm.json'), '--out', join(dir, 'signed.json'));

    const doc = JSON.parse(readFileSync(join(dir, 'signed.json'), 'utf8')) as { manifest: Record<string, unknown> };
    const pinned = pinKeys([pin]);
    const ok = verifySignedManifest(doc, pinned);
    expect(ok).toMatchObject({ ok: true, signed: { keyId, manifest: { version: '3.1.4', platform: 'linux-arm64', channel: 'stable', minVersion: '3.0.0', size: 20 } } });
    expect(verifySignedManifest({ ...doc, manifest: { ...doc.manifest, minVersion: '1.0.0' } }, pinned)).toMatchObject({ ok: false, reason: 'bad_signature' });
  });
});
