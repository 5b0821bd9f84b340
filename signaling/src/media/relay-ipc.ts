/**
 * Messages between the signaling process and its relay process (`relay-process.ts`) over the
 * child-process IPC channel. Both ends are this server; the child still checks what it gets.
 */

export type MediaRole = 'agent' | 'viewer';

/** What a media ticket was issued for: one socket.io connection. */
export interface MediaBinding {
  role: MediaRole;
  /** The socket.io socket id (the viewer id for viewers). */
  socketId: string;
  sessionId: string;
  /** viewer: it acknowledges every relayed frame (credit from the first frame). */
  relayAcks: boolean;
}

export type ToRelay =
  /** Sent with the TCP socket: finish the WebSocket handshake (`head`: bytes already read, base64). */
  | { type: 'attach'; binding: MediaBinding; method: string; headers: Record<string, string | string[] | undefined>; head: string }
  /** The socket.io connection is gone: close its media socket. */
  | { type: 'detach'; socketId: string }
  | { type: 'ack'; viewerId: string; frameId: number }
  | { type: 'window'; viewerId: string; frames: number };

export type FromRelay =
  | { type: 'ready'; execArgv: string[] }
  | { type: 'attached'; role: MediaRole; socketId: string }
  | { type: 'closed'; role: MediaRole; socketId: string }
  | { type: 'credit'; viewerId: string; open: boolean }
  | { type: 'keyframe'; viewerId: string }
  /** A media socket broke the protocol (audited by the parent). `closed`: the socket was closed for it. */
  | { type: 'refused'; role: MediaRole; socketId: string; code: 'ERR_PROTOCOL_MESSAGE_TOO_LARGE' | 'ERR_PROTOCOL_INVALID_MESSAGE' | 'ERR_SIGNAL_NOT_ALLOWED'; bytes: number; closed: boolean }
  /** Since the last report. */
  | { type: 'stats'; bytesForwarded: number; framesDropped: number; queuedBytes: number };

/** Settings the parent passes as the child's first argument (JSON). */
export interface RelayProcessOptions {
  maxQueueBytes: number;
  highWaterBytes: number;
  statsIntervalMs: number;
}
