import type { PrismaClient } from '../generated/client.ts';

export interface MachineRecord {
  id: string;
  machineUid: string | null;
  keyed: boolean;
  name: string;
  hostname: string | null;
  os: string | null;
  agentVersion: string | null;
  lastSeenAt: Date | null;
  createdAt: Date;
  removedAt: Date | null;
}

export interface MachineMeta {
  name: string;
  hostname?: string | null;
  os?: string | null;
  agentVersion?: string | null;
}

export interface MachineStore {
  findById(id: string): Promise<MachineRecord | null>;
  /** Un-keyed agents only: insert or update the live machine with this uid. */
  upsertByUid(uid: string, meta: MachineMeta, at: Date): Promise<MachineRecord>;
  /** Keyed or uid-less agents: a new machine row that is never uid-indexed. */
  create(meta: MachineMeta & { keyed: boolean }, at: Date): Promise<MachineRecord>;
  touch(id: string, meta: MachineMeta | null, at: Date): Promise<void>;
  /** Soft delete; true when this call removed it. */
  markRemoved(id: string, at: Date): Promise<boolean>;
  /** Hard delete of a row nothing refers to yet (a handshake's machine that lost a race). */
  discard(id: string): Promise<void>;
  listLive(): Promise<MachineRecord[]>;
}

interface RawMachine {
  id: string;
  machine_uid: string | null;
  keyed: boolean;
  name: string;
  hostname: string | null;
  os: string | null;
  agent_version: string | null;
  last_seen_at: Date | null;
  created_at: Date;
  removed_at: Date | null;
}

const fromRaw = (r: RawMachine): MachineRecord => ({
  id: r.id,
  machineUid: r.machine_uid,
  keyed: r.keyed,
  name: r.name,
  hostname: r.hostname,
  os: r.os,
  agentVersion: r.agent_version,
  lastSeenAt: r.last_seen_at ? new Date(r.last_seen_at) : null,
  createdAt: new Date(r.created_at),
  removedAt: r.removed_at ? new Date(r.removed_at) : null,
});

export function prismaMachineStore(prisma: PrismaClient): MachineStore {
  return {
    findById: (id) => prisma.machine.findUnique({ where: { id } }),
    async upsertByUid(uid, meta, at) {
      // The partial unique index (uid, un-keyed, live) makes this race-free across nodes.
      const rows = await prisma.$queryRawUnsafe<RawMachine[]>(
        `INSERT INTO machines (id, machine_uid, keyed, name, hostname, os, agent_version, last_seen_at, created_at)
         VALUES (gen_random_uuid(), $1, false, $2, $3, $4, $5, $6, $6)
         ON CONFLICT (machine_uid) WHERE machine_uid IS NOT NULL AND NOT keyed AND removed_at IS NULL
         DO UPDATE SET name = EXCLUDED.name, hostname = EXCLUDED.hostname, os = EXCLUDED.os,
                       agent_version = EXCLUDED.agent_version, last_seen_at = EXCLUDED.last_seen_at
         RETURNING id, machine_uid, keyed, name, hostname, os, agent_version, last_seen_at, created_at, removed_at`,
        uid,
        meta.name,
        meta.hostname ?? null,
        meta.os ?? null,
        meta.agentVersion ?? null,
        at,
      );
      return fromRaw(rows[0]!);
    },
    create: (meta, at) =>
      prisma.machine.create({
        data: { keyed: meta.keyed, name: meta.name, hostname: meta.hostname ?? null, os: meta.os ?? null, agentVersion: meta.agentVersion ?? null, lastSeenAt: at },
      }),
    async touch(id, meta, at) {
      await prisma.machine.updateMany({
        where: { id, removedAt: null },
        data: { lastSeenAt: at, ...(meta ? { name: meta.name, hostname: meta.hostname ?? null, os: meta.os ?? null, agentVersion: meta.agentVersion ?? null } : {}) },
      });
    },
    async markRemoved(id, at) {
      return (await prisma.machine.updateMany({ where: { id, removedAt: null }, data: { removedAt: at } })).count === 1;
    },
    async discard(id) {
      await prisma.machine.deleteMany({ where: { id } });
    },
    listLive: () => prisma.machine.findMany({ where: { removedAt: null }, orderBy: { name: 'asc' } }),
  };
}
