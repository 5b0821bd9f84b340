// Test-only: the server's admin HTTP API, just what the cross-process scenarios need.
import { ADMIN_PASSWORD, ADMIN_USER, CANARY } from './server-process.ts';

export interface ApiResult {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- test helper
}

export async function api(base: string, method: string, path: string, opts: { token?: string; body?: unknown } = {}): Promise<ApiResult> {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = text;
  }
  return { status: res.status, body };
}

async function expectStatus(r: Promise<ApiResult>, status: number, what: string): Promise<ApiResult> {
  const res = await r;
  if (res.status !== status) throw new Error(`${what}: HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
  return res;
}

export async function login(base: string, username = ADMIN_USER, password = ADMIN_PASSWORD): Promise<string> {
  return (await expectStatus(api(base, 'POST', '/api/auth/login', { body: { username, password } }), 200, `login ${username}`)).body.token as string;
}

export async function createAgentKey(base: string, adminToken: string, name = 'e2e-key'): Promise<{ id: string; key: string }> {
  return (await expectStatus(api(base, 'POST', '/api/agent-keys', { token: adminToken, body: { name } }), 201, 'create agent key')).body;
}

export async function revokeAgentKey(base: string, adminToken: string, id: string): Promise<void> {
  await expectStatus(api(base, 'DELETE', `/api/agent-keys/${id}`, { token: adminToken }), 200, 'revoke agent key');
}

export async function createSupportCode(base: string, adminToken: string): Promise<string> {
  return (await expectStatus(api(base, 'POST', '/api/support-codes', { token: adminToken, body: { label: 'e2e' } }), 201, 'create support code')).body.code as string;
}

/** A technician account; its password carries the canary marker. */
export async function createUser(base: string, adminToken: string, username: string, permissions: string[]): Promise<{ username: string; password: string }> {
  const password = `${CANARY}-${username}-pass-01`;
  await expectStatus(api(base, 'POST', '/api/users', { token: adminToken, body: { username, password, role: 'technician', permissions } }), 201, `create user ${username}`);
  return { username, password };
}

export interface SessionInfo {
  id: string;
  status: string;
  path: 'p2p' | 'relay' | null;
  viewers: Array<{ userId: string; displayName: string; control: boolean }>;
}

export async function getSession(base: string, token: string, sessionId: string): Promise<SessionInfo | undefined> {
  const r = await expectStatus(api(base, 'GET', '/api/sessions', { token }), 200, 'list sessions');
  return (r.body.sessions as SessionInfo[]).find((s) => s.id === sessionId);
}
