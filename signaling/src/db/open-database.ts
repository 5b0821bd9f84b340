import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaClient } from './generated/client.ts';
import { silentDbLogger, type DbLogger } from './logger-port.ts';
import { migrate } from './migrator.ts';
import { createPgDriver } from './pg-driver.ts';
import { createPgliteDriver } from './pglite-driver.ts';
import type { SqlDriver, SqlDriverKind } from './sql-driver.ts';

/** A health check that takes longer than this counts as a failure. */
export const PING_TIMEOUT_MS = 2_000;
/** How long a query waits for a pooled connection before failing (server down). */
const PG_CONNECT_TIMEOUT_MS = 5_000;

export interface OpenDatabaseOptions {
  /** A postgres:// or postgresql:// URL selects PostgreSQL; without one the server embeds PGlite. */
  databaseUrl?: string;
  /** PGlite keeps its files in `<dataDir>/pglite` (created if missing). */
  dataDir: string;
  /** Defaults to the repository's prisma/migrations. */
  migrationsDir?: string | URL;
  logger?: DbLogger;
}

export interface Database {
  readonly kind: SqlDriverKind;
  /** Prisma on the same connection(s) as `driver`. */
  readonly prisma: PrismaClient;
  /** Raw SQL for what Prisma cannot do (locks, health checks, migrations). */
  readonly driver: SqlDriver;
  /** `SELECT 1` within PING_TIMEOUT_MS; false on any error or timeout, never throws. */
  ping(): Promise<boolean>;
  /** Disconnects Prisma, then the pool or PGlite. Idempotent. */
  close(): Promise<void>;
}

export function isPostgresUrl(url: string | undefined): url is string {
  return url !== undefined && /^postgres(?:ql)?:\/\//i.test(url);
}

/** Opens PostgreSQL or PGlite, applies pending migrations, then hands out Prisma and the raw driver. */
export async function openDatabase(opts: OpenDatabaseOptions): Promise<Database> {
  const logger = opts.logger ?? silentDbLogger;
  if (opts.databaseUrl && !isPostgresUrl(opts.databaseUrl)) {
    logger.warn({}, 'database URL is not postgres:// or postgresql://; using embedded PGlite');
  }
  const engine = isPostgresUrl(opts.databaseUrl)
    ? openPostgres(opts.databaseUrl, logger)
    : await openPglite(opts.dataDir);

  try {
    await migrate(engine.driver, { migrationsDir: opts.migrationsDir, logger });
  } catch (err) {
    await engine.driver.close().catch(() => {});
    throw err;
  }

  const prisma = new PrismaClient({ adapter: engine.adapter });
  const { driver } = engine;
  let closing: Promise<void> | undefined;
  logger.info({ kind: driver.kind }, 'db open');

  return {
    kind: driver.kind,
    prisma,
    driver,
    ping: () => ping(driver),
    close() {
      closing ??= (async () => {
        await prisma.$disconnect().catch((err: unknown) => logger.warn({ err }, 'db prisma disconnect failed'));
        await driver.close();
      })();
      return closing;
    },
  };
}

interface Engine {
  driver: SqlDriver;
  adapter: PrismaPg | PrismaPGlite;
}

function openPostgres(connectionString: string, logger: DbLogger): Engine {
  const pool = new pg.Pool({ connectionString, connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS, keepAlive: true });
  // An idle client whose server went away (restart, failover, admin kill) emits
  // 'error' on the pool; unheard, that would crash the process. The pool drops
  // the dead client and connects afresh for the next query, so logging is enough.
  pool.on('error', (err) => logger.warn({ err }, 'db idle connection lost; the pool reconnects on demand'));
  const adapter = new PrismaPg(pool, {
    onConnectionError: (err) => logger.warn({ err }, 'db connection lost during a prisma transaction'),
  });
  return { driver: createPgDriver(pool, logger), adapter };
}

async function openPglite(dataDir: string): Promise<Engine> {
  const dir = join(dataDir, 'pglite');
  await mkdir(dir, { recursive: true });
  // One PGlite instance, one connection: Prisma's adapter and our driver must share it.
  const pglite = await PGlite.create(dir);
  return { driver: createPgliteDriver(pglite), adapter: new PrismaPGlite(pglite) };
}

async function ping(driver: SqlDriver): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS);
  });
  try {
    return await Promise.race([driver.query('SELECT 1').then(() => true), timedOut]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
