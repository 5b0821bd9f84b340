import type { z } from 'zod';
import { AppError } from '@guruconnect/shared/errors';
import type { AgentKeyIdentity, AgentKeys } from '../../agent-keys/agent-keys.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import type { IpBlocker } from '../../security/ip-blocker.ts';

/** `Authorization: AgentKey cak_…` — how agents authenticate on HTTP routes. */
export const AGENT_KEY_SCHEME = /^AgentKey[ \t]+(\S+)$/i;

export interface AgentKeyAuthDeps {
  agentKeys: Pick<AgentKeys, 'resolve'>;
  audit: AuditLog;
  ipBlocker: Pick<IpBlocker, 'blockedForS' | 'recordFailure'>;
}

/**
 * Authenticate an agent from its `Authorization` header, as the agent plane's handshake does:
 * a blocked IP is refused before any key work; an unknown or revoked key is audited
 * (`connection_rejected_invalid_api_key`) and counts towards blocking the IP.
 */
export async function authenticateAgentKey(authorization: string | undefined, ip: string, route: string, d: AgentKeyAuthDeps): Promise<AgentKeyIdentity> {
  const blockedS = d.ipBlocker.blockedForS(ip);
  if (blockedS > 0) throw new AppError('ERR_AUTH_IP_BLOCKED', 'Too many failures from your address', { retryAfterS: blockedS });
  const presented = authorization ? AGENT_KEY_SCHEME.exec(authorization)?.[1] : undefined;
  if (!presented) throw new AppError('ERR_AUTH_REQUIRED', 'An agent key is required (Authorization: AgentKey cak_…)');
  const identity = await d.agentKeys.resolve(presented);
  if (!identity) {
    await d.audit.record({ type: 'connection_rejected_invalid_api_key', clientIp: ip, details: { plane: 'http', route, errorCode: 'ERR_AGENT_KEY_INVALID' } });
    await d.ipBlocker.recordFailure(ip, 'connection_rejected_invalid_api_key');
    throw new AppError('ERR_AGENT_KEY_INVALID', 'Unknown or revoked agent key');
  }
  return identity;
}

/** Validate input after authentication (agent-key routes authenticate inside the handler, so they validate there too). */
export function parseInput<T>(schema: z.ZodType<T>, value: unknown, where: 'body' | 'query'): T {
  const result = schema.safeParse(value ?? (where === 'query' ? {} : undefined));
  if (!result.success) {
    const first = result.error.issues[0];
    const path = first?.path.join('.') || where;
    throw new AppError('ERR_VALIDATION', `Invalid ${where}: ${path} ${first?.message ?? ''}`.trim(), { details: { where, path } });
  }
  return result.data;
}
