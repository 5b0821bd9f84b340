import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { Server as EngineServer } from 'engine.io';
import { Server as IoServer, type Socket } from 'socket.io';
import { CONSOLE_MAX_MESSAGE_BYTES, MEDIA_PLANE_PATH } from '@guruconnect/shared/limits';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Config } from '../config/config.ts';
import type { SecurityEvents } from '../identity/revocations.ts';
import type { Logger } from '../logging/logger.ts';
import type { IpBlocker } from '../security/ip-blocker.ts';
import { inScope, type Broadcaster, type ConsoleScope } from '../sessions/broadcaster.ts';
import type { ClusterBus } from '../cluster/bus.ts';
import type { Registry } from '../sessions/registry.ts';
import { toAppError } from '../http/errors.ts';
import type { ViewerTransport } from '../relay/relay-hub.ts';
import type { MediaRelay } from '../media/media-relay.ts';
import { socketTransport, type RelaySocket } from './viewer-transport.ts';
import { authenticateAgent, authenticateConsole, authenticateViewer, type HandshakeDeps, type Plane, type PlaneIdentity } from './handshake-auth.ts';
import { HandshakeRefusal, readQuery, refuseRequest, refuseUpgrade } from './refusal.ts';

/** Refusals of one blocked address are audited at most this often. */
const BLOCKED_AUDIT_INTERVAL_MS = 60_000;
const BLOCKED_AUDIT_MAX_ADDRESSES = 10_000;

export const PLANE_PATHS: Record<Plane, string> = { agent: '/ws/agent', viewer: '/ws/viewer', console: '/ws/console' };

/** What the handshake check leaves on the request for the connection handler. */
export interface AdmittedRequest extends IncomingMessage {
  guru?: { identity: PlaneIdentity; ip: string };
}

export interface PlanesDeps {
  config: Config;
  logger: Logger;
  audit: AuditLog;
  ipBlocker: IpBlocker;
  events: SecurityEvents;
  registry: Registry;
  handshake: HandshakeDeps;
  clientIp(req: IncomingMessage): string;
  bus: ClusterBus;
  /** The socket.io adapter per plane when clustered (Redis); the in-memory default otherwise. */
  adapterFor?(plane: Plane): NonNullable<Parameters<IoServer['adapter']>[0]>;
  /** Extra pre-accept check per plane (the viewer's session must be joinable). */
  afterAuth?(identity: PlaneIdentity): Promise<void>;
  onConnection(plane: Plane, socket: Socket, identity: PlaneIdentity, ip: string): void;
  /** The media plane (`MEDIA_PLANE_PATH`): ticket check here, then the socket goes to the relay process. */
  media?: MediaRelay;
}

export interface Planes {
  io: Record<Plane, IoServer>;
  broadcaster: Broadcaster;
  viewerTransport(viewerId: string): ViewerTransport | null;
  /** True when the request belonged to a plane (and was answered). */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean;
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  close(): Promise<void>;
}

function planeOf(url: string | undefined): Plane | null {
  const path = (url ?? '').split('?')[0]!.replace(/\/+$/, '');
  for (const [plane, p] of Object.entries(PLANE_PATHS) as Array<[Plane, string]>) if (path === p) return plane;
  return null;
}

/**
 * Three socket.io servers behind one HTTP server. Every handshake is checked on its first
 * HTTP request (polling or upgrade) before engine.io sees it: a refused client gets a 4xx/5xx
 * with `{error:{code,message}}` and never a `101`.
 */
export function createPlanes(d: PlanesDeps): Planes {
  const caps: Record<Plane, number> = { agent: d.config.AGENT_MAX_MESSAGE_BYTES, viewer: d.config.VIEWER_MAX_MESSAGE_BYTES, console: CONSOLE_MAX_MESSAGE_BYTES };
  const engines = {} as Record<Plane, EngineServer>;
  const io = {} as Record<Plane, IoServer>;
  for (const plane of Object.keys(PLANE_PATHS) as Plane[]) {
    // maxHttpBufferSize becomes ws's maxPayload, which also bounds unfinished fragments.
    engines[plane] = new EngineServer({ maxHttpBufferSize: caps[plane], pingInterval: 20_000, pingTimeout: 20_000, perMessageDeflate: false, httpCompression: false, cors: undefined });
    io[plane] = new IoServer({ serveClient: false, maxHttpBufferSize: caps[plane], connectTimeout: 10_000 });
    if (d.adapterFor) io[plane].adapter(d.adapterFor(plane));
    io[plane].bind(engines[plane] as never);
    io[plane].on('connection', (socket) => {
      const admitted = (socket.request as AdmittedRequest).guru;
      if (!admitted || admitted.identity.plane !== plane) return void socket.disconnect(true);
      // socket.io would otherwise rethrow an unhandled 'error' event (CVE-2024-38355 class).
      socket.on('error', (err) => d.logger.debug({ err, socketId: socket.id, plane }, 'socket error'));
      socket.on('disconnect', (reason: string, description?: unknown) => {
        if (isTooLarge(description)) {
          d.logger.warn({ plane, socketId: socket.id }, 'message over the plane cap; socket closed');
          void d.audit.record({ type: 'message_too_large', clientIp: admitted.ip, details: { plane, capBytes: caps[plane] } });
        }
      });
      try {
        d.onConnection(plane, socket, admitted.identity, admitted.ip);
      } catch (err) {
        d.logger.error({ err, plane }, 'connection handler failed');
        socket.disconnect(true);
      }
    });
  }

  /**
   * A blocked address is refused without touching the database: its refusals are audited at most
   * once a minute per address (with how many went unaudited since), so a flood from a blocked
   * address can neither fill the audit table nor starve legitimate handshakes of connections.
   */
  const blockedAudits = new Map<string, { at: number; suppressed: number }>();
  const auditBlocked = (ip: string): { audit: 'connection_rejected_blocked_ip' | null; details?: Record<string, unknown> } => {
    const now = (d.handshake.now ?? Date.now)();
    const last = blockedAudits.get(ip);
    if (last && now - last.at < BLOCKED_AUDIT_INTERVAL_MS) {
      last.suppressed++;
      return { audit: null };
    }
    blockedAudits.delete(ip);
    blockedAudits.set(ip, { at: now, suppressed: 0 });
    // Bounded: the oldest entry goes first (a Map iterates in insertion order).
    if (blockedAudits.size > BLOCKED_AUDIT_MAX_ADDRESSES) blockedAudits.delete(blockedAudits.keys().next().value!);
    return { audit: 'connection_rejected_blocked_ip', details: { unauditedSinceLast: last?.suppressed ?? 0 } };
  };

  async function admit(plane: Plane, req: IncomingMessage): Promise<{ identity: PlaneIdentity; ip: string }> {
    const ip = d.clientIp(req);
    try {
      const blockedS = d.ipBlocker.blockedForS(ip);
      if (blockedS > 0) throw new HandshakeRefusal('ERR_AUTH_IP_BLOCKED', 'Too many failures from your address', { ...auditBlocked(ip), countsAsFailure: false, retryAfterS: blockedS });
      const query = readQuery(req);
      if (!query) throw new HandshakeRefusal('ERR_VALIDATION', 'Malformed handshake query', { audit: 'connection_rejected_no_auth' });
      const identity =
        plane === 'agent' ? await authenticateAgent(query, d.handshake) : plane === 'viewer' ? await authenticateViewer(req, query, d.handshake) : await authenticateConsole(req, query, d.handshake);
      await d.afterAuth?.(identity);
      return { identity, ip };
    } catch (err) {
      const refusal = err instanceof HandshakeRefusal ? err : toRefusal(err);
      if (refusal.code === 'ERR_INTERNAL') d.logger.error({ err, plane }, 'handshake check failed');
      if (refusal.auditType) {
        await d.audit.record({ type: refusal.auditType, clientIp: ip, details: { plane, errorCode: refusal.code, ...(refusal.details ?? {}) } });
      }
      if (refusal.countsAsFailure) await d.ipBlocker.recordFailure(ip, refusal.auditType ?? refusal.code);
      throw refusal;
    }
  }

  const handleRequest = (req: IncomingMessage, res: ServerResponse): boolean => {
    const plane = planeOf(req.url);
    if (!plane) return false;
    if (hasSid(req)) {
      engines[plane].handleRequest(req as never, res as never);
      return true;
    }
    admit(plane, req).then(
      (admitted) => {
        (req as AdmittedRequest).guru = admitted;
        engines[plane].handleRequest(req as never, res as never);
      },
      (err: unknown) => refuseRequest(res, err instanceof HandshakeRefusal ? err : toRefusal(err)),
    );
    return true;
  };

  /**
   * `/ws/media?ticket=…`: synchronous checks (blocked address, single-use ticket of a connection
   * still here), then the TCP socket goes to the relay process in the same tick. A refusal is an
   * HTTP error like every plane's, audited, and a bad ticket counts towards IP blocking.
   */
  const mediaUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => socket.destroy());
    const ip = d.clientIp(req);
    let refusal: HandshakeRefusal;
    const blockedS = d.ipBlocker.blockedForS(ip);
    if (blockedS > 0) {
      refusal = new HandshakeRefusal('ERR_AUTH_IP_BLOCKED', 'Too many failures from your address', { ...auditBlocked(ip), countsAsFailure: false, retryAfterS: blockedS });
    } else {
      const binding = d.media?.consume(readQuery(req)?.ticket);
      if (binding) return d.media!.handoff(binding, req, socket, head);
      refusal = new HandshakeRefusal('ERR_AUTH_INVALID_TICKET', 'Invalid, used or expired media ticket', { audit: 'connection_rejected_invalid_token' });
    }
    void (async () => {
      if (refusal.auditType) await d.audit.record({ type: refusal.auditType, clientIp: ip, details: { plane: 'media', errorCode: refusal.code, ...(refusal.details ?? {}) } });
      if (refusal.countsAsFailure) await d.ipBlocker.recordFailure(ip, refusal.auditType ?? refusal.code);
    })()
      .catch((err: unknown) => d.logger.error({ err }, 'media refusal audit failed'))
      .finally(() => refuseUpgrade(socket, refusal));
  };

  const handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): boolean => {
    if (d.media && (req.url ?? '').split('?')[0] === MEDIA_PLANE_PATH) {
      mediaUpgrade(req, socket, head);
      return true;
    }
    const plane = planeOf(req.url);
    if (!plane) return false;
    socket.on('error', () => socket.destroy());
    if (hasSid(req)) {
      engines[plane].handleUpgrade(req as never, socket as never, head);
      return true;
    }
    admit(plane, req).then(
      (admitted) => {
        (req as AdmittedRequest).guru = admitted;
        if (!socket.destroyed) engines[plane].handleUpgrade(req as never, socket as never, head);
      },
      (err: unknown) => refuseUpgrade(socket, err instanceof HandshakeRefusal ? err : toRefusal(err)),
    );
    return true;
  };

  const viewerTransport = (viewerId: string): ViewerTransport | null => {
    const socket = io.viewer.sockets.sockets.get(viewerId);
    return socket ? socketTransport(socket as unknown as RelaySocket) : null;
  };

  const deliverToLocalConsoles = (scope: ConsoleScope, event: string, payload: unknown) => {
    for (const c of d.registry.consoles.values()) {
      const socket = io.console.sockets.sockets.get(c.socketId);
      if (socket && inScope(scope, c)) socket.emit(event, payload);
    }
  };
  d.bus.subscribe('console', (msg) => {
    const m = msg as { scope: ConsoleScope; event: string; payload: unknown };
    deliverToLocalConsoles(m.scope, m.event, m.payload);
  });

  const broadcaster: Broadcaster = {
    emit(plane, socketId, event, payload) {
      const local = io[plane].sockets.sockets.get(socketId);
      // A socket on another node is reached through the adapter (its own room is its id).
      if (local) local.emit(event, payload);
      else if (d.bus.clustered) io[plane].to(socketId).emit(event, payload);
    },
    toConsoles(scope, event, payload) {
      deliverToLocalConsoles(scope, event, payload);
      d.bus.publish('console', { scope, event, payload });
    },
    disconnect(plane, socketId, reason) {
      const socket = io[plane].sockets.sockets.get(socketId);
      if (socket) {
        socket.emit('server:disconnect', { reason });
        socket.disconnect(true);
      } else if (d.bus.clustered) {
        io[plane].to(socketId).emit('server:disconnect', { reason });
        io[plane].in(socketId).disconnectSockets(true);
      }
    },
  };

  // Revocation closes live sockets that authenticated with the revoked credential.
  // (Each node closes its own sockets; the cluster relays the security events themselves.)
  const me = d.bus.nodeId;
  d.events.on('tokens-revoked', (jtis) => {
    const dead = new Set(jtis);
    for (const v of d.registry.viewers.values()) if (v.node === me && (dead.has(v.jti) || dead.has(v.parentJti))) broadcaster.disconnect('viewer', v.socketId, 'token_revoked');
    for (const c of d.registry.consoles.values()) if (dead.has(c.loginJti)) broadcaster.disconnect('console', c.socketId, 'token_revoked');
  });
  d.events.on('user-revoked', (userId) => {
    for (const v of d.registry.viewers.values()) if (v.node === me && v.userId === userId) broadcaster.disconnect('viewer', v.socketId, 'user_revoked');
    for (const c of d.registry.consoles.values()) if (c.userId === userId) broadcaster.disconnect('console', c.socketId, 'user_revoked');
  });
  d.events.on('agent-key-revoked', (keyId) => {
    for (const a of d.registry.agents.values()) if (a.node === me && a.keyId === keyId) broadcaster.disconnect('agent', a.socketId, 'key_revoked');
  });

  return {
    io,
    broadcaster,
    viewerTransport,
    handleRequest,
    handleUpgrade,
    async close() {
      for (const plane of Object.keys(io) as Plane[]) {
        // Every client hears why (agents reconnect later, to this node's successor).
        for (const socket of io[plane].sockets.sockets.values()) socket.emit('server:disconnect', { reason: 'server_shutdown' });
        io[plane].disconnectSockets(true);
        engines[plane].close();
      }
    },
  };
}

/**
 * A request for an existing engine.io session, read exactly as engine.io reads it (last `sid` wins).
 * An empty `sid=` is a new handshake to engine.io, so it must go through `admit` like any other.
 */
function hasSid(req: IncomingMessage): boolean {
  try {
    return Boolean(Object.fromEntries(new URL(req.url ?? '/', 'http://localhost').searchParams).sid);
  } catch {
    return false;
  }
}

function toRefusal(err: unknown): HandshakeRefusal {
  const e = toAppError(err);
  return new HandshakeRefusal(e.code, e.code === 'ERR_INTERNAL' ? 'Internal error' : e.message, { audit: null, countsAsFailure: false });
}

function isTooLarge(description: unknown): boolean {
  const seen = JSON.stringify(description ?? {}, (_k, v: unknown) => (v instanceof Error ? { message: v.message, code: (v as { code?: string }).code } : v));
  return /WS_ERR_UNSUPPORTED_MESSAGE_LENGTH|Max payload size exceeded|payload too large/i.test(seen ?? '');
}
