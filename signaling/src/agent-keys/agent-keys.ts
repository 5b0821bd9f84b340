import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { AppError } from '@guruconnect/shared/errors';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AgentKeyRecord, AgentKeyStore } from '../db/stores/agent-key-store.ts';
import type { SecurityEvents } from '../identity/revocations.ts';
import type { Principal } from '../identity/principal.ts';
import type { Logger } from '../logging/logger.ts';

export const AGENT_KEY_PREFIX = 'cak_';
const KEY_PATTERN = /^cak_[A-Za-z0-9_-]{43,128}$/;
const sha256 = (s: string) => createHash('sha256').update(s).digest();

const SHARED_KEY_WARN_INTERVAL_MS = 60_000;

/** The identity an agent key resolves to. `shared` is the deprecated AGENT_API_KEY. */
export type AgentKeyIdentity = { kind: 'key'; keyId: string; machineId: string | null; name: string } | { kind: 'shared' };

/** Revocable per-machine agent keys: `cak_` + 32 CSPRNG bytes, stored as SHA-256 only. */
export class AgentKeys {
  readonly #sharedDigest: Buffer | null;
  /** The deprecation warning is logged once a minute with a count, not once per handshake. */
  #sharedUses = 0;
  #sharedWarnedAt = -Infinity;

  constructor(private readonly d: { store: AgentKeyStore; audit: AuditLog; events: SecurityEvents; logger: Logger; sharedKey?: string; now?: () => number }) {
    this.#sharedDigest = d.sharedKey ? sha256(d.sharedKey) : null;
  }

  async create(args: { name: string; machineId?: string }, actor: Principal, ip: string): Promise<{ record: AgentKeyRecord; key: string }> {
    const key = `${AGENT_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
    const record = await this.d.store.create({
      name: args.name,
      keyHash: sha256(key).toString('hex'),
      keyPrefix: key.slice(0, 8),
      machineId: args.machineId ?? null,
      createdBy: actor.userId,
    });
    await this.d.audit.record({ type: 'agent_key_created', actorUserId: actor.userId, actor: actor.username, target: `agent_key:${record.id}`, clientIp: ip, details: { keyId: record.id, keyName: record.name } });
    return { record, key };
  }

  async revoke(id: string, actor: Principal | null, ip: string | null, reason = 'admin'): Promise<void> {
    const existing = await this.d.store.findById(id);
    if (!existing) throw new AppError('ERR_AGENT_KEY_NOT_FOUND', 'No such agent key');
    if (await this.d.store.revoke(id, new Date((this.d.now ?? Date.now)()))) {
      this.d.events.emit('agent-key-revoked', id);
      await this.d.audit.record({ type: 'agent_key_revoked', actorUserId: actor?.userId ?? null, actor: actor?.username ?? 'system', target: `agent_key:${id}`, clientIp: ip, details: { keyId: id, reason } });
    }
  }

  /** Revoke all keys of a machine (operator removal). */
  async revokeForMachine(machineId: string): Promise<string[]> {
    const ids = await this.d.store.revokeForMachine(machineId, new Date((this.d.now ?? Date.now)()));
    for (const id of ids) this.d.events.emit('agent-key-revoked', id);
    return ids;
  }

  /**
   * Resolve a presented key. Anything that is not a well-formed live key — a JWT,
   * a revoked or unknown key — resolves to null. The shared key is compared in constant time.
   */
  async resolve(presented: string): Promise<AgentKeyIdentity | null> {
    if (typeof presented !== 'string' || presented.length > 256) return null;
    const digest = sha256(presented);
    if (this.#sharedDigest && timingSafeEqual(digest, this.#sharedDigest)) {
      this.#sharedUses++;
      const now = (this.d.now ?? Date.now)();
      if (now - this.#sharedWarnedAt >= SHARED_KEY_WARN_INTERVAL_MS) {
        this.d.logger.warn({ uses: this.#sharedUses }, 'deprecated shared AGENT_API_KEY used; issue per-machine agent keys instead');
        this.#sharedWarnedAt = now;
        this.#sharedUses = 0;
      }
      return { kind: 'shared' };
    }
    if (!KEY_PATTERN.test(presented)) return null;
    const record = await this.d.store.findByHash(digest.toString('hex'));
    if (!record || record.revokedAt) return null;
    void this.d.store.touch(record.id, new Date((this.d.now ?? Date.now)())).catch(() => undefined);
    return { kind: 'key', keyId: record.id, machineId: record.machineId, name: record.name };
  }

  /** Is this key still live (for connections that authenticated with it)? */
  async isLive(keyId: string): Promise<boolean> {
    const r = await this.d.store.findById(keyId);
    return Boolean(r && !r.revokedAt);
  }

  list(): Promise<AgentKeyRecord[]> {
    return this.d.store.list();
  }

  bindMachine(keyId: string, machineId: string): Promise<string | null> {
    return this.d.store.bindMachine(keyId, machineId);
  }
}
