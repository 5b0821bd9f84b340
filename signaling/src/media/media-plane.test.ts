import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { chunkFrame, encodeFrame } from '@guruconnect/shared/codec';
import { MEDIA_AGENT_MAX_MESSAGE_BYTES, MEDIA_PLANE_PATH, RELAY_CHUNK_MAX_BYTES } from '@guruconnect/shared/limits';
import { encodeMediaEnvelope, MEDIA_CLOSE, mediaAgentNoticeSchema, mediaTicketSchema } from '@guruconnect/shared/protocol';
import { ADMIN_PASSWORD, loginAs, startTestServer, type TestServer } from '../testing/test-server.ts';
import { call, connectKeyedAgent, connectViewer, createAgentKey } from '../testing/clients.ts';

let s: TestServer;
let admin: string;

beforeAll(async () => {
  s = await startTestServer();
  admin = await loginAs(s.url, 'admin', ADMIN_PASSWORD);
});
afterAll(async () => s?.close());

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function ticketOf(socket: Parameters<typeof call>[0]): Promise<string> {
  const ack = await call(socket, 'relay:media-ticket', {});
  expect(ack).toMatchObject({ ok: true });
  return mediaTicketSchema.parse(ack.data).ticket;
}

/** A media socket, with everything it receives recorded. */
function openMedia(ticket: string) {
  const ws = new WebSocket(`ws://127.0.0.1:${s.port}${MEDIA_PLANE_PATH}?ticket=${encodeURIComponent(ticket)}`);
  const binary: Buffer[] = [];
  const text: unknown[] = [];
  ws.on('message', (d: Buffer, isBinary) => (isBinary ? binary.push(d) : text.push(JSON.parse(d.toString()))));
  const closedWith = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, body: JSON.parse(body || '{}') })));
    });
    ws.once('error', reject);
  });
  return { ws, binary, text, closedWith, opened };
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await wait(10);
  }
}

async function audits(type: string) {
  return s.tdb.db.prisma.auditEvent.findMany({ where: { type } });
}

/** An agent and a viewer of its session, both on the media plane. */
async function pair(name: string) {
  const agent = await connectKeyedAgent(s, (await createAgentKey(s, admin, name)).key);
  const viewer = await connectViewer(s, admin, agent.welcome.sessionId, { relay_acks: '1' });
  const am = openMedia(await ticketOf(agent.socket));
  await am.opened;
  const vm = openMedia(await ticketOf(viewer.socket));
  await vm.opened;
  const viewerId = viewer.welcome.viewerId as string;
  await until(() => am.text.some((n) => onOf(n).includes(viewerId)));
  return { agent, viewer, am, vm, viewerId };
}

const onOf = (n: unknown) => {
  const p = mediaAgentNoticeSchema.parse(n);
  return p.type === 'viewers' ? p.on : [];
};
const offOf = (n: unknown) => {
  const p = mediaAgentNoticeSchema.parse(n);
  return p.type === 'viewers' ? p.off : [];
};

const frameChunks = (id: number, bytes = 300_000) =>
  chunkFrame(encodeFrame({ seq: id, captureTsMs: Date.now(), keyframe: true, screenWidth: 16, screenHeight: 16, rects: [{ x: 0, y: 0, width: 16, height: 16, codec: 'jpeg', data: new Uint8Array(bytes).fill(id) }] }), id, RELAY_CHUNK_MAX_BYTES);

describe('media plane', () => {
  it('relays an agent\'s chunks to its viewer byte for byte, in a separate relay process', async () => {
    const { agent, viewer, am, vm, viewerId } = await pair('media-basic');
    expect(s.app.relay).toBeDefined();
    const chunks = frameChunks(1);
    expect(chunks.length).toBe(2);
    for (const c of chunks) am.ws.send(encodeMediaEnvelope([viewerId], c));
    await until(() => vm.binary.length === chunks.length);
    vm.binary.forEach((b, i) => expect(Buffer.compare(b, Buffer.from(chunks[i]!))).toBe(0));
    // The relayed bytes never passed through this process's relay queues.
    expect(s.app.relay.bytesForwarded).toBe(0);
    // The relay process runs with MEDIA_RELAY_NODE_FLAGS (default: its GC on its own thread).
    expect(s.app.media.processFlags).toContain('--single-threaded-gc');
    for (const x of [agent.socket, viewer.socket, am.ws, vm.ws]) x.close();
  });

  it('holds frames beyond the credit window until the viewer acknowledges over socket.io, and tells the agent on its media socket', async () => {
    const { agent, viewer, am, vm, viewerId } = await pair('media-credit');
    const credit = {
      filter: () => am.text.map((n) => mediaAgentNoticeSchema.parse(n)).filter((n) => n.type === 'credit'),
      some: (f: (c: { viewerId: string; open: boolean }) => boolean) => credit.filter().some(f),
    };
    for (let id = 1; id <= 5; id++) for (const c of frameChunks(id, 1000)) am.ws.send(encodeMediaEnvelope([viewerId], c));
    // Window of 3 frames: the 4th and 5th wait, and the agent hears the credit shut.
    await until(() => vm.binary.length === 3);
    await until(() => credit.some((c) => c.viewerId === viewerId && !c.open));
    await wait(100);
    expect(vm.binary.length).toBe(3);
    viewer.socket.emit('relay:ack', { frameId: 3 });
    await until(() => vm.binary.length === 5);
    await until(() => credit.some((c) => c.open));
    for (const x of [agent.socket, viewer.socket, am.ws, vm.ws]) x.close();
  });

  it('slows an agent that outruns its only viewer by not reading its socket, instead of dropping what it sent', async () => {
    const { agent, viewer, am, vm, viewerId } = await pair('media-backpressure');
    const droppedBefore = s.app.media.framesDropped;
    // 12 frames of ~300 KB at once to a viewer that acknowledges each only once it has it: three
    // go out, two wait, and the relay stops reading the agent. Without that, the frames behind
    // them overflow the window and are dropped (the agent sent them for nothing).
    const sent = Array.from({ length: 12 }, (_, i) => frameChunks(i + 1));
    for (const chunks of sent) for (const c of chunks) am.ws.send(encodeMediaEnvelope([viewerId], c));
    const acked = new Set<number>();
    const frameIdOf = (b: Buffer) => b.readUInt32LE(2);
    const total = sent.reduce((n, c) => n + c.length, 0);
    const end = Date.now() + 10_000;
    while (vm.binary.length < total && Date.now() < end) {
      // Acknowledge every whole frame received so far, as a viewer does.
      for (const b of vm.binary) {
        const id = frameIdOf(b);
        if (!acked.has(id) && vm.binary.filter((x) => frameIdOf(x) === id).length === 2) {
          acked.add(id);
          vm.ws.send(JSON.stringify({ type: 'ack', frameId: id }));
        }
      }
      await wait(20);
    }
    expect(vm.binary.length).toBe(total);
    vm.binary.forEach((b, i) => expect(Buffer.compare(b, Buffer.from(sent.flat()[i]!))).toBe(0));
    await wait(1200); // the relay process reports its counters every second
    expect(s.app.media.framesDropped - droppedBefore).toBe(0);
    for (const x of [agent.socket, viewer.socket, am.ws, vm.ws]) x.close();
  });

  it('keeps reading an agent while one of its viewers can take more: a stuck viewer does not hold up the other', async () => {
    const { agent, viewer, am, vm, viewerId } = await pair('media-hol');
    const stuck = await connectViewer(s, admin, agent.welcome.sessionId, { relay_acks: '1' });
    const sm = openMedia(await ticketOf(stuck.socket));
    await sm.opened;
    const stuckId = stuck.welcome.viewerId as string;
    await until(() => am.text.some((n) => onOf(n).includes(stuckId)));
    const droppedBefore = s.app.media.framesDropped;
    // Frames for each viewer in their own envelopes (as in pull mode): 8 for the stuck one, which
    // never acknowledges, interleaved with 8 for the other, which does.
    for (let id = 1; id <= 8; id++) {
      for (const c of frameChunks(100 + id)) am.ws.send(encodeMediaEnvelope([stuckId], c));
      for (const c of frameChunks(id, 1000)) am.ws.send(encodeMediaEnvelope([viewerId], c));
    }
    for (let id = 1; id <= 8; id++) {
      await until(() => vm.binary.length >= id);
      vm.ws.send(JSON.stringify({ type: 'ack', frameId: id }));
    }
    expect(vm.binary.map((b) => b.readUInt32LE(2))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // The stuck viewer got its window's worth; the rest of its frames were dropped.
    await wait(1200);
    expect(sm.binary.length).toBe(6); // 3 frames of 2 chunks
    expect(s.app.media.framesDropped - droppedBefore).toBeGreaterThan(0);
    for (const x of [agent.socket, viewer.socket, stuck.socket, am.ws, vm.ws, sm.ws]) x.close();
  });

  it('takes a viewer\'s ack on its media socket (one hop to the relay process) and closes it on anything else', async () => {
    const { agent, viewer, am, vm, viewerId } = await pair('media-ack');
    for (let id = 1; id <= 4; id++) for (const c of frameChunks(id, 1000)) am.ws.send(encodeMediaEnvelope([viewerId], c));
    await until(() => vm.binary.length === 3);
    await wait(100);
    expect(vm.binary.length).toBe(3);
    vm.ws.send(JSON.stringify({ type: 'ack', frameId: 1 }));
    await until(() => vm.binary.length === 4);
    // A binary message from a viewer is not an ack: closed, audited.
    vm.ws.send(Buffer.from([1, 2, 3]));
    expect(await vm.closedWith).toBe(MEDIA_CLOSE.invalid);
    await wait(300);
    const rows = await audits('media_protocol_violation');
    expect(rows.some((r) => (r.details as { role?: string }).role === 'viewer' && r.sessionId === agent.welcome.sessionId)).toBe(true);
    for (const x of [agent.socket, viewer.socket, am.ws]) x.close();
  });

  it('refuses a used, made-up or unbound ticket with 401 ERR_AUTH_INVALID_TICKET, audited', async () => {
    const agent = await connectKeyedAgent(s, (await createAgentKey(s, admin, 'media-ticket')).key);
    const t = await ticketOf(agent.socket);
    const first = openMedia(t);
    await first.opened;
    const before = (await audits('connection_rejected_invalid_token')).length;
    for (const bad of [t, 'gcm_' + 'A'.repeat(43), 'nonsense', '']) {
      const m = openMedia(bad);
      await expect(m.opened).rejects.toMatchObject({ status: 401, body: { error: { code: 'ERR_AUTH_INVALID_TICKET' } } });
    }
    const rows = await audits('connection_rejected_invalid_token');
    expect(rows.length - before).toBe(4);
    expect(rows.at(-1)!.details).toMatchObject({ plane: 'media', errorCode: 'ERR_AUTH_INVALID_TICKET' });
    // A ticket whose socket.io connection is gone opens nothing.
    const t2 = await ticketOf(agent.socket);
    agent.socket.close();
    await wait(200);
    await expect(openMedia(t2).opened).rejects.toMatchObject({ status: 401 });
    expect(await first.closedWith).toBe(MEDIA_CLOSE.detached);
  });

  it('closes the viewer\'s media socket when its socket.io connection goes, and tells the agent', async () => {
    const { agent, viewer, am, vm, viewerId } = await pair('media-detach');
    viewer.socket.close();
    expect(await vm.closedWith).toBe(MEDIA_CLOSE.detached);
    await until(() => am.text.some((n) => offOf(n).includes(viewerId)));
    for (const x of [agent.socket, am.ws]) x.close();
  });

  it('sends an agent\'s frames only to viewers of its own session; crossing is refused and audited', async () => {
    const a = await pair('media-iso-a');
    const b = await pair('media-iso-b');
    const chunks = frameChunks(7, 1000);
    a.am.ws.send(encodeMediaEnvelope([b.viewerId], chunks[0]!));
    a.am.ws.send(encodeMediaEnvelope([a.viewerId], chunks[0]!));
    await until(() => a.vm.binary.length === 1);
    await wait(150);
    expect(b.vm.binary.length).toBe(0);
    const rows = await audits('media_protocol_violation');
    expect(rows.some((r) => (r.details as { errorCode?: string }).errorCode === 'ERR_SIGNAL_NOT_ALLOWED' && r.sessionId === a.agent.welcome.sessionId)).toBe(true);
    for (const p of [a, b]) for (const x of [p.agent.socket, p.viewer.socket, p.am.ws, p.vm.ws]) x.close();
  });

  it('closes an agent media socket on an oversize or malformed message, and a viewer that sends anything but an ack; audited', async () => {
    const p1 = await pair('media-big');
    p1.am.ws.send(Buffer.alloc(MEDIA_AGENT_MAX_MESSAGE_BYTES + 1));
    expect(await p1.am.closedWith).toBe(1009);
    await wait(300);
    expect((await audits('message_too_large')).some((r) => (r.details as { plane?: string }).plane === 'media')).toBe(true);

    const p2 = await pair('media-bad');
    p2.am.ws.send(Buffer.from([1, 1, 200, 1, 2, 3]));
    expect(await p2.am.closedWith).toBe(MEDIA_CLOSE.invalid);
    p2.vm.ws.send('hello');
    expect(await p2.vm.closedWith).toBe(MEDIA_CLOSE.invalid);
    await wait(300);
    const rows = await audits('media_protocol_violation');
    expect(rows.filter((r) => (r.details as { errorCode?: string }).errorCode === 'ERR_PROTOCOL_INVALID_MESSAGE').length).toBeGreaterThanOrEqual(2);
    // The server is still up and relays for others.
    const p3 = await pair('media-after');
    p3.am.ws.send(encodeMediaEnvelope([p3.viewerId], frameChunks(1, 100)[0]!));
    await until(() => p3.vm.binary.length === 1);
    for (const p of [p1, p2, p3]) for (const x of [p.agent.socket, p.viewer.socket, p.am.ws, p.vm.ws]) x.close();
  });

  it('blocks an address that guesses tickets: bad tickets count as failures, then 429 ERR_AUTH_IP_BLOCKED', async () => {
    const strict = await startTestServer({ env: { BLOCK_THRESHOLD: '3' } });
    try {
      const upgrade = (ticket: string) => {
        const ws = new WebSocket(`ws://127.0.0.1:${strict.port}${MEDIA_PLANE_PATH}?ticket=${ticket}`);
        return new Promise<number | undefined>((resolve) => {
          ws.once('unexpected-response', (_req, res) => resolve(res.statusCode));
          ws.once('open', () => resolve(101));
          ws.once('error', () => undefined);
        });
      };
      // More than BLOCK_THRESHOLD failures block the address.
      for (let i = 0; i < 4; i++) expect(await upgrade(`gcm_${String(i).repeat(43)}`)).toBe(401);
      expect(await upgrade('gcm_' + 'B'.repeat(43))).toBe(429);
      const rows = await strict.tdb.db.prisma.auditEvent.findMany({ where: { type: 'connection_rejected_blocked_ip' } });
      expect(rows.some((r) => (r.details as { plane?: string }).plane === 'media')).toBe(true);
    } finally {
      await strict.close();
    }
  });

  it('refuses tickets with ERR_MEDIA_UNAVAILABLE when the media plane is off', async () => {
    const off = await startTestServer({ env: { MEDIA_RELAY: 'off' } });
    try {
      const adminOff = await loginAs(off.url, 'admin', ADMIN_PASSWORD);
      const agent = await connectKeyedAgent(off, (await createAgentKey(off, adminOff, 'media-off')).key);
      expect(await call(agent.socket, 'relay:media-ticket', {})).toMatchObject({ ok: false, error: { code: 'ERR_MEDIA_UNAVAILABLE' } });
      // The refusal leaves the socket.io connection up (it keeps relaying over relay:frame).
      expect(agent.socket.connected).toBe(true);
      agent.socket.close();
    } finally {
      await off.close();
    }
  });
});
