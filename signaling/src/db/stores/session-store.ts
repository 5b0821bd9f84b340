import type { PrismaClient } from '../generated/client.ts';

export type SessionKind = 'support' | 'unattended';
export type SessionStatus = 'online' | 'offline' | 'ended' | 'removed';
export type SessionPath = 'p2p' | 'relay';

export interface SessionRecord {
  id: string;
  machineId: string | null;
  kind: SessionKind;
  status: SessionStatus;
  path: SessionPath | null;
  nodeId: string | null;
  supportCodeId: string | null;
  startedAt: Date;
  lastSeenAt: Date;
  endedAt: Date | null;
  removedAt: Date | null;
}

export interface SessionStore {
  findById(id: string): Promise<SessionRecord | null>;
  create(s: { machineId: string; kind: SessionKind; supportCodeId?: string | null; nodeId: string }, at: Date): Promise<SessionRecord>;
  /** The machine's persistent sessions that are neither ended nor removed, newest first. */
  listPersistentForMachine(machineId: string): Promise<SessionRecord[]>;
  /**
   * offline → online, atomically; false when the session is not offline any more (reaped, taken).
   * With `takeOverOnline`, a row still marked online (its node died) is taken over too.
   */
  reattach(id: string, nodeId: string, at: Date, takeOverOnline?: boolean): Promise<boolean>;
  setOffline(id: string, at: Date): Promise<void>;
  end(id: string, at: Date): Promise<void>;
  setPath(id: string, path: SessionPath | null): Promise<void>;
  /** Soft delete; true when this call removed it. */
  markRemoved(id: string, by: string | null, at: Date): Promise<boolean>;
  /** Remove a persistent session only if it is still offline (and stale, when a cutoff is given). */
  removeIfOffline(id: string, at: Date, staleBefore?: Date): Promise<boolean>;
  listStale(staleBefore: Date): Promise<SessionRecord[]>;
  listForMachine(machineId: string): Promise<SessionRecord[]>;
  listActive(): Promise<SessionRecord[]>;
  /** At start-up: what nodes other than `liveNodes` held goes offline (persistent) or ends (support). */
  settleAfterRestart(at: Date, liveNodes: string[]): Promise<number>;
  /** One node died: what it held goes offline (persistent) or ends (support). */
  settleNode(at: Date, nodeId: string): Promise<number>;
}

const cast = <T>(v: unknown) => v as T;

export function prismaSessionStore(prisma: PrismaClient): SessionStore {
  const live = { removedAt: null, status: { in: ['online', 'offline'] } };
  return {
    findById: async (id) => cast<SessionRecord | null>(await prisma.session.findUnique({ where: { id } })),
    create: async (s, at) =>
      cast<SessionRecord>(
        await prisma.session.create({ data: { machineId: s.machineId, kind: s.kind, supportCodeId: s.supportCodeId ?? null, nodeId: s.nodeId, status: 'online', startedAt: at, lastSeenAt: at } }),
      ),
    listPersistentForMachine: async (machineId) =>
      cast<SessionRecord[]>(await prisma.session.findMany({ where: { machineId, kind: 'unattended', ...live }, orderBy: { lastSeenAt: 'desc' } })),
    async reattach(id, nodeId, at, takeOverOnline = false) {
      const status = takeOverOnline ? { in: ['offline', 'online'] } : 'offline';
      const r = await prisma.session.updateMany({ where: { id, status, removedAt: null }, data: { status: 'online', nodeId, lastSeenAt: at } });
      return r.count === 1;
    },
    async setOffline(id, at) {
      await prisma.session.updateMany({ where: { id, status: 'online' }, data: { status: 'offline', lastSeenAt: at, path: null } });
    },
    async end(id, at) {
      await prisma.session.updateMany({ where: { id, status: { in: ['online', 'offline'] } }, data: { status: 'ended', endedAt: at, lastSeenAt: at, path: null } });
    },
    async setPath(id, path) {
      await prisma.session.updateMany({ where: { id }, data: { path } });
    },
    async markRemoved(id, by, at) {
      const r = await prisma.session.updateMany({ where: { id, removedAt: null }, data: { status: 'removed', removedAt: at, removedBy: by, endedAt: at } });
      return r.count === 1;
    },
    async removeIfOffline(id, at, staleBefore) {
      const r = await prisma.session.updateMany({
        where: { id, kind: 'unattended', status: 'offline', removedAt: null, ...(staleBefore ? { lastSeenAt: { lt: staleBefore } } : {}) },
        data: { status: 'removed', removedAt: at, endedAt: at },
      });
      return r.count === 1;
    },
    listStale: async (staleBefore) =>
      cast<SessionRecord[]>(await prisma.session.findMany({ where: { kind: 'unattended', status: 'offline', removedAt: null, lastSeenAt: { lt: staleBefore } }, take: 1000 })),
    listForMachine: async (machineId) => cast<SessionRecord[]>(await prisma.session.findMany({ where: { machineId, ...live } })),
    listActive: async () => cast<SessionRecord[]>(await prisma.session.findMany({ where: live, orderBy: { startedAt: 'desc' }, take: 5000 })),
    async settleAfterRestart(at, liveNodes) {
      return settle(at, liveNodes.length ? { OR: [{ nodeId: { notIn: liveNodes } }, { nodeId: null }] } : {});
    },
    async settleNode(at, nodeId) {
      return settle(at, { nodeId });
    },
  };

  async function settle(at: Date, scope: object): Promise<number> {
    {
      const a = await prisma.session.updateMany({ where: { status: 'online', kind: 'unattended', ...scope }, data: { status: 'offline', lastSeenAt: at, path: null } });
      const b = await prisma.session.updateMany({ where: { status: { in: ['online', 'offline'] }, kind: 'support', ...scope }, data: { status: 'ended', endedAt: at, path: null } });
      return a.count + b.count;
    }
  }
}
