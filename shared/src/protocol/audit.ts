import { z } from 'zod';
import { AUDIT_PAGE_MAX } from '../limits.ts';
import { isoDateSchema, uuidSchema } from './common.ts';

/** Every audit event type the server writes. */
export const AUDIT_EVENT_TYPES = [
  'login_succeeded',
  'login_failed',
  'logout',
  'token_revoked',
  'user_created',
  'user_changed',
  'agent_key_created',
  'agent_key_revoked',
  'agent_key_used_shared',
  'session_started',
  'session_ended',
  'viewer_joined',
  'viewer_left',
  'relay_started',
  'connection_rejected_no_auth',
  'connection_rejected_invalid_code',
  'connection_rejected_expired_code',
  'connection_rejected_cancelled_code',
  'connection_rejected_used_code',
  'connection_rejected_invalid_api_key',
  'connection_rejected_invalid_token',
  'connection_rejected_wrong_session',
  'connection_rejected_origin',
  'connection_rejected_protocol',
  'connection_rejected_blocked_ip',
  'connection_rejected_unresolved_machine',
  'connection_rejected_uid_in_use',
  'message_too_large',
  'media_protocol_violation',
  'input_refused',
  'ip_blocked',
  'ip_unblocked',
  'machine_removed',
  'session_removed',
  'support_code_created',
  'support_code_cancelled',
  'support_code_guess',
  'agent_update_applied',
  'agent_update_rejected',
] as const;
export const auditEventTypeSchema = z.enum(AUDIT_EVENT_TYPES);
export type AuditEventType = z.infer<typeof auditEventTypeSchema>;

export const auditEventSchema = z.object({
  id: z.string(),
  type: auditEventTypeSchema,
  actorUserId: uuidSchema.nullable(),
  actor: z.string().nullable(),
  target: z.string().nullable(),
  sessionId: uuidSchema.nullable(),
  clientIp: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
  createdAt: isoDateSchema,
});
export type AuditEventWire = z.infer<typeof auditEventSchema>;

/** `GET /api/audit` query. `cursor` is the `nextCursor` of the previous page. */
export const auditQuerySchema = z.object({
  type: auditEventTypeSchema.optional(),
  ip: z.string().max(64).optional(),
  actor: z.string().max(128).optional(),
  session: uuidSchema.optional(),
  since: isoDateSchema.optional(),
  until: isoDateSchema.optional(),
  cursor: z.string().regex(/^\d{1,19}$/).optional(),
  limit: z.coerce.number().int().min(1).max(AUDIT_PAGE_MAX).default(100),
});
export type AuditQuery = z.infer<typeof auditQuerySchema>;
export const auditPageSchema = z.object({ events: z.array(auditEventSchema), nextCursor: z.string().nullable() });
export type AuditPage = z.infer<typeof auditPageSchema>;

/** `GET /api/audit/failed-connections?window=1h` — the brute-force view. */
export const failedConnectionsQuerySchema = z.object({
  window: z.string().regex(/^\d{1,4}[smhd]$/).default('1h'),
});
export const failedConnectionsSchema = z.object({
  windowS: z.number().int(),
  groups: z.array(
    z.object({ ip: z.string().nullable(), type: auditEventTypeSchema, count: z.number().int(), firstAt: isoDateSchema, lastAt: isoDateSchema }),
  ),
});
export type FailedConnections = z.infer<typeof failedConnectionsSchema>;

export const blockedIpSchema = z.object({ ip: z.string(), reason: z.string(), blockedAt: isoDateSchema, expiresAt: isoDateSchema });
export const blockedIpListSchema = z.object({ blocked: z.array(blockedIpSchema) });
export type BlockedIpWire = z.infer<typeof blockedIpSchema>;
