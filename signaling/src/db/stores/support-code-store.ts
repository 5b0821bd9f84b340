import type { SupportCodeStatus } from '@guruconnect/shared/protocol';
import type { PrismaClient } from '../generated/client.ts';

export interface SupportCodeRecord {
  id: string;
  code: string;
  label: string | null;
  createdBy: string;
  status: SupportCodeStatus;
  expiresAt: Date;
  createdAt: Date;
  connectedAt: Date | null;
  endedAt: Date | null;
}

export interface SupportCodeStore {
  /** Throws on a live-code collision (unique partial index); the caller retries with another code. */
  create(c: { code: string; label: string | null; createdBy: string; expiresAt: Date }): Promise<SupportCodeRecord>;
  /** The most recent code row with these digits (any status). */
  findLatest(code: string): Promise<SupportCodeRecord | null>;
  /** pending and unexpired → connected, atomically. Null when not claimable. */
  claim(code: string, at: Date): Promise<SupportCodeRecord | null>;
  /** pending|connected → a final status; true when this call changed it. */
  finish(id: string, status: 'completed' | 'cancelled', at: Date): Promise<boolean>;
  /** pending past expiry → expired. */
  expireDue(at: Date): Promise<number>;
  list(createdBy: string | null): Promise<SupportCodeRecord[]>;
}

const cast = <T>(v: unknown) => v as T;

export function prismaSupportCodeStore(prisma: PrismaClient): SupportCodeStore {
  return {
    create: async (c) => cast<SupportCodeRecord>(await prisma.supportCode.create({ data: c })),
    findLatest: async (code) => cast<SupportCodeRecord | null>(await prisma.supportCode.findFirst({ where: { code }, orderBy: { createdAt: 'desc' } })),
    async claim(code, at) {
      const r = await prisma.supportCode.updateMany({ where: { code, status: 'pending', expiresAt: { gt: at } }, data: { status: 'connected', connectedAt: at } });
      if (r.count !== 1) return null;
      return cast<SupportCodeRecord | null>(await prisma.supportCode.findFirst({ where: { code, status: 'connected' }, orderBy: { createdAt: 'desc' } }));
    },
    async finish(id, status, at) {
      const r = await prisma.supportCode.updateMany({ where: { id, status: { in: ['pending', 'connected'] } }, data: { status, endedAt: at } });
      return r.count === 1;
    },
    async expireDue(at) {
      return (await prisma.supportCode.updateMany({ where: { status: 'pending', expiresAt: { lte: at } }, data: { status: 'expired', endedAt: at } })).count;
    },
    list: async (createdBy) =>
      cast<SupportCodeRecord[]>(await prisma.supportCode.findMany({ where: createdBy ? { createdBy } : {}, orderBy: { createdAt: 'desc' }, take: 500 })),
  };
}
