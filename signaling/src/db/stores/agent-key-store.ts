import { AppError } from '@guruconnect/shared/errors';
import type { PrismaClient } from '../generated/client.ts';

export interface AgentKeyRecord {
  id: string;
  name: string;
  keyHash: string;
  keyPrefix: string;
  machineId: string | null;
  createdBy: string | null;
  createdAt: Date;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

export interface AgentKeyStore {
  create(k: Pick<AgentKeyRecord, 'name' | 'keyHash' | 'keyPrefix' | 'machineId' | 'createdBy'>): Promise<AgentKeyRecord>;
  list(): Promise<AgentKeyRecord[]>;
  findById(id: string): Promise<AgentKeyRecord | null>;
  findByHash(keyHash: string): Promise<AgentKeyRecord | null>;
  /** Sets revoked_at when unset; returns true when this call revoked it. */
  revoke(id: string, at: Date): Promise<boolean>;
  /** Revoke every key bound to a machine; returns the ids newly revoked. */
  revokeForMachine(machineId: string, at: Date): Promise<string[]>;
  /** Binds an unbound key to `machineId`; returns the machine the key is bound to now (the first binder wins), null when the key is gone. */
  bindMachine(id: string, machineId: string): Promise<string | null>;
  touch(id: string, at: Date): Promise<void>;
}

export function prismaAgentKeyStore(prisma: PrismaClient): AgentKeyStore {
  return {
    async create(k) {
      try {
        return await prisma.agentKey.create({ data: k });
      } catch (err) {
        // P2003: the machine it names does not exist.
        if ((err as { code?: unknown }).code === 'P2003') throw new AppError('ERR_MACHINE_NOT_FOUND', 'No such machine');
        throw err;
      }
    },
    list: () => prisma.agentKey.findMany({ orderBy: { createdAt: 'desc' } }),
    findById: (id) => prisma.agentKey.findUnique({ where: { id } }),
    findByHash: (keyHash) => prisma.agentKey.findUnique({ where: { keyHash } }),
    async revoke(id, at) {
      return (await prisma.agentKey.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: at } })).count === 1;
    },
    async revokeForMachine(machineId, at) {
      return prisma.$transaction(async (tx) => {
        const rows = await tx.agentKey.findMany({ where: { machineId, revokedAt: null }, select: { id: true } });
        await tx.agentKey.updateMany({ where: { id: { in: rows.map((r) => r.id) } }, data: { revokedAt: at } });
        return rows.map((r) => r.id);
      });
    },
    async bindMachine(id, machineId) {
      // Conditional in the database: of two first handshakes racing, exactly one binds.
      if ((await prisma.agentKey.updateMany({ where: { id, machineId: null }, data: { machineId } })).count === 1) return machineId;
      return (await prisma.agentKey.findUnique({ where: { id }, select: { machineId: true } }))?.machineId ?? null;
    },
    async touch(id, at) {
      await prisma.agentKey.updateMany({ where: { id }, data: { lastUsedAt: at } });
    },
  };
}
