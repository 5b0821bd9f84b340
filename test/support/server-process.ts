// Test-only: the real signaling server as a separate process (`node --import tsx signaling/src/main.ts`).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const LOG_DIR = join(REPO_ROOT, 'test-artifacts', 'logs');
/** Every password in tests carries this marker so a log scan can find leaks. */
export const CANARY = 'Canary7Zx';
export const ADMIN_USER = 'admin';
export const ADMIN_PASSWORD = `${CANARY}-admin-pass-01`;
const JWT_SECRET = `e2e-only-${randomBytes(24).toString('base64url')}`;

export interface ServerProcess {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly logFile: string;
  /** Everything the process wrote to stdout and stderr (in the log folder, so the log scan reads it too). */
  readonly stdioFile: string;
  /** Resident set size of the server process in KiB (`VmRSS` from `/proc/<pid>/status`). */
  rssKiB(): number;
  /** Everything the server logged so far. */
  readLog(): string;
  /** Stop and start again on the same port and database, as after a crash or a deploy. */
  restart(): Promise<void>;
  /** Send `sig` (e.g. SIGKILL for a crash) and wait until the process is gone; `start()` brings it back. */
  kill(sig: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Start again after `kill` on the same port, database and data directory. */
  start(): Promise<void>;
  /** SIGTERM, then SIGKILL if it has not exited in time; removes the data directory. Idempotent. */
  stop(): Promise<void>;
}

export interface ServerProcessOptions {
  /** Extra environment (e.g. `RELAY_POLICY`, `RELAY_QUEUE_MAX_BYTES`). */
  env?: Record<string, string>;
  readyTimeoutMs?: number;
  /** Serve HTTPS with this certificate (`TLS_CERT_FILE`/`TLS_KEY_FILE`); `caPem` is trusted by the readiness probe only. */
  tls?: { certFile: string; keyFile: string; caPem: string };
}

/** `GET /readyz` answers 200; over HTTPS, trusting only `caPem`. */
function probeReady(url: string, caPem: string | undefined): Promise<boolean> {
  if (!caPem) return fetch(`${url}/readyz`).then((r) => r.ok, () => false);
  return new Promise((resolve) => {
    const req = httpsGet(`${url}/readyz`, { ca: caPem, rejectUnauthorized: true, timeout: 5000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export function readRssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = exited(child);
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await done;
  clearTimeout(timer);
}

export async function startServerProcess(opts: ServerProcessOptions = {}): Promise<ServerProcess> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'guru-e2e-'));
  mkdirSync(LOG_DIR, { recursive: true });
  const logFile = join(LOG_DIR, `server-proc-${Date.now()}-${randomBytes(3).toString('hex')}.log`);
  const stdioFile = logFile.replace(/\.log$/, '-stdio.log');
  const url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  let output = '';
  const spawnServer = async (): Promise<ChildProcess> => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'signaling/src/main.ts'], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? tmpdir(),
        // No .env from the developer's checkout.
        GURU_ENV_FILE: join(dataDir, 'no.env'),
        NODE_ENV: 'test',
        JWT_SECRET,
        PORT: String(port),
        HOST: '127.0.0.1',
        PUBLIC_URL: url,
        DATA_DIR: dataDir,
        BOOTSTRAP_ADMIN_PASSWORD: ADMIN_PASSWORD,
        LOG_LEVEL: 'debug',
        LOG_FILE: logFile,
        ...(opts.tls ? { TLS_CERT_FILE: opts.tls.certFile, TLS_KEY_FILE: opts.tls.keyFile } : {}),
        ...opts.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (b: Buffer) => {
      try {
        appendFileSync(stdioFile, b);
      } catch {
        // The log folder was emptied under us (another run's global setup); the tail in `output` remains.
      }
      output = (output + b.toString()).slice(-8000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);

    const deadline = Date.now() + (opts.readyTimeoutMs ?? 45_000);
    for (;;) {
      if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}: ${output}`);
      if (await probeReady(url, opts.tls?.caPem)) return child;
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`server not ready in time: ${output}`);
      }
      await new Promise((r) => setTimeout(r, 150));
    }
  };
  let child: ChildProcess;
  try {
    child = await spawnServer();
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }

  let stopped: Promise<void> | null = null;
  return {
    url,
    port,
    get pid() {
      return child.pid!;
    },
    logFile,
    stdioFile,
    rssKiB: () => readRssKiB(child.pid!),
    readLog: () => {
      try {
        return readFileSync(logFile, 'utf8');
      } catch {
        return '';
      }
    },
    async restart() {
      await stopChild(child);
      child = await spawnServer();
    },
    async kill(sig) {
      const c = child;
      if (c.exitCode === null && c.signalCode === null) {
        const gone = new Promise<void>((resolve) => c.once('exit', () => resolve()));
        c.kill(sig);
        await gone;
      }
      return { code: c.exitCode, signal: c.signalCode };
    },
    async start() {
      if (child.exitCode === null && child.signalCode === null) throw new Error('server is still running');
      child = await spawnServer();
    },
    stop: () =>
      (stopped ??= (async () => {
        await stopChild(child);
        rmSync(dataDir, { recursive: true, force: true });
      })()),
  };
}
