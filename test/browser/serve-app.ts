// Test-only: the real server, as `signaling/src/main.ts` builds it, plus the built web app at `/`
// (registered here until `app.ts` registers `staticRoutes` itself; then this only starts it).
// Reads its configuration from the environment the test hands it.
import pino from 'pino';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../signaling/src/config/config.ts';
import { createLogger } from '../../signaling/src/logging/logger.ts';
import { openDatabase } from '../../signaling/src/db/open-database.ts';
import { createApp } from '../../signaling/src/app.ts';
import { staticRoutes } from '../../signaling/src/http/static/routes.ts';

const DIST = fileURLToPath(new URL('../../viewer-app/dist/', import.meta.url));

const parsed = parseConfig(process.env);
if (!parsed.ok) {
  process.stderr.write(`serve-app: ${parsed.problems.join('; ')}\n`);
  process.exit(1);
}
const config = parsed.config;
const logger = createLogger({ level: config.LOG_LEVEL, ...(config.LOG_FILE ? { destination: pino.destination({ dest: config.LOG_FILE, mkdir: true, sync: false }) } : {}) });
const db = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR, logger });
const app = await createApp({ config, db, logger });
if (!app.http.hasRoute({ method: 'GET', url: '/' })) staticRoutes(app.http, { distDir: DIST });

const stop = () => {
  app.close('SIGTERM').then(
    () => {
      logger.flush();
      process.exit(0);
    },
    () => process.exit(1),
  );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
await app.listen();
