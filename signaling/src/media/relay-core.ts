import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import { MEDIA_AGENT_MAX_MESSAGE_BYTES } from '@guruconnect/shared/limits';
import { decodeMediaEnvelope, MEDIA_CLOSE, MEDIA_VIEWER_MAX_MESSAGE_BYTES, mediaViewerMessageSchema, type MediaAgentNotice } from '@guruconnect/shared/protocol';
import { RelayHub, type ViewerTransport } from '../relay/relay-hub.ts';
import { relayMessageKind } from '../relay/relay-message.ts';
import type { FromRelay, MediaBinding, RelayProcessOptions, ToRelay } from './relay-ipc.ts';

/** Longest wait for a drain nothing announced. */
const DRAIN_FALLBACK_MS = 15;

interface Peer {
  binding: MediaBinding;
  ws: WebSocket;
}

/**
 * The relay process's logic: media sockets of agents and viewers, and per-viewer relay queues
 * (the same RelayHub as the socket.io relay). Frames from an agent go only to viewers of its own
 * session that have a media socket here; everything about who may connect was decided by the
 * parent before it handed the socket over.
 */
export class MediaRelayCore {
  readonly #send: (m: FromRelay) => void;
  readonly #agentsWss = new WebSocketServer({ noServer: true, maxPayload: MEDIA_AGENT_MAX_MESSAGE_BYTES, perMessageDeflate: false, clientTracking: false });
  readonly #viewersWss = new WebSocketServer({ noServer: true, maxPayload: MEDIA_VIEWER_MAX_MESSAGE_BYTES, perMessageDeflate: false, clientTracking: false });
  readonly #peers = new Map<string, Peer>();
  /** sessionId → the agent's socket id. */
  readonly #agentOf = new Map<string, string>();
  /** sessionId → its viewers' socket ids on this process. */
  readonly #viewersOf = new Map<string, Set<string>>();
  /**
   * Agents whose socket is not read (socket ids): every viewer of their session here had a full
   * queue. Reading resumes as soon as one of them drains or leaves, or another viewer joins.
   */
  readonly #paused = new Set<string>();
  readonly hub: RelayHub;
  #stats = { bytesForwarded: 0, framesDropped: 0 };
  #statsTimer: NodeJS.Timeout;

  constructor(o: RelayProcessOptions, send: (m: FromRelay) => void) {
    this.#send = send;
    this.hub = new RelayHub({
      maxQueueBytes: o.maxQueueBytes,
      highWaterBytes: o.highWaterBytes,
      transportOf: (viewerId) => {
        const p = this.#peers.get(viewerId);
        return p && p.binding.role === 'viewer' ? wsTransport(p.ws) : null;
      },
      acknowledges: (viewerId) => this.#peers.get(viewerId)?.binding.relayAcks === true,
      requestKeyframe: (viewerId) => this.#send({ type: 'keyframe', viewerId }),
      creditChanged: (viewerId, open) => this.#credit(viewerId, open),
      progressed: (viewerId) => {
        if (this.#paused.size > 0 && !this.hub.isFull(viewerId)) this.#resumeAgentOf(this.#peers.get(viewerId)?.binding.sessionId);
      },
    });
    this.#statsTimer = setInterval(() => this.#reportStats(), o.statsIntervalMs);
    this.#statsTimer.unref();
  }

  /** A message from the parent; `socket` comes with `attach`. */
  onMessage(msg: ToRelay, socket?: Socket): void {
    switch (msg.type) {
      case 'attach':
        if (socket) this.#attach(msg, socket);
        return;
      case 'detach': {
        const peer = this.#peers.get(msg.socketId);
        if (peer) this.#close(peer, MEDIA_CLOSE.detached, 'detached');
        return;
      }
      case 'ack':
        this.hub.ack(msg.viewerId, msg.frameId);
        return;
      case 'window':
        this.hub.setWindow(msg.viewerId, msg.frames);
        return;
    }
  }

  #attach(msg: Extract<ToRelay, { type: 'attach' }>, socket: Socket): void {
    const { binding } = msg;
    socket.on('error', () => socket.destroy());
    // ws reads only the method and the headers of the request.
    const req = { method: msg.method, url: '/', headers: msg.headers, socket } as unknown as IncomingMessage;
    const wss = binding.role === 'agent' ? this.#agentsWss : this.#viewersWss;
    wss.handleUpgrade(req, socket, Buffer.from(msg.head, 'base64'), (ws) => this.#open(binding, ws));
  }

  #open(binding: MediaBinding, ws: WebSocket): void {
    const previous = this.#peers.get(binding.socketId);
    if (previous) this.#close(previous, MEDIA_CLOSE.replaced, 'replaced');
    const peer: Peer = { binding, ws };
    this.#peers.set(binding.socketId, peer);
    ws.on('error', (err: Error & { code?: string }) => {
      // ws closes the socket itself (1009 for a message over maxPayload, 1002 for a bad frame).
      const tooLarge = err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';
      this.#refuse(peer, tooLarge ? 'ERR_PROTOCOL_MESSAGE_TOO_LARGE' : 'ERR_PROTOCOL_INVALID_MESSAGE', 0, true);
    });
    ws.on('close', () => this.#closed(peer));
    if (binding.role === 'agent') {
      const old = this.#agentOf.get(binding.sessionId);
      const oldPeer = old && old !== binding.socketId ? this.#peers.get(old) : undefined;
      if (oldPeer) this.#close(oldPeer, MEDIA_CLOSE.replaced, 'replaced');
      this.#agentOf.set(binding.sessionId, binding.socketId);
      ws.on('message', (data, isBinary) => this.#fromAgent(peer, data, isBinary));
      const on = [...(this.#viewersOf.get(binding.sessionId) ?? [])];
      this.#notice(peer, { type: 'viewers', on, off: [] });
    } else {
      ws.on('message', (data, isBinary) => this.#fromViewer(peer, data, isBinary));
      let viewers = this.#viewersOf.get(binding.sessionId);
      if (!viewers) this.#viewersOf.set(binding.sessionId, (viewers = new Set()));
      viewers.add(binding.socketId);
      // A new viewer must not wait behind frames for others that cannot take them.
      this.#resumeAgentOf(binding.sessionId);
      this.#toAgentOf(binding.sessionId, { type: 'viewers', on: [binding.socketId], off: [] });
    }
    this.#send({ type: 'attached', role: binding.role, socketId: binding.socketId });
  }

  #closed(peer: Peer): void {
    const { binding } = peer;
    if (this.#peers.get(binding.socketId) !== peer) return; // replaced
    this.#peers.delete(binding.socketId);
    if (binding.role === 'agent') {
      if (this.#agentOf.get(binding.sessionId) === binding.socketId) this.#agentOf.delete(binding.sessionId);
      this.#paused.delete(binding.socketId);
    } else {
      this.hub.drop(binding.socketId);
      const viewers = this.#viewersOf.get(binding.sessionId);
      viewers?.delete(binding.socketId);
      if (viewers?.size === 0) this.#viewersOf.delete(binding.sessionId);
      this.#resumeAgentOf(binding.sessionId);
      this.#toAgentOf(binding.sessionId, { type: 'viewers', on: [], off: [binding.socketId] });
    }
    this.#send({ type: 'closed', role: binding.role, socketId: binding.socketId });
  }

  #fromAgent(agent: Peer, data: RawData, isBinary: boolean): void {
    if (!isBinary) {
      this.#refuse(agent, 'ERR_PROTOCOL_INVALID_MESSAGE', byteLength(data), true);
      this.#close(agent, MEDIA_CLOSE.invalid, 'binary envelopes only');
      return;
    }
    const env = decodeMediaEnvelope(toBytes(data));
    if (!env.ok) {
      this.#refuse(agent, env.reason === 'too_large' ? 'ERR_PROTOCOL_MESSAGE_TOO_LARGE' : 'ERR_PROTOCOL_INVALID_MESSAGE', byteLength(data), true);
      this.#close(agent, MEDIA_CLOSE.invalid, 'not a media envelope');
      return;
    }
    const kind = relayMessageKind(env.payload);
    if (!kind) {
      this.#refuse(agent, 'ERR_PROTOCOL_INVALID_MESSAGE', byteLength(data), true);
      this.#close(agent, MEDIA_CLOSE.invalid, 'not a codec chunk or cursor message');
      return;
    }
    for (const id of env.to) {
      const viewer = this.#peers.get(id);
      if (!viewer) continue; // gone (or not on this process): the agent learns it from the notice
      // Only viewers of this very session.
      if (viewer.binding.role !== 'viewer' || viewer.binding.sessionId !== agent.binding.sessionId) {
        this.#refuse(agent, 'ERR_SIGNAL_NOT_ALLOWED', env.payload.length, false);
        continue;
      }
      this.hub.forward(id, env.payload, kind);
    }
    // Every viewer of the session here has a full queue: stop reading the agent (TCP backs it up,
    // and the agent, which paces by its socket's unsent bytes, slows down) instead of dropping
    // what it sends next. While one viewer can take more, frames for it must not wait behind
    // frames for a slow one: the slow one's queue drops instead, as it always did.
    const viewers = this.#viewersOf.get(agent.binding.sessionId);
    if (!viewers || this.#paused.has(agent.binding.socketId)) return;
    for (const id of viewers) if (!this.hub.isFull(id)) return;
    this.#paused.add(agent.binding.socketId);
    agent.ws.pause();
  }

  /** Read a paused agent's socket again (one of its viewers can take more, left, or joined). */
  #resumeAgentOf(sessionId: string | undefined): void {
    const agentId = sessionId === undefined ? undefined : this.#agentOf.get(sessionId);
    if (!agentId || !this.#paused.delete(agentId)) return;
    this.#peers.get(agentId)?.ws.resume();
  }

  /** Close a media socket; a paused one is read again first, or it would never see the peer's close frame. */
  #close(peer: Peer, code: number, reason: string): void {
    if (this.#paused.delete(peer.binding.socketId)) peer.ws.resume();
    peer.ws.close(code, reason);
  }

  /** A viewer's ack of a frame that came on its media socket; anything else closes the socket. */
  #fromViewer(viewer: Peer, data: RawData, isBinary: boolean): void {
    let ack: { frameId: number } | null = null;
    if (!isBinary) {
      try {
        const parsed = mediaViewerMessageSchema.safeParse(JSON.parse(String(data)));
        if (parsed.success) ack = parsed.data;
      } catch {
        ack = null;
      }
    }
    if (ack) return this.hub.ack(viewer.binding.socketId, ack.frameId);
    this.#refuse(viewer, 'ERR_PROTOCOL_INVALID_MESSAGE', byteLength(data), true);
    viewer.ws.close(MEDIA_CLOSE.invalid, 'viewers send only acks on the media plane');
  }

  #refused = new Set<string>();
  /** Reported once per socket and code (the parent audits it): a flood cannot flood the audit. */
  #refuse(peer: Peer, code: Extract<FromRelay, { type: 'refused' }>['code'], bytes: number, closed: boolean): void {
    const key = `${peer.binding.socketId}:${code}`;
    if (this.#refused.has(key)) return;
    this.#refused.add(key);
    if (this.#refused.size > 10_000) this.#refused.clear();
    this.#send({ type: 'refused', role: peer.binding.role, socketId: peer.binding.socketId, code, bytes, closed });
  }

  /**
   * Straight to the agent's media socket when it is here (the frames this queue holds came on it);
   * through the parent's socket.io otherwise. One hop instead of three: the credit loop is what
   * paces a fast viewer's relay.
   */
  #credit(viewerId: string, open: boolean): void {
    const viewer = this.#peers.get(viewerId);
    const agentId = viewer && this.#agentOf.get(viewer.binding.sessionId);
    const agent = agentId ? this.#peers.get(agentId) : undefined;
    if (agent && agent.ws.readyState === agent.ws.OPEN) this.#notice(agent, { type: 'credit', viewerId, open });
    else this.#send({ type: 'credit', viewerId, open });
  }

  #toAgentOf(sessionId: string, notice: MediaAgentNotice): void {
    const id = this.#agentOf.get(sessionId);
    const agent = id ? this.#peers.get(id) : undefined;
    if (agent) this.#notice(agent, notice);
  }

  #notice(agent: Peer, notice: MediaAgentNotice): void {
    if (agent.ws.readyState === agent.ws.OPEN) agent.ws.send(JSON.stringify(notice));
  }

  #reportStats(): void {
    const bytes = this.hub.bytesForwarded - this.#stats.bytesForwarded;
    const dropped = this.hub.framesDropped - this.#stats.framesDropped;
    this.#stats = { bytesForwarded: this.hub.bytesForwarded, framesDropped: this.hub.framesDropped };
    this.#send({ type: 'stats', bytesForwarded: bytes, framesDropped: dropped, queuedBytes: this.hub.totalQueuedBytes() });
  }

  /** Close every media socket (the process is stopping). */
  close(): void {
    clearInterval(this.#statsTimer);
    for (const p of this.#peers.values()) this.#close(p, MEDIA_CLOSE.stopping, 'stopping');
  }
}

/** A viewer's media socket as the relay queue sees it. */
function wsTransport(ws: WebSocket): ViewerTransport {
  return {
    send: (chunk) => {
      if (ws.readyState === ws.OPEN) ws.send(chunk, { binary: true });
    },
    bufferedBytes: () => ws.bufferedAmount,
    onDrain(cb) {
      const tcp = (ws as unknown as { _socket?: Socket })._socket;
      let fired = false;
      const fire = () => {
        if (fired) return;
        fired = true;
        tcp?.off('drain', fire);
        clearTimeout(timer);
        cb();
      };
      tcp?.on('drain', fire);
      const timer = setTimeout(fire, DRAIN_FALLBACK_MS);
    },
  };
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data;
}

function byteLength(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0);
  return data instanceof ArrayBuffer ? data.byteLength : data.length;
}
