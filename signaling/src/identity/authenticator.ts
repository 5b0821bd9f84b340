import { AppError } from '@guruconnect/shared/errors';
import { PERMISSIONS } from '@guruconnect/shared/protocol';
import type { UserRecord, UserStore } from '../db/stores/user-store.ts';
import type { Principal, RequestAuthenticator } from './principal.ts';
import type { Revocations } from './revocations.ts';
import type { LoginClaims, TokenService } from './tokens.ts';

/** Effective permissions: admins hold them all. */
export function effectivePermissions(user: Pick<UserRecord, 'role' | 'permissions'>) {
  return user.role === 'admin' ? [...PERMISSIONS] : PERMISSIONS.filter((p) => user.permissions.includes(p));
}

/**
 * A token is dead when issued before the user's last "log out everywhere". `iat` has
 * second precision, so the cutoff is compared in whole seconds; tokens from the cutoff's
 * own second are revoked by jti when the cutoff is set.
 */
export function issuedBeforeCutoff(iatS: number, user: Pick<UserRecord, 'tokensValidAfter'>): boolean {
  return iatS < Math.floor(user.tokensValidAfter.getTime() / 1000);
}

/**
 * Checks a login token end to end: shape, signature, iss/aud, expiry, purpose, the
 * revocation list, that the user exists and is enabled, and the logout-everywhere cutoff.
 */
export class LoginAuthenticator implements RequestAuthenticator {
  constructor(private readonly deps: { tokens: TokenService; revocations: Revocations; users: UserStore }) {}

  async authenticate(authorization: string | undefined): Promise<Principal> {
    if (!authorization) throw new AppError('ERR_AUTH_REQUIRED', 'Sign in first');
    const match = /^Bearer ([A-Za-z0-9._-]+)$/.exec(authorization);
    if (!match) throw new AppError('ERR_AUTH_INVALID_TOKEN', 'Invalid authorization header');
    return this.verifyLoginToken(match[1]!);
  }

  async verifyLoginToken(token: string): Promise<Principal & { claims: LoginClaims }> {
    const claims = await this.deps.tokens.verify(token, 'login');
    if (this.deps.revocations.isRevoked(claims.jti)) throw new AppError('ERR_AUTH_TOKEN_REVOKED', 'Token revoked');
    const user = await this.deps.users.findById(claims.sub);
    if (!user) throw new AppError('ERR_AUTH_INVALID_TOKEN', 'Invalid token');
    if (user.disabled) throw new AppError('ERR_AUTH_USER_DISABLED', 'Account disabled');
    if (issuedBeforeCutoff(claims.iat, user)) throw new AppError('ERR_AUTH_TOKEN_REVOKED', 'Token revoked');
    return {
      userId: user.id,
      username: user.username,
      role: user.role,
      permissions: effectivePermissions(user),
      jti: claims.jti,
      exp: claims.exp,
      claims,
    };
  }
}
