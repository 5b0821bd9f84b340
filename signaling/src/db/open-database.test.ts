import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DbLogger } from './logger-port.ts';
import { openDatabase } from './open-database.ts';
import { createTestDatabase, databaseKinds, type TestDatabase, type TestDatabaseOptions } from './test-database.ts';

function recordingLogger(): DbLogger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, info() {}, warn: (_obj, msg) => void warnings.push(msg), error: (_obj, msg) => void warnings.push(msg) };
}

/** What a PostgreSQL restart does to every open connection: the server ends it (57P01). */
async function terminateConnections(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const res = await client.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
    );
    return res.rowCount ?? 0;
  } finally {
    await client.end();
  }
}

describe.each(databaseKinds())('openDatabase on %s', (kind) => {
  const opened: TestDatabase[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((t) => t.cleanup()));
  });
  async function open(opts: TestDatabaseOptions = {}): Promise<TestDatabase> {
    const t = await createTestDatabase(kind, opts);
    opened.push(t);
    return t;
  }

  it('opens the requested engine, migrated, with Prisma and the driver on it', async () => {
    const t = await open();
    expect(t.db.kind).toBe(kind);
    expect(t.db.driver.kind).toBe(kind);
    expect(await t.db.prisma.user.count()).toBe(0);
    const [history] = await t.db.driver.query<{ n: number }>(`SELECT count(*)::int AS n FROM _prisma_migrations`);
    expect(history?.n).toBeGreaterThan(0);
  });

  it('sees what Prisma wrote through the driver, inside and outside a transaction', async () => {
    const t = await open();
    await t.db.prisma.user.create({ data: { username: 'shared', displayName: 'S', passwordHash: 'h' } });
    const names = await t.db.driver.transaction((tx) => tx.query<{ username: string }>(`SELECT username FROM users`));
    expect(names).toEqual([{ username: 'shared' }]);
  });

  it('rolls a driver transaction back when its callback throws', async () => {
    const t = await open();
    const failed = t.db.driver.transaction(async (tx) => {
      await tx.query(`INSERT INTO machines (id, name) VALUES (gen_random_uuid(), 'ghost')`);
      throw new Error('boom');
    });
    await expect(failed).rejects.toThrow('boom');
    expect(await t.db.prisma.machine.count()).toBe(0);
  });

  it('pings true while open, false once closed, and closes idempotently', async () => {
    const t = await open();
    expect(await t.db.ping()).toBe(true);
    await Promise.all([t.db.close(), t.db.close()]);
    await t.db.close();
    expect(await t.db.ping()).toBe(false);
  });

  it.runIf(kind === 'pglite')('keeps PGlite files under <dataDir>/pglite', async () => {
    const t = await open();
    await expect(access(join(t.dataDir, 'pglite', 'PG_VERSION'))).resolves.toBeUndefined();
  });

  it.runIf(kind === 'postgres')('survives the server dropping idle connections and reconnects by itself', async () => {
    const logger = recordingLogger();
    const t = await open({ logger });
    // Several idle clients in the pool, some from Prisma, some from the driver.
    await Promise.all([1, 2, 3].map(() => t.db.driver.query(`SELECT pg_sleep(0.05)`)));
    await t.db.prisma.user.count();

    expect(await terminateConnections(t.url!)).toBeGreaterThan(0);

    await vi.waitFor(() => expect(logger.warnings).toContain('db idle connection lost; the pool reconnects on demand'));
    // Each dropped client reports its loss when its socket closes; under load a ping can still
    // draw one that has not yet (it fails, and the pool discards it). Back within moments by itself.
    await vi.waitFor(async () => expect(await t.db.ping()).toBe(true), { timeout: 5000, interval: 100 });
    expect(await t.db.prisma.user.count()).toBe(0);
  });

  it.runIf(kind === 'postgres')('fails a transaction whose connection dies, without crashing, then recovers', async () => {
    const logger = recordingLogger();
    const t = await open({ logger });
    const failed = t.db.driver.transaction(async (tx) => {
      await tx.query(`SELECT 1`);
      await terminateConnections(t.url!);
      await vi.waitFor(() => expect(logger.warnings).toContain('db connection lost during a transaction'));
      await tx.query(`SELECT 1`);
    });
    await expect(failed).rejects.toThrow();
    expect(await t.db.ping()).toBe(true);
  });
});

describe('openDatabase engine choice', () => {
  it('falls back to embedded PGlite, with a warning, for a URL that is not postgres://', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'gc-db-open-'));
    const logger = recordingLogger();
    try {
      const db = await openDatabase({ databaseUrl: 'file:./dev.db', dataDir, logger });
      expect(db.kind).toBe('pglite');
      expect(logger.warnings).toHaveLength(1);
      await db.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
