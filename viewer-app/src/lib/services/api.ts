import type { z } from 'zod';
import { errorBodySchema } from '@guruconnect/shared/protocol';
import { isErrorCode, type ErrorCode } from '@guruconnect/shared/errors';

/** Client-side failures that have no server code. */
export type ClientErrorCode = 'CLIENT_NETWORK' | 'CLIENT_BAD_RESPONSE';

/**
 * A refused or failed API call. `code` is the server's error code (or a client code when the
 * server could not be reached or answered something unexpected); the server's message is kept
 * for developers only — people see `describeError(code)`.
 */
export class ApiError extends Error {
  readonly code: ErrorCode | ClientErrorCode;
  readonly status: number;
  /** Seconds from the `Retry-After` header, when the server sent one. */
  readonly retryAfterS: number | null;

  constructor(code: ErrorCode | ClientErrorCode, status: number, message: string, retryAfterS: number | null = null) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
    this.retryAfterS = retryAfterS;
  }
}

export interface ApiOptions {
  /** Bearer token for the `Authorization` header; never put in a URL. */
  token?: string | null;
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  signal?: AbortSignal;
}

/** Called when the server says the login token is no longer good (the app then signs out). */
export type TokenRejectedHandler = (code: ErrorCode) => void;

const TOKEN_DEAD: readonly ErrorCode[] = ['ERR_AUTH_INVALID_TOKEN', 'ERR_AUTH_TOKEN_EXPIRED', 'ERR_AUTH_TOKEN_REVOKED', 'ERR_AUTH_USER_DISABLED', 'ERR_AUTH_WRONG_TOKEN_KIND'];

/** JSON over `fetch` against this origin's `/api`, validating every answer with its shared schema. */
export class ApiClient {
  #onTokenRejected: TokenRejectedHandler | null = null;

  onTokenRejected(handler: TokenRejectedHandler): void {
    this.#onTokenRejected = handler;
  }

  async request<S extends z.ZodType>(method: string, path: string, schema: S, o: ApiOptions = {}): Promise<z.infer<S>> {
    const url = new URL(path, window.location.origin);
    for (const [k, v] of Object.entries(o.query ?? {})) if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(url, { method, headers, body: o.body === undefined ? null : JSON.stringify(o.body), signal: o.signal ?? null, credentials: 'omit', cache: 'no-store' });
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      throw new ApiError('CLIENT_NETWORK', 0, 'network error');
    }
    const text = await res.text();
    let json: unknown = undefined;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const body = errorBodySchema.safeParse(json);
      const retry = Number(res.headers.get('retry-after'));
      const retryAfterS = Number.isFinite(retry) && retry > 0 ? retry : null;
      if (!body.success || !isErrorCode(body.data.error.code)) throw new ApiError('CLIENT_BAD_RESPONSE', res.status, `HTTP ${res.status}`, retryAfterS);
      const err = new ApiError(body.data.error.code, res.status, body.data.error.message, retryAfterS);
      if (o.token && res.status === 401 && TOKEN_DEAD.includes(err.code as ErrorCode)) this.#onTokenRejected?.(err.code as ErrorCode);
      throw err;
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new ApiError('CLIENT_BAD_RESPONSE', res.status, `unexpected answer from ${path}`);
    return parsed.data;
  }
}
