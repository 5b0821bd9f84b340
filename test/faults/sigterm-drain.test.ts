// Fault: SIGTERM (a deploy, `systemctl stop`). The server drains: a request already in flight is
// answered, every socket is told why it is being closed (`server:disconnect`), the process exits
// 0 before SHUTDOWN_TIMEOUT_MS, and the agent comes back by itself to the next server.
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgentKey, login } from '../support/api.ts';
import { startAgentProcess, type AgentProcess } from '../support/agent-process.ts';
import { ADMIN_PASSWORD, ADMIN_USER, startServerProcess, type ServerProcess } from '../support/server-process.ts';
import { ViewerClient } from '../support/viewer-client.ts';
import { waitUntil } from '../support/wait.ts';
import { recordFaultFigures } from './support.ts';

const DRAIN_MS = 8000;

let server: ServerProcess;
let agent: AgentProcess | undefined;
let viewer: ViewerClient | undefined;

beforeAll(async () => {
  server = await startServerProcess({ env: { SHUTDOWN_TIMEOUT_MS: String(DRAIN_MS) } });
});
afterAll(async () => {
  await viewer?.close();
  await agent?.stop();
  await server?.stop();
});

/**
 * A login whose body is held back: `Expect: 100-continue` makes the server say when it has parsed
 * the headers and dispatched the request; the request stays in flight until `finish()`.
 */
function heldLogin(url: string): { req: ClientRequest; accepted: Promise<void>; response: Promise<{ status: number; body: string }>; finish(): void } {
  const body = JSON.stringify({ username: ADMIN_USER, password: ADMIN_PASSWORD });
  const req = request(`${url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), expect: '100-continue' },
  });
  const accepted = new Promise<void>((resolve) => req.once('continue', () => resolve()));
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.once('error', reject);
    req.once('response', (res: IncomingMessage) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.once('error', reject);
    });
  });
  response.catch(() => {}); // awaited by the test; a failure there is reported there
  req.flushHeaders();
  return { req, accepted, response, finish: () => req.end(body) };
}

describe('SIGTERM drains gracefully', () => {
  it('answers the request in flight, tells the sockets, exits 0 in time, and the agent reattaches to the next server', async () => {
    const admin = await login(server.url);
    const { key } = await createAgentKey(server.url, admin);
    agent = startAgentProcess({ server: server.url, key });
    const sessionId = await agent.sessionId(60_000);
    viewer = await ViewerClient.join({ baseUrl: server.url, sessionId, username: ADMIN_USER, password: ADMIN_PASSWORD, decode: false });

    const inFlight = heldLogin(server.url);
    // The server has the request (headers parsed, handler waiting for the body) before the signal.
    await inFlight.accepted;

    const exit = server.kill('SIGTERM');
    // The server is draining: the sockets hear why they are closed.
    await agent.waitForLog((l) => l.msg === 'disconnected', 15_000, 'the agent disconnected by the drain');
    inFlight.finish();
    const res = await inFlight.response;
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).token).toEqual(expect.any(String));

    const { code, signal } = await exit;
    expect(signal).toBeNull();
    expect(code).toBe(0); // 1 would mean the drain overran SHUTDOWN_TIMEOUT_MS

    const told = agent.logs.find((l) => l.msg === 'disconnected');
    expect(told?.serverReason).toBe('server_shutdown');
    await waitUntil(() => viewer!.events.find((e) => e.event === 'server:disconnect'), 10_000, 'the viewer told');
    expect(viewer.events.find((e) => e.event === 'server:disconnect')?.payload).toEqual({ reason: 'server_shutdown' });

    // The agent keeps trying and reattaches its session on the next server.
    await agent.waitForLog((l) => l.msg === 'reconnecting', 15_000, 'a reconnect attempt');
    await server.start();
    const resumed = await agent.waitForLog((l) => l.msg === 'session welcome' && l.resumed === true, 90_000, 'the agent back');
    expect(resumed.sessionId).toBe(sessionId);
    expect(agent.child.exitCode).toBeNull();

    await recordFaultFigures('sigterm', { exitCode: code, drainTimeoutMs: DRAIN_MS, inFlightRequestAnswered: res.status === 200, agentReattached: true });
  }, 150_000);
});
