// Release-key operations for the offline release CLI (`npm run release`). The running server
// never imports this file: it holds no signing key and only serves what was signed here.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { manifestSigningBytes, signedManifestSchema, type SignedManifest, type UpdateManifest } from '@guruconnect/shared/protocol';

/**
 * A release key's id: `ed25519-` and the first 16 hex digits of the SHA-256 of its raw 32-byte
 * public key. Derived, so an id can never be paired with the wrong key by hand.
 */
export function releaseKeyId(publicKey: KeyObject): string {
  const raw = publicKey.export({ type: 'spki', format: 'der' }).subarray(-32);
  return `ed25519-${createHash('sha256').update(raw).digest('hex').slice(0, 16)}`;
}

export interface ReleaseKeyPair {
  keyId: string;
  /** PKCS#8 PEM, encrypted with AES-256-CBC when a passphrase is given. */
  privateKeyPem: string;
  /** SPKI PEM: what agents pin. */
  publicKeyPem: string;
}

export function generateReleaseKey(passphrase?: string): ReleaseKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const privateKeyPem = passphrase
    ? privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase })
    : privateKey.export({ type: 'pkcs8', format: 'pem' });
  return { keyId: releaseKeyId(publicKey), privateKeyPem: privateKeyPem.toString(), publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

export function loadReleasePrivateKey(pem: string, passphrase?: string): KeyObject {
  const key = createPrivateKey(passphrase ? { key: pem, format: 'pem', passphrase } : pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('the release key must be an Ed25519 private key');
  return key;
}

/** Sign a manifest: Ed25519 over `manifestSigningBytes(manifest)`; the key id is derived from the key. */
export function signManifest(manifest: UpdateManifest, privateKey: KeyObject): SignedManifest {
  const doc = { manifest, signature: sign(null, manifestSigningBytes(manifest), privateKey).toString('base64'), keyId: releaseKeyId(createPublicKey(privateKey)) };
  return signedManifestSchema.parse(doc);
}

/** True when `doc` is a signed manifest that verifies with `publicKeyPem` under its derived id. */
export function verifyWithPublicKey(doc: unknown, publicKeyPem: string): { ok: true; signed: SignedManifest } | { ok: false; problem: string } {
  const parsed = signedManifestSchema.safeParse(doc);
  if (!parsed.success) return { ok: false, problem: `not a signed manifest (${parsed.error.issues[0]?.path.join('.') || 'document'})` };
  const key = createPublicKey(publicKeyPem);
  if (key.asymmetricKeyType !== 'ed25519') return { ok: false, problem: 'not an Ed25519 public key' };
  if (parsed.data.keyId !== releaseKeyId(key)) return { ok: false, problem: `signed by ${parsed.data.keyId}, this key is ${releaseKeyId(key)}` };
  if (!verify(null, manifestSigningBytes(parsed.data.manifest), key, Buffer.from(parsed.data.signature, 'base64'))) return { ok: false, problem: 'signature does not verify' };
  return { ok: true, signed: parsed.data };
}
