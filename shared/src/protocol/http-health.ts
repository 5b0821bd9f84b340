import { z } from 'zod';

/** `GET /healthz` — the process is up. */
export const healthResponseSchema = z.object({ status: z.literal('ok') });
/** `GET /readyz` — the database answers (503 with `ERR_NOT_READY` otherwise). */
export const readyResponseSchema = z.object({ status: z.literal('ready'), database: z.enum(['pglite', 'postgres']) });
export type HealthResponse = z.infer<typeof healthResponseSchema>;
export type ReadyResponse = z.infer<typeof readyResponseSchema>;
