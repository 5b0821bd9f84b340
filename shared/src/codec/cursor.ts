import { CURSOR_MAX_MESSAGE_BYTES, CURSOR_MAX_SIDE_PX, SCREEN_MAX_SIDE_PX } from '../limits.ts';
import {
  CODEC_BY_BYTE,
  CODEC_BYTE,
  CURSOR_CODECS,
  CURSOR_FLAG_HAS_SHAPE,
  CURSOR_FLAG_VISIBLE,
  CURSOR_FLAGS_KNOWN,
  CURSOR_HEADER_BYTES,
  CURSOR_OFFSET,
  CURSOR_SHAPE_HEADER_BYTES,
  CURSOR_SHAPE_OFFSET,
  LITTLE_ENDIAN,
  type CursorCodec,
} from './constants.ts';
import { assertIntInRange, CodecError } from './errors.ts';
import { assertPixelDataLength } from './frame.ts';
import { openMessage, writePrefix } from './message.ts';

/**
 * A pointer image. Sides are 1..`CURSOR_MAX_SIDE_PX` pixels; the hotspot (`hotX`, `hotY`) is the
 * pixel that sits on the pointer position, so `hotX < width` and `hotY < height`. `raw` data is
 * exactly `width × height × 4` bytes (RGBA8, row-major); `png` data is non-empty.
 */
export interface CursorShape {
  readonly width: number;
  readonly height: number;
  readonly hotX: number;
  readonly hotY: number;
  readonly codec: CursorCodec;
  readonly data: Uint8Array;
}

/**
 * A pointer update: position in screen pixels (0..`SCREEN_MAX_SIDE_PX` − 1), whether the pointer
 * is drawn, and, when it changed, its new shape. The encoded message is at most
 * `CURSOR_MAX_MESSAGE_BYTES`, so it always travels unchunked; a large raw shape must be sent as png.
 */
export interface CursorUpdate {
  readonly x: number;
  readonly y: number;
  readonly visible: boolean;
  readonly shape?: CursorShape | undefined;
}

function isCursorCodec(codec: string): codec is CursorCodec {
  return (CURSOR_CODECS as readonly string[]).includes(codec);
}

function assertShapeGeometry(width: number, height: number, hotX: number, hotY: number): void {
  assertIntInRange(width, 1, CURSOR_MAX_SIDE_PX, 'invalidCursor', 'shape.width');
  assertIntInRange(height, 1, CURSOR_MAX_SIDE_PX, 'invalidCursor', 'shape.height');
  assertIntInRange(hotX, 0, width - 1, 'invalidCursor', 'shape.hotX');
  assertIntInRange(hotY, 0, height - 1, 'invalidCursor', 'shape.hotY');
}

function assertPosition(x: number, y: number): void {
  assertIntInRange(x, 0, SCREEN_MAX_SIDE_PX - 1, 'invalidCursor', 'cursor x');
  assertIntInRange(y, 0, SCREEN_MAX_SIDE_PX - 1, 'invalidCursor', 'cursor y');
}

/**
 * Encodes a cursor update into one freshly allocated buffer (layout: `CURSOR_OFFSET`, then
 * `CURSOR_SHAPE_OFFSET` when a shape is present).
 *
 * @throws CodecError `invalidCursor`, `invalidCodec`, `lengthMismatch`, `overCap`.
 */
export function encodeCursor(cursor: CursorUpdate): Uint8Array {
  assertPosition(cursor.x, cursor.y);
  const { shape } = cursor;
  if (shape !== undefined) {
    assertShapeGeometry(shape.width, shape.height, shape.hotX, shape.hotY);
    if (!isCursorCodec(shape.codec)) throw new CodecError('invalidCodec', 'cursor codec must be raw or png');
    assertPixelDataLength(shape.codec, shape.width, shape.height, shape.data.length);
  }
  const length = CURSOR_HEADER_BYTES + (shape === undefined ? 0 : CURSOR_SHAPE_HEADER_BYTES + shape.data.length);
  if (length > CURSOR_MAX_MESSAGE_BYTES) throw new CodecError('overCap', 'cursor exceeds CURSOR_MAX_MESSAGE_BYTES');

  const bytes = new Uint8Array(length);
  const view = new DataView(bytes.buffer);
  writePrefix(view, 'cursor');
  const flags = (cursor.visible ? CURSOR_FLAG_VISIBLE : 0) | (shape === undefined ? 0 : CURSOR_FLAG_HAS_SHAPE);
  view.setUint8(CURSOR_OFFSET.flags, flags);
  view.setUint16(CURSOR_OFFSET.x, cursor.x, LITTLE_ENDIAN);
  view.setUint16(CURSOR_OFFSET.y, cursor.y, LITTLE_ENDIAN);
  if (shape !== undefined) {
    const at = CURSOR_HEADER_BYTES;
    view.setUint16(at + CURSOR_SHAPE_OFFSET.width, shape.width, LITTLE_ENDIAN);
    view.setUint16(at + CURSOR_SHAPE_OFFSET.height, shape.height, LITTLE_ENDIAN);
    view.setUint16(at + CURSOR_SHAPE_OFFSET.hotX, shape.hotX, LITTLE_ENDIAN);
    view.setUint16(at + CURSOR_SHAPE_OFFSET.hotY, shape.hotY, LITTLE_ENDIAN);
    view.setUint8(at + CURSOR_SHAPE_OFFSET.codec, CODEC_BYTE[shape.codec]);
    view.setUint32(at + CURSOR_SHAPE_OFFSET.dataLength, shape.data.length, LITTLE_ENDIAN);
    bytes.set(shape.data, at + CURSOR_SHAPE_HEADER_BYTES);
  }
  return bytes;
}

/**
 * Decodes and validates a cursor message. `shape.data` is a `subarray` view into `bytes`
 * (zero-copy). `shape` is absent when the message carries none (keep the current image).
 *
 * @throws CodecError `tooShort`, `unsupportedVersion`, `unknownType`, `overCap`, `invalidHeader`,
 * `invalidCursor`, `invalidCodec`, `lengthMismatch`.
 */
export function decodeCursor(bytes: Uint8Array): CursorUpdate {
  const view = openMessage(bytes, 'cursor');
  if (bytes.length > CURSOR_MAX_MESSAGE_BYTES) throw new CodecError('overCap', 'cursor exceeds CURSOR_MAX_MESSAGE_BYTES');
  if (bytes.length < CURSOR_HEADER_BYTES) throw new CodecError('tooShort', 'cursor shorter than its header');
  const flags = view.getUint8(CURSOR_OFFSET.flags);
  if ((flags & ~CURSOR_FLAGS_KNOWN) !== 0) throw new CodecError('invalidHeader', 'reserved cursor flag set');
  const x = view.getUint16(CURSOR_OFFSET.x, LITTLE_ENDIAN);
  const y = view.getUint16(CURSOR_OFFSET.y, LITTLE_ENDIAN);
  assertPosition(x, y);
  const visible = (flags & CURSOR_FLAG_VISIBLE) !== 0;

  if ((flags & CURSOR_FLAG_HAS_SHAPE) === 0) {
    if (bytes.length !== CURSOR_HEADER_BYTES) throw new CodecError('lengthMismatch', 'bytes after a shapeless cursor');
    return { x, y, visible };
  }
  const at = CURSOR_HEADER_BYTES;
  if (bytes.length - at < CURSOR_SHAPE_HEADER_BYTES) throw new CodecError('tooShort', 'truncated cursor shape header');
  const width = view.getUint16(at + CURSOR_SHAPE_OFFSET.width, LITTLE_ENDIAN);
  const height = view.getUint16(at + CURSOR_SHAPE_OFFSET.height, LITTLE_ENDIAN);
  const hotX = view.getUint16(at + CURSOR_SHAPE_OFFSET.hotX, LITTLE_ENDIAN);
  const hotY = view.getUint16(at + CURSOR_SHAPE_OFFSET.hotY, LITTLE_ENDIAN);
  const codec = CODEC_BY_BYTE[view.getUint8(at + CURSOR_SHAPE_OFFSET.codec)];
  const dataLength = view.getUint32(at + CURSOR_SHAPE_OFFSET.dataLength, LITTLE_ENDIAN);
  assertShapeGeometry(width, height, hotX, hotY);
  if (codec === undefined || !isCursorCodec(codec)) throw new CodecError('invalidCodec', 'cursor codec must be raw or png');
  assertPixelDataLength(codec, width, height, dataLength);
  const dataStart = at + CURSOR_SHAPE_HEADER_BYTES;
  const remaining = bytes.length - dataStart;
  if (dataLength > remaining) throw new CodecError('tooShort', 'truncated cursor shape data');
  if (dataLength < remaining) throw new CodecError('lengthMismatch', 'bytes after the cursor shape');
  return { x, y, visible, shape: { width, height, hotX, hotY, codec, data: bytes.subarray(dataStart) } };
}
