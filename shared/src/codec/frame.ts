import { FRAME_MAX_BYTES, FRAME_MAX_RECTS, SCREEN_MAX_SIDE_PX } from '../limits.ts';
import {
  CODEC_BY_BYTE,
  CODEC_BYTE,
  FRAME_FLAG_KEYFRAME,
  FRAME_FLAGS_KNOWN,
  FRAME_HEADER_BYTES,
  FRAME_OFFSET,
  LITTLE_ENDIAN,
  RAW_BYTES_PER_PIXEL,
  RECT_HEADER_BYTES,
  RECT_OFFSET,
  U32_MAX,
  type CursorCodec,
  type RectCodec,
} from './constants.ts';
import { assertIntInRange, CodecError } from './errors.ts';
import { openMessage, writePrefix } from './message.ts';

/**
 * One updated rectangle of the screen, in screen pixels. Invariants: `width`, `height` ≥ 1;
 * the rect lies wholly inside the screen (`x + width ≤ screenWidth`, `y + height ≤ screenHeight`);
 * `raw` data is exactly `width × height × 4` bytes (RGBA8, row-major); `jpeg`/`png` data is non-empty.
 * A `jpeg`/`png` image is `width × height` pixels, or smaller by a factor in `RECT_IMAGE_SCALES`
 * (`ceil(width / s) × ceil(height / s)`: a catch-up for a viewer on a slow path), and the viewer
 * stretches it over the rect. A decoder checks this with `rectImageScale` once it knows the
 * image's size, and refuses any other size.
 */
export interface FrameRect {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly codec: RectCodec;
  readonly data: Uint8Array;
}

/**
 * A screen update. `seq` is a u32 the agent increments per frame; `captureTsMs` is the capture
 * time in ms since the Unix epoch (finite, ≥ 0, may be fractional); `keyframe` means the rects
 * cover the complete screen state. Screen sides are 1..`SCREEN_MAX_SIDE_PX` pixels; at most
 * `FRAME_MAX_RECTS` rects; the encoded frame is at most `FRAME_MAX_BYTES`.
 */
export interface Frame {
  readonly seq: number;
  readonly captureTsMs: number;
  readonly keyframe: boolean;
  readonly screenWidth: number;
  readonly screenHeight: number;
  readonly rects: readonly FrameRect[];
}

/** The factors by which a compressed rect's image may be smaller than the rect it covers. */
export const RECT_IMAGE_SCALES = [1, 2, 4] as const;

/**
 * The factor `s` in `RECT_IMAGE_SCALES` for which a decoded image of `imageWidth × imageHeight`
 * is `ceil(rect.width / s) × ceil(rect.height / s)`, or null when it is none of them (a decoder
 * refuses the rect). For `raw` rects only 1 (the codec already fixes their length).
 */
export function rectImageScale(rect: Pick<FrameRect, 'width' | 'height' | 'codec'>, imageWidth: number, imageHeight: number): number | null {
  for (const s of RECT_IMAGE_SCALES) {
    if (s > 1 && rect.codec === 'raw') break;
    if (imageWidth === Math.ceil(rect.width / s) && imageHeight === Math.ceil(rect.height / s)) return s;
  }
  return null;
}

/** Throws unless a pixel payload has the length its codec and size require. Internal. */
export function assertPixelDataLength(codec: RectCodec | CursorCodec, width: number, height: number, length: number): void {
  if (codec === 'raw') {
    if (length !== width * height * RAW_BYTES_PER_PIXEL) {
      throw new CodecError('lengthMismatch', 'raw data length is not width × height × 4');
    }
  } else if (length === 0) {
    throw new CodecError('lengthMismatch', `${codec} data is empty`);
  }
}

function assertRectGeometry(x: number, y: number, width: number, height: number, screenWidth: number, screenHeight: number): void {
  if (width < 1 || height < 1) throw new CodecError('invalidRect', 'rect has a zero side');
  if (x + width > screenWidth || y + height > screenHeight) {
    throw new CodecError('invalidRect', 'rect extends outside the screen');
  }
}

function assertScreen(width: number, height: number): void {
  assertIntInRange(width, 1, SCREEN_MAX_SIDE_PX, 'invalidScreen', 'screenWidth');
  assertIntInRange(height, 1, SCREEN_MAX_SIDE_PX, 'invalidScreen', 'screenHeight');
}

function assertTimestamp(captureTsMs: number): void {
  if (!Number.isFinite(captureTsMs) || captureTsMs < 0) {
    throw new CodecError('invalidHeader', 'captureTsMs must be a finite number ≥ 0');
  }
}

/**
 * Size in bytes `encodeFrame` would produce for `frame`, without validating it. Lets the
 * agent split an update across frames before it hits `FRAME_MAX_BYTES`.
 */
export function encodedFrameLength(frame: Frame): number {
  let length = FRAME_HEADER_BYTES;
  for (const rect of frame.rects) length += RECT_HEADER_BYTES + rect.data.length;
  return length;
}

/**
 * Encodes a frame into one freshly allocated buffer (layout in `constants.ts`, `FRAME_OFFSET`).
 * Validates everything `decodeFrame` validates, so a frame that encodes also decodes, and
 * `encodeFrame(decodeFrame(b))` is byte-identical to `b`.
 *
 * @throws CodecError `overCap` (over `FRAME_MAX_BYTES` or `FRAME_MAX_RECTS`), `invalidHeader`,
 * `invalidScreen`, `invalidRect`, `invalidCodec`, `lengthMismatch`.
 */
export function encodeFrame(frame: Frame): Uint8Array {
  assertIntInRange(frame.seq, 0, U32_MAX, 'invalidHeader', 'seq');
  assertTimestamp(frame.captureTsMs);
  assertScreen(frame.screenWidth, frame.screenHeight);
  if (frame.rects.length > FRAME_MAX_RECTS) throw new CodecError('overCap', 'too many rects');
  const length = encodedFrameLength(frame);
  if (length > FRAME_MAX_BYTES) throw new CodecError('overCap', 'encoded frame exceeds FRAME_MAX_BYTES');

  const bytes = new Uint8Array(length);
  const view = new DataView(bytes.buffer);
  writePrefix(view, 'frame');
  view.setUint8(FRAME_OFFSET.flags, frame.keyframe ? FRAME_FLAG_KEYFRAME : 0);
  view.setUint32(FRAME_OFFSET.seq, frame.seq, LITTLE_ENDIAN);
  view.setFloat64(FRAME_OFFSET.captureTsMs, frame.captureTsMs, LITTLE_ENDIAN);
  view.setUint16(FRAME_OFFSET.screenWidth, frame.screenWidth, LITTLE_ENDIAN);
  view.setUint16(FRAME_OFFSET.screenHeight, frame.screenHeight, LITTLE_ENDIAN);
  view.setUint16(FRAME_OFFSET.rectCount, frame.rects.length, LITTLE_ENDIAN);

  let offset = FRAME_HEADER_BYTES;
  for (const rect of frame.rects) {
    assertIntInRange(rect.x, 0, SCREEN_MAX_SIDE_PX, 'invalidRect', 'rect.x');
    assertIntInRange(rect.y, 0, SCREEN_MAX_SIDE_PX, 'invalidRect', 'rect.y');
    assertIntInRange(rect.width, 0, SCREEN_MAX_SIDE_PX, 'invalidRect', 'rect.width');
    assertIntInRange(rect.height, 0, SCREEN_MAX_SIDE_PX, 'invalidRect', 'rect.height');
    assertRectGeometry(rect.x, rect.y, rect.width, rect.height, frame.screenWidth, frame.screenHeight);
    const codecByte = Object.hasOwn(CODEC_BYTE, rect.codec) ? CODEC_BYTE[rect.codec] : undefined;
    if (codecByte === undefined) throw new CodecError('invalidCodec', 'unknown rect codec');
    assertPixelDataLength(rect.codec, rect.width, rect.height, rect.data.length);

    view.setUint16(offset + RECT_OFFSET.x, rect.x, LITTLE_ENDIAN);
    view.setUint16(offset + RECT_OFFSET.y, rect.y, LITTLE_ENDIAN);
    view.setUint16(offset + RECT_OFFSET.width, rect.width, LITTLE_ENDIAN);
    view.setUint16(offset + RECT_OFFSET.height, rect.height, LITTLE_ENDIAN);
    view.setUint8(offset + RECT_OFFSET.codec, codecByte);
    view.setUint32(offset + RECT_OFFSET.dataLength, rect.data.length, LITTLE_ENDIAN);
    offset += RECT_HEADER_BYTES;
    bytes.set(rect.data, offset);
    offset += rect.data.length;
  }
  return bytes;
}

/**
 * Decodes and validates a frame message. Allocates only the result objects: each
 * `rect.data` is a `subarray` view into `bytes` (zero-copy), so it stays valid as long as
 * `bytes` is not mutated. Every declared length is checked against the caps and the remaining
 * bytes before it is used; trailing bytes are refused.
 *
 * @throws CodecError `tooShort`, `unsupportedVersion`, `unknownType`, `overCap`, `invalidHeader`,
 * `invalidScreen`, `invalidRect`, `invalidCodec`, `lengthMismatch`.
 */
export function decodeFrame(bytes: Uint8Array): Frame {
  const view = openMessage(bytes, 'frame');
  if (bytes.length > FRAME_MAX_BYTES) throw new CodecError('overCap', 'frame exceeds FRAME_MAX_BYTES');
  if (bytes.length < FRAME_HEADER_BYTES) throw new CodecError('tooShort', 'frame shorter than its header');

  const flags = view.getUint8(FRAME_OFFSET.flags);
  if ((flags & ~FRAME_FLAGS_KNOWN) !== 0) throw new CodecError('invalidHeader', 'reserved frame flag set');
  const seq = view.getUint32(FRAME_OFFSET.seq, LITTLE_ENDIAN);
  const captureTsMs = view.getFloat64(FRAME_OFFSET.captureTsMs, LITTLE_ENDIAN);
  assertTimestamp(captureTsMs);
  const screenWidth = view.getUint16(FRAME_OFFSET.screenWidth, LITTLE_ENDIAN);
  const screenHeight = view.getUint16(FRAME_OFFSET.screenHeight, LITTLE_ENDIAN);
  assertScreen(screenWidth, screenHeight);
  const rectCount = view.getUint16(FRAME_OFFSET.rectCount, LITTLE_ENDIAN);
  if (rectCount > FRAME_MAX_RECTS) throw new CodecError('overCap', 'too many rects');
  if (rectCount * RECT_HEADER_BYTES > bytes.length - FRAME_HEADER_BYTES) {
    throw new CodecError('tooShort', 'frame shorter than its rect headers');
  }

  const rects: FrameRect[] = [];
  let offset = FRAME_HEADER_BYTES;
  for (let i = 0; i < rectCount; i++) {
    if (bytes.length - offset < RECT_HEADER_BYTES) throw new CodecError('tooShort', 'truncated rect header');
    const x = view.getUint16(offset + RECT_OFFSET.x, LITTLE_ENDIAN);
    const y = view.getUint16(offset + RECT_OFFSET.y, LITTLE_ENDIAN);
    const width = view.getUint16(offset + RECT_OFFSET.width, LITTLE_ENDIAN);
    const height = view.getUint16(offset + RECT_OFFSET.height, LITTLE_ENDIAN);
    const codec = CODEC_BY_BYTE[view.getUint8(offset + RECT_OFFSET.codec)];
    const dataLength = view.getUint32(offset + RECT_OFFSET.dataLength, LITTLE_ENDIAN);
    if (codec === undefined) throw new CodecError('invalidCodec', 'unknown rect codec byte');
    assertRectGeometry(x, y, width, height, screenWidth, screenHeight);
    if (dataLength > FRAME_MAX_BYTES) throw new CodecError('overCap', 'rect data exceeds FRAME_MAX_BYTES');
    assertPixelDataLength(codec, width, height, dataLength);
    offset += RECT_HEADER_BYTES;
    if (dataLength > bytes.length - offset) throw new CodecError('tooShort', 'truncated rect data');
    rects.push({ x, y, width, height, codec, data: bytes.subarray(offset, offset + dataLength) });
    offset += dataLength;
  }
  if (offset !== bytes.length) throw new CodecError('lengthMismatch', 'bytes after the last rect');
  return { seq, captureTsMs, keyframe: (flags & FRAME_FLAG_KEYFRAME) !== 0, screenWidth, screenHeight, rects };
}
