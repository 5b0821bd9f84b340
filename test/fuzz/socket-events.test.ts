// Every socket event of every plane with random payloads — wrong types, near-valid objects, deep
// nesting, huge strings, unpaired UTF-16 surrogates, Buffers, arrays, null, extra arguments. Under
// the plane cap each gets an ack: a result or an error code from the shared union, never
// ERR_INTERNAL; over the cap the socket is closed. The server keeps running throughout.
import { existsSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Socket } from 'socket.io-client';
import { Encoder, PacketType } from 'socket.io-parser';
import { isErrorCode } from '@guruconnect/shared/errors';
import { AGENT_MAX_MESSAGE_BYTES, CONSOLE_MAX_MESSAGE_BYTES, VIEWER_MAX_MESSAGE_BYTES } from '@guruconnect/shared/limits';
import { agentClientEvents, consoleClientEvents, viewerClientEvents } from '@guruconnect/shared/protocol';
import { ADMIN_PASSWORD, loginAs, startTestServer, type TestServer } from '../../signaling/src/testing/test-server.ts';
import { closed, connect, connectKeyedAgent, connectViewer, consoleTicket, createAgentKey } from '../../signaling/src/testing/clients.ts';
import { fuzzRuns, healthy, watchProcessFaults, type PlaneName } from '../security/harness.ts';

const RUNS = fuzzRuns(30);
const CAPS: Record<PlaneName, number> = { agent: AGENT_MAX_MESSAGE_BYTES, viewer: VIEWER_MAX_MESSAGE_BYTES, console: CONSOLE_MAX_MESSAGE_BYTES };

let s: TestServer;
let admin: string;
let agentKey: string;
let sessionId: string;
const sockets = {} as Record<PlaneName, Socket>;
const ids: { viewer?: string; agent?: string } = {};
const faults = watchProcessFaults();

async function open(plane: PlaneName): Promise<Socket> {
  if (plane === 'agent') {
    const a = await connectKeyedAgent(s, agentKey);
    sessionId = a.welcome.sessionId;
    ids.agent = a.socket.id;
    return a.socket;
  }
  if (plane === 'viewer') {
    const v = await connectViewer(s, admin, sessionId);
    ids.viewer = v.welcome.viewerId;
    return v.socket;
  }
  return connect(s.url, 'console', { ticket: await consoleTicket(s, admin) });
}
async function socketFor(plane: PlaneName): Promise<Socket> {
  if (!sockets[plane]?.connected) sockets[plane] = await open(plane);
  return sockets[plane];
}

beforeAll(async () => {
  s = await startTestServer({ env: { BLOCK_THRESHOLD: '1000' } });
  admin = await loginAs(s.url, 'admin', ADMIN_PASSWORD);
  agentKey = (await createAgentKey(s, admin, 'fuzz')).key;
  for (const plane of ['agent', 'viewer', 'console'] as const) await socketFor(plane);
});
afterAll(async () => {
  faults.stop();
  for (const x of Object.values(sockets)) x.close();
  await s?.close();
});

// ---- payloads ---------------------------------------------------------------------------------------

const surrogates = fc.string({ unit: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 16 });
const str = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  surrogates,
  fc.constantFrom('', '\u0000', '__proto__', 'constructor', 'toString', 'x'.repeat(16 * 1024 + 1)),
  fc.integer({ min: 1, max: 80_000 }).map((n) => 'y'.repeat(n)),
);
const scalar = fc.oneof(str, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constantFrom(-1, 0, 2 ** 53, 1e308));
const buffer = fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 1, max: 70_000 }).map((n) => new Uint8Array(n).fill(1))).map((u) => Buffer.from(u));
const deep = fc.integer({ min: 1, max: 300 }).map((d) => {
  let v: unknown = 1;
  for (let i = 0; i < d; i++) v = i % 2 ? [v] : { a: v };
  return v;
});
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, buffer, deep, fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(fc.oneof(str, fc.constantFrom('__proto__', 'to', 'data', 'text')), tie('v'), { maxKeys: 4 })),
})).v;

const peerId = fc.oneof(fc.constant('self'), fc.constant('viewer'), fc.string({ minLength: 1, maxLength: 70 }), scalar);
const sdp = fc.record({ type: fc.oneof(fc.constantFrom('offer', 'answer', 'pranswer', 'rollback'), str), sdp: str }, { requiredKeys: [] });
const candidate = fc.record({ candidate: str, sdpMid: fc.oneof(str, fc.constant(null)), sdpMLineIndex: fc.oneof(fc.integer({ min: -1, max: 70 }), fc.constant(null), scalar) }, { requiredKeys: [] });
const codecBytes = fc.oneof(buffer, fc.uint8Array({ minLength: 2, maxLength: 300 }).map((b) => ((b[0] = 1), (b[1] = [1, 2, 3][b[1]! % 3]!), Buffer.from(b))));
const input = fc.oneof(
  fc.record({ type: fc.constantFrom('pointer:move', 'pointer:button', 'pointer:wheel', 'key', 'keys:combo', 'text', 'nope'), x: scalar, y: scalar, t: scalar, button: str, down: scalar, dx: scalar, dy: scalar, code: str, combo: str, text: str }, { requiredKeys: ['type'] }),
  fc.record({ type: fc.constant('pointer:move'), x: fc.nat(20_000), y: fc.nat(20_000), t: fc.nat() }),
);

/** Near-valid payloads per event (fields of the right names, values valid or not), plus anything at all. */
const nearValid: Record<string, fc.Arbitrary<unknown>> = {
  'signal:offer': fc.record({ to: peerId, description: sdp, candidate }, { requiredKeys: [] }),
  'signal:answer': fc.record({ to: peerId, description: sdp, candidate }, { requiredKeys: [] }),
  'signal:candidate': fc.record({ to: peerId, description: sdp, candidate }, { requiredKeys: [] }),
  'chat:send': fc.record({ text: str }, { requiredKeys: [] }),
  'path:report': fc.record({ viewerId: peerId, path: fc.oneof(fc.constantFrom('p2p', 'relay'), str), reason: str }, { requiredKeys: [] }),
  'relay:frame': fc.record({ to: fc.oneof(peerId, fc.array(peerId, { maxLength: 70 })), data: fc.oneof(codecBytes, scalar) }, { requiredKeys: [] }),
  'relay:input': input,
  'keyframe:request': fc.oneof(fc.constant({}), value),
  'relay:window': fc.record({ viewerId: peerId, frames: fc.oneof(fc.integer({ min: -1, max: 5 }), fc.constantFrom(1.5, 2 ** 32), scalar) }, { requiredKeys: [] }),
  'relay:ack': fc.record({ frameId: fc.oneof(fc.nat(), fc.constantFrom(-1, 2 ** 32, 1.5), scalar) }, { requiredKeys: [] }),
  'console:ping': fc.oneof(fc.constant({}), value),
  'relay:media-ticket': fc.oneof(fc.constant({}), value),
};
const argsFor = (event: string) => fc.oneof({ weight: 3, arbitrary: nearValid[event]!.map((p) => [p]) }, { weight: 2, arbitrary: value.map((p) => [p]) }, { weight: 1, arbitrary: fc.array(value, { maxLength: 3 }) });

/** The exact frames socket.io will send (text packet with its engine.io prefix, largest attachment). */
function wireSize(event: string, args: unknown[]): { text: number; binary: number } {
  const [head, ...attachments] = new Encoder().encode({ type: PacketType.EVENT, nsp: '/', data: [event, ...args], id: 99_999 });
  return { text: 1 + Buffer.byteLength(head as string), binary: Math.max(0, ...attachments.map((b) => (b as Uint8Array).byteLength)) };
}

/** Replace the symbolic peer ids with live ones so some payloads reach the real checks. */
function resolvePeers(v: unknown): unknown {
  if (v === 'viewer') return ids.viewer;
  if (v === 'self') return ids.agent;
  if (Array.isArray(v)) return v.map(resolvePeers);
  if (v && typeof v === 'object' && !Buffer.isBuffer(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolvePeers(x)]));
  return v;
}

const events: Array<[PlaneName, string]> = [
  ...Object.keys(agentClientEvents).map((e) => ['agent', e] as [PlaneName, string]),
  ...Object.keys(viewerClientEvents).map((e) => ['viewer', e] as [PlaneName, string]),
  ...Object.keys(consoleClientEvents).map((e) => ['console', e] as [PlaneName, string]),
];

describe('socket events with random payloads', () => {
  it.each(events)('%s plane, %s: an ack with a result or a known code under the cap, a closed socket over it', async (plane, event) => {
    await fc.assert(
      fc.asyncProperty(argsFor(event), async (raw) => {
        const args = raw.map(resolvePeers);
        const socket = await socketFor(plane);
        const size = wireSize(event, args);
        const over = size.text > CAPS[plane] || size.binary > CAPS[plane];
        // The ack id's digits are the only difference from the real frame.
        const near = !over && size.text > CAPS[plane] - 8;
        if (over) {
          socket.emit(event, ...args);
          await closed(socket, 10_000);
          return;
        }
        let ack: unknown;
        try {
          ack = await socket.timeout(10_000).emitWithAck(event, ...args);
        } catch (err) {
          // Within the ack id's few bytes of the cap a close is fine, nowhere else.
          if (near && socket.disconnected) return;
          throw err;
        }
        const a = ack as { ok?: unknown; data?: unknown; error?: { code?: unknown; message?: unknown } };
        if (a.ok === true) expect(typeof a.data).toBe('object');
        else {
          expect(a.ok).toBe(false);
          expect(isErrorCode(a.error?.code), JSON.stringify(a)).toBe(true);
          expect(a.error?.code).not.toBe('ERR_INTERNAL');
          expect(typeof a.error?.message).toBe('string');
        }
        if (!near) expect(socket.connected).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('the server still answers and nothing was left unhandled', async () => {
    expect(await healthy(s.url)).toBe(true);
    expect(faults.rejections).toEqual([]);
    expect(faults.exceptions).toEqual([]);
    // No handler failed internally ('socket handler failed', 'audit write failed', …). The log can be
    // missing only when a concurrent test run's global setup emptied the log folder.
    if (existsSync(s.logFile)) {
      const errors = readFileSync(s.logFile, 'utf8').split('\n').filter((l) => l.includes('"level":50'));
      expect(errors.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual([]);
    }
  });
});
