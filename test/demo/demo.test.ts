import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const repoRoot = new URL('../../', import.meta.url).pathname;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** `npm run demo` exactly as a newcomer runs it, with its files redirected into a temp dir. */
function startDemo(dir: string, port: number): { child: ChildProcess; out: () => string } {
  let out = '';
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? dir, GURU_ENV_FILE: join(dir, '.env'), DATA_DIR: join(dir, 'data'), PORT: String(port), LOG_FILE: join(dir, 'server.log') };
  const child = spawn('npm', ['run', '--silent', 'demo'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  return { child, out: () => out };
}

async function waitReady(port: number, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('demo did not become ready');
}

/** SIGTERM to the whole group (npm, its shell, the server), then wait for the server's own "closed". */
async function stop(child: ChildProcess, logFile: string, closedBefore: number): Promise<void> {
  process.kill(-child.pid!, 'SIGTERM');
  const end = Date.now() + 15_000;
  while (Date.now() < end) {
    if (closedCount(logFile) > closedBefore) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('server did not close within 15 s');
}

const closedCount = (logFile: string) => (readFileSync(logFile, 'utf8').match(/"msg":"server closed"/g) ?? []).length;

describe('npm run demo on a fresh machine', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gc-demo-'));
  const running: ChildProcess[] = [];
  afterAll(() => {
    for (const c of running) {
      try {
        process.kill(-c.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });

  it('creates .env, migrates, answers health checks; a restart keeps data and applies nothing twice', async () => {
    const port = await freePort();
    const first = startDemo(dir, port);
    running.push(first.child);
    await waitReady(port);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    const envFile = join(dir, '.env');
    expect(statSync(envFile).mode & 0o777).toBe(0o600);
    const secret = /^JWT_SECRET=(.+)$/m.exec(readFileSync(envFile, 'utf8'))?.[1];
    expect(secret?.length).toBeGreaterThanOrEqual(64);
    const password = /password: (\S+)/.exec(first.out())?.[1];
    expect(password).toBeDefined();
    expect(readFileSync(join(dir, 'server.log'), 'utf8')).not.toContain(password!);
    await stop(first.child, join(dir, 'server.log'), 0);

    const second = startDemo(dir, port);
    running.push(second.child);
    await waitReady(port);
    expect(readFileSync(envFile, 'utf8')).toContain(`JWT_SECRET=${secret}`);
    // The admin created on the first start still signs in; no second password is printed.
    const login = await fetch(`http://127.0.0.1:${port}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password }) });
    expect(login.status).toBe(200);
    expect(second.out()).not.toContain('password:');
    const log = readFileSync(join(dir, 'server.log'), 'utf8');
    const applied = log.split('\n').filter((l) => l.includes('"msg":"db migration applied"')).length;
    expect(applied).toBe(1);
    await stop(second.child, join(dir, 'server.log'), 1);
  }, 120_000);

  it('the server itself exits 0 on SIGTERM after draining', async () => {
    const port = await freePort();
    const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const child = spawn(process.execPath, ['--import', TSX, join(repoRoot, 'signaling/src/main.ts')], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', GURU_ENV_FILE: join(dir, '.env'), DATA_DIR: join(dir, 'data'), PORT: String(port), LOG_LEVEL: 'warn' },
      stdio: 'ignore',
      detached: true,
    });
    running.push(child);
    await waitReady(port);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 60_000);
});
