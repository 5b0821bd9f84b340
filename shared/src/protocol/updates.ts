import { z } from 'zod';
import { isoDateSchema, uuidSchema } from './common.ts';

/**
 * Agent updates: the signed manifest, its canonical byte encoding, and the three HTTP routes
 * (`GET /api/agent/update`, `POST /api/agent/update-report`, `GET /api/agent/versions`).
 * `docs/updates.md` describes the whole flow.
 */

/** Platforms an update package is built for (`<os>-<arch>`, Node's names). */
export const UPDATE_PLATFORMS = ['linux-x64', 'linux-arm64', 'darwin-x64', 'darwin-arm64', 'win32-x64'] as const;
export const updatePlatformSchema = z.enum(UPDATE_PLATFORMS);
export type UpdatePlatform = z.infer<typeof updatePlatformSchema>;

/** Release channels. A manifest names its channel, so one signed for `beta` never passes as `stable`. */
export const UPDATE_CHANNELS = ['stable', 'beta'] as const;
export const updateChannelSchema = z.enum(UPDATE_CHANNELS);
export type UpdateChannel = z.infer<typeof updateChannelSchema>;

/** Largest update package a manifest may announce, in bytes (1 GiB). */
export const UPDATE_PACKAGE_MAX_BYTES = 1024 * 1024 * 1024;
/** Largest signed-manifest document, in bytes: agents stop reading, the server skips the file. */
export const UPDATE_MANIFEST_MAX_BYTES = 16 * 1024;
/** Longest free-text `detail` in an update report, in characters. */
export const UPDATE_REPORT_DETAIL_MAX_LENGTH = 200;

/**
 * `MAJOR.MINOR.PATCH[-PRERELEASE]` (semver 2.0 without build metadata, which has no precedence
 * and would let two different strings name one version). Numeric parts have at most 9 digits,
 * so they compare exactly as numbers.
 */
const NUM = '(?:0|[1-9]\\d{0,8})';
const PRE_ID = '(?:0|[1-9]\\d{0,8}|\\d*[A-Za-z-][0-9A-Za-z-]*)';
const SEMVER = new RegExp(`^${NUM}\\.${NUM}\\.${NUM}(?:-${PRE_ID}(?:\\.${PRE_ID})*)?$`);
export const semverSchema = z.string().max(64).regex(SEMVER);

/**
 * Compare two versions by semver precedence: negative when `a` is older, 0 when equal, positive
 * when newer. A release is newer than its pre-releases (`1.2.0 > 1.2.0-rc.1`). Both must match
 * `semverSchema`; anything else throws.
 */
export function compareVersions(a: string, b: string): number {
  const pa = splitVersion(a);
  const pb = splitVersion(b);
  for (let i = 0; i < 3; i++) {
    const d = pa.core[i]! - pb.core[i]!;
    if (d !== 0) return Math.sign(d);
  }
  if (pa.pre.length === 0 && pb.pre.length === 0) return 0;
  if (pa.pre.length === 0) return 1;
  if (pb.pre.length === 0) return -1;
  for (let i = 0; i < Math.min(pa.pre.length, pb.pre.length); i++) {
    const x = pa.pre[i]!;
    const y = pb.pre[i]!;
    const xn = /^\d+$/.test(x);
    const yn = /^\d+$/.test(y);
    if (xn && yn) {
      const d = Number(x) - Number(y);
      if (d !== 0) return Math.sign(d);
    } else if (xn !== yn) {
      return xn ? -1 : 1; // numeric identifiers sort before alphanumeric ones
    } else if (x !== y) {
      return x < y ? -1 : 1;
    }
  }
  return Math.sign(pa.pre.length - pb.pre.length);
}

function splitVersion(v: string): { core: number[]; pre: string[] } {
  if (!SEMVER.test(v) || v.length > 64) throw new RangeError('not a version');
  const dash = v.indexOf('-');
  const core = (dash === -1 ? v : v.slice(0, dash)).split('.').map(Number);
  return { core, pre: dash === -1 ? [] : v.slice(dash + 1).split('.') };
}

/** Signing key ids: lower-case letters, digits, `.`, `_`, `-`; the release CLI derives them from the key. */
export const signingKeyIdSchema = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/);

/**
 * `issuedAt`: exactly the form `Date.prototype.toISOString()` writes (UTC, milliseconds), so
 * string order is time order and there is one spelling per instant.
 */
export const manifestIssuedAtSchema = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
  .refine((s) => !Number.isNaN(Date.parse(s)) && new Date(s).toISOString() === s, { error: 'must be a real UTC instant' });

/** No control or format characters, and no unpaired surrogates (no database column can store them). */
const printable = (max: number) => z.string().max(max).regex(/^[^\p{Cc}\p{Cf}\p{Cs}]*$/u);

/**
 * The signed statement "package `url` with this size and SHA-256 is version `version` of the
 * agent for `platform` on `channel`, published at `issuedAt`". Unknown fields are refused, so
 * every field an agent acts on is covered by the signature.
 */
export const updateManifestSchema = z.strictObject({
  /** The version the package installs. Agents never install one that is not newer than theirs. */
  version: semverSchema,
  platform: updatePlatformSchema,
  channel: updateChannelSchema,
  /** Where the package is downloaded from: an https URL of printable ASCII (percent-encode the rest). */
  url: z.url({ protocol: /^https$/ }).max(2048).regex(/^[\x21-\x7e]+$/),
  /** SHA-256 of the package, lower-case hex. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** Exact size of the package, in bytes. */
  size: z.number().int().min(1).max(UPDATE_PACKAGE_MAX_BYTES),
  /** Agents older than this must not apply the package (they need an intermediate release first). */
  minVersion: semverSchema.optional(),
  /** When the release was signed; agents refuse one not newer than the last they applied (no replay). */
  issuedAt: manifestIssuedAtSchema,
});
export type UpdateManifest = z.infer<typeof updateManifestSchema>;

/**
 * What is signed is domain-separated: this line, then the canonical JSON of the manifest.
 * A signature over a manifest can never be mistaken for a signature over anything else.
 */
export const MANIFEST_SIGNING_CONTEXT = 'guruconnect-agent-update-manifest/v1\n';

/**
 * The canonical JSON of a manifest: keys sorted by UTF-16 code units, no whitespace, absent
 * optional fields omitted, strings and integers as `JSON.stringify` writes them. Every value
 * of a manifest is a string or an integer, so this is exactly the manifest's RFC 8785 (JCS)
 * serialisation.
 */
export function canonicalManifestJson(manifest: UpdateManifest): string {
  const record = manifest as Record<string, unknown>;
  const keys = Object.keys(record)
    .filter((k) => record[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(record[k])}`).join(',')}}`;
}

/**
 * The exact bytes an Ed25519 signature covers: UTF-8 of
 * `MANIFEST_SIGNING_CONTEXT + canonicalManifestJson(manifest)`.
 */
export function manifestSigningBytes(manifest: UpdateManifest): Uint8Array {
  return new TextEncoder().encode(MANIFEST_SIGNING_CONTEXT + canonicalManifestJson(manifest));
}

/** Base64 (RFC 4648, padded) of a 64-byte Ed25519 signature: one spelling per signature. */
export const ed25519SignatureSchema = z.string().regex(/^[A-Za-z0-9+/]{85}[AQgw]==$/);

/** `GET /api/agent/update` answer and the file format of `UPDATE_MANIFEST_DIR/*.json`. */
export const signedManifestSchema = z.strictObject({
  manifest: updateManifestSchema,
  /** Ed25519 over `manifestSigningBytes(manifest)`. */
  signature: ed25519SignatureSchema,
  /** Which release key signed it (agents pin up to two, for rotation). */
  keyId: signingKeyIdSchema,
});
export type SignedManifest = z.infer<typeof signedManifestSchema>;

/** `GET /api/agent/update?platform=linux-x64&channel=stable` */
export const updateQuerySchema = z.object({
  platform: updatePlatformSchema,
  channel: updateChannelSchema.default('stable'),
});
export type UpdateQuery = z.infer<typeof updateQuerySchema>;

/** Why an agent did not install (or kept) an update. */
export const UPDATE_REJECT_REASONS = [
  /** The signature does not verify against the pinned key it names. */
  'bad_signature',
  /** The manifest names a key the agent does not pin. */
  'unknown_key',
  /** The version is older than the running one. */
  'downgrade',
  /** `issuedAt` is older than that of the last update applied. */
  'replay',
  'hash_mismatch',
  'size_mismatch',
  /** The server's or the download's certificate is not trusted (or the URL is not https). */
  'tls_untrusted',
  /** The running version is older than the manifest's `minVersion`. */
  'min_version',
  /** The new version did not connect in time; the previous one was restored. */
  'rolled_back',
  /** The answer is not a well-formed signed manifest. */
  'invalid_manifest',
  /** The manifest is for another platform or channel than the one asked for. */
  'wrong_target',
  /** The package could not be downloaded (network, HTTP status, timeout). */
  'download_failed',
  /** The package could not be unpacked or switched to. */
  'install_failed',
] as const;
export const updateRejectReasonSchema = z.enum(UPDATE_REJECT_REASONS);
export type UpdateRejectReason = z.infer<typeof updateRejectReasonSchema>;

const reportCommon = {
  platform: updatePlatformSchema,
  channel: updateChannelSchema,
  /** The version that was running when the decision was made. */
  fromVersion: semverSchema,
  /** The version running now (after a rollback: the restored one). The server records it for the machine. */
  runningVersion: semverSchema,
  /** When the agent decided (reports may be delivered late). */
  decidedAt: isoDateSchema,
};

/**
 * `POST /api/agent/update-report` (`Authorization: AgentKey cak_…`). `applied` is sent once the
 * new version has connected (the update is confirmed); `rejected` for every refusal and rollback.
 */
export const updateReportSchema = z.discriminatedUnion('outcome', [
  z.strictObject({
    outcome: z.literal('applied'),
    ...reportCommon,
    toVersion: semverSchema,
    issuedAt: manifestIssuedAtSchema,
    signingKeyId: signingKeyIdSchema,
  }),
  z.strictObject({
    outcome: z.literal('rejected'),
    reason: updateRejectReasonSchema,
    ...reportCommon,
    /** What the manifest offered, when it could be read. */
    toVersion: semverSchema.optional(),
    issuedAt: manifestIssuedAtSchema.optional(),
    signingKeyId: signingKeyIdSchema.optional(),
    detail: printable(UPDATE_REPORT_DETAIL_MAX_LENGTH).optional(),
  }),
]);
export type UpdateReport = z.infer<typeof updateReportSchema>;
export const updateReportResponseSchema = z.object({ recorded: z.literal(true) });

/** `GET /api/agent/versions?limit=50` (admin). */
export const agentVersionsQuerySchema = z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) });
export const agentVersionsSchema = z.object({
  /** Live machines grouped by the agent version they last reported; newest version first, unknown last. */
  versions: z.array(
    z.object({
      version: z.string().nullable(),
      count: z.number().int(),
      machines: z.array(z.object({ id: uuidSchema, name: z.string(), lastSeenAt: isoDateSchema.nullable() })),
    }),
  ),
  /** What the server currently serves, one entry per platform and channel. */
  published: z.array(z.object({ platform: updatePlatformSchema, channel: updateChannelSchema, version: semverSchema, issuedAt: manifestIssuedAtSchema, keyId: signingKeyIdSchema })),
  /** Recent `agent_update_rejected` audit events, newest first. */
  rejections: z.array(
    z.object({
      at: isoDateSchema,
      machineId: uuidSchema.nullable(),
      machineName: z.string().nullable(),
      reason: z.string(),
      fromVersion: z.string().nullable(),
      toVersion: z.string().nullable(),
      detail: z.string().nullable(),
      clientIp: z.string().nullable(),
    }),
  ),
  /** Recent `agent_update_applied` audit events (updates confirmed by the new version), newest first. */
  applied: z.array(
    z.object({
      at: isoDateSchema,
      machineId: uuidSchema.nullable(),
      machineName: z.string().nullable(),
      fromVersion: z.string().nullable(),
      toVersion: z.string().nullable(),
      /** The release key that signed the manifest. */
      signedBy: z.string().nullable(),
    }),
  ),
});
export type AgentVersions = z.infer<typeof agentVersionsSchema>;
