// Test-only: real socket.io clients and raw handshake probes against a running server.
import { request } from 'node:http';
import { io, type Socket } from 'socket.io-client';
import { PROTOCOL_VERSION } from '@guruconnect/shared/limits';
import { api, type TestServer } from './test-server.ts';

export type PlaneName = 'agent' | 'viewer' | 'console';

/** Connect a real socket.io client over WebSocket; resolves when connected, rejects on refusal. */
export function connect(base: string, plane: PlaneName, query: Record<string, string>, opts: { origin?: string; transports?: string[] } = {}): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = io(base, {
      path: `/ws/${plane}`,
      query: { protocol: String(PROTOCOL_VERSION), ...query },
      transports: opts.transports ?? ['websocket'],
      reconnection: false,
      forceNew: true,
      timeout: 5000,
      extraHeaders: opts.origin ? { origin: opts.origin } : undefined,
    });
    // Record every event from the start: the welcome can arrive in the same tick as `connect`.
    const inbox: Array<{ event: string; payload: unknown }> = [];
    inboxes.set(socket, inbox);
    socket.onAny((event: string, payload: unknown) => inbox.push({ event, payload }));
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => {
      socket.close();
      reject(err);
    });
  });
}

const inboxes = new WeakMap<Socket, Array<{ event: string; payload: unknown }>>();

/** Wait for the next not-yet-consumed occurrence of an event (buffered since connect). */
export function next<T = any>(socket: Socket, event: string, timeoutMs = 5000): Promise<T> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const inbox = inboxes.get(socket) ?? [];
  return new Promise((resolve, reject) => {
    const take = () => {
      const i = inbox.findIndex((m) => m.event === event);
      if (i === -1) return false;
      const [m] = inbox.splice(i, 1);
      resolve(m!.payload as T);
      return true;
    };
    if (take()) return;
    const t = setTimeout(() => {
      socket.offAny(check);
      reject(new Error(`timeout waiting for ${event}`));
    }, timeoutMs);
    const check = () =>
      queueMicrotask(() => {
        if (take()) {
          clearTimeout(t);
          socket.offAny(check);
        }
      });
    socket.onAny(check);
  });
}

/** Events received so far and not consumed by `next`. */
export function received(socket: Socket, event: string): unknown[] {
  return (inboxes.get(socket) ?? []).filter((m) => m.event === event).map((m) => m.payload);
}

/** Emit with an ack and resolve the ack. */
export function call<T = any>(socket: Socket, event: string, payload?: unknown): Promise<T> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return socket.timeout(5000).emitWithAck(event, payload) as Promise<T>;
}

export function closed(socket: Socket, timeoutMs = 5000): Promise<string> {
  if (socket.disconnected) return Promise.resolve('already');
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('socket stayed open')), timeoutMs);
    socket.once('disconnect', (reason) => {
      clearTimeout(t);
      resolve(reason);
    });
  });
}

export interface ProbeResult {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  upgraded: boolean;
}

/** First HTTP request of a handshake, raw: a polling GET or a WebSocket upgrade. */
export function probe(base: string, plane: PlaneName, query: Record<string, string>, mode: 'polling' | 'websocket', headers: Record<string, string> = {}): Promise<ProbeResult> {
  const url = new URL(`/ws/${plane}/`, base);
  for (const [k, v] of Object.entries({ EIO: '4', transport: mode, ...query })) url.searchParams.set(k, v);
  const upgrade = mode === 'websocket' ? { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' } : {};
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', headers: { ...upgrade, ...headers } });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      resolve({ status: 101, body: undefined, upgraded: true });
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => {
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = text;
        }
        resolve({ status: res.statusCode ?? 0, body, upgraded: false });
      });
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('probe timeout')));
    req.end();
  });
}

/** Create an agent key (admin) and return it. */
export async function createAgentKey(s: TestServer, adminToken: string, name = 'test-key', machineId?: string): Promise<{ id: string; key: string }> {
  const r = await api(s.url, 'POST', '/api/agent-keys', { token: adminToken, body: { name, ...(machineId ? { machineId } : {}) } });
  if (r.status !== 201) throw new Error(`agent key: ${r.status} ${r.text}`);
  return r.body;
}

export function agentQuery(extra: Record<string, string>): Record<string, string> {
  return { agent_id: `agent-${Math.random().toString(36).slice(2, 10)}`, name: 'Test PC', ...extra };
}

/** Connect a keyed agent and wait for its welcome. */
export async function connectKeyedAgent(s: TestServer, key: string, extra: Record<string, string> = {}) {
  const socket = await connect(s.url, 'agent', agentQuery({ api_key: key, ...extra }));
  const welcome = await next(socket, 'session:welcome');
  return { socket, welcome };
}

export async function viewerToken(s: TestServer, loginToken: string, sessionId: string): Promise<string> {
  const r = await api(s.url, 'POST', `/api/sessions/${sessionId}/viewer-token`, { token: loginToken });
  if (r.status !== 200) throw new Error(`viewer token: ${r.status} ${r.text}`);
  return r.body.token;
}

export async function connectViewer(s: TestServer, loginToken: string, sessionId: string, extraQuery: Record<string, string> = {}) {
  const token = await viewerToken(s, loginToken, sessionId);
  const socket = await connect(s.url, 'viewer', { token, session_id: sessionId, ...extraQuery });
  const welcome = await next(socket, 'session:welcome');
  return { socket, welcome, token };
}

export async function consoleTicket(s: TestServer, loginToken: string): Promise<string> {
  return (await api(s.url, 'POST', '/api/auth/console-ticket', { token: loginToken })).body.ticket;
}
