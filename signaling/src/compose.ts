import type { Config } from './config/config.ts';
import type { Database } from './db/open-database.ts';
import type { Logger } from './logging/logger.ts';
import { AuditLog } from './audit/audit-log.ts';
import { prismaAuditStore } from './db/stores/audit-store.ts';
import { prismaUserStore } from './db/stores/user-store.ts';
import { prismaTokenStore } from './db/stores/token-store.ts';
import { prismaConsoleTicketStore } from './db/stores/console-ticket-store.ts';
import { prismaBlockedIpStore } from './db/stores/blocked-ip-store.ts';
import { prismaAgentKeyStore } from './db/stores/agent-key-store.ts';
import { prismaSessionStore } from './db/stores/session-store.ts';
import { TokenService } from './identity/tokens.ts';
import { Revocations, SecurityEvents } from './identity/revocations.ts';
import { LoginAuthenticator } from './identity/authenticator.ts';
import { IdentityService } from './identity/identity-service.ts';
import { LoginLimiter } from './identity/login-limiter.ts';
import { argon2Hasher, createDummyHash, type PasswordHasher } from './identity/passwords.ts';
import { UserAdmin } from './identity/user-admin.ts';
import { IpBlocker } from './security/ip-blocker.ts';
import type { LimiterFactory } from './security/limiter-factory.ts';
import { AgentKeys } from './agent-keys/agent-keys.ts';
import { prismaMachineStore } from './db/stores/machine-store.ts';
import { prismaSupportCodeStore } from './db/stores/support-code-store.ts';
import { SupportCodes } from './support-codes/support-codes.ts';
import { Registry } from './sessions/registry.ts';

export interface ServiceOptions {
  config: Config;
  db: Database;
  logger: Logger;
  hasher?: PasswordHasher;
  now?: () => number;
  /** Shared counters (Redis) in a cluster. */
  limiter?: LimiterFactory;
}

/** Wire the server's services from the database and config (no I/O beyond loading state). */
export async function buildServices(o: ServiceOptions) {
  const { config, db, logger } = o;
  const now = o.now ?? Date.now;
  const prisma = db.prisma;
  const hasher = o.hasher ?? argon2Hasher;
  const users = prismaUserStore(prisma);
  const tokenStore = prismaTokenStore(prisma);
  const auditStore = prismaAuditStore(prisma);
  const sessions = prismaSessionStore(prisma);
  const audit = new AuditLog(auditStore, logger);
  const events = new SecurityEvents();
  const tokens = new TokenService({ secret: config.JWT_SECRET, loginTtlS: config.LOGIN_TOKEN_TTL_S, now });
  const revocations = new Revocations({ store: tokenStore, events, logger, now });
  const ipBlocker = new IpBlocker(
    { store: prismaBlockedIpStore(prisma), audit, logger },
    { threshold: config.BLOCK_THRESHOLD, windowS: config.BLOCK_WINDOW_S, cooloffS: config.BLOCK_COOLOFF_S, now, limiter: o.limiter },
  );
  const authenticator = new LoginAuthenticator({ tokens, revocations, users });
  const identity = new IdentityService({
    users,
    tokenStore,
    tickets: prismaConsoleTicketStore(prisma),
    tokens,
    revocations,
    authenticator,
    hasher,
    dummyHash: await createDummyHash(hasher),
    limiter: new LoginLimiter({ maxFailures: config.LOGIN_MAX_FAILURES, windowS: config.LOGIN_FAILURE_WINDOW_S, limiter: o.limiter }),
    ipBlocker,
    audit,
    logger,
    now,
  });
  const agentKeys = new AgentKeys({ store: prismaAgentKeyStore(prisma), audit, events, logger, sharedKey: config.AGENT_API_KEY, now });
  const userAdmin = new UserAdmin({ users, hasher, identity, audit });
  const supportCodes = new SupportCodes({ store: prismaSupportCodeStore(prisma), audit, publicUrl: config.PUBLIC_URL, now });
  const machines = prismaMachineStore(prisma);
  const registry = new Registry();
  await revocations.load();
  await ipBlocker.load();
  return { users, tokenStore, auditStore, sessions, audit, events, tokens, revocations, ipBlocker, authenticator, identity, agentKeys, userAdmin, hasher, supportCodes, machines, registry };
}

export type Services = Awaited<ReturnType<typeof buildServices>>;
