import { type ErrorCode, statusForCode } from './codes.ts';

/**
 * The one error type handlers throw. `code` is the contract; `message` is for
 * developers and may be shown only after the client maps the code to words.
 * `details` must never carry secrets (passwords, tokens, keys, codes, chat).
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;
  /** Seconds a client should wait before retrying (sets `Retry-After`). */
  readonly retryAfterS: number | undefined;

  constructor(code: ErrorCode, message: string, opts: { details?: Record<string, unknown>; retryAfterS?: number } = {}) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.status = statusForCode(code);
    this.details = opts.details;
    this.retryAfterS = opts.retryAfterS;
  }
}

/** The body of every error response and every failed ack. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

/** Serialise an AppError for the wire. */
export function toErrorBody(err: AppError): ErrorBody {
  return { error: { code: err.code, message: err.message } };
}
