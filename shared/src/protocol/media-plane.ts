import { z } from 'zod';
import { MEDIA_MAX_TARGETS, RELAY_CHUNK_MAX_BYTES } from '../limits.ts';

/**
 * The media plane (`MEDIA_PLANE_PATH`): a plain WebSocket per agent or viewer that carries relayed
 * frames without socket.io, served by the server's relay process (a small heap, so relaying costs
 * no garbage collection of the main process). A client gets a single-use ticket on its socket.io
 * connection (`relay:media-ticket`) and opens `/ws/media?ticket=…`; the socket is bound to that
 * socket.io connection and closes with it.
 *
 * - agent → server, binary: an envelope (`encodeMediaEnvelope`) addressing viewers of its session;
 * - server → viewer, binary: the relayed codec message, exactly as `relay:frame` carries it;
 * - server → agent, text: `mediaAgentNoticeSchema` (which viewers the relay process can reach, and
 *   their relay credit);
 * - viewer → server, text: `mediaViewerMessageSchema`, the ack of a frame that came on this socket
 *   (acks of frames that came as `relay:frame` go on socket.io, as before); input and keyframe
 *   requests stay on socket.io.
 */

/** Ack of `relay:media-ticket`. */
export const mediaTicketSchema = z.object({ ticket: z.string().regex(/^gcm_[A-Za-z0-9_-]{43}$/), path: z.string() });
export type MediaTicket = z.infer<typeof mediaTicketSchema>;

/**
 * server → agent on the media plane:
 * - `viewers`: these viewers of the session now have (`on`) or no longer have (`off`) a media
 *   socket on the same relay process, so frames for them may go on the media plane. Every other
 *   viewer stays on `relay:frame`. Switching a viewer either way needs a keyframe.
 * - `credit`: a media viewer's relay credit opened or closed (as `relay:credit` on socket.io, but
 *   straight from the relay process that holds its queue).
 */
export const mediaAgentNoticeSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('viewers'), on: z.array(z.string().min(1).max(64)).max(1024), off: z.array(z.string().min(1).max(64)).max(1024) }).strict(),
  z.object({ type: z.literal('credit'), viewerId: z.string().min(1).max(64), open: z.boolean() }).strict(),
]);
export type MediaAgentNotice = z.infer<typeof mediaAgentNoticeSchema>;

/**
 * viewer → server on the media plane: frame `frameId`, which arrived on this socket, is done with
 * (as `relay:ack`, one hop shorter: straight to the relay process that holds the viewer's queue).
 */
export const mediaViewerMessageSchema = z.object({ type: z.literal('ack'), frameId: z.number().int().min(0).max(0xffff_ffff) }).strict();
/** Largest text message a viewer may send on the media plane. */
export const MEDIA_VIEWER_MAX_MESSAGE_BYTES = 256;

/** Close codes of media sockets (4000–4999 are the application's). */
export const MEDIA_CLOSE = {
  /** The socket.io connection the ticket was bound to is gone (left, revoked, disconnected). */
  detached: 4001,
  /** A message that is not a valid envelope (agent) or a valid ack (viewer). */
  invalid: 4002,
  /** The relay process is stopping. */
  stopping: 4003,
  /** A newer media socket of the same socket.io connection replaced this one. */
  replaced: 4004,
} as const;

const ENVELOPE_VERSION = 1;

/**
 * agent → server: `[1][n][len₁ id₁ … lenₙ idₙ][payload]` — version byte, target count
 * (1..MEDIA_MAX_TARGETS), each viewer id as a length byte (1..64) and ASCII, then one codec
 * message (≤ RELAY_CHUNK_MAX_BYTES).
 */
export function encodeMediaEnvelope(to: readonly string[], payload: Uint8Array): Uint8Array {
  if (to.length < 1 || to.length > MEDIA_MAX_TARGETS) throw new RangeError('1..MEDIA_MAX_TARGETS targets');
  let head = 2;
  for (const id of to) {
    if (id.length < 1 || id.length > 64 || !/^[\x21-\x7e]+$/.test(id)) throw new RangeError('viewer ids are 1..64 printable ASCII characters');
    head += 1 + id.length;
  }
  const out = new Uint8Array(head + payload.length);
  out[0] = ENVELOPE_VERSION;
  out[1] = to.length;
  let at = 2;
  for (const id of to) {
    out[at++] = id.length;
    for (let i = 0; i < id.length; i++) out[at++] = id.charCodeAt(i);
  }
  out.set(payload, at);
  return out;
}

export type MediaEnvelope = { ok: true; to: string[]; payload: Uint8Array } | { ok: false; reason: 'too_large' | 'malformed' };

/** Parse an agent envelope; the payload is a view into `data` (no copy). */
export function decodeMediaEnvelope(data: Uint8Array): MediaEnvelope {
  if (data.length < 3 || data[0] !== ENVELOPE_VERSION) return { ok: false, reason: 'malformed' };
  const n = data[1]!;
  if (n < 1 || n > MEDIA_MAX_TARGETS) return { ok: false, reason: 'malformed' };
  const to: string[] = [];
  let at = 2;
  for (let k = 0; k < n; k++) {
    const len = data[at];
    if (len === undefined || len < 1 || len > 64 || at + 1 + len > data.length) return { ok: false, reason: 'malformed' };
    let id = '';
    for (let i = at + 1; i < at + 1 + len; i++) {
      const c = data[i]!;
      if (c < 0x21 || c > 0x7e) return { ok: false, reason: 'malformed' };
      id += String.fromCharCode(c);
    }
    to.push(id);
    at += 1 + len;
  }
  const payload = data.subarray(at);
  if (payload.length === 0) return { ok: false, reason: 'malformed' };
  if (payload.length > RELAY_CHUNK_MAX_BYTES) return { ok: false, reason: 'too_large' };
  return { ok: true, to, payload };
}
