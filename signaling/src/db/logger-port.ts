/**
 * The logging the database layer needs. A pino logger satisfies it as is
 * (`info(obj, msg)`); tests hand in a recorder. Messages are constant strings,
 * data goes in the object.
 */
export interface DbLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Drops everything; the default when no logger is passed. */
export const silentDbLogger: DbLogger = {
  info() {},
  warn() {},
  error() {},
};
