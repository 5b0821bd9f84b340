// The only file that reads the environment, listens and traps signals.
import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { resolve } from 'node:path';
import pino from 'pino';
import { parseConfig } from './config/config.ts';
import { createLogger } from './logging/logger.ts';
import { openDatabase } from './db/open-database.ts';
import { createApp } from './app.ts';

function readEnv(): Record<string, string | undefined> {
  const file = resolve(process.env.GURU_ENV_FILE ?? '.env');
  // Variables already in the environment win over the file.
  const fromFile = existsSync(file) ? parseEnv(readFileSync(file, 'utf8')) : {};
  return { ...fromFile, ...process.env };
}

async function main(): Promise<void> {
  const parsed = parseConfig(readEnv());
  if (!parsed.ok) {
    for (const problem of parsed.problems) process.stderr.write(`guruconnect: refusing to start: ${problem}\n`);
    process.exit(1);
  }
  const config = parsed.config;
  const logger = createLogger({
    level: config.LOG_LEVEL,
    ...(config.LOG_FILE ? { destination: pino.destination({ dest: config.LOG_FILE, mkdir: true, sync: false }) } : {}),
  });
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection'));

  const db = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR, logger });
  const app = await createApp({ config, db, logger, console: { print: (line) => process.stdout.write(`${line}\n`) } });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    const timer = setTimeout(() => {
      logger.error({ signal }, 'graceful shutdown timed out');
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS);
    timer.unref();
    app.close(signal).then(
      () => {
        logger.flush();
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  await app.listen();
}

main().catch((err: unknown) => {
  process.stderr.write(`guruconnect: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
