/**
 * Exit codes the update library asks the agent to exit with, so the supervisor (systemd
 * `Restart=always`, a Windows service wrapper, launchd `KeepAlive`) starts `current` again.
 * They extend the agent's own codes (0 stopped, 1 failure, 2 usage, 3 refused) and follow
 * sysexits' EX_TEMPFAIL (75): "try again".
 */
export const UPDATE_EXIT = {
  /** `current` now points at a new version: start it. */
  restartForUpdate: 75,
  /** `current` was switched back to the previous version: start it. */
  restartAfterRollback: 76,
} as const;
export type UpdateExitCode = (typeof UPDATE_EXIT)[keyof typeof UPDATE_EXIT];

/** How long a new version has to connect to the server before it is rolled back. */
export const UPDATE_CONFIRM_TIMEOUT_MS = 120_000;
/** Starts of an unconfirmed version (a crash loop) before it is rolled back regardless of time. */
export const UPDATE_CONFIRM_MAX_STARTS = 3;
