import WebSocket from 'ws';
import { mediaAgentNoticeSchema, encodeMediaEnvelope } from '@guruconnect/shared/protocol';
import type { MediaTicketReply } from '../connection/agent-connection.ts';
import type { Logger } from '../log/logger.ts';

/** After a failed attempt, the next one waits this long (the relay over socket.io carries on meanwhile). */
export const MEDIA_RETRY_MS = 5000;
/** After the server said the media plane is off (`ERR_MEDIA_UNAVAILABLE`). */
export const MEDIA_UNAVAILABLE_RETRY_MS = 60_000;

/** The server link as the media plane needs it (the AgentConnection in production). */
export interface MediaTicketPort {
  requestMediaTicket(): Promise<MediaTicketReply>;
  /** The media plane's URL for a ticket (carries the ticket: never log it). */
  mediaUrl(path: string, ticket: string): string;
}

/** What the link uses of a WebSocket (`ws` in production). */
export interface MediaSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: Uint8Array): void;
  close(): void;
  on(event: 'open', cb: () => void): unknown;
  on(event: 'message', cb: (data: unknown, isBinary: boolean) => void): unknown;
  on(event: 'close', cb: (code: number) => void): unknown;
  on(event: 'error', cb: (err: Error) => void): unknown;
}

export interface MediaLinkOptions {
  port: MediaTicketPort;
  log: Logger;
  /** Viewers the relay process can now reach on the media plane (`on`), or no longer (`off`). */
  onViewers(on: string[], off: string[]): void;
  /** A media viewer's relay credit opened or closed (from the relay process that queues its frames). */
  onCredit(viewerId: string, open: boolean): void;
  createSocket?: (url: string) => MediaSocket;
  now?: () => number;
}

const OPEN = 1;

/**
 * The agent's media-plane socket: relayed frames go on it, without socket.io, to the viewers the
 * server's relay process says it can reach; every other relay viewer stays on `relay:frame`.
 * Opened lazily, once a viewer is on the relay; bound to one socket.io connection (`reset` when
 * that goes — the server closes the socket then too).
 */
export class MediaLink {
  readonly #o: MediaLinkOptions;
  #socket: MediaSocket | null = null;
  #opening = false;
  #retryAt = 0;
  readonly #viewers = new Set<string>();
  /** Bumped by `reset`: an attempt from an older socket.io connection is abandoned. */
  #generation = 0;
  #closed = false;

  constructor(o: MediaLinkOptions) {
    this.#o = o;
  }

  /** A viewer is on the relay: open the socket unless it is open, opening or waiting to retry. */
  want(): void {
    if (this.#closed || this.#socket || this.#opening || this.#now() < this.#retryAt) return;
    this.#opening = true;
    const generation = this.#generation;
    void this.#o.port.requestMediaTicket().then(
      (reply) => this.#open(reply, generation),
      () => this.#failed(generation, MEDIA_RETRY_MS, 'ticket request failed'),
    );
  }

  /** Frames for this viewer may go on the media socket now. */
  has(viewerId: string): boolean {
    return this.#viewers.has(viewerId) && this.#socket?.readyState === OPEN;
  }

  send(to: string[], payload: Uint8Array): boolean {
    const s = this.#socket;
    if (!s || s.readyState !== OPEN) return false;
    s.send(encodeMediaEnvelope(to, payload));
    return true;
  }

  bufferedBytes(): number {
    return this.#socket?.bufferedAmount ?? 0;
  }

  /** The socket.io connection is gone: so is this socket (the next one needs a new ticket). */
  reset(): void {
    this.#generation++;
    this.#opening = false;
    this.#drop();
  }

  close(): void {
    this.#closed = true;
    this.reset();
  }

  #open(reply: MediaTicketReply, generation: number): void {
    if (generation !== this.#generation || this.#closed) return;
    if (!reply.ok) return this.#failed(generation, reply.code === 'ERR_MEDIA_UNAVAILABLE' ? MEDIA_UNAVAILABLE_RETRY_MS : MEDIA_RETRY_MS, reply.code);
    const socket = (this.#o.createSocket ?? defaultSocket)(this.#o.port.mediaUrl(reply.path, reply.ticket));
    this.#socket = socket;
    socket.on('open', () => {
      if (this.#socket !== socket) return;
      this.#opening = false;
      this.#o.log.info('media plane open');
    });
    socket.on('message', (data, isBinary) => {
      if (this.#socket !== socket || isBinary) return;
      let notice;
      try {
        notice = mediaAgentNoticeSchema.safeParse(JSON.parse(String(data)));
      } catch {
        notice = null;
      }
      if (!notice?.success) return void this.#o.log.warn('invalid media-plane notice');
      const n = notice.data;
      if (n.type === 'credit') return this.#o.onCredit(n.viewerId, n.open);
      for (const id of n.on) this.#viewers.add(id);
      for (const id of n.off) this.#viewers.delete(id);
      this.#o.onViewers(n.on, n.off);
    });
    socket.on('error', (err) => this.#o.log.debug('media plane socket error', { err: err.message }));
    socket.on('close', (code) => {
      if (this.#socket !== socket) return;
      this.#o.log.info('media plane closed; relaying over socket.io', { code });
      this.#failed(this.#generation, MEDIA_RETRY_MS, `closed ${code}`);
    });
  }

  #failed(generation: number, waitMs: number, why: string): void {
    if (generation !== this.#generation) return;
    this.#opening = false;
    this.#retryAt = this.#now() + waitMs;
    this.#o.log.debug('media plane unavailable', { why, retryInMs: waitMs });
    this.#drop();
  }

  /** Forget the socket and tell the session its viewers are back on socket.io. */
  #drop(): void {
    const s = this.#socket;
    this.#socket = null;
    if (s && s.readyState <= OPEN) s.close();
    if (this.#viewers.size > 0) {
      const off = [...this.#viewers];
      this.#viewers.clear();
      this.#o.onViewers([], off);
    }
  }

  #now(): number {
    return (this.#o.now ?? Date.now)();
  }
}

function defaultSocket(url: string): MediaSocket {
  return new WebSocket(url, { perMessageDeflate: false, maxPayload: 64 * 1024 }) as unknown as MediaSocket;
}
