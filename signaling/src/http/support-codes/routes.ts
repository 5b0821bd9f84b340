import type { FastifyInstance } from 'fastify';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { AppError } from '@guruconnect/shared/errors';
import { createSupportCodeRequestSchema, supportCodeParamsSchema, type JoinInfo } from '@guruconnect/shared/protocol';
import { z } from 'zod';
import type { UserStore } from '../../db/stores/user-store.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import type { IpBlocker } from '../../security/ip-blocker.ts';
import type { Registry } from '../../sessions/registry.ts';
import type { SupportCodes } from '../../support-codes/support-codes.ts';
import type { SessionService } from '../../sessions/session-service.ts';
import { defineRoutes, route, type RouteEnv } from '../route.ts';
import { abuseKey } from '../../net/client-ip.ts';

export function supportCodeRoutes(
  app: FastifyInstance,
  env: RouteEnv,
  d: { codes: SupportCodes; users: UserStore; audit: AuditLog; ipBlocker: IpBlocker; registry: Registry; service: SessionService; joinLookupsPerMin: number },
) {
  // The public join lookup is a guessing oracle: limit it per IP and count wrong codes as failures.
  const joinLimiter = new RateLimiterMemory({ keyPrefix: 'join', points: d.joinLookupsPerMin, duration: 60 });
  const sessionForCode = (codeId: string) => [...d.registry.agents.values()].find((a) => a.supportCodeId === codeId);
  defineRoutes(
    app,
    [
      route({
        method: 'POST',
        url: '/api/support-codes',
        auth: 'perm:manage_codes',
        status: 201,
        body: createSupportCodeRequestSchema,
        handler: async ({ body, principal, ip }) => d.codes.toWire(await d.codes.create(principal, body.label || null, body.ttlMinutes, ip)),
      }),
      route({
        method: 'GET',
        url: '/api/support-codes',
        auth: 'perm:manage_codes',
        handler: async ({ principal }) => ({ codes: (await d.codes.list(principal)).map((c) => d.codes.toWire(c, sessionForCode(c.id)?.sessionId ?? null)) }),
      }),
      route({
        method: 'POST',
        url: '/api/support-codes/:code/cancel',
        auth: 'perm:manage_codes',
        params: supportCodeParamsSchema,
        handler: async ({ params, principal, ip }) => {
          const record = await d.codes.cancel(principal, params.code, ip);
          // Cancelling a connected code ends its session.
          const agent = sessionForCode(record.id);
          if (agent) await d.service.removeSession(agent.sessionId, { userId: principal.userId, username: principal.username, ip });
          return d.codes.toWire(record);
        },
      }),
      route({
        method: 'GET',
        url: '/api/join/:code',
        auth: 'public',
        params: z.object({ code: z.string().max(16) }),
        handler: async ({ params, ip }): Promise<JoinInfo> => {
          const blocked = d.ipBlocker.blockedForS(ip);
          if (blocked > 0) throw new AppError('ERR_AUTH_IP_BLOCKED', 'Too many failures from your address', { retryAfterS: blocked });
          try {
            await joinLimiter.consume(abuseKey(ip) ?? ip);
          } catch (res) {
            throw new AppError('ERR_RATE_LIMITED', 'Too many lookups', { retryAfterS: ((res as { msBeforeNext?: number }).msBeforeNext ?? 60_000) / 1000 });
          }
          const record = /^\d{6}$/.test(params.code) ? await d.codes.findLatest(params.code) : null;
          const wire = record && d.codes.toWire(record);
          if (!record || !wire || wire.status !== 'pending') {
            await d.audit.record({ type: 'support_code_guess', clientIp: ip, details: { status: wire?.status ?? 'unknown' } });
            await d.ipBlocker.recordFailure(ip, 'support_code_guess');
            if (!record) throw new AppError('ERR_SUPPORT_CODE_NOT_FOUND', 'No such support code');
          }
          const creator = await d.users.findById(record.createdBy);
          return { technician: creator?.displayName ?? 'Technician', label: record.label, usable: wire?.status === 'pending' };
        },
      }),
    ],
    env,
  );
}
