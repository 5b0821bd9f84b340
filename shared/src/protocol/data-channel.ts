import { z } from 'zod';
import type { ErrorCode } from '../errors/index.ts';
import {
  INPUT_KEY_CODE_MAX_LENGTH,
  INPUT_MAX_MESSAGE_BYTES,
  INPUT_TEXT_MAX_LENGTH,
  INPUT_WHEEL_MAX_DELTA_PX,
  PROTOCOL_VERSION,
  SCREEN_MAX_SIDE_PX,
} from '../limits.ts';

/**
 * Labels of the WebRTC data channels, both reliable and ordered. `frames` carries binary codec
 * messages only (`@guruconnect/shared/codec`); `input` carries the JSON messages below (input
 * events and control messages), so input never waits behind frame chunks. The relay path carries
 * the same two kinds of payload over the server.
 */
export const DATA_CHANNEL_LABELS = { frames: 'frames', input: 'input' } as const;

/** A screen coordinate in pixels of the remote screen: integer in 0..`SCREEN_MAX_SIDE_PX` − 1. */
const screenCoordinateSchema = z.number().int().min(0).max(SCREEN_MAX_SIDE_PX - 1);
/** Sender's clock when the message was sent, in ms (for latency measurement only; never trusted). */
const senderTimestampMsSchema = z.number().nonnegative();
/** A wheel delta in pixels, integer in ±`INPUT_WHEEL_MAX_DELTA_PX` (the viewer normalises lines/pages). */
const wheelDeltaSchema = z.number().int().min(-INPUT_WHEEL_MAX_DELTA_PX).max(INPUT_WHEEL_MAX_DELTA_PX);

/** Mouse buttons a viewer can press. */
export const POINTER_BUTTONS = ['left', 'middle', 'right', 'back', 'forward'] as const;
/** Key combinations a browser cannot send itself (the OS or browser would swallow them). */
export const KEY_COMBOS = ['ctrl-alt-del', 'alt-tab', 'win', 'ctrl-esc', 'alt-f4', 'print-screen'] as const;

/** `pointer:move` — the pointer moved to (`x`, `y`) in remote screen pixels. */
export const pointerMoveSchema = z.strictObject({
  type: z.literal('pointer:move'),
  x: screenCoordinateSchema,
  y: screenCoordinateSchema,
  t: senderTimestampMsSchema,
});

/** `pointer:button` — a button went down or up at (`x`, `y`). */
export const pointerButtonSchema = z.strictObject({
  type: z.literal('pointer:button'),
  button: z.enum(POINTER_BUTTONS),
  down: z.boolean(),
  x: screenCoordinateSchema,
  y: screenCoordinateSchema,
  t: senderTimestampMsSchema,
});

/** `pointer:wheel` — the wheel scrolled by (`dx`, `dy`) pixels with the pointer at (`x`, `y`). */
export const pointerWheelSchema = z.strictObject({
  type: z.literal('pointer:wheel'),
  dx: wheelDeltaSchema,
  dy: wheelDeltaSchema,
  x: screenCoordinateSchema,
  y: screenCoordinateSchema,
  t: senderTimestampMsSchema,
});

/** `key` — a physical key (`KeyboardEvent.code`, e.g. `KeyA`, `ShiftLeft`) went down or up. */
export const keySchema = z.strictObject({
  type: z.literal('key'),
  code: z
    .string()
    .max(INPUT_KEY_CODE_MAX_LENGTH)
    .regex(/^[A-Za-z0-9]+$/),
  down: z.boolean(),
  t: senderTimestampMsSchema,
});

/** `keys:combo` — press and release one of `KEY_COMBOS` on the remote side. */
export const keysComboSchema = z.strictObject({
  type: z.literal('keys:combo'),
  combo: z.enum(KEY_COMBOS),
  t: senderTimestampMsSchema,
});

/** `text` — type this text (paste, IME); 1..`INPUT_TEXT_MAX_LENGTH` UTF-16 code units. */
export const textSchema = z.strictObject({
  type: z.literal('text'),
  text: z.string().min(1).max(INPUT_TEXT_MAX_LENGTH),
  t: senderTimestampMsSchema,
});

/** Any input event, viewer → agent. Discriminated on `type`. */
export const inputMessageSchema = z.discriminatedUnion('type', [
  pointerMoveSchema,
  pointerButtonSchema,
  pointerWheelSchema,
  keySchema,
  keysComboSchema,
  textSchema,
]);
/** An input event, viewer → agent. */
export type InputMessage = z.infer<typeof inputMessageSchema>;

/** `control:keyframe-request` — viewer asks the agent for a keyframe (after a lost or refused frame). */
export const keyframeRequestSchema = z.strictObject({ type: z.literal('control:keyframe-request') });
/** `control:ping` — either side; the other answers `control:pong` echoing `t` (its sender's clock, ms). */
export const pingSchema = z.strictObject({ type: z.literal('control:ping'), t: senderTimestampMsSchema });
/** `control:pong` — answer to `control:ping`, `t` copied from the ping. */
export const pongSchema = z.strictObject({ type: z.literal('control:pong'), t: senderTimestampMsSchema });
/** `control:hello` — first message on the channel from each side; `protocol` must equal `PROTOCOL_VERSION`. */
export const helloSchema = z.strictObject({
  type: z.literal('control:hello'),
  protocol: z.literal(PROTOCOL_VERSION),
  role: z.enum(['agent', 'viewer']),
});

/** Any control message. Discriminated on `type`. */
export const controlMessageSchema = z.discriminatedUnion('type', [keyframeRequestSchema, pingSchema, pongSchema, helloSchema]);
/** A control message (either direction). */
export type ControlMessage = z.infer<typeof controlMessageSchema>;

/** Every JSON message on the `input` data channel and its relay equivalent. */
export const dataChannelMessageSchema = z.discriminatedUnion('type', [inputMessageSchema, controlMessageSchema]);
/** Any JSON message on the `input` channel or its relay equivalent. */
export type DataChannelMessage = z.infer<typeof dataChannelMessageSchema>;

/** Why `parseDataChannelMessage` refused a message. */
export type DataChannelErrorCode = Extract<
  ErrorCode,
  'ERR_PROTOCOL_MESSAGE_TOO_LARGE' | 'ERR_PROTOCOL_INVALID_MESSAGE' | 'ERR_PROTOCOL_VERSION'
>;

/** Result of `parseDataChannelMessage`. */
export type DataChannelParseResult = { ok: true; data: DataChannelMessage } | { ok: false; code: DataChannelErrorCode };

/** Recognises a hello whose only fault may be its protocol version. */
const helloVersionProbeSchema = z.object({ type: z.literal('control:hello'), protocol: z.number() });

const utf8 = new TextEncoder();

/** True when `text` is longer than `maxBytes` in UTF-8; encodes only when the UTF-16 length cannot decide. */
function exceedsUtf8Bytes(text: string, maxBytes: number): boolean {
  // Each UTF-16 code unit encodes to 1..3 UTF-8 bytes.
  if (text.length > maxBytes) return true;
  if (text.length * 3 <= maxBytes) return false;
  return utf8.encode(text).length > maxBytes;
}

/**
 * Validates one JSON text message from the `input` data channel or the relay before any handler
 * sees it: refuses more than `INPUT_MAX_MESSAGE_BYTES` UTF-8 bytes before parsing
 * (`ERR_PROTOCOL_MESSAGE_TOO_LARGE`), then malformed JSON or anything the schema refuses
 * (`ERR_PROTOCOL_INVALID_MESSAGE`). A `control:hello` with another protocol version is
 * `ERR_PROTOCOL_VERSION`, so the peer can say which side needs updating. Never throws.
 */
export function parseDataChannelMessage(text: string): DataChannelParseResult {
  if (typeof text !== 'string') return { ok: false, code: 'ERR_PROTOCOL_INVALID_MESSAGE' };
  if (exceedsUtf8Bytes(text, INPUT_MAX_MESSAGE_BYTES)) return { ok: false, code: 'ERR_PROTOCOL_MESSAGE_TOO_LARGE' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, code: 'ERR_PROTOCOL_INVALID_MESSAGE' };
  }
  const parsed = dataChannelMessageSchema.safeParse(value);
  if (parsed.success) return { ok: true, data: parsed.data };
  const hello = helloVersionProbeSchema.safeParse(value);
  if (hello.success && hello.data.protocol !== PROTOCOL_VERSION) return { ok: false, code: 'ERR_PROTOCOL_VERSION' };
  return { ok: false, code: 'ERR_PROTOCOL_INVALID_MESSAGE' };
}
