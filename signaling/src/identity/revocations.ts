import { EventEmitter } from 'node:events';
import type { TokenStore } from '../db/stores/token-store.ts';
import type { Logger } from '../logging/logger.ts';

/** Security events that live connections react to (close sockets within a second). */
export interface SecurityEventMap {
  /** These token ids are dead (logout, token revocation; includes minted children). */
  'tokens-revoked': [jtis: string[]];
  /** Every token of this user is dead (logout-all, disable, admin revoke, password reset). */
  'user-revoked': [userId: string];
  /** This agent key is dead. */
  'agent-key-revoked': [keyId: string];
}

export class SecurityEvents extends EventEmitter<SecurityEventMap> {}

/**
 * The revocation list: durable in the database, checked from memory.
 * Expired entries are pruned from both.
 */
export class Revocations {
  readonly #store: TokenStore;
  readonly #events: SecurityEvents;
  readonly #logger: Logger;
  readonly #revoked = new Map<string, number>(); // jti → expiresAt ms
  readonly #now: () => number;

  constructor(deps: { store: TokenStore; events: SecurityEvents; logger: Logger; now?: () => number }) {
    this.#store = deps.store;
    this.#events = deps.events;
    this.#logger = deps.logger;
    this.#now = deps.now ?? Date.now;
  }

  /** Load the durable list into memory (at start-up). */
  async load(): Promise<void> {
    const rows = await this.#store.listRevoked(new Date(this.#now()));
    for (const r of rows) this.#revoked.set(r.jti, r.expiresAt.getTime());
    this.#logger.info({ count: rows.length }, 'revocations loaded');
  }

  isRevoked(jti: string): boolean {
    return this.#revoked.has(jti);
  }

  /** Mark revoked in memory (used also when another node announces a revocation). */
  remember(entries: Array<{ jti: string; expiresAt: Date }>): void {
    for (const e of entries) this.#revoked.set(e.jti, e.expiresAt.getTime());
  }

  /** Revoke tokens and every token minted from them. Returns the jtis newly revoked. */
  async revoke(jtis: string[], reason: string): Promise<string[]> {
    // Memory first, so the token is refused even while the write is in flight.
    const now = this.#now();
    for (const jti of jtis) if (!this.#revoked.has(jti)) this.#revoked.set(jti, now + 7 * 24 * 3600_000);
    const rows = await this.#store.revokeWithChildren(jtis, reason, new Date(now));
    this.remember(rows);
    const all = [...new Set([...jtis, ...rows.map((r) => r.jti)])];
    this.#events.emit('tokens-revoked', all);
    return rows.map((r) => r.jti);
  }

  /** Revoke every live token of a user. */
  async revokeUser(userId: string, reason: string): Promise<string[]> {
    const rows = await this.#store.revokeAllForUser(userId, reason, new Date(this.#now()));
    this.remember(rows);
    this.#events.emit('user-revoked', userId);
    this.#events.emit('tokens-revoked', rows.map((r) => r.jti));
    return rows.map((r) => r.jti);
  }

  /** Drop expired entries from memory and the database. */
  async prune(): Promise<void> {
    const now = this.#now();
    for (const [jti, exp] of this.#revoked) if (exp < now) this.#revoked.delete(jti);
    try {
      await this.#store.prune(new Date(now - 60_000));
    } catch (err) {
      this.#logger.warn({ err }, 'token prune failed');
    }
  }

  get size(): number {
    return this.#revoked.size;
  }
}
