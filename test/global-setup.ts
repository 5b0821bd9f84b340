import { mkdirSync, rmSync } from 'node:fs';

const LOGS = new URL('../test-artifacts/logs/', import.meta.url).pathname;

/** Every run starts with an empty log folder, so the log scan sees only this run's logs. */
export default function setup(): void {
  rmSync(LOGS, { recursive: true, force: true });
  mkdirSync(LOGS, { recursive: true });
}
