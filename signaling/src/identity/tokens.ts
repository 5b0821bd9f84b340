import { randomUUID } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { AppError } from '@guruconnect/shared/errors';
import { TOKEN_MAX_BYTES, VIEWER_TOKEN_TTL_S } from '@guruconnect/shared/limits';
import type { Role } from '@guruconnect/shared/protocol';

export const JWT_ISSUER = 'guruconnect';
export const JWT_AUDIENCE_API = 'guruconnect:api';
export const JWT_AUDIENCE_VIEWER = 'guruconnect:viewer';
const ALGORITHM = 'HS256';
/** Header parameters that could make a verifier fetch keys, decompress or change semantics. */
const FORBIDDEN_HEADER_PARAMS = ['zip', 'jku', 'jwk', 'x5u', 'x5c', 'crit', 'kid'];

export type TokenPurpose = 'login' | 'viewer';

export interface LoginClaims {
  purpose: 'login';
  sub: string;
  jti: string;
  role: Role;
  iat: number;
  exp: number;
}

export interface ViewerClaims {
  purpose: 'viewer';
  sub: string;
  jti: string;
  session_id: string;
  parent_jti: string;
  control: boolean;
  iat: number;
  exp: number;
}

export type Claims = LoginClaims | ViewerClaims;

export interface MintedToken<C extends Claims> {
  token: string;
  claims: C;
}

function decodeSegment(segment: string): unknown {
  const json = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(atob(segment.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0)));
  return JSON.parse(json, (key, value) => {
    if (key === '__proto__') throw new Error('prototype key');
    return value;
  });
}

/** A JSON object with no duplicate keys (JSON.parse silently keeps the last one). */
function hasDuplicateKeys(segment: string): boolean {
  const json = Buffer.from(segment, 'base64url').toString('utf8');
  const keys = [...json.matchAll(/"((?:[^"\\]|\\.)*)"\s*:/g)].map((m) => m[1]);
  return new Set(keys).size !== keys.length;
}

/**
 * Shape checks that run before any cryptography: size, three base64url segments,
 * a pinned algorithm, and no header parameter that could steer key selection.
 */
export function precheckToken(token: unknown): void {
  const invalid = (why: string) => new AppError('ERR_AUTH_INVALID_TOKEN', 'Invalid token', { details: { why } });
  if (typeof token !== 'string' || token.length === 0) throw invalid('missing');
  if (token.length > TOKEN_MAX_BYTES) throw invalid('oversized');
  const parts = token.split('.');
  if (parts.length !== 3) throw invalid(parts.length === 5 ? 'jwe' : 'segments');
  if (!parts.every((p) => /^[A-Za-z0-9_-]+$/.test(p))) throw invalid('encoding');
  let header: unknown;
  try {
    header = decodeSegment(parts[0]!);
  } catch {
    throw invalid('header');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw invalid('header');
  const h = header as Record<string, unknown>;
  if (h.alg !== ALGORITHM) throw invalid('alg');
  if (FORBIDDEN_HEADER_PARAMS.some((p) => p in h)) throw invalid('header-param');
  if (hasDuplicateKeys(parts[0]!) || hasDuplicateKeys(parts[1]!)) throw invalid('duplicate-claims');
}

export interface TokenServiceOptions {
  secret: string;
  loginTtlS: number;
  now?: () => number;
}

/** Mints and verifies GuruConnect's JWTs (HS256 with JWT_SECRET, iss/aud/jti always). */
export class TokenService {
  readonly #key: Uint8Array;
  readonly #loginTtlS: number;
  readonly #now: () => number;

  constructor(opts: TokenServiceOptions) {
    this.#key = new TextEncoder().encode(opts.secret);
    this.#loginTtlS = opts.loginTtlS;
    this.#now = opts.now ?? Date.now;
  }

  #nowS(): number {
    return Math.floor(this.#now() / 1000);
  }

  async mintLogin(user: { id: string; role: Role }): Promise<MintedToken<LoginClaims>> {
    const iat = this.#nowS();
    const claims: LoginClaims = { purpose: 'login', sub: user.id, jti: randomUUID(), role: user.role, iat, exp: iat + this.#loginTtlS };
    return { token: await this.#sign(claims, JWT_AUDIENCE_API), claims };
  }

  async mintViewer(args: { userId: string; sessionId: string; parentJti: string; parentExp: number; control: boolean }): Promise<MintedToken<ViewerClaims>> {
    const iat = this.#nowS();
    const claims: ViewerClaims = {
      purpose: 'viewer',
      sub: args.userId,
      jti: randomUUID(),
      session_id: args.sessionId,
      parent_jti: args.parentJti,
      control: args.control,
      iat,
      // Never outlive the login token it was minted from.
      exp: Math.min(iat + VIEWER_TOKEN_TTL_S, args.parentExp),
    };
    return { token: await this.#sign(claims, JWT_AUDIENCE_VIEWER), claims };
  }

  async #sign(claims: Claims, audience: string): Promise<string> {
    const { iat, exp, ...rest } = claims;
    return new SignJWT(rest)
      .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
      .setIssuer(JWT_ISSUER)
      .setAudience(audience)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(this.#key);
  }

  /** Verify signature, iss, aud, expiry and shape; the purpose must be the expected one. */
  async verify<P extends TokenPurpose>(token: unknown, purpose: P): Promise<P extends 'login' ? LoginClaims : ViewerClaims> {
    precheckToken(token);
    let payload: Record<string, unknown>;
    try {
      const result = await jwtVerify(token as string, this.#key, {
        algorithms: [ALGORITHM],
        issuer: JWT_ISSUER,
        audience: purpose === 'login' ? JWT_AUDIENCE_API : JWT_AUDIENCE_VIEWER,
        requiredClaims: ['jti', 'sub', 'iat', 'exp'],
        currentDate: new Date(this.#now()),
        clockTolerance: 5,
      });
      payload = result.payload as Record<string, unknown>;
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw new AppError('ERR_AUTH_TOKEN_EXPIRED', 'Token expired');
      if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === 'aud') {
        throw new AppError('ERR_AUTH_WRONG_TOKEN_KIND', 'This token cannot be used here');
      }
      throw new AppError('ERR_AUTH_INVALID_TOKEN', 'Invalid token');
    }
    if (payload.purpose !== purpose) throw new AppError('ERR_AUTH_WRONG_TOKEN_KIND', 'This token cannot be used here');
    if (typeof payload.jti !== 'string' || payload.jti.length < 16 || payload.jti.length > 64) throw new AppError('ERR_AUTH_INVALID_TOKEN', 'Invalid token');
    if (typeof payload.sub !== 'string' || typeof payload.iat !== 'number' || typeof payload.exp !== 'number') throw new AppError('ERR_AUTH_INVALID_TOKEN', 'Invalid token');
    if (purpose === 'login') {
      if (payload.role !== 'admin' && payload.role !== 'technician') throw new AppError('ERR_AUTH_INVALID_TOKEN', 'Invalid token');
    } else if (typeof payload.session_id !== 'string' || typeof payload.parent_jti !== 'string' || typeof payload.control !== 'boolean') {
      throw new AppError('ERR_AUTH_INVALID_TOKEN', 'Invalid token');
    }
    return payload as never;
  }

  /** True when a string is shaped like a JWT (used to refuse JWTs offered as agent keys). */
  static looksLikeJwt(value: string): boolean {
    return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(value) || value.startsWith('eyJ');
  }
}
