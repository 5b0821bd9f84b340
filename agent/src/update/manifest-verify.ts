import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { manifestSigningBytes, signedManifestSchema, signingKeyIdSchema, updateManifestSchema, type SignedManifest, type UpdateManifest } from '@guruconnect/shared/protocol';

/** A release public key the agent pins (PEM, SPKI). Two may be pinned during a key rotation. */
export interface TrustedKey {
  keyId: string;
  publicKeyPem: string;
}

/** Most keys pinned at once: the current one and its successor (or predecessor). */
export const TRUSTED_KEYS_MAX = 2;

export interface PinnedKeys {
  readonly byId: ReadonlyMap<string, KeyObject>;
}

/** Check and load the pinned keys; a misconfiguration throws (it is a build or install error, not an update decision). */
export function pinKeys(keys: readonly TrustedKey[]): PinnedKeys {
  if (keys.length < 1 || keys.length > TRUSTED_KEYS_MAX) throw new TypeError(`pin 1 to ${TRUSTED_KEYS_MAX} update keys`);
  const byId = new Map<string, KeyObject>();
  for (const k of keys) {
    if (!signingKeyIdSchema.safeParse(k.keyId).success) throw new TypeError('an update key id is malformed');
    if (byId.has(k.keyId)) throw new TypeError('two pinned update keys share an id');
    const key = createPublicKey(k.publicKeyPem);
    if (key.asymmetricKeyType !== 'ed25519') throw new TypeError('pinned update keys must be Ed25519 public keys');
    byId.set(k.keyId, key);
  }
  return { byId };
}

export type VerifyResult =
  | { ok: true; signed: SignedManifest }
  | { ok: false; reason: 'invalid_manifest' | 'unknown_key' | 'bad_signature'; detail: string; manifest?: UpdateManifest; keyId?: string };

/**
 * Verify a signed-manifest document: its shape, that it names a pinned key, and that the
 * Ed25519 signature covers the canonical bytes of exactly this manifest.
 */
export function verifySignedManifest(doc: unknown, pinned: PinnedKeys): VerifyResult {
  const parsed = signedManifestSchema.safeParse(doc);
  if (!parsed.success) {
    const m = updateManifestSchema.safeParse((doc as { manifest?: unknown } | null)?.manifest);
    const issue = parsed.error.issues[0];
    return { ok: false, reason: 'invalid_manifest', detail: `${issue?.path.join('.') || 'document'}: ${issue?.message ?? 'malformed'}`, manifest: m.success ? m.data : undefined };
  }
  const signed = parsed.data;
  const key = pinned.byId.get(signed.keyId);
  if (!key) return { ok: false, reason: 'unknown_key', detail: `signed by ${signed.keyId}, which is not pinned`, manifest: signed.manifest, keyId: signed.keyId };
  const ok = verify(null, manifestSigningBytes(signed.manifest), key, Buffer.from(signed.signature, 'base64'));
  if (!ok) return { ok: false, reason: 'bad_signature', detail: `signature does not verify with ${signed.keyId}`, manifest: signed.manifest, keyId: signed.keyId };
  return { ok: true, signed };
}
