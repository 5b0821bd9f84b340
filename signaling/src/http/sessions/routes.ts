import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { AppError } from '@guruconnect/shared/errors';
import { bulkRemoveRequestSchema, idParamsSchema, type MachineWire, type SessionWire } from '@guruconnect/shared/protocol';
import type { MachineStore } from '../../db/stores/machine-store.ts';
import type { SessionStore } from '../../db/stores/session-store.ts';
import type { Registry } from '../../sessions/registry.ts';
import type { SessionService } from '../../sessions/session-service.ts';
import { defineRoutes, route, type RouteEnv } from '../route.ts';

const uuid = z.uuid();

export function sessionRoutes(app: FastifyInstance, env: RouteEnv, d: { machines: MachineStore; sessions: SessionStore; registry: Registry; service: SessionService }) {
  const viewersOf = (id: string) => [...(d.registry.sessions.get(id)?.viewers.values() ?? [])].map((v) => ({ userId: v.userId, displayName: v.displayName, control: v.control }));
  defineRoutes(
    app,
    [
      route({
        method: 'GET',
        url: '/api/machines',
        auth: 'perm:view',
        handler: async (): Promise<{ machines: MachineWire[] }> => ({
          machines: (await d.machines.listLive()).map((m) => {
            const agent = d.registry.agentForMachine(m.id);
            return {
              id: m.id,
              name: m.name,
              hostname: m.hostname,
              os: m.os,
              agentVersion: m.agentVersion,
              keyed: m.keyed,
              online: Boolean(agent),
              lastSeenAt: m.lastSeenAt?.toISOString() ?? null,
              sessionId: agent?.sessionId ?? null,
            };
          }),
        }),
      }),
      route({
        method: 'GET',
        url: '/api/sessions',
        auth: 'perm:view',
        handler: async (): Promise<{ sessions: SessionWire[] }> => {
          const names = new Map((await d.machines.listLive()).map((m) => [m.id, m.name]));
          return {
            sessions: (await d.sessions.listActive()).map((s) => {
              const live = d.registry.sessions.get(s.id);
              return {
                id: s.id,
                machineId: s.machineId,
                machineName: s.machineId ? (names.get(s.machineId) ?? null) : null,
                kind: s.kind,
                status: live?.agent ? 'online' : s.status === 'online' ? 'online' : s.status,
                path: live?.path ?? s.path,
                startedAt: s.startedAt.toISOString(),
                lastSeenAt: s.lastSeenAt.toISOString(),
                viewers: viewersOf(s.id),
              };
            }),
          };
        },
      }),
      route({
        method: 'DELETE',
        url: '/api/machines/:id',
        auth: 'admin',
        params: idParamsSchema,
        handler: async ({ params, principal, ip }) => {
          await d.service.removeMachine(params.id, { userId: principal.userId, username: principal.username, ip });
          return { removed: true };
        },
      }),
      route({
        method: 'DELETE',
        url: '/api/sessions/:id',
        auth: 'admin',
        params: idParamsSchema,
        handler: async ({ params, principal, ip }) => {
          await d.service.removeSession(params.id, { userId: principal.userId, username: principal.username, ip });
          return { removed: true };
        },
      }),
      route({
        method: 'POST',
        url: '/api/machines/bulk-remove',
        auth: 'admin',
        body: bulkRemoveRequestSchema,
        handler: async ({ body, principal, ip }) => {
          const results: Array<{ id: string; ok: boolean; error?: string }> = [];
          for (const id of body.ids) {
            if (!uuid.safeParse(id).success) {
              results.push({ id: id.slice(0, 64), ok: false, error: 'ERR_VALIDATION' });
              continue;
            }
            try {
              await d.service.removeMachine(id, { userId: principal.userId, username: principal.username, ip });
              results.push({ id, ok: true });
            } catch (err) {
              results.push({ id, ok: false, error: err instanceof AppError ? err.code : 'ERR_INTERNAL' });
            }
          }
          return { results };
        },
      }),
    ],
    env,
  );
}
