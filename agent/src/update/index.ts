/**
 * Agent self-update: check a signed manifest, apply it atomically, confirm or roll back.
 * `docs/updates.md` describes the flow, the install layout and the exit codes.
 */
import { applyUpdate, type ApplyOptions, type ApplyResult } from './apply.ts';
import { checkForUpdate, type CheckOptions, type CheckResult } from './check.ts';

export { applyUpdate, tarGzUnpacker, type ApplyOptions, type ApplyResult, type Unpacker } from './apply.ts';
export { checkForUpdate, type CheckOptions, type CheckResult } from './check.ts';
export { BUILD_FLAVOR, type BuildFlavor } from './build-flavor.ts';
export type { Rejection, VerifiedUpdate } from './decisions.ts';
export { UPDATE_CONFIRM_MAX_STARTS, UPDATE_CONFIRM_TIMEOUT_MS, UPDATE_EXIT, type UpdateExitCode } from './exit-codes.ts';
export { installPaths, readCurrentVersion, readUpdateState } from './install-layout.ts';
export { TRUSTED_KEYS_MAX, type TrustedKey } from './manifest-verify.ts';
export { currentPlatform } from './platform.ts';
export { createHttpReporter, noReporter, type HttpReporter, type UpdateReporter } from './report.ts';
export { confirmUpdate, recoverPendingUpdate, scheduleRollback, type ConfirmResult, type RecoveryResult } from './rollback.ts';
export { INSECURE_TLS_ENV, type Env, type TlsCa } from './tls-policy.ts';
export { TRUSTED_UPDATE_KEYS } from './trusted-keys.ts';

/**
 * One update cycle for the agent's main loop: check, and apply what is available. On
 * `applied`, exit with `exitCode` so the supervisor starts the new version.
 */
export async function runUpdateCycle(o: CheckOptions & Omit<ApplyOptions, 'update'>): Promise<CheckResult | ApplyResult> {
  const checked = await checkForUpdate(o);
  if (checked.kind !== 'available') return checked;
  return applyUpdate({ ...o, update: checked.update });
}
