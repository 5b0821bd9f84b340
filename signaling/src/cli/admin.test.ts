import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../config/config.ts';
import { createLogger } from '../logging/logger.ts';
import { openDatabase } from '../db/open-database.ts';
import { buildServices, type Services } from '../compose.ts';
import { ADMIN_PASSWORD, CANARY, TEST_JWT_SECRET } from '../testing/test-server.ts';

const CLI = fileURLToPath(new URL('./admin.ts', import.meta.url));
// Resolved here: the CLI runs in a temp dir, where a bare `--import tsx` would not be found.
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const CLI_TIMEOUT_MS = 90_000;

let dir: string;
let dataDir: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the real CLI as an operator would, in a temp dir, with only the variables given. */
async function admin(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const base: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    JWT_SECRET: TEST_JWT_SECRET,
    DATA_DIR: dataDir,
    GURU_ENV_FILE: join(dir, 'none.env'),
    BOOTSTRAP_ADMIN_PASSWORD: ADMIN_PASSWORD,
  };
  const merged = Object.fromEntries(Object.entries({ ...base, ...env }).filter(([, v]) => v !== undefined)) as Record<string, string>;
  const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], { cwd: dir, env: merged });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  return { code, stdout, stderr };
}

/** The rows of `list-users`, by username. */
async function listUsers(): Promise<Map<string, { role: string; permissions: string; disabled: string; lastLogin: string }>> {
  const r = await admin(['list-users']);
  expect(r.code).toBe(0);
  const [header, ...lines] = r.stdout.trimEnd().split('\n');
  expect(header!.split(/\s{2,}/)).toEqual(['USERNAME', 'ROLE', 'PERMISSIONS', 'DISABLED', 'LAST LOGIN']);
  return new Map(
    lines.map((line) => {
      const [username, role, permissions, disabled, lastLogin] = line.split(/\s{2,}/);
      return [username!, { role: role!, permissions: permissions!, disabled: disabled!, lastLogin: lastLogin! }];
    }),
  );
}

/** Open the CLI's database in-process (never while a CLI run holds it: PGlite is single-process). */
async function withServices<T>(fn: (s: Services) => Promise<T>): Promise<T> {
  const parsed = parseConfig({ JWT_SECRET: TEST_JWT_SECRET, DATA_DIR: dataDir });
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  const db = await openDatabase({ dataDir });
  try {
    return await fn(await buildServices({ config: parsed.config, db, logger: createLogger({ level: 'silent' }) }));
  } finally {
    await db.close();
  }
}

const ctx = { ip: '127.0.0.1' };
const count = (haystack: string, needle: string) => haystack.split(needle).length - 1;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gc-admin-cli-'));
  dataDir = join(dir, 'data');
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('admin CLI: wrong usage is refused with exit 2 before anything is opened', () => {
  const rows: Array<[string, string[]]> = [
    ['no command', []],
    ['an unknown command', ['frobnicate']],
    ['create-user without a username', ['create-user']],
    ['a role that does not exist', ['create-user', 'newbie', '--role', 'root']],
    ['a permission that does not exist', ['create-user', 'newbie', '--permissions', 'view,fly']],
    ['an unknown option', ['create-user', 'newbie', '--force']],
    ['a malformed username', ['reset-password', 'bad name']],
    ['two usernames', ['disable-user', 'one', 'two']],
    ['arguments to list-users', ['list-users', 'extra']],
  ];
  it.each(rows)('%s', async (_what, args) => {
    const unused = join(dir, 'unused');
    const r = await admin(args, { DATA_DIR: unused });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('usage: npm run admin');
    expect(r.stdout).toBe('');
    expect(existsSync(unused)).toBe(false);
  }, CLI_TIMEOUT_MS);

  it('prints the usage on stdout for help', async () => {
    const r = await admin(['help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('create-user <username>');
  }, CLI_TIMEOUT_MS);
});

describe('admin CLI: configuration', () => {
  it('reports every configuration problem on stderr and exits 1', async () => {
    const r = await admin(['list-users'], { JWT_SECRET: 'short', PORT: 'abc' });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/JWT_SECRET/);
    expect(r.stderr).toMatch(/PORT/);
    expect(r.stderr).not.toContain('short');
  }, CLI_TIMEOUT_MS);

  it('reads the env file like the server, and the environment wins over it', async () => {
    const envFile = join(dir, 'guru.env');
    // Quoted: the test secret contains `#`, which starts a comment in an unquoted value.
    await writeFile(envFile, `JWT_SECRET='${TEST_JWT_SECRET}'\nPORT=not-a-port\n`);
    const r = await admin(['list-users'], { GURU_ENV_FILE: envFile, JWT_SECRET: undefined, PORT: '3999' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^admin\s+admin\s/m);
  }, CLI_TIMEOUT_MS);
});

describe('admin CLI: accounts', () => {
  const alicePw1 = `${CANARY}-alice-pw-01`;
  const alicePw2 = `${CANARY}-alice-pw-02`;

  it('create-user then list-users shows the user; a given password is never echoed', async () => {
    const r = await admin(['create-user', 'alice', '--role', 'technician', '--permissions', 'view,chat', '--display-name', 'Alice Example'], { GURU_NEW_PASSWORD: alicePw1 });
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(alicePw1);
    expect(r.stdout).not.toMatch(/password:/);
    const users = await listUsers();
    expect(users.get('alice')).toEqual({ role: 'technician', permissions: 'view,chat', disabled: 'no', lastLogin: 'never' });
    expect(users.get('admin')).toMatchObject({ role: 'admin', disabled: 'no' });
    const alice = await withServices((s) => s.users.findByUsername('alice'));
    expect(alice).toMatchObject({ displayName: 'Alice Example', role: 'technician', permissions: ['view', 'chat'] });
  }, CLI_TIMEOUT_MS);

  it('refuses a duplicate username, case-insensitively', async () => {
    const r = await admin(['create-user', 'ALICE'], { GURU_NEW_PASSWORD: `${CANARY}-dup-pw-01` });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('ERR_USER_EXISTS');
  }, CLI_TIMEOUT_MS);

  it('refuses a password shorter than 12 characters and creates nobody', async () => {
    const short = `${CANARY}-1`;
    expect(short.length).toBeLessThan(12);
    const r = await admin(['create-user', 'carol'], { GURU_NEW_PASSWORD: short });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('ERR_AUTH_WEAK_PASSWORD');
    expect(r.stdout + r.stderr).not.toContain(short);
    expect((await listUsers()).has('carol')).toBe(false);
  }, CLI_TIMEOUT_MS);

  it('reset-password takes GURU_NEW_PASSWORD, ends the old password and the user’s tokens', async () => {
    const oldToken = await withServices(async (s) => (await s.identity.login('alice', alicePw1, ctx)).token);
    const r = await admin(['reset-password', 'alice'], { GURU_NEW_PASSWORD: alicePw2 });
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(alicePw2);
    await withServices(async (s) => {
      await expect(s.identity.login('alice', alicePw1, ctx)).rejects.toMatchObject({ code: 'ERR_AUTH_INVALID_CREDENTIALS' });
      await expect(s.authenticator.authenticate(`Bearer ${oldToken}`)).rejects.toMatchObject({ code: 'ERR_AUTH_TOKEN_REVOKED' });
      expect((await s.identity.login('alice', alicePw2, ctx)).user.username).toBe('alice');
    });
  }, CLI_TIMEOUT_MS);

  it('disable-user shows disabled in the list, ends the user’s tokens and sign-in; enable-user restores sign-in only', async () => {
    const token = await withServices(async (s) => (await s.identity.login('alice', alicePw2, ctx)).token);
    expect((await admin(['disable-user', 'alice'])).code).toBe(0);
    expect((await listUsers()).get('alice')?.disabled).toBe('yes');
    await withServices(async (s) => {
      const refused = await s.authenticator.authenticate(`Bearer ${token}`).then(() => null, (e: { code: string }) => e.code);
      expect(['ERR_AUTH_TOKEN_REVOKED', 'ERR_AUTH_USER_DISABLED']).toContain(refused);
      await expect(s.identity.login('alice', alicePw2, ctx)).rejects.toMatchObject({ code: 'ERR_AUTH_USER_DISABLED' });
    });

    expect((await admin(['enable-user', 'alice'])).code).toBe(0);
    expect((await listUsers()).get('alice')?.disabled).toBe('no');
    await withServices(async (s) => {
      await expect(s.authenticator.authenticate(`Bearer ${token}`)).rejects.toMatchObject({ code: 'ERR_AUTH_TOKEN_REVOKED' });
      expect((await s.identity.login('alice', alicePw2, ctx)).user.username).toBe('alice');
    });
  }, CLI_TIMEOUT_MS);

  // Regression: console resets/disables once lost their audit row (an empty string as the inet IP).
  it('records the token revocations of the console reset and disable above', async () => {
    await withServices(async (s) => {
      const alice = await s.users.findByUsername('alice');
      const rows = (await s.auditStore.list({ type: 'token_revoked', limit: 500 })).filter((e) => e.target === `user:${alice!.id}`);
      expect(rows.map((e) => e.details.reason).sort()).toEqual(['password_reset', 'user_disabled']);
    });
  }, CLI_TIMEOUT_MS);

  it('refuses to disable the last active admin', async () => {
    const r = await admin(['disable-user', 'admin']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('ERR_USER_LAST_ADMIN');
  }, CLI_TIMEOUT_MS);

  it.each([['reset-password'], ['disable-user'], ['enable-user']])('%s of an unknown user fails with ERR_USER_NOT_FOUND', async (command) => {
    const r = await admin([command, 'nobody'], { GURU_NEW_PASSWORD: `${CANARY}-nobody-pw-1` });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('ERR_USER_NOT_FOUND');
  }, CLI_TIMEOUT_MS);

  it('prints a generated password once, to stdout only, and it signs in (create and reset)', async () => {
    const created = await admin(['create-user', 'bob', '--permissions', 'view,control']);
    expect(created.code).toBe(0);
    const first = /^password: (\S+)$/m.exec(created.stdout)?.[1];
    expect(first).toBeDefined();
    expect(first!.length).toBeGreaterThanOrEqual(12);
    expect(count(created.stdout, first!)).toBe(1);
    expect(created.stderr).not.toContain(first!);

    const reset = await admin(['reset-password', 'bob']);
    expect(reset.code).toBe(0);
    const second = /^password: (\S+)$/m.exec(reset.stdout)?.[1];
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    expect(count(reset.stdout, second!)).toBe(1);
    expect(reset.stderr).not.toContain(second!);

    await withServices(async (s) => {
      await expect(s.identity.login('bob', first!, ctx)).rejects.toMatchObject({ code: 'ERR_AUTH_INVALID_CREDENTIALS' });
      const login = await s.identity.login('bob', second!, ctx);
      expect(login.user).toMatchObject({ username: 'bob', role: 'technician', permissions: ['view', 'control'] });
      const audit = JSON.stringify(await s.auditStore.list({ limit: 500 }));
      expect(audit).not.toContain(first!);
      expect(audit).not.toContain(second!);
    });
  }, CLI_TIMEOUT_MS);
});
