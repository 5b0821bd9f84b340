// Operator CLI: `npm run admin -- <command>`. Reads the environment and .env exactly as the
// server does and works on the same database through the same services. Passwords come from
// GURU_NEW_PASSWORD or are generated and printed once to stdout; they go nowhere else.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs, parseEnv } from 'node:util';
import pino from 'pino';
import { AppError } from '@guruconnect/shared/errors';
import { PERMISSIONS, permissionSchema, roleSchema, usernameSchema, type Permission, type Role } from '@guruconnect/shared/protocol';
import { parseConfig, type Config } from '../config/config.ts';
import { createLogger, type Logger } from '../logging/logger.ts';
import { openDatabase } from '../db/open-database.ts';
import { buildServices, type Services } from '../compose.ts';
import { bootstrapAdmin } from '../identity/bootstrap.ts';
import { generatePassword } from '../identity/passwords.ts';
import { toUserWire } from '../identity/user-admin.ts';

/** Exit statuses: done, refused or failed, wrong usage. */
const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

const USAGE = `usage: npm run admin -- <command> [options]

commands:
  create-user <username> [--role admin|technician] [--permissions ${PERMISSIONS.join(',')}] [--display-name NAME]
  reset-password <username>
  disable-user <username>       (also ends every token of the user)
  enable-user <username>
  list-users

A new password is read from GURU_NEW_PASSWORD when set; otherwise a strong one is
generated and printed once. The environment and .env (or GURU_ENV_FILE) are read as
the server reads them.
`;

type Command =
  | { name: 'create-user'; username: string; role: Role; permissions: Permission[]; displayName?: string }
  | { name: 'reset-password' | 'disable-user' | 'enable-user'; username: string }
  | { name: 'list-users' };

type ParseArgsOptions = NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>['options']>;

class UsageError extends Error {}

/** Parse argv (without node and the script) into a command, or throw UsageError. */
function parseCommand(argv: string[]): Command {
  const [name, ...rest] = argv;
  const parse = (options: ParseArgsOptions = {}) => {
    try {
      return parseArgs({ args: rest, options, allowPositionals: true, strict: true });
    } catch (err) {
      throw new UsageError(err instanceof Error ? err.message : String(err));
    }
  };
  const onlyUsername = (positionals: string[]) => {
    if (positionals.length !== 1) throw new UsageError(`${name} takes exactly one <username>`);
    const u = usernameSchema.safeParse(positionals[0]);
    if (!u.success) throw new UsageError('username: 2 to 64 of letters, digits, . _ -');
    return u.data;
  };
  switch (name) {
    case 'create-user': {
      const { values, positionals } = parse({ role: { type: 'string' }, permissions: { type: 'string' }, 'display-name': { type: 'string' } });
      const role = roleSchema.safeParse(values.role ?? 'technician');
      if (!role.success) throw new UsageError('--role must be admin or technician');
      const listed = typeof values.permissions === 'string' ? values.permissions.split(',').map((p) => p.trim()).filter(Boolean) : ['view'];
      const permissions: Permission[] = [];
      for (const p of listed) {
        const r = permissionSchema.safeParse(p);
        if (!r.success) throw new UsageError(`--permissions takes a comma-separated subset of ${PERMISSIONS.join(',')}`);
        permissions.push(r.data);
      }
      const displayName = typeof values['display-name'] === 'string' ? values['display-name'].trim() : undefined;
      if (displayName !== undefined && (displayName.length < 1 || displayName.length > 128 || /\p{Cc}/u.test(displayName))) {
        throw new UsageError('--display-name: 1 to 128 characters, no control characters');
      }
      return { name, username: onlyUsername(positionals), role: role.data, permissions, displayName };
    }
    case 'reset-password':
    case 'disable-user':
    case 'enable-user':
      return { name, username: onlyUsername(parse().positionals) };
    case 'list-users':
      if (parse().positionals.length > 0) throw new UsageError('list-users takes no arguments');
      return { name };
    case undefined:
      throw new UsageError('a command is required');
    default:
      throw new UsageError(`unknown command "${name.slice(0, 40)}"`);
  }
}

function readEnv(): Record<string, string | undefined> {
  const file = resolve(process.env.GURU_ENV_FILE ?? '.env');
  // Variables already in the environment win over the file.
  const fromFile = existsSync(file) ? parseEnv(readFileSync(file, 'utf8')) : {};
  return { ...fromFile, ...process.env };
}

/** The console gets warnings and errors on stderr; with LOG_FILE the log goes where the server's goes. */
function cliLogger(config: Config): Logger {
  if (config.LOG_FILE) return createLogger({ level: config.LOG_LEVEL, destination: pino.destination({ dest: config.LOG_FILE, mkdir: true, sync: true }) });
  const level = pino.levels.values[config.LOG_LEVEL] ?? Infinity;
  return createLogger({ level: level > pino.levels.values.warn! ? config.LOG_LEVEL : 'warn', destination: pino.destination({ fd: 2, sync: true }) });
}

interface Io {
  out(line: string): void;
}

/** The new password: GURU_NEW_PASSWORD when set (never echoed), else generated and shown once. */
function newPassword(): { password: string; generated: boolean } {
  const given = process.env.GURU_NEW_PASSWORD;
  return given !== undefined ? { password: given, generated: false } : { password: generatePassword(), generated: true };
}

function showOnce(io: Io, secret: { password: string; generated: boolean }): void {
  if (!secret.generated) return;
  io.out(`password: ${secret.password}`);
  io.out('This password is shown once; hand it over securely.');
}

async function findUser(services: Services, username: string) {
  const user = await services.users.findByUsername(username);
  if (!user) throw new AppError('ERR_USER_NOT_FOUND', `No user "${username}"`);
  return user;
}

async function execute(cmd: Command, services: Services, io: Io): Promise<void> {
  switch (cmd.name) {
    case 'create-user': {
      const secret = newPassword();
      const user = await services.userAdmin.create(
        { username: cmd.username, password: secret.password, role: cmd.role, permissions: cmd.permissions, displayName: cmd.displayName },
        null,
        null,
      );
      io.out(`created ${user.role} ${user.username}`);
      showOnce(io, secret);
      return;
    }
    case 'reset-password': {
      const user = await findUser(services, cmd.username);
      const secret = newPassword();
      await services.userAdmin.update(user.id, { password: secret.password }, null, null);
      io.out(`reset the password of ${user.username}; their tokens are revoked`);
      showOnce(io, secret);
      return;
    }
    case 'disable-user':
    case 'enable-user': {
      const user = await findUser(services, cmd.username);
      const disabled = cmd.name === 'disable-user';
      await services.userAdmin.update(user.id, { disabled }, null, null);
      io.out(disabled ? `disabled ${user.username}; their tokens are revoked` : `enabled ${user.username}`);
      return;
    }
    case 'list-users': {
      const rows = (await services.users.list()).map((u) => {
        const w = toUserWire(u);
        return [w.username, w.role, w.permissions.join(',') || '-', w.disabled ? 'yes' : 'no', w.lastLoginAt ?? 'never'];
      });
      for (const line of formatTable(['USERNAME', 'ROLE', 'PERMISSIONS', 'DISABLED', 'LAST LOGIN'], rows)) io.out(line);
      return;
    }
  }
}

function formatTable(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)];
}

async function main(argv: string[]): Promise<number> {
  const err = (line: string) => process.stderr.write(`admin: ${line}\n`);
  const io: Io = { out: (line) => process.stdout.write(`${line}\n`) };

  if (argv.length === 1 && ['help', '--help', '-h'].includes(argv[0]!)) {
    process.stdout.write(USAGE);
    return EXIT_OK;
  }
  let cmd: Command;
  try {
    cmd = parseCommand(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err(e.message);
    process.stderr.write(`\n${USAGE}`);
    return EXIT_USAGE;
  }

  const parsed = parseConfig(readEnv());
  if (!parsed.ok) {
    for (const problem of parsed.problems) err(`configuration: ${problem}`);
    return EXIT_FAILED;
  }
  const config = parsed.config;
  const logger = cliLogger(config);
  const db = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR, logger });
  try {
    const services = await buildServices({ config, db, logger });
    // As on the server's first start: an empty database gets its admin before anything else.
    await bootstrapAdmin({ ...services, logger, console: { print: io.out }, password: config.BOOTSTRAP_ADMIN_PASSWORD });
    await execute(cmd, services, io);
    return EXIT_OK;
  } catch (e) {
    if (!(e instanceof AppError)) throw e;
    err(`${e.code}: ${e.message}`);
    return EXIT_FAILED;
  } finally {
    await db.close();
    logger.flush();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`admin: failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = EXIT_FAILED;
  },
);
