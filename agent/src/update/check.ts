import {
  compareVersions,
  semverSchema,
  UPDATE_MANIFEST_MAX_BYTES,
  type UpdateChannel,
  type UpdatePlatform,
} from '@guruconnect/shared/protocol';
import { silentLogger, type Logger } from '../log/logger.ts';
import { markVerified, offeredBy, reject, type DecisionContext, type Rejection, type VerifiedUpdate } from './decisions.ts';
import { requestSmall, TransferError } from './https-transfer.ts';
import { pinKeys, verifySignedManifest, type TrustedKey } from './manifest-verify.ts';
import { noReporter, type UpdateReporter } from './report.ts';
import { resolveTransportPolicy, type Env, type TlsCa } from './tls-policy.ts';

const CHECK_TIMEOUT_MS = 30_000;

export interface CheckOptions {
  /** The GuruConnect server origin (https). */
  serverUrl: string;
  /** `cak_…`; the update route requires an agent key. */
  agentKey: string;
  platform: UpdatePlatform;
  channel?: UpdateChannel;
  /** The running version. */
  currentVersion: string;
  /** `issuedAt` of the last update applied (`readUpdateState(root)`), null when none. */
  lastAppliedIssuedAt: string | null;
  /** The pinned release keys: one, or two during a rotation. */
  trustedKeys: readonly TrustedKey[];
  /** CA certificates to trust for the server (PEM); Node's bundled roots when omitted. */
  ca?: TlsCa;
  /** The process environment, from main.ts (read for GURU_UPDATE_INSECURE_TLS only). */
  env?: Env;
  logger?: Logger;
  reporter?: UpdateReporter;
  now?: () => number;
}

export type CheckResult =
  /** The server offers the running version (or nothing newer that applies). */
  | { kind: 'up_to_date'; version: string }
  /** No manifest is published for this platform and channel (404). */
  | { kind: 'not_published' }
  /** The server could not be asked (network, 5xx, 401): try again later. Not a decision, not reported. */
  | { kind: 'unavailable'; detail: string }
  | Rejection
  | { kind: 'available'; update: VerifiedUpdate };

/**
 * Ask the server for the current manifest of this platform and channel and decide whether it
 * may be installed. Every rejection is logged and reported with its reason.
 */
export async function checkForUpdate(o: CheckOptions): Promise<CheckResult> {
  if (!semverSchema.safeParse(o.currentVersion).success) throw new TypeError('currentVersion is not a version');
  const pinned = pinKeys(o.trustedKeys);
  const channel = o.channel ?? 'stable';
  const ctx: DecisionContext = {
    platform: o.platform,
    channel,
    currentVersion: o.currentVersion,
    logger: (o.logger ?? silentLogger).child({ component: 'update' }),
    reporter: o.reporter ?? noReporter,
    now: o.now ?? Date.now,
  };
  const policy = resolveTransportPolicy({ ca: o.ca, env: o.env, logger: ctx.logger });
  const url = new URL('/api/agent/update', o.serverUrl);
  url.searchParams.set('platform', o.platform);
  url.searchParams.set('channel', channel);

  let res: { status: number; body: Buffer | null };
  try {
    res = await requestSmall(url, {
      headers: { authorization: `AgentKey ${o.agentKey}`, accept: 'application/json' },
      policy,
      maxBytes: UPDATE_MANIFEST_MAX_BYTES,
      timeoutMs: CHECK_TIMEOUT_MS,
    });
  } catch (err) {
    if (err instanceof TransferError && err.reason === 'tls_untrusted') return reject(ctx, 'tls_untrusted', err.message);
    ctx.logger.info('update check failed', { detail: err instanceof Error ? err.message : String(err) });
    return { kind: 'unavailable', detail: err instanceof Error ? err.message : String(err) };
  }
  if (res.status === 404) {
    ctx.logger.debug('no update published', { platform: o.platform, channel });
    return { kind: 'not_published' };
  }
  if (res.status !== 200) {
    ctx.logger.info('update check failed', { status: res.status });
    return { kind: 'unavailable', detail: `HTTP ${res.status}` };
  }
  if (res.body === null) return reject(ctx, 'invalid_manifest', `larger than ${UPDATE_MANIFEST_MAX_BYTES} bytes`);
  let doc: unknown;
  try {
    doc = JSON.parse(res.body.toString('utf8'));
  } catch {
    return reject(ctx, 'invalid_manifest', 'not JSON');
  }

  const v = verifySignedManifest(doc, pinned);
  if (!v.ok) return reject(ctx, v.reason, v.detail, offeredBy(v.manifest, v.keyId));
  const { manifest, keyId } = v.signed;
  const offered = offeredBy(manifest, keyId);
  // From here on the manifest is authentic; what remains is whether it applies to us.
  if (manifest.platform !== o.platform || manifest.channel !== channel) {
    return reject(ctx, 'wrong_target', `manifest is for ${manifest.platform}/${manifest.channel}`, offered);
  }
  const order = compareVersions(manifest.version, o.currentVersion);
  if (order === 0) {
    ctx.logger.debug('agent is up to date', { version: o.currentVersion });
    return { kind: 'up_to_date', version: o.currentVersion };
  }
  if (o.lastAppliedIssuedAt !== null && manifest.issuedAt <= o.lastAppliedIssuedAt) {
    return reject(ctx, 'replay', `issued ${manifest.issuedAt}, not after the last applied update (${o.lastAppliedIssuedAt})`, offered);
  }
  if (order < 0) return reject(ctx, 'downgrade', `${manifest.version} is older than the running ${o.currentVersion}`, offered);
  if (manifest.minVersion !== undefined && compareVersions(o.currentVersion, manifest.minVersion) < 0) {
    return reject(ctx, 'min_version', `${manifest.version} needs at least ${manifest.minVersion}`, offered);
  }
  ctx.logger.info('update available', { version: manifest.version, issuedAt: manifest.issuedAt, signingKeyId: keyId });
  return { kind: 'available', update: markVerified(manifest, keyId, o.currentVersion) };
}
