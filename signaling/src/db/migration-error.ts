/**
 * Why the server refused to start on this database. These codes never reach a
 * client (startup fails before the server listens), so they live here rather
 * than in shared's HTTP code table.
 */
export type MigrationErrorCode =
  /** An applied migration's migration.sql no longer matches its recorded checksum. */
  | 'ERR_DB_MIGRATION_CHECKSUM'
  /** An applied migration (or the migrations folder, or a migration.sql) is missing on disk. */
  | 'ERR_DB_MIGRATION_MISSING'
  /** A migration failed now (rolled back), or a row records an earlier unfinished one. */
  | 'ERR_DB_MIGRATION_FAILED';

export class MigrationError extends Error {
  readonly code: MigrationErrorCode;
  /** The migration folder name, when the problem is with one migration. */
  readonly migration: string | undefined;

  constructor(code: MigrationErrorCode, message: string, opts: { migration?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'MigrationError';
    this.code = code;
    this.migration = opts.migration;
  }
}
