// The repository's (development) build: certificate checks can be switched off, but only with
// GURU_UPDATE_INSECURE_TLS=1 — and tls-production.test.ts shows a production build ignores it.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_FLAVOR } from './build-flavor.ts';
import { checkForUpdate } from './check.ts';
import { INSECURE_TLS_ENV, resolveTransportPolicy } from './tls-policy.ts';
import { hasOpenssl, json, makePki, makeReleaseKey, signWith, startHttpsServer, tempDir, type TestHttpsServer } from './test-kit.ts';

const key = makeReleaseKey('release-dev');

describe.skipIf(!hasOpenssl)('update TLS in a development build', () => {
  let dir: string;
  let rogue: TestHttpsServer;
  beforeAll(async () => {
    dir = tempDir('tls-dev');
    rogue = await startHttpsServer(makePki(dir, 'rogue'));
    const manifest = { version: '2.0.0', platform: 'linux-x64', channel: 'stable', url: 'https://example.invalid/a.tgz', sha256: 'a'.repeat(64), size: 1, issuedAt: '2026-05-01T00:00:00.000Z' } as const;
    rogue.routes.set('GET /api/agent/update', json(200, signWith(manifest, key)));
  });
  afterAll(async () => {
    await rogue?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const check = (env: Record<string, string>) =>
    checkForUpdate({
      serverUrl: rogue.url,
      agentKey: `cak_${'A'.repeat(43)}`,
      platform: 'linux-x64',
      currentVersion: '1.0.0',
      lastAppliedIssuedAt: null,
      trustedKeys: [{ keyId: key.keyId, publicKeyPem: key.publicKeyPem }],
      env,
    });

  it('is the flavour of the sources in the repository', () => {
    expect(BUILD_FLAVOR).toBe('development');
  });

  it('rejects an untrusted certificate without the variable', async () => {
    await expect(check({})).resolves.toMatchObject({ kind: 'rejected', reason: 'tls_untrusted' });
  });

  it.each(['0', 'true', 'yes', ' 1'])('rejects it when the variable is %j rather than exactly "1"', async (value) => {
    await expect(check({ [INSECURE_TLS_ENV]: value })).resolves.toMatchObject({ kind: 'rejected', reason: 'tls_untrusted' });
  });

  it('accepts it with GURU_UPDATE_INSECURE_TLS=1 (the signature still decides)', async () => {
    expect(resolveTransportPolicy({ env: { [INSECURE_TLS_ENV]: '1' } }).insecure).toBe(true);
    await expect(check({ [INSECURE_TLS_ENV]: '1' })).resolves.toMatchObject({ kind: 'available' });
  });
});
