import type { Permission, Role } from '@guruconnect/shared/protocol';

/** Who is calling, established from a verified login token. */
export interface Principal {
  userId: string;
  username: string;
  role: Role;
  /** Effective permissions (admins hold all). */
  permissions: readonly Permission[];
  /** The login token's id and expiry (seconds since epoch). */
  jti: string;
  exp: number;
}

/** Verifies the `Authorization` header of a request; throws an AppError when it fails. */
export interface RequestAuthenticator {
  authenticate(authorization: string | undefined): Promise<Principal>;
}
