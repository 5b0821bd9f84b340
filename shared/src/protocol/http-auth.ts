import { z } from 'zod';
import { PASSWORD_MAX_LENGTH, USERNAME_MAX_LENGTH } from '../limits.ts';
import { isoDateSchema, permissionSchema, roleSchema, uuidSchema } from './common.ts';

/** Usernames: 2–64 of letters, digits, dot, dash, underscore; compared case-insensitively. */
export const usernameSchema = z.string().trim().min(2).max(USERNAME_MAX_LENGTH).regex(/^[A-Za-z0-9._-]+$/);

/** `POST /api/auth/login` */
export const loginRequestSchema = z.object({
  username: z.string().min(1).max(USERNAME_MAX_LENGTH),
  password: z.string().min(1).max(PASSWORD_MAX_LENGTH),
});
export type LoginRequest = z.infer<typeof loginRequestSchema>;

export const publicUserSchema = z.object({
  id: uuidSchema,
  username: z.string(),
  displayName: z.string(),
  role: roleSchema,
  permissions: z.array(permissionSchema),
});
export type PublicUser = z.infer<typeof publicUserSchema>;

export const loginResponseSchema = z.object({ token: z.string(), expiresAt: isoDateSchema, user: publicUserSchema });
export type LoginResponse = z.infer<typeof loginResponseSchema>;

/** `GET /api/auth/me` */
export const meResponseSchema = z.object({ user: publicUserSchema, tokenExpiresAt: isoDateSchema });

/** `GET /api/auth/tokens` — the caller's live tokens, never the token strings. */
export const tokenInfoSchema = z.object({
  jti: z.string(),
  purpose: z.enum(['login', 'viewer']),
  sessionId: uuidSchema.nullable(),
  issuedAt: isoDateSchema,
  expiresAt: isoDateSchema,
  clientIp: z.string().nullable(),
  userAgent: z.string().nullable(),
  current: z.boolean(),
});
export const tokenListSchema = z.object({ tokens: z.array(tokenInfoSchema) });
export type TokenInfo = z.infer<typeof tokenInfoSchema>;

export const jtiParamsSchema = z.object({ jti: z.string().min(1).max(64) });
export const revokedResponseSchema = z.object({ revoked: z.number().int() });

/** `POST /api/auth/console-ticket` → a single-use, 30-second ticket for `/ws/console`. */
export const consoleTicketResponseSchema = z.object({ ticket: z.string(), expiresIn: z.number().int() });

/** `POST /api/sessions/:id/viewer-token` */
export const viewerTokenResponseSchema = z.object({ token: z.string(), expiresIn: z.number().int(), control: z.boolean() });
export type ViewerTokenResponse = z.infer<typeof viewerTokenResponseSchema>;
export const idParamsSchema = z.object({ id: uuidSchema });
