import pino, { type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Keys whose values never reach a log sink, at the top level and one or two levels down.
 * Redaction lives here so no call site can forget it.
 */
const SECRET_KEYS = [
  'password',
  'newPassword',
  'passwordHash',
  'token',
  'accessToken',
  'refreshToken',
  'authorization',
  'cookie',
  'set-cookie',
  'ticket',
  'key',
  'apiKey',
  'api_key',
  'agentKey',
  'secret',
  'jwtSecret',
  'supportCode',
  'support_code',
  'text',
  'chat',
  'message_text',
  'query',
  'sdp',
];

export const REDACT_PATHS = SECRET_KEYS.flatMap((k) => {
  const key = /^[A-Za-z_$][\w$]*$/.test(k) ? k : `["${k}"]`;
  const dot = key.startsWith('[') ? key : `.${key}`;
  return [key, `*${dot}`, `*.*${dot}`];
});

/** Path segments that are secrets: the support code in `/api/join/:code`, `/join/:code`, `/api/support-codes/:code/…`. */
const SECRET_PATH_SEGMENT = /(\/(?:api\/)?join\/|\/api\/support-codes\/)[^/?#]+/g;

/** Remove the query string (it carries handshake credentials) and secret path segments from a URL for logging. */
export function redactUrl(url: string | undefined): string | undefined {
  if (!url) return url;
  const i = url.indexOf('?');
  const path = (i === -1 ? url : url.slice(0, i)).replace(SECRET_PATH_SEGMENT, '$1[Redacted]');
  return i === -1 ? path : `${path}?[Redacted]`;
}

export interface LoggerOptions {
  level: string;
  /** Where to write; stdout when omitted. */
  destination?: DestinationStream;
}

/** The one logger of a process. Children add `reqId`, `sessionId`, `machineId`, `socketId`. */
export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    {
      level: opts.level,
      base: { pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
      serializers: {
        req(req: { method?: string; url?: string; id?: string }) {
          return { method: req.method, url: redactUrl(req.url), reqId: req.id };
        },
        res(res: { statusCode?: number }) {
          return { statusCode: res.statusCode };
        },
        err: pino.stdSerializers.err,
      },
    },
    opts.destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
