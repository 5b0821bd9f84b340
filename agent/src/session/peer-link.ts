import wrtc from '@roamhq/wrtc';
import SimplePeer from 'simple-peer';
import { DATA_CHANNEL_LABELS, type IceServer } from '@guruconnect/shared/protocol';
import type { Logger } from '../log/logger.ts';
import type { SignalKind } from '../connection/agent-connection.ts';

/** The part of an RTCDataChannel the agent uses (the wrtc typings resolve to `any` without the DOM lib). */
export interface DataChannelLike {
  readonly label: string;
  readonly readyState: 'connecting' | 'open' | 'closing' | 'closed';
  readonly bufferedAmount: number;
  binaryType: string;
  onopen: (() => void) | null;
  onclose: (() => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  send(data: string | Uint8Array): void;
  close(): void;
}

interface PeerConnectionLike {
  createDataChannel(label: string, init: { ordered: boolean }): DataChannelLike;
  readonly iceConnectionState: string;
}

/** Signalling payload as it travels in `signal:*` (`description` for offer/answer, `candidate` for candidates). */
export interface SignalPayload {
  description?: { type: 'offer' | 'answer' | 'pranswer' | 'rollback'; sdp: string } | undefined;
  candidate?: { candidate: string; sdpMid?: string | null | undefined; sdpMLineIndex?: number | null | undefined } | undefined;
}

export interface PeerLinkHandlers {
  /** Local signalling to forward to the viewer. */
  signal(kind: SignalKind, payload: SignalPayload): void;
  /** Both data channels are open. */
  open(): void;
  /** A message on the `input` channel, as received (string, or binary which is refused upstream). */
  message(data: unknown): void;
  /** ICE connection state changes (`disconnected` may recover; the caller decides how long to wait). */
  iceState(state: string): void;
  /** The link is gone for good (ICE failed, channel closed, peer error). Called at most once, never after `close`. */
  failed(reason: string): void;
}

/** One viewer's WebRTC link: the `frames` and `input` data channels over one peer connection. */
export interface PeerLink {
  signal(kind: SignalKind, payload: SignalPayload): void;
  /** Sends one binary codec message on `frames`. */
  sendFrame(message: Uint8Array): void;
  /** Sends one JSON message on `input`. */
  sendJson(message: unknown): void;
  /** Bytes queued on `frames` and not yet sent. */
  framesBufferedBytes(): number;
  readonly isOpen: boolean;
  close(reason: string): void;
}

export interface PeerLinkOptions {
  iceServers: IceServer[];
  iceTransportPolicy: 'all' | 'relay';
  handlers: PeerLinkHandlers;
  log: Logger;
}

export type PeerLinkFactory = (o: PeerLinkOptions) => PeerLink;

/**
 * The agent side (initiator) of a viewer's peer connection. simple-peer owns the connection,
 * the offer/answer exchange, trickle ICE and the `frames` channel it creates. It supports one data
 * channel only, so the `input` channel is created on its RTCPeerConnection (`peer._pc`) right after
 * construction, before simple-peer's first negotiation runs (it is batched to a microtask), so both
 * channels ride in the first offer's SCTP association and the viewer receives two `datachannel`
 * events told apart by label. Separate channels keep input from waiting behind frame chunks
 * (SCTP delivers each ordered channel independently).
 */
export const createPeerLink: PeerLinkFactory = (o) => {
  const { handlers, log } = o;
  let closed = false;
  let failedOnce = false;
  let framesOpen = false;
  let inputOpen = false;
  let openReported = false;

  const peer = new SimplePeer({
    initiator: true,
    wrtc,
    trickle: true,
    channelName: DATA_CHANNEL_LABELS.frames,
    channelConfig: { ordered: true },
    config: { iceServers: o.iceServers, iceTransportPolicy: o.iceTransportPolicy },
  });
  const pc = (peer as unknown as { _pc: PeerConnectionLike })._pc;
  const input = pc.createDataChannel(DATA_CHANNEL_LABELS.input, { ordered: true });
  input.binaryType = 'arraybuffer';

  const fail = (reason: string) => {
    if (closed || failedOnce) return;
    failedOnce = true;
    handlers.failed(reason);
  };
  const maybeOpen = () => {
    if (!openReported && framesOpen && inputOpen && !closed) {
      openReported = true;
      handlers.open();
    }
  };

  peer.on('signal', (data: { type?: string; sdp?: string; candidate?: SignalPayload['candidate'] }) => {
    if (closed) return;
    if ((data.type === 'offer' || data.type === 'answer') && typeof data.sdp === 'string') {
      handlers.signal(data.type, { description: { type: data.type, sdp: data.sdp } });
    } else if (data.candidate) {
      const c = data.candidate;
      handlers.signal('candidate', { candidate: { candidate: c.candidate, sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null } });
    }
    // `renegotiate` / `transceiverRequest` never happen: the agent adds no tracks.
  });
  peer.on('connect', () => {
    framesOpen = true;
    maybeOpen();
  });
  // Viewers never send on `frames`; keep the stream flowing so nothing they send piles up.
  peer.on('data', () => {});
  peer.on('iceStateChange', (state: string) => {
    if (!closed) handlers.iceState(state);
  });
  peer.on('error', (err: Error & { code?: string }) => {
    log.debug('peer error', { err: err.message, errCode: err.code });
    fail(err.code ?? 'peer_error');
  });
  peer.on('close', () => fail('peer_closed'));

  input.onopen = () => {
    inputOpen = true;
    maybeOpen();
  };
  input.onclose = () => fail('input_channel_closed');
  input.onmessage = (ev) => {
    if (!closed) handlers.message(ev.data);
  };

  return {
    signal(kind, payload) {
      if (closed) return;
      try {
        if (kind === 'candidate' && payload.candidate) peer.signal({ candidate: payload.candidate } as never);
        else if (kind !== 'candidate' && payload.description) peer.signal(payload.description as never);
      } catch (err) {
        log.debug('bad signal from viewer', { err: (err as Error).message });
      }
    },
    sendFrame(message) {
      peer.send(message);
    },
    sendJson(message) {
      if (input.readyState === 'open') input.send(JSON.stringify(message));
    },
    framesBufferedBytes: () => peer.bufferSize,
    get isOpen() {
      return openReported && !closed && !failedOnce && peer.connected && input.readyState === 'open';
    },
    close(reason) {
      if (closed) return;
      closed = true;
      log.debug('peer closing', { reason });
      input.onopen = input.onclose = input.onmessage = input.onerror = null;
      peer.removeAllListeners();
      // simple-peer may emit 'error' while tearing down; nobody listens any more.
      peer.on('error', () => {});
      try {
        input.close();
      } catch {
        // already closed
      }
      peer.destroy();
    },
  };
};
