// Every way into the server: each HTTP route Fastify registered, with the auth level it declares, and
// each socket event each plane accepts. The tables below are the reviewed inventory — a route or an
// event that is not in them fails this file, so no entry point ships without someone deciding who may
// call it. Each non-public route is then tried anonymously (401) and with too few rights (403).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentClientEvents, consoleClientEvents, viewerClientEvents } from '@guruconnect/shared/protocol';
import { ADMIN_PASSWORD, CANARY, api, loginAs, startTestServer, type TestServer } from '../../signaling/src/testing/test-server.ts';
import { call, connect, connectKeyedAgent, connectViewer, consoleTicket, createAgentKey } from '../../signaling/src/testing/clients.ts';
import { registeredRoutes, type AuthLevel } from '../../signaling/src/http/route.ts';
import { PLANE_PATHS } from '../../signaling/src/planes/planes.ts';
import { freshSource, http, type PlaneName } from './harness.ts';

/** route → who may call it. */
const ROUTES: Record<string, AuthLevel> = {
  'GET /healthz': 'public',
  'GET /readyz': 'public',
  'POST /api/auth/login': 'public',
  'GET /api/join/:code': 'public',
  // Public to the route layer, guarded by its own METRICS_TOKEN bearer (404 when unset); checked below.
  'GET /metrics': 'public',
  // Agent-key routes: public at the route level, they authenticate their own credential first.
  'GET /api/agent/update': 'public',
  'POST /api/agent/update-report': 'public',
  'GET /api/agent/versions': 'admin',
  // The web app (static files, SPA fallback).
  'GET /': 'public',
  'GET /*': 'public',
  'GET /api/auth/me': 'login',
  'POST /api/auth/logout': 'login',
  'POST /api/auth/logout-all': 'login',
  'GET /api/auth/tokens': 'login',
  'DELETE /api/auth/tokens/:jti': 'login',
  'POST /api/auth/console-ticket': 'login',
  'GET /api/machines': 'perm:view',
  'GET /api/sessions': 'perm:view',
  'POST /api/sessions/:id/viewer-token': 'perm:view',
  'POST /api/support-codes': 'perm:manage_codes',
  'GET /api/support-codes': 'perm:manage_codes',
  'POST /api/support-codes/:code/cancel': 'perm:manage_codes',
  'GET /api/users': 'admin',
  'POST /api/users': 'admin',
  'PATCH /api/users/:id': 'admin',
  'POST /api/users/:id/revoke-tokens': 'admin',
  'GET /api/agent-keys': 'admin',
  'POST /api/agent-keys': 'admin',
  'DELETE /api/agent-keys/:id': 'admin',
  'GET /api/audit': 'admin',
  'GET /api/audit/failed-connections': 'admin',
  'GET /api/blocked-ips': 'admin',
  'DELETE /api/blocked-ips/:ip': 'admin',
  'DELETE /api/machines/:id': 'admin',
  'DELETE /api/sessions/:id': 'admin',
  'POST /api/machines/bulk-remove': 'admin',
};

/** plane → event → who sends it (and what the server checks beyond the schema). */
const EVENTS: Record<PlaneName, Record<string, string>> = {
  agent: {
    'signal:offer': 'the agent, to a viewer of its own session',
    'signal:answer': 'the agent, to a viewer of its own session',
    'signal:candidate': 'the agent, to a viewer of its own session',
    'chat:send': 'the agent (end user), to its own session',
    'path:report': 'the agent, about a viewer of its own session',
    'relay:frame': 'the agent, codec chunks/cursors ≤ RELAY_CHUNK_MAX_BYTES (256 KiB) for viewers of its own session',
    'relay:window': 'the agent, capping the relay credit window (1..RELAY_ACK_WINDOW_FRAMES) of a viewer of its own session',
    'relay:media-ticket': 'the agent, for a single-use ticket that opens one media-plane socket bound to this connection and its session',
  },
  viewer: {
    'signal:offer': 'a viewer, to its session’s agent',
    'signal:answer': 'a viewer, to its session’s agent',
    'signal:candidate': 'a viewer, to its session’s agent',
    'chat:send': 'a viewer with the chat permission',
    'relay:input': 'a viewer with control, throttled',
    'keyframe:request': 'a viewer, to its session’s agent',
    'relay:ack': 'a viewer, about frames relayed to itself (flow control, no reply)',
    'relay:media-ticket': 'a viewer, for a single-use ticket that opens one receive-only media-plane socket bound to this connection',
  },
  console: {
    'console:ping': 'any signed-in user with a console ticket',
  },
};

const PLANES: Record<PlaneName, string> = { agent: '/ws/agent', viewer: '/ws/viewer', console: '/ws/console' };
/** Listener names socket.io and our plumbing register on every socket; clients cannot emit the first three. */
const PLUMBING = new Set(['disconnect', 'disconnecting', 'error']);

/** The routes in `printRoutes()`'s tree, as `METHOD /url` (HEAD twins of GET routes left out). */
function routesInTree(tree: string): string[] {
  const out = new Set<string>();
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^((?:[│ ] {3})*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    stack.length = m[1]!.length / 4;
    const url = stack.join('') + m[2]!;
    stack.push(m[2]!);
    for (const method of m[3]?.split(', ') ?? []) out.add(`${method} ${url}`);
  }
  return [...out].filter((r) => !(r.startsWith('HEAD ') && out.has(r.replace(/^HEAD /, 'GET ')))).sort();
}

const fill = (url: string) => url.replace(':id', randomUUID()).replace(':jti', randomUUID()).replace(':code', '000000').replace(':ip', '203.0.113.9');
const send = (route: string, token?: string) => {
  const [method, url] = route.split(' ') as [string, string];
  return http(base, method, fill(url), { token, body: method === 'POST' || method === 'PATCH' ? {} : undefined, from: freshSource() });
};

const METRICS = `metrics-${randomUUID()}`;
let s: TestServer;
let base: string;
let admin: string;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  s = await startTestServer({ env: { BLOCK_THRESHOLD: '1000', METRICS_TOKEN: METRICS } });
  base = s.url;
  admin = await loginAs(base, 'admin', ADMIN_PASSWORD);
  const users: Record<string, string[]> = {
    none: [],
    all: ['view', 'control', 'chat', 'manage_codes'],
    'only-view': ['view'],
    'only-manage_codes': ['manage_codes'],
    'all-but-view': ['control', 'chat', 'manage_codes'],
    'all-but-manage_codes': ['view', 'control', 'chat'],
  };
  for (const [username, permissions] of Object.entries(users)) {
    const r = await api(base, 'POST', '/api/users', { token: admin, body: { username, password: `${CANARY}-${username}-pw`, permissions } });
    expect(r.status).toBe(201);
    tokens[username] = await loginAs(base, username, `${CANARY}-${username}-pw`);
  }
});
afterAll(async () => s?.close());

describe('HTTP route inventory', () => {
  it('Fastify serves exactly the routes in the table, all declared through defineRoutes with the table’s auth level', () => {
    const live = routesInTree(s.app.http.printRoutes({ commonPrefix: false }));
    expect(live).toEqual(Object.keys(ROUTES).sort());
    const declared = Object.fromEntries(registeredRoutes(s.app.http).map((r) => [`${r.method} ${r.url}`, r.auth]));
    expect(declared).toEqual(ROUTES);
  });

  it('the socket planes are exactly /ws/agent, /ws/viewer and /ws/console', () => {
    expect(PLANE_PATHS).toEqual(PLANES);
  });

  const nonPublic = Object.entries(ROUTES).filter(([, auth]) => auth !== 'public').map(([route]) => route);
  it.each(nonPublic)('%s refuses an anonymous caller (401) and a garbage bearer token (401)', async (route) => {
    const anon = await send(route);
    expect(anon.status).toBe(401);
    expect(anon.body.error.code).toBe('ERR_AUTH_REQUIRED');
    expect((await send(route, 'not.a.token')).status).toBe(401);
  });

  const adminOnly = Object.entries(ROUTES).filter(([, auth]) => auth === 'admin').map(([route]) => route);
  it.each(adminOnly)('%s refuses a technician holding every permission (403)', async (route) => {
    const r = await send(route, tokens.all);
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('ERR_AUTH_FORBIDDEN');
  });

  const perm = Object.entries(ROUTES).filter(([, auth]) => auth.startsWith('perm:'));
  it.each(perm)('%s (%s) refuses a technician without that permission (403) and lets one with only it past authorisation', async (route, auth) => {
    const p = auth.slice(5);
    for (const who of ['none', `all-but-${p}`]) {
      const r = await send(route, tokens[who]);
      expect(r.status, who).toBe(403);
      expect(r.body.error.code).toBe('ERR_AUTH_FORBIDDEN');
    }
    expect([401, 403]).not.toContain((await send(route, tokens[`only-${p}`])).status);
  });

  const loginLevel = Object.entries(ROUTES).filter(([, auth]) => auth === 'login').map(([route]) => route);
  it.each(loginLevel)('%s lets any signed-in user past authorisation, even one without permissions', async (route) => {
    // A throwaway login: logout routes revoke the token they are called with.
    const throwaway = await loginAs(base, 'none', `${CANARY}-none-pw`);
    expect([401, 403]).not.toContain((await send(route, throwaway)).status);
  });

  const OWN_CREDENTIAL_ROUTES = ['GET /metrics', 'GET /api/agent/update', 'POST /api/agent/update-report'];
  const publicRoutes = Object.entries(ROUTES).filter(([route, auth]) => auth === 'public' && !OWN_CREDENTIAL_ROUTES.includes(route)).map(([route]) => route);
  it.each(publicRoutes)('%s answers an anonymous caller without asking for credentials', async (route) => {
    expect([401, 403]).not.toContain((await send(route)).status);
  });

  it('GET /metrics answers only its own token: anonymous, a login token and a wrong token get 401', async () => {
    expect((await send('GET /metrics')).status).toBe(401);
    expect((await send('GET /metrics', admin)).status).toBe(401);
    expect((await send('GET /metrics', `${METRICS}x`)).status).toBe(401);
    expect((await send('GET /metrics', METRICS)).status).toBe(200);
  });
});

describe('socket event inventory', () => {
  const shared = { agent: agentClientEvents, viewer: viewerClientEvents, console: consoleClientEvents } as const;

  it('the shared event maps are exactly the reviewed table', () => {
    for (const plane of ['agent', 'viewer', 'console'] as const) expect(Object.keys(shared[plane]).sort(), plane).toEqual(Object.keys(EVENTS[plane]).sort());
  });

  it('a live socket of each plane has handlers for exactly the table’s events, each answering bad input with a validation code', async () => {
    const key = await createAgentKey(s, admin, 'inventory');
    const agent = await connectKeyedAgent(s, key.key);
    const viewer = await connectViewer(s, admin, agent.welcome.sessionId);
    const consoleSocket = await connect(base, 'console', { ticket: await consoleTicket(s, admin) });
    const clients = { agent: agent.socket, viewer: viewer.socket, console: consoleSocket };
    try {
      for (const plane of ['agent', 'viewer', 'console'] as const) {
        const client = clients[plane];
        const server = s.app.planes.io[plane].sockets.sockets.get(client.id!);
        expect(server, plane).toBeDefined();
        const listening = server!.eventNames().map(String).filter((e) => !PLUMBING.has(e)).sort();
        expect(listening, plane).toEqual(Object.keys(EVENTS[plane]).sort());
        for (const event of Object.keys(EVENTS[plane])) {
          for (const bogus of [42, 'x', null, [], [{}]]) {
            expect(await call(client, event, bogus), `${plane} ${event} ${JSON.stringify(bogus)}`).toMatchObject({ ok: false, error: { code: 'ERR_PROTOCOL_INVALID_MESSAGE' } });
          }
          expect(await client.timeout(5000).emitWithAck(event), `${plane} ${event} without payload`).toMatchObject({ ok: false, error: { code: 'ERR_PROTOCOL_INVALID_MESSAGE' } });
        }
        for (const unknown of ['session:remove', 'admin:users', 'relay:frames', 'SIGNAL:OFFER', 'console:ping ', '__proto__', 'constructor']) {
          expect(await call(client, unknown, {}), `${plane} ${unknown}`).toMatchObject({ ok: false, error: { code: 'ERR_PROTOCOL_UNKNOWN_EVENT' } });
        }
        expect(client.connected, plane).toBe(true);
      }
    } finally {
      for (const c of Object.values(clients)) c.close();
    }
  });
});
