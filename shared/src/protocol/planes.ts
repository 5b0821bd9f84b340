import { z } from 'zod';
import {
  AGENT_HOSTNAME_MAX_LENGTH,
  AGENT_ID_MAX_LENGTH,
  AGENT_NAME_MAX_LENGTH,
  AGENT_OS_MAX_LENGTH,
  CHAT_TEXT_MAX_BYTES,
  MACHINE_UID_MAX_LENGTH,
  PROTOCOL_VERSION,
  SDP_MAX_BYTES,
  SUPPORT_CODE_LENGTH,
  TOKEN_MAX_BYTES,
  INPUT_MAX_MESSAGE_BYTES,
  RELAY_ACK_WINDOW_FRAMES,
} from '../limits.ts';
import { ackSchema, permissionSchema, uuidSchema } from './common.ts';
import { inputMessageSchema } from './data-channel.ts';

const utf8Length = (s: string) => new TextEncoder().encode(s).length;
/** A string of at most `max` UTF-8 bytes. */
const maxBytes = (max: number) => z.string().refine((s) => s.length <= max && utf8Length(s) <= max, { message: `at most ${max} bytes` });
/**
 * Untrusted display text: no control or format characters and no markup (`<`, `>`), capped.
 * Still rendered escaped everywhere; refusing markup keeps it out of every log and export too.
 */
const displayText = (max: number) => z.string().trim().min(1).max(max).regex(/^[^\p{Cc}\p{Cf}<>]+$/u, 'no control characters or markup');

export const protocolParamSchema = z.literal(String(PROTOCOL_VERSION));
export const supportCodeSchema = z.string().regex(new RegExp(`^\\d{${SUPPORT_CODE_LENGTH}}$`));

/** Handshake query of `/ws/agent`. Exactly one of `support_code` and `api_key`. */
export const agentHandshakeQuerySchema = z
  .object({
    agent_id: z.string().min(1).max(AGENT_ID_MAX_LENGTH).regex(/^[A-Za-z0-9._-]+$/),
    name: displayText(AGENT_NAME_MAX_LENGTH),
    machine_uid: z.string().min(8).max(MACHINE_UID_MAX_LENGTH).regex(/^[A-Za-z0-9._:-]+$/).optional(),
    hostname: displayText(AGENT_HOSTNAME_MAX_LENGTH).optional(),
    os: displayText(AGENT_OS_MAX_LENGTH).optional(),
    version: z.string().max(32).regex(/^[0-9A-Za-z.+-]+$/).optional(),
    /** `browser` for the end-user share-screen page (view-only, no input injection). */
    kind: z.enum(['agent', 'browser']).default('agent'),
    protocol: z.string(),
    support_code: z.string().max(16).optional(),
    api_key: z.string().max(TOKEN_MAX_BYTES).optional(),
  })
  .refine((q) => (q.support_code === undefined) !== (q.api_key === undefined), { message: 'exactly one of support_code and api_key' });
export type AgentHandshakeQuery = z.infer<typeof agentHandshakeQuerySchema>;

/** Handshake query of `/ws/viewer`. */
export const viewerHandshakeQuerySchema = z.object({
  token: z.string().max(TOKEN_MAX_BYTES),
  session_id: uuidSchema,
  protocol: z.string(),
  /**
   * `1`: this viewer acknowledges every relayed frame (`relay:ack`), so its relay credit window
   * applies from the first frame. Without it the window starts at the viewer's first ack.
   */
  relay_acks: z.literal('1').optional(),
});
/** Handshake query of `/ws/console`. */
export const consoleHandshakeQuerySchema = z.object({ ticket: z.string().max(128), protocol: z.string() });

/** An ICE server as handed to RTCPeerConnection. */
export const iceServerSchema = z.object({
  urls: z.union([z.string(), z.array(z.string())]),
  username: z.string().optional(),
  credential: z.string().optional(),
});
export type IceServer = z.infer<typeof iceServerSchema>;

export const pathSchema = z.enum(['p2p', 'relay']);
export type MediaPath = z.infer<typeof pathSchema>;

const sdpSchema = z.object({ type: z.enum(['offer', 'answer', 'pranswer', 'rollback']), sdp: maxBytes(SDP_MAX_BYTES) });
const candidateSchema = z.object({
  candidate: maxBytes(2048),
  sdpMid: z.string().max(64).nullable().optional(),
  sdpMLineIndex: z.number().int().min(0).max(64).nullable().optional(),
});
/** Socket ids are opaque strings chosen by the server. */
const peerIdSchema = z.string().min(1).max(64);

// ---- agent plane -------------------------------------------------------------------------

/** server → agent right after connect. */
export const agentWelcomeSchema = z.object({
  sessionId: uuidSchema,
  machineId: uuidSchema,
  kind: z.enum(['support', 'unattended']),
  iceServers: z.array(iceServerSchema),
  relayPolicy: z.enum(['auto', 'force']),
  protocol: z.literal(PROTOCOL_VERSION),
});
/** server → agent: a viewer joined; `control` is what the agent must enforce on P2P too. */
export const viewerJoinedSchema = z.object({ viewerId: peerIdSchema, userId: uuidSchema, displayName: z.string(), control: z.boolean() });
/**
 * server → agent: a relay viewer's credit opened (it can take another frame) or closed (frames
 * sent now would wait at the server). The agent skips the viewer while closed and sends it one
 * catch-up delta when it opens (RELAY_ACK_WINDOW_FRAMES).
 */
export const relayCreditSchema = z.object({ viewerId: peerIdSchema, open: z.boolean() });
export const viewerLeftSchema = z.object({ viewerId: peerIdSchema });
/** agent → server → viewer. */
export const agentSignalSchema = z.object({ to: peerIdSchema, description: sdpSchema.optional(), candidate: candidateSchema.optional() });
/** viewer → server → agent (no `to`: a viewer talks only to its session's agent). */
export const viewerSignalSchema = z.object({ description: sdpSchema.optional(), candidate: candidateSchema.optional() });
/** What the receiver gets, `from` stamped by the server. */
export const signalDeliverySchema = z.object({ from: peerIdSchema, description: sdpSchema.optional(), candidate: candidateSchema.optional() });

export const chatSendSchema = z.object({ text: maxBytes(CHAT_TEXT_MAX_BYTES).pipe(z.string().min(1)) });
export const chatMessageSchema = z.object({
  sessionId: uuidSchema,
  from: z.object({ kind: z.enum(['technician', 'end_user']), name: z.string() }),
  text: z.string(),
  at: z.string(),
});
export type ChatMessage = z.infer<typeof chatMessageSchema>;

/** agent → server: which path it uses with a viewer. */
export const pathReportSchema = z.object({ viewerId: peerIdSchema, path: pathSchema, reason: z.string().max(64).optional() });

/** viewer → server → agent on the relay path. */
export const relayInputSchema = inputMessageSchema;
export const relayInputDeliverySchema = z.object({ from: peerIdSchema, input: inputMessageSchema });

export const okAckSchema = ackSchema(z.object({}).passthrough());

/**
 * agent → server: one codec message (a frame chunk or a cursor update, ≤ RELAY_CHUNK_MAX_BYTES)
 * for some viewers of the session. The server forwards the bytes as `relay:frame`.
 */
export const relayFrameSchema = z.object({
  to: z.union([peerIdSchema, z.array(peerIdSchema).min(1).max(64)]),
  data: z.instanceof(Uint8Array),
});

/**
 * agent → server: at most `frames` relayed frames in flight to this viewer of the session (the
 * server's credit window for it never exceeds this). 1 for a viewer on a path too slow for
 * full-size updates: on a byte-limited path a second frame in flight only waits behind the first
 * (one update per acknowledgement, VNC's pull model); `RELAY_ACK_WINDOW_FRAMES` is the default.
 */
export const relayWindowSchema = z.object({ viewerId: peerIdSchema, frames: z.number().int().min(1).max(RELAY_ACK_WINDOW_FRAMES) }).strict();

/** `relay:media-ticket` takes no parameters. */
export const mediaTicketRequestSchema = z.object({}).strict();

/** Events the agent sends (name → payload schema). */
export const agentClientEvents = {
  'relay:frame': relayFrameSchema,
  /** A single-use ticket for the media plane (ack: `mediaTicketSchema`; see media-plane.ts). */
  'relay:media-ticket': mediaTicketRequestSchema,
  'relay:window': relayWindowSchema,
  'signal:answer': agentSignalSchema,
  'signal:offer': agentSignalSchema,
  'signal:candidate': agentSignalSchema,
  'chat:send': chatSendSchema,
  'path:report': pathReportSchema,
} as const;

/** Events a viewer sends. */
export const viewerClientEvents = {
  'signal:offer': viewerSignalSchema,
  'signal:answer': viewerSignalSchema,
  'signal:candidate': viewerSignalSchema,
  'chat:send': chatSendSchema,
  'relay:input': relayInputSchema,
  'keyframe:request': z.object({}).passthrough(),
  /** A relayed frame was received and decoded (flow control; see RELAY_ACK_WINDOW_FRAMES). */
  'relay:ack': z.object({ frameId: z.number().int().min(0).max(0xffff_ffff) }).strict(),
  /** A single-use ticket for the media plane (ack: `mediaTicketSchema`; see media-plane.ts). */
  'relay:media-ticket': mediaTicketRequestSchema,
} as const;

/** Events a console sends (none besides acks today). */
export const consoleClientEvents = {
  'console:ping': z.object({}).passthrough(),
} as const;

/** server → viewer right after connect. */
export const viewerWelcomeSchema = z.object({
  sessionId: uuidSchema,
  viewerId: peerIdSchema,
  control: z.boolean(),
  agentOnline: z.boolean(),
  iceServers: z.array(iceServerSchema),
  relayPolicy: z.enum(['auto', 'force']),
  protocol: z.literal(PROTOCOL_VERSION),
});

export const sessionUpdateSchema = z.object({
  id: uuidSchema,
  machineId: uuidSchema.nullable(),
  kind: z.enum(['support', 'unattended']),
  status: z.enum(['online', 'offline', 'ended', 'removed']),
  path: pathSchema.nullable(),
  viewers: z.array(z.object({ userId: uuidSchema, displayName: z.string(), control: z.boolean() })),
});
export const machineStatusSchema = z.object({ machineId: uuidSchema, online: z.boolean(), name: z.string(), lastSeenAt: z.string().nullable() });
export const consoleWelcomeSchema = z.object({ userId: uuidSchema, permissions: z.array(permissionSchema) });

/** Input messages on the relay path are capped like P2P input. */
export const RELAY_INPUT_MAX_BYTES = INPUT_MAX_MESSAGE_BYTES;
