import { createHash, randomBytes } from 'node:crypto';
import { AppError } from '@guruconnect/shared/errors';
import { CONSOLE_TICKET_TTL_S } from '@guruconnect/shared/limits';
import type { LoginResponse, PublicUser } from '@guruconnect/shared/protocol';
import type { AuditLog } from '../audit/audit-log.ts';
import type { ConsoleTicketStore } from '../db/stores/console-ticket-store.ts';
import type { TokenRecord, TokenStore } from '../db/stores/token-store.ts';
import type { UserRecord, UserStore } from '../db/stores/user-store.ts';
import type { Logger } from '../logging/logger.ts';
import type { IpBlocker } from '../security/ip-blocker.ts';
import { effectivePermissions, issuedBeforeCutoff, type LoginAuthenticator } from './authenticator.ts';
import type { LoginLimiter } from './login-limiter.ts';
import type { PasswordHasher } from './passwords.ts';
import type { Principal } from './principal.ts';
import type { Revocations } from './revocations.ts';
import type { TokenService, ViewerClaims } from './tokens.ts';

export interface IdentityDeps {
  users: UserStore;
  tokenStore: TokenStore;
  tickets: ConsoleTicketStore;
  tokens: TokenService;
  revocations: Revocations;
  authenticator: LoginAuthenticator;
  hasher: PasswordHasher;
  dummyHash: string;
  limiter: LoginLimiter;
  ipBlocker: IpBlocker;
  audit: AuditLog;
  logger: Logger;
  now?: () => number;
}

export function toPublicUser(user: UserRecord): PublicUser {
  return { id: user.id, username: user.username, displayName: user.displayName, role: user.role, permissions: effectivePermissions(user) };
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Sign-in, tokens and their revocation. */
export class IdentityService {
  readonly #d: IdentityDeps;
  readonly #now: () => number;

  constructor(deps: IdentityDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
  }

  /** Refuse a blocked IP before any password or key work. */
  assertNotBlocked(ip: string): void {
    const s = this.#d.ipBlocker.blockedForS(ip);
    if (s > 0) throw new AppError('ERR_AUTH_IP_BLOCKED', 'Too many failures from your address; try again later', { retryAfterS: s });
  }

  async login(username: string, password: string, ctx: { ip: string; userAgent?: string }): Promise<LoginResponse> {
    this.assertNotBlocked(ctx.ip);
    await this.#d.limiter.check(ctx.ip, username);
    const user = await this.#d.users.findByUsername(username);
    // An unknown username costs one Argon2id verification, like a wrong password.
    const passwordOk = await this.#d.hasher.verify(user?.passwordHash ?? this.#d.dummyHash, password);
    if (!user || !passwordOk) {
      await this.#d.limiter.fail(ctx.ip, username);
      await this.#d.audit.record({ type: 'login_failed', actor: username.slice(0, 64), clientIp: ctx.ip, details: { reason: user ? 'wrong_password' : 'unknown_user' } });
      await this.#d.ipBlocker.recordFailure(ctx.ip, 'login_failed');
      throw new AppError('ERR_AUTH_INVALID_CREDENTIALS', 'Wrong username or password');
    }
    if (user.disabled) {
      await this.#d.audit.record({ type: 'login_failed', actorUserId: user.id, actor: user.username, clientIp: ctx.ip, details: { reason: 'disabled' } });
      throw new AppError('ERR_AUTH_USER_DISABLED', 'This account is disabled');
    }
    await this.#d.limiter.succeed(username);
    const { token, claims } = await this.#d.tokens.mintLogin(user);
    await this.#d.tokenStore.record({
      jti: claims.jti,
      userId: user.id,
      purpose: 'login',
      parentJti: null,
      sessionId: null,
      issuedAt: new Date(claims.iat * 1000),
      expiresAt: new Date(claims.exp * 1000),
      clientIp: ctx.ip,
      userAgent: ctx.userAgent?.slice(0, 256) ?? null,
    });
    await this.#d.users.update(user.id, { lastLoginAt: new Date(this.#now()) });
    await this.#d.audit.record({ type: 'login_succeeded', actorUserId: user.id, actor: user.username, clientIp: ctx.ip });
    return { token, expiresAt: new Date(claims.exp * 1000).toISOString(), user: toPublicUser(user) };
  }

  /** Revoke the presented login token and every viewer token minted from it. */
  async logout(p: Principal, ip: string): Promise<number> {
    const revoked = await this.#d.revocations.revoke([p.jti], 'logout');
    await this.#d.audit.record({ type: 'logout', actorUserId: p.userId, actor: p.username, clientIp: ip, details: { revoked: revoked.length } });
    return revoked.length;
  }

  /** Every token of a user dies: live ones are revoked and anything older is cut off. */
  async revokeAllOf(userId: string, actor: Principal, ip: string | null, reason: string): Promise<number> {
    // Whole seconds: `iat` has second precision; same-second tokens are covered by jti revocation.
    await this.#d.users.update(userId, { tokensValidAfter: new Date(Math.floor(this.#now() / 1000) * 1000) });
    const revoked = await this.#d.revocations.revokeUser(userId, reason);
    await this.#d.audit.record({ type: 'token_revoked', actorUserId: actor.userId, actor: actor.username, target: `user:${userId}`, clientIp: ip, details: { reason, revoked: revoked.length } });
    return revoked.length;
  }

  async listTokens(p: Principal): Promise<Array<TokenRecord & { current: boolean }>> {
    const user = await this.#d.users.findById(p.userId);
    if (!user) return [];
    const cutoff = new Date(Math.floor(user.tokensValidAfter.getTime() / 1000) * 1000);
    const rows = await this.#d.tokenStore.listLive(p.userId, new Date(this.#now()), cutoff);
    return rows.filter((r) => !this.#d.revocations.isRevoked(r.jti) && !(r.parentJti && this.#d.revocations.isRevoked(r.parentJti))).map((r) => ({ ...r, current: r.jti === p.jti }));
  }

  /** Revoke one of the caller's own tokens; another user's token is "not found". */
  async revokeOwnToken(p: Principal, jti: string, ip: string): Promise<number> {
    const row = await this.#d.tokenStore.find(jti);
    if (!row || row.userId !== p.userId) throw new AppError('ERR_TOKEN_NOT_FOUND', 'No such token');
    const revoked = await this.#d.revocations.revoke([jti], 'revoked_by_owner');
    await this.#d.audit.record({ type: 'token_revoked', actorUserId: p.userId, actor: p.username, target: `token:${jti}`, clientIp: ip, details: { reason: 'revoked_by_owner', revoked: revoked.length } });
    return revoked.length;
  }

  async issueConsoleTicket(p: Principal): Promise<{ ticket: string; expiresIn: number }> {
    const ticket = `gct_${randomBytes(32).toString('base64url')}`;
    await this.#d.tickets.create({ ticketHash: sha256(ticket), userId: p.userId, loginJti: p.jti, expiresAt: new Date(this.#now() + CONSOLE_TICKET_TTL_S * 1000) });
    return { ticket, expiresIn: CONSOLE_TICKET_TTL_S };
  }

  /** Redeem a console ticket once; the login token it came from must still be alive. */
  async redeemConsoleTicket(ticket: string): Promise<Principal> {
    if (typeof ticket !== 'string' || !/^gct_[A-Za-z0-9_-]{43}$/.test(ticket)) throw new AppError('ERR_AUTH_INVALID_TICKET', 'Invalid ticket');
    const row = await this.#d.tickets.consume(sha256(ticket), new Date(this.#now()));
    if (!row) throw new AppError('ERR_AUTH_INVALID_TICKET', 'Invalid or used ticket');
    if (this.#d.revocations.isRevoked(row.loginJti)) throw new AppError('ERR_AUTH_TOKEN_REVOKED', 'Token revoked');
    const user = await this.#d.users.findById(row.userId);
    if (!user || user.disabled) throw new AppError('ERR_AUTH_USER_DISABLED', 'Account disabled');
    const login = await this.#d.tokenStore.find(row.loginJti);
    if (!login || login.expiresAt.getTime() <= this.#now() || issuedBeforeCutoff(Math.floor(login.issuedAt.getTime() / 1000), user)) {
      throw new AppError('ERR_AUTH_TOKEN_REVOKED', 'Token revoked');
    }
    return { userId: user.id, username: user.username, role: user.role, permissions: effectivePermissions(user), jti: row.loginJti, exp: Math.floor(login.expiresAt.getTime() / 1000) };
  }

  /** Mint a viewer token for one session; `control` only with the control permission. */
  async mintViewerToken(p: Principal, sessionId: string, ip: string, userAgent?: string): Promise<{ token: string; expiresIn: number; control: boolean }> {
    if (!p.permissions.includes('view')) throw new AppError('ERR_AUTH_FORBIDDEN', 'You may not view sessions');
    const control = p.permissions.includes('control');
    const { token, claims } = await this.#d.tokens.mintViewer({ userId: p.userId, sessionId, parentJti: p.jti, parentExp: p.exp, control });
    await this.#d.tokenStore.record({
      jti: claims.jti,
      userId: p.userId,
      purpose: 'viewer',
      parentJti: p.jti,
      sessionId,
      issuedAt: new Date(claims.iat * 1000),
      expiresAt: new Date(claims.exp * 1000),
      clientIp: ip,
      userAgent: userAgent?.slice(0, 256) ?? null,
    });
    return { token, expiresIn: claims.exp - claims.iat, control };
  }

  /** Verify a viewer token for the viewer plane (revocation of it or its parent, user state). */
  async verifyViewerToken(token: string): Promise<ViewerClaims & { user: UserRecord }> {
    const claims = await this.#d.tokens.verify(token, 'viewer');
    const rev = this.#d.revocations;
    if (rev.isRevoked(claims.jti) || rev.isRevoked(claims.parent_jti)) throw new AppError('ERR_AUTH_TOKEN_REVOKED', 'Token revoked');
    const user = await this.#d.users.findById(claims.sub);
    if (!user) throw new AppError('ERR_AUTH_INVALID_TOKEN', 'Invalid token');
    if (user.disabled) throw new AppError('ERR_AUTH_USER_DISABLED', 'Account disabled');
    if (issuedBeforeCutoff(claims.iat, user)) throw new AppError('ERR_AUTH_TOKEN_REVOKED', 'Token revoked');
    return { ...claims, user };
  }
}
