import { describe, expect, it } from 'vitest';
import { decodeMediaEnvelope } from '@guruconnect/shared/protocol';
import type { MediaTicketReply } from '../connection/agent-connection.ts';
import { silentLogger } from '../log/logger.ts';
import { MEDIA_RETRY_MS, MEDIA_UNAVAILABLE_RETRY_MS, MediaLink, type MediaSocket } from './media-link.ts';

/** A WebSocket stand-in: records what is sent; the test drives open/message/close. */
class FakeSocket implements MediaSocket {
  readyState = 0;
  bufferedAmount = 0;
  readonly sent: Uint8Array[] = [];
  closed = false;
  readonly #on = new Map<string, Array<(...a: unknown[]) => void>>();
  constructor(readonly url: string) {}
  send(data: Uint8Array): void {
    this.sent.push(data);
  }
  close(): void {
    this.closed = true;
    this.readyState = 3;
  }
  on(event: string, cb: (...a: never[]) => void): this {
    this.#on.set(event, [...(this.#on.get(event) ?? []), cb as (...a: unknown[]) => void]);
    return this;
  }
  emit(event: string, ...args: unknown[]): void {
    for (const cb of this.#on.get(event) ?? []) cb(...args);
  }
  open(): void {
    this.readyState = 1;
    this.emit('open');
  }
  notice(n: unknown): void {
    this.emit('message', Buffer.from(JSON.stringify(n)), false);
  }
}

const tick = () => new Promise((r) => setImmediate(r));

function setup(replies: MediaTicketReply[]) {
  let now = 0;
  const sockets: FakeSocket[] = [];
  const events: Array<{ on: string[]; off: string[] }> = [];
  const credit: Array<[string, boolean]> = [];
  let tickets = 0;
  const link = new MediaLink({
    port: {
      requestMediaTicket: () => {
        tickets++;
        return Promise.resolve(replies.shift() ?? { ok: false, code: 'ERR_INTERNAL' });
      },
      mediaUrl: (path, ticket) => `ws://server${path}?ticket=${ticket}`,
    },
    log: silentLogger,
    onViewers: (on, off) => events.push({ on, off }),
    onCredit: (id, open) => credit.push([id, open]),
    createSocket: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    now: () => now,
  });
  return { link, sockets, events, credit, tickets: () => tickets, advance: (ms: number) => (now += ms) };
}

const ok = (t = 'gcm_x'): MediaTicketReply => ({ ok: true, ticket: t, path: '/ws/media' });

describe('MediaLink', () => {
  it('opens once on demand, routes only viewers the relay process announced, and sends envelopes', async () => {
    const t = setup([ok('gcm_1')]);
    t.link.want();
    t.link.want();
    await tick();
    expect(t.tickets()).toBe(1);
    expect(t.sockets.map((s) => s.url)).toEqual(['ws://server/ws/media?ticket=gcm_1']);
    const s = t.sockets[0]!;
    expect(t.link.has('v1')).toBe(false);
    s.open();
    s.notice({ type: 'viewers', on: ['v1', 'v2'], off: [] });
    expect(t.link.has('v1')).toBe(true);
    expect(t.events).toEqual([{ on: ['v1', 'v2'], off: [] }]);
    expect(t.link.send(['v1', 'v2'], new Uint8Array([1, 2, 3]))).toBe(true);
    const env = decodeMediaEnvelope(s.sent[0]!);
    expect(env).toMatchObject({ ok: true, to: ['v1', 'v2'] });
    expect(env.ok && [...env.payload]).toEqual([1, 2, 3]);
    s.notice({ type: 'viewers', on: [], off: ['v2'] });
    expect(t.link.has('v2')).toBe(false);
    s.notice({ type: 'credit', viewerId: 'v1', open: false });
    expect(t.credit).toEqual([['v1', false]]);
    // Anything else from the server changes nothing.
    s.notice({ type: 'viewers', on: 'v9' });
    s.emit('message', Buffer.from('not json'), false);
    expect(t.link.has('v9')).toBe(false);
  });

  it('after a refused ticket or a closed socket, waits before trying again; longer when the plane is off', async () => {
    const t = setup([{ ok: false, code: 'ERR_SESSION_NOT_CONNECTED' }, ok(), { ok: false, code: 'ERR_MEDIA_UNAVAILABLE' }, ok()]);
    t.link.want();
    await tick();
    expect(t.sockets).toHaveLength(0);
    t.link.want();
    t.advance(MEDIA_RETRY_MS - 1);
    t.link.want();
    await tick();
    expect(t.tickets()).toBe(1);
    t.advance(1);
    t.link.want();
    await tick();
    expect(t.tickets()).toBe(2);
    const s = t.sockets[0]!;
    s.open();
    s.notice({ type: 'viewers', on: ['v1'], off: [] });
    // The server closed it: its viewers go back to socket.io at once, and no retry before the gap.
    s.readyState = 3;
    s.emit('close', 4001);
    expect(t.events.at(-1)).toEqual({ on: [], off: ['v1'] });
    expect(t.link.has('v1')).toBe(false);
    t.link.want();
    await tick();
    expect(t.tickets()).toBe(2);
    t.advance(MEDIA_RETRY_MS);
    t.link.want();
    await tick();
    expect(t.tickets()).toBe(3); // ERR_MEDIA_UNAVAILABLE
    t.advance(MEDIA_RETRY_MS);
    t.link.want();
    await tick();
    expect(t.tickets()).toBe(3);
    t.advance(MEDIA_UNAVAILABLE_RETRY_MS);
    t.link.want();
    await tick();
    expect(t.tickets()).toBe(4);
  });

  it('drops the socket with its socket.io connection, and ignores a ticket that arrives after', async () => {
    let release: (r: MediaTicketReply) => void = () => undefined;
    const t = setup([]);
    const link = new MediaLink({
      port: { requestMediaTicket: () => new Promise((r) => (release = r)), mediaUrl: () => 'ws://x' },
      log: silentLogger,
      onViewers: () => undefined,
      onCredit: () => undefined,
      createSocket: (url) => {
        const s = new FakeSocket(url);
        t.sockets.push(s);
        return s;
      },
    });
    link.want();
    link.reset();
    release(ok());
    await tick();
    expect(t.sockets).toHaveLength(0);

    const u = setup([ok()]);
    u.link.want();
    await tick();
    u.sockets[0]!.open();
    u.sockets[0]!.notice({ type: 'viewers', on: ['v1'], off: [] });
    u.link.reset();
    expect(u.sockets[0]!.closed).toBe(true);
    expect(u.events.at(-1)).toEqual({ on: [], off: ['v1'] });
    expect(u.link.send(['v1'], new Uint8Array([1]))).toBe(false);
  });
});
