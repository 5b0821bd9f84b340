import type { Socket } from 'socket.io-client';
import { z } from 'zod';
import {
  chatMessageSchema,
  DATA_CHANNEL_LABELS,
  parseDataChannelMessage,
  signalDeliverySchema,
  viewerWelcomeSchema,
  type ChatMessage,
  type DataChannelMessage,
  type InputMessage,
  type MediaPath,
  type ViewerTokenResponse,
} from '@guruconnect/shared/protocol';
import { PROTOCOL_VERSION } from '@guruconnect/shared/limits';
import { peekMessageType, readChunkHeader } from '@guruconnect/shared/codec';
import { ApiError } from './api.ts';
import { MediaSocket } from './media-socket.ts';
import { backoffMs, emitWithAck, onValid, openPlane } from './plane-socket.ts';

export type ViewerWelcome = z.infer<typeof viewerWelcomeSchema>;

/**
 * Where the link is: `connecting` (first attempt), `waiting` (connected, the agent is offline),
 * `negotiating` (agent online, no picture yet), `live` (frames flowing), `reconnecting` (lost the
 * server, trying again), `ended` (for good: the session ended, access was revoked, or we left).
 */
export type LinkPhase = 'connecting' | 'waiting' | 'negotiating' | 'live' | 'reconnecting' | 'ended';

/** Why a link ended, as a code the app has words for, or a server reason. */
export interface EndReason {
  code: string;
}

export interface ViewerLinkHandlers {
  phase(phase: LinkPhase, end?: EndReason): void;
  welcome(w: ViewerWelcome): void;
  /** One binary codec message (chunk or cursor) and the path it came on. */
  codecMessage(bytes: Uint8Array, path: MediaPath): void;
  /** The media path changed (a new peer connection or the relay took over). Reassembly starts over. */
  pathChanged(path: MediaPath | null): void;
  /** Round trip of a `control:ping` on the P2P input channel, in ms. */
  rtt(ms: number): void;
  chat(m: ChatMessage): void;
  /** The server refused input (view-only, throttled). */
  inputRefused(code: string): void;
}

export interface ViewerLinkOptions {
  sessionId: string;
  mintToken(): Promise<ViewerTokenResponse>;
  /**
   * Whether the session is still live, asked before every (re)connection: a refused WebSocket
   * handshake carries no readable code in a browser, and an ended session is final.
   */
  sessionLive(): Promise<boolean>;
  handlers: ViewerLinkHandlers;
}

const PING_INTERVAL_MS = 2000;
/** Server reasons after which reconnecting is pointless. */
const FINAL_REASONS = new Set(['token_revoked', 'user_revoked', 'session_ended', 'session_removed', 'machine_removed', 'session_reaped', 'agent_left']);
const endedSchema = z.object({ reason: z.string().max(64) });
/** Codes of a viewer-token refusal that no retry will fix. */
const FINAL_CODES = new Set(['ERR_SESSION_NOT_FOUND', 'ERR_AUTH_FORBIDDEN', 'ERR_AUTH_INVALID_TOKEN', 'ERR_AUTH_TOKEN_EXPIRED', 'ERR_AUTH_TOKEN_REVOKED', 'ERR_AUTH_USER_DISABLED', 'ERR_AUTH_WRONG_TOKEN_KIND', 'ERR_AUTH_REQUIRED']);

/**
 * A technician's link to one session: the `/ws/viewer` socket, the answering side of the agent's
 * WebRTC offer (`frames` + `input` data channels), the relay fallback (`relay:frame` in,
 * `relay:input` out, and the media-plane socket once on the relay), and reconnection with a
 * freshly minted viewer token each attempt.
 */
export class ViewerLink {
  readonly #o: ViewerLinkOptions;
  #socket: Socket | null = null;
  #pc: RTCPeerConnection | null = null;
  #frames: RTCDataChannel | null = null;
  #input: RTCDataChannel | null = null;
  #pendingCandidates: RTCIceCandidateInit[] = [];
  #remoteSet = false;
  #welcome: ViewerWelcome | null = null;
  /** Signals that arrived before the welcome (the agent may offer first). */
  #early: Array<() => void> = [];
  #attempt = 0;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #pingTimer: ReturnType<typeof setInterval> | null = null;
  #phase: LinkPhase = 'connecting';
  #path: MediaPath | null = null;
  #closed = false;
  /** The relay's faster lane, bound to `#socket`; its frames are handled as `relay:frame`s. */
  readonly #media: MediaSocket;

  constructor(o: ViewerLinkOptions) {
    this.#o = o;
    this.#media = new MediaSocket({ origin: window.location.origin, message: (bytes) => this.#onRelayFrame(bytes, 'media') });
  }

  get control(): boolean {
    return this.#welcome?.control ?? false;
  }

  get path(): MediaPath | null {
    return this.#path;
  }

  start(): void {
    void this.#connect();
  }

  /** Sends input on the P2P `input` channel when it is open, else through the relay. Never when view-only. */
  sendInput(msg: InputMessage): void {
    if (!this.control || this.#closed) return;
    if (this.#input?.readyState === 'open') {
      this.#input.send(JSON.stringify(msg));
      return;
    }
    const socket = this.#socket;
    if (!socket?.connected) return;
    void emitWithAck(socket, 'relay:input', msg).then((ack) => {
      if (!ack.ok && ack.error.code !== 'ERR_SESSION_NOT_CONNECTED') this.#o.handlers.inputRefused(ack.error.code);
    });
  }

  /**
   * Flow control on the relay: a relayed frame is done with, the server may send more. The ack
   * goes back on the socket the frame came on (the media socket's acks reach the relay process
   * that queued the frame; socket.io's reach the main process's queue).
   */
  ackRelayFrame(frameId: number): void {
    const via = this.#ackVia.get(frameId);
    this.#ackVia.delete(frameId);
    if (via === 'media' && this.#media.ack(frameId)) return;
    if (this.#socket?.connected) this.#socket.emit('relay:ack', { frameId });
  }

  /** Asks for a keyframe on the current path; false when there is no path to ask on yet. */
  requestKeyframe(): boolean {
    if (this.#input?.readyState === 'open') {
      this.#sendControl({ type: 'control:keyframe-request' });
      return true;
    }
    if (!this.#socket?.connected) return false;
    this.#socket.emit('keyframe:request', {});
    return true;
  }

  /** Resolves with `null` when delivered, else the refusal code. */
  async sendChat(text: string): Promise<string | null> {
    if (!this.#socket) return 'ERR_SESSION_NOT_CONNECTED';
    const ack = await emitWithAck(this.#socket, 'chat:send', { text });
    return ack.ok ? null : ack.error.code;
  }

  /** Leaves for good. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#teardown();
    this.#setPhase('ended', { code: 'left' });
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    this.#setPhase(this.#attempt === 0 ? 'connecting' : 'reconnecting');
    let vt: ViewerTokenResponse;
    try {
      // An ended session would only be refused at the handshake, where the browser hides the code.
      if (!(await this.#o.sessionLive())) return this.#end('ERR_SESSION_NOT_FOUND');
      if (this.#closed) return;
      vt = await this.#o.mintToken();
    } catch (err) {
      const code = err instanceof ApiError ? err.code : 'CLIENT_NETWORK';
      if (FINAL_CODES.has(code)) return this.#end(code);
      return this.#retry();
    }
    if (this.#closed) return;
    const socket = openPlane('/ws/viewer', { token: vt.token, session_id: this.#o.sessionId, relay_acks: '1' });
    this.#socket = socket;
    this.#media.attach(() => emitWithAck(socket, 'relay:media-ticket', {}));

    socket.on('connect', () => {
      this.#attempt = 0;
    });
    socket.on('connect_error', () => {
      if (this.#socket === socket) this.#retry();
    });
    socket.on('disconnect', () => {
      if (this.#socket !== socket) return;
      this.#retry();
    });
    onValid(socket, 'session:welcome', viewerWelcomeSchema, (w) => {
      this.#welcome = w;
      this.#o.handlers.welcome(w);
      this.#setPhase(w.agentOnline ? 'negotiating' : 'waiting');
      const early = this.#early;
      this.#early = [];
      for (const run of early) run();
    });
    onValid(socket, 'signal:offer', signalDeliverySchema, (m) => this.#whenWelcomed(() => void this.#onOffer(m.description)));
    onValid(socket, 'signal:candidate', signalDeliverySchema, (m) => this.#whenWelcomed(() => this.#onCandidate(m.candidate)));
    socket.on('relay:frame', (data: unknown) => {
      const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data instanceof Uint8Array ? data : null;
      if (!bytes) return;
      this.#onRelayFrame(bytes);
      // On the relay path: ask for the media socket (lazily, with its own retry gaps).
      this.#media.relayFrame();
    });
    onValid(socket, 'chat:message', chatMessageSchema, (m) => this.#o.handlers.chat(m));
    onValid(socket, 'agent:offline', z.object({}).passthrough(), () => {
      this.#closePeer();
      this.#setPath(null);
      this.#setPhase('waiting');
    });
    onValid(socket, 'session:ended', endedSchema, (m) => this.#end(m.reason));
    onValid(socket, 'server:disconnect', endedSchema, (m) => {
      if (FINAL_REASONS.has(m.reason)) this.#end(m.reason);
    });
  }

  /** Which socket brought each relayed frame's last chunk (bounded: acks come within a few frames). */
  readonly #ackVia = new Map<number, 'socketio' | 'media'>();

  /** One relayed codec message, from `relay:frame` or the media socket alike. */
  #onRelayFrame(bytes: Uint8Array, via: 'socketio' | 'media' = 'socketio'): void {
    try {
      if (peekMessageType(bytes) === 'chunk') {
        const h = readChunkHeader(bytes);
        if (h.index === h.count - 1) {
          this.#ackVia.set(h.frameId, via);
          if (this.#ackVia.size > 64) this.#ackVia.delete(this.#ackVia.keys().next().value!);
        }
      }
    } catch {
      // not a valid chunk: the renderer counts it
    }
    this.#setPath('relay');
    this.#setPhase('live');
    this.#o.handlers.codecMessage(bytes, 'relay');
  }

  #whenWelcomed(run: () => void): void {
    if (this.#welcome) run();
    else this.#early.push(run);
  }

  async #onOffer(description: RTCSessionDescriptionInit | undefined): Promise<void> {
    if (!description || description.type !== 'offer' || this.#closed) return;
    // A new offer means a new peer connection (first join, agent reconnected, P2P restarted).
    this.#closePeer();
    const socket = this.#socket;
    const pc = new RTCPeerConnection({ iceServers: this.#welcome?.iceServers ?? [] });
    this.#pc = pc;
    this.#remoteSet = false;
    this.#pendingCandidates = [];
    pc.onicecandidate = (ev) => {
      if (this.#pc !== pc || !ev.candidate || !ev.candidate.candidate) return;
      const c = ev.candidate.toJSON();
      socket?.emit('signal:candidate', { candidate: { candidate: c.candidate ?? '', sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null } });
    };
    pc.ondatachannel = (ev) => this.#adoptChannel(pc, ev.channel);
    pc.onconnectionstatechange = () => {
      if (this.#pc !== pc) return;
      if (pc.connectionState === 'failed' || pc.connectionState === 'closed') {
        // The agent falls back to the relay on its own; frames will arrive as relay:frame.
        this.#closePeer();
      }
    };
    try {
      await pc.setRemoteDescription(description);
      this.#remoteSet = true;
      for (const c of this.#pendingCandidates) await pc.addIceCandidate(c).catch(() => undefined);
      this.#pendingCandidates = [];
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      if (this.#pc !== pc) return;
      socket?.emit('signal:answer', { description: { type: 'answer', sdp: pc.localDescription?.sdp ?? answer.sdp ?? '' } });
    } catch {
      // A bad offer: the agent's ICE timer moves it to the relay.
      if (this.#pc === pc) this.#closePeer();
    }
  }

  #onCandidate(candidate: RTCIceCandidateInit | undefined): void {
    const pc = this.#pc;
    if (!candidate || !pc) return;
    if (!this.#remoteSet) this.#pendingCandidates.push(candidate);
    else void pc.addIceCandidate(candidate).catch(() => undefined);
  }

  #adoptChannel(pc: RTCPeerConnection, channel: RTCDataChannel): void {
    channel.binaryType = 'arraybuffer';
    if (channel.label === DATA_CHANNEL_LABELS.frames) {
      this.#frames = channel;
      channel.onopen = () => {
        if (this.#pc !== pc) return;
        this.#setPath('p2p');
        this.#setPhase('live');
      };
      channel.onmessage = (ev: MessageEvent<unknown>) => {
        if (this.#pc !== pc || !(ev.data instanceof ArrayBuffer)) return;
        if (this.#path !== 'p2p') this.#setPath('p2p');
        this.#setPhase('live');
        this.#o.handlers.codecMessage(new Uint8Array(ev.data), 'p2p');
      };
    } else if (channel.label === DATA_CHANNEL_LABELS.input) {
      this.#input = channel;
      channel.onopen = () => {
        if (this.#pc !== pc) return;
        this.#sendControl({ type: 'control:hello', protocol: PROTOCOL_VERSION, role: 'viewer' });
        this.#startPing();
      };
      channel.onmessage = (ev: MessageEvent<unknown>) => {
        if (this.#pc !== pc || typeof ev.data !== 'string') return;
        const parsed = parseDataChannelMessage(ev.data);
        if (!parsed.ok) return;
        const msg = parsed.data;
        if (msg.type === 'control:ping') this.#sendControl({ type: 'control:pong', t: msg.t });
        else if (msg.type === 'control:pong') this.#o.handlers.rtt(Math.max(0, performance.now() - msg.t));
      };
      channel.onclose = () => {
        if (this.#input === channel) this.#stopPing();
      };
    }
  }

  #sendControl(msg: DataChannelMessage): void {
    if (this.#input?.readyState === 'open') this.#input.send(JSON.stringify(msg));
  }

  #startPing(): void {
    this.#stopPing();
    const ping = () => this.#sendControl({ type: 'control:ping', t: performance.now() });
    ping();
    this.#pingTimer = setInterval(ping, PING_INTERVAL_MS);
  }

  #stopPing(): void {
    if (this.#pingTimer) clearInterval(this.#pingTimer);
    this.#pingTimer = null;
  }

  #setPhase(phase: LinkPhase, end?: EndReason): void {
    if (this.#phase === phase && phase !== 'ended') return;
    if (this.#phase === 'ended') return;
    this.#phase = phase;
    this.#o.handlers.phase(phase, end);
  }

  #setPath(path: MediaPath | null): void {
    if (this.#path === path) return;
    this.#path = path;
    this.#o.handlers.pathChanged(path);
  }

  #retry(): void {
    if (this.#closed || this.#phase === 'ended') return;
    this.#teardown();
    this.#setPhase('reconnecting');
    const delay = backoffMs(this.#attempt++, 10_000);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      void this.#connect();
    }, delay);
  }

  #end(code: string): void {
    this.#teardown();
    this.#setPhase('ended', { code });
  }

  #closePeer(): void {
    this.#stopPing();
    const pc = this.#pc;
    this.#pc = null;
    this.#frames = null;
    this.#input = null;
    this.#remoteSet = false;
    this.#pendingCandidates = [];
    if (pc) {
      pc.onicecandidate = pc.ondatachannel = pc.onconnectionstatechange = null;
      pc.close();
    }
  }

  #teardown(): void {
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.#closePeer();
    this.#setPath(null);
    this.#welcome = null;
    this.#early = [];
    // Bound to the socket.io connection (the server would close it with 4001 anyway).
    this.#media.detach();
    const socket = this.#socket;
    this.#socket = null;
    if (socket) {
      socket.removeAllListeners();
      socket.disconnect();
    }
  }
}
