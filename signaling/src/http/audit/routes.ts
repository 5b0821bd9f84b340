import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { AppError } from '@guruconnect/shared/errors';
import { AUDIT_EVENT_TYPES, auditQuerySchema, failedConnectionsQuerySchema, type AuditEventType } from '@guruconnect/shared/protocol';
import type { AuditStore } from '../../db/stores/audit-store.ts';
import type { IpBlocker } from '../../security/ip-blocker.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import { abuseKey, normalizeIp } from '../../net/client-ip.ts';
import { defineRoutes, route, type RouteEnv } from '../route.ts';

/** Event types that count as failed attempts in the brute-force view. */
export const FAILURE_TYPES: readonly AuditEventType[] = AUDIT_EVENT_TYPES.filter((t) => t.startsWith('connection_rejected_') || t === 'login_failed' || t === 'support_code_guess');

const UNIT_S = { s: 1, m: 60, h: 3600, d: 86400 } as const;

export function auditRoutes(app: FastifyInstance, env: RouteEnv, d: { store: AuditStore; ipBlocker: IpBlocker; audit: AuditLog; now?: () => number }) {
  const now = d.now ?? Date.now;
  defineRoutes(
    app,
    [
      route({
        method: 'GET',
        url: '/api/audit',
        auth: 'admin',
        query: auditQuerySchema,
        handler: async ({ query }) => {
          if (query.ip && !normalizeIp(query.ip)) throw new AppError('ERR_VALIDATION', 'Invalid query: ip');
          const rows = await d.store.list({ ...query, ip: query.ip ? normalizeIp(query.ip) : undefined });
          return {
            events: rows.map((r) => ({ ...r, createdAt: r.createdAt.toISOString() })),
            nextCursor: rows.length === query.limit ? rows[rows.length - 1]!.id : null,
          };
        },
      }),
      route({
        method: 'GET',
        url: '/api/audit/failed-connections',
        auth: 'admin',
        query: failedConnectionsQuerySchema,
        handler: async ({ query }) => {
          const windowS = Number(query.window.slice(0, -1)) * UNIT_S[query.window.slice(-1) as keyof typeof UNIT_S];
          const groups = await d.store.failureGroups(FAILURE_TYPES, new Date(now() - windowS * 1000));
          return { windowS, groups: groups.map((g) => ({ ...g, firstAt: g.firstAt.toISOString(), lastAt: g.lastAt.toISOString() })) };
        },
      }),
      route({
        method: 'GET',
        url: '/api/blocked-ips',
        auth: 'admin',
        handler: async () => ({
          blocked: (await d.ipBlocker.list()).map((b) => ({ ip: b.ip, reason: b.reason, blockedAt: b.blockedAt.toISOString(), expiresAt: b.expiresAt.toISOString() })),
        }),
      }),
      route({
        method: 'DELETE',
        url: '/api/blocked-ips/:ip',
        auth: 'admin',
        params: z.object({ ip: z.string().max(64) }),
        handler: async ({ params, principal, ip }) => {
          let decoded: string;
          try {
            decoded = decodeURIComponent(params.ip);
          } catch {
            throw new AppError('ERR_VALIDATION', 'Invalid params: ip');
          }
          // An address or an IPv6 /64 as listed; an IPv6 address unblocks its /64 (blocks are per /64).
          const target = abuseKey(decoded);
          if (!target) throw new AppError('ERR_VALIDATION', 'Invalid params: ip');
          if (!(await d.ipBlocker.unblock(target))) throw new AppError('ERR_IP_NOT_BLOCKED', 'That address is not blocked');
          await d.audit.record({ type: 'ip_unblocked', actorUserId: principal.userId, actor: principal.username, target, clientIp: ip });
          return { unblocked: target };
        },
      }),
    ],
    env,
  );
}
