import type { FastifyInstance } from 'fastify';
import { createAgentKeyRequestSchema, idParamsSchema } from '@guruconnect/shared/protocol';
import type { AgentKeys } from '../../agent-keys/agent-keys.ts';
import type { AgentKeyRecord } from '../../db/stores/agent-key-store.ts';
import { defineRoutes, route, type RouteEnv } from '../route.ts';

const toWire = (k: AgentKeyRecord) => ({
  id: k.id,
  name: k.name,
  prefix: k.keyPrefix,
  machineId: k.machineId,
  createdAt: k.createdAt.toISOString(),
  revokedAt: k.revokedAt?.toISOString() ?? null,
  lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
});

export function agentKeyRoutes(app: FastifyInstance, env: RouteEnv, keys: AgentKeys) {
  defineRoutes(
    app,
    [
      route({
        method: 'POST',
        url: '/api/agent-keys',
        auth: 'admin',
        status: 201,
        body: createAgentKeyRequestSchema,
        handler: async ({ body, principal, ip }) => {
          const { record, key } = await keys.create(body, principal, ip);
          return { id: record.id, key, name: record.name, machineId: record.machineId };
        },
      }),
      route({ method: 'GET', url: '/api/agent-keys', auth: 'admin', handler: async () => ({ keys: (await keys.list()).map(toWire) }) }),
      route({
        method: 'DELETE',
        url: '/api/agent-keys/:id',
        auth: 'admin',
        params: idParamsSchema,
        handler: async ({ params, principal, ip }) => {
          await keys.revoke(params.id, principal, ip);
          return { revoked: true };
        },
      }),
    ],
    env,
  );
}
