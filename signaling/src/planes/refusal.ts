import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import { AppError, toErrorBody } from '@guruconnect/shared/errors';
import type { AuditEventType } from '@guruconnect/shared/protocol';

/** A handshake the server will not accept: HTTP status, error code, and its audit type. */
export class HandshakeRefusal extends AppError {
  readonly auditType: AuditEventType | null;
  /** Does this refusal count towards automatic IP blocking? */
  readonly countsAsFailure: boolean;

  constructor(
    code: ConstructorParameters<typeof AppError>[0],
    message: string,
    opts: { audit?: AuditEventType | null; countsAsFailure?: boolean; retryAfterS?: number; details?: Record<string, unknown> } = {},
  ) {
    super(code, message, { retryAfterS: opts.retryAfterS, details: opts.details });
    this.auditType = opts.audit ?? null;
    this.countsAsFailure = opts.countsAsFailure ?? true;
  }
}

function headersFor(err: AppError, body: string): Record<string, string> {
  const h: Record<string, string> = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-store',
    connection: 'close',
  };
  if (err.retryAfterS !== undefined) h['retry-after'] = String(Math.max(1, Math.ceil(err.retryAfterS)));
  return h;
}

/** Answer a polling request with the refusal. */
export function refuseRequest(res: ServerResponse, err: AppError): void {
  const body = JSON.stringify(toErrorBody(err));
  if (res.headersSent) return void res.destroy();
  res.writeHead(err.status, headersFor(err, body));
  res.end(body);
}

/** Answer an upgrade request with a plain HTTP response — never `101 Switching Protocols`. */
export function refuseUpgrade(socket: Duplex, err: AppError): void {
  if (socket.destroyed) return;
  const body = JSON.stringify(toErrorBody(err));
  const head = Object.entries(headersFor(err, body)).map(([k, v]) => `${k}: ${v}`);
  socket.end(`HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? 'Error'}\r\n${head.join('\r\n')}\r\n\r\n${body}`);
}

/** Read the query string; a parameter given twice is malformed. */
export function readQuery(req: IncomingMessage): Record<string, string> | null {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const out: Record<string, string> = {};
  for (const [k, v] of url.searchParams) {
    if (Object.hasOwn(out, k)) return null;
    out[k] = v;
  }
  return out;
}
