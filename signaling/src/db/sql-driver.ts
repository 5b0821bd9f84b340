/** Which engine a driver talks to: embedded PGlite or a PostgreSQL server. */
export type SqlDriverKind = 'pglite' | 'postgres';

/**
 * Raw SQL below Prisma, for what Prisma cannot do: migrations, advisory locks,
 * health checks. Both implementations speak PostgreSQL, but column parsing
 * differs (e.g. BIGINT is a string from node-postgres and a bigint from PGlite),
 * so cast in SQL (`::int`, `::text`) where a caller depends on the JS type.
 */
export interface SqlDriver {
  readonly kind: SqlDriverKind;
  /** One statement, `$1`-style parameters; returns the rows. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** A script of one or more statements, no parameters (simple query protocol). */
  exec(sql: string): Promise<void>;
  /**
   * Runs `fn` in a transaction on one connection: COMMIT when it resolves,
   * ROLLBACK when it throws (and rethrow). Nested calls use a savepoint.
   */
  transaction<T>(fn: (tx: SqlDriver) => Promise<T>): Promise<T>;
  /** Releases the engine (pool or PGlite instance). Rejects on a transaction handle. */
  close(): Promise<void>;
}

let savepointSeq = 0;

/** Nested transaction on an open one, shared by both drivers. */
export async function withSavepoint<T>(tx: SqlDriver, fn: (tx: SqlDriver) => Promise<T>): Promise<T> {
  const name = `gc_sp_${++savepointSeq}`;
  await tx.exec(`SAVEPOINT ${name}`);
  try {
    const result = await fn(tx);
    await tx.exec(`RELEASE SAVEPOINT ${name}`);
    return result;
  } catch (err) {
    await tx.exec(`ROLLBACK TO SAVEPOINT ${name}`);
    throw err;
  }
}

export function refuseCloseInTransaction(): Promise<void> {
  return Promise.reject(new Error('close() called on a transaction handle; close the driver instead'));
}
