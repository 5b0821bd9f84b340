import type { PrismaClient } from '../generated/client.ts';

export interface BlockedIpRecord {
  ip: string;
  reason: string;
  blockedAt: Date;
  expiresAt: Date;
}

export interface BlockedIpStore {
  listActive(now: Date): Promise<BlockedIpRecord[]>;
  upsert(block: BlockedIpRecord): Promise<void>;
  /** True when a row was removed. */
  remove(ip: string): Promise<boolean>;
}

export function prismaBlockedIpStore(prisma: PrismaClient): BlockedIpStore {
  return {
    listActive: (now) => prisma.blockedIp.findMany({ where: { expiresAt: { gt: now } }, orderBy: { blockedAt: 'desc' }, select: { ip: true, reason: true, blockedAt: true, expiresAt: true } }),
    async upsert(b) {
      await prisma.blockedIp.upsert({ where: { ip: b.ip }, create: b, update: { reason: b.reason, blockedAt: b.blockedAt, expiresAt: b.expiresAt } });
    },
    async remove(ip) {
      return (await prisma.blockedIp.deleteMany({ where: { ip } })).count > 0;
    },
  };
}
