import type { FastifyInstance } from 'fastify';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { AppError } from '@guruconnect/shared/errors';
import {
  agentVersionsQuerySchema,
  auditQuerySchema,
  compareVersions,
  semverSchema,
  updateQuerySchema,
  updateReportSchema,
  type AgentVersions,
  type SignedManifest,
} from '@guruconnect/shared/protocol';
import type { AuditStore } from '../../db/stores/audit-store.ts';
import type { MachineRecord, MachineStore } from '../../db/stores/machine-store.ts';
import type { Logger } from '../../logging/logger.ts';
import type { UpdateCatalog } from '../../updates/update-catalog.ts';
import { defineRoutes, route, type RouteEnv } from '../route.ts';
import { authenticateAgentKey, parseInput, type AgentKeyAuthDeps } from './agent-key-auth.ts';

/** Update reports accepted per agent key per hour (each one writes an audit row). */
export const UPDATE_REPORTS_PER_HOUR = 60;

export interface UpdateRouteDeps extends AgentKeyAuthDeps {
  catalog: Pick<UpdateCatalog, 'latest' | 'published'>;
  machines: Pick<MachineStore, 'findById' | 'touch' | 'listLive'>;
  auditStore: Pick<AuditStore, 'list'>;
  logger: Logger;
  now?: () => number;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** Group live machines by reported version: newest first, unparseable versions next, unknown last. */
function byVersion(machines: MachineRecord[]): AgentVersions['versions'] {
  const groups = new Map<string | null, MachineRecord[]>();
  for (const m of machines) groups.set(m.agentVersion, [...(groups.get(m.agentVersion) ?? []), m]);
  const rank = (v: string | null) => (v === null ? 2 : semverSchema.safeParse(v).success ? 0 : 1);
  return [...groups.entries()]
    .sort(([a], [b]) => rank(a) - rank(b) || (rank(a) === 0 ? compareVersions(b!, a!) : String(a).localeCompare(String(b))))
    .map(([version, ms]) => ({ version, count: ms.length, machines: ms.map((m) => ({ id: m.id, name: m.name, lastSeenAt: m.lastSeenAt?.toISOString() ?? null })) }));
}

/**
 * Agent updates:
 * - `GET /api/agent/update` (agent key): the signed manifest for a platform and channel, as signed.
 * - `POST /api/agent/update-report` (per-machine agent key): audit an update decision and record
 *   the version the machine now runs.
 * - `GET /api/agent/versions` (admin): versions in the fleet, what is published, recent rejections and applied updates.
 *
 * The agent-key routes are declared `public` to the route table (which knows only login levels)
 * and authenticate the agent key themselves, before reading any input.
 */
export function updateRoutes(app: FastifyInstance, env: RouteEnv, d: UpdateRouteDeps) {
  const now = d.now ?? Date.now;
  const reportLimiter = new RateLimiterMemory({ keyPrefix: 'update-report', points: UPDATE_REPORTS_PER_HOUR, duration: 3600 });

  defineRoutes(
    app,
    [
      route({
        method: 'GET',
        url: '/api/agent/update',
        auth: 'public',
        handler: async ({ req, reply, ip }): Promise<SignedManifest> => {
          await authenticateAgentKey(req.headers.authorization, ip, 'GET /api/agent/update', d);
          const q = parseInput(updateQuerySchema, req.query, 'query');
          const signed = await d.catalog.latest(q.platform, q.channel);
          if (!signed) throw new AppError('ERR_NOT_FOUND', 'No update is published for this platform and channel');
          void reply.header('cache-control', 'no-store');
          return signed;
        },
      }),
      route({
        method: 'POST',
        url: '/api/agent/update-report',
        auth: 'public',
        handler: async ({ req, ip }) => {
          const key = await authenticateAgentKey(req.headers.authorization, ip, 'POST /api/agent/update-report', d);
          if (key.kind !== 'key' || !key.machineId) {
            throw new AppError('ERR_AUTH_FORBIDDEN', 'Update reports need a per-machine agent key that has connected once');
          }
          try {
            await reportLimiter.consume(key.keyId);
          } catch (res) {
            if (!(res instanceof RateLimiterRes)) throw res;
            throw new AppError('ERR_RATE_LIMITED', 'Too many update reports', { retryAfterS: Math.ceil(res.msBeforeNext / 1000) });
          }
          const report = parseInput(updateReportSchema, req.body, 'body');
          const machine = await d.machines.findById(key.machineId);
          if (!machine || machine.removedAt) throw new AppError('ERR_AGENT_MACHINE_UNRESOLVED', 'The machine of this key cannot be resolved');

          const at = new Date(now());
          await d.machines.touch(machine.id, { name: machine.name, hostname: machine.hostname, os: machine.os, agentVersion: report.runningVersion }, at);
          await d.audit.record({
            type: report.outcome === 'applied' ? 'agent_update_applied' : 'agent_update_rejected',
            actor: `key:${key.keyId}`,
            target: `machine:${machine.id}`,
            clientIp: ip,
            details: {
              machineId: machine.id,
              machineName: machine.name,
              keyId: key.keyId,
              ...(report.outcome === 'rejected' ? { reason: report.reason, detail: report.detail ?? null } : {}),
              platform: report.platform,
              channel: report.channel,
              fromVersion: report.fromVersion,
              toVersion: report.toVersion ?? null,
              runningVersion: report.runningVersion,
              issuedAt: report.issuedAt ?? null,
              // The release key's id (the name `keyId` is the agent key's here).
              signedBy: report.signingKeyId ?? null,
              decidedAt: report.decidedAt,
            },
          });
          d.logger.info(
            { machineId: machine.id, outcome: report.outcome, reason: report.outcome === 'rejected' ? report.reason : undefined, fromVersion: report.fromVersion, toVersion: report.toVersion },
            'agent update reported',
          );
          return { recorded: true as const };
        },
      }),
      route({
        method: 'GET',
        url: '/api/agent/versions',
        auth: 'admin',
        query: agentVersionsQuerySchema,
        handler: async ({ query }): Promise<AgentVersions> => {
          const [machines, published, rows, appliedRows] = await Promise.all([
            d.machines.listLive(),
            d.catalog.published(),
            d.auditStore.list(auditQuerySchema.parse({ type: 'agent_update_rejected', limit: query.limit })),
            d.auditStore.list(auditQuerySchema.parse({ type: 'agent_update_applied', limit: query.limit })),
          ]);
          return {
            versions: byVersion(machines),
            published: published.map(({ file: _file, ...p }) => p),
            rejections: rows.map((r) => ({
              at: r.createdAt.toISOString(),
              machineId: str(r.details.machineId),
              machineName: str(r.details.machineName),
              reason: str(r.details.reason) ?? 'unknown',
              fromVersion: str(r.details.fromVersion),
              toVersion: str(r.details.toVersion),
              detail: str(r.details.detail),
              clientIp: r.clientIp,
            })),
            applied: appliedRows.map((r) => ({
              at: r.createdAt.toISOString(),
              machineId: str(r.details.machineId),
              machineName: str(r.details.machineName),
              fromVersion: str(r.details.fromVersion),
              toVersion: str(r.details.toVersion),
              signedBy: str(r.details.signedBy),
            })),
          };
        },
      }),
    ],
    env,
  );
}
