// Figures that several test files contribute to (e.g. `faults`: one key per fault). Test files
// run in parallel processes, so the read-merge-write of `<dir>/<name>.json` happens under a lock
// file. A no-op unless VERIFY_FIGURES_DIR is set, like recordFigures.
import { closeSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { figuresDir, recordFigures, type Figures } from './figures.ts';
import { sleep } from './wait.ts';

/** Sets `<name>.json`'s `key` to `part`, keeping what other files recorded under other keys. */
export async function mergeFigures(name: string, key: string, part: Figures): Promise<void> {
  const dir = figuresDir();
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  const lock = `${file}.lock`;
  let fd: number | null = null;
  for (let i = 0; i < 400 && fd === null; i++) {
    try {
      fd = openSync(lock, 'wx');
    } catch {
      // A lock older than 30 s belongs to a writer that died.
      try {
        if (Date.now() - statSync(lock).mtimeMs > 30_000) unlinkSync(lock);
      } catch {
        // gone meanwhile
      }
      await sleep(50);
    }
  }
  if (fd === null) throw new Error(`could not take the lock of ${file}`);
  try {
    let current: Record<string, unknown> = {};
    try {
      current = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch {
      // the first contribution
    }
    const { name: _name, at: _at, ...rest } = current;
    recordFigures(name, { ...rest, [key]: part });
  } finally {
    closeSync(fd);
    unlinkSync(lock);
  }
}
