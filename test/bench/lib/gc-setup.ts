import { startServerProcess, ADMIN_PASSWORD, type ServerProcess } from '../../support/server-process.ts';

async function post(url: string, token: string | null, body?: unknown) {
  const r = await fetch(url, { method: 'POST', headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  if (!r.ok) throw new Error(`${url}: ${r.status} ${await r.text()}`);
  return r.json() as Promise<Record<string, unknown>>;
}

/** A server process with an admin token and a fresh agent key. */
export async function gcServer(env: Record<string, string> = {}): Promise<{ server: ServerProcess; admin: string; key: string; viewerToken(sessionId: string): Promise<string> }> {
  const server = await startServerProcess({ env: { LOG_LEVEL: 'warn', ...env } });
  const admin = (await post(`${server.url}/api/auth/login`, null, { username: 'admin', password: ADMIN_PASSWORD })).token as string;
  const key = (await post(`${server.url}/api/agent-keys`, admin, { name: 'bench' })).key as string;
  return {
    server,
    admin,
    key,
    viewerToken: async (sessionId) => (await post(`${server.url}/api/sessions/${sessionId}/viewer-token`, admin)).token as string,
  };
}

type GcServer = Awaited<ReturnType<typeof gcServer>>;
const shared = new Map<string, Promise<GcServer>>();

/** One server per environment for the whole run (server start-up dominates the quick mode); see `stopSharedGcServers`. */
export function sharedGcServer(env: Record<string, string> = {}): Promise<GcServer> {
  const key = JSON.stringify(Object.entries(env).sort());
  let s = shared.get(key);
  if (!s) {
    s = gcServer(env);
    shared.set(key, s);
    s.catch(() => shared.delete(key));
  }
  return s;
}

/** Stops the servers `sharedGcServer` started. Idempotent. */
export async function stopSharedGcServers(): Promise<void> {
  const all = [...shared.values()];
  shared.clear();
  await Promise.allSettled(all.map(async (s) => (await s).server.stop()));
}
