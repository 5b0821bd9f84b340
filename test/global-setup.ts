import { mkdirSync, rmSync } from 'node:fs';

const LOGS = new URL('../test-artifacts/logs/', import.meta.url).pathname;

/**
 * Every run starts with an empty log folder, so the log scan sees only this run's logs. `npm run
 * verify` empties it once and runs several phases into it (VERIFY_KEEP_LOGS=1).
 */
export default function setup(): void {
  if (process.env.VERIFY_KEEP_LOGS === '1') return;
  rmSync(LOGS, { recursive: true, force: true });
  mkdirSync(LOGS, { recursive: true });
}
