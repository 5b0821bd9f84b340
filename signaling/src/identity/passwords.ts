import argon2 from 'argon2';
import { randomBytes } from 'node:crypto';
import { AppError } from '@guruconnect/shared/errors';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '@guruconnect/shared/limits';

/** Argon2id at OWASP's minimum: m = 19 MiB, t = 2, p = 1. */
export const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** Hashing behind a small interface so a test can observe that a verification happened. */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
}

export const argon2Hasher: PasswordHasher = {
  hash: (password) => argon2.hash(password, ARGON2_OPTIONS),
  async verify(hash, password) {
    try {
      return await argon2.verify(hash, password);
    } catch {
      return false;
    }
  },
};

/** Refuse passwords that are too short or absurdly long (bounded Argon2 input). */
export function assertAcceptablePassword(password: string): void {
  if (password.length < PASSWORD_MIN_LENGTH) {
    throw new AppError('ERR_AUTH_WEAK_PASSWORD', `Passwords need at least ${PASSWORD_MIN_LENGTH} characters`);
  }
  if (password.length > PASSWORD_MAX_LENGTH) {
    throw new AppError('ERR_AUTH_WEAK_PASSWORD', `Passwords may have at most ${PASSWORD_MAX_LENGTH} characters`);
  }
}

/** A strong random password for bootstrap and resets (~144 bits). */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

/**
 * A real Argon2id hash of a random secret, made once per process, so that an unknown
 * username costs exactly one Argon2id verification — the same as a wrong password.
 */
export async function createDummyHash(hasher: PasswordHasher): Promise<string> {
  return hasher.hash(randomBytes(32).toString('base64url'));
}
