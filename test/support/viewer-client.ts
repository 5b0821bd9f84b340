// A technician's viewer in Node, for cross-process tests and benchmarks. Joins like the web app
// (login → viewer token → /ws/viewer), answers the agent's offer, receives frames on the P2P
// `frames` channel or as `relay:frame` from the server (following path switches without
// reconnecting), reassembles and decodes them into an RGBA framebuffer, and sends input on the
// P2P `input` channel or as `relay:input`. Independent of the agent's code: shared + libraries only.
import wrtc from '@roamhq/wrtc';
import sharp from 'sharp';
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { decodeFrame, FrameReassembler, peekMessageType, readChunkHeader, readStamp, rectImageScale, type Frame, type StampValue } from '@guruconnect/shared/codec';
import { PROTOCOL_VERSION, RELAY_CHUNK_MAX_BYTES } from '@guruconnect/shared/limits';
import { DATA_CHANNEL_LABELS, mediaTicketSchema, viewerWelcomeSchema, type DataChannelMessage, type IceServer, type InputMessage, type MediaPath } from '@guruconnect/shared/protocol';

export type ViewerWelcome = ReturnType<typeof viewerWelcomeSchema.parse>;

export interface ViewerClientOptions {
  baseUrl: string;
  sessionId: string;
  username: string;
  password: string;
  /** Never take part in WebRTC (ignore offers), so the agent has to fall back to the relay. */
  forceRelay?: boolean;
  /** Replaces the ICE servers from the welcome. */
  iceServers?: IceServer[];
  /**
   * Consume at most this many frames per second. On the relay this is real backpressure: after
   * each frame the viewer stops reading its WebSocket for one frame interval (TCP fills up, the
   * server's queue for this viewer fills and drops). On P2P a Node data channel cannot be paused, so frames over
   * the budget are still received and only their decoding is skipped (with a keyframe request).
   */
  maxFramesPerS?: number;
  /**
   * A link of this many bytes per second. On the relay, each message is handed over only once the
   * link has carried it (at this rate, after the messages before it), and the WebSocket is not read
   * while the link is busy (TCP backs up to the server, whose queue and credit see it). On P2P (a
   * Node data channel cannot be paused) frames over the per-second byte budget are dropped, with a
   * keyframe request the next second.
   */
  maxBytesPerS?: number;
  /** Decode rects into the framebuffer (default true). Off: only headers and the stamp rect are checked. */
  decode?: boolean;
  /** A technician's access token from an earlier login: `join` skips the login (as the web app, already signed in). */
  accessToken?: string;
  /**
   * Open the media plane (`/ws/media`) once relayed frames arrive, as the web app does (default
   * true). Off: relayed frames come only as `relay:frame` on socket.io.
   */
  mediaPlane?: boolean;
}

export interface FrameEvent {
  seq: number;
  captureTsMs: number;
  keyframe: boolean;
  path: MediaPath;
  /** Encoded bytes of this frame (all chunks). */
  bytes: number;
  receivedAtMs: number;
  /** The synthetic source's stamp read back from the decoded framebuffer (null: none / not decoded). */
  stamp: StampValue | null;
  width: number;
  height: number;
}

export interface ViewerStats {
  frames: number;
  keyframes: number;
  bytes: number;
  framesByPath: Record<MediaPath, number>;
  /** Path of the last frame received. */
  path: MediaPath | null;
  lastSeq: number | null;
  lastStamp: StampValue | null;
  /** ms from `join` resolving to the first decoded frame. */
  firstFrameMs: number | null;
  codecErrors: number;
  decodeErrors: number;
  /** Rects whose image was smaller than the rect (scaled catch-ups), stretched over it. */
  scaledRects: number;
  /** Deltas that arrived before any keyframe on a fresh framebuffer. */
  deltasWithoutBase: number;
  skippedByThrottle: number;
  keyframeRequests: number;
  /** RTCPeerConnection (re)created for an offer. */
  peerConnections: number;
  socketConnects: number;
  /** Relayed messages that arrived on the media plane (the rest came as `relay:frame`). */
  mediaMessages: number;
}

type Ack = { ok: true; data: unknown } | { ok: false; error: { code: string; message: string } };

interface ChannelLike {
  label: string;
  readyState: string;
  binaryType: string;
  onopen: (() => void) | null;
  onclose: (() => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  send(data: string | Uint8Array): void;
  close(): void;
}
interface PeerConnectionLike {
  onicecandidate: ((ev: { candidate: { candidate: string; sdpMid: string | null; sdpMLineIndex: number | null } | null }) => void) | null;
  ondatachannel: ((ev: { channel: ChannelLike }) => void) | null;
  oniceconnectionstatechange: (() => void) | null;
  readonly iceConnectionState: string;
  readonly remoteDescription: unknown;
  setRemoteDescription(d: { type: string; sdp: string }): Promise<void>;
  createAnswer(): Promise<{ type: string; sdp: string }>;
  setLocalDescription(d: { type: string; sdp: string }): Promise<void>;
  addIceCandidate(c: unknown): Promise<void>;
  close(): void;
}

async function http(baseUrl: string, method: string, path: string, body?: unknown, token?: string): Promise<unknown> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${baseUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 200)}`);
  return text ? JSON.parse(text) : undefined;
}

export class ViewerClient {
  readonly o: ViewerClientOptions;
  readonly socket: Socket;
  readonly welcome: ViewerWelcome;
  framebuffer: Uint8Array | null = null;
  width = 0;
  height = 0;
  readonly stats: ViewerStats = {
    frames: 0,
    keyframes: 0,
    bytes: 0,
    framesByPath: { p2p: 0, relay: 0 },
    path: null,
    lastSeq: null,
    lastStamp: null,
    firstFrameMs: null,
    codecErrors: 0,
    decodeErrors: 0,
    scaledRects: 0,
    deltasWithoutBase: 0,
    skippedByThrottle: 0,
    keyframeRequests: 0,
    peerConnections: 0,
    socketConnects: 1,
    mediaMessages: 0,
  };
  /** Control messages the agent sent on the P2P input channel. */
  readonly controlMessages: DataChannelMessage[] = [];
  readonly events: Array<{ event: string; payload: unknown }> = [];
  #pc: PeerConnectionLike | null = null;
  #input: ChannelLike | null = null;
  #pendingCandidates: unknown[] = [];
  readonly #reassemblers: Record<MediaPath, FrameReassembler> = { p2p: new FrameReassembler(), relay: new FrameReassembler({ maxChunkBytes: RELAY_CHUNK_MAX_BYTES }) };
  #work: Promise<void> = Promise.resolve();
  readonly #listeners = new Set<(f: FrameEvent) => void>();
  readonly #joinedAt: number;
  #windowStart = 0;
  #windowFrames = 0;
  #resumeTimer: NodeJS.Timeout | null = null;
  /** `maxBytesPerS` on the relay: messages on the simulated link, each due at `at`. */
  readonly #link: { queue: Array<{ bytes: Uint8Array; at: number }>; freeAt: number; timer: NodeJS.Timeout | null } = { queue: [], freeAt: 0, timer: null };
  #windowBytes = 0;
  #closed = false;
  /** The media-plane socket: null until relayed frames arrive; `'opening'` while its ticket is on the way. */
  #media: WebSocket | 'opening' | 'failed' | null = null;

  private constructor(o: ViewerClientOptions, socket: Socket, welcome: ViewerWelcome) {
    this.o = o;
    this.socket = socket;
    this.welcome = welcome;
    this.#joinedAt = Date.now();
  }

  get viewerId(): string {
    return this.welcome.viewerId;
  }

  get control(): boolean {
    return this.welcome.control;
  }

  /** True while the P2P input channel is open (input goes P2P, else over the relay). */
  get p2pInputOpen(): boolean {
    return this.#input?.readyState === 'open';
  }

  get iceConnectionState(): string | null {
    return this.#pc?.iceConnectionState ?? null;
  }

  /** Log in, mint a viewer token, connect `/ws/viewer` and wait for the welcome. */
  static async join(o: ViewerClientOptions): Promise<ViewerClient> {
    const login = o.accessToken ? { token: o.accessToken } : ((await http(o.baseUrl, 'POST', '/api/auth/login', { username: o.username, password: o.password })) as { token: string });
    const vt = (await http(o.baseUrl, 'POST', `/api/sessions/${o.sessionId}/viewer-token`, {}, login.token)) as { token: string };
    const socket = io(o.baseUrl, {
      path: '/ws/viewer',
      query: { token: vt.token, session_id: o.sessionId, protocol: String(PROTOCOL_VERSION), relay_acks: '1' },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      timeout: 10_000,
    });
    // Buffer everything from the start: the welcome and the agent's offer can arrive right after connect.
    const early: Array<[string, unknown[]]> = [];
    const buffer = (event: string, ...args: unknown[]) => early.push([event, args]);
    socket.onAny(buffer);
    const welcome = await new Promise<ViewerWelcome>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no viewer welcome')), 15_000);
      socket.once('connect_error', (err) => {
        clearTimeout(t);
        reject(err);
      });
      socket.once('session:welcome', (w: unknown) => {
        clearTimeout(t);
        resolve(viewerWelcomeSchema.parse(w));
      });
    });
    const client = new ViewerClient(o, socket, welcome);
    // Hand over on the next macrotask, so the caller can subscribe (`onFrame`) before anything is
    // delivered; frames can arrive even before the welcome. Until then everything stays buffered, in order.
    setImmediate(() => {
      socket.offAny(buffer);
      for (const [event, args] of early) if (event !== 'session:welcome') client.#dispatch(event, args[0]);
      client.#wire();
    });
    return client;
  }

  onFrame(cb: (f: FrameEvent) => void): () => void {
    this.#listeners.add(cb);
    return () => this.#listeners.delete(cb);
  }

  /** Sends input where the agent listens: the P2P `input` channel when open, else `relay:input` (with the server's ack). */
  async sendInput(msg: InputMessage): Promise<{ path: MediaPath; ack?: Ack }> {
    if (this.p2pInputOpen) {
      this.#input!.send(JSON.stringify(msg));
      return { path: 'p2p' };
    }
    const ack = (await this.socket.timeout(5000).emitWithAck('relay:input', msg)) as Ack;
    return { path: 'relay', ack };
  }

  /** Sends any text on the P2P `input` channel (for refusal tests). False when the channel is not open. */
  sendRawP2P(text: string): boolean {
    if (!this.p2pInputOpen) return false;
    this.#input!.send(text);
    return true;
  }

  requestKeyframe(): void {
    this.stats.keyframeRequests++;
    if (this.p2pInputOpen) this.#input!.send(JSON.stringify({ type: 'control:keyframe-request' }));
    else this.socket.emit('keyframe:request', {});
  }

  /** Kill the P2P link from this side (the socket stays up): simulates a mid-session network failure. */
  closePeer(): void {
    const pc = this.#pc;
    this.#pc = null;
    this.#input = null;
    pc?.close();
  }

  /** Resolves with the first frame matching `predicate` (default: any) within `timeoutMs`. */
  nextFrame(predicate: (f: FrameEvent) => boolean = () => true, timeoutMs = 20_000): Promise<FrameEvent> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        off();
        reject(new Error(`no matching frame within ${timeoutMs} ms (frames so far: ${this.stats.frames}, path: ${this.stats.path})`));
      }, timeoutMs);
      const off = this.onFrame((f) => {
        if (!predicate(f)) return;
        clearTimeout(t);
        off();
        resolve(f);
      });
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#resumeTimer) clearTimeout(this.#resumeTimer);
    if (this.#link.timer) clearTimeout(this.#link.timer);
    this.closePeer();
    if (this.#media instanceof WebSocket) this.#media.close();
    this.socket.removeAllListeners();
    this.socket.disconnect();
    await this.#work.catch(() => {});
  }

  #wire(): void {
    this.socket.onAny((event: string, ...args: unknown[]) => this.#dispatch(event, args[0]));
  }

  #dispatch(event: string, payload: unknown): void {
    if (this.#closed) return;
    switch (event) {
      case 'relay:frame':
        this.#onRelayed(toBytes(payload));
        if (this.#media === null && this.o.mediaPlane !== false) void this.#openMedia();
        return;
      case 'signal:offer':
        void this.#onOffer(payload as { description?: { type: string; sdp: string } });
        return;
      case 'signal:candidate':
        void this.#onCandidate(payload as { candidate?: unknown });
        return;
      default:
        this.events.push({ event, payload });
    }
  }

  async #onOffer(msg: { description?: { type: string; sdp: string } }): Promise<void> {
    if (this.o.forceRelay || !msg.description) return;
    this.closePeer(); // a new offer replaces any previous link
    const pc = new wrtc.RTCPeerConnection({ iceServers: this.o.iceServers ?? this.welcome.iceServers }) as PeerConnectionLike;
    this.#pc = pc;
    this.#pendingCandidates = [];
    this.#reassemblers.p2p.reset();
    this.stats.peerConnections++;
    pc.onicecandidate = (ev) => {
      if (!ev.candidate || this.#pc !== pc) return;
      const c = ev.candidate;
      this.socket.emit('signal:candidate', { candidate: { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex } });
    };
    pc.ondatachannel = ({ channel }) => {
      if (this.#pc !== pc) return;
      channel.binaryType = 'arraybuffer';
      if (channel.label === DATA_CHANNEL_LABELS.frames) {
        channel.onmessage = (ev) => {
          if (this.#pc === pc) this.#onBytes(toBytes(ev.data), 'p2p');
        };
      } else if (channel.label === DATA_CHANNEL_LABELS.input) {
        this.#input = channel;
        const hello = () => channel.send(JSON.stringify({ type: 'control:hello', protocol: PROTOCOL_VERSION, role: 'viewer' }));
        if (channel.readyState === 'open') hello();
        else channel.onopen = hello;
        channel.onmessage = (ev) => {
          if (typeof ev.data !== 'string') return;
          try {
            this.controlMessages.push(JSON.parse(ev.data) as DataChannelMessage);
          } catch {
            // ignore
          }
        };
      } else {
        channel.close();
      }
    };
    try {
      await pc.setRemoteDescription(msg.description);
      for (const c of this.#pendingCandidates.splice(0)) await pc.addIceCandidate(c).catch(() => {});
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      if (this.#pc === pc) this.socket.emit('signal:answer', { description: { type: 'answer', sdp: answer.sdp } });
    } catch {
      if (this.#pc === pc) this.closePeer();
    }
  }

  async #onCandidate(msg: { candidate?: unknown }): Promise<void> {
    if (this.o.forceRelay || !msg.candidate) return;
    const pc = this.#pc;
    if (!pc || !pc.remoteDescription) {
      this.#pendingCandidates.push(msg.candidate);
      return;
    }
    await pc.addIceCandidate(msg.candidate).catch(() => {});
  }

  /** A relay message onto the simulated slow link: handed over once carried; nothing read meanwhile. */
  #onLink(bytes: Uint8Array, bytesPerS: number): void {
    const link = this.#link;
    link.freeAt = Math.max(Date.now(), link.freeAt) + (bytes.length * 1000) / bytesPerS;
    link.queue.push({ bytes, at: link.freeAt });
    this.#relayWs()?.pause?.();
    if (link.timer) return;
    const run = () => {
      link.timer = null;
      if (this.#closed) return;
      while (link.queue.length > 0 && link.queue[0]!.at <= Date.now()) this.#onBytes(link.queue.shift()!.bytes, 'relay');
      if (link.queue.length > 0) link.timer = setTimeout(run, Math.max(1, link.queue[0]!.at - Date.now()));
      else this.#relayWs()?.resume?.();
    };
    link.timer = setTimeout(run, Math.max(1, link.queue[0]!.at - Date.now()));
  }

  /** A relayed message from either socket (socket.io's `relay:frame` or the media plane). */
  #onRelayed(bytes: Uint8Array, via: 'socketio' | 'media' = 'socketio'): void {
    this.#noteVia(bytes, via);
    if (this.o.maxBytesPerS === undefined) this.#onBytes(bytes, 'relay');
    else this.#onLink(bytes, this.o.maxBytesPerS);
  }

  /** Which socket brought each relayed frame's last chunk: its ack goes back the same way (as the web app's). */
  readonly #ackVia = new Map<number, 'socketio' | 'media'>();
  #noteVia(bytes: Uint8Array, via: 'socketio' | 'media'): void {
    try {
      if (peekMessageType(bytes) !== 'chunk') return;
      const h = readChunkHeader(bytes);
      if (h.index !== h.count - 1) return;
      this.#ackVia.set(h.frameId, via);
      if (this.#ackVia.size > 64) this.#ackVia.delete(this.#ackVia.keys().next().value!);
    } catch {
      // not a chunk: the reassembler reports it
    }
  }

  /** Flow control: the ack of a relayed frame, on the media socket when the frame came on it. */
  #ackRelayed(frameId: number): void {
    const via = this.#ackVia.get(frameId);
    this.#ackVia.delete(frameId);
    const media = this.#media instanceof WebSocket ? this.#media : null;
    if (via === 'media' && media?.readyState === WebSocket.OPEN) media.send(JSON.stringify({ type: 'ack', frameId }));
    else if (this.socket.connected) this.socket.emit('relay:ack', { frameId });
  }

  /**
   * The media plane, as the web app opens it: a single-use ticket over socket.io, then a plain
   * WebSocket whose binary messages are relayed frames. One attempt per connection; on any failure
   * the relay stays on socket.io.
   */
  async #openMedia(): Promise<void> {
    this.#media = 'opening';
    const ack = (await this.socket.timeout(5000).emitWithAck('relay:media-ticket', {}).catch(() => null)) as { ok?: boolean; data?: unknown } | null;
    const t = ack?.ok ? mediaTicketSchema.safeParse(ack.data) : null;
    if (!t?.success || this.#closed) {
      this.#media = 'failed';
      return;
    }
    const url = new URL(t.data.path, this.o.baseUrl.replace(/^http/, 'ws'));
    url.searchParams.set('ticket', t.data.ticket);
    const ws = new WebSocket(url, { perMessageDeflate: false });
    this.#media = ws;
    ws.on('message', (data: Buffer, isBinary) => {
      if (!isBinary || this.#closed) return;
      this.stats.mediaMessages++;
      this.#onRelayed(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 'media');
    });
    ws.on('error', () => undefined);
    ws.on('close', () => {
      if (this.#media === ws) this.#media = 'failed';
    });
  }

  /** The WebSockets relayed frames arrive on (socket.io's, and the media plane's when open). */
  #relayWs(): { pause?(): void; resume?(): void } | undefined {
    const engineWs = (this.socket.io.engine as unknown as { transport?: { ws?: { pause?(): void; resume?(): void } } }).transport?.ws;
    const media = this.#media instanceof WebSocket ? this.#media : null;
    if (!media) return engineWs;
    return {
      pause: () => {
        engineWs?.pause?.();
        media.pause();
      },
      resume: () => {
        engineWs?.resume?.();
        media.resume();
      },
    };
  }

  /** Reassemble synchronously in arrival order (one reassembler per stream); decode in a queue. */
  #onBytes(bytes: Uint8Array, path: MediaPath): void {
    let whole: Uint8Array | null;
    let frameId = 0;
    try {
      const type = peekMessageType(bytes);
      if (type !== 'chunk') return; // cursor updates: not rendered here
      frameId = readChunkHeader(bytes).frameId;
      whole = this.#reassemblers[path].push(bytes);
    } catch {
      this.stats.codecErrors++;
      this.requestKeyframe();
      return;
    }
    if (!whole) return;
    const receivedAtMs = Date.now();
    const frameBytes = whole;
    if (path === 'p2p' && this.o.maxBytesPerS !== undefined && this.#overByteBudget(frameBytes.length, this.o.maxBytesPerS)) {
      this.stats.skippedByThrottle++;
      this.#needKeyframe = true;
      return;
    }
    if (this.o.maxFramesPerS !== undefined && this.#overBudget(path)) {
      // P2P cannot be paused: drop the frame, so the picture needs a keyframe later.
      this.stats.skippedByThrottle++;
      this.#needKeyframe = true;
      return;
    }
    this.#work = this.#work
      .then(() => this.#apply(frameBytes, path, receivedAtMs))
      .catch(() => {
        this.stats.decodeErrors++;
      })
      // Relay flow control, as the web app does: the server sends more once this frame is done.
      .then(() => {
        if (path === 'relay') this.#ackRelayed(frameId);
      });
  }

  #needKeyframe = false;

  /** Starts a new one-second throttle window when due; a frame skipped in the last one asks for a keyframe. */
  #rollThrottleWindow(): void {
    const now = Date.now();
    if (now - this.#windowStart < 1000) return;
    this.#windowStart = now;
    this.#windowFrames = 0;
    this.#windowBytes = 0;
    if (this.#needKeyframe) {
      this.#needKeyframe = false;
      this.requestKeyframe();
    }
  }

  /** Counts a complete frame against the per-second budget; pauses the relay socket when spent. */
  #overBudget(path: MediaPath): boolean {
    this.#rollThrottleWindow();
    this.#windowFrames++;
    if (path === 'relay') {
      // A slow link or a slow machine: one frame, then nothing read for one frame interval (spread
      // over the second, not a burst and a long stall — which would measure the stall, not the relay).
      this.#pauseRelay(1000 / this.o.maxFramesPerS!);
      return false;
    }
    return this.#windowFrames > this.o.maxFramesPerS!;
  }

  /** P2P with `maxBytesPerS`: counts a complete frame against the per-second byte budget. */
  #overByteBudget(bytes: number, bytesPerS: number): boolean {
    this.#rollThrottleWindow();
    if (this.#windowBytes + bytes > bytesPerS) return true;
    this.#windowBytes += bytes;
    return false;
  }

  #pauseRelay(ms: number): void {
    const ws = this.#relayWs();
    if (!ws?.pause || this.#resumeTimer) return;
    ws.pause();
    this.#resumeTimer = setTimeout(() => {
      this.#resumeTimer = null;
      ws.resume?.();
    }, Math.max(1, ms));
  }

  async #apply(bytes: Uint8Array, path: MediaPath, receivedAtMs: number): Promise<void> {
    let frame: Frame;
    try {
      frame = decodeFrame(bytes);
    } catch {
      this.stats.codecErrors++;
      this.requestKeyframe();
      return;
    }
    if (!this.framebuffer || this.width !== frame.screenWidth || this.height !== frame.screenHeight) {
      this.width = frame.screenWidth;
      this.height = frame.screenHeight;
      this.framebuffer = new Uint8Array(this.width * this.height * 4);
      if (!frame.keyframe) this.stats.deltasWithoutBase++;
    }
    if (this.o.decode !== false) {
      // All rects of a frame decode at once (sharp works on the libuv pool, as a browser decodes
      // images off its main thread); they are drawn in order.
      const pixels = await Promise.all(frame.rects.map((rect) => this.#decodeRect(rect)));
      frame.rects.forEach((rect, i) => this.#blit(rect, pixels[i]!));
    }
    this.stats.frames++;
    if (frame.keyframe) this.stats.keyframes++;
    this.stats.bytes += bytes.length;
    this.stats.framesByPath[path]++;
    this.stats.path = path;
    this.stats.lastSeq = frame.seq;
    this.stats.firstFrameMs ??= Date.now() - this.#joinedAt;
    const stamp = this.o.decode === false ? null : readStamp(this.framebuffer, this.width, this.height);
    if (stamp) this.stats.lastStamp = stamp;
    const event: FrameEvent = { seq: frame.seq, captureTsMs: frame.captureTsMs, keyframe: frame.keyframe, path, bytes: bytes.length, receivedAtMs, stamp, width: this.width, height: this.height };
    for (const cb of this.#listeners) cb(event);
  }

  /**
   * The rect's RGBA pixels; null (counted as a decode error) when the image does not match its
   * header. An image smaller by a codec scale (a catch-up for a slow path) is stretched over the
   * rect, as a browser's `drawImage` does — on the GPU as it draws, which is why this stand-in
   * uses the cheapest stretch (nearest neighbour: ~6 ms for 2 Mpixels here, bilinear ~18).
   */
  async #decodeRect(rect: Frame['rects'][number]): Promise<Uint8Array | null> {
    if (rect.codec === 'raw') return rect.data;
    const { data, info } = await sharp(rect.data).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    const scale = info.channels === 4 ? rectImageScale(rect, info.width, info.height) : null;
    if (scale === null) {
      this.stats.decodeErrors++;
      return null;
    }
    if (scale === 1) return data;
    this.stats.scaledRects++;
    return sharp(data, { raw: { width: info.width, height: info.height, channels: 4 } }).resize(rect.width, rect.height, { fit: 'fill', kernel: 'nearest' }).raw().toBuffer();
  }

  #blit(rect: Frame['rects'][number], pixels: Uint8Array | null): void {
    if (!pixels) return;
    const fb = this.framebuffer!;
    const stride = this.width * 4;
    const rowBytes = rect.width * 4;
    for (let row = 0; row < rect.height; row++) {
      fb.set(pixels.subarray(row * rowBytes, (row + 1) * rowBytes), (rect.y + row) * stride + rect.x * 4);
    }
  }
}

function toBytes(data: unknown): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(0);
}
