// Raw engine.io / socket.io packets at the WebSocket level, after a valid handshake on each plane:
// random packet type digits, bogus attachment counts and namespaces, reserved and prototype event
// names, deep JSON, huge strings, stray binary frames and invalid UTF-8 text frames. The server runs
// in this process: it must keep answering /healthz, raise no unhandled rejection or uncaught
// exception, and its heap must not grow with what it was sent.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_MAX_MESSAGE_BYTES, VIEWER_MAX_MESSAGE_BYTES } from '@guruconnect/shared/limits';
import { ADMIN_PASSWORD, loginAs, startTestServer, type TestServer } from '../../signaling/src/testing/test-server.ts';
import { consoleTicket, createAgentKey, viewerToken, connectKeyedAgent, agentQuery } from '../../signaling/src/testing/clients.ts';
import { MiB, RawClient, fuzzRuns, healthy, heapAfterGc, sleep, watchProcessFaults, type PlaneName } from '../security/harness.ts';

const RUNS = fuzzRuns(60);

let s: TestServer;
let admin: string;
let agentKey: string;
let sessionId: string;
const clients = {} as Record<PlaneName, RawClient | undefined>;
const faults = watchProcessFaults();
let opened = 0;

async function clientFor(plane: PlaneName): Promise<RawClient> {
  const c = clients[plane];
  if (c?.isOpen) return c;
  opened++;
  const query =
    plane === 'console' ? { ticket: await consoleTicket(s, admin) } : plane === 'viewer' ? { token: await viewerToken(s, admin, sessionId), session_id: sessionId } : agentQuery({ api_key: agentKey });
  const next = await RawClient.open(s.url, plane, query);
  clients[plane] = next;
  return next;
}

let baselineHeap = 0;
beforeAll(async () => {
  s = await startTestServer({ env: { BLOCK_THRESHOLD: '1000' } });
  admin = await loginAs(s.url, 'admin', ADMIN_PASSWORD);
  // A live session for the viewer plane, held by a bystander agent that must survive the fuzz.
  const bystander = await connectKeyedAgent(s, (await createAgentKey(s, admin, 'bystander')).key);
  sessionId = bystander.welcome.sessionId;
  agentKey = (await createAgentKey(s, admin, 'raw')).key;
  for (const plane of ['agent', 'viewer', 'console'] as const) await clientFor(plane);
  baselineHeap = heapAfterGc();
});
afterAll(async () => {
  faults.stop();
  for (const c of Object.values(clients)) c?.close();
  await s?.close();
});

// ---- packets ----------------------------------------------------------------------------------------

const digit = fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 0, max: 9 }).map(String) }, { weight: 1, arbitrary: fc.constantFrom('', 'a', '-', ' ', '{', '[', '\u0000', 'b') });
const eventName = fc.oneof(
  fc.constantFrom('console:ping', 'keyframe:request', 'chat:send', 'relay:frame', 'signal:offer', 'relay:input', 'path:report'),
  fc.constantFrom('error', 'disconnect', 'disconnecting', 'connect', 'newListener', 'removeListener', '__proto__', 'constructor', 'hasOwnProperty'),
  fc.string({ maxLength: 20 }),
  fc.integer(),
);
const jsonText = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.tuple(eventName, fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 3 })).map(([e, args]) => JSON.stringify([e, ...args])),
  fc.tuple(eventName, fc.constantFrom('{"_placeholder":true,"num":"__proto__"}', '{"_placeholder":true,"num":0}', '{"_placeholder":true,"num":-1}', '{"_placeholder":true,"num":1e9}', '{"__proto__":{"ok":true}}')).map(([e, p]) => `[${JSON.stringify(e)},${p}]`),
  fc.tuple(fc.integer({ min: 1, max: 30_000 }), fc.constantFrom('[', '{"a":')).map(([d, open]) => (open === '[' ? `["console:ping",${'['.repeat(d)}${']'.repeat(d)}]` : `["console:ping",${open.repeat(d)}1${'}'.repeat(d)}]`)),
  fc.integer({ min: 1, max: 70_000 }).map((n) => `["chat:send",{"text":"${'x'.repeat(n)}"}]`),
  fc.string({ maxLength: 60 }),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.constantFrom('', '[', ']', '{', '[]', '{}', 'null', '[null]', '"x"', '[1e999]', '["x",'),
);
const socketIoPacket = fc
  .tuple(
    digit,
    fc.option(fc.oneof(fc.nat(4).map(String), fc.constantFrom('999999999999999', '-1', 'a', '', '1e3', '0x1', '4294967296')).map((n) => `${n}-`), { nil: '' }),
    fc.option(fc.constantFrom('/', '/admin,', '/x,', '/,', ','), { nil: '' }),
    fc.option(fc.oneof(fc.nat().map(String), fc.constantFrom('99999999999999999999', '-1', '1.5')), { nil: '' }),
    jsonText,
  )
  .map(([t, att, nsp, id, json]) => `${t}${att}${nsp}${id}${json}`);
const textFrame = fc.oneof({ weight: 4, arbitrary: socketIoPacket.map((p) => `4${p}`) }, { weight: 2, arbitrary: fc.tuple(digit, socketIoPacket).map(([e, p]) => `${e}${p}`) }, { weight: 1, arbitrary: fc.string({ maxLength: 80 }) });
type Frame = { text: string } | { binary: Uint8Array } | { invalidUtf8: Uint8Array };
const frame: fc.Arbitrary<Frame> = fc.oneof(
  { weight: 8, arbitrary: textFrame.map((text) => ({ text })) },
  { weight: 2, arbitrary: fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 1, max: 70_000 }).map((n) => new Uint8Array(n))).map((binary) => ({ binary })) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 16 }).map((b) => ({ invalidUtf8: Uint8Array.from([0x34, 0xc3, 0x28, ...b, 0xff]) })) },
);
const burst = fc.tuple(fc.constantFrom<PlaneName>('agent', 'viewer', 'console'), fc.array(frame, { minLength: 1, maxLength: 5 }));

describe('raw engine.io / socket.io packets after a valid handshake', () => {
  it('never stop the server, never escape as an unhandled error, and leave the heap bounded', async () => {
    await fc.assert(
      fc.asyncProperty(burst, async ([plane, frames]) => {
        const c = await clientFor(plane);
        for (const f of frames) {
          if ('text' in f) c.send(f.text);
          else if ('binary' in f) c.send(Buffer.from(f.binary));
          else c.ws.send(Buffer.from(f.invalidUtf8), { binary: false });
        }
        await Promise.race([c.closed, sleep(5)]);
        expect(await healthy(s.url)).toBe(true);
      }),
      { numRuns: RUNS },
    );
    // The plane still works for a well-behaved client after all that. A fresh connection: the fuzzed
    // one may legitimately have left its namespace (a `41` disconnect packet keeps the WebSocket open).
    for (const plane of ['console', 'viewer'] as const) {
      clients[plane]?.close();
      clients[plane] = undefined;
      const c = await clientFor(plane);
      expect(await c.alive(plane), plane).toBe(true);
    }
    expect(faults.rejections).toEqual([]);
    expect(faults.exceptions).toEqual([]);
    for (const c of Object.values(clients)) c?.close();
    await sleep(200);
    expect(heapAfterGc() - baselineHeap).toBeLessThan(64 * MiB);
  });

  it('a stream of frames each just under the cap is processed, one over it closes the connection', async () => {
    for (const [plane, cap] of [['console', CONSOLE_MAX_MESSAGE_BYTES], ['viewer', VIEWER_MAX_MESSAGE_BYTES]] as const) {
      const c = await clientFor(plane);
      for (let i = 0; i < 20; i++) c.send(`42["chat:send",{"text":"${'z'.repeat(cap - 64)}"}]`);
      expect(await c.alive(plane), `${plane} under the cap`).toBe(true);
      c.send(`42["chat:send",{"text":"${'z'.repeat(cap)}"}]`);
      expect(await Promise.race([c.closed, sleep(5000).then(() => -1)]), `${plane} over the cap`).toBe(1009);
    }
    expect(await healthy(s.url)).toBe(true);
    expect(opened).toBeGreaterThan(0);
  });
});
