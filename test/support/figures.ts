// Figures for `npm run verify`: when VERIFY_FIGURES_DIR is set, a suite records what it measured
// (counts, latencies, RSS samples) as `<dir>/<name>.json`; the verify runner reads them back and
// writes docs/reliability.md. Without the variable (plain `npm test`) nothing is written.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type Figures = Record<string, unknown>;

/** The directory verify asked for, or undefined in a normal test run. */
export function figuresDir(): string | undefined {
  const dir = process.env.VERIFY_FIGURES_DIR;
  return dir && dir.length > 0 ? dir : undefined;
}

/** True when running under `npm run verify` (full-size versions of the suites). */
export function fullRun(): boolean {
  return process.env.VERIFY_FULL === '1';
}

/** Record (replace) the figures of one suite. `name`: [a-z0-9-]+. */
export function recordFigures(name: string, figures: Figures): void {
  const dir = figuresDir();
  if (!dir) return;
  if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`figures name must be [a-z0-9-]+: ${name}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.json`), `${JSON.stringify({ name, at: new Date().toISOString(), ...figures }, null, 2)}\n`);
}
