/**
 * The agent's logger: one JSON object per line on stderr. Messages are constant strings; data goes
 * in the object. Secrets are redacted here, so no call site can forget: fields named like a
 * credential, any string that looks like an agent key, and chat / typed text.
 */

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug', 'trace'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type LogFields = Record<string, unknown>;

export interface Logger {
  error(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  trace(msg: string, fields?: LogFields): void;
  /** A logger that adds `bindings` to every line. */
  child(bindings: LogFields): Logger;
  isEnabled(level: LogLevel): boolean;
}

export interface LoggerOptions {
  level: LogLevel;
  /** Where each line goes (a newline-terminated string). Default: stderr. */
  write?: (line: string) => void;
  now?: () => number;
}

const SEVERITY: Record<LogLevel, number> = { error: 50, warn: 40, info: 30, debug: 20, trace: 10 };

/** Field names whose values are never written. Compared lower-cased, without `_` and `-`. */
const SECRET_FIELDS = new Set(['apikey', 'key', 'supportcode', 'code', 'token', 'password', 'credential', 'secret', 'text', 'sdp', 'authorization']);
/** `code` is kept when it is an error code (`ERR_…`), which is what logs need. */
const ERROR_CODE = /^ERR_[A-Z0-9_]+$/;
/** Agent keys are recognisable wherever they end up (a URL, an error message). */
const AGENT_KEY = /cak_[A-Za-z0-9_-]+/g;
const REDACTED = '[redacted]';
const MAX_DEPTH = 6;

function redactString(s: string): string {
  return s.includes('cak_') ? s.replace(AGENT_KEY, 'cak_[redacted]') : s;
}

/** A JSON-safe copy of `value` with secrets removed. */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactString(value);
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[deep]';
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return { name: value.name, message: redactString(value.message), ...(typeof code === 'string' ? { code } : {}) };
  }
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return `[${value.byteLength} bytes]`;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const name = k.toLowerCase().replace(/[-_]/g, '');
    if (SECRET_FIELDS.has(name) && !(name === 'code' && typeof v === 'string' && ERROR_CODE.test(v))) {
      out[k] = v === undefined ? undefined : REDACTED;
    } else {
      out[k] = redact(v, depth + 1);
    }
  }
  return out;
}

export function isLogLevel(s: string): s is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(s);
}

export function createLogger(options: LoggerOptions, bindings: LogFields = {}): Logger {
  const write = options.write ?? ((line: string) => void process.stderr.write(line));
  const now = options.now ?? Date.now;
  const threshold = SEVERITY[options.level];
  const log = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (SEVERITY[level] < threshold) return;
    const record = { level, time: new Date(now()).toISOString(), msg, ...(redact({ ...bindings, ...fields }) as LogFields) };
    let line: string;
    try {
      line = JSON.stringify(record);
    } catch {
      line = JSON.stringify({ level, time: record.time, msg, logError: 'unserialisable fields' });
    }
    write(`${line}\n`);
  };
  return {
    error: (msg, fields) => log('error', msg, fields),
    warn: (msg, fields) => log('warn', msg, fields),
    info: (msg, fields) => log('info', msg, fields),
    debug: (msg, fields) => log('debug', msg, fields),
    trace: (msg, fields) => log('trace', msg, fields),
    child: (more) => createLogger(options, { ...bindings, ...more }),
    isEnabled: (level) => SEVERITY[level] >= threshold,
  };
}

/** A logger that writes nothing (tests). */
export const silentLogger: Logger = createLogger({ level: 'error', write: () => {} });
