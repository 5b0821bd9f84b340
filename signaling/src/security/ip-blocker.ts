import { RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { LimiterFactory } from './limiter-factory.ts';
import type { BlockedIpRecord, BlockedIpStore } from '../db/stores/blocked-ip-store.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Logger } from '../logging/logger.ts';
import { abuseKey } from '../net/client-ip.ts';

export interface IpBlockerOptions {
  threshold: number;
  windowS: number;
  cooloffS: number;
  now?: () => number;
  limiter?: LimiterFactory;
}

/**
 * Blocks an IP (an IPv6 client: its /64, see `abuseKey`) after more than `threshold` failed
 * logins or refused connections within `windowS`. Blocks are durable (they survive a restart) and checked from memory before
 * any password or key work.
 */
export class IpBlocker {
  readonly #store: BlockedIpStore;
  readonly #audit: AuditLog;
  readonly #logger: Logger;
  readonly #opts: Required<Omit<IpBlockerOptions, 'limiter'>>;
  readonly #blocked = new Map<string, BlockedIpRecord>();
  readonly #failures: RateLimiterAbstract;
  /** Told about blocks and unblocks made here (cluster replication). */
  readonly listeners: Array<(e: { kind: 'block'; record: BlockedIpRecord } | { kind: 'unblock'; ip: string }) => void> = [];

  constructor(deps: { store: BlockedIpStore; audit: AuditLog; logger: Logger }, opts: IpBlockerOptions) {
    this.#store = deps.store;
    this.#audit = deps.audit;
    this.#logger = deps.logger;
    this.#opts = { now: Date.now, threshold: opts.threshold, windowS: opts.windowS, cooloffS: opts.cooloffS, ...(opts.now ? { now: opts.now } : {}) };
    const spec = { keyPrefix: 'ipfail', points: opts.threshold, duration: opts.windowS };
    this.#failures = opts.limiter ? opts.limiter(spec) : new RateLimiterMemory(spec);
  }

  async load(): Promise<void> {
    for (const b of await this.#store.listActive(new Date(this.#opts.now()))) this.#blocked.set(b.ip, b);
  }

  /** Seconds until the block ends, or 0 when the IP is not blocked. */
  blockedForS(ip: string): number {
    const key = abuseKey(ip) ?? ip;
    const b = this.#blocked.get(key);
    if (!b) return 0;
    const left = b.expiresAt.getTime() - this.#opts.now();
    if (left <= 0) {
      this.#blocked.delete(key);
      return 0;
    }
    return Math.ceil(left / 1000);
  }

  /** Count one failure for an IP; blocks it when the threshold is exceeded. */
  async recordFailure(ip: string | null | undefined, kind: string): Promise<void> {
    const key = abuseKey(ip ?? undefined);
    if (!key || this.blockedForS(key) > 0) return;
    try {
      await this.#failures.consume(key);
    } catch (res) {
      if (!(res instanceof RateLimiterRes)) throw res;
      await this.block(key, `more than ${this.#opts.threshold} failures in ${this.#opts.windowS}s (last: ${kind})`);
    }
  }

  async block(ip: string, reason: string, actor?: { userId: string; username: string }): Promise<BlockedIpRecord> {
    const now = this.#opts.now();
    const record: BlockedIpRecord = { ip, reason, blockedAt: new Date(now), expiresAt: new Date(now + this.#opts.cooloffS * 1000) };
    this.#blocked.set(ip, record);
    for (const l of this.listeners) l({ kind: 'block', record });
    try {
      await this.#store.upsert(record);
    } catch (err) {
      this.#logger.error({ err }, 'could not persist IP block');
    }
    this.#logger.warn({ ip, cooloffS: this.#opts.cooloffS }, 'ip blocked');
    await this.#audit.record({ type: 'ip_blocked', clientIp: ip, target: ip, actorUserId: actor?.userId ?? null, actor: actor?.username ?? 'system', details: { reason, cooloffS: this.#opts.cooloffS } });
    return record;
  }

  async unblock(ip: string): Promise<boolean> {
    const key = abuseKey(ip) ?? ip;
    const had = this.#blocked.delete(key);
    for (const l of this.listeners) l({ kind: 'unblock', ip: key });
    await this.#failures.delete(key);
    const removed = await this.#store.remove(key);
    return had || removed;
  }

  /** Apply a block or unblock made on another node. */
  applyRemote(e: { kind: 'block'; record: BlockedIpRecord } | { kind: 'unblock'; ip: string }): void {
    if (e.kind === 'block') this.#blocked.set(e.record.ip, { ...e.record, blockedAt: new Date(e.record.blockedAt), expiresAt: new Date(e.record.expiresAt) });
    else this.#blocked.delete(e.ip);
  }

  async list(): Promise<BlockedIpRecord[]> {
    return this.#store.listActive(new Date(this.#opts.now()));
  }
}
