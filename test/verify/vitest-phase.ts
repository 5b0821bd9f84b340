// One phase of `npm run verify`: a vitest run with a readable reporter on the terminal and the JSON
// reporter into the figures directory, from which the report takes rows passed and durations.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VITEST = join(REPO_ROOT, 'node_modules/vitest/vitest.mjs');

export interface TestResult {
  file: string;
  name: string;
  status: string;
  durationMs: number;
}

export interface PhaseResult {
  phase: string;
  /** vitest's exit code (null when it was killed). */
  exitCode: number | null;
  wallMs: number;
  tests: TestResult[];
  passed: number;
  failed: number;
  /** Why the phase failed beyond failed tests (no JSON report, crash), if it did. */
  problem?: string;
}

export interface PhaseSpec {
  phase: string;
  /** Paths (files or folders) relative to the repository root. */
  paths: string[];
  env: Record<string, string>;
  jsonFile: string;
  testTimeoutMs?: number;
  maxWorkers?: number;
  config?: string;
}

interface VitestJson {
  testResults?: Array<{ name: string; status?: string; assertionResults?: Array<{ fullName?: string; title: string; status: string; duration?: number | null }> }>;
}

/** Test files that failed as a whole (a hook or an import threw), from vitest's JSON report. */
export function failedFiles(path: string): string[] {
  if (!existsSync(path)) return [];
  const json = JSON.parse(readFileSync(path, 'utf8')) as VitestJson;
  return (json.testResults ?? []).filter((f) => f.status === 'failed' && !(f.assertionResults ?? []).some((t) => t.status === 'failed')).map((f) => f.name.replace(REPO_ROOT, ''));
}

/** Parses vitest's JSON report; tolerant of a missing or partial file. */
export function readVitestJson(path: string): TestResult[] | undefined {
  if (!existsSync(path)) return undefined;
  const json = JSON.parse(readFileSync(path, 'utf8')) as VitestJson;
  return (json.testResults ?? []).flatMap((f) =>
    (f.assertionResults ?? []).map((t) => ({ file: f.name.replace(REPO_ROOT, ''), name: t.fullName ?? t.title, status: t.status, durationMs: t.duration ?? 0 })),
  );
}

export function runPhase(spec: PhaseSpec): Promise<PhaseResult> {
  const args = [VITEST, 'run', ...spec.paths, '--reporter=default', '--reporter=json', `--outputFile.json=${spec.jsonFile}`];
  if (spec.config) args.push('--config', spec.config);
  if (spec.testTimeoutMs) args.push('--testTimeout', String(spec.testTimeoutMs));
  if (spec.maxWorkers) args.push(`--maxWorkers=${spec.maxWorkers}`);
  const started = Date.now();
  console.log(`\nverify: ${spec.phase}: vitest run ${spec.paths.join(' ')}`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: 'inherit', env: { ...process.env, ...spec.env } });
    child.once('exit', (code) => {
      const tests = readVitestJson(spec.jsonFile);
      const passed = tests?.filter((t) => t.status === 'passed').length ?? 0;
      const failed = tests?.filter((t) => t.status === 'failed').length ?? 0;
      const broken = failedFiles(spec.jsonFile);
      const problem = !tests
        ? 'no JSON report (vitest crashed or was killed)'
        : broken.length
          ? `failed outside its tests (hook or import): ${broken.join(', ')}`
          : code !== 0 && failed === 0
            ? `vitest exited with ${code} without a failed test (an error outside the tests)`
            : undefined;
      resolve({ phase: spec.phase, exitCode: code, wallMs: Date.now() - started, tests: tests ?? [], passed, failed, problem });
    });
  });
}
