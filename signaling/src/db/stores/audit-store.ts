import type { AuditEventType, AuditQuery } from '@guruconnect/shared/protocol';
import type { PrismaClient } from '../generated/client.ts';

export interface AuditEntry {
  type: AuditEventType;
  actorUserId?: string | null;
  actor?: string | null;
  target?: string | null;
  sessionId?: string | null;
  clientIp?: string | null;
  details?: Record<string, unknown>;
}

export interface AuditRecord extends Required<Omit<AuditEntry, 'details'>> {
  id: string;
  details: Record<string, unknown>;
  createdAt: Date;
}

export interface FailureGroup {
  ip: string | null;
  type: AuditEventType;
  count: number;
  firstAt: Date;
  lastAt: Date;
}

export interface AuditStore {
  insert(entry: AuditEntry): Promise<void>;
  /** Several rows in one statement, in order (all or none). Optional: stores without it insert one by one. */
  insertMany?(entries: readonly AuditEntry[]): Promise<void>;
  /** Newest first; `cursor` is an exclusive upper bound on the id. */
  list(q: AuditQuery): Promise<AuditRecord[]>;
  failureGroups(types: readonly AuditEventType[], since: Date): Promise<FailureGroup[]>;
}

function row(e: AuditEntry) {
  return {
    type: e.type,
    actorUserId: e.actorUserId ?? null,
    actor: e.actor ?? null,
    target: e.target ?? null,
    sessionId: e.sessionId ?? null,
    clientIp: e.clientIp ?? null,
    details: (e.details ?? {}) as object,
  };
}

export function prismaAuditStore(prisma: PrismaClient): AuditStore {
  return {
    async insert(e) {
      await prisma.auditEvent.create({ data: row(e) });
    },
    async insertMany(entries) {
      await prisma.auditEvent.createMany({ data: entries.map(row) });
    },
    async list(q) {
      const rows = await prisma.auditEvent.findMany({
        where: {
          ...(q.type ? { type: q.type } : {}),
          ...(q.ip ? { clientIp: q.ip } : {}),
          ...(q.actor ? { actor: q.actor } : {}),
          ...(q.session ? { sessionId: q.session } : {}),
          ...(q.since || q.until ? { createdAt: { ...(q.since ? { gte: new Date(q.since) } : {}), ...(q.until ? { lt: new Date(q.until) } : {}) } } : {}),
          ...(q.cursor ? { id: { lt: BigInt(q.cursor) } } : {}),
        },
        orderBy: { id: 'desc' },
        take: q.limit,
      });
      return rows.map((r) => ({ ...r, id: r.id.toString(), type: r.type as AuditEventType, details: (r.details ?? {}) as Record<string, unknown> }));
    },
    async failureGroups(types, since) {
      const groups = await prisma.auditEvent.groupBy({
        by: ['clientIp', 'type'],
        where: { type: { in: [...types] }, createdAt: { gte: since } },
        _count: { _all: true },
        _min: { createdAt: true },
        _max: { createdAt: true },
      });
      return groups
        .map((g) => ({
          ip: g.clientIp,
          type: g.type as AuditEventType,
          count: g._count._all,
          firstAt: g._min.createdAt ?? since,
          lastAt: g._max.createdAt ?? since,
        }))
        .sort((a, b) => b.count - a.count);
    },
  };
}
