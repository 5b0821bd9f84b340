import type { PrismaClient } from '../generated/client.ts';

export interface TokenRecord {
  jti: string;
  userId: string;
  purpose: 'login' | 'viewer';
  parentJti: string | null;
  sessionId: string | null;
  issuedAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
  clientIp: string | null;
  userAgent: string | null;
}

export type NewToken = Omit<TokenRecord, 'revokedAt'>;

/** Issued tokens and their revocations (the durable half of the revocation list). */
export interface TokenStore {
  record(token: NewToken): Promise<void>;
  find(jti: string): Promise<TokenRecord | null>;
  /** The user's unexpired, unrevoked tokens issued after `validAfter`. */
  listLive(userId: string, now: Date, validAfter: Date): Promise<TokenRecord[]>;
  /** Revoke the given tokens and every token minted from them; returns what was newly revoked. */
  revokeWithChildren(jtis: string[], reason: string, at: Date): Promise<Array<{ jti: string; expiresAt: Date }>>;
  /** Revoke every live token of a user; returns what was newly revoked. */
  revokeAllForUser(userId: string, reason: string, at: Date): Promise<Array<{ jti: string; expiresAt: Date }>>;
  /** Revoked tokens that have not yet expired (loaded into memory at start). */
  listRevoked(now: Date): Promise<Array<{ jti: string; expiresAt: Date }>>;
  /** Delete rows that expired before `before`. */
  prune(before: Date): Promise<number>;
}

export function prismaTokenStore(prisma: PrismaClient): TokenStore {
  const select = { jti: true, expiresAt: true } as const;
  return {
    async record(token) {
      await prisma.authToken.create({ data: token });
    },
    async find(jti) {
      return (await prisma.authToken.findUnique({ where: { jti } })) as TokenRecord | null;
    },
    async listLive(userId, now, validAfter) {
      return (await prisma.authToken.findMany({
        where: { userId, revokedAt: null, expiresAt: { gt: now }, issuedAt: { gte: validAfter } },
        orderBy: { issuedAt: 'desc' },
      })) as TokenRecord[];
    },
    async revokeWithChildren(jtis, reason, at) {
      return prisma.$transaction(async (tx) => {
        const targets = await tx.authToken.findMany({
          where: { revokedAt: null, expiresAt: { gt: at }, OR: [{ jti: { in: jtis } }, { parentJti: { in: jtis } }] },
          select,
        });
        await tx.authToken.updateMany({ where: { jti: { in: targets.map((t) => t.jti) } }, data: { revokedAt: at, revokeReason: reason } });
        return targets;
      });
    },
    async revokeAllForUser(userId, reason, at) {
      return prisma.$transaction(async (tx) => {
        const targets = await tx.authToken.findMany({ where: { userId, revokedAt: null, expiresAt: { gt: at } }, select });
        await tx.authToken.updateMany({ where: { jti: { in: targets.map((t) => t.jti) } }, data: { revokedAt: at, revokeReason: reason } });
        return targets;
      });
    },
    listRevoked: (now) => prisma.authToken.findMany({ where: { revokedAt: { not: null }, expiresAt: { gt: now } }, select }),
    async prune(before) {
      return (await prisma.authToken.deleteMany({ where: { expiresAt: { lt: before } } })).count;
    },
  };
}
