// The viewer's media-plane socket with the browser's WebSocket, the ticket request and the clock
// replaced by fakes behind small interfaces (`MediaWebSocket`, a ticket function, `now`); then the
// same through ViewerLink, whose socket.io connection is a fake of the few calls it makes. The
// server side of the media plane is covered by signaling/src/media/media-plane.test.ts.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { MediaPath } from '@guruconnect/shared/protocol';
import { chunkFrame, encodeFrame } from '@guruconnect/shared/codec';
import { MEDIA_RETRY_MS, MEDIA_UNAVAILABLE_RETRY_MS, MediaSocket, mediaSocketUrl, type MediaWebSocket } from './media-socket.ts';
import type { Ack } from './plane-socket.ts';

const TICKET = 'gcm_' + 'a'.repeat(43);
/** A whole frame in one codec chunk, with this frame id. */
const oneChunkFrame = (frameId: number) =>
  chunkFrame(encodeFrame({ seq: frameId, captureTsMs: 0, keyframe: true, screenWidth: 16, screenHeight: 16, rects: [{ x: 0, y: 0, width: 16, height: 16, codec: 'jpeg', data: new Uint8Array(4) }] }), frameId)[0]!;
const granted = (path = '/ws/media'): Ack => ({ ok: true, data: { ticket: TICKET, path } });
const refused = (code: string): Ack => ({ ok: false, error: { code, message: code } });

/** A WebSocket as the media socket sees it (open from the start); `sent` records what the viewer sends (acks only). */
class FakeWs implements MediaWebSocket {
  binaryType: BinaryType = 'blob';
  readyState = 1;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  readonly sent: unknown[] = [];
  closedWith: number | undefined;
  constructor(readonly url: string) {}
  send(data: unknown): void {
    this.sent.push(data);
  }
  close(code?: number): void {
    this.closedWith = code ?? 1005;
  }
  /** The server sends one message. */
  deliver(data: unknown): void {
    this.onmessage?.({ data } as MessageEvent);
  }
  /** The server (or the browser, for a refused upgrade) closes it. */
  serverClose(code: number): void {
    this.onclose?.({ code } as CloseEvent);
  }
}

/** Lets pending promise callbacks run (ticket answers, the link's token minting); no timers, so fake ones do not stall it. */
async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

/** A MediaSocket on a fake clock, with every ticket request, socket and message recorded. */
function harness(answers: Ack[] = []) {
  let t = 1_000;
  const sockets: FakeWs[] = [];
  const messages: Uint8Array[] = [];
  const tickets: number[] = [];
  const media = new MediaSocket({
    origin: 'https://gc.example:8443',
    message: (b) => messages.push(b),
    open: (url) => {
      const ws = new FakeWs(url);
      sockets.push(ws);
      return ws;
    },
    now: () => t,
  });
  const ticket = async () => {
    tickets.push(t);
    return answers.shift() ?? granted();
  };
  return { media, sockets, messages, tickets, ticket, advance: (ms: number) => (t += ms) };
}

describe('mediaSocketUrl', () => {
  it('uses the origin of the socket.io planes, ws: for http: and wss: for https:', () => {
    expect(mediaSocketUrl('https://gc.example:8443', '/ws/media', 'gcm_a+b/c')).toBe('wss://gc.example:8443/ws/media?ticket=gcm_a%2Bb%2Fc');
    expect(mediaSocketUrl('http://127.0.0.1:3000', '/ws/media', TICKET)).toBe(`ws://127.0.0.1:3000/ws/media?ticket=${TICKET}`);
  });

  it('refuses a path that could lead the ticket elsewhere', () => {
    for (const p of ['//evil.example/ws/media', 'https://evil.example/ws/media', '@evil.example/x', 'ws/media', '/ws/media?x=1', '/ws/media#x', '']) {
      expect(mediaSocketUrl('https://gc.example', p, TICKET)).toBeNull();
    }
  });
});

describe('MediaSocket', () => {
  it('opens nothing until the first relay frame, then one socket however many frames follow', async () => {
    const h = harness();
    h.media.attach(h.ticket);
    await flush();
    expect(h.tickets).toHaveLength(0);
    h.media.relayFrame();
    h.media.relayFrame();
    await flush();
    h.media.relayFrame();
    await flush();
    expect(h.tickets).toHaveLength(1);
    expect(h.sockets).toHaveLength(1);
    expect(h.sockets[0]!.url).toBe(`wss://gc.example:8443/ws/media?ticket=${TICKET}`);
    expect(h.sockets[0]!.binaryType).toBe('arraybuffer');
    expect(h.media.active).toBe(true);
  });

  it('hands every binary message on as one codec message, ignores text, and sends nothing unasked', async () => {
    const h = harness();
    h.media.attach(h.ticket);
    h.media.relayFrame();
    await flush();
    const ws = h.sockets[0]!;
    ws.deliver(new Uint8Array([1, 2, 3]).buffer);
    ws.deliver('{"type":"viewers"}');
    ws.deliver(new Uint8Array([4]).buffer);
    expect(h.messages.map((m) => [...m])).toEqual([[1, 2, 3], [4]]);
    h.media.detach();
    expect(ws.sent).toEqual([]);
  });

  it('retries only on a later relay frame, not sooner than 5 s after the last attempt', async () => {
    // A refused ticket, then a refused upgrade, then a socket the server closes while socket.io is up.
    const h = harness([refused('ERR_SESSION_NOT_CONNECTED')]);
    h.media.attach(h.ticket);
    h.media.relayFrame();
    await flush();
    expect(h.sockets).toHaveLength(0);
    h.advance(MEDIA_RETRY_MS - 1);
    h.media.relayFrame();
    await flush();
    expect(h.tickets).toHaveLength(1);
    h.advance(1);
    await flush();
    expect(h.tickets).toHaveLength(1); // time alone does not retry
    h.media.relayFrame();
    await flush();
    expect(h.tickets).toHaveLength(2);

    h.sockets[0]!.serverClose(1006); // what a browser reports for a 401 upgrade
    expect(h.media.active).toBe(false);
    h.advance(MEDIA_RETRY_MS - 1);
    h.media.relayFrame();
    await flush();
    expect(h.tickets).toHaveLength(2);
    h.advance(1);
    h.media.relayFrame();
    await flush();
    expect(h.tickets).toHaveLength(3);

    // This one lived long; closed by the server (relay process stopping), it may be replaced at once.
    h.advance(60_000);
    h.sockets[1]!.serverClose(4003);
    h.media.relayFrame();
    await flush();
    expect(h.tickets).toHaveLength(4);
    expect(h.sockets).toHaveLength(3);
    expect(h.sockets.every((s) => s.sent.length === 0)).toBe(true);
  });

  it('waits 60 s after ERR_MEDIA_UNAVAILABLE, also across socket.io reconnections', async () => {
    const h = harness([refused('ERR_MEDIA_UNAVAILABLE')]);
    h.media.attach(h.ticket);
    h.media.relayFrame();
    await flush();
    h.advance(MEDIA_UNAVAILABLE_RETRY_MS - 1);
    h.media.relayFrame();
    h.media.attach(h.ticket); // a new socket.io connection
    h.media.relayFrame();
    await flush();
    expect(h.tickets).toHaveLength(1);
    h.advance(1);
    h.media.relayFrame();
    await flush();
    expect(h.tickets).toHaveLength(2);
    expect(h.sockets).toHaveLength(1);
  });

  it('opens nothing for a malformed ticket answer, and counts it as an attempt', async () => {
    const h = harness([{ ok: true, data: { ticket: 'nope', path: '/ws/media' } }, granted('//evil.example/ws/media')]);
    h.media.attach(h.ticket);
    h.media.relayFrame();
    await flush();
    h.advance(MEDIA_RETRY_MS);
    h.media.relayFrame();
    await flush();
    expect(h.tickets).toHaveLength(2);
    expect(h.sockets).toHaveLength(0);
  });

  it('closes the media socket with its socket.io connection and drops what arrives after', async () => {
    const h = harness();
    h.media.attach(h.ticket);
    h.media.relayFrame();
    await flush();
    const ws = h.sockets[0]!;
    h.media.detach();
    expect(ws.closedWith).toBe(1000);
    ws.deliver(new Uint8Array([9]).buffer);
    expect(h.messages).toHaveLength(0);
    h.media.relayFrame(); // no connection: nothing to ask on
    await flush();
    expect(h.tickets).toHaveLength(1);
  });

  it('forgets a ticket answered after its socket.io connection went', async () => {
    const h = harness();
    let answer!: (a: Ack) => void;
    h.media.attach(() => new Promise<Ack>((r) => (answer = r)));
    h.media.relayFrame();
    await flush();
    h.media.detach();
    answer(granted());
    await flush();
    expect(h.sockets).toHaveLength(0);
  });
});

// ViewerLink wiring: the socket.io connection is a fake of what ViewerLink calls on it.
type Listener = (...args: unknown[]) => void;
class FakeIo {
  connected = true;
  disconnected = false;
  readonly listeners = new Map<string, Listener[]>();
  readonly emitted: Array<[string, unknown]> = [];
  /** Answers of `relay:media-ticket`, in order. */
  tickets: Ack[] = [];
  on(event: string, fn: Listener): this {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), fn]);
    return this;
  }
  emit(event: string, payload: unknown): this {
    this.emitted.push([event, payload]);
    return this;
  }
  timeout(_ms: number) {
    return {
      emit: (event: string, payload: unknown, cb: (err: Error | null, ack: unknown) => void) => {
        this.emitted.push([event, payload]);
        if (event === 'relay:media-ticket') queueMicrotask(() => cb(null, this.tickets.shift() ?? granted()));
      },
    };
  }
  removeAllListeners(): this {
    this.listeners.clear();
    return this;
  }
  disconnect(): this {
    this.connected = false;
    this.disconnected = true;
    return this;
  }
  /** The server emits `event`. */
  serve(event: string, ...args: unknown[]): void {
    for (const fn of this.listeners.get(event) ?? []) fn(...args);
  }
  ticketRequests(): number {
    return this.emitted.filter(([e]) => e === 'relay:media-ticket').length;
  }
}

const planes: FakeIo[] = [];
vi.mock('./plane-socket.ts', async (importOriginal) => ({
  ...(await importOriginal<typeof import('./plane-socket.ts')>()),
  openPlane: () => {
    const s = new FakeIo();
    planes.push(s);
    return s;
  },
}));

describe('ViewerLink on the media plane', () => {
  const browserSockets: FakeWs[] = [];

  beforeEach(() => {
    planes.length = 0;
    browserSockets.length = 0;
    vi.stubGlobal('window', { location: { origin: 'http://gc.test:3000' } });
    vi.stubGlobal(
      'WebSocket',
      class extends FakeWs {
        constructor(url: string) {
          super(url);
          browserSockets.push(this);
        }
      },
    );
  });
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  async function started() {
    const { ViewerLink } = await import('./viewer-link.ts');
    const seen: Array<[number[], MediaPath]> = [];
    const paths: Array<MediaPath | null> = [];
    const link = new ViewerLink({
      sessionId: 's1',
      mintToken: async () => ({ token: 't', expiresIn: 60, control: true }),
      sessionLive: async () => true,
      handlers: {
        phase: () => undefined,
        welcome: () => undefined,
        codecMessage: (b, p) => seen.push([[...b], p]),
        pathChanged: (p) => paths.push(p),
        rtt: () => undefined,
        chat: () => undefined,
        inputRefused: () => undefined,
      },
    });
    link.start();
    await flush();
    expect(planes).toHaveLength(1);
    return { link, io: planes[0]!, seen, paths };
  }

  it('opens the media socket on the first relay:frame and handles its frames exactly like relay:frame', async () => {
    const { link, io, seen, paths } = await started();
    expect(io.ticketRequests()).toBe(0);
    io.serve('relay:frame', new Uint8Array([1]).buffer);
    io.serve('relay:frame', new Uint8Array([2]).buffer);
    await flush();
    expect(io.ticketRequests()).toBe(1);
    expect(browserSockets.map((w) => w.url)).toEqual([`ws://gc.test:3000/ws/media?ticket=${TICKET}`]);
    const ws = browserSockets[0]!;
    ws.deliver(new Uint8Array([3]).buffer);
    io.serve('relay:frame', new Uint8Array([4]).buffer);
    ws.deliver(new Uint8Array([5]).buffer);
    expect(seen).toEqual([
      [[1], 'relay'],
      [[2], 'relay'],
      [[3], 'relay'],
      [[4], 'relay'],
      [[5], 'relay'],
    ]);
    expect(paths).toEqual(['relay']);
    // Messages that are not frame chunks: their acks stay on socket.io, nothing goes on the media socket.
    link.ackRelayFrame(5);
    expect(io.emitted).toContainEqual(['relay:ack', { frameId: 5 }]);
    expect(ws.sent).toEqual([]);
    // A frame whose last chunk came on the media socket is acknowledged there; one that came as
    // relay:frame, on socket.io.
    ws.deliver(oneChunkFrame(7).buffer);
    io.serve('relay:frame', oneChunkFrame(8).buffer);
    link.ackRelayFrame(7);
    link.ackRelayFrame(8);
    expect(ws.sent).toEqual([JSON.stringify({ type: 'ack', frameId: 7 })]);
    expect(io.emitted).toContainEqual(['relay:ack', { frameId: 8 }]);
    expect(io.emitted).not.toContainEqual(['relay:ack', { frameId: 7 }]);
    expect(io.ticketRequests()).toBe(1);
    link.close();
    expect(ws.closedWith).toBe(1000);
    // Closed: an ack falls back to socket.io (it is not lost).
    ws.deliver(oneChunkFrame(9).buffer);
    link.ackRelayFrame(9);
    expect(ws.sent).toHaveLength(1);
  });

  it('closes the media socket when the socket.io connection drops, and asks again on the next connection', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    try {
      const { link, io } = await started();
      io.serve('relay:frame', new Uint8Array([1]).buffer);
      await flush();
      const ws = browserSockets[0]!;
      io.serve('disconnect', 'transport close');
      expect(ws.closedWith).toBe(1000);
      ws.deliver(new Uint8Array([9]).buffer); // late: dropped
      // The link reconnects (backoff ≤ 1.2 s), but the media socket waits for 5 s after the last
      // attempt, across socket.io connections.
      await vi.advanceTimersByTimeAsync(2_000);
      expect(planes).toHaveLength(2);
      const io2 = planes[1]!;
      io2.serve('relay:frame', new Uint8Array([2]).buffer);
      await flush();
      expect(io2.ticketRequests()).toBe(0);
      await vi.advanceTimersByTimeAsync(MEDIA_RETRY_MS);
      io2.serve('relay:frame', new Uint8Array([3]).buffer);
      await flush();
      expect(io2.ticketRequests()).toBe(1);
      expect(browserSockets).toHaveLength(2);
      link.close();
      expect(browserSockets[1]!.closedWith).toBe(1000);
      expect(browserSockets.every((w) => w.sent.length === 0)).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });
});
