import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { DbLogger } from './logger-port.ts';
import { DEFAULT_MIGRATIONS_DIR, migrate, migrationChecksum, scriptMatchesChecksum } from './migrator.ts';
import { createPgDriver } from './pg-driver.ts';
import type { SqlDriver } from './sql-driver.ts';
import { createTestDatabase, databaseKinds, type TestDatabase, type TestDatabaseOptions } from './test-database.ts';

const MIGRATIONS_PATH = fileURLToPath(DEFAULT_MIGRATIONS_DIR);
const INIT = '20261125190000_init';

async function migrationNames(dir = MIGRATIONS_PATH): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
}

interface HistoryRow {
  id: string;
  migration_name: string;
  checksum: string;
  finished: boolean;
  rolled_back: boolean;
  applied_steps_count: number;
}

function history(driver: SqlDriver): Promise<HistoryRow[]> {
  return driver.query<HistoryRow>(
    `SELECT id, migration_name, checksum, finished_at IS NOT NULL AS finished,
            rolled_back_at IS NOT NULL AS rolled_back, applied_steps_count
       FROM _prisma_migrations ORDER BY migration_name`,
  );
}

async function tableExists(driver: SqlDriver, table: string): Promise<boolean> {
  const [row] = await driver.query<{ present: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS present`, [table]);
  return row?.present === true;
}

function recordingLogger(): DbLogger & { messages: string[] } {
  const messages: string[] = [];
  const record = (_obj: object, msg: string) => void messages.push(msg);
  return { messages, info: record, warn: record, error: record };
}

describe('migration checksums (Prisma compatibility)', () => {
  it('is the SHA-256 hex of the script, as schema-engine renders it', () => {
    // Vector from prisma-engines schema-connector/src/checksum.rs tests.
    expect(migrationChecksum('hello')).toBe('2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
  });

  it('matches a script whose line endings changed between LF and CRLF', () => {
    const lf = 'ab\ncd\nef\ngh\rab\n';
    const crlf = 'ab\r\ncd\r\nef\r\ngh\rab\r\n';
    expect(scriptMatchesChecksum(lf, migrationChecksum(crlf))).toBe(true);
    expect(scriptMatchesChecksum(crlf, migrationChecksum(lf))).toBe(true);
  });

  it('accepts the unpadded hex old Prisma versions wrote, and nothing else', () => {
    const digest = createHash('sha256').update('abcd').digest();
    const unpadded = Array.from(digest, (b) => b.toString(16)).join('');
    expect(unpadded.length).toBeLessThan(64);
    expect(scriptMatchesChecksum('abcd', unpadded)).toBe(true);
    expect(scriptMatchesChecksum('abc', migrationChecksum('abcd'))).toBe(false);
    expect(scriptMatchesChecksum('abc\n', migrationChecksum('abc'))).toBe(false);
  });
});

describe.each(databaseKinds())('migrate on %s', (kind) => {
  const opened: TestDatabase[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((t) => t.cleanup()));
  });

  const scratch: string[] = [];
  afterEach(async () => {
    await Promise.all(scratch.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });

  async function open(opts: TestDatabaseOptions = {}): Promise<TestDatabase> {
    const t = await createTestDatabase(kind, opts);
    opened.push(t);
    return t;
  }

  async function scratchDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'gc-migrations-'));
    scratch.push(dir);
    return dir;
  }

  /** A database that has seen no migration yet (opened with an empty migrations folder). */
  async function openEmpty(): Promise<TestDatabase> {
    return open({ migrationsDir: await scratchDir() });
  }

  /** A private copy of prisma/migrations that the test may edit. */
  async function copyMigrations(): Promise<string> {
    const dir = join(await scratchDir(), 'migrations');
    await cp(MIGRATIONS_PATH, dir, { recursive: true });
    return dir;
  }

  /** A database migrated from a private copy of prisma/migrations. */
  async function openWithCopy(): Promise<{ t: TestDatabase; dir: string }> {
    const dir = await copyMigrations();
    return { t: await open({ migrationsDir: dir }), dir };
  }

  it('applies every migration to a fresh database and records Prisma checksums', async () => {
    const fresh = await openEmpty();
    expect(await tableExists(fresh.db.driver, 'users')).toBe(false);

    const { applied } = await migrate(fresh.db.driver);

    const names = await migrationNames();
    expect(names).toContain(INIT);
    expect(applied).toEqual(names);
    const rows = await history(fresh.db.driver);
    expect(rows.map((r) => r.migration_name)).toEqual(names);
    for (const row of rows) {
      const bytes = await readFile(join(MIGRATIONS_PATH, row.migration_name, 'migration.sql'));
      expect(row.checksum).toBe(createHash('sha256').update(bytes).digest('hex'));
      expect(row).toMatchObject({ finished: true, rolled_back: false, applied_steps_count: 1 });
      expect(row.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
    expect(await tableExists(fresh.db.driver, 'users')).toBe(true);
  });

  it('applies nothing the second time', async () => {
    const t = await open();
    const before = await history(t.db.driver);
    expect(await migrate(t.db.driver)).toEqual({ applied: [] });
    expect(await history(t.db.driver)).toEqual(before);
  });

  it('applies nothing after a restart and keeps the data', async () => {
    const t = await open();
    await t.db.prisma.user.create({ data: { username: 'restart', displayName: 'R', passwordHash: 'x' } });
    const before = await history(t.db.driver);

    const logger = recordingLogger();
    await t.reopen({ logger });

    expect(logger.messages).not.toContain('db migration applied');
    expect(await history(t.db.driver)).toEqual(before);
    expect(await t.db.prisma.user.findUnique({ where: { username: 'restart' } })).toMatchObject({ displayName: 'R' });
  });

  it('refuses an applied migration whose file was changed', async () => {
    const { t, dir } = await openWithCopy();
    const file = join(dir, INIT, 'migration.sql');
    await writeFile(file, `${await readFile(file, 'utf8')}\nCREATE TABLE "sneaky" ("id" INT);\n`);

    await expect(migrate(t.db.driver, { migrationsDir: dir })).rejects.toMatchObject({
      name: 'MigrationError',
      code: 'ERR_DB_MIGRATION_CHECKSUM',
      migration: INIT,
    });
    expect(await tableExists(t.db.driver, 'sneaky')).toBe(false);
  });

  it('accepts an applied migration whose only change is CRLF line endings (as Prisma does)', async () => {
    const { t, dir } = await openWithCopy();
    const file = join(dir, INIT, 'migration.sql');
    await writeFile(file, (await readFile(file, 'utf8')).replaceAll('\n', '\r\n'));

    expect(await migrate(t.db.driver, { migrationsDir: dir })).toEqual({ applied: [] });
  });

  it('refuses when an applied migration is missing from disk', async () => {
    const { t, dir } = await openWithCopy();
    await rm(join(dir, INIT), { recursive: true });

    await expect(migrate(t.db.driver, { migrationsDir: dir })).rejects.toMatchObject({
      code: 'ERR_DB_MIGRATION_MISSING',
      migration: INIT,
    });
  });

  it('refuses to go on after a migration recorded as started but never finished', async () => {
    const { t, dir } = await openWithCopy();
    await t.db.driver.query(
      `INSERT INTO _prisma_migrations (id, checksum, migration_name) VALUES ($1, $2, $3)`,
      ['00000000-0000-4000-8000-000000000000', migrationChecksum(''), '20990101000000_half_applied'],
    );
    await mkdir(join(dir, '20990101000000_half_applied'));
    await writeFile(join(dir, '20990101000000_half_applied', 'migration.sql'), '');

    await expect(migrate(t.db.driver, { migrationsDir: dir })).rejects.toMatchObject({
      code: 'ERR_DB_MIGRATION_FAILED',
      migration: '20990101000000_half_applied',
    });
  });

  it('rolls a failing migration back completely and names it', async () => {
    const { t, dir } = await openWithCopy();
    const broken = '20990101000000_broken';
    await mkdir(join(dir, broken));
    await writeFile(
      join(dir, broken, 'migration.sql'),
      'CREATE TABLE "half_done" ("id" INT);\nALTER TABLE "users" ADD COLUMN "extra" TEXT;\nSELECT * FROM "no_such_table";\n',
    );
    const before = await history(t.db.driver);

    const err = await migrate(t.db.driver, { migrationsDir: dir }).catch((e: unknown) => e);

    expect(err).toMatchObject({ code: 'ERR_DB_MIGRATION_FAILED', migration: broken });
    expect(await tableExists(t.db.driver, 'half_done')).toBe(false);
    const extra = await t.db.driver.query(
      `SELECT 1 FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'extra'`,
    );
    expect(extra).toEqual([]);
    expect(await history(t.db.driver)).toEqual(before);

    // Once fixed, the same migration applies normally.
    await writeFile(join(dir, broken, 'migration.sql'), 'CREATE TABLE "half_done" ("id" INT);\n');
    expect(await migrate(t.db.driver, { migrationsDir: dir })).toEqual({ applied: [broken] });
  });

  it('refuses a migrations folder that does not exist', async () => {
    const t = await open();
    await expect(migrate(t.db.driver, { migrationsDir: join(t.dataDir, 'nope') })).rejects.toMatchObject({
      code: 'ERR_DB_MIGRATION_MISSING',
    });
  });

  it.runIf(kind === 'postgres')('applies each migration once when two servers start together', async () => {
    const t = await openEmpty();
    const dir = await copyMigrations();
    // A slow second migration keeps the race window wide open.
    await mkdir(join(dir, '20990101000000_slow'));
    await writeFile(join(dir, '20990101000000_slow', 'migration.sql'), 'SELECT pg_sleep(0.3);\nCREATE TABLE "slow" ("id" INT);\n');
    const pools = [new pg.Pool({ connectionString: t.url }), new pg.Pool({ connectionString: t.url })];
    try {
      const results = await Promise.all(pools.map((pool) => migrate(createPgDriver(pool), { migrationsDir: dir })));

      const names = await migrationNames(dir);
      expect(results.flatMap((r) => r.applied).sort()).toEqual(names);
      expect((await history(t.db.driver)).map((r) => r.migration_name)).toEqual(names);
    } finally {
      await Promise.all(pools.map((pool) => pool.end()));
    }
  });
});
