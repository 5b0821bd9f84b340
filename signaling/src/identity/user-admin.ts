import { AppError } from '@guruconnect/shared/errors';
import type { CreateUserRequest, Permission, Role, UpdateUserRequest, UserWire } from '@guruconnect/shared/protocol';
import type { AuditLog } from '../audit/audit-log.ts';
import type { UserPatch, UserRecord, UserStore } from '../db/stores/user-store.ts';
import type { IdentityService } from './identity-service.ts';
import { toPublicUser } from './identity-service.ts';
import { assertAcceptablePassword, type PasswordHasher } from './passwords.ts';
import type { Principal } from './principal.ts';

export function toUserWire(u: UserRecord): UserWire {
  return { ...toPublicUser(u), disabled: u.disabled, createdAt: u.createdAt.toISOString(), lastLoginAt: u.lastLoginAt?.toISOString() ?? null };
}

/** Account management for admins and the operator CLI. */
export class UserAdmin {
  constructor(private readonly d: { users: UserStore; hasher: PasswordHasher; identity: IdentityService; audit: AuditLog }) {}

  async create(req: CreateUserRequest & { role: Role; permissions: Permission[] }, actor: Principal | null, ip: string | null): Promise<UserRecord> {
    assertAcceptablePassword(req.password);
    if (await this.d.users.findByUsername(req.username)) throw new AppError('ERR_USER_EXISTS', 'That username is taken');
    const user = await this.d.users.create({
      username: req.username,
      displayName: req.displayName ?? req.username,
      passwordHash: await this.d.hasher.hash(req.password),
      role: req.role,
      permissions: [...new Set(req.permissions)],
    });
    await this.d.audit.record({ type: 'user_created', actorUserId: actor?.userId ?? null, actor: actor?.username ?? 'console', target: `user:${user.id}`, clientIp: ip, details: { username: user.username, role: user.role, permissions: user.permissions } });
    return user;
  }

  async update(id: string, req: UpdateUserRequest, actor: Principal | null, ip: string | null): Promise<UserRecord> {
    const user = await this.d.users.findById(id);
    if (!user) throw new AppError('ERR_USER_NOT_FOUND', 'No such user');
    const losesAdmin = user.role === 'admin' && !user.disabled && ((req.role !== undefined && req.role !== 'admin') || req.disabled === true);
    if (losesAdmin && (await this.d.users.countActiveAdmins()) <= 1) throw new AppError('ERR_USER_LAST_ADMIN', 'The last active admin cannot be demoted or disabled');
    const patch: UserPatch = {};
    if (req.displayName !== undefined) patch.displayName = req.displayName;
    if (req.role !== undefined) patch.role = req.role;
    if (req.permissions !== undefined) patch.permissions = [...new Set(req.permissions)];
    if (req.disabled !== undefined) patch.disabled = req.disabled;
    if (req.password !== undefined) {
      assertAcceptablePassword(req.password);
      patch.passwordHash = await this.d.hasher.hash(req.password);
    }
    const updated = await this.d.users.update(id, patch);
    if (!updated) throw new AppError('ERR_USER_NOT_FOUND', 'No such user');
    const changed = Object.keys(req).map((k) => (k === 'password' ? 'password_reset' : k));
    await this.d.audit.record({ type: 'user_changed', actorUserId: actor?.userId ?? null, actor: actor?.username ?? 'console', target: `user:${id}`, clientIp: ip, details: { changed, role: updated.role, disabled: updated.disabled } });
    // Disabling, a password reset or a reduced role/permission set end every token at once.
    const rightsReduced = req.role === 'technician' && user.role === 'admin' || (req.permissions !== undefined && user.permissions.some((p) => !req.permissions!.includes(p)));
    if (req.disabled === true || req.password !== undefined || rightsReduced) {
      await this.d.identity.revokeAllOf(id, actor ?? systemPrincipal, ip, req.disabled ? 'user_disabled' : req.password !== undefined ? 'password_reset' : 'rights_reduced');
    }
    return updated;
  }
}

const systemPrincipal: Principal = { userId: '00000000-0000-0000-0000-000000000000', username: 'console', role: 'admin', permissions: [], jti: 'console', exp: 0 };
