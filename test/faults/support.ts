// Test-only helpers for the fault-injection suite: a PostgreSQL database of its own per test
// file, a private PostgreSQL instance that a test may crash and restart, the audit log read in
// full, and the suite's figures (several files contribute to one `faults` record).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { api } from '../support/api.ts';
import type { Figures } from '../support/figures.ts';
import { mergeFigures } from '../support/merge-figures.ts';
import { freePort } from '../support/server-process.ts';

const run = promisify(execFile);

/** The shared PostgreSQL the suite creates its databases in (CI sets TEST_DATABASE_URL). */
export const ADMIN_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';

export interface TestPgDatabase {
  url: string;
  drop(): Promise<void>;
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => {});
  }
}

/** A new, empty database `gc_f_<random>` on `adminUrl`; the server migrates it on start. */
export async function createPgDatabase(adminUrl = ADMIN_DATABASE_URL): Promise<TestPgDatabase> {
  const name = `gc_f_${randomBytes(6).toString('hex')}`;
  await withClient(adminUrl, (c) => c.query(`CREATE DATABASE "${name}"`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => withClient(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined),
  };
}

/** The newest Debian PostgreSQL binaries (`/usr/lib/postgresql/<major>/bin`). */
function pgBinDir(): string {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root) ? readdirSync(root).filter((d) => existsSync(join(root, d, 'bin', 'pg_ctl'))) : [];
  majors.sort((a, b) => Number(b) - Number(a));
  if (!majors[0]) throw new Error('no PostgreSQL binaries under /usr/lib/postgresql');
  return join(root, majors[0], 'bin');
}

export interface PrivatePostgres {
  /** Superuser URL of the instance's `postgres` database. */
  readonly url: string;
  readonly port: number;
  /** `pg_ctl stop -m immediate`: every backend dies at once, like a crash. */
  crash(): Promise<void>;
  start(): Promise<void>;
  /** Stops the instance and removes its files. Idempotent. */
  destroy(): Promise<void>;
}

/**
 * A PostgreSQL instance of this test alone, in a temp dir on a free port, so a test can crash and
 * restart it without touching the machine's shared server. initdb refuses root, so the binaries
 * run as the `postgres` user when the test runs as root.
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = pgBinDir();
  const dir = mkdtempSync(join(tmpdir(), 'guru-pg-'));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const pgRun = (tool: string, args: string[]) => (asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]) : run(join(bin, tool), args));
  const data = join(dir, 'data');
  const port = await freePort();
  await pgRun('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=50`;
  const start = async () => {
    await pgRun('pg_ctl', ['-D', data, '-o', opts, '-l', join(dir, 'postgres.log'), '-w', '-t', '60', 'start']);
  };
  const running = () => existsSync(join(data, 'postmaster.pid'));
  let destroyed = false;
  await start();
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    port,
    async crash() {
      await pgRun('pg_ctl', ['-D', data, '-m', 'immediate', '-w', '-t', '60', 'stop']);
    },
    start,
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      if (running()) await pgRun('pg_ctl', ['-D', data, '-m', 'immediate', '-w', '-t', '60', 'stop']).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface AuditEvent {
  id: string;
  type: string;
  sessionId: string | null;
  actor: string | null;
  details: Record<string, unknown>;
  createdAt: string;
}

/** Every audit event (all pages, newest first), through `GET /api/audit`. */
export async function allAuditEvents(base: string, token: string, filter: Record<string, string> = {}): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 200; page++) {
    const q = new URLSearchParams({ ...filter, limit: '500', ...(cursor ? { cursor } : {}) });
    const r = await api(base, 'GET', `/api/audit?${q}`, { token });
    if (r.status !== 200) throw new Error(`GET /api/audit: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
    out.push(...(r.body.events as AuditEvent[]));
    cursor = r.body.nextCursor as string | null;
    if (!cursor) return out;
  }
  throw new Error('audit log longer than 200 pages');
}

/** Adds `part` under `key` to the `faults` figures (several files contribute). */
export function recordFaultFigures(key: string, part: Figures): Promise<void> {
  return mergeFigures('faults', key, part);
}
