import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { hostname } from 'node:os';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Config } from './config/config.ts';
import type { Database } from './db/open-database.ts';
import type { Logger } from './logging/logger.ts';
import { frameworkErrors, installErrorHandling } from './http/errors.ts';
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
import { sessionRoutes } from './http/sessions/routes.ts';
import { supportCodeRoutes } from './http/support-codes/routes.ts';
import type { RouteEnv } from './http/route.ts';
import { createPlanes, type Planes } from './planes/planes.ts';
import { onAgentConnection } from './planes/agent-plane.ts';
import { createInputLimiter, onViewerConnection } from './planes/viewer-plane.ts';
import { onConsoleConnection } from './planes/console-plane.ts';
import type { PlaneContext } from './planes/plane-context.ts';
import { SessionService } from './sessions/session-service.ts';
import { iceServersFor } from './sessions/ice.ts';
import { RelayHub } from './relay/relay-hub.ts';
import { MediaRelay } from './media/media-relay.ts';
import { createAdapter } from '@socket.io/redis-adapter';
import { localBus, redisBus } from './cluster/bus.ts';
import { syncRegistry } from './cluster/registry-sync.ts';
import { shareSecurityState } from './cluster/security-sync.ts';
import { decodeRelayHop, encodeRelayHop } from './cluster/relay-wire.ts';
import { limiterFactory } from './security/limiter-factory.ts';
import { createMetrics } from './http/metrics/metrics.ts';
import { metricsRoutes } from './http/metrics/routes.ts';
import { staticRoutes } from './http/static/routes.ts';
import { updateRoutes } from './http/updates/routes.ts';
import { UpdateCatalog } from './updates/update-catalog.ts';
import { fileURLToPath } from 'node:url';

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
  sessions: SessionService;
  planes: Planes;
  relay: RelayHub;
  /** The media plane's relay process (its counters: bytes forwarded, frames dropped). */
  media: MediaRelay;
  /** Start listening; resolves to the bound port. */
  listen(): Promise<number>;
  /** Stop accepting, close live connections and the database. Idempotent. */
  close(reason?: string): Promise<void>;
}

/** Build the server from its dependencies and return it unstarted. */
export async function createApp(deps: AppDeps): Promise<App> {
  const { config, db, logger } = deps;
  const nodeId = config.NODE_ID ?? `${hostname()}-${process.pid}`;
  const bus = config.REDIS_URL ? await redisBus(config.REDIS_URL, nodeId, logger, config.CLUSTER_NAME) : localBus(nodeId);
  const services = await buildServices({ config, db, logger, hasher: deps.hasher, now: deps.now, limiter: limiterFactory(bus.redis) });
  await bootstrapAdmin({ ...services, logger, console: deps.console ?? { print: () => undefined }, password: config.BOOTSTRAP_ADMIN_PASSWORD });

  const trusted = parseTrustedProxies(config.TRUSTED_PROXIES);
  const clientIp = (req: IncomingMessage) => resolveClientIp(req.socket.remoteAddress, req.headers['x-forwarded-for'], trusted);
  const tls = config.TLS_CERT_FILE && config.TLS_KEY_FILE ? { cert: readFileSync(config.TLS_CERT_FILE), key: readFileSync(config.TLS_KEY_FILE) } : null;

  // The planes are created after Fastify (and the session logic before them); these late
  // references let the HTTP server and the session logic reach them once they exist.
  const late: { planes?: Planes; broadcaster?: Planes['broadcaster'] } = {};
  const http = Fastify({
    loggerInstance: logger,
    serverFactory: (handler) => {
      const route = (req: IncomingMessage, res: ServerResponse) => {
        if (!late.planes?.handleRequest(req, res)) handler(req, res);
      };
      const server: Server = tls ? createHttpsServer(tls, route) : createHttpServer(route);
      server.on('upgrade', (req, socket, head) => {
        if (!late.planes?.handleUpgrade(req, socket, head)) socket.destroy();
      });
      server.headersTimeout = 20_000;
      server.requestTimeout = 30_000;
      return server;
    },
    bodyLimit: 64 * 1024,
    frameworkErrors,
    trustProxy: false,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    // On close, idle keep-alive connections go at once; a request in flight is answered first
    // (bounded by SHUTDOWN_TIMEOUT_MS in main.ts), and new ones get 503 with `Connection: close`.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    logController: new LogController({ disableRequestLogging: config.LOG_LEVEL !== 'debug' && config.LOG_LEVEL !== 'trace' }),
  }) as unknown as FastifyInstance;

  http.decorateRequest('clientIp', '');
  http.addHook('onRequest', async (req) => {
    req.clientIp = clientIp(req.raw);
  });
  installSecurityHeaders(http);
  installErrorHandling(http);

  const sessions = new SessionService({
    registry: services.registry,
    sessions: services.sessions,
    machines: services.machines,
    supportCodes: services.supportCodes,
    agentKeys: services.agentKeys,
    audit: services.audit,
    logger,
    broadcaster: {
      emit: (...a) => late.broadcaster?.emit(...a),
      toConsoles: (...a) => late.broadcaster?.toConsoles(...a),
      disconnect: (...a) => late.broadcaster?.disconnect(...a),
    },
    nodeId,
    staleSessionTtlS: config.STALE_SESSION_TTL_S,
    now: deps.now,
  });
  await sessions.restore(await bus.liveNodes());
  const stopSync = syncRegistry({ registry: services.registry, bus, logger, onNodeDead: (node, dropped) => sessions.nodeDied(node, dropped) });
  shareSecurityState(bus, services, config.LOGIN_TOKEN_TTL_S);

  const agentOfViewer = (viewerId: string) => {
    const v = services.registry.viewers.get(viewerId);
    return v && services.registry.sessions.get(v.sessionId)?.agent;
  };
  const requestKeyframe = (viewerId: string) => {
    const agent = agentOfViewer(viewerId);
    if (agent) late.broadcaster?.emit('agent', agent.socketId, 'keyframe:request', { from: viewerId, reason: 'relay_drop' });
  };
  const creditChanged = (viewerId: string, open: boolean) => {
    const agent = agentOfViewer(viewerId);
    if (agent) late.broadcaster?.emit('agent', agent.socketId, 'relay:credit', { viewerId, open });
  };
  const relay = new RelayHub({
    maxQueueBytes: config.RELAY_QUEUE_MAX_BYTES,
    highWaterBytes: config.RELAY_HIGH_WATER_BYTES,
    transportOf: (viewerId) => late.planes?.viewerTransport(viewerId) ?? null,
    requestKeyframe,
    acknowledges: (viewerId) => services.registry.viewers.get(viewerId)?.relayAcks === true,
    creditChanged,
  });
  // The media plane's relay process has its own queues; credit and keyframe requests come back here.
  const media = new MediaRelay({
    enabled: config.MEDIA_RELAY === 'process' && !tls,
    maxQueueBytes: config.RELAY_QUEUE_MAX_BYTES,
    highWaterBytes: config.RELAY_HIGH_WATER_BYTES,
    nodeFlags: config.MEDIA_RELAY_NODE_FLAGS,
    logger: logger.child({ component: 'media' }),
    onCredit: creditChanged,
    onKeyframe: requestKeyframe,
    onAttached(socketId) {
      const frames = relay.windowOf(socketId);
      if (frames !== undefined) media.setWindow(socketId, frames);
    },
    onRefused(r) {
      const type = r.code === 'ERR_PROTOCOL_MESSAGE_TOO_LARGE' ? 'message_too_large' : 'media_protocol_violation';
      void services.audit
        .record({ type, clientIp: r.ip || null, sessionId: r.sessionId || null, details: { plane: 'media', role: r.role, errorCode: r.code, bytes: r.bytes, closed: r.closed } })
        .catch((err: unknown) => logger.error({ err }, 'media refusal audit failed'));
    },
    now: deps.now,
  });
  bus.onBinary((buf) => {
    const hop = decodeRelayHop(buf);
    if (hop && services.registry.viewers.get(hop.viewerId)?.node === nodeId) relay.forward(hop.viewerId, hop.data, hop.kind);
  });
  // A window cap for a viewer on another node goes to that node (its queue lives there).
  bus.subscribe('relay-window', (msg) => {
    const m = msg as { viewerId?: unknown; frames?: unknown };
    if (typeof m.viewerId !== 'string' || typeof m.frames !== 'number') return;
    if (services.registry.viewers.get(m.viewerId)?.node === nodeId) {
      relay.setWindow(m.viewerId, m.frames);
      media.setWindow(m.viewerId, m.frames);
    }
  });
  const ctx: PlaneContext = {
    relay,
    media,
    relayTo(viewer, data, kind) {
      if (viewer.node === nodeId) return relay.forward(viewer.socketId, data, kind);
      bus.publishBinary(viewer.node, encodeRelayHop(viewer.socketId, kind, data));
      return true;
    },
    relayWindow(viewer, frames) {
      if (viewer.node === nodeId) {
        relay.setWindow(viewer.socketId, frames);
        media.setWindow(viewer.socketId, frames);
      } else bus.publish('relay-window', { viewerId: viewer.socketId, frames });
    },
    config,
    logger,
    registry: services.registry,
    sessions,
    broadcaster: { emit: (...a) => late.broadcaster?.emit(...a), toConsoles: (...a) => late.broadcaster?.toConsoles(...a), disconnect: (...a) => late.broadcaster?.disconnect(...a) },
    audit: services.audit,
    iceServersFor: (subject) => iceServersFor(subject, config),
  };
  const inputLimiter = createInputLimiter(config.RELAY_INPUT_RATE_PER_S, config.RELAY_INPUT_BURST);
  const planes = createPlanes({
    config,
    logger,
    audit: services.audit,
    ipBlocker: services.ipBlocker,
    events: services.events,
    registry: services.registry,
    clientIp,
    bus,
    media,
    ...(bus.redis ? { adapterFor: (plane: string) => createAdapter(bus.redis!.pub.duplicate(), bus.redis!.sub.duplicate(), { key: `${bus.redis!.prefix}sio:${plane}` }) } : {}),
    handshake: {
      identity: services.identity,
      agentKeys: services.agentKeys,
      supportCodes: services.supportCodes,
      machines: services.machines,
      registry: services.registry,
      allowedOrigins: config.ALLOWED_ORIGINS,
      now: deps.now,
    },
    async afterAuth(identity) {
      if (identity.plane === 'viewer') await sessions.assertJoinable(identity.sessionId);
    },
    onConnection(plane, socket, identity, ip) {
      if (identity.plane === 'agent') onAgentConnection(ctx, socket, identity, ip);
      else if (identity.plane === 'viewer') onViewerConnection({ ...ctx, inputLimiter }, socket, identity, ip);
      else onConsoleConnection(ctx, socket, identity);
    },
  });
  late.planes = planes;
  late.broadcaster = planes.broadcaster;

  const metrics = createMetrics({ registry: services.registry, relay, media, nodeId });
  services.audit.listeners.push((e) => {
    if (e.type === 'login_failed') metrics.loginFailures.inc();
    if (e.type.startsWith('connection_rejected_')) metrics.refusals.inc({ plane: String(e.details?.plane ?? 'unknown'), code: String(e.details?.errorCode ?? e.type) });
  });
  healthRoutes(http, db);
  metricsRoutes(http, { metrics, token: config.METRICS_TOKEN });
  const env: RouteEnv = { authenticator: services.authenticator };
  authRoutes(http, env, services);
  userRoutes(http, env, { users: services.users, admin: services.userAdmin, identity: services.identity });
  auditRoutes(http, env, { store: services.auditStore, ipBlocker: services.ipBlocker, audit: services.audit, now: deps.now });
  agentKeyRoutes(http, env, services.agentKeys);
  viewerTokenRoutes(http, env, services);
  sessionRoutes(http, env, { machines: services.machines, sessions: services.sessions, registry: services.registry, service: sessions });
  supportCodeRoutes(http, env, {
    codes: services.supportCodes,
    users: services.users,
    audit: services.audit,
    ipBlocker: services.ipBlocker,
    registry: services.registry,
    service: sessions,
    joinLookupsPerMin: 30,
  });
  updateRoutes(http, env, {
    catalog: new UpdateCatalog({ dir: config.UPDATE_MANIFEST_DIR, logger, rescanIntervalMs: config.UPDATE_MANIFEST_RESCAN_S * 1000 }),
    agentKeys: services.agentKeys,
    audit: services.audit,
    ipBlocker: services.ipBlocker,
    machines: services.machines,
    auditStore: services.auditStore,
    logger,
    now: deps.now,
  });
  staticRoutes(http, { distDir: fileURLToPath(new URL('../../viewer-app/dist/', import.meta.url)) });

  const timers = [
    setInterval(() => void services.revocations.prune(), 60_000),
    setInterval(() => void sessions.reap().catch((err: unknown) => logger.error({ err }, 'reaper failed')), config.REAPER_INTERVAL_S * 1000),
    setInterval(() => void services.supportCodes.expireDue().catch((err: unknown) => logger.warn({ err }, 'support code expiry failed')), 30_000),
  ];
  for (const t of timers) t.unref();

  let closing: Promise<void> | undefined;
  return {
    http,
    services,
    sessions,
    planes,
    relay,
    media,
    async listen() {
      await http.listen({ port: config.PORT, host: config.HOST });
      const addr = http.server.address();
      const port = typeof addr === 'object' && addr ? addr.port : config.PORT;
      logger.info({ port, host: config.HOST, publicUrl: config.PUBLIC_URL, database: db.kind, nodeId }, 'server listening');
      return port;
    },
    close(reason = 'shutdown') {
      closing ??= (async () => {
        logger.info({ reason }, 'server closing');
        for (const t of timers) clearInterval(t);
        stopSync();
        await planes.close();
        await media.close();
        await http.close();
        await bus.close();
        await db.close();
        logger.info({ reason }, 'server closed');
      })();
      return closing;
    },
  };
}
