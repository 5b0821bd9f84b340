import type { FastifyInstance } from 'fastify';
import { jtiParamsSchema, loginRequestSchema, type LoginResponse } from '@guruconnect/shared/protocol';
import type { IdentityService } from '../../identity/identity-service.ts';
import { toPublicUser } from '../../identity/identity-service.ts';
import type { UserStore } from '../../db/stores/user-store.ts';
import { defineRoutes, route, type RouteEnv } from '../route.ts';

export function authRoutes(app: FastifyInstance, env: RouteEnv, deps: { identity: IdentityService; users: UserStore }) {
  const { identity } = deps;
  defineRoutes(
    app,
    [
      route({
        method: 'POST',
        url: '/api/auth/login',
        auth: 'public',
        body: loginRequestSchema,
        handler: async ({ body, ip, req }): Promise<LoginResponse> => {
          // Blocked IPs are refused before the body is even looked at.
          identity.assertNotBlocked(ip);
          return identity.login(body.username, body.password, { ip, userAgent: req.headers['user-agent'] });
        },
      }),
      route({
        method: 'GET',
        url: '/api/auth/me',
        auth: 'login',
        handler: async ({ principal }) => {
          const user = await deps.users.findById(principal.userId);
          return { user: user ? toPublicUser(user) : null, tokenExpiresAt: new Date(principal.exp * 1000).toISOString() };
        },
      }),
      route({
        method: 'POST',
        url: '/api/auth/logout',
        auth: 'login',
        handler: async ({ principal, ip }) => ({ revoked: await identity.logout(principal, ip) }),
      }),
      route({
        method: 'POST',
        url: '/api/auth/logout-all',
        auth: 'login',
        handler: async ({ principal, ip }) => ({ revoked: await identity.revokeAllOf(principal.userId, principal, ip, 'logout_all') }),
      }),
      route({
        method: 'GET',
        url: '/api/auth/tokens',
        auth: 'login',
        handler: async ({ principal }) => ({
          tokens: (await identity.listTokens(principal)).map((t) => ({
            jti: t.jti,
            purpose: t.purpose,
            sessionId: t.sessionId,
            issuedAt: t.issuedAt.toISOString(),
            expiresAt: t.expiresAt.toISOString(),
            clientIp: t.clientIp,
            userAgent: t.userAgent,
            current: t.current,
          })),
        }),
      }),
      route({
        method: 'DELETE',
        url: '/api/auth/tokens/:jti',
        auth: 'login',
        params: jtiParamsSchema,
        handler: async ({ principal, params, ip }) => ({ revoked: await identity.revokeOwnToken(principal, params.jti, ip) }),
      }),
      route({
        method: 'POST',
        url: '/api/auth/console-ticket',
        auth: 'login',
        handler: async ({ principal }) => identity.issueConsoleTicket(principal),
      }),
    ],
    env,
  );
}
