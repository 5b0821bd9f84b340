// Canary log test (issue #8): unique markers as passwords, chat text, relayed bytes and guessed codes,
// and the real secrets the server hands out (login and viewer tokens, console tickets, agent keys,
// support codes), go through every flow against a server process and a real agent process. Then
// every sink is searched — the server's log file, its stdout/stderr, the agent's log, the audit
// trail through GET /api/audit and the audit table read straight from the database: 0 hits.
// The suite-wide log scan (test/log-scan) looks for the marker and token shapes in every log of the
// run; this test adds the exact secret values, the audit table and the stdio sinks of one server.
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Socket } from 'socket.io-client';
import { encodeFrame } from '@guruconnect/shared/codec';
import { openDatabase } from '../../signaling/src/db/open-database.ts';
import { agentQuery, call, connect, next } from '../../signaling/src/testing/clients.ts';
import { startAgentProcess, type AgentProcess } from '../support/agent-process.ts';
import { api, createAgentKey, createSupportCode, login, revokeAgentKey } from '../support/api.ts';
import { recordFigures } from '../support/figures.ts';
import { CANARY, LOG_DIR, startServerProcess, type ServerProcess } from '../support/server-process.ts';
import { probe } from './harness.ts';

const run = randomBytes(4).toString('hex');
/** A marker the log scan also knows (CANARY), unique to this run. */
const mark = (what: string) => `${CANARY}-${what}-${run}`;

/** Every secret that went through a flow, with what it was. Support codes are matched as codes. */
const secrets: Array<{ what: string; value: string }> = [];
const codes: Array<{ what: string; code: string }> = [];
const keep = (what: string, value: string) => (secrets.push({ what, value }), value);

let server: ServerProcess;
let dataDir: string;
let serverLog: string;
let admin: string;
let agentProc: AgentProcess | undefined;
const sockets: Socket[] = [];
const open = <T extends Socket>(s: T) => (sockets.push(s), s);

/** Where each secret shows up in `text`: the sink and the surrounding text, the secret itself blanked. */
function findSecrets(sink: string, text: string): string[] {
  const hits: string[] = [];
  const around = (at: number, length: number, what: string) => `${sink}: ${what} in …${text.slice(Math.max(0, at - 70), at)}[${what}]${text.slice(at + length, at + length + 30)}…`;
  const marker = text.indexOf(CANARY);
  if (marker !== -1) hits.push(around(marker, CANARY.length, `the ${CANARY} marker`));
  for (const s of secrets) if (text.includes(s.value)) hits.push(around(text.indexOf(s.value), s.value.length, s.what));
  // A code is six digits: count it only where a leak would put it (a JSON string, a URL, "code …").
  for (const c of codes) {
    const m = new RegExp(`(["/=]|code[^0-9]{0,4})${c.code}(?![0-9.])`).exec(text);
    if (m) hits.push(around(m.index + m[0].length - c.code.length, c.code.length, c.what));
  }
  return hits;
}

const readOr = (path: string) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
};

beforeAll(async () => {
  // Our own data directory, so the audit table can be read from the database after the server stops,
  // and our own log file (copied to the log folder at the end for the suite-wide scan), so a
  // concurrent run emptying test-artifacts/logs cannot make this test vacuous.
  dataDir = mkdtempSync(join(tmpdir(), 'guru-canary-'));
  serverLog = join(dataDir, 'server.log');
  server = await startServerProcess({ env: { DATA_DIR: dataDir, LOG_FILE: serverLog }, readyTimeoutMs: 150_000 });
  admin = keep('admin login token', await login(server.url));
}, 180_000);
afterAll(async () => {
  for (const s of sockets) s.close();
  await agentProc?.stop();
  await server?.stop();
  mkdirSync(LOG_DIR, { recursive: true });
  if (serverLog) copyFileSync(serverLog, join(LOG_DIR, `canary-server-${run}.log`));
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

describe('secrets never reach a log or the audit trail', () => {
  it('go through every flow', async () => {
    const u = { username: `canary-${run}`, password: keep('user password', mark('password')) };
    expect((await api(server.url, 'POST', '/api/users', { token: admin, body: { ...u, role: 'technician', permissions: ['view', 'control', 'chat', 'manage_codes'] } })).status).toBe(201);
    // Login: failed (wrong password, and a password in the username field's neighbour), then ok.
    expect((await api(server.url, 'POST', '/api/auth/login', { body: { username: u.username, password: mark('wrong-password') } })).status).toBe(401);
    expect((await api(server.url, 'POST', '/api/auth/login', { body: { username: 'nobody', password: mark('unknown-user-password') } })).status).toBe(401);
    const tech = keep('technician login token', await login(server.url, u.username, u.password));
    expect((await api(server.url, 'PATCH', `/api/users/${(await api(server.url, 'GET', '/api/auth/me', { token: tech })).body.user.id}`, { token: admin, body: { password: mark('new-password') } })).status).toBe(200);
    const tech2 = keep('technician login token after the password change', await login(server.url, u.username, mark('new-password')));

    // Agent key: create, use (a real agent process), later revoke.
    const key = await createAgentKey(server.url, admin, 'canary-agent');
    keep('agent key', key.key);
    agentProc = startAgentProcess({ server: server.url, key: key.key });
    const sessionId = await agentProc.sessionId(60_000);

    // Viewer token and console ticket; chat to the agent process.
    const viewerTok = keep('viewer token', (await api(server.url, 'POST', `/api/sessions/${sessionId}/viewer-token`, { token: tech2 })).body.token as string);
    const viewer = open(await connect(server.url, 'viewer', { token: viewerTok, session_id: sessionId }));
    await next(viewer, 'session:welcome');
    expect((await call(viewer, 'chat:send', { text: mark('chat-to-agent-process') })).ok).toBe(true);
    await agentProc.waitForLog((l) => l.msg === 'chat message', 20_000, 'the agent got the chat');
    const ticket = keep('console ticket', (await api(server.url, 'POST', '/api/auth/console-ticket', { token: tech2 })).body.ticket as string);
    open(await connect(server.url, 'console', { ticket }));

    // A second, socket-level agent: chat both ways and relayed bytes carrying a marker.
    const key2 = await createAgentKey(server.url, admin, 'canary-socket-agent');
    keep('second agent key', key2.key);
    const agent2 = open(await connect(server.url, 'agent', agentQuery({ api_key: key2.key })));
    const session2 = (await next(agent2, 'session:welcome')).sessionId as string;
    const v2 = open(await connect(server.url, 'viewer', { token: keep('second viewer token', (await api(server.url, 'POST', `/api/sessions/${session2}/viewer-token`, { token: tech2 })).body.token as string), session_id: session2 }));
    const welcome2 = await next(v2, 'session:welcome');
    expect((await call(agent2, 'chat:send', { text: mark('chat-from-agent') })).ok).toBe(true);
    expect(String((await next(v2, 'chat:message')).text)).toContain(CANARY);
    expect((await call(v2, 'chat:send', { text: mark('chat-from-viewer') })).ok).toBe(true);
    await call(agent2, 'path:report', { viewerId: welcome2.viewerId, path: 'relay', reason: 'canary' });
    const frame = encodeFrame({ seq: 1, captureTsMs: 0, keyframe: true, screenWidth: 8, screenHeight: 8, rects: [{ x: 0, y: 0, width: 1, height: 1, codec: 'png', data: new TextEncoder().encode(mark('relayed-bytes')) }] });
    await call(agent2, 'relay:frame', { to: welcome2.viewerId, data: frame });

    // Support codes: create, look up, join, guess (wrong digits and a marker).
    const code = await createSupportCode(server.url, tech2);
    codes.push({ what: 'support code', code });
    expect((await api(server.url, 'GET', `/api/join/${code}`)).status).toBe(200);
    const supportAgent = open(await connect(server.url, 'agent', agentQuery({ support_code: code })));
    await next(supportAgent, 'session:welcome');
    const wrong = String((Number(code) + 500_000) % 1_000_000).padStart(6, '0');
    codes.push({ what: 'guessed support code', code: wrong });
    expect((await api(server.url, 'GET', `/api/join/${wrong}`)).status).toBe(404);
    expect((await api(server.url, 'GET', `/api/join/${mark('guess')}`)).status).toBeGreaterThanOrEqual(400);
    expect((await probe(server.url, 'agent', agentQuery({ support_code: wrong }), 'websocket')).status).toBe(401);
    expect((await probe(server.url, 'agent', agentQuery({ support_code: mark('guess') }), 'websocket')).status).toBeGreaterThanOrEqual(400);
    expect((await probe(server.url, 'agent', agentQuery({ api_key: `cak_${mark('forged-key')}` }), 'websocket')).status).toBe(401);

    // Revoke the key of the running agent process; log out.
    await revokeAgentKey(server.url, admin, key.id);
    await agentProc.waitForLog((l) => /disconnect|refused|revoked|exit/i.test(l.msg), 20_000, 'the agent noticed the revocation').catch(() => undefined);
    expect((await api(server.url, 'POST', '/api/auth/logout', { token: tech2 })).status).toBe(200);
    // The first token died with the password change.
    expect((await api(server.url, 'POST', '/api/auth/logout', { token: tech })).status).toBe(401);
  }, 180_000);

  it('and no sink holds a marker or a secret: server log, server stdio, agent log, audit API, audit table', async () => {
    const events: unknown[] = [];
    for (let cursor: string | null = null, page = 0; page < 100; page++) {
      const r = await api(server.url, 'GET', `/api/audit?limit=200${cursor ? `&cursor=${cursor}` : ''}`, { token: admin });
      expect(r.status).toBe(200);
      events.push(...(r.body.events as unknown[]));
      cursor = r.body.nextCursor as string | null;
      if (!cursor) break;
    }
    const auditApi = JSON.stringify(events);
    for (const s of sockets) s.close();
    await agentProc?.stop();
    await server.stop();
    const db = await openDatabase({ dataDir });
    let auditTable: string;
    try {
      const rows = await db.prisma.auditEvent.findMany();
      auditTable = JSON.stringify(rows, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
      // Stopping the agent and the server adds events after the API read.
      expect(rows.length).toBeGreaterThanOrEqual(events.length);
    } finally {
      await db.close();
    }
    const sinks: Record<string, string> = {
      'server log': readOr(serverLog),
      'server stdout/stderr': readOr(server.stdioFile),
      // Every line the agent wrote, kept in memory (its file in the log folder is scanned by the log scan).
      'agent log': `${agentProc!.logs.map((l) => JSON.stringify(l)).join('\n')}\n${agentProc!.plainStderr.join('\n')}\n${agentProc!.stdout.join('')}`,
      'audit API': auditApi,
      'audit table': auditTable,
    };
    // Not vacuous: the sinks saw the flows.
    expect(sinks['server log']!.split('\n').length).toBeGreaterThan(50);
    expect(sinks['agent log']).toContain('chat message');
    for (const type of ['login_failed', 'login_succeeded', 'agent_key_created', 'agent_key_revoked', 'support_code_created', 'support_code_guess', 'logout']) expect(auditTable, type).toContain(`"${type}"`);
    // And the search finds what it looks for.
    expect(findSecrets('planted', `x ${secrets[0]!.value} "${codes[0]!.code}"`).length).toBeGreaterThanOrEqual(2);

    const hits = Object.entries(sinks).flatMap(([sink, text]) => findSecrets(sink, text));
    recordFigures('canary', {
      markersFound: hits.length,
      secretsTraced: secrets.length + codes.length + 1,
      sinks: Object.fromEntries(Object.entries(sinks).map(([k, v]) => [k, `${v.length} characters`])),
      auditEvents: events.length,
      hits,
    });
    expect(hits).toEqual([]);
  }, 120_000);
});
