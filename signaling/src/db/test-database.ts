// Test-only helper. It reads process.env.TEST_DATABASE_URL directly: the
// "only config.ts reads the environment" rule is for the running server, and
// no production code imports this file.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { DbLogger } from './logger-port.ts';
import { openDatabase, type Database } from './open-database.ts';
import type { SqlDriverKind } from './sql-driver.ts';

export interface TestDatabaseOptions {
  /** Defaults to the repository's prisma/migrations. */
  migrationsDir?: string | URL;
  logger?: DbLogger;
}

export interface TestDatabase {
  readonly kind: SqlDriverKind;
  /** The open database; `reopen()` replaces it. */
  readonly db: Database;
  /** PostgreSQL only: URL of this test's own database. */
  readonly url: string | undefined;
  /** A fresh temp dir: PGlite's files live in `<dataDir>/pglite`; tests may use it as scratch space. */
  readonly dataDir: string;
  /** Closes and opens the same storage again, as a server restart would (migrations run again). */
  reopen(opts?: TestDatabaseOptions): Promise<Database>;
  /** Closes, then deletes the temp dir and drops the PostgreSQL database. */
  cleanup(): Promise<void>;
}

/** PGlite always; PostgreSQL too when TEST_DATABASE_URL is set. For `describe.each`. */
export function databaseKinds(): SqlDriverKind[] {
  return process.env.TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];
}

/**
 * A migrated database no other test can see: PGlite in a new temp dir, or a new
 * PostgreSQL database `gc_t_<random>` created through TEST_DATABASE_URL.
 */
export async function createTestDatabase(kind: SqlDriverKind, opts: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const dataDir = await mkdtemp(join(tmpdir(), 'gc-db-test-'));
  const admin = kind === 'postgres' ? adminUrl() : undefined;
  const dbName = `gc_t_${randomBytes(6).toString('hex')}`;
  const url = admin ? await createPostgresDatabase(admin, dbName) : undefined;

  const dropStorage = async () => {
    if (admin) await dropPostgresDatabase(admin, dbName);
    await rm(dataDir, { recursive: true, force: true });
  };
  const open = (o: TestDatabaseOptions) =>
    openDatabase({ databaseUrl: url, dataDir, migrationsDir: o.migrationsDir, logger: o.logger });

  let db: Database;
  try {
    db = await open(opts);
  } catch (err) {
    await dropStorage();
    throw err;
  }
  return {
    kind,
    url,
    dataDir,
    get db() {
      return db;
    },
    async reopen(reopenOpts = opts) {
      await db.close();
      db = await open(reopenOpts);
      return db;
    },
    async cleanup() {
      await db.close();
      await dropStorage();
    },
  };
}

/** Same as `t.reopen()`, for call sites that read better as a function. */
export function reopenTestDatabase(t: TestDatabase, opts?: TestDatabaseOptions): Promise<Database> {
  return t.reopen(opts);
}

function adminUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) throw new Error('TEST_DATABASE_URL is not set; PostgreSQL tests need it');
  return url;
}

async function withAdmin(admin: string, fn: (client: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  try {
    await fn(client);
  } finally {
    await client.end();
  }
}

async function createPostgresDatabase(admin: string, name: string): Promise<string> {
  await withAdmin(admin, (c) => c.query(`CREATE DATABASE "${name}"`));
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.toString();
}

async function dropPostgresDatabase(admin: string, name: string): Promise<void> {
  // FORCE (PostgreSQL 13+) ends sessions a failed test may have left open.
  await withAdmin(admin, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}
