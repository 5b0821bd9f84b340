import type { FastifyInstance } from 'fastify';
import { AppError } from '@guruconnect/shared/errors';
import { idParamsSchema, type ViewerTokenResponse } from '@guruconnect/shared/protocol';
import type { SessionStore } from '../../db/stores/session-store.ts';
import type { IdentityService } from '../../identity/identity-service.ts';
import { defineRoutes, route, type RouteEnv } from '../route.ts';

/** `POST /api/sessions/:id/viewer-token` — a 300-second token to join one session. */
export function viewerTokenRoutes(app: FastifyInstance, env: RouteEnv, d: { sessions: SessionStore; identity: IdentityService }) {
  defineRoutes(
    app,
    [
      route({
        method: 'POST',
        url: '/api/sessions/:id/viewer-token',
        auth: 'perm:view',
        params: idParamsSchema,
        handler: async ({ params, principal, ip, req }): Promise<ViewerTokenResponse> => {
          const session = await d.sessions.findById(params.id);
          if (!session || session.removedAt || session.status === 'removed') throw new AppError('ERR_SESSION_NOT_FOUND', 'No such session');
          return d.identity.mintViewerToken(principal, session.id, ip, req.headers['user-agent']);
        },
      }),
    ],
    env,
  );
}
