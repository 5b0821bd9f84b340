import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { AppError } from '@guruconnect/shared/errors';
import { defineRoutes, route } from '../route.ts';
import type { Metrics } from './metrics.ts';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** `GET /metrics` for Prometheus, behind its own bearer token (METRICS_TOKEN); 404 when unset. */
export function metricsRoutes(app: FastifyInstance, d: { metrics: Metrics; token: string | undefined }) {
  defineRoutes(app, [
    route({
      method: 'GET',
      url: '/metrics',
      auth: 'public',
      handler: async ({ req, reply }) => {
        if (!d.token) throw new AppError('ERR_NOT_FOUND', 'No such route');
        const presented = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
        if (!timingSafeEqual(digest(presented), digest(d.token))) throw new AppError('ERR_AUTH_REQUIRED', 'Metrics token required');
        void reply.header('content-type', d.metrics.registry.contentType);
        return d.metrics.registry.metrics();
      },
    }),
  ]);
}
