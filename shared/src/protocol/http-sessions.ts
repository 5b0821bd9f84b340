import { z } from 'zod';
import { BULK_REMOVE_MAX_IDS, SUPPORT_CODE_LABEL_MAX_LENGTH, SUPPORT_CODE_TTL_DEFAULT_MIN, SUPPORT_CODE_TTL_MAX_MIN } from '../limits.ts';
import { isoDateSchema, uuidSchema } from './common.ts';
import { pathSchema, supportCodeSchema } from './planes.ts';

export const machineSchema = z.object({
  id: uuidSchema,
  name: z.string(),
  hostname: z.string().nullable(),
  os: z.string().nullable(),
  agentVersion: z.string().nullable(),
  keyed: z.boolean(),
  online: z.boolean(),
  lastSeenAt: isoDateSchema.nullable(),
  sessionId: uuidSchema.nullable(),
});
export type MachineWire = z.infer<typeof machineSchema>;
export const machineListSchema = z.object({ machines: z.array(machineSchema) });

export const sessionSchema = z.object({
  id: uuidSchema,
  machineId: uuidSchema.nullable(),
  machineName: z.string().nullable(),
  kind: z.enum(['support', 'unattended']),
  status: z.enum(['online', 'offline', 'ended', 'removed']),
  path: pathSchema.nullable(),
  startedAt: isoDateSchema,
  lastSeenAt: isoDateSchema,
  viewers: z.array(z.object({ userId: uuidSchema, displayName: z.string(), control: z.boolean() })),
});
export type SessionWire = z.infer<typeof sessionSchema>;
export const sessionListSchema = z.object({ sessions: z.array(sessionSchema) });

/** `POST /api/machines/bulk-remove` — 1..500 UUIDs. */
export const bulkRemoveRequestSchema = z.object({ ids: z.array(z.string()).min(1).max(BULK_REMOVE_MAX_IDS) });
export const bulkRemoveResponseSchema = z.object({
  results: z.array(z.object({ id: z.string(), ok: z.boolean(), error: z.string().optional() })),
});

export const supportCodeStatusSchema = z.enum(['pending', 'connected', 'completed', 'cancelled', 'expired']);
export type SupportCodeStatus = z.infer<typeof supportCodeStatusSchema>;

/** `POST /api/support-codes` */
export const createSupportCodeRequestSchema = z.object({
  label: z.string().trim().max(SUPPORT_CODE_LABEL_MAX_LENGTH).regex(/^[^\p{Cc}]*$/u).optional(),
  ttlMinutes: z.number().int().min(1).max(SUPPORT_CODE_TTL_MAX_MIN).default(SUPPORT_CODE_TTL_DEFAULT_MIN),
});
export const supportCodeSchemaWire = z.object({
  id: uuidSchema,
  code: supportCodeSchema,
  link: z.string(),
  label: z.string().nullable(),
  status: supportCodeStatusSchema,
  expiresAt: isoDateSchema,
  createdAt: isoDateSchema,
  createdBy: uuidSchema,
  sessionId: uuidSchema.nullable(),
});
export type SupportCodeWire = z.infer<typeof supportCodeSchemaWire>;
export const supportCodeListSchema = z.object({ codes: z.array(supportCodeSchemaWire) });
export const supportCodeParamsSchema = z.object({ code: supportCodeSchema });

/** Public `GET /api/join/:code` — only what the end-user page needs. */
export const joinInfoSchema = z.object({ technician: z.string(), label: z.string().nullable(), usable: z.boolean() });
export type JoinInfo = z.infer<typeof joinInfoSchema>;
