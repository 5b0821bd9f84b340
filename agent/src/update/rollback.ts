// An applied update stays "pending" until the new version has connected to the server. A
// version that does not connect in time — or crash-loops — is switched back to the previous one.
//
//   start ──▶ recoverPendingUpdate()
//               none                  → carry on
//               awaiting_confirmation → carry on; scheduleRollback(deadline); confirmUpdate() after
//                                       the first successful connection (reports `applied`)
//               rolled_back           → exit with exitCode; the supervisor starts the old version
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import {
  manifestIssuedAtSchema,
  semverSchema,
  signingKeyIdSchema,
  updateChannelSchema,
  updatePlatformSchema,
} from '@guruconnect/shared/protocol';
import { silentLogger, type Logger } from '../log/logger.ts';
import { reject, type DecisionContext } from './decisions.ts';
import { UPDATE_CONFIRM_MAX_STARTS, UPDATE_CONFIRM_TIMEOUT_MS, UPDATE_EXIT } from './exit-codes.ts';
import { installPaths, readCurrentVersion, readJson, switchCurrent, versionDir, writeJsonAtomic } from './install-layout.ts';
import { noReporter, type UpdateReporter } from './report.ts';

/** `pending.json`: written just before `current` moves to an update, removed when it is confirmed or rolled back. */
export const pendingUpdateSchema = z.object({
  version: semverSchema,
  previousVersion: semverSchema,
  issuedAt: manifestIssuedAtSchema,
  signingKeyId: signingKeyIdSchema,
  platform: updatePlatformSchema,
  channel: updateChannelSchema,
  appliedAt: z.iso.datetime(),
  /** How often the new version has started without confirming. */
  starts: z.number().int().min(0),
});
export type PendingUpdate = z.infer<typeof pendingUpdateSchema>;

export interface RecoveryOptions {
  root: string;
  /** Time the new version has to connect, from the moment `current` was switched. */
  timeoutMs?: number;
  /** Unconfirmed starts (a crash loop) after which it is rolled back regardless of time. */
  maxStarts?: number;
  logger?: Logger;
  reporter?: UpdateReporter;
  now?: () => number;
}

export type RecoveryResult =
  | { kind: 'none' }
  | { kind: 'awaiting_confirmation'; version: string; deadlineMs: number }
  | { kind: 'rolled_back'; from: string; to: string; exitCode: typeof UPDATE_EXIT.restartAfterRollback }
  | { kind: 'rollback_failed'; detail: string };

// One recovery/confirmation at a time per root within this process (a timer and a connection may race).
const locks = new Map<string, Promise<unknown>>();
function withLock<T>(root: string, fn: () => Promise<T>): Promise<T> {
  const prev = locks.get(root) ?? Promise.resolve();
  const next = prev.then(fn, fn);
  locks.set(root, next.catch(() => undefined));
  return next;
}

async function readPending(root: string, log: Logger): Promise<PendingUpdate | null> {
  try {
    return await readJson(installPaths(root).pending, pendingUpdateSchema);
  } catch (err) {
    // Without a readable record there is nothing to roll back to; do not let it block every start.
    log.error('pending update record unreadable; discarding it', { err });
    await rm(installPaths(root).pending, { force: true });
    return null;
  }
}

/**
 * `pending.json` whose version is not what `current` points at is left over from an apply that
 * never switched (or already switched back): it no longer describes the install.
 */
async function livePending(root: string, log: Logger): Promise<PendingUpdate | null> {
  const pending = await readPending(root, log);
  if (!pending) return null;
  if ((await readCurrentVersion(root)) !== pending.version) {
    log.warn('stale pending update record removed', { version: pending.version });
    await rm(installPaths(root).pending, { force: true });
    return null;
  }
  return pending;
}

async function rollBack(root: string, pending: PendingUpdate, why: string, o: RecoveryOptions): Promise<RecoveryResult> {
  const log = (o.logger ?? silentLogger).child({ component: 'update' });
  const exists = await stat(versionDir(root, pending.previousVersion)).then((s) => s.isDirectory(), () => false);
  if (!exists) {
    log.error('cannot roll back: the previous version is gone', { version: pending.version, previousVersion: pending.previousVersion });
    return { kind: 'rollback_failed', detail: `versions/${pending.previousVersion} is missing` };
  }
  await switchCurrent(root, pending.previousVersion);
  await rm(installPaths(root).pending, { force: true });
  // state.json keeps this manifest's issuedAt: the same release is never applied again (replay).
  const ctx: DecisionContext = {
    platform: pending.platform,
    channel: pending.channel,
    currentVersion: pending.previousVersion,
    logger: log,
    reporter: o.reporter ?? noReporter,
    now: o.now ?? Date.now,
  };
  await reject(ctx, 'rolled_back', why, { version: pending.version, issuedAt: pending.issuedAt, signingKeyId: pending.signingKeyId });
  log.error('update rolled back; restarting the previous version', { version: pending.version, previousVersion: pending.previousVersion, exitCode: UPDATE_EXIT.restartAfterRollback });
  return { kind: 'rolled_back', from: pending.version, to: pending.previousVersion, exitCode: UPDATE_EXIT.restartAfterRollback };
}

/**
 * Call first thing on start. Rolls an unconfirmed update back when it is older than the timeout
 * or has started `maxStarts` times without confirming; otherwise counts this start.
 */
export function recoverPendingUpdate(o: RecoveryOptions): Promise<RecoveryResult> {
  return withLock(o.root, async () => {
    const log = (o.logger ?? silentLogger).child({ component: 'update' });
    const now = (o.now ?? Date.now)();
    const timeoutMs = o.timeoutMs ?? UPDATE_CONFIRM_TIMEOUT_MS;
    const pending = await livePending(o.root, log);
    if (!pending) return { kind: 'none' };
    const deadlineMs = Date.parse(pending.appliedAt) + timeoutMs;
    if (now >= deadlineMs) return rollBack(o.root, pending, `not confirmed within ${timeoutMs} ms`, o);
    if (pending.starts >= (o.maxStarts ?? UPDATE_CONFIRM_MAX_STARTS)) return rollBack(o.root, pending, `started ${pending.starts} times without connecting`, o);
    await writeJsonAtomic(installPaths(o.root).pending, { ...pending, starts: pending.starts + 1 });
    log.info('running an unconfirmed update', { version: pending.version, deadline: new Date(deadlineMs).toISOString() });
    return { kind: 'awaiting_confirmation', version: pending.version, deadlineMs };
  });
}

/**
 * Roll back at `deadlineMs` unless `confirmUpdate` ran first. `onRolledBack` receives the result
 * (exit with its `exitCode`). The timer does not keep the process alive.
 */
export function scheduleRollback(o: RecoveryOptions & { deadlineMs: number; onRolledBack(r: RecoveryResult): void }): { cancel(): void } {
  const now = o.now ?? Date.now;
  const timer = setTimeout(() => {
    void withLock(o.root, async () => {
      const log = (o.logger ?? silentLogger).child({ component: 'update' });
      const pending = await livePending(o.root, log);
      if (!pending) return null;
      return rollBack(o.root, pending, `not confirmed by ${new Date(o.deadlineMs).toISOString()}`, o);
    }).then(
      (r) => r && o.onRolledBack(r),
      (err: unknown) => (o.logger ?? silentLogger).error('rollback failed', { err }),
    );
  }, Math.max(0, o.deadlineMs - now()));
  timer.unref();
  return { cancel: () => clearTimeout(timer) };
}

export type ConfirmResult = { kind: 'none' } | { kind: 'confirmed'; version: string; previousVersion: string };

/**
 * Call after the first successful connection to the server. Confirms a pending update of the
 * running version (reports `applied`) and deletes versions other than current and previous.
 */
export function confirmUpdate(o: { root: string; runningVersion: string; logger?: Logger; reporter?: UpdateReporter; now?: () => number }): Promise<ConfirmResult> {
  return withLock(o.root, async () => {
    const log = (o.logger ?? silentLogger).child({ component: 'update' });
    const pending = await livePending(o.root, log);
    if (!pending || pending.version !== o.runningVersion) return { kind: 'none' as const };
    await rm(installPaths(o.root).pending, { force: true });
    log.info('update confirmed', { version: pending.version, previousVersion: pending.previousVersion });
    await (o.reporter ?? noReporter).report({
      outcome: 'applied',
      platform: pending.platform,
      channel: pending.channel,
      fromVersion: pending.previousVersion,
      toVersion: pending.version,
      runningVersion: pending.version,
      issuedAt: pending.issuedAt,
      signingKeyId: pending.signingKeyId,
      decidedAt: new Date((o.now ?? Date.now)()).toISOString(),
    });
    await pruneVersions(o.root, [pending.version, pending.previousVersion], log);
    return { kind: 'confirmed' as const, version: pending.version, previousVersion: pending.previousVersion };
  });
}

/** Remove unpacked versions (and abandoned staging directories) except those kept. */
async function pruneVersions(root: string, keep: readonly string[], log: Logger): Promise<void> {
  const dir = installPaths(root).versions;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const removable = name.startsWith('.staging-') || (semverSchema.safeParse(name).success && !keep.includes(name));
    if (!removable) continue;
    await rm(join(dir, name), { recursive: true, force: true }).catch((err: unknown) => log.warn('could not remove an old version', { name, err }));
  }
}
