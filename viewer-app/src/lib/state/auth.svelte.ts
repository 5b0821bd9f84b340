import { createContext } from 'svelte';
import type { ErrorCode } from '@guruconnect/shared/errors';
import { loginResponseSchema, meResponseSchema, publicUserSchema, revokedResponseSchema, type Permission, type PublicUser } from '@guruconnect/shared/protocol';
import { z } from 'zod';
import type { ApiClient, ApiOptions } from '../services/api.ts';

const STORAGE_KEY = 'guruconnect.login';
const storedSchema = z.object({ token: z.string(), expiresAt: z.string(), user: publicUserSchema });

/**
 * The technician's sign-in. The login token lives in memory and in `sessionStorage` (so a reload
 * keeps the tab signed in and closing it forgets), never in a cookie or a URL.
 */
export class AuthState {
  token: string | null = $state(null);
  user: PublicUser | null = $state(null);
  expiresAt: string | null = $state(null);
  /** Why the last session ended without the user asking (shown on the sign-in page). */
  endedBecause: ErrorCode | null = $state(null);
  readonly api: ApiClient;

  constructor(api: ApiClient) {
    this.api = api;
    api.onTokenRejected((code) => this.#forget(code));
    try {
      const raw = window.sessionStorage.getItem(STORAGE_KEY);
      const parsed = raw ? storedSchema.safeParse(JSON.parse(raw)) : null;
      if (parsed?.success && Date.parse(parsed.data.expiresAt) > Date.now()) {
        this.token = parsed.data.token;
        this.user = parsed.data.user;
        this.expiresAt = parsed.data.expiresAt;
      } else if (raw) window.sessionStorage.removeItem(STORAGE_KEY);
    } catch {
      window.sessionStorage.removeItem(STORAGE_KEY);
    }
  }

  get signedIn(): boolean {
    return this.token !== null && this.user !== null;
  }

  get isAdmin(): boolean {
    return this.user?.role === 'admin';
  }

  /** Admins hold every permission. */
  can(permission: Permission): boolean {
    return this.isAdmin || (this.user?.permissions.includes(permission) ?? false);
  }

  async login(username: string, password: string): Promise<void> {
    const res = await this.api.request('POST', '/api/auth/login', loginResponseSchema, { body: { username, password } });
    this.endedBecause = null;
    this.#store(res.token, res.expiresAt, res.user);
  }

  /** Re-reads the user (role and permissions may have changed since sign-in). */
  async refresh(): Promise<void> {
    if (!this.token) return;
    const me = await this.request('GET', '/api/auth/me', meResponseSchema);
    if (this.token) this.#store(this.token, this.expiresAt ?? me.tokenExpiresAt, me.user);
  }

  async logout(): Promise<void> {
    const token = this.token;
    this.#forget(null);
    if (token) await this.api.request('POST', '/api/auth/logout', revokedResponseSchema, { token }).catch(() => undefined);
  }

  /** An authenticated API call. */
  request<S extends z.ZodType>(method: string, path: string, schema: S, o: Omit<ApiOptions, 'token'> = {}): Promise<z.infer<S>> {
    return this.api.request(method, path, schema, { ...o, token: this.token });
  }

  #store(token: string, expiresAt: string, user: PublicUser): void {
    this.token = token;
    this.user = user;
    this.expiresAt = expiresAt;
    window.sessionStorage.setItem(STORAGE_KEY, JSON.stringify({ token, expiresAt, user }));
  }

  #forget(code: ErrorCode | null): void {
    this.token = null;
    this.user = null;
    this.expiresAt = null;
    this.endedBecause = code;
    window.sessionStorage.removeItem(STORAGE_KEY);
  }
}

const [useAuth, setAuth] = createContext<AuthState>();
export { useAuth, setAuth };
