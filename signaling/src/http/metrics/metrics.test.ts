import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, api, loginAs, startTestServer, type TestServer } from '../../testing/test-server.ts';
import { connectKeyedAgent, createAgentKey, probe } from '../../testing/clients.ts';

const TOKEN = 'metrics-token-0123456789';

describe('GET /metrics', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ env: { METRICS_TOKEN: TOKEN } });
  });
  afterAll(async () => s?.close());

  it('refuses a scrape without the token and serves Prometheus text with it', async () => {
    expect((await api(s.url, 'GET', '/metrics')).status).toBe(401);
    expect((await api(s.url, 'GET', '/metrics', { headers: { authorization: 'Bearer wrong-token-xxxxxxxx' } })).status).toBe(401);
    const admin = await loginAs(s.url, 'admin', ADMIN_PASSWORD);
    const a = await connectKeyedAgent(s, (await createAgentKey(s, admin)).key);
    await probe(s.url, 'viewer', { protocol: '1', token: 'x.y.z', session_id: a.welcome.sessionId }, 'websocket');
    await api(s.url, 'POST', '/api/auth/login', { body: { username: 'admin', password: 'Canary7Zx-wrong-pass' } });
    await new Promise((r) => setTimeout(r, 100));
    const r = await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/plain');
    const text = await r.text();
    expect(text).toMatch(/guru_connected_sockets\{plane="agent",node="[^"]+"\} 1/);
    expect(text).toMatch(/guru_handshake_refusals_total\{plane="viewer",code="ERR_AUTH_INVALID_TOKEN"/);
    expect(text).toMatch(/guru_login_failures_total\{node="[^"]+"\} 1/);
    expect(text).toContain('nodejs_eventloop_lag_p99_seconds');
    a.socket.close();
  });

  it('is disabled (404) without METRICS_TOKEN', async () => {
    const t = await startTestServer();
    try {
      expect((await api(t.url, 'GET', '/metrics')).status).toBe(404);
    } finally {
      await t.close();
    }
  });
});
