import { z } from 'zod';
import ipaddr from 'ipaddr.js';
import { LOGIN_TOKEN_TTL_S, AGENT_MAX_MESSAGE_BYTES, VIEWER_MAX_MESSAGE_BYTES, PASSWORD_MIN_LENGTH, RELAY_INPUT_BURST, RELAY_INPUT_RATE_PER_S } from '@guruconnect/shared/limits';

/** Words that make a shared agent key guessable (checked case-insensitively). */
export const AGENT_API_KEY_FORBIDDEN_WORDS = ['password', '12345', 'admin', 'test', 'api_key', 'secret', 'changeme', 'default', 'guruconnect'] as const;

const int = (def: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return def;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be an integer from ${min} to ${max}` });
        return z.NEVER;
      }
      return n;
    });

const list = z
  .string()
  .optional()
  .transform((v) => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean));

const jwtSecret = z
  .string({ error: 'is required (at least 32 characters; run `npm run setup` to generate one)' })
  .min(32, { error: 'must be at least 32 characters' });

const agentApiKey = z
  .string()
  .optional()
  .superRefine((v, ctx) => {
    if (v === undefined || v === '') return;
    if (v.length < 32) ctx.addIssue({ code: 'custom', message: 'must be at least 32 characters' });
    const lower = v.toLowerCase();
    const word = AGENT_API_KEY_FORBIDDEN_WORDS.find((w) => lower.includes(w));
    if (word) ctx.addIssue({ code: 'custom', message: `must not contain the guessable word "${word}"` });
    if (new Set(v).size < 10) ctx.addIssue({ code: 'custom', message: 'must contain at least 10 distinct characters' });
  })
  .transform((v) => (v ? v : undefined));

const cidrList = list.superRefine((items, ctx) => {
  for (const item of items) {
    const ok = item.includes('/') ? safe(() => ipaddr.parseCIDR(item)) : ipaddr.isValid(item);
    if (!ok) ctx.addIssue({ code: 'custom', message: `"${item.slice(0, 64)}" is not an IP address or CIDR range` });
  }
});

function safe(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch {
    return false;
  }
}

const originList = list.superRefine((items, ctx) => {
  for (const item of items) {
    if (!safe(() => new URL(item)) || new URL(item).origin !== item) {
      ctx.addIssue({ code: 'custom', message: `"${item.slice(0, 100)}" is not an origin like https://host:port` });
    }
  }
});

const iceServersSchema = z.array(
  z.object({ urls: z.union([z.string().max(512), z.array(z.string().max(512)).max(16)]), username: z.string().max(256).optional(), credential: z.string().max(256).optional() }),
).max(16);

const envSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    JWT_SECRET: jwtSecret,
    AGENT_API_KEY: agentApiKey,
    PORT: int(3002, 0, 65535),
    HOST: z.string().min(1).default('127.0.0.1'),
    PUBLIC_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
    ALLOWED_ORIGINS: originList,
    DATABASE_URL: z
      .string()
      .optional()
      .refine((v) => !v || /^postgres(ql)?:\/\//.test(v), { error: 'must be a postgres:// or postgresql:// URL (unset selects the embedded database)' })
      .transform((v) => (v ? v : undefined)),
    DATA_DIR: z.string().min(1).default('./data'),
    TRUSTED_PROXIES: cidrList,
    TLS_CERT_FILE: z.string().optional(),
    TLS_KEY_FILE: z.string().optional(),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    LOG_FILE: z.string().optional(),
    LOGIN_TOKEN_TTL_S: int(LOGIN_TOKEN_TTL_S, 60, 7 * 24 * 3600),
    BOOTSTRAP_ADMIN_PASSWORD: z
      .string()
      .min(PASSWORD_MIN_LENGTH, { error: `must be at least ${PASSWORD_MIN_LENGTH} characters` })
      .optional()
      .or(z.literal('').transform(() => undefined)),
    LOGIN_MAX_FAILURES: int(5, 1, 1000),
    LOGIN_FAILURE_WINDOW_S: int(900, 10, 86400),
    BLOCK_THRESHOLD: int(20, 1, 100000),
    BLOCK_WINDOW_S: int(600, 10, 86400),
    BLOCK_COOLOFF_S: int(900, 1, 30 * 86400),
    REAPER_INTERVAL_S: int(60, 1, 86400),
    STALE_SESSION_TTL_S: int(86400, 1, 365 * 86400),
    AGENT_MAX_MESSAGE_BYTES: int(AGENT_MAX_MESSAGE_BYTES, 1024, AGENT_MAX_MESSAGE_BYTES),
    VIEWER_MAX_MESSAGE_BYTES: int(VIEWER_MAX_MESSAGE_BYTES, 1024, VIEWER_MAX_MESSAGE_BYTES),
    SHUTDOWN_TIMEOUT_MS: int(10_000, 100, 60_000),
    ICE_SERVERS: z
      .string()
      .optional()
      .transform((v, ctx) => {
        if (!v) return [] as Array<{ urls: string | string[]; username?: string; credential?: string }>;
        try {
          const parsed = iceServersSchema.parse(JSON.parse(v));
          return parsed;
        } catch {
          ctx.addIssue({ code: 'custom', message: 'must be a JSON array of {urls, username?, credential?}' });
          return z.NEVER;
        }
      }),
    TURN_URLS: list,
    TURN_SECRET: z.string().min(16, { error: 'must be at least 16 characters' }).optional().or(z.literal('').transform(() => undefined)),
    TURN_TTL_S: int(3600, 60, 86400),
    RELAY_POLICY: z.enum(['auto', 'force']).default('auto'),
    ICE_TIMEOUT_MS: int(5000, 500, 60_000),
    RELAY_INPUT_RATE_PER_S: int(RELAY_INPUT_RATE_PER_S, 1, 10_000),
    RELAY_INPUT_BURST: int(RELAY_INPUT_BURST, 1, 100_000),
    RELAY_QUEUE_MAX_BYTES: int(4 * 1024 * 1024, 64 * 1024, 64 * 1024 * 1024),
    RELAY_HIGH_WATER_BYTES: int(1024 * 1024, 64 * 1024, 16 * 1024 * 1024),
    /** `process`: relayed frames go through the media plane, served by a child process with a small heap; `off`: socket.io only. */
    MEDIA_RELAY: z.enum(['process', 'off']).default('process'),
    /**
     * Node/V8 flags for the media relay process, space-separated (empty: V8's defaults). The
     * default keeps its garbage collector on its own thread: measured, about half the CPU per
     * relayed MB (`bench/README.md`). Flags that load code or open a debugger are refused.
     */
    MEDIA_RELAY_NODE_FLAGS: z
      .string()
      .default('--single-threaded-gc')
      .transform((v, ctx) => {
        const flags = v.split(/\s+/).filter(Boolean);
        for (const f of flags) {
          const name = /^--([a-z0-9][a-z0-9_-]*)(?:=[A-Za-z0-9._-]+)?$/.exec(f)?.[1]?.replace(/_/g, '-');
          if (!name || /^(inspect|debug|require|import|loader|experimental-loader|eval|print|env-file|experimental-|allow-|permission|cpu-prof-dir|heap-prof-dir|diagnostic-dir|report)/.test(name)) {
            ctx.addIssue({ code: 'custom', message: `must be --flag or --flag=value V8/Node tuning flags; refused: ${f.slice(0, 40)}` });
            return z.NEVER;
          }
        }
        return flags;
      }),
    REDIS_URL: z
      .string()
      .optional()
      .refine((v) => !v || /^rediss?:\/\//.test(v), { error: 'must be a redis:// or rediss:// URL' })
      .transform((v) => (v ? v : undefined)),
    CLUSTER_NAME: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).default('guruconnect'),
    METRICS_TOKEN: z.string().min(16, { error: 'must be at least 16 characters' }).optional().or(z.literal('').transform(() => undefined)),
    UPDATE_MANIFEST_DIR: z.string().optional().transform((v) => (v ? v : undefined)),
    UPDATE_MANIFEST_RESCAN_S: int(30, 0, 3600),
    NODE_ID: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).optional().or(z.literal('').transform(() => undefined)),
  })
  .superRefine((env, ctx) => {
    if (Boolean(env.TLS_CERT_FILE) !== Boolean(env.TLS_KEY_FILE)) {
      ctx.addIssue({ code: 'custom', path: [env.TLS_CERT_FILE ? 'TLS_KEY_FILE' : 'TLS_CERT_FILE'], message: 'TLS_CERT_FILE and TLS_KEY_FILE must be set together' });
    }
  });

type Env = z.infer<typeof envSchema>;

/** The validated, frozen configuration of one server process. */
export type Config = Readonly<
  Omit<Env, 'PUBLIC_URL' | 'ALLOWED_ORIGINS' | 'TRUSTED_PROXIES'> & {
    PUBLIC_URL: string;
    /** Origins allowed on the browser planes: PUBLIC_URL's origin plus ALLOWED_ORIGINS. */
    ALLOWED_ORIGINS: readonly string[];
    TRUSTED_PROXIES: readonly string[];
  }
>;

export type ConfigResult = { ok: true; config: Config } | { ok: false; problems: string[] };

/**
 * Parse the environment once. Every problem is reported at once, one line each,
 * naming the variable and never echoing its value.
 */
export function parseConfig(env: Record<string, string | undefined>): ConfigResult {
  const result = envSchema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${String(issue.path[0] ?? 'environment')} ${issue.message}`);
    return { ok: false, problems: [...new Set(problems)] };
  }
  const e = result.data;
  const scheme = e.TLS_CERT_FILE ? 'https' : 'http';
  const publicUrl = (e.PUBLIC_URL ?? `${scheme}://localhost:${e.PORT}`).replace(/\/+$/, '');
  const origins = [new URL(publicUrl).origin, ...e.ALLOWED_ORIGINS];
  const config: Config = {
    ...e,
    PUBLIC_URL: publicUrl,
    ALLOWED_ORIGINS: Object.freeze([...new Set(origins)]),
    TRUSTED_PROXIES: Object.freeze([...e.TRUSTED_PROXIES]),
  };
  return { ok: true, config: Object.freeze(config) };
}

/** Every variable the schema reads; `.env.example` lists exactly these. */
export const CONFIG_VARIABLES = Object.freeze(Object.keys(envSchema.shape)) as readonly (keyof typeof envSchema.shape)[];
