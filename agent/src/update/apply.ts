import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { compareVersions } from '@guruconnect/shared/protocol';
import { silentLogger, type Logger } from '../log/logger.ts';
import { isVerifiedUpdate, offeredBy, reject, type DecisionContext, type Rejection, type VerifiedUpdate } from './decisions.ts';
import { UPDATE_EXIT } from './exit-codes.ts';
import { download, TransferError } from './https-transfer.ts';
import { installPaths, readCurrentVersion, readUpdateState, switchCurrent, versionDir, writeJsonAtomic, writeUpdateState } from './install-layout.ts';
import type { PendingUpdate } from './rollback.ts';
import { noReporter, type UpdateReporter } from './report.ts';
import { resolveTransportPolicy, type Env, type TlsCa } from './tls-policy.ts';

/** Unpack a verified package file into an empty directory. */
export type Unpacker = (archive: string, into: string) => Promise<void>;

const run = promisify(execFile);

/**
 * The default package format: a gzipped tar, unpacked with the system `tar` (GNU tar on Linux,
 * bsdtar on macOS and Windows). It only ever sees a file whose SHA-256 the signed manifest named.
 */
export const tarGzUnpacker: Unpacker = async (archive, into) => {
  await run('tar', ['-xzf', archive, '-C', into, '--no-same-owner'], { timeout: 120_000, maxBuffer: 1024 * 1024 });
};

const DOWNLOAD_TIMEOUT_MS = 15 * 60_000;

export interface ApplyOptions {
  /** From `checkForUpdate` (`kind: 'available'`). */
  update: VerifiedUpdate;
  /** The install root (see install-layout.ts). */
  root: string;
  ca?: TlsCa;
  env?: Env;
  logger?: Logger;
  reporter?: UpdateReporter;
  unpack?: Unpacker;
  now?: () => number;
  downloadTimeoutMs?: number;
}

export type ApplyResult =
  /** `current` points at the new version: exit with `exitCode` so the supervisor starts it. */
  | { kind: 'applied'; version: string; previousVersion: string; exitCode: typeof UPDATE_EXIT.restartForUpdate }
  | Rejection;

/**
 * Download, verify (size and SHA-256 while streaming), unpack into `versions/<version>`, record
 * the rollback point, and switch `current` atomically. `current` changes only at the very end,
 * so any rejection leaves it where it was.
 */
export async function applyUpdate(o: ApplyOptions): Promise<ApplyResult> {
  if (!isVerifiedUpdate(o.update)) throw new TypeError('applyUpdate takes the update checkForUpdate returned');
  const { manifest, signingKeyId, fromVersion } = o.update;
  const ctx: DecisionContext = {
    platform: manifest.platform,
    channel: manifest.channel,
    currentVersion: fromVersion,
    logger: (o.logger ?? silentLogger).child({ component: 'update' }),
    reporter: o.reporter ?? noReporter,
    now: o.now ?? Date.now,
  };
  const offered = offeredBy(manifest, signingKeyId);
  const paths = installPaths(o.root);

  if (await stat(paths.pending).then(() => true, () => false)) {
    return reject(ctx, 'install_failed', 'an earlier update is not confirmed yet', offered);
  }
  // Re-check against what is on disk: the caller's view may be stale.
  const previousVersion = await readCurrentVersion(o.root);
  if (previousVersion === null) return reject(ctx, 'install_failed', 'the install root has no current link', offered);
  if (compareVersions(manifest.version, previousVersion) <= 0) return reject(ctx, 'downgrade', `${manifest.version} is not newer than the installed ${previousVersion}`, offered);
  const state = await readUpdateState(o.root);
  if (state.lastAppliedIssuedAt !== null && manifest.issuedAt <= state.lastAppliedIssuedAt) {
    return reject(ctx, 'replay', `issued ${manifest.issuedAt}, not after the last applied update (${state.lastAppliedIssuedAt})`, offered);
  }

  const policy = resolveTransportPolicy({ ca: o.ca, env: o.env, logger: ctx.logger });
  const tag = randomBytes(6).toString('hex');
  const archive = join(paths.downloads, `${manifest.version}-${tag}.pkg`);
  const staging = join(paths.versions, `.staging-${manifest.version}-${tag}`);
  const target = versionDir(o.root, manifest.version);
  await mkdir(paths.downloads, { recursive: true });
  try {
    ctx.logger.info('downloading update', { version: manifest.version, size: manifest.size });
    try {
      await download(new URL(manifest.url), { policy, size: manifest.size, sha256: manifest.sha256, dest: archive, timeoutMs: o.downloadTimeoutMs ?? DOWNLOAD_TIMEOUT_MS });
    } catch (err) {
      const e = err instanceof TransferError ? err : new TransferError('download_failed', String(err));
      return await reject(ctx, e.reason, e.message, offered);
    }

    try {
      await mkdir(staging, { recursive: true });
      await (o.unpack ?? tarGzUnpacker)(archive, staging);
      if ((await readdir(staging)).length === 0) throw new Error('the package is empty');
      // A leftover directory of this version is never `current` (it is newer than current).
      await rm(target, { recursive: true, force: true });
      await rename(staging, target);
    } catch (err) {
      return await reject(ctx, 'install_failed', `unpack: ${err instanceof Error ? err.message : String(err)}`, offered);
    }

    const pending: PendingUpdate = {
      version: manifest.version,
      previousVersion,
      issuedAt: manifest.issuedAt,
      signingKeyId,
      platform: manifest.platform,
      channel: manifest.channel,
      appliedAt: new Date(ctx.now()).toISOString(),
      starts: 0,
    };
    try {
      // Order matters: the rollback record and the replay mark exist before `current` moves.
      await writeJsonAtomic(paths.pending, pending);
      await writeUpdateState(o.root, { lastAppliedIssuedAt: manifest.issuedAt });
      await switchCurrent(o.root, manifest.version);
    } catch (err) {
      await rm(paths.pending, { force: true });
      await writeUpdateState(o.root, state).catch(() => undefined);
      return await reject(ctx, 'install_failed', `switch: ${err instanceof Error ? err.message : String(err)}`, offered);
    }
    ctx.logger.info('update applied; restarting into it', { version: manifest.version, previousVersion, exitCode: UPDATE_EXIT.restartForUpdate });
    return { kind: 'applied', version: manifest.version, previousVersion, exitCode: UPDATE_EXIT.restartForUpdate };
  } finally {
    await rm(archive, { force: true });
    await rm(staging, { recursive: true, force: true });
  }
}
