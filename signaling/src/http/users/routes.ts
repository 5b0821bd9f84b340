import type { FastifyInstance } from 'fastify';
import { createUserRequestSchema, idParamsSchema, updateUserRequestSchema } from '@guruconnect/shared/protocol';
import type { UserStore } from '../../db/stores/user-store.ts';
import type { IdentityService } from '../../identity/identity-service.ts';
import { toUserWire, type UserAdmin } from '../../identity/user-admin.ts';
import { AppError } from '@guruconnect/shared/errors';
import { defineRoutes, route, type RouteEnv } from '../route.ts';

export function userRoutes(app: FastifyInstance, env: RouteEnv, d: { users: UserStore; admin: UserAdmin; identity: IdentityService }) {
  defineRoutes(
    app,
    [
      route({ method: 'GET', url: '/api/users', auth: 'admin', handler: async () => ({ users: (await d.users.list()).map(toUserWire) }) }),
      route({
        method: 'POST',
        url: '/api/users',
        auth: 'admin',
        status: 201,
        body: createUserRequestSchema,
        handler: async ({ body, principal, ip }) => toUserWire(await d.admin.create(body, principal, ip)),
      }),
      route({
        method: 'PATCH',
        url: '/api/users/:id',
        auth: 'admin',
        params: idParamsSchema,
        body: updateUserRequestSchema,
        handler: async ({ params, body, principal, ip }) => toUserWire(await d.admin.update(params.id, body, principal, ip)),
      }),
      route({
        method: 'POST',
        url: '/api/users/:id/revoke-tokens',
        auth: 'admin',
        params: idParamsSchema,
        handler: async ({ params, principal, ip }) => {
          if (!(await d.users.findById(params.id))) throw new AppError('ERR_USER_NOT_FOUND', 'No such user');
          return { revoked: await d.identity.revokeAllOf(params.id, principal, ip, 'admin_revoke') };
        },
      }),
    ],
    env,
  );
}
