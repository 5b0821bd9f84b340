#!/usr/bin/env node
// guru-agent-launcher: the smallest supervisor for a self-updating agent (docs/updates.md).
//
//   node guru-agent-launcher.mjs --root <install root> [--entry agent/src/bin.mjs]
//        [--restart-delay-ms 1000] [--max-restart-delay-ms 30000] -- <guru-agent arguments>
//
// Runs `node <root>/current/<entry> --install-root <root> <arguments>` and starts it again:
//   exit 75 (update applied) / 76 (update rolled back)  → at once; `current` now names the version to run
//   exit 0 (stopped) / 2 (bad command line)              → the launcher exits with that code
//   any other exit or a crash                            → after a delay doubling from --restart-delay-ms
//                                                          up to --max-restart-delay-ms (reset after 60 s up)
// The agent rolls back an unconfirmed update itself (recoverPendingUpdate, after 3 starts). A new
// version that fails before it gets that far (a package whose entry is missing or does not load)
// cannot: after 5 failed starts in a row of the version <root>/pending.json names, the launcher
// switches `current` back to its previousVersion and leaves <root>/launcher-rollback.json, which
// the restored agent reports as `rolled_back`.
// SIGTERM / SIGINT are passed to the agent and end the launcher; SIGUSR2 (check for an update now)
// is passed on. `current` is resolved at every start, so the launcher itself never needs updating.
// It has no dependencies: install it once, outside <root>/versions. With systemd, use the unit in
// deploy/ instead (Restart=always does the same).
import { spawn } from 'node:child_process';
import { readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const RESTART_NOW = new Set([75, 76]);
const FINAL = new Set([0, 2]);
const STABLE_RUN_MS = 60_000;
/** More than the agent's own UPDATE_CONFIRM_MAX_STARTS (3), so the agent decides when it can. */
const ROLLBACK_AFTER_FAILED_STARTS = 5;
const VERSION = /^\d{1,9}\.\d{1,9}\.\d{1,9}(-[0-9A-Za-z.-]{1,64})?$/;

function log(level, msg, fields = {}) {
  process.stderr.write(`${JSON.stringify({ level, msg, time: new Date().toISOString(), component: 'launcher', ...fields })}\n`);
}

function usage(message) {
  process.stderr.write(`guru-agent-launcher: ${message}\nusage: guru-agent-launcher --root <dir> [--entry <path in the package>] [--restart-delay-ms N] [--max-restart-delay-ms N] -- <guru-agent arguments>\n`);
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    args: process.argv.slice(2),
    options: {
      root: { type: 'string' },
      entry: { type: 'string', default: 'agent/src/bin.mjs' },
      'restart-delay-ms': { type: 'string', default: '1000' },
      'max-restart-delay-ms': { type: 'string', default: '30000' },
    },
    allowPositionals: true,
    strict: true,
  });
} catch (err) {
  usage(err instanceof Error ? err.message.split('\n')[0] : String(err));
}
const { values, positionals } = parsed;
if (!values.root || !isAbsolute(values.root)) usage('--root must be an absolute path');
if (isAbsolute(values.entry) || values.entry.split(/[\\/]/).includes('..')) usage('--entry must be a path inside the package');
const ms = (name) => {
  const n = Number(values[name]);
  if (!/^\d+$/.test(values[name]) || n > 3_600_000) usage(`--${name} must be 0 … 3600000`);
  return n;
};
const root = resolve(values.root);
const firstDelayMs = ms('restart-delay-ms');
const maxDelayMs = Math.max(firstDelayMs, ms('max-restart-delay-ms'));
const agentArgs = positionals;
if (agentArgs.includes('--install-root')) usage('the launcher passes --install-root itself');

let child = null;
let stopping = null;
let delayMs = firstDelayMs;
let failedPendingStarts = 0;

function currentVersion() {
  try {
    return readlinkSync(join(root, 'current'));
  } catch {
    return null;
  }
}

/** pending.json when it names the version `current` points at (an unconfirmed update), else null. */
function livePending() {
  let pending;
  try {
    pending = JSON.parse(readFileSync(join(root, 'pending.json'), 'utf8'));
  } catch {
    return null;
  }
  const current = currentVersion();
  if (!pending || !VERSION.test(String(pending.version)) || !VERSION.test(String(pending.previousVersion))) return null;
  return current === join('versions', pending.version) ? pending : null;
}

/** Switch `current` back to the pending update's previous version (atomic rename of a new symlink). */
function rollBack(pending, failures) {
  try {
    if (!statSync(join(root, 'versions', pending.previousVersion)).isDirectory()) throw new Error('not a directory');
  } catch {
    log('error', 'cannot roll back: the previous version is gone', { version: pending.version, previousVersion: pending.previousVersion });
    return false;
  }
  const record = join(root, 'launcher-rollback.json');
  writeFileSync(`${record}.tmp`, `${JSON.stringify({ ...pending, failures, rolledBackAt: new Date().toISOString() })}\n`, { mode: 0o600 });
  renameSync(`${record}.tmp`, record);
  const tmp = join(root, `.current-launcher-${process.pid}`);
  rmSync(tmp, { force: true });
  symlinkSync(join('versions', pending.previousVersion), tmp);
  renameSync(tmp, join(root, 'current'));
  rmSync(join(root, 'pending.json'), { force: true });
  log('error', 'update rolled back by the launcher: the new version never started', { version: pending.version, previousVersion: pending.previousVersion, failures });
  return true;
}

function start() {
  const entry = join(root, 'current', values.entry);
  const startedAt = Date.now();
  log('info', 'starting agent', { current: currentVersion(), entry });
  child = spawn(process.execPath, [entry, '--install-root', root, ...agentArgs], { stdio: 'inherit' });
  child.once('error', (err) => log('error', 'agent could not be started', { err: err.message }));
  child.once('exit', (code, signal) => {
    child = null;
    const ranMs = Date.now() - startedAt;
    if (stopping) {
      log('info', 'agent stopped; launcher exiting', { exitCode: code, signal, reason: stopping });
      process.exit(code ?? 0);
    }
    if (code !== null && FINAL.has(code)) {
      log(code === 0 ? 'info' : 'error', 'agent exited; not restarting', { exitCode: code });
      process.exit(code);
    }
    if (code !== null && RESTART_NOW.has(code)) {
      failedPendingStarts = 0;
      log('info', code === 75 ? 'agent updated; restarting into the new version' : 'agent update rolled back; restarting the previous version', { exitCode: code, current: currentVersion() });
      delayMs = firstDelayMs;
      start();
      return;
    }
    if (ranMs >= STABLE_RUN_MS) delayMs = firstDelayMs;
    const pending = livePending();
    failedPendingStarts = pending ? failedPendingStarts + 1 : 0;
    if (pending && failedPendingStarts >= ROLLBACK_AFTER_FAILED_STARTS && rollBack(pending, failedPendingStarts)) {
      failedPendingStarts = 0;
      delayMs = firstDelayMs;
      start();
      return;
    }
    log('warn', 'agent exited; restarting after a delay', { exitCode: code, signal, delayMs });
    setTimeout(start, delayMs);
    delayMs = Math.min(maxDelayMs, Math.max(1, delayMs * 2));
  });
}

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    stopping ??= sig;
    if (child) child.kill(sig);
    else process.exit(0);
  });
}
process.on('SIGUSR2', () => child?.kill('SIGUSR2'));

start();
