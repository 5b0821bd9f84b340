import type { FastifyInstance } from 'fastify';
import { AppError } from '@guruconnect/shared/errors';
import type { HealthResponse, ReadyResponse } from '@guruconnect/shared/protocol';
import type { Database } from '../../db/open-database.ts';
import { defineRoutes } from '../route.ts';

/** `/healthz` answers while the process runs; `/readyz` only while the database answers. */
export function healthRoutes(app: FastifyInstance, db: Pick<Database, 'kind' | 'ping'>) {
  defineRoutes(app, [
    {
      method: 'GET',
      url: '/healthz',
      auth: 'public',
      handler: async (): Promise<HealthResponse> => ({ status: 'ok' }),
    },
    {
      method: 'GET',
      url: '/readyz',
      auth: 'public',
      handler: async (): Promise<ReadyResponse> => {
        if (!(await db.ping())) throw new AppError('ERR_NOT_READY', 'Database unreachable');
        return { status: 'ready', database: db.kind };
      },
    },
  ]);
}
