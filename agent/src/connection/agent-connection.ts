import { io, type Socket } from 'socket.io-client';
import { z } from 'zod';
import { PROTOCOL_VERSION } from '@guruconnect/shared/limits';
import {
  agentWelcomeSchema,
  chatMessageSchema,
  signalDeliverySchema,
  viewerJoinedSchema,
  relayCreditSchema,
  viewerLeftSchema,
  mediaTicketSchema,
} from '@guruconnect/shared/protocol';
import type { Logger } from '../log/logger.ts';
import { backoffDelayMs, RECONNECT_BACKOFF, type BackoffOptions } from './backoff.ts';
import { classifyHandshakeError } from './handshake-error.ts';

export type AgentWelcome = z.infer<typeof agentWelcomeSchema>;
export type ViewerJoined = z.infer<typeof viewerJoinedSchema>;
export type SignalDelivery = z.infer<typeof signalDeliverySchema>;
export type SignalKind = 'offer' | 'answer' | 'candidate';
/** A media-plane ticket, or why there is none (an error code, or `timeout`). */
export type MediaTicketReply = { ok: true; ticket: string; path: string } | { ok: false; code: string };

// Server → agent events that `shared` has no schema for yet (reported upstream).
const keyframeRequestDeliverySchema = z.object({ from: z.string().min(1).max(64), reason: z.string().max(64).optional() });
const relayInputEnvelopeSchema = z.object({ from: z.string().min(1).max(64), input: z.unknown() });
const serverDisconnectSchema = z.object({ reason: z.string().max(64) });

/** What the connection reports. Every payload has been validated. */
export interface AgentConnectionHandlers {
  welcome(welcome: AgentWelcome, resumed: boolean): void;
  viewerJoined(viewer: ViewerJoined): void;
  viewerLeft(viewerId: string): void;
  signal(kind: SignalKind, msg: SignalDelivery): void;
  /** `input` is NOT validated yet: the media session counts what it refuses. */
  relayInput(from: string, input: unknown): void;
  keyframeRequest(from: string, reason: string | undefined): void;
  /** A relay viewer's credit at the server opened or closed (`relay:credit`). */
  relayCredit(viewerId: string, open: boolean): void;
  disconnected(reason: string): void;
  /** The server will not take this agent back (credential refused, superseded): stop. */
  fatal(reason: 'refused' | 'superseded', message: string): void;
}

export interface AgentConnectionOptions {
  serverUrl: string;
  /** Handshake query without `protocol` (added here). Contains the credential: never logged. */
  query: Record<string, string>;
  credential: 'code' | 'key';
  handlers: AgentConnectionHandlers;
  log: Logger;
  backoff?: BackoffOptions;
  /** No `session:welcome` this long after connecting: drop and retry. */
  welcomeTimeoutMs?: number;
  connectTimeoutMs?: number;
}

/** A media ticket not granted within this time is given up on (the relay carries on over socket.io). */
const MEDIA_TICKET_TIMEOUT_MS = 5000;
/** A connection that lasted this long resets the backoff. */
const STABLE_CONNECTION_MS = 10_000;

/**
 * The agent's socket.io link to `/ws/agent` (WebSocket only). Reconnects itself with exponential
 * backoff and jitter instead of socket.io's built-in reconnection, so every attempt is logged and
 * a refused credential stops the loop instead of retrying forever. The server reattaches a keyed
 * agent's session on reconnect and re-announces its viewers after the welcome.
 */
export class AgentConnection {
  readonly #o: AgentConnectionOptions;
  #socket: Socket | null = null;
  #attempt = 0;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  #welcomed = false;
  #everWelcomed = false;
  #connectedAt = 0;
  #serverReason: string | null = null;

  constructor(o: AgentConnectionOptions) {
    this.#o = o;
  }

  /** True between the welcome and the next disconnect. */
  get ready(): boolean {
    return this.#welcomed && this.#socket?.connected === true;
  }

  start(): void {
    this.#connect();
  }

  /** Emit to the server when connected; dropped (false) otherwise, since socket.io would queue it for later. */
  send(event: string, payload: unknown): boolean {
    if (!this.ready) return false;
    this.#socket!.emit(event, payload);
    return true;
  }

  /** Bytes accepted by `send` that have not reached the network yet (engine.io write buffer + WebSocket buffer). */
  bufferedBytes(): number {
    return this.#socket ? socketBufferedBytes(this.#socket) : 0;
  }

  /** A single-use media-plane ticket for this connection (`relay:media-ticket`). */
  async requestMediaTicket(): Promise<MediaTicketReply> {
    if (!this.ready) return { ok: false, code: 'ERR_SESSION_NOT_CONNECTED' };
    try {
      const ack = (await this.#socket!.timeout(MEDIA_TICKET_TIMEOUT_MS).emitWithAck('relay:media-ticket', {})) as { ok?: boolean; data?: unknown; error?: { code?: unknown } };
      if (!ack?.ok) return { ok: false, code: typeof ack?.error?.code === 'string' ? ack.error.code : 'ERR_INTERNAL' };
      const t = mediaTicketSchema.safeParse(ack.data);
      return t.success ? { ok: true, ...t.data } : { ok: false, code: 'ERR_PROTOCOL_INVALID_MESSAGE' };
    } catch {
      return { ok: false, code: 'timeout' };
    }
  }

  /** The media plane's URL on this server (carries the ticket: never logged). */
  mediaUrl(path: string, ticket: string): string {
    const u = new URL(this.#o.serverUrl);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    u.pathname = path;
    u.search = `?ticket=${encodeURIComponent(ticket)}`;
    return u.toString();
  }

  /** Stop for good: no more reconnects. Idempotent. */
  close(reason = 'agent_stopping'): void {
    if (this.#closed) return;
    this.#o.log.info('connection closing', { reason });
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#teardown();
  }

  #teardown(): void {
    const s = this.#socket;
    this.#socket = null;
    this.#welcomed = false;
    if (s) {
      s.removeAllListeners();
      s.io.removeAllListeners();
      s.disconnect();
    }
  }

  #connect(): void {
    if (this.#closed) return;
    const { log } = this.#o;
    log.info('connecting', { server: this.#o.serverUrl, attempt: this.#attempt });
    const socket = io(this.#o.serverUrl, {
      path: '/ws/agent',
      query: { ...this.#o.query, protocol: String(PROTOCOL_VERSION) },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      timeout: this.#o.connectTimeoutMs ?? 10_000,
    });
    this.#socket = socket;
    this.#serverReason = null;
    let welcomeTimer: NodeJS.Timeout | null = null;

    socket.on('connect', () => {
      this.#connectedAt = Date.now();
      log.info('connected', { socketId: socket.id });
      welcomeTimer = setTimeout(() => {
        log.warn('no welcome from the server', { timeoutMs: this.#o.welcomeTimeoutMs ?? 10_000 });
        this.#lost('welcome_timeout');
      }, this.#o.welcomeTimeoutMs ?? 10_000);
    });

    socket.on('connect_error', (err) => {
      const failure = classifyHandshakeError(err);
      if (failure.kind === 'refused') {
        const what =
          this.#o.credential === 'code'
            ? this.#everWelcomed
              ? 'the support session has ended and its code cannot be used again; ask the technician for a new code'
              : 'the support code was refused (unknown, expired, cancelled or already used); ask the technician for a new code'
            : 'the agent key was refused (unknown or revoked); ask an administrator for a new key';
        log.error('server refused the agent', { status: failure.status, credentialKind: this.#o.credential });
        this.#stop();
        this.#o.handlers.fatal('refused', what);
        return;
      }
      log.warn('connection failed', { status: failure.status, err: err.message });
      this.#lost('connect_error');
    });

    socket.on('disconnect', (reason) => {
      if (welcomeTimer) clearTimeout(welcomeTimer);
      const serverReason = this.#serverReason;
      log.warn('disconnected', { reason, serverReason });
      if (serverReason === 'superseded') {
        this.#stop();
        this.#o.handlers.fatal('superseded', 'another agent connected with the same identity and took over the session');
        return;
      }
      this.#lost(reason);
    });

    socket.on('server:disconnect', (payload: unknown) => {
      const p = serverDisconnectSchema.safeParse(payload);
      this.#serverReason = p.success ? p.data.reason : 'unknown';
    });

    socket.on('session:welcome', (payload: unknown) => {
      const w = agentWelcomeSchema.safeParse(payload);
      if (!w.success) {
        log.error('invalid welcome from the server', { issues: w.error.issues.length });
        this.#lost('bad_welcome');
        return;
      }
      if (welcomeTimer) clearTimeout(welcomeTimer);
      const resumed = this.#everWelcomed;
      this.#welcomed = true;
      this.#everWelcomed = true;
      log.info('session welcome', {
        sessionId: w.data.sessionId,
        machineId: w.data.machineId,
        kind: w.data.kind,
        relayPolicy: w.data.relayPolicy,
        iceServers: w.data.iceServers.length,
        resumed,
      });
      this.#o.handlers.welcome(w.data, resumed);
    });

    const on = <T>(event: string, schema: z.ZodType<T>, handle: (v: T) => void) =>
      socket.on(event, (payload: unknown) => {
        const p = schema.safeParse(payload);
        if (!p.success) {
          log.warn('invalid server event', { event });
          return;
        }
        handle(p.data);
      });
    on('viewer:joined', viewerJoinedSchema, (v) => this.#o.handlers.viewerJoined(v));
    on('viewer:left', viewerLeftSchema, (v) => this.#o.handlers.viewerLeft(v.viewerId));
    for (const kind of ['offer', 'answer', 'candidate'] as const) on(`signal:${kind}`, signalDeliverySchema, (m) => this.#o.handlers.signal(kind, m));
    on('relay:input', relayInputEnvelopeSchema, (m) => this.#o.handlers.relayInput(m.from, m.input));
    on('keyframe:request', keyframeRequestDeliverySchema, (m) => this.#o.handlers.keyframeRequest(m.from, m.reason));
    on('relay:credit', relayCreditSchema, (m) => this.#o.handlers.relayCredit(m.viewerId, m.open));
    on('chat:message', chatMessageSchema, (m) => log.info('chat message', { from: m.from.kind, chars: m.text.length }));
  }

  #stop(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#teardown();
  }

  /** The link is gone (or never came up): tear down and schedule the next attempt. */
  #lost(reason: string): void {
    if (this.#closed) return;
    const wasReady = this.#welcomed;
    if (this.#connectedAt && Date.now() - this.#connectedAt >= STABLE_CONNECTION_MS) this.#attempt = 0;
    this.#connectedAt = 0;
    this.#teardown();
    if (wasReady) this.#o.handlers.disconnected(reason);
    if (this.#timer) return;
    const delayMs = backoffDelayMs(this.#attempt, this.#o.backoff ?? RECONNECT_BACKOFF);
    this.#attempt++;
    this.#o.log.info('reconnecting', { inMs: delayMs, attempt: this.#attempt, reason });
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#connect();
    }, delayMs);
  }
}

/** Bytes a socket.io client socket holds that have not reached the network (engine.io write buffer + WebSocket buffer). */
export function socketBufferedBytes(socket: Socket): number {
  const engine = socket.io.engine as unknown as { writeBuffer?: Array<{ data?: unknown }>; transport?: { ws?: { bufferedAmount?: number } } } | undefined;
  if (!engine) return 0;
  let n = engine.transport?.ws?.bufferedAmount ?? 0;
  for (const packet of engine.writeBuffer ?? []) {
    const d = packet.data;
    n += typeof d === 'string' ? d.length : d instanceof ArrayBuffer || ArrayBuffer.isView(d) ? d.byteLength : 16;
  }
  return n;
}
