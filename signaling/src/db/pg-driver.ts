import type pg from 'pg';
import { silentDbLogger, type DbLogger } from './logger-port.ts';
import { refuseCloseInTransaction, type SqlDriver, withSavepoint } from './sql-driver.ts';

/**
 * SqlDriver over a node-postgres Pool. Plain queries take any pooled
 * connection; a transaction checks out one client for its whole life.
 * The pool's own 'error' events are the opener's business (open-database.ts).
 */
export function createPgDriver(pool: pg.Pool, logger: DbLogger = silentDbLogger): SqlDriver {
  return {
    kind: 'postgres',
    async query<T>(sql: string, params: unknown[] = []) {
      return (await pool.query(sql, params)).rows as T[];
    },
    async exec(sql: string) {
      // No parameters, so node-postgres uses the simple protocol: many statements are fine.
      await pool.query(sql);
    },
    async transaction<T>(fn: (tx: SqlDriver) => Promise<T>) {
      const client = await pool.connect();
      // A checked-out client has no pool listener: without ours, a server restart
      // mid-transaction would surface as an unhandled 'error' and kill the process.
      let broken: Error | undefined;
      const onError = (err: Error) => {
        broken = err;
        logger.warn({ err }, 'db connection lost during a transaction');
      };
      client.on('error', onError);
      try {
        await client.query('BEGIN');
        const result = await fn(clientDriver(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch((rollbackErr: unknown) => {
          broken ??= rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
        });
        throw err;
      } finally {
        client.removeListener('error', onError);
        // Passing an error destroys the client instead of returning it to the pool.
        client.release(broken);
      }
    },
    async close() {
      if (!pool.ending) await pool.end();
    },
  };
}

function clientDriver(client: pg.PoolClient): SqlDriver {
  const driver: SqlDriver = {
    kind: 'postgres',
    async query<T>(sql: string, params: unknown[] = []) {
      return (await client.query(sql, params)).rows as T[];
    },
    async exec(sql: string) {
      await client.query(sql);
    },
    transaction: (fn) => withSavepoint(driver, fn),
    close: refuseCloseInTransaction,
  };
  return driver;
}
