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
  supportCodeId: string | null;
  startedAt: Date;
  lastSeenAt: Date;
  endedAt: Date | null;
  removedAt: Date | null;
}

export interface SessionStore {
  findById(id: string): Promise<SessionRecord | null>;
}

export function prismaSessionStore(prisma: PrismaClient): SessionStore {
  return {
    async findById(id) {
      return (await prisma.session.findUnique({ where: { id } })) as SessionRecord | null;
    },
  };
}
