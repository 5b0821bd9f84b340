// The agent's update loop around the library (index.ts): recovery first thing on start,
// confirmation on the first welcome, then periodic and on-demand checks. main.ts only wires it:
//
//   start()        recoverPendingUpdate: roll back (→ exit 76) or arm the rollback timer; report a
//                  rollback the launcher did (a version that never got this far)
//   onConnected()  first welcome: confirmUpdate, deliver queued reports, start the check timer
//   checkNow()     SIGUSR2 or the timer: runUpdateCycle; applied → requestExit(75)
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { rootCertificates } from 'node:tls';
import { z } from 'zod';
import type { UpdateChannel, UpdatePlatform } from '@guruconnect/shared/protocol';
import type { Logger } from '../log/logger.ts';
import type { BuildFlavor } from './build-flavor.ts';
import type { ApplyResult } from './apply.ts';
import type { CheckResult } from './check.ts';
import { reject } from './decisions.ts';
import { installPaths, readCurrentVersion, readJson, readUpdateState } from './install-layout.ts';
import { pinKeys, TRUSTED_KEYS_MAX, type TrustedKey } from './manifest-verify.ts';
import { currentPlatform } from './platform.ts';
import { createHttpReporter, type HttpReporter } from './report.ts';
import { confirmUpdate, pendingUpdateSchema, recoverPendingUpdate, scheduleRollback } from './rollback.ts';
import type { Env, TlsCa } from './tls-policy.ts';
import { runUpdateCycle } from './index.ts';

/** The first check waits a random 0 … this long after the first connection (a fleet restarting together spreads out). */
export const FIRST_CHECK_MAX_DELAY_MS = 10 * 60_000;
/** Each later check waits the interval plus a random 0 … this fraction of it. */
export const CHECK_JITTER_FRACTION = 0.1;

const trustedKeysFileSchema = z
  .union([z.object({ keyId: z.string(), publicKeyPem: z.string() }), z.array(z.object({ keyId: z.string(), publicKeyPem: z.string() }))])
  .transform((v) => (Array.isArray(v) ? v : [v]));

/** Read what `--update-ca` and `--update-keys` name. Throws an Error with a one-line message. */
export function loadUpdateTrust(o: { caFile: string | null; keysFile: string | null; flavor: BuildFlavor; compiledKeys: readonly TrustedKey[] }): {
  ca: TlsCa | undefined;
  trustedKeys: readonly TrustedKey[];
} {
  let ca: TlsCa | undefined;
  if (o.caFile !== null) {
    let pem: string;
    try {
      pem = readFileSync(o.caFile, 'utf8');
    } catch {
      throw new Error(`--update-ca: cannot read ${o.caFile}`);
    }
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error(`--update-ca: ${o.caFile} holds no PEM certificate`);
    // `ca` replaces Node's roots: keep them, so a public CDN still verifies.
    ca = [...rootCertificates, pem];
  }
  let trustedKeys = o.compiledKeys;
  if (o.keysFile !== null) {
    // args.ts refuses the option in a production build; this is the second lock on the same door.
    if (o.flavor !== 'development') throw new Error('--update-keys is accepted only by a development build');
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(o.keysFile, 'utf8'));
    } catch {
      throw new Error(`--update-keys: ${o.keysFile} is not a readable JSON file`);
    }
    const parsed = trustedKeysFileSchema.safeParse(doc);
    if (!parsed.success || parsed.data.length < 1 || parsed.data.length > TRUSTED_KEYS_MAX) {
      throw new Error(`--update-keys: ${o.keysFile} must hold {keyId, publicKeyPem} or a list of 1 to ${TRUSTED_KEYS_MAX} of them`);
    }
    try {
      pinKeys(parsed.data);
    } catch (err) {
      throw new Error(`--update-keys: ${err instanceof Error ? err.message : String(err)}`);
    }
    trustedKeys = parsed.data;
  }
  return { ca, trustedKeys };
}

/** `launcher-rollback.json`: the pending record of an update the launcher switched back, and why. */
const launcherRollbackSchema = pendingUpdateSchema.extend({ failures: z.number().int().min(0), rolledBackAt: z.iso.datetime() });

/**
 * Report (as `rolled_back`) an update the launcher had to switch back because the new version
 * never got as far as `recoverPendingUpdate`. Only the restored version reports it.
 */
async function reportLauncherRollback(root: string, currentVersion: string, reporter: HttpReporter, log: Logger, now: () => number): Promise<void> {
  const path = installPaths(root).launcherRollback;
  let rec;
  try {
    rec = await readJson(path, launcherRollbackSchema);
  } catch (err) {
    log.warn('launcher rollback record unreadable; removing it', { err });
    await rm(path, { force: true });
    return;
  }
  if (!rec || rec.previousVersion !== currentVersion) return;
  const ctx = { platform: rec.platform, channel: rec.channel, currentVersion, logger: log, reporter, now };
  await reject(ctx, 'rolled_back', `the launcher switched back after ${rec.failures} failed starts of ${rec.version} (it never reached the update check)`, {
    version: rec.version,
    issuedAt: rec.issuedAt,
    signingKeyId: rec.signingKeyId,
  });
  await rm(path, { force: true });
}

export interface UpdaterOptions {
  root: string;
  serverUrl: string;
  agentKey: string;
  channel: UpdateChannel;
  intervalMs: number;
  currentVersion: string;
  trustedKeys: readonly TrustedKey[];
  ca?: TlsCa;
  env: Env;
  logger: Logger;
  /** Stop the agent cleanly and exit with `code` (75: start the new version; 76: start the restored one). */
  requestExit(code: number, why: string): void;
  platform?: UpdatePlatform | null;
  reporter?: HttpReporter;
  /** 0 ≤ x < 1, for the jitter. */
  random?: () => number;
  /** Tests: how long a new version has to connect (default UPDATE_CONFIRM_TIMEOUT_MS). */
  confirmTimeoutMs?: number;
  now?: () => number;
}

export type StartResult = { kind: 'continue' } | { kind: 'exit'; exitCode: number };
export type CycleResult = CheckResult | ApplyResult | { kind: 'skipped'; why: string };

export interface Updater {
  /** Call first thing on start, before anything that can fail. `exit`: exit with `exitCode` now. */
  start(): Promise<StartResult>;
  /** Call on every welcome from the server; the first one confirms a pending update and starts the checks. */
  onConnected(): Promise<void>;
  /** Check now (SIGUSR2, the timer). One check at a time; a call during a check gets one more check after it. */
  checkNow(trigger: string): Promise<CycleResult>;
  /** Stop the timers. Idempotent. */
  close(): void;
}

export function createUpdater(o: UpdaterOptions): Updater {
  const log = o.logger.child({ component: 'updater' });
  const random = o.random ?? Math.random;
  const platform = o.platform === undefined ? currentPlatform() : o.platform;
  const reporter =
    o.reporter ?? createHttpReporter({ serverUrl: o.serverUrl, agentKey: o.agentKey, ca: o.ca, env: o.env, outboxPath: installPaths(o.root).outbox, logger: log, now: o.now });
  let rollbackTimer: { cancel(): void } | null = null;
  let checkTimer: NodeJS.Timeout | null = null;
  let awaitingConfirmation = false;
  /** A confirmation under way: a check requested meanwhile waits for it instead of being skipped. */
  let confirming: Promise<void> | null = null;
  let connectedOnce = false;
  let exiting = false;
  let closed = false;
  let running: Promise<CycleResult> | null = null;
  let queued: Promise<CycleResult> | null = null;

  const exit = (code: number, why: string) => {
    if (exiting || closed) return;
    exiting = true;
    o.requestExit(code, why);
  };

  const schedule = (delayMs: number) => {
    if (closed || exiting) return;
    if (checkTimer) clearTimeout(checkTimer);
    checkTimer = setTimeout(() => {
      checkTimer = null;
      void checkNow('timer').finally(() => schedule(o.intervalMs + Math.floor(random() * o.intervalMs * CHECK_JITTER_FRACTION)));
    }, delayMs);
    checkTimer.unref();
  };

  const cycle = async (trigger: string): Promise<CycleResult> => {
    if (closed || exiting) return { kind: 'skipped', why: 'stopping' };
    if (platform === null) return { kind: 'skipped', why: 'no packages for this platform' };
    if (o.trustedKeys.length === 0) return { kind: 'skipped', why: 'no release keys pinned' };
    if (confirming) await confirming;
    if (awaitingConfirmation) return { kind: 'skipped', why: 'the running update is not confirmed yet' };
    log.info('checking for an update', { trigger, version: o.currentVersion, channel: o.channel });
    const { lastAppliedIssuedAt } = await readUpdateState(o.root);
    const r = await runUpdateCycle({
      serverUrl: o.serverUrl,
      agentKey: o.agentKey,
      platform,
      channel: o.channel,
      currentVersion: o.currentVersion,
      lastAppliedIssuedAt,
      trustedKeys: o.trustedKeys,
      ca: o.ca,
      env: o.env,
      root: o.root,
      reporter,
      logger: log,
      now: o.now,
    });
    // Rejections were logged (warn) and reported by the library.
    if (r.kind === 'applied') exit(r.exitCode, `update to ${r.version} applied`);
    else if (r.kind !== 'rejected') log.info('update check done', { result: r.kind });
    return r;
  };

  // One check at a time. A request during a check runs one more check after it (it may have
  // read the server before whatever prompted the request); further requests join that one.
  const checkNow = (trigger: string): Promise<CycleResult> => {
    if (running) {
      queued ??= running.then(() => {
        queued = null;
        return checkNow(trigger);
      });
      return queued;
    }
    running = cycle(trigger)
      .catch((err: unknown): CycleResult => {
        log.error('update check failed', { err });
        return { kind: 'unavailable', detail: err instanceof Error ? err.message : String(err) };
      })
      .finally(() => (running = null));
    return running;
  };

  return {
    async start() {
      const rec = await recoverPendingUpdate({ root: o.root, reporter, logger: log, timeoutMs: o.confirmTimeoutMs, now: o.now });
      const installed = await readCurrentVersion(o.root);
      if (rec.kind === 'rolled_back') {
        exiting = true;
        return { kind: 'exit', exitCode: rec.exitCode };
      }
      await reportLauncherRollback(o.root, o.currentVersion, reporter, log, o.now ?? Date.now);
      if (installed !== o.currentVersion) {
        log.warn('the running version is not the install root\'s current one; is the agent started from <root>/current?', { version: o.currentVersion, current: installed });
      }
      if (rec.kind === 'rollback_failed') log.error('update rollback failed; keeping the running version', { detail: rec.detail });
      if (rec.kind === 'awaiting_confirmation') {
        awaitingConfirmation = true;
        rollbackTimer = scheduleRollback({
          root: o.root,
          deadlineMs: rec.deadlineMs,
          timeoutMs: o.confirmTimeoutMs,
          reporter,
          logger: log,
          now: o.now,
          onRolledBack: (r) => {
            if (r.kind === 'rolled_back') exit(r.exitCode, `update to ${r.from} rolled back`);
          },
        });
      }
      if (platform === null) log.warn('self-updates are off: no packages for this platform', { platform: process.platform, arch: process.arch });
      else if (o.trustedKeys.length === 0) log.warn('self-updates are off: this build pins no release keys');
      return { kind: 'continue' };
    },

    async onConnected() {
      if (closed || exiting) return;
      const first = !connectedOnce;
      connectedOnce = true;
      if (awaitingConfirmation) {
        confirming ??= (async () => {
          try {
            const c = await confirmUpdate({ root: o.root, runningVersion: o.currentVersion, reporter, logger: log, now: o.now });
            rollbackTimer?.cancel();
            rollbackTimer = null;
            awaitingConfirmation = false;
            if (c.kind === 'confirmed') log.info('running the confirmed update', { version: c.version, previousVersion: c.previousVersion });
          } catch (err) {
            log.error('update confirmation failed', { err });
          }
        })().finally(() => (confirming = null));
        await confirming;
        // Confirmation failed: no checks (they would be skipped anyway); the rollback timer stays armed.
        if (awaitingConfirmation) return;
      }
      // Reports queued while the server was out of reach (e.g. a rollback decided by a version that never connected).
      const waiting = await reporter.flush();
      if (waiting > 0) log.info('update reports still waiting for the server', { waiting });
      if (first) schedule(Math.floor(random() * Math.min(o.intervalMs, FIRST_CHECK_MAX_DELAY_MS)));
    },

    checkNow,

    close() {
      closed = true;
      rollbackTimer?.cancel();
      if (checkTimer) clearTimeout(checkTimer);
      checkTimer = null;
    },
  };
}
