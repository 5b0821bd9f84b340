/**
 * Recognises "the database cannot be reached right now" among whatever the Prisma client, the
 * `pg` driver or its pool throw, so a request that needs the database answers 503
 * ERR_DB_UNAVAILABLE (with Retry-After) instead of an opaque 500 while PostgreSQL restarts.
 */

/** Prisma's codes for an unreachable, closed, timed-out or saturated connection. */
const PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P2037']);
/** Socket errors, and PostgreSQL's SQLSTATEs for connection exceptions (08…) and shutdowns (57P0…). */
const DRIVER_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', '08000', '08001', '08003', '08004', '08006', '57P01', '57P02', '57P03', '53300']);
/** Adapter error kinds (@prisma/driver-adapter-utils) that mean the same. */
const ADAPTER_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections']);
/** `pg` pool and client messages that carry no code. */
const MESSAGES = [/timeout exceeded when trying to connect/i, /connection terminated/i, /Client has encountered a connection error/i, /Connection terminated unexpectedly/i];

export function isDatabaseUnavailable(err: unknown): boolean {
  let e: unknown = err;
  // Follow `cause` a few levels: Prisma wraps the adapter error, which wraps the driver's.
  for (let depth = 0; depth < 5 && e !== null && typeof e === 'object'; depth++) {
    const o = e as { code?: unknown; kind?: unknown; originalCode?: unknown; message?: unknown; cause?: unknown };
    if (typeof o.code === 'string' && (PRISMA_CODES.has(o.code) || DRIVER_CODES.has(o.code))) return true;
    if (typeof o.originalCode === 'string' && DRIVER_CODES.has(o.originalCode)) return true;
    if (typeof o.kind === 'string' && ADAPTER_KINDS.has(o.kind)) return true;
    if (typeof o.message === 'string' && MESSAGES.some((m) => m.test(o.message as string))) return true;
    e = o.cause;
  }
  return false;
}
