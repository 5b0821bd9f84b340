import type { IceServer, MediaPath } from '@guruconnect/shared/protocol';
import { PROTOCOL_VERSION, RELAY_ACK_WINDOW_FRAMES } from '@guruconnect/shared/limits';
import type { RelayMode } from '../cli/args.ts';
import type { SignalKind } from '../connection/agent-connection.ts';
import type { Logger } from '../log/logger.ts';
import type { PeerLink, PeerLinkFactory, SignalPayload } from './peer-link.ts';
import type { StreamTarget } from './stream-loop.ts';

/**
 * Bytes allowed in flight on a viewer's `frames` channel before the viewer counts as congested and
 * is skipped. Far below Chrome's 16 MiB, where it closes a data channel whose send buffer is full;
 * one update (≤ FRAME_MAX_BYTES = 4 MiB) sent on top of this still stays well under it.
 */
export const FRAMES_HIGH_WATER_BYTES = 1024 * 1024;
/** An established P2P link whose ICE is `disconnected` this long is abandoned for the relay. */
export const ICE_DISCONNECT_GRACE_MS = 3000;

/** `negotiating`: P2P offer sent, not open yet; `down`: no path (P2P failed and the relay is disabled). */
export type LinkState = 'negotiating' | 'p2p' | 'relay' | 'down' | 'closed';

/** What a viewer link needs from the rest of the agent. */
export interface ViewerLinkPort {
  signal(viewerId: string, kind: SignalKind, payload: SignalPayload): void;
  reportPath(viewerId: string, path: MediaPath, reason: string): void;
  /** The relay (the agent's server socket) cannot take more now, or is down. */
  relayCongested(): boolean;
  /** Cap this viewer's relay credit window at the server (`relay:window`). */
  relayWindow(viewerId: string, frames: number): void;
  /** A JSON message arrived on this viewer's P2P `input` channel. */
  inputData(link: ViewerLink, data: unknown): void;
}

export interface ViewerLinkOptions {
  viewerId: string;
  control: boolean;
  relayMode: RelayMode;
  iceServers: IceServer[];
  iceTransportPolicy: 'all' | 'relay';
  iceTimeoutMs: number;
  disconnectGraceMs?: number;
  createPeer: PeerLinkFactory;
  port: ViewerLinkPort;
  log: Logger;
}

/**
 * One viewer's media path. Starts P2P (unless the relay is forced) and falls back to the relay
 * when ICE has not connected within `iceTimeoutMs`, fails, or stays disconnected longer than
 * `disconnectGraceMs`. The fallback is seamless for the viewer: same sockets, a keyframe on the new
 * path. With relay mode `never` the path goes `down` instead and says so in the log.
 */
export class ViewerLink implements StreamTarget {
  readonly id: string;
  control: boolean;
  needsKeyframe = true;
  behind = false;
  #state: LinkState = 'negotiating';
  /** Open until the server says otherwise; reset whenever the viewer (re)starts on the relay. */
  #relayCreditOpen = true;
  /** One update in flight at a time (`pull`). */
  #pull = false;
  #peer: PeerLink | null = null;
  #iceTimer: NodeJS.Timeout | null = null;
  #graceTimer: NodeJS.Timeout | null = null;
  readonly #o: ViewerLinkOptions;
  readonly #log: Logger;

  constructor(o: ViewerLinkOptions) {
    this.#o = o;
    this.id = o.viewerId;
    this.control = o.control;
    this.#log = o.log.child({ viewerId: o.viewerId });
  }

  get state(): LinkState {
    return this.#state;
  }

  get path(): MediaPath | null {
    return this.#state === 'p2p' || this.#state === 'relay' ? this.#state : null;
  }

  start(): void {
    if (this.#o.relayMode === 'force') this.#toRelay('forced');
    else this.#startP2P();
  }

  /** Restart P2P negotiation from scratch (e.g. signals may have been lost while the agent was offline). */
  restartP2P(): void {
    if (this.#state !== 'negotiating') return;
    this.#closePeer('restart');
    this.#startP2P();
  }

  ready(): boolean {
    return this.#state === 'p2p' || this.#state === 'relay';
  }

  congested(): boolean {
    if (this.#state === 'p2p') return (this.#peer?.framesBufferedBytes() ?? Infinity) > FRAMES_HIGH_WATER_BYTES;
    if (this.#state === 'relay') return !this.#relayCreditOpen || this.#o.port.relayCongested();
    return true;
  }

  /**
   * The server's credit for this viewer on the relay (`relay:credit`): while closed, frames sent
   * would only wait (or be dropped) at the server, so the viewer is skipped and caught up later.
   */
  relayCredit(open: boolean): void {
    if (this.#state === 'relay') this.#relayCreditOpen = open;
  }

  /**
   * One update in flight at a time, or the default window again: the stream loop found this
   * viewer's path too slow for full-size updates (`CatchUpScale`), where a second update in flight
   * would only wait behind the first. On the relay the server's credit window for it becomes 1
   * (`relay:window`), so its credit shuts until it acknowledged the update. (A P2P data channel
   * has no such window: SCTP's own buffers pace it.)
   */
  pull(on: boolean): void {
    if (this.#pull === on) return;
    this.#pull = on;
    if (this.#state === 'relay') this.#o.port.relayWindow(this.id, on ? 1 : RELAY_ACK_WINDOW_FRAMES);
  }

  /** Send one codec message on the P2P `frames` channel. */
  sendP2P(message: Uint8Array): void {
    this.#peer?.sendFrame(message);
  }

  /** Send a JSON control message on the P2P `input` channel (ignored on the relay). */
  sendJson(message: unknown): void {
    if (this.#state === 'p2p') this.#peer?.sendJson(message);
  }

  onSignal(kind: SignalKind, payload: SignalPayload): void {
    if (this.#state === 'negotiating' || this.#state === 'p2p') this.#peer?.signal(kind, payload);
  }

  /** The server re-announced this viewer after the agent reconnected. */
  reannounced(control: boolean): void {
    this.control = control;
    this.needsKeyframe = true;
    this.#relayCreditOpen = true; // a new server socket: its queue starts empty
    if (this.#state === 'relay' || this.#state === 'p2p') this.#o.port.reportPath(this.id, this.#state, 'agent_reconnected');
    if (this.#state === 'relay' && this.#pull) this.#o.port.relayWindow(this.id, 1);
    else if (this.#state === 'negotiating') this.restartP2P();
  }

  /** A delivery on P2P failed (the channel closed under us). */
  p2pBroken(reason: string): void {
    if (this.#state === 'p2p' || this.#state === 'negotiating') this.#fallBack(reason);
  }

  close(reason: string): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#clearTimers();
    this.#closePeer(reason);
    this.#log.info('viewer link closed', { reason });
  }

  #startP2P(): void {
    this.#state = 'negotiating';
    this.#log.info('p2p negotiating', { iceServers: this.#o.iceServers.length, iceTransportPolicy: this.#o.iceTransportPolicy, iceTimeoutMs: this.#o.iceTimeoutMs });
    const startedAt = Date.now();
    const peer = this.#o.createPeer({
      iceServers: this.#o.iceServers,
      iceTransportPolicy: this.#o.iceTransportPolicy,
      log: this.#log,
      handlers: {
        signal: (kind, payload) => this.#o.port.signal(this.id, kind, payload),
        open: () => {
          if (this.#peer !== peer || this.#state !== 'negotiating') return;
          this.#clearTimers();
          this.#state = 'p2p';
          this.needsKeyframe = true;
          this.#log.info('p2p connected', { ms: Date.now() - startedAt });
          peer.sendJson({ type: 'control:hello', protocol: PROTOCOL_VERSION, role: 'agent' });
          this.#o.port.reportPath(this.id, 'p2p', 'ice_connected');
        },
        message: (data) => {
          if (this.#peer === peer) this.#o.port.inputData(this, data);
        },
        iceState: (state) => {
          if (this.#peer !== peer) return;
          this.#log.debug('ice state', { state });
          if (state === 'disconnected' && this.#state === 'p2p' && !this.#graceTimer) {
            const graceMs = this.#o.disconnectGraceMs ?? ICE_DISCONNECT_GRACE_MS;
            this.#graceTimer = setTimeout(() => {
              this.#graceTimer = null;
              this.#fallBack('ice_disconnected');
            }, graceMs);
          } else if ((state === 'connected' || state === 'completed') && this.#graceTimer) {
            clearTimeout(this.#graceTimer);
            this.#graceTimer = null;
            this.#log.info('p2p recovered');
          }
        },
        failed: (reason) => {
          if (this.#peer === peer) this.#fallBack(reason);
        },
      },
    });
    this.#peer = peer;
    this.#iceTimer = setTimeout(() => {
      this.#iceTimer = null;
      if (this.#state === 'negotiating') this.#fallBack('ice_timeout');
    }, this.#o.iceTimeoutMs);
  }

  #fallBack(reason: string): void {
    if (this.#state === 'closed' || this.#state === 'relay' || this.#state === 'down') return;
    if (this.#o.relayMode === 'never') {
      this.#clearTimers();
      this.#closePeer(reason);
      this.#state = 'down';
      this.#log.error('p2p failed and the relay is disabled (--relay never): no media path to this viewer', { reason });
      return;
    }
    this.#toRelay(reason);
  }

  #toRelay(reason: string): void {
    this.#clearTimers();
    this.#closePeer(reason);
    this.#state = 'relay';
    this.#relayCreditOpen = true;
    this.needsKeyframe = true;
    if (reason === 'forced') this.#log.info('using the relay', { reason });
    else this.#log.warn('fell back to the relay', { reason });
    this.#o.port.reportPath(this.id, 'relay', reason);
    if (this.#pull) this.#o.port.relayWindow(this.id, 1);
  }

  #closePeer(reason: string): void {
    const peer = this.#peer;
    this.#peer = null;
    peer?.close(reason);
  }

  #clearTimers(): void {
    if (this.#iceTimer) clearTimeout(this.#iceTimer);
    if (this.#graceTimer) clearTimeout(this.#graceTimer);
    this.#iceTimer = this.#graceTimer = null;
  }
}
