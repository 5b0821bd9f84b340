import { z } from 'zod';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, AGENT_KEY_NAME_MAX_LENGTH } from '../limits.ts';
import { isoDateSchema, permissionSchema, roleSchema, uuidSchema } from './common.ts';
import { publicUserSchema, usernameSchema } from './http-auth.ts';

export const passwordSchema = z.string().min(PASSWORD_MIN_LENGTH).max(PASSWORD_MAX_LENGTH);

/** `POST /api/users` (admin) */
export const createUserRequestSchema = z.object({
  username: usernameSchema,
  displayName: z.string().trim().min(1).max(128).optional(),
  password: z.string().max(PASSWORD_MAX_LENGTH),
  role: roleSchema.default('technician'),
  permissions: z.array(permissionSchema).max(16).default(['view']),
});
export type CreateUserRequest = z.infer<typeof createUserRequestSchema>;

/** `PATCH /api/users/:id` (admin) */
export const updateUserRequestSchema = z
  .object({
    displayName: z.string().trim().min(1).max(128),
    role: roleSchema,
    permissions: z.array(permissionSchema).max(16),
    disabled: z.boolean(),
    password: z.string().max(PASSWORD_MAX_LENGTH),
  })
  .partial()
  .refine((v) => Object.keys(v).length > 0, { message: 'nothing to change' });
export type UpdateUserRequest = z.infer<typeof updateUserRequestSchema>;

export const userSchema = publicUserSchema.extend({
  disabled: z.boolean(),
  createdAt: isoDateSchema,
  lastLoginAt: isoDateSchema.nullable(),
});
export type UserWire = z.infer<typeof userSchema>;
export const userListSchema = z.object({ users: z.array(userSchema) });

/** `POST /api/agent-keys` (admin) */
export const createAgentKeyRequestSchema = z.object({
  name: z.string().trim().min(1).max(AGENT_KEY_NAME_MAX_LENGTH),
  machineId: uuidSchema.optional(),
});
export const createAgentKeyResponseSchema = z.object({ id: uuidSchema, key: z.string(), name: z.string(), machineId: uuidSchema.nullable() });
export const agentKeySchema = z.object({
  id: uuidSchema,
  name: z.string(),
  prefix: z.string(),
  machineId: uuidSchema.nullable(),
  createdAt: isoDateSchema,
  revokedAt: isoDateSchema.nullable(),
  lastUsedAt: isoDateSchema.nullable(),
});
export type AgentKeyWire = z.infer<typeof agentKeySchema>;
export const agentKeyListSchema = z.object({ keys: z.array(agentKeySchema) });
