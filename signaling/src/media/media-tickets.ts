import { randomBytes } from 'node:crypto';
import { MEDIA_TICKET_TTL_S } from '@guruconnect/shared/limits';
import type { MediaBinding } from './relay-ipc.ts';

const TICKET_RE = /^gcm_[A-Za-z0-9_-]{43}$/;

/**
 * Single-use media-plane tickets, in memory: a ticket opens one media socket for the socket.io
 * connection it was issued to, within MEDIA_TICKET_TTL_S. A connection holds at most one
 * outstanding ticket (a new one replaces it), so the map is bounded by live connections.
 */
export class MediaTickets {
  readonly #byTicket = new Map<string, { binding: MediaBinding; expiresAt: number }>();
  readonly #bySocket = new Map<string, string>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  issue(binding: MediaBinding): string {
    this.revoke(binding.socketId);
    const ticket = `gcm_${randomBytes(32).toString('base64url')}`;
    this.#byTicket.set(ticket, { binding, expiresAt: this.#now() + MEDIA_TICKET_TTL_S * 1000 });
    this.#bySocket.set(binding.socketId, ticket);
    return ticket;
  }

  /** The binding of a valid ticket, which is used up; null for anything else. */
  consume(ticket: unknown): MediaBinding | null {
    if (typeof ticket !== 'string' || !TICKET_RE.test(ticket)) return null;
    const entry = this.#byTicket.get(ticket);
    if (!entry) return null;
    this.#byTicket.delete(ticket);
    this.#bySocket.delete(entry.binding.socketId);
    return entry.expiresAt > this.#now() ? entry.binding : null;
  }

  /** The connection is gone: its outstanding ticket no longer opens anything. */
  revoke(socketId: string): void {
    const t = this.#bySocket.get(socketId);
    if (t === undefined) return;
    this.#bySocket.delete(socketId);
    this.#byTicket.delete(t);
  }

  get size(): number {
    return this.#byTicket.size;
  }
}
