import type { Socket } from 'socket.io-client';
import { z } from 'zod';
import {
  agentWelcomeSchema,
  chatMessageSchema,
  DATA_CHANNEL_LABELS,
  parseDataChannelMessage,
  signalDeliverySchema,
  viewerJoinedSchema,
  viewerLeftSchema,
  type ChatMessage,
  type DataChannelMessage,
  type MediaPath,
} from '@guruconnect/shared/protocol';
import { PROTOCOL_VERSION } from '@guruconnect/shared/limits';
import type { EncodedUpdate } from './screen-capture.ts';
import { emitWithAck, onValid, openPlane } from './plane-socket.ts';

/** P2P that is not up after this long falls back to the relay. */
export const ICE_TIMEOUT_MS = 5000;
/** An established P2P link whose ICE stays disconnected this long moves to the relay. */
const ICE_DISCONNECT_GRACE_MS = 3000;
/** Bytes queued on a `frames` channel before the viewer counts as congested and is skipped. */
const FRAMES_HIGH_WATER_BYTES = 1024 * 1024;
/** Relay chunks sent and not yet acknowledged before a relay viewer counts as congested. */
const RELAY_MAX_IN_FLIGHT = 48;

export type AgentWelcome = z.infer<typeof agentWelcomeSchema>;

/** One technician watching the share. */
interface ShareViewer {
  readonly id: string;
  readonly displayName: string;
  state: 'negotiating' | 'p2p' | 'relay' | 'closed';
  pc: RTCPeerConnection | null;
  frames: RTCDataChannel | null;
  input: RTCDataChannel | null;
  remoteSet: boolean;
  pendingCandidates: RTCIceCandidateInit[];
  needsKeyframe: boolean;
  timer: ReturnType<typeof setTimeout> | null;
  relayInFlight: number;
}

export interface ShareLinkHandlers {
  welcome(w: AgentWelcome): void;
  /** The technicians watching now, with the path each one uses. */
  viewers(list: Array<{ id: string; displayName: string; path: MediaPath | null }>): void;
  chat(m: ChatMessage): void;
  /** The link is gone for good; `code` says why (a refusal, a server reason, or `disconnected`). */
  ended(code: string): void;
  /** Input a technician tried to send; the browser share is view-only, so it is dropped. */
  inputIgnored(): void;
}

const reasonSchema = z.object({ reason: z.string().max(64) });
const keyframeRequestSchema = z.object({ from: z.string() }).passthrough();

/**
 * The end user's page acting as an agent on `/ws/agent` (kind `browser`): for each technician
 * that joins it opens a peer connection as the initiator with the `frames` and `input` channels,
 * falls back to `relay:frame` when ICE is not up within ICE_TIMEOUT_MS (or the server forces the
 * relay), reports the path, and never applies input. There is no reconnection: the support code
 * is single-use and was consumed by this connection.
 */
export class ShareLink {
  readonly #h: ShareLinkHandlers;
  readonly #socket: Socket;
  readonly #viewers = new Map<string, ShareViewer>();
  #welcome: AgentWelcome | null = null;
  #connected = false;
  #closed = false;

  constructor(code: string, agentId: string, handlers: ShareLinkHandlers) {
    this.#h = handlers;
    const socket = openPlane('/ws/agent', { support_code: code, kind: 'browser', agent_id: agentId, name: 'Browser share' });
    this.#socket = socket;
    socket.on('connect', () => (this.#connected = true));
    socket.on('connect_error', () => this.#end(this.#connected ? 'disconnected' : 'refused'));
    socket.on('disconnect', () => this.#end('disconnected'));
    onValid(socket, 'server:disconnect', reasonSchema, (m) => this.#end(m.reason));
    onValid(socket, 'session:welcome', agentWelcomeSchema, (w) => {
      this.#welcome = w;
      this.#h.welcome(w);
    });
    onValid(socket, 'viewer:joined', viewerJoinedSchema, (v) => this.#join(v.viewerId, v.displayName));
    onValid(socket, 'viewer:left', viewerLeftSchema, (v) => this.#leave(v.viewerId));
    onValid(socket, 'signal:answer', signalDeliverySchema, (m) => void this.#onAnswer(m.from, m.description));
    onValid(socket, 'signal:candidate', signalDeliverySchema, (m) => this.#onCandidate(m.from, m.candidate));
    onValid(socket, 'keyframe:request', keyframeRequestSchema, (m) => {
      const v = this.#viewers.get(m.from);
      if (v) v.needsKeyframe = true;
    });
    socket.on('relay:input', () => this.#h.inputIgnored());
    onValid(socket, 'chat:message', chatMessageSchema, (m) => this.#h.chat(m));
  }

  /** Viewers that can take an update now, split by what they need. */
  targets(): { keyframe: string[]; delta: string[] } {
    const keyframe: string[] = [];
    const delta: string[] = [];
    for (const v of this.#viewers.values()) {
      if (v.state !== 'p2p' && v.state !== 'relay') continue;
      if (this.#congested(v)) {
        v.needsKeyframe = true; // it misses this update
        continue;
      }
      (v.needsKeyframe ? keyframe : delta).push(v.id);
    }
    return { keyframe, delta };
  }

  /** Sends an update to these viewers, each on its own path. */
  send(update: EncodedUpdate, ids: string[]): void {
    const relayIds: string[] = [];
    for (const id of ids) {
      const v = this.#viewers.get(id);
      if (!v) continue;
      if (update.keyframe) v.needsKeyframe = false;
      if (v.state === 'p2p' && v.frames?.readyState === 'open') {
        try {
          for (const chunk of update.chunks) v.frames.send(chunk as Uint8Array<ArrayBuffer>);
        } catch {
          this.#toRelay(v, 'send_failed');
        }
      } else if (v.state === 'relay') relayIds.push(id);
    }
    if (relayIds.length === 0 || !this.#socket.connected) return;
    const to = relayIds.length === 1 ? relayIds[0]! : relayIds;
    for (const chunk of update.chunks) {
      for (const id of relayIds) this.#viewers.get(id)!.relayInFlight++;
      void emitWithAck(this.#socket, 'relay:frame', { to, data: chunk }).then(() => {
        for (const id of relayIds) {
          const v = this.#viewers.get(id);
          if (v) v.relayInFlight = Math.max(0, v.relayInFlight - 1);
        }
      });
    }
  }

  sendChat(text: string): Promise<string | null> {
    return emitWithAck(this.#socket, 'chat:send', { text }).then((ack) => (ack.ok ? null : ack.error.code));
  }

  /** Stops sharing: closes every peer and the socket (the server ends the support session). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const v of this.#viewers.values()) this.#closeViewer(v);
    this.#viewers.clear();
    this.#socket.removeAllListeners();
    this.#socket.disconnect();
  }

  #end(code: string): void {
    if (this.#closed) return;
    this.close();
    this.#h.ended(code);
  }

  #report(): void {
    this.#h.viewers([...this.#viewers.values()].map((v) => ({ id: v.id, displayName: v.displayName, path: v.state === 'p2p' || v.state === 'relay' ? v.state : null })));
  }

  #congested(v: ShareViewer): boolean {
    if (v.state === 'p2p') return (v.frames?.bufferedAmount ?? Infinity) > FRAMES_HIGH_WATER_BYTES;
    return !this.#socket.connected || v.relayInFlight > RELAY_MAX_IN_FLIGHT;
  }

  #join(id: string, displayName: string): void {
    if (this.#closed || this.#viewers.has(id)) return;
    const v: ShareViewer = { id, displayName, state: 'negotiating', pc: null, frames: null, input: null, remoteSet: false, pendingCandidates: [], needsKeyframe: true, timer: null, relayInFlight: 0 };
    this.#viewers.set(id, v);
    this.#report();
    if (this.#welcome?.relayPolicy === 'force') this.#toRelay(v, 'forced');
    else void this.#offer(v);
  }

  #leave(id: string): void {
    const v = this.#viewers.get(id);
    if (!v) return;
    this.#closeViewer(v);
    this.#viewers.delete(id);
    this.#report();
  }

  async #offer(v: ShareViewer): Promise<void> {
    const pc = new RTCPeerConnection({ iceServers: this.#welcome?.iceServers ?? [] });
    v.pc = pc;
    v.frames = pc.createDataChannel(DATA_CHANNEL_LABELS.frames, { ordered: true });
    v.input = pc.createDataChannel(DATA_CHANNEL_LABELS.input, { ordered: true });
    v.frames.binaryType = 'arraybuffer';
    const opened = () => {
      if (v.pc !== pc || v.state !== 'negotiating') return;
      if (v.frames?.readyState !== 'open' || v.input?.readyState !== 'open') return;
      this.#clearTimer(v);
      v.state = 'p2p';
      v.needsKeyframe = true;
      this.#sendControl(v, { type: 'control:hello', protocol: PROTOCOL_VERSION, role: 'agent' });
      this.#socket.emit('path:report', { viewerId: v.id, path: 'p2p', reason: 'ice_connected' });
      this.#report();
    };
    v.frames.onopen = opened;
    v.input.onopen = opened;
    v.frames.onclose = () => v.pc === pc && v.state === 'p2p' && this.#toRelay(v, 'channel_closed');
    v.input.onmessage = (ev: MessageEvent<unknown>) => {
      if (v.pc !== pc || typeof ev.data !== 'string') return;
      const parsed = parseDataChannelMessage(ev.data);
      if (!parsed.ok) return;
      const msg = parsed.data;
      if (msg.type === 'control:keyframe-request') v.needsKeyframe = true;
      else if (msg.type === 'control:ping') this.#sendControl(v, { type: 'control:pong', t: msg.t });
      else if (msg.type !== 'control:pong' && msg.type !== 'control:hello') this.#h.inputIgnored();
    };
    pc.onicecandidate = (ev) => {
      if (v.pc !== pc || !ev.candidate || !ev.candidate.candidate) return;
      const c = ev.candidate.toJSON();
      this.#socket.emit('signal:candidate', { to: v.id, candidate: { candidate: c.candidate ?? '', sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null } });
    };
    pc.oniceconnectionstatechange = () => {
      if (v.pc !== pc) return;
      const s = pc.iceConnectionState;
      if (s === 'failed') this.#toRelay(v, 'ice_failed');
      else if (s === 'disconnected' && v.state === 'p2p' && !v.timer) v.timer = setTimeout(() => this.#toRelay(v, 'ice_disconnected'), ICE_DISCONNECT_GRACE_MS);
      else if ((s === 'connected' || s === 'completed') && v.state === 'p2p') this.#clearTimer(v);
    };
    v.timer = setTimeout(() => v.state === 'negotiating' && this.#toRelay(v, 'ice_timeout'), ICE_TIMEOUT_MS);
    try {
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      if (v.pc !== pc) return;
      this.#socket.emit('signal:offer', { to: v.id, description: { type: 'offer', sdp: pc.localDescription?.sdp ?? offer.sdp ?? '' } });
    } catch {
      this.#toRelay(v, 'offer_failed');
    }
  }

  async #onAnswer(from: string, description: RTCSessionDescriptionInit | undefined): Promise<void> {
    const v = this.#viewers.get(from);
    const pc = v?.pc;
    if (!v || !pc || !description || description.type !== 'answer' || v.remoteSet) return;
    try {
      await pc.setRemoteDescription(description);
      v.remoteSet = true;
      for (const c of v.pendingCandidates) await pc.addIceCandidate(c).catch(() => undefined);
      v.pendingCandidates = [];
    } catch {
      if (v.pc === pc) this.#toRelay(v, 'bad_answer');
    }
  }

  #onCandidate(from: string, candidate: RTCIceCandidateInit | undefined): void {
    const v = this.#viewers.get(from);
    if (!v?.pc || !candidate) return;
    if (!v.remoteSet) v.pendingCandidates.push(candidate);
    else void v.pc.addIceCandidate(candidate).catch(() => undefined);
  }

  #sendControl(v: ShareViewer, msg: DataChannelMessage): void {
    if (v.input?.readyState === 'open') v.input.send(JSON.stringify(msg));
  }

  #toRelay(v: ShareViewer, reason: string): void {
    if (v.state === 'relay' || v.state === 'closed') return;
    this.#closePeer(v);
    v.state = 'relay';
    v.needsKeyframe = true;
    v.relayInFlight = 0;
    this.#socket.emit('path:report', { viewerId: v.id, path: 'relay', reason });
    this.#report();
  }

  #clearTimer(v: ShareViewer): void {
    if (v.timer) clearTimeout(v.timer);
    v.timer = null;
  }

  #closePeer(v: ShareViewer): void {
    this.#clearTimer(v);
    const pc = v.pc;
    v.pc = null;
    v.frames = v.input = null;
    v.remoteSet = false;
    v.pendingCandidates = [];
    if (pc) {
      pc.onicecandidate = pc.oniceconnectionstatechange = null;
      pc.close();
    }
  }

  #closeViewer(v: ShareViewer): void {
    this.#closePeer(v);
    v.state = 'closed';
  }
}
