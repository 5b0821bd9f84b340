import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from '../errors/index.ts';

/** `{ error: { code, message } }` — the body of every error response. */
export const errorBodySchema = z.object({
  error: z.object({ code: z.enum(ERROR_CODES as [ErrorCode, ...ErrorCode[]]), message: z.string() }),
});
export type ErrorBodyWire = z.infer<typeof errorBodySchema>;

/** A socket.io acknowledgement: `{ ok: true, data } | { ok: false, error }`. */
export function ackSchema<T extends z.ZodType>(data: T) {
  return z.discriminatedUnion('ok', [
    z.object({ ok: z.literal(true), data }),
    z.object({ ok: z.literal(false), error: errorBodySchema.shape.error }),
  ]);
}

export const uuidSchema = z.uuid();
export const isoDateSchema = z.iso.datetime({ offset: true });

export const roleSchema = z.enum(['admin', 'technician']);
export type Role = z.infer<typeof roleSchema>;

/** Permissions a technician may hold; admins hold them all. */
export const PERMISSIONS = ['view', 'control', 'chat', 'manage_codes'] as const;
export const permissionSchema = z.enum(PERMISSIONS);
export type Permission = z.infer<typeof permissionSchema>;
