import { createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  canonicalManifestJson,
  compareVersions,
  manifestSigningBytes,
  semverSchema,
  signedManifestSchema,
  type UpdateManifest,
} from '@guruconnect/shared/protocol';
import { pinKeys, verifySignedManifest } from './manifest-verify.ts';
import { currentPlatform } from './platform.ts';

/** A fixed Ed25519 key (seed 0x01…0x20), so the signature below is a test vector for other signers. */
const SEED = Buffer.from(Array.from({ length: 32 }, (_, i) => i + 1));
const FIXED_PRIVATE = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), SEED]), format: 'der', type: 'pkcs8' });
const FIXED_PUBLIC_PEM = createPublicKey(FIXED_PRIVATE).export({ type: 'spki', format: 'pem' }).toString();

const MANIFEST: UpdateManifest = {
  version: '1.2.3',
  platform: 'linux-x64',
  channel: 'stable',
  url: 'https://updates.example.com/agent-1.2.3-linux-x64.tar.gz',
  sha256: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
  size: 12345678,
  minVersion: '1.0.0',
  issuedAt: '2026-03-01T12:00:00.000Z',
};

describe('canonical manifest encoding', () => {
  it('is JSON with keys in code-unit order and no whitespace (known answer)', () => {
    expect(canonicalManifestJson(MANIFEST)).toBe(
      '{"channel":"stable","issuedAt":"2026-03-01T12:00:00.000Z","minVersion":"1.0.0","platform":"linux-x64",' +
        '"sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","size":12345678,' +
        '"url":"https://updates.example.com/agent-1.2.3-linux-x64.tar.gz","version":"1.2.3"}',
    );
  });

  it('signs the context line followed by the canonical JSON, in UTF-8', () => {
    expect(Buffer.from(manifestSigningBytes(MANIFEST)).toString('utf8')).toBe(`guruconnect-agent-update-manifest/v1\n${canonicalManifestJson(MANIFEST)}`);
  });

  it('omits an absent minVersion', () => {
    const { minVersion: _omit, ...rest } = MANIFEST;
    expect(canonicalManifestJson({ ...rest, minVersion: undefined })).toBe(canonicalManifestJson(rest));
    expect(canonicalManifestJson(rest)).not.toContain('minVersion');
  });

  it('has a fixed Ed25519 signature for the fixed key (test vector)', () => {
    const signature = sign(null, manifestSigningBytes(MANIFEST), FIXED_PRIVATE).toString('base64');
    // `openssl pkeyutl -sign -rawin` over the same bytes gives the same signature.
    expect(signature).toBe('DIGpbEBuvt6a/d+AOAAWUde+grp46chr/xXpwzpUWH2F0rP92pZcPVxIfvLM64T2tSm+hRG5xIH6YaVmfQ7RBw==');
    const pinned = pinKeys([{ keyId: 'vector', publicKeyPem: FIXED_PUBLIC_PEM }]);
    expect(verifySignedManifest({ manifest: MANIFEST, signature, keyId: 'vector' }, pinned)).toMatchObject({ ok: true });
  });

  it('does not depend on how the document spells it: key order, spacing, number form', () => {
    const signature = sign(null, manifestSigningBytes(MANIFEST), FIXED_PRIVATE).toString('base64');
    const respelled = `{ "keyId": "vector", "signature": "${signature}", "manifest": {
      "version": "1.2.3", "size": 1.2345678e7, "url": "https:\\/\\/updates.example.com\\/agent-1.2.3-linux-x64.tar.gz",
      "issuedAt": "2026-03-01T12:00:00.000Z", "minVersion": "1.0.0", "channel": "stable", "platform": "linux-x64",
      "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" } }`;
    const pinned = pinKeys([{ keyId: 'vector', publicKeyPem: FIXED_PUBLIC_PEM }]);
    expect(verifySignedManifest(JSON.parse(respelled), pinned)).toMatchObject({ ok: true });
  });
});

describe('signed manifest documents', () => {
  const good = () => ({ manifest: MANIFEST, signature: sign(null, manifestSigningBytes(MANIFEST), FIXED_PRIVATE).toString('base64'), keyId: 'vector' });
  const pinned = pinKeys([{ keyId: 'vector', publicKeyPem: FIXED_PUBLIC_PEM }]);

  const rows: Array<[string, (d: ReturnType<typeof good>) => unknown, string]> = [
    ['a valid document', (d) => d, 'ok'],
    ['a signature with a non-canonical last base64 character', (d) => ({ ...d, signature: `${d.signature.slice(0, 85)}B==` }), 'invalid_manifest'],
    ['a truncated signature', (d) => ({ ...d, signature: d.signature.slice(4) }), 'invalid_manifest'],
    ['an extra top-level field', (d) => ({ ...d, note: 'hi' }), 'invalid_manifest'],
    ['an http package URL', (d) => ({ ...d, manifest: { ...d.manifest, url: 'http://updates.example.com/a.tgz' } }), 'invalid_manifest'],
    ['a size of zero', (d) => ({ ...d, manifest: { ...d.manifest, size: 0 } }), 'invalid_manifest'],
    ['a fractional size', (d) => ({ ...d, manifest: { ...d.manifest, size: 1.5 } }), 'invalid_manifest'],
    ['an upper-case hash', (d) => ({ ...d, manifest: { ...d.manifest, sha256: d.manifest.sha256.toUpperCase() } }), 'invalid_manifest'],
    ['an issuedAt with an offset instead of Z', (d) => ({ ...d, manifest: { ...d.manifest, issuedAt: '2026-03-01T13:00:00.000+01:00' } }), 'invalid_manifest'],
    ['an impossible issuedAt', (d) => ({ ...d, manifest: { ...d.manifest, issuedAt: '2026-02-30T00:00:00.000Z' } }), 'invalid_manifest'],
    ['a version with build metadata', (d) => ({ ...d, manifest: { ...d.manifest, version: '1.2.3+build.5' } }), 'invalid_manifest'],
    ['null', () => null, 'invalid_manifest'],
    ['a changed size (valid shape, bad signature)', (d) => ({ ...d, manifest: { ...d.manifest, size: 12345679 } }), 'bad_signature'],
    ['a dropped minVersion', (d) => ({ ...d, manifest: { ...d.manifest, minVersion: undefined } }), 'bad_signature'],
    ['an unpinned key id', (d) => ({ ...d, keyId: 'other' }), 'unknown_key'],
  ];
  it.each(rows)('%s → %s', (_what, change, expected) => {
    const r = verifySignedManifest(JSON.parse(JSON.stringify(change(good()))) as unknown, pinned);
    expect(r.ok ? 'ok' : r.reason).toBe(expected);
  });

  it('keeps the schema and the verifier in step: every valid document parses', () => {
    expect(signedManifestSchema.safeParse(good()).success).toBe(true);
  });
});

describe('pinned keys', () => {
  const ed = () => ({ keyId: `k${Math.random().toString(36).slice(2, 8)}`, publicKeyPem: generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString() });
  it('accepts one or two Ed25519 keys', () => {
    expect(() => pinKeys([ed()])).not.toThrow();
    expect(() => pinKeys([ed(), ed()])).not.toThrow();
  });
  it.each([
    ['no key', () => []],
    ['three keys', () => [ed(), ed(), ed()]],
    ['two keys with one id', () => [{ ...ed(), keyId: 'same' }, { ...ed(), keyId: 'same' }]],
    ['an RSA key', () => [{ keyId: 'rsa', publicKeyPem: generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString() }]],
    ['a malformed key id', () => [{ ...ed(), keyId: 'Has Spaces' }]],
  ])('refuses %s', (_what, keys) => {
    expect(() => pinKeys(keys())).toThrow(TypeError);
  });
});

describe('version order', () => {
  it.each([
    ['1.0.0', '1.0.1', -1],
    ['1.0.10', '1.0.9', 1],
    ['1.10.0', '1.9.99', 1],
    ['2.0.0', '10.0.0', -1],
    ['1.2.3', '1.2.3', 0],
    ['1.2.0-rc.1', '1.2.0', -1],
    ['1.2.0-alpha', '1.2.0-alpha.1', -1],
    ['1.2.0-alpha.1', '1.2.0-alpha.beta', -1],
    ['1.2.0-alpha.beta', '1.2.0-beta', -1],
    ['1.2.0-beta.2', '1.2.0-beta.11', -1],
    ['1.2.0-rc.1', '1.2.0-rc.1', 0],
  ] as const)('%s vs %s → %i', (a, b, expected) => {
    expect(compareVersions(a, b)).toBe(expected);
    expect(compareVersions(b, a)).toBe(-expected || 0);
  });

  it.each(['1.2', '01.2.3', '1.2.3+meta', 'v1.2.3', '1.2.3-', '1.2.3-01', '1234567890.0.0', ''])('refuses %j as a version', (v) => {
    expect(semverSchema.safeParse(v).success).toBe(false);
    expect(() => compareVersions(v, '1.0.0')).toThrow();
  });
});

describe('currentPlatform', () => {
  it.each([
    ['linux', 'x64', 'linux-x64'],
    ['darwin', 'arm64', 'darwin-arm64'],
    ['win32', 'x64', 'win32-x64'],
    ['freebsd', 'x64', null],
    ['linux', 'ia32', null],
  ] as const)('%s/%s → %s', (platform, arch, expected) => {
    expect(currentPlatform(platform, arch)).toBe(expected);
  });
});
