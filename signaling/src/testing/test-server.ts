// Test-only: start the real server on port 0 against a private test database.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import pino from 'pino';
import { parseConfig, type Config } from '../config/config.ts';
import { createLogger } from '../logging/logger.ts';
import { createApp, type App, type AppDeps } from '../app.ts';
import { createTestDatabase, type TestDatabase } from '../db/test-database.ts';
import type { SqlDriverKind } from '../db/sql-driver.ts';

export const TEST_JWT_SECRET = 'test-only-Hk29!xQv7@Lp3#Rt8$Wm5^Zb1&Nc6*Jd4%';
/** Every password in tests carries this marker so the log scan can find leaks. */
export const CANARY = 'Canary7Zx';
export const ADMIN_PASSWORD = `${CANARY}-admin-pass-01`;
export const LOG_DIR = new URL('../../../test-artifacts/logs/', import.meta.url).pathname;

export interface TestServer {
  readonly url: string;
  readonly port: number;
  readonly app: App;
  readonly config: Config;
  readonly tdb: TestDatabase;
  readonly logFile: string;
  /** Stop the server (keeps the database). */
  stop(): Promise<void>;
  /** Stop and start again on the same database, as after a crash or deploy. */
  restart(): Promise<TestServer>;
  /** Stop and delete the database. */
  close(): Promise<void>;
}

export interface TestServerOptions {
  kind?: SqlDriverKind;
  env?: Record<string, string>;
  hasher?: AppDeps['hasher'];
  now?: () => number;
  tdb?: TestDatabase;
  console?: AppDeps['console'];
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const tdb = opts.tdb ?? (await createTestDatabase(opts.kind ?? 'pglite'));
  // PUBLIC_URL must carry the real port (Origin allow-list, links), so pick a free port first.
  const port0 = opts.env?.PORT ?? String(await freePort());
  const parsed = parseConfig({
    JWT_SECRET: TEST_JWT_SECRET,
    PORT: port0,
    PUBLIC_URL: `http://127.0.0.1:${port0}`,
    HOST: '127.0.0.1',
    BOOTSTRAP_ADMIN_PASSWORD: ADMIN_PASSWORD,
    LOG_LEVEL: 'debug',
    DATA_DIR: tdb.dataDir,
    ...opts.env,
  });
  if (!parsed.ok) throw new Error(`bad test config: ${parsed.problems.join('; ')}`);
  mkdirSync(LOG_DIR, { recursive: true });
  const logFile = join(LOG_DIR, `server-${Date.now()}-${randomBytes(3).toString('hex')}.log`);
  const logger = createLogger({ level: 'debug', destination: pino.destination({ dest: logFile, sync: true }) });
  const app = await createApp({ config: parsed.config, db: tdb.db, logger, hasher: opts.hasher, now: opts.now, console: opts.console });
  const port = await app.listen();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await app.close('test');
  };
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    app,
    config: parsed.config,
    tdb,
    logFile,
    stop,
    async restart() {
      await stop();
      await tdb.reopen();
      return startTestServer({ ...opts, tdb, env: { ...opts.env, PORT: String(port) } });
    },
    async close() {
      await stop();
      await tdb.cleanup();
    },
  };
}

/** Small JSON HTTP client for tests. */
export async function api(base: string, method: string, path: string, opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await res.text();
  let json: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- test helper
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, body: json, text };
}

export async function loginAs(base: string, username: string, password: string): Promise<string> {
  const r = await api(base, 'POST', '/api/auth/login', { body: { username, password } });
  if (r.status !== 200) throw new Error(`login ${username} failed: ${r.status} ${r.text}`);
  return r.body.token as string;
}
