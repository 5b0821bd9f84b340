// What `npm run release -- set-flavor … production` produces: BUILD_FLAVOR is 'production', and
// no environment — GURU_UPDATE_INSECURE_TLS=1, NODE_TLS_REJECT_UNAUTHORIZED=0 — turns checks off.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../log/logger.ts';
import { BUILD_FLAVOR } from './build-flavor.ts';
import { checkForUpdate } from './check.ts';
import { INSECURE_TLS_ENV, resolveTransportPolicy } from './tls-policy.ts';
import { hasOpenssl, json, makePki, makeReleaseKey, signWith, startHttpsServer, tempDir, type TestHttpsServer } from './test-kit.ts';

vi.mock('./build-flavor.ts', () => ({ BUILD_FLAVOR: 'production' }));

const key = makeReleaseKey('release-prod');

describe.skipIf(!hasOpenssl)('update TLS in a production build', () => {
  let dir: string;
  let rogue: TestHttpsServer;
  const saved = { insecure: process.env[INSECURE_TLS_ENV], node: process.env.NODE_TLS_REJECT_UNAUTHORIZED };
  beforeAll(async () => {
    dir = tempDir('tls-prod');
    rogue = await startHttpsServer(makePki(dir, 'rogue'));
    const manifest = { version: '2.0.0', platform: 'linux-x64', channel: 'stable', url: 'https://example.invalid/a.tgz', sha256: 'a'.repeat(64), size: 1, issuedAt: '2026-05-01T00:00:00.000Z' } as const;
    rogue.routes.set('GET /api/agent/update', json(200, signWith(manifest, key)));
    process.env[INSECURE_TLS_ENV] = '1';
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
  });
  afterAll(async () => {
    for (const [name, value] of [[INSECURE_TLS_ENV, saved.insecure], ['NODE_TLS_REJECT_UNAUTHORIZED', saved.node]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await rogue?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is what this file runs as', () => {
    expect(BUILD_FLAVOR).toBe('production');
  });

  it('ignores GURU_UPDATE_INSECURE_TLS=1, says so in the log, and rejects the untrusted certificate', async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', write: (l) => lines.push(l) });
    expect(resolveTransportPolicy({ env: process.env }).insecure).toBe(false);
    const r = await checkForUpdate({
      serverUrl: rogue.url,
      agentKey: `cak_${'A'.repeat(43)}`,
      platform: 'linux-x64',
      currentVersion: '1.0.0',
      lastAppliedIssuedAt: null,
      trustedKeys: [{ keyId: key.keyId, publicKeyPem: key.publicKeyPem }],
      env: process.env,
      logger,
    });
    expect(r).toMatchObject({ kind: 'rejected', reason: 'tls_untrusted' });
    expect(lines.map((l) => JSON.parse(l) as { msg: string })).toContainEqual(expect.objectContaining({ msg: 'insecure update TLS requested and ignored: production build' }));
  });
});
