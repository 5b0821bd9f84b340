import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Config } from './config/config.ts';
import type { Database } from './db/open-database.ts';
import type { Logger } from './logging/logger.ts';
import { installErrorHandling } from './http/errors.ts';
import { healthRoutes } from './http/health/routes.ts';
import { parseTrustedProxies, resolveClientIp } from './net/client-ip.ts';
import { installSecurityHeaders } from './http/security-headers.ts';
import { buildServices, type Services } from './compose.ts';
import type { PasswordHasher } from './identity/passwords.ts';
import { bootstrapAdmin } from './identity/bootstrap.ts';
import { authRoutes } from './http/auth/routes.ts';
import { userRoutes } from './http/users/routes.ts';
import { auditRoutes } from './http/audit/routes.ts';
import { agentKeyRoutes } from './http/agent-keys/routes.ts';
import { viewerTokenRoutes } from './http/sessions/viewer-token.ts';
import type { RouteEnv } from './http/route.ts';

/** What the server is built from. Tests hand in their own database and logger. */
export interface AppDeps {
  config: Config;
  db: Database;
  logger: Logger;
  /** The operator's console (stdout), for what must never reach the log (the first admin password). */
  console?: { print(line: string): void };
  /** Password hashing (tests observe verifications through it). */
  hasher?: PasswordHasher;
  now?: () => number;
}

export interface App {
  http: FastifyInstance;
  services: Services;
  /** Start listening; resolves to the bound port. */
  listen(): Promise<number>;
  /** Stop accepting, close live connections and the database. Idempotent. */
  close(reason?: string): Promise<void>;
}

/** Build the server from its dependencies and return it unstarted. */
export async function createApp(deps: AppDeps): Promise<App> {
  const { config, db, logger } = deps;
  const services = await buildServices({ config, db, logger, hasher: deps.hasher, now: deps.now });
  await bootstrapAdmin({ ...services, logger, console: deps.console ?? { print: () => undefined }, password: config.BOOTSTRAP_ADMIN_PASSWORD });
  const https = config.TLS_CERT_FILE && config.TLS_KEY_FILE
    ? { cert: readFileSync(config.TLS_CERT_FILE), key: readFileSync(config.TLS_KEY_FILE) }
    : null;
  const http = Fastify({
    loggerInstance: logger,
    ...(https ? { https } : {}),
    bodyLimit: 64 * 1024,
    trustProxy: false,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    forceCloseConnections: true,
    return503OnClosing: true,
    logController: new LogController({ disableRequestLogging: config.LOG_LEVEL !== 'debug' && config.LOG_LEVEL !== 'trace' }),
  }) as unknown as FastifyInstance;

  const trusted = parseTrustedProxies(config.TRUSTED_PROXIES);
  http.decorateRequest('clientIp', '');
  http.addHook('onRequest', async (req) => {
    req.clientIp = resolveClientIp(req.socket.remoteAddress, req.headers['x-forwarded-for'], trusted);
  });
  installSecurityHeaders(http);
  installErrorHandling(http);
  healthRoutes(http, db);
  const env: RouteEnv = { authenticator: services.authenticator };
  authRoutes(http, env, services);
  userRoutes(http, env, { users: services.users, admin: services.userAdmin, identity: services.identity });
  auditRoutes(http, env, { store: services.auditStore, ipBlocker: services.ipBlocker, audit: services.audit, now: deps.now });
  agentKeyRoutes(http, env, services.agentKeys);
  viewerTokenRoutes(http, env, services);

  const pruneTimer = setInterval(() => void services.revocations.prune(), 60_000);
  pruneTimer.unref();

  let closing: Promise<void> | undefined;
  return {
    http,
    services,
    async listen() {
      await http.listen({ port: config.PORT, host: config.HOST });
      const addr = http.server.address();
      const port = typeof addr === 'object' && addr ? addr.port : config.PORT;
      logger.info({ port, host: config.HOST, publicUrl: config.PUBLIC_URL, database: db.kind }, 'server listening');
      return port;
    },
    close(reason = 'shutdown') {
      closing ??= (async () => {
        logger.info({ reason }, 'server closing');
        clearInterval(pruneTimer);
        await http.close();
        await db.close();
        logger.info({ reason }, 'server closed');
      })();
      return closing;
    },
  };
}
