import { INPUT_MAX_MESSAGE_BYTES, MEDIA_MAX_TARGETS, RELAY_CHUNK_MAX_BYTES } from '@guruconnect/shared/limits';
import { rechunk } from '@guruconnect/shared/codec';
import { inputMessageSchema, parseDataChannelMessage, type IceServer, type MediaPath } from '@guruconnect/shared/protocol';
import type { ScreenSource } from '../capture/screen-source.ts';
import type { RelayMode } from '../cli/args.ts';
import type { AgentWelcome, SignalDelivery, SignalKind, ViewerJoined } from '../connection/agent-connection.ts';
import type { InputSink } from '../input/input-sink.ts';
import type { Logger } from '../log/logger.ts';
import type { EncodedUpdate, FramePipeline } from '../pipeline/types.ts';
import { InputGate, messageBytes } from './input-gate.ts';
import { createPeerLink, type PeerLinkFactory, type SignalPayload } from './peer-link.ts';
import { StreamLoop, type StreamTarget } from './stream-loop.ts';
import { ViewerLink } from './viewer-link.ts';
import { MediaLink, type MediaSocket, type MediaTicketPort } from './media-link.ts';

/** Bytes the agent's server socket may hold unsent before relay viewers count as congested. */
export const RELAY_HIGH_WATER_BYTES = 1024 * 1024;
/** `relay:frame` addresses at most this many viewers per message (the server's schema). */
const RELAY_MAX_TARGETS = 64;
/** After a reconnect, viewers the server does not re-announce within this time are gone. */
const REANNOUNCE_WAIT_MS = 3000;

/** The signalling link as the media session uses it (the AgentConnection in production). */
export interface SignallingPort extends Partial<MediaTicketPort> {
  readonly ready: boolean;
  send(event: string, payload: unknown): boolean;
  bufferedBytes(): number;
}

export interface MediaSessionOptions {
  source: ScreenSource;
  pipeline: FramePipeline;
  sink: InputSink;
  fps: number;
  relayMode: RelayMode;
  /** `--ice-servers`: replaces the server's list when set. */
  iceServersOverride: IceServer[] | null;
  iceTransportPolicy: 'all' | 'relay';
  iceTimeoutMs: number;
  disconnectGraceMs?: number;
  signalling: SignallingPort;
  createPeer?: PeerLinkFactory;
  /** The media plane's socket (tests); the `ws` client otherwise. */
  createMediaSocket?: (url: string) => MediaSocket;
  log: Logger;
}

/**
 * Everything between the server socket and the screen: one ViewerLink (P2P or relay) per viewer,
 * the shared capture loop, and the input gate. Driven by the AgentConnection's events.
 */
export class MediaSession {
  readonly #o: MediaSessionOptions;
  readonly #log: Logger;
  readonly #viewers = new Map<string, ViewerLink>();
  readonly #loop: StreamLoop;
  readonly input: InputGate;
  /** Relayed frames without socket.io, when the signalling link can get media tickets. */
  readonly #media: MediaLink | null;
  #welcome: AgentWelcome | null = null;
  #unconfirmed = new Set<string>();
  #pruneTimer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(o: MediaSessionOptions) {
    this.#o = o;
    this.#log = o.log;
    this.input = new InputGate(o.sink, o.log.child({ component: 'input' }));
    const s = o.signalling;
    this.#media =
      s.requestMediaTicket && s.mediaUrl
        ? new MediaLink({
            port: { requestMediaTicket: () => s.requestMediaTicket!(), mediaUrl: (path, ticket) => s.mediaUrl!(path, ticket) },
            log: o.log.child({ component: 'media-plane' }),
            onViewers: (on, off) => this.#mediaViewers(on, off),
            onCredit: (viewerId, open) => this.onRelayCredit(viewerId, open),
            ...(o.createMediaSocket ? { createSocket: o.createMediaSocket } : {}),
          })
        : null;
    this.#loop = new StreamLoop({
      source: o.source,
      pipeline: o.pipeline,
      fps: o.fps,
      targets: () => this.#viewers.values(),
      deliver: (update, targets) => this.#deliver(update, targets),
      log: o.log.child({ component: 'stream' }),
    });
  }

  get viewers(): ReadonlyMap<string, ViewerLink> {
    return this.#viewers;
  }

  get streamStats() {
    return this.#loop.stats;
  }

  /** The relay mode in force: `--relay force` or the server's `relayPolicy: 'force'` forces the relay. */
  get relayMode(): RelayMode {
    if (this.#o.relayMode === 'never') return 'never';
    return this.#o.relayMode === 'force' || this.#welcome?.relayPolicy === 'force' ? 'force' : 'auto';
  }

  start(): void {
    this.#loop.start();
  }

  onWelcome(welcome: AgentWelcome, resumed: boolean): void {
    this.#welcome = welcome;
    if (this.#o.relayMode === 'never' && welcome.relayPolicy === 'force') {
      this.#log.error('the server requires the relay but the agent runs with --relay never: viewers will get no picture');
    }
    if (!resumed) return;
    // The server re-announces the viewers it still has right after the welcome.
    this.#unconfirmed = new Set(this.#viewers.keys());
    if (this.#pruneTimer) clearTimeout(this.#pruneTimer);
    this.#pruneTimer = setTimeout(() => {
      this.#pruneTimer = null;
      for (const id of this.#unconfirmed) this.onViewerLeft(id, 'not_reannounced');
      this.#unconfirmed.clear();
    }, REANNOUNCE_WAIT_MS);
  }

  onViewerJoined(v: ViewerJoined): void {
    if (this.#closed) return;
    const known = this.#viewers.get(v.viewerId);
    if (known) {
      this.#unconfirmed.delete(v.viewerId);
      known.reannounced(v.control);
      this.#log.info('viewer re-announced', { viewerId: v.viewerId, control: v.control, path: known.path });
      return;
    }
    this.#log.info('viewer joined', { viewerId: v.viewerId, control: v.control });
    if (this.#o.relayMode === 'never' && this.#welcome?.relayPolicy === 'force') {
      // The server allows the relay only (e.g. to keep addresses private) and the agent refuses it: no path.
      this.#log.error('no media path for this viewer: the server requires the relay and the agent runs with --relay never', { viewerId: v.viewerId });
      return;
    }
    const link = new ViewerLink({
      viewerId: v.viewerId,
      control: v.control,
      relayMode: this.relayMode,
      iceServers: this.#o.iceServersOverride ?? this.#welcome?.iceServers ?? [],
      iceTransportPolicy: this.#o.iceTransportPolicy,
      iceTimeoutMs: this.#o.iceTimeoutMs,
      disconnectGraceMs: this.#o.disconnectGraceMs,
      createPeer: this.#o.createPeer ?? createPeerLink,
      log: this.#log,
      port: {
        signal: (to, kind, payload) => this.#signal(to, kind, payload),
        reportPath: (viewerId, path, reason) => this.#reportPath(viewerId, path, reason),
        relayCongested: () => !this.#o.signalling.ready || this.#o.signalling.bufferedBytes() > RELAY_HIGH_WATER_BYTES || (this.#media?.bufferedBytes() ?? 0) > RELAY_HIGH_WATER_BYTES,
        relayWindow: (viewerId, frames) => void this.#o.signalling.send('relay:window', { viewerId, frames }),
        inputData: (link, data) => this.#onP2PInput(link, data),
      },
    });
    this.#viewers.set(v.viewerId, link);
    link.start();
  }

  onViewerLeft(viewerId: string, reason = 'viewer_left'): void {
    const link = this.#viewers.get(viewerId);
    if (!link) return;
    this.#viewers.delete(viewerId);
    this.input.forget(viewerId);
    link.close(reason);
    this.#log.info('viewer left', { viewerId, reason });
  }

  onSignal(kind: SignalKind, msg: SignalDelivery): void {
    const link = this.#viewers.get(msg.from);
    if (!link) {
      this.#log.debug('signal from an unknown viewer', { kind, from: msg.from });
      return;
    }
    link.onSignal(kind, { description: msg.description, candidate: msg.candidate });
  }

  onRelayInput(from: string, input: unknown): void {
    const link = this.#viewers.get(from);
    if (!link) return;
    const parsed = inputMessageSchema.safeParse(input);
    if (!parsed.success) {
      this.input.refuse(from, 'relay', 'ERR_PROTOCOL_INVALID_MESSAGE');
      return;
    }
    this.input.submit(link, parsed.data, 'relay');
  }

  onKeyframeRequest(from: string, reason: string | undefined): void {
    const link = this.#viewers.get(from);
    if (!link) return;
    link.needsKeyframe = true;
    this.#log.debug('keyframe requested', { viewerId: from, reason: reason ?? 'viewer' });
  }

  /** The server says whether a relay viewer can take another frame now (its ack credit). */
  onRelayCredit(viewerId: string, open: boolean): void {
    this.#viewers.get(viewerId)?.relayCredit(open);
  }

  /**
   * The relay process can (`on`) or can no longer (`off`) reach these viewers on the media plane.
   * Their frames change path at the next update, which is a keyframe: frames still queued on the
   * other path may arrive after it, and only a keyframe makes them harmless.
   */
  #mediaViewers(on: string[], off: string[]): void {
    for (const id of [...on, ...off]) {
      const link = this.#viewers.get(id);
      if (link) link.needsKeyframe = true;
    }
    this.#log.debug('media plane viewers', { on: on.length, off: off.length });
  }

  onDisconnected(): void {
    this.#media?.reset();
    // Relay viewers starve until the socket is back (they count as congested, so they get a keyframe
    // after); P2P viewers carry on.
    this.#log.info('server link down; p2p viewers continue', { viewers: this.#viewers.size });
  }

  /** Closes every viewer link and stops the capture loop. Idempotent. */
  close(reason = 'agent_stopping'): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#loop.stop();
    this.#media?.close();
    if (this.#pruneTimer) clearTimeout(this.#pruneTimer);
    for (const link of this.#viewers.values()) link.close(reason);
    this.#viewers.clear();
    this.input.close();
  }

  #signal(to: string, kind: SignalKind, payload: SignalPayload): void {
    if (!this.#o.signalling.send(`signal:${kind}`, { to, ...payload })) this.#log.debug('signal dropped: server link down', { kind, to });
  }

  #reportPath(viewerId: string, path: MediaPath, reason: string): void {
    this.#o.signalling.send('path:report', { viewerId, path, reason: reason.slice(0, 64) });
  }

  #onP2PInput(link: ViewerLink, data: unknown): void {
    if (typeof data !== 'string') {
      const bytes = messageBytes(data);
      this.input.refuse(link.id, 'p2p', bytes > INPUT_MAX_MESSAGE_BYTES ? 'ERR_PROTOCOL_MESSAGE_TOO_LARGE' : 'ERR_PROTOCOL_INVALID_MESSAGE', undefined, bytes);
      return;
    }
    const parsed = parseDataChannelMessage(data);
    if (!parsed.ok) {
      this.input.refuse(link.id, 'p2p', parsed.code, undefined, data.length);
      return;
    }
    const msg = parsed.data;
    switch (msg.type) {
      case 'control:keyframe-request':
        link.needsKeyframe = true;
        return;
      case 'control:ping':
        link.sendJson({ type: 'control:pong', t: msg.t });
        return;
      case 'control:pong':
        return;
      case 'control:hello':
        this.#log.debug('viewer hello', { viewerId: link.id, role: msg.role });
        return;
      default:
        this.input.submit(link, msg, 'p2p');
    }
  }

  #deliver(update: EncodedUpdate, targets: StreamTarget[]): void {
    const relayIds: string[] = [];
    for (const t of targets) {
      const link = this.#viewers.get(t.id);
      if (!link) continue;
      if (link.state === 'relay') {
        relayIds.push(link.id);
        continue;
      }
      try {
        for (const m of update.messages) link.sendP2P(m);
      } catch (err) {
        // The channel closed between the congestion check and now: switch path, resync there.
        this.#log.debug('p2p send failed', { viewerId: link.id, err });
        link.p2pBroken('send_failed');
      }
    }
    if (relayIds.length === 0) return;
    // The relay takes larger messages than a data channel: one socket.io message per frame
    // instead of one per 64 KiB (the per-message cost dominates on the relay).
    const relayMessages = rechunk(update.messages, RELAY_CHUNK_MAX_BYTES);
    const media = this.#media;
    media?.want();
    const onMedia = media ? relayIds.filter((id) => media.has(id)) : [];
    const onSocketIo = onMedia.length > 0 ? relayIds.filter((id) => !media!.has(id)) : relayIds;
    for (let i = 0; i < onMedia.length; i += MEDIA_MAX_TARGETS) {
      const batch = onMedia.slice(i, i + MEDIA_MAX_TARGETS);
      for (const data of relayMessages) {
        if (!media!.send(batch, data)) {
          for (const id of batch) {
            const link = this.#viewers.get(id);
            if (link) link.needsKeyframe = true;
          }
          break;
        }
      }
    }
    for (let i = 0; i < onSocketIo.length; i += RELAY_MAX_TARGETS) {
      const batch = onSocketIo.slice(i, i + RELAY_MAX_TARGETS);
      const to = batch.length === 1 ? batch[0]! : batch;
      for (const data of relayMessages) {
        if (!this.#o.signalling.send('relay:frame', { to, data })) {
          // Lost the socket mid-update: these viewers need a fresh keyframe once it is back.
          for (const id of batch) {
            const link = this.#viewers.get(id);
            if (link) link.needsKeyframe = true;
          }
          break;
        }
      }
    }
  }
}
