import { mediaTicketSchema } from '@guruconnect/shared/protocol';
import type { Ack } from './plane-socket.ts';

/**
 * Earliest retry after any attempt (a refused ticket or upgrade, or a media socket that closed
 * under a live socket.io connection): the frames keep coming on `relay:frame` meanwhile, so a
 * missing media socket costs speed, never the picture — not worth a storm of attempts.
 */
export const MEDIA_RETRY_MS = 5_000;
/** Earliest retry after `ERR_MEDIA_UNAVAILABLE`: the server runs without a media plane and will not grow one soon. */
export const MEDIA_UNAVAILABLE_RETRY_MS = 60_000;
/** `WebSocket.OPEN`. */
const OPEN = 1;

/**
 * The part of a browser `WebSocket` the media socket uses. A viewer sends only acks on the media
 * plane (`ack`; anything else makes the server close the socket with 4002 and audit it); input
 * and keyframe requests stay on socket.io.
 */
export interface MediaWebSocket {
  binaryType: BinaryType;
  readonly readyState: number;
  send(data: string): void;
  onmessage: ((ev: MessageEvent) => void) | null;
  onclose: ((ev: CloseEvent) => void) | null;
  close(code?: number, reason?: string): void;
}

export interface MediaSocketOptions {
  /** The server origin, as the socket.io planes use it (`window.location.origin`). */
  origin: string;
  /** One codec message from the media socket: handle it exactly as a `relay:frame`. */
  message(bytes: Uint8Array): void;
  /** Opens a WebSocket; `new WebSocket(url)` unless replaced (tests). */
  open?(url: string): MediaWebSocket;
  /** Milliseconds for the retry gaps; `performance.now()` unless replaced (tests). */
  now?(): number;
}

/** A ticket request on one socket.io connection (`relay:media-ticket`). */
export type MediaTicketRequest = () => Promise<Ack>;

/**
 * `ws:`/`wss:` URL of the media socket on the same origin as the socket.io planes, or null when the
 * ack's path is not a plain absolute path (it must not lead the ticket to another host).
 */
export function mediaSocketUrl(origin: string, path: string, ticket: string): string | null {
  if (!/^\/(?!\/)[A-Za-z0-9._~/-]*$/.test(path)) return null;
  const url = new URL(path, origin);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.search = `?ticket=${encodeURIComponent(ticket)}`;
  return url.href;
}

/**
 * A viewer link's media-plane socket: opened lazily, once its socket.io connection is on the relay
 * path (`relayFrame()`), at most one (or one attempt) per socket.io connection, closed with it.
 * Its binary messages are codec messages exactly like `relay:frame` payloads — the agent moves a
 * viewer over at a frame boundary with a keyframe — so both feed the same handler.
 */
export class MediaSocket {
  readonly #origin: string;
  readonly #message: (bytes: Uint8Array) => void;
  readonly #open: (url: string) => MediaWebSocket;
  readonly #now: () => number;
  /** The current socket.io connection's ticket request; a new function per connection, so a late answer for an old one is recognised. */
  #conn: MediaTicketRequest | null = null;
  /** An attempt in progress or a media socket open, for `#conn`. */
  #busy = false;
  #ws: MediaWebSocket | null = null;
  /** Kept across socket.io connections: reconnecting must not reset the retry gaps. */
  #notBefore = -Infinity;

  constructor(o: MediaSocketOptions) {
    this.#origin = o.origin;
    this.#message = o.message;
    this.#open = o.open ?? ((url) => new WebSocket(url));
    this.#now = o.now ?? (() => performance.now());
  }

  /** Whether a media socket is open or opening (for tests and diagnostics). */
  get active(): boolean {
    return this.#ws !== null;
  }

  /**
   * Acknowledge a frame that came on the media socket, on it (one hop to the relay process that
   * holds this viewer's queue). False when it is not open: ack on socket.io instead.
   */
  ack(frameId: number): boolean {
    const ws = this.#ws;
    if (!ws || ws.readyState !== OPEN) return false;
    ws.send(JSON.stringify({ type: 'ack', frameId }));
    return true;
  }

  /** A new socket.io connection: a media socket may be opened for it from now on. */
  attach(requestTicket: MediaTicketRequest): void {
    this.detach();
    this.#conn = requestTicket;
  }

  /** The socket.io connection is closed, replaced or lost (or the link left): its media socket goes too. */
  detach(): void {
    this.#conn = null;
    this.#busy = false;
    const ws = this.#ws;
    this.#ws = null;
    if (ws) {
      // Unhooked first: our own close is no failure and must not count towards a retry.
      ws.onmessage = ws.onclose = null;
      ws.close(1000);
    }
  }

  /** A `relay:frame` arrived on the attached connection: open the media socket if none is open or opening and the retry gap has passed. */
  relayFrame(): void {
    const conn = this.#conn;
    if (!conn || this.#busy || this.#now() < this.#notBefore) return;
    void this.#attempt(conn);
  }

  async #attempt(conn: MediaTicketRequest): Promise<void> {
    this.#busy = true;
    this.#notBefore = this.#now() + MEDIA_RETRY_MS;
    let ack: Ack;
    try {
      ack = await conn();
    } catch {
      ack = { ok: false, error: { code: 'CLIENT_NETWORK', message: 'ticket request failed' } };
    }
    // The connection went (or was replaced) while we waited: `detach` already reset the state.
    if (this.#conn !== conn) return;
    if (!ack.ok) {
      if (ack.error.code === 'ERR_MEDIA_UNAVAILABLE') this.#notBefore = this.#now() + MEDIA_UNAVAILABLE_RETRY_MS;
      this.#busy = false;
      return;
    }
    const ticket = mediaTicketSchema.safeParse(ack.data);
    const url = ticket.success ? mediaSocketUrl(this.#origin, ticket.data.path, ticket.data.ticket) : null;
    if (!url) {
      this.#busy = false;
      return;
    }
    let ws: MediaWebSocket;
    try {
      ws = this.#open(url);
    } catch {
      this.#busy = false;
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.#ws = ws;
    ws.onmessage = (ev) => {
      // Binary only: the server sends a viewer nothing else on this plane.
      if (this.#ws === ws && ev.data instanceof ArrayBuffer) this.#message(new Uint8Array(ev.data));
    };
    // A refused upgrade (401) arrives as a close too (1006, after an error event). Whatever the
    // reason, a later `relay:frame` may try again once the gap has passed; meanwhile frames come on
    // socket.io again (the agent hears this viewer is `off` the media plane).
    ws.onclose = () => {
      if (this.#ws !== ws) return;
      ws.onmessage = ws.onclose = null;
      this.#ws = null;
      this.#busy = false;
    };
  }
}
