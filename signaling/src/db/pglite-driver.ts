import type { PGlite, Transaction } from '@electric-sql/pglite';
import { refuseCloseInTransaction, type SqlDriver, withSavepoint } from './sql-driver.ts';

/**
 * SqlDriver over one PGlite instance. PGlite is a single connection: Prisma's
 * adapter must be built on the same instance, and PGlite queues everyone else
 * while a transaction is open.
 */
export function createPgliteDriver(db: PGlite): SqlDriver {
  return {
    kind: 'pglite',
    async query<T>(sql: string, params: unknown[] = []) {
      return (await db.query<T>(sql, params)).rows;
    },
    async exec(sql: string) {
      await db.exec(sql);
    },
    transaction<T>(fn: (tx: SqlDriver) => Promise<T>) {
      return db.transaction((tx) => fn(transactionDriver(tx)));
    },
    async close() {
      if (!db.closed) await db.close();
    },
  };
}

function transactionDriver(tx: Transaction): SqlDriver {
  const driver: SqlDriver = {
    kind: 'pglite',
    async query<T>(sql: string, params: unknown[] = []) {
      return (await tx.query<T>(sql, params)).rows;
    },
    async exec(sql: string) {
      await tx.exec(sql);
    },
    transaction: (fn) => withSavepoint(driver, fn),
    close: refuseCloseInTransaction,
  };
  return driver;
}
