import { randomInt } from 'node:crypto';
import { AppError } from '@guruconnect/shared/errors';
import type { AuditEventType, SupportCodeWire } from '@guruconnect/shared/protocol';
import type { AuditLog } from '../audit/audit-log.ts';
import type { SupportCodeRecord, SupportCodeStore } from '../db/stores/support-code-store.ts';
import type { Principal } from '../identity/principal.ts';

/** Why a presented code cannot be used, with its audit type and error code. */
export interface CodeRefusal {
  code: 'ERR_SUPPORT_CODE_INVALID' | 'ERR_SUPPORT_CODE_EXPIRED' | 'ERR_SUPPORT_CODE_CANCELLED' | 'ERR_SUPPORT_CODE_USED';
  audit: AuditEventType;
}

const MAX_ATTEMPTS = 20;

/** Attended-support codes: six CSPRNG digits, single use, with a status lifecycle. */
export class SupportCodes {
  constructor(private readonly d: { store: SupportCodeStore; audit: AuditLog; publicUrl: string; now?: () => number }) {}

  #now(): Date {
    return new Date((this.d.now ?? Date.now)());
  }

  toWire(r: SupportCodeRecord, sessionId: string | null = null): SupportCodeWire {
    const expired = r.status === 'pending' && r.expiresAt <= this.#now();
    return {
      id: r.id,
      code: r.code,
      link: `${this.d.publicUrl}/join/${r.code}`,
      label: r.label,
      status: expired ? 'expired' : r.status,
      expiresAt: r.expiresAt.toISOString(),
      createdAt: r.createdAt.toISOString(),
      createdBy: r.createdBy,
      sessionId,
    };
  }

  async create(p: Principal, label: string | null, ttlMinutes: number, ip: string): Promise<SupportCodeRecord> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
      try {
        const record = await this.d.store.create({ code, label, createdBy: p.userId, expiresAt: new Date(this.#now().getTime() + ttlMinutes * 60_000) });
        await this.d.audit.record({ type: 'support_code_created', actorUserId: p.userId, actor: p.username, target: `support_code:${record.id}`, clientIp: ip, details: { codeId: record.id, ttlMinutes } });
        return record;
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
      }
    }
    throw new AppError('ERR_SUPPORT_CODE_EXHAUSTED', 'Could not allocate a free support code; try again');
  }

  /** Why this code cannot be claimed right now (called after a failed claim). */
  async explainRefusal(code: string): Promise<CodeRefusal> {
    const r = await this.d.store.findLatest(code);
    if (!r) return { code: 'ERR_SUPPORT_CODE_INVALID', audit: 'connection_rejected_invalid_code' };
    if (r.status === 'cancelled') return { code: 'ERR_SUPPORT_CODE_CANCELLED', audit: 'connection_rejected_cancelled_code' };
    if (r.status === 'expired' || (r.status === 'pending' && r.expiresAt <= this.#now())) return { code: 'ERR_SUPPORT_CODE_EXPIRED', audit: 'connection_rejected_expired_code' };
    return { code: 'ERR_SUPPORT_CODE_USED', audit: 'connection_rejected_used_code' };
  }

  /** Atomically take a pending code for an agent connection. */
  claim(code: string): Promise<SupportCodeRecord | null> {
    return this.d.store.claim(code, this.#now());
  }

  complete(id: string): Promise<boolean> {
    return this.d.store.finish(id, 'completed', this.#now());
  }

  /** Cancel a pending or connected code; only its creator or an admin may. */
  async cancel(p: Principal, code: string, ip: string): Promise<SupportCodeRecord> {
    const r = await this.d.store.findLatest(code);
    if (!r || (r.createdBy !== p.userId && p.role !== 'admin')) throw new AppError('ERR_SUPPORT_CODE_NOT_FOUND', 'No such support code');
    if (await this.d.store.finish(r.id, 'cancelled', this.#now())) {
      await this.d.audit.record({ type: 'support_code_cancelled', actorUserId: p.userId, actor: p.username, target: `support_code:${r.id}`, clientIp: ip, details: { codeId: r.id } });
    }
    return (await this.d.store.findLatest(code)) ?? r;
  }

  list(p: Principal): Promise<SupportCodeRecord[]> {
    return this.d.store.list(p.role === 'admin' ? null : p.userId);
  }

  findLatest(code: string): Promise<SupportCodeRecord | null> {
    return this.d.store.findLatest(code);
  }

  expireDue(): Promise<number> {
    return this.d.store.expireDue(this.#now());
  }
}

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === 'P2002' || /unique|duplicate key/i.test(e?.message ?? '');
}
