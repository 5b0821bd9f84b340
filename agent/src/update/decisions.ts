import type { UpdateChannel, UpdateManifest, UpdatePlatform, UpdateRejectReason } from '@guruconnect/shared/protocol';
import type { Logger } from '../log/logger.ts';
import { cleanDetail, type UpdateReporter } from './report.ts';

const verified: unique symbol = Symbol('verified update');

/**
 * A manifest that passed every check of `checkForUpdate`: pinned key, signature, platform and
 * channel, replay, downgrade, minVersion. Only `checkForUpdate` makes one.
 */
export interface VerifiedUpdate {
  readonly [verified]: true;
  readonly manifest: UpdateManifest;
  readonly signingKeyId: string;
  readonly fromVersion: string;
}

export function markVerified(manifest: UpdateManifest, signingKeyId: string, fromVersion: string): VerifiedUpdate {
  return Object.freeze({ [verified]: true as const, manifest, signingKeyId, fromVersion });
}

export function isVerifiedUpdate(u: unknown): u is VerifiedUpdate {
  return typeof u === 'object' && u !== null && (u as Record<symbol, unknown>)[verified] === true;
}

export interface Rejection {
  kind: 'rejected';
  reason: UpdateRejectReason;
  detail: string;
  /** The offered version, when the manifest could be read. */
  toVersion?: string;
}

export interface DecisionContext {
  platform: UpdatePlatform;
  channel: UpdateChannel;
  currentVersion: string;
  logger: Logger;
  reporter: UpdateReporter;
  now: () => number;
}

/** What was offered, as far as it is known. */
export interface Offered {
  version?: string;
  issuedAt?: string;
  signingKeyId?: string;
}

export const offeredBy = (manifest: UpdateManifest | undefined, signingKeyId: string | undefined): Offered => ({
  version: manifest?.version,
  issuedAt: manifest?.issuedAt,
  signingKeyId,
});

/** Log and report a refusal; every rejection goes through here. */
export async function reject(ctx: DecisionContext, reason: UpdateRejectReason, detail: string, offered: Offered = {}): Promise<Rejection> {
  ctx.logger.warn('update rejected', { reason, detail, currentVersion: ctx.currentVersion, offeredVersion: offered.version, issuedAt: offered.issuedAt, signingKeyId: offered.signingKeyId });
  await ctx.reporter.report({
    outcome: 'rejected',
    reason,
    platform: ctx.platform,
    channel: ctx.channel,
    fromVersion: ctx.currentVersion,
    runningVersion: ctx.currentVersion,
    decidedAt: new Date(ctx.now()).toISOString(),
    toVersion: offered.version,
    issuedAt: offered.issuedAt,
    signingKeyId: offered.signingKeyId,
    detail: cleanDetail(detail),
  });
  return { kind: 'rejected', reason, detail, toVersion: offered.version };
}
