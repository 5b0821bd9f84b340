// Applies prisma/migrations/*/migration.sql at server start, keeping the same
// `_prisma_migrations` history table Prisma Migrate keeps, so `prisma migrate
// status|deploy|resolve` keep working against a database the server migrated.
//
// Differences from `prisma migrate deploy`, on purpose:
// - each migration runs in ONE transaction with its history row: a failure leaves
//   neither a half-built schema nor a failed row behind. So a migration.sql must
//   not contain BEGIN/COMMIT, nor statements PostgreSQL refuses inside a
//   transaction (CREATE INDEX CONCURRENTLY, VACUUM, ...);
// - an applied migration whose file changed, or that is gone from disk, is refused
//   instead of ignored.
import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentDbLogger, type DbLogger } from './logger-port.ts';
import { MigrationError } from './migration-error.ts';
import type { SqlDriver } from './sql-driver.ts';

/** prisma/migrations at the repository root. */
export const DEFAULT_MIGRATIONS_DIR = new URL('../../../prisma/migrations', import.meta.url);

/**
 * Prisma Migrate's own advisory-lock key (schema-engine, postgres flavour:
 * `SELECT pg_advisory_lock(72707369)`), so servers starting together and a
 * concurrent `prisma migrate deploy` all exclude each other.
 */
const MIGRATION_LOCK_KEY = 72707369;

// Prisma's DDL (schema-engine postgres flavour, create_migrations_table).
const CREATE_MIGRATIONS_TABLE = `CREATE TABLE _prisma_migrations (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
)`;

export interface MigrateOptions {
  /** Folder of `<name>/migration.sql`; defaults to the repository's prisma/migrations. */
  migrationsDir?: string | URL;
  logger?: DbLogger;
}

export interface MigrateResult {
  /** Names of the migrations this call applied, in order; empty when up to date. */
  applied: string[];
}

interface MigrationFile {
  name: string;
  script: string;
  checksum: string;
}

interface HistoryRow {
  migration_name: string;
  checksum: string;
  finished: boolean;
  rolled_back: boolean;
}

/** What Prisma stores in `_prisma_migrations.checksum`: SHA-256 of the script, lowercase hex. */
export function migrationChecksum(script: string | Uint8Array): string {
  return createHash('sha256').update(script).digest('hex');
}

/**
 * Prisma's comparison (schema-engine `checksum.rs`, `script_matches_checksum`):
 * the file may have gained or lost CRLF line endings (git on Windows), and rows
 * written by old Prisma versions hold hex without zero-padding.
 */
export function scriptMatchesChecksum(script: string, checksum: string): boolean {
  const variants = [script, script.replaceAll('\r\n', '\n'), script.replaceAll('\n', '\r\n')];
  return variants.some((variant) => {
    const digest = createHash('sha256').update(variant).digest();
    const rendered =
      checksum.length !== 0 && checksum.length !== 64
        ? Array.from(digest, (byte) => byte.toString(16)).join('')
        : digest.toString('hex');
    return rendered === checksum;
  });
}

/**
 * Brings the database up to the migrations on disk. Each pending migration is
 * applied in its own transaction under Prisma's advisory lock; the history is
 * re-checked under the lock each time, so concurrent callers apply each
 * migration once. Throws MigrationError (and applies nothing more) when the
 * history and the files disagree.
 */
export async function migrate(driver: SqlDriver, opts: MigrateOptions = {}): Promise<MigrateResult> {
  const logger = opts.logger ?? silentDbLogger;
  const migrations = await readMigrations(opts.migrationsDir ?? DEFAULT_MIGRATIONS_DIR);
  const applied: string[] = [];
  for (;;) {
    const name = await driver.transaction((tx) => applyNext(tx, migrations));
    if (name === null) break;
    applied.push(name);
    logger.info({ migration: name }, 'db migration applied');
  }
  logger.info({ applied: applied.length, known: migrations.length }, 'db schema up to date');
  return { applied };
}

async function readMigrations(dir: string | URL): Promise<MigrationFile[]> {
  const path = typeof dir === 'string' ? dir : fileURLToPath(dir);
  let names: string[];
  try {
    const entries = await readdir(path, { withFileTypes: true });
    names = entries.filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (cause) {
    throw new MigrationError('ERR_DB_MIGRATION_MISSING', `migrations folder ${path} is not readable`, { cause });
  }
  // Prisma orders migrations by folder name; the timestamp prefix makes that chronological.
  names.sort();
  return Promise.all(
    names.map(async (name) => {
      let bytes: Buffer;
      try {
        bytes = await readFile(join(path, name, 'migration.sql'));
      } catch (cause) {
        throw new MigrationError('ERR_DB_MIGRATION_MISSING', `migration ${name} has no readable migration.sql`, {
          migration: name,
          cause,
        });
      }
      return { name, script: bytes.toString('utf8'), checksum: migrationChecksum(bytes) };
    }),
  );
}

/** One transaction: lock, check the history, apply the first pending migration. */
async function applyNext(tx: SqlDriver, migrations: MigrationFile[]): Promise<string | null> {
  // Must see rows committed by whoever held the lock before us: never a snapshot older than the lock.
  await tx.exec('SET TRANSACTION ISOLATION LEVEL READ COMMITTED');
  await tx.exec(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
  const [table] = await tx.query<{ present: boolean }>(
    `SELECT to_regclass('_prisma_migrations') IS NOT NULL AS present`,
  );
  if (!table?.present) await tx.exec(CREATE_MIGRATIONS_TABLE);

  const rows = await tx.query<HistoryRow>(
    `SELECT migration_name, checksum, finished_at IS NOT NULL AS finished, rolled_back_at IS NOT NULL AS rolled_back
       FROM _prisma_migrations ORDER BY started_at, migration_name`,
  );
  const done = checkHistory(rows, migrations);
  const next = migrations.find((m) => !done.has(m.name));
  if (!next) return null;

  const id = randomUUID();
  await tx.query(
    `INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, applied_steps_count)
     VALUES ($1, $2, $3, clock_timestamp(), 0)`,
    [id, next.checksum, next.name],
  );
  try {
    await tx.exec(next.script);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new MigrationError('ERR_DB_MIGRATION_FAILED', `migration ${next.name} failed and was rolled back: ${reason}`, {
      migration: next.name,
      cause,
    });
  }
  await tx.query(
    `UPDATE _prisma_migrations SET finished_at = clock_timestamp(), applied_steps_count = 1 WHERE id = $1`,
    [id],
  );
  return next.name;
}

/** Names of the applied migrations; throws when the history cannot be trusted. */
function checkHistory(rows: HistoryRow[], migrations: MigrationFile[]): Set<string> {
  const onDisk = new Map(migrations.map((m) => [m.name, m]));
  const done = new Set<string>();
  for (const row of rows) {
    const name = row.migration_name;
    // Marked rolled back (`prisma migrate resolve --rolled-back`): Prisma applies it again.
    if (row.rolled_back) continue;
    if (!row.finished) {
      throw new MigrationError(
        'ERR_DB_MIGRATION_FAILED',
        `migration ${name} started but never finished; repair the database, then run \`prisma migrate resolve\``,
        { migration: name },
      );
    }
    const file = onDisk.get(name);
    if (!file) {
      throw new MigrationError('ERR_DB_MIGRATION_MISSING', `applied migration ${name} is missing from the migrations folder`, {
        migration: name,
      });
    }
    if (row.checksum !== file.checksum && !scriptMatchesChecksum(file.script, row.checksum)) {
      throw new MigrationError(
        'ERR_DB_MIGRATION_CHECKSUM',
        `migration ${name} was changed after it was applied; add a new migration instead`,
        { migration: name },
      );
    }
    done.add(name);
  }
  return done;
}
