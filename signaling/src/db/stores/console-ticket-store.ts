import type { PrismaClient } from '../generated/client.ts';

export interface ConsoleTicketStore {
  create(t: { ticketHash: string; userId: string; loginJti: string; expiresAt: Date }): Promise<void>;
  /** Atomically mark a live, unused ticket used; returns its owner or null. */
  consume(ticketHash: string, now: Date): Promise<{ userId: string; loginJti: string } | null>;
  prune(before: Date): Promise<void>;
}

export function prismaConsoleTicketStore(prisma: PrismaClient): ConsoleTicketStore {
  return {
    async create(t) {
      await prisma.consoleTicket.create({ data: t });
    },
    async consume(ticketHash, now) {
      const res = await prisma.consoleTicket.updateMany({ where: { ticketHash, usedAt: null, expiresAt: { gt: now } }, data: { usedAt: now } });
      if (res.count !== 1) return null;
      return prisma.consoleTicket.findUnique({ where: { ticketHash }, select: { userId: true, loginJti: true } });
    },
    async prune(before) {
      await prisma.consoleTicket.deleteMany({ where: { expiresAt: { lt: before } } });
    },
  };
}
