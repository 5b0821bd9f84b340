import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RELAY_ACK_WINDOW_FRAMES, RELAY_CHUNK_MAX_BYTES, RELAY_INPUT_BURST, RELAY_INPUT_RATE_PER_S } from '@guruconnect/shared/limits';
import { chunkFrame, encodeFrame } from '@guruconnect/shared/codec';
import { ADMIN_PASSWORD, CANARY, api, loginAs, startTestServer, type TestServer } from '../testing/test-server.ts';
import { agentQuery, call, closed, connect, connectKeyedAgent, connectViewer, consoleTicket, createAgentKey, next, received } from '../testing/clients.ts';

let s: TestServer;
let admin: string;
let tech: string;

beforeAll(async () => {
  s = await startTestServer();
  admin = await loginAs(s.url, 'admin', ADMIN_PASSWORD);
  await api(s.url, 'POST', '/api/users', { token: admin, body: { username: 'tech', password: `${CANARY}-tech-pw-01`, permissions: ['view', 'control', 'chat', 'manage_codes'] } });
  tech = await loginAs(s.url, 'tech', `${CANARY}-tech-pw-01`);
});
afterAll(async () => s?.close());

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('signaling isolation', () => {
  it('forwards SDP only between an agent and the viewers of the same session', async () => {
    const a = await connectKeyedAgent(s, (await createAgentKey(s, admin, 'iso-a')).key);
    const b = await connectKeyedAgent(s, (await createAgentKey(s, admin, 'iso-b')).key);
    const va = await connectViewer(s, admin, a.welcome.sessionId);
    const vb = await connectViewer(s, admin, b.welcome.sessionId);
    const joined = await next(a.socket, 'viewer:joined');
    expect(joined).toMatchObject({ viewerId: va.welcome.viewerId, control: true });

    expect((await call(va.socket, 'signal:offer', { description: { type: 'offer', sdp: 'v=0 a' } })).ok).toBe(true);
    const got = await next(a.socket, 'signal:offer');
    expect(got.from).toBe(va.welcome.viewerId);
    // The agent of A addressing the viewer of B is refused; B's viewer gets nothing.
    const refused = await call(a.socket, 'signal:answer', { to: vb.welcome.viewerId, description: { type: 'answer', sdp: 'x' } });
    expect(refused).toMatchObject({ ok: false, error: { code: 'ERR_SIGNAL_NOT_ALLOWED' } });
    expect((await call(a.socket, 'signal:answer', { to: va.welcome.viewerId, description: { type: 'answer', sdp: 'v=0' } })).ok).toBe(true);
    expect((await next(va.socket, 'signal:answer')).from).toBe(a.socket.id);
    await wait(100);
    expect(received(vb.socket, 'signal:answer')).toHaveLength(0);
    expect(received(b.socket, 'signal:offer')).toHaveLength(0);
    // SDP over 16 KiB is refused with a code.
    const big = await call(va.socket, 'signal:offer', { description: { type: 'offer', sdp: 'x'.repeat(16 * 1024 + 1) } });
    expect(big).toMatchObject({ ok: false, error: { code: 'ERR_PROTOCOL_INVALID_MESSAGE' } });
    // An unknown event name reaches no handler.
    expect(await call(va.socket, 'admin:remove-everything', {})).toMatchObject({ ok: false, error: { code: 'ERR_PROTOCOL_UNKNOWN_EVENT' } });
    for (const x of [a.socket, b.socket, va.socket, vb.socket]) x.close();
  });

  it('delivers chat within the session only and never logs its text', async () => {
    const a = await connectKeyedAgent(s, (await createAgentKey(s, admin, 'chat-a')).key);
    const b = await connectKeyedAgent(s, (await createAgentKey(s, admin, 'chat-b')).key);
    const va = await connectViewer(s, tech, a.welcome.sessionId);
    const vb = await connectViewer(s, admin, b.welcome.sessionId);
    const text = `${CANARY}-chat-secret-${randomUUID()}`;
    expect((await call(va.socket, 'chat:send', { text })).ok).toBe(true);
    expect((await next(a.socket, 'chat:message')).text).toBe(text);
    expect((await next(va.socket, 'chat:message')).from).toEqual({ kind: 'technician', name: 'tech' });
    expect((await call(a.socket, 'chat:send', { text: `${text}-reply` })).ok).toBe(true);
    expect((await next(va.socket, 'chat:message')).text).toBe(`${text}-reply`);
    await wait(100);
    expect(received(vb.socket, 'chat:message')).toHaveLength(0);
    expect(received(b.socket, 'chat:message')).toHaveLength(0);
    expect(readFileSync(s.logFile, 'utf8')).not.toContain(text);
    const audit = JSON.stringify(await s.tdb.db.prisma.auditEvent.findMany(), (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
    expect(audit).not.toContain(text);
    for (const x of [a.socket, b.socket, va.socket, vb.socket]) x.close();
  });
});

describe('message caps', () => {
  it('closes an agent socket that sends 4 MiB + 1 and stays up', async () => {
    const a = await connectKeyedAgent(s, (await createAgentKey(s, admin, 'cap-a')).key);
    const gone = closed(a.socket);
    a.socket.emit('chat:send', { text: 'x'.repeat(4 * 1024 * 1024 + 1) });
    await gone;
    expect((await api(s.url, 'GET', '/healthz')).status).toBe(200);
  });

  it('closes a viewer socket that sends 64 KiB + 1 and audits it', async () => {
    const a = await connectKeyedAgent(s, (await createAgentKey(s, admin, 'cap-v')).key);
    const v = await connectViewer(s, admin, a.welcome.sessionId);
    const gone = closed(v.socket);
    v.socket.emit('chat:send', { text: 'y'.repeat(64 * 1024 + 1) });
    await gone;
    expect((await api(s.url, 'GET', '/healthz')).status).toBe(200);
    await wait(200);
    expect(await s.tdb.db.prisma.auditEvent.count({ where: { type: 'message_too_large' } })).toBeGreaterThan(0);
    a.socket.close();
  });

  it('relays a chunk of RELAY_CHUNK_MAX_BYTES whole; refuses one byte more and a message that is not a codec message', async () => {
    const a = await connectKeyedAgent(s, (await createAgentKey(s, admin, 'cap-r')).key);
    const v = await connectViewer(s, admin, a.welcome.sessionId);
    const encoded = encodeFrame({ seq: 1, captureTsMs: 0, keyframe: true, screenWidth: 64, screenHeight: 64, rects: [{ x: 0, y: 0, width: 64, height: 64, codec: 'jpeg', data: new Uint8Array(RELAY_CHUNK_MAX_BYTES - 200).fill(3) }] });
    const [whole, ...rest] = chunkFrame(encoded, 1, RELAY_CHUNK_MAX_BYTES);
    expect(rest).toHaveLength(0);
    expect(whole!.length).toBeGreaterThan(RELAY_CHUNK_MAX_BYTES - 200);
    const arrived = next<Buffer>(v.socket, 'relay:frame');
    expect(await call(a.socket, 'relay:frame', { to: v.welcome.viewerId, data: whole })).toMatchObject({ ok: true, data: { delivered: 1 } });
    expect(Buffer.compare(await arrived, Buffer.from(whole!))).toBe(0);
    const over = await call(a.socket, 'relay:frame', { to: v.welcome.viewerId, data: new Uint8Array(RELAY_CHUNK_MAX_BYTES + 1).fill(1) });
    expect(over).toMatchObject({ ok: false, error: { code: 'ERR_PROTOCOL_MESSAGE_TOO_LARGE' } });
    const junk = await call(a.socket, 'relay:frame', { to: v.welcome.viewerId, data: new Uint8Array([9, 9, 9]) });
    expect(junk).toMatchObject({ ok: false, error: { code: 'ERR_PROTOCOL_INVALID_MESSAGE' } });
    a.socket.close();
    v.socket.close();
  });
});

describe('relay credit', () => {
  const frame = (id: number) => chunkFrame(encodeFrame({ seq: id, captureTsMs: 0, keyframe: id === 1, screenWidth: 16, screenHeight: 16, rects: [{ x: 0, y: 0, width: 16, height: 16, codec: 'jpeg', data: new Uint8Array(100).fill(id) }] }), id)[0]!;
  const settle = async (socket: Parameters<typeof received>[0], want: number) => {
    for (let i = 0; i < 50 && received(socket, 'relay:frame').length < want; i++) await wait(20);
    await wait(200); // and nothing more comes
  };

  it('applies the window from the first frame to a viewer that declared relay_acks=1, and tells the agent', async () => {
    const a = await connectKeyedAgent(s, (await createAgentKey(s, admin, 'credit-a')).key);
    const v = await connectViewer(s, admin, a.welcome.sessionId, { relay_acks: '1' });
    for (let id = 1; id <= 6; id++) await call(a.socket, 'relay:frame', { to: v.welcome.viewerId, data: frame(id) });
    await settle(v.socket, RELAY_ACK_WINDOW_FRAMES);
    expect(received(v.socket, 'relay:frame')).toHaveLength(RELAY_ACK_WINDOW_FRAMES);
    expect(await next(a.socket, 'relay:credit')).toEqual({ viewerId: v.welcome.viewerId, open: false });
    // Acknowledged ≥ 200 ms after it was sent: a slow viewer, whose window shrinks to one frame.
    v.socket.emit('relay:ack', { frameId: RELAY_ACK_WINDOW_FRAMES });
    await settle(v.socket, RELAY_ACK_WINDOW_FRAMES + 1);
    expect(received(v.socket, 'relay:frame')).toHaveLength(RELAY_ACK_WINDOW_FRAMES + 1);
    v.socket.emit('relay:ack', { frameId: RELAY_ACK_WINDOW_FRAMES + 1 });
    await settle(v.socket, RELAY_ACK_WINDOW_FRAMES + 2);
    expect(received(v.socket, 'relay:frame')).toHaveLength(RELAY_ACK_WINDOW_FRAMES + 2);
    a.socket.close();
    v.socket.close();
  });

  it("caps a viewer's window at what the agent asks (relay:window), for viewers of its own session only", async () => {
    const a = await connectKeyedAgent(s, (await createAgentKey(s, admin, 'window-a')).key);
    const v = await connectViewer(s, admin, a.welcome.sessionId, { relay_acks: '1' });
    expect(await call(a.socket, 'relay:window', { viewerId: v.welcome.viewerId, frames: 1 })).toMatchObject({ ok: true });
    for (let id = 1; id <= 3; id++) await call(a.socket, 'relay:frame', { to: v.welcome.viewerId, data: frame(id) });
    await settle(v.socket, 1);
    expect(received(v.socket, 'relay:frame')).toHaveLength(1);
    expect(await next(a.socket, 'relay:credit')).toEqual({ viewerId: v.welcome.viewerId, open: false });
    // Back to the default window: what waited goes at once, no ack needed.
    expect(await call(a.socket, 'relay:window', { viewerId: v.welcome.viewerId, frames: RELAY_ACK_WINDOW_FRAMES })).toMatchObject({ ok: true });
    await settle(v.socket, 3);
    expect(received(v.socket, 'relay:frame')).toHaveLength(3);
    // Another session's viewer, or a window outside 1..RELAY_ACK_WINDOW_FRAMES (the schema): refused.
    const other = await connectKeyedAgent(s, (await createAgentKey(s, admin, 'window-b')).key);
    expect(await call(other.socket, 'relay:window', { viewerId: v.welcome.viewerId, frames: 1 })).toMatchObject({ ok: false, error: { code: 'ERR_SIGNAL_NOT_ALLOWED' } });
    for (const frames of [0, RELAY_ACK_WINDOW_FRAMES + 1, 1.5]) {
      expect(await call(a.socket, 'relay:window', { viewerId: v.welcome.viewerId, frames })).toMatchObject({ ok: false, error: { code: 'ERR_PROTOCOL_INVALID_MESSAGE' } });
    }
    a.socket.close();
    other.socket.close();
    v.socket.close();
  });

  it('sends a viewer that did not declare it everything until its first ack', async () => {
    const a = await connectKeyedAgent(s, (await createAgentKey(s, admin, 'credit-b')).key);
    const v = await connectViewer(s, admin, a.welcome.sessionId);
    for (let id = 1; id <= 6; id++) await call(a.socket, 'relay:frame', { to: v.welcome.viewerId, data: frame(id) });
    await settle(v.socket, 6);
    expect(received(v.socket, 'relay:frame')).toHaveLength(6);
    expect(received(a.socket, 'relay:credit')).toHaveLength(0);
    a.socket.close();
    v.socket.close();
  });
});

describe('machine_uid dedup gate', () => {
  it('a keyed agent claiming machine Y’s uid leaves Y untouched', async () => {
    const code = (await api(s.url, 'POST', '/api/support-codes', { token: tech, body: {} })).body.code;
    const uid = `uid-${randomUUID()}`;
    const y = await connect(s.url, 'agent', agentQuery({ support_code: code, machine_uid: uid, name: 'Machine Y' }));
    const yw = await next(y, 'session:welcome');
    y.close();
    await wait(200);
    const before = await s.tdb.db.prisma.machine.findUnique({ where: { id: yw.machineId } });
    const k = await connectKeyedAgent(s, (await createAgentKey(s, admin, 'spoofer')).key, { machine_uid: uid, name: 'Spoofer' });
    expect(k.welcome.machineId).not.toBe(yw.machineId);
    const after = await s.tdb.db.prisma.machine.findUnique({ where: { id: yw.machineId } });
    expect(after).toEqual(before);
    const keyed = await s.tdb.db.prisma.machine.findUnique({ where: { id: k.welcome.machineId } });
    expect(keyed).toMatchObject({ keyed: true, machineUid: null });
    k.socket.close();
  });

  it('an un-keyed uid collision with a live agent is refused (deny, never hijack)', async () => {
    const uid = `uid-${randomUUID()}`;
    const c1 = (await api(s.url, 'POST', '/api/support-codes', { token: tech, body: {} })).body.code;
    const c2 = (await api(s.url, 'POST', '/api/support-codes', { token: tech, body: {} })).body.code;
    const first = await connect(s.url, 'agent', agentQuery({ support_code: c1, machine_uid: uid, name: 'Real' }));
    const fw = await next(first, 'session:welcome');
    await expect(connect(s.url, 'agent', agentQuery({ support_code: c2, machine_uid: uid, name: 'Evil' }))).rejects.toThrow();
    const m = await s.tdb.db.prisma.machine.findUnique({ where: { id: fw.machineId } });
    expect(m?.name).toBe('Real');
    expect(first.connected).toBe(true);
    first.close();
  });
});

describe('support-code lifecycle', () => {
  const status = async (code: string) => (await api(s.url, 'GET', '/api/support-codes', { token: tech })).body.codes.find((c: { code: string }) => c.code === code)?.status;

  it('pending → connected → completed, single use', async () => {
    const created = await api(s.url, 'POST', '/api/support-codes', { token: tech, body: { label: 'Printer', ttlMinutes: 5 } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ status: 'pending', link: `${s.config.PUBLIC_URL}/join/${created.body.code}` });
    const code = created.body.code;
    expect((await api(s.url, 'GET', `/api/join/${code}`)).body).toEqual({ technician: 'tech', label: 'Printer', usable: true });
    const agent = await connect(s.url, 'agent', agentQuery({ support_code: code }));
    await next(agent, 'session:welcome');
    expect(await status(code)).toBe('connected');
    expect((await api(s.url, 'GET', `/api/join/${code}`)).body.usable).toBe(false);
    agent.close();
    await wait(300);
    expect(await status(code)).toBe('completed');
  });

  it('pending → cancelled; connected → cancelled disconnects the agent', async () => {
    const c1 = (await api(s.url, 'POST', '/api/support-codes', { token: tech, body: {} })).body.code;
    expect((await api(s.url, 'POST', `/api/support-codes/${c1}/cancel`, { token: tech })).body.status).toBe('cancelled');
    const c2 = (await api(s.url, 'POST', '/api/support-codes', { token: tech, body: {} })).body.code;
    const agent = await connect(s.url, 'agent', agentQuery({ support_code: c2 }));
    await next(agent, 'session:welcome');
    const gone = closed(agent);
    expect((await api(s.url, 'POST', `/api/support-codes/${c2}/cancel`, { token: tech })).body.status).toBe('cancelled');
    await gone;
  });

  it('pending → expired when the TTL passes', async () => {
    const code = (await api(s.url, 'POST', '/api/support-codes', { token: tech, body: { ttlMinutes: 1 } })).body.code;
    await s.tdb.db.prisma.supportCode.updateMany({ where: { code }, data: { expiresAt: new Date(Date.now() - 1) } });
    expect(await status(code)).toBe('expired');
    await s.app.services.supportCodes.expireDue();
    expect((await s.tdb.db.prisma.supportCode.findFirst({ where: { code } }))?.status).toBe('expired');
  });

  it('validates TTL bounds and needs manage_codes', async () => {
    expect((await api(s.url, 'POST', '/api/support-codes', { token: tech, body: { ttlMinutes: 61 } })).status).toBe(400);
    await api(s.url, 'POST', '/api/users', { token: admin, body: { username: 'nocodes', password: `${CANARY}-nocodes-01`, permissions: ['view'] } });
    const t = await loginAs(s.url, 'nocodes', `${CANARY}-nocodes-01`);
    expect((await api(s.url, 'POST', '/api/support-codes', { token: t, body: {} })).status).toBe(403);
  });
});

describe('operator removal', () => {
  it('is admin-only: a technician gets 403 before any database work', async () => {
    const a = await connectKeyedAgent(s, (await createAgentKey(s, admin, 'rm-authz')).key);
    for (const [method, path, body] of [
      ['DELETE', `/api/machines/${a.welcome.machineId}`, undefined],
      ['DELETE', `/api/sessions/${a.welcome.sessionId}`, undefined],
      ['POST', '/api/machines/bulk-remove', { ids: [a.welcome.machineId] }],
      ['DELETE', '/api/machines/not-a-uuid', undefined],
    ] as const) {
      const r = await api(s.url, method, path, { token: tech, body });
      expect(r.status).toBe(403);
    }
    expect(a.socket.connected).toBe(true);
    expect((await s.tdb.db.prisma.machine.findUnique({ where: { id: a.welcome.machineId } }))?.removedAt).toBeNull();
    a.socket.close();
  });

  it('removing a machine disconnects agent and viewers, revokes its keys, is audited, and is idempotent', async () => {
    const key = await createAgentKey(s, admin, 'rm-live');
    const a = await connectKeyedAgent(s, key.key);
    const v = await connectViewer(s, admin, a.welcome.sessionId);
    const goneA = closed(a.socket);
    const goneV = closed(v.socket);
    expect((await api(s.url, 'DELETE', `/api/machines/${a.welcome.machineId}`, { token: admin })).status).toBe(200);
    await Promise.all([goneA, goneV]);
    await expect(connect(s.url, 'agent', agentQuery({ api_key: key.key }))).rejects.toThrow();
    expect((await api(s.url, 'DELETE', `/api/machines/${a.welcome.machineId}`, { token: admin })).status).toBe(200);
    expect(await s.tdb.db.prisma.auditEvent.count({ where: { type: 'machine_removed', target: `machine:${a.welcome.machineId}` } })).toBe(1);
    const row = await s.tdb.db.prisma.auditEvent.findFirst({ where: { type: 'machine_removed' } });
    expect(row?.clientIp).toBe('127.0.0.1');
  });

  it('bulk removal: 1..500 ids, per-id results, one failure does not stop the rest', async () => {
    expect((await api(s.url, 'POST', '/api/machines/bulk-remove', { token: admin, body: { ids: [] } })).status).toBe(400);
    const ids501 = Array.from({ length: 501 }, () => randomUUID());
    expect((await api(s.url, 'POST', '/api/machines/bulk-remove', { token: admin, body: { ids: ids501 } })).status).toBe(400);
    const m1 = await connectKeyedAgent(s, (await createAgentKey(s, admin, 'bulk-1')).key);
    const m2 = await connectKeyedAgent(s, (await createAgentKey(s, admin, 'bulk-2')).key);
    const unknown = randomUUID();
    const r = await api(s.url, 'POST', '/api/machines/bulk-remove', { token: admin, body: { ids: [m1.welcome.machineId, 'nope', unknown, m2.welcome.machineId] } });
    expect(r.status).toBe(200);
    expect(r.body.results).toEqual([
      { id: m1.welcome.machineId, ok: true },
      { id: 'nope', ok: false, error: 'ERR_VALIDATION' },
      { id: unknown, ok: false, error: 'ERR_MACHINE_NOT_FOUND' },
      { id: m2.welcome.machineId, ok: true },
    ]);
  });

  it('removing a session twice succeeds twice and changes nothing the second time', async () => {
    const a = await connectKeyedAgent(s, (await createAgentKey(s, admin, 'rm-sess')).key);
    const gone = closed(a.socket);
    expect((await api(s.url, 'DELETE', `/api/sessions/${a.welcome.sessionId}`, { token: admin })).status).toBe(200);
    await gone;
    const row1 = await s.tdb.db.prisma.session.findUnique({ where: { id: a.welcome.sessionId } });
    expect((await api(s.url, 'DELETE', `/api/sessions/${a.welcome.sessionId}`, { token: admin })).status).toBe(200);
    expect(await s.tdb.db.prisma.session.findUnique({ where: { id: a.welcome.sessionId } })).toEqual(row1);
    expect((await api(s.url, 'DELETE', `/api/sessions/${randomUUID()}`, { token: admin })).status).toBe(404);
  });
});

describe('revocation closes live sockets', () => {
  it('logout closes viewer and console sockets opened with that login within a second', async () => {
    const a = await connectKeyedAgent(s, (await createAgentKey(s, admin, 'rev-1')).key);
    const login = await loginAs(s.url, 'tech', `${CANARY}-tech-pw-01`);
    const v = await connectViewer(s, login, a.welcome.sessionId);
    const c = await connect(s.url, 'console', { ticket: await consoleTicket(s, login) });
    const t0 = Date.now();
    const gone = Promise.all([closed(v.socket, 1000), closed(c, 1000)]);
    await api(s.url, 'POST', '/api/auth/logout', { token: login });
    await gone;
    expect(Date.now() - t0).toBeLessThan(1500);
    a.socket.close();
  });

  it('revoking an agent key closes the agent socket', async () => {
    const key = await createAgentKey(s, admin, 'rev-key');
    const a = await connectKeyedAgent(s, key.key);
    const gone = closed(a.socket, 1000);
    await api(s.url, 'DELETE', `/api/agent-keys/${key.id}`, { token: admin });
    await gone;
  });

  it('disabling a user closes their sockets', async () => {
    const made = await api(s.url, 'POST', '/api/users', { token: admin, body: { username: 'victim', password: `${CANARY}-victim-01`, permissions: ['view'] } });
    const login = await loginAs(s.url, 'victim', `${CANARY}-victim-01`);
    const c = await connect(s.url, 'console', { ticket: await consoleTicket(s, login) });
    const gone = closed(c, 1000);
    await api(s.url, 'PATCH', `/api/users/${made.body.id}`, { token: admin, body: { disabled: true } });
    await gone;
  });
});

describe('input on the relay path', () => {
  it('forwards input from a viewer with control and refuses a view-only viewer', async () => {
    const a = await connectKeyedAgent(s, (await createAgentKey(s, admin, 'input')).key);
    const withControl = await connectViewer(s, tech, a.welcome.sessionId);
    const move = { type: 'pointer:move', x: 10, y: 20, t: 1 };
    expect((await call(withControl.socket, 'relay:input', move)).ok).toBe(true);
    expect(await next(a.socket, 'relay:input')).toEqual({ from: withControl.welcome.viewerId, input: move });

    await api(s.url, 'POST', '/api/users', { token: admin, body: { username: 'watcher', password: `${CANARY}-watcher-01`, permissions: ['view'] } });
    const watcher = await connectViewer(s, await loginAs(s.url, 'watcher', `${CANARY}-watcher-01`), a.welcome.sessionId);
    expect(watcher.welcome.control).toBe(false);
    expect(await call(watcher.socket, 'relay:input', move)).toMatchObject({ ok: false, error: { code: 'ERR_INPUT_NOT_ALLOWED' } });
    await wait(100);
    expect(received(a.socket, 'relay:input')).toHaveLength(0);
    for (const x of [a.socket, withControl.socket, watcher.socket]) x.close();
  });

  it('throttles relayed input per viewer and drops the excess', async () => {
    // A server with a small throttle, so the test does not depend on how fast this machine sends.
    const small = await startTestServer({ env: { RELAY_INPUT_RATE_PER_S: '200', RELAY_INPUT_BURST: '400' } });
    try {
      const smallAdmin = await loginAs(small.url, 'admin', ADMIN_PASSWORD);
      const a = await connectKeyedAgent(small, (await createAgentKey(small, smallAdmin, 'throttle')).key);
      const v = await connectViewer(small, smallAdmin, a.welcome.sessionId);
      const started = performance.now();
      const acks = await Promise.all(Array.from({ length: 600 }, (_, i) => call(v.socket, 'relay:input', { type: 'pointer:move', x: i % 100, y: 1, t: i })));
      const elapsedS = (performance.now() - started) / 1000;
      const ok = acks.filter((x) => x.ok).length;
      expect(ok).toBeGreaterThanOrEqual(400);
      // The bucket refills while the messages are in flight: never more than burst + rate × elapsed.
      expect(ok).toBeLessThanOrEqual(400 + Math.ceil(200 * elapsedS) + 1);
      expect(acks.find((x) => !x.ok)).toMatchObject({ error: { code: 'ERR_INPUT_THROTTLED' } });
      a.socket.close();
      v.socket.close();
    } finally {
      await small.close();
    }
  });

  it('lets 500 pointer moves a second through by default (a fast mouse)', () => {
    expect(RELAY_INPUT_RATE_PER_S).toBeGreaterThanOrEqual(500);
    expect(s.config.RELAY_INPUT_RATE_PER_S).toBe(RELAY_INPUT_RATE_PER_S);
    expect(s.config.RELAY_INPUT_BURST).toBe(RELAY_INPUT_BURST);
  });
});
