// `npm run verify [-- --budget small|full] [--skip-audit]`: runs the full versions of the security,
// fuzz, model-based, fault and load suites, then the log scan and npm audit, and writes
// docs/reliability.md from what the run itself measured. Exits non-zero if anything failed.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BUDGETS, plannedFuzzInputs, type BudgetName } from './budgets.ts';
import { fuzzTargets, readFigures } from './collect.ts';
import { runNpmAudit, type AuditResult } from './npm-audit.ts';
import { renderReport } from './report.ts';
import { REPO_ROOT, runPhase, type PhaseResult } from './vitest-phase.ts';

const USAGE = 'usage: npm run verify -- [--budget small|full] [--skip-audit] [--out docs/reliability.md]';
const { values: opts } = parseArgs({
  options: { budget: { type: 'string', default: 'full' }, 'skip-audit': { type: 'boolean', default: false }, out: { type: 'string', default: 'docs/reliability.md' }, help: { type: 'boolean', short: 'h' } },
});
if (opts.help) {
  console.log(USAGE);
  process.exit(0);
}
if (opts.budget !== 'small' && opts.budget !== 'full') {
  console.error(`verify: --budget must be small or full\n${USAGE}`);
  process.exit(2);
}
const budgetName = opts.budget as BudgetName;
const budget = BUDGETS[budgetName];
const started = Date.now();
const figuresDir = mkdtempSync(join(os.tmpdir(), 'guru-verify-'));
const logs = join(REPO_ROOT, 'test-artifacts', 'logs');
// One empty log folder for the whole run; the phases keep adding to it (VERIFY_KEEP_LOGS) so the
// final log scan sees every log of every phase.
rmSync(logs, { recursive: true, force: true });
mkdirSync(logs, { recursive: true });

const baseEnv: Record<string, string> = {
  VERIFY_FIGURES_DIR: figuresDir,
  VERIFY_KEEP_LOGS: '1',
  FUZZ_BUDGET: JSON.stringify(budget.fuzz),
  ...(budget.full ? { VERIFY_FULL: '1' } : {}),
};
const LONG_MS = 45 * 60_000;
const phases: PhaseResult[] = [];
const json = (name: string) => join(figuresDir, `vitest-${name}.json`);
const existing = (...paths: string[]) => paths.filter((p) => existsSync(join(REPO_ROOT, p)));

phases.push(await runPhase({ phase: 'security', paths: ['test/security'], env: baseEnv, jsonFile: json('security') }));
phases.push(
  await runPhase({
    phase: 'fuzz',
    paths: ['test/fuzz/codec.test.ts', 'test/fuzz/http-bodies.test.ts', 'test/fuzz/socket-events.test.ts', 'test/fuzz/raw-packets.test.ts'],
    env: baseEnv,
    jsonFile: json('fuzz'),
    testTimeoutMs: LONG_MS,
    maxWorkers: 2,
  }),
);
// The lifecycle model is the slowest per input: shards run at once, each with its own seed and figures.
phases.push(
  ...(await Promise.all(
    Array.from({ length: budget.modelShards }, (_, i) =>
      runPhase({ phase: `model-${i + 1}`, paths: ['test/fuzz/session-model.test.ts'], env: { ...baseEnv, VERIFY_FIGURES_DIR: join(figuresDir, `model-${i + 1}`) }, jsonFile: json(`model-${i + 1}`), testTimeoutMs: LONG_MS }),
    ),
  )),
);
for (const suite of ['faults', 'load']) {
  const paths = existing(`test/${suite}`);
  if (paths.length) phases.push(await runPhase({ phase: suite, paths, env: baseEnv, jsonFile: json(suite), testTimeoutMs: LONG_MS, maxWorkers: 1 }));
  else phases.push({ phase: suite, exitCode: 1, wallMs: 0, tests: [], passed: 0, failed: 0, problem: `test/${suite} does not exist` });
}
phases.push(await runPhase({ phase: 'log-scan', paths: [], config: 'test/log-scan.config.ts', env: baseEnv, jsonFile: json('log-scan') }));

let audit: AuditResult | undefined;
if (!opts['skip-audit']) {
  console.log('\nverify: npm audit --omit=dev');
  audit = runNpmAudit();
}

// ---- verdict and report ---------------------------------------------------------------------------

const figures = readFigures(figuresDir);
const failures: string[] = [];
for (const p of phases) if (p.failed > 0 || p.problem || p.exitCode !== 0) failures.push(`${p.phase}: ${p.failed} failed${p.problem ? `, ${p.problem}` : ''}`);
const targets = fuzzTargets(figures);
const fuzzInputs = targets.filter((t) => !t.target.startsWith('session-')).reduce((n, t) => n + t.inputs, 0);
const planned = plannedFuzzInputs(budget);
if (fuzzInputs < planned) failures.push(`fuzz ran ${fuzzInputs} inputs of ${planned} planned`);
const sequences = targets.find((t) => t.target === 'session-model')?.properties.filter((p) => p.property.includes('session lifecycle model')).reduce((n, p) => n + p.runs, 0) ?? 0;
if (budget.full && sequences < 10_000) failures.push(`model ran ${sequences} sequences (the full run needs ≥ 10,000)`);
if (budget.full && fuzzInputs < 1_000_000) failures.push(`fuzz ran ${fuzzInputs} inputs (the full run needs ≥ 1,000,000)`);
if (audit && !audit.ran) failures.push(`npm audit could not run (${audit.error}); use --skip-audit to say so explicitly`);
if (audit && audit.unexplained > 0) failures.push(`npm audit: ${audit.unexplained} unexplained high/critical advisories`);

const git = (...args: string[]) => {
  try {
    return execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
};
const cpus = os.cpus();
const report = renderReport(
  {
    date: new Date().toISOString(),
    commit: `${git('rev-parse', '--short', 'HEAD') || 'unknown'}${git('status', '--porcelain', '--untracked-files=no') ? ' + uncommitted changes' : ''}`,
    machine: `${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.type()} ${os.release()}, Node ${process.version}, load average at start ${os.loadavg()[0]!.toFixed(2)}`,
    command: `npm run verify -- --budget ${budgetName}${opts['skip-audit'] ? ' --skip-audit' : ''}`,
    budget: budgetName,
    wallMs: Date.now() - started,
    plannedFuzzInputs: planned,
    failures,
  },
  phases,
  figures,
  audit ?? { ran: false, error: 'skipped with --skip-audit', counts: {}, serious: [], unexplained: 0 },
);
writeFileSync(join(REPO_ROOT, opts.out), report);
console.log(`\nverify: wrote ${opts.out} (figures in ${figuresDir}); ${failures.length ? `FAILED:\n  ${failures.join('\n  ')}` : 'passed'}`);
process.exit(failures.length ? 1 : 0);
