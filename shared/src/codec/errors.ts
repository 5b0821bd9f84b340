/**
 * Why a codec message was refused. Decoders and the reassembler throw nothing else:
 * any other throwable out of the codec is a bug.
 *
 * - `tooShort`: the bytes end before a header or before the data a header declares.
 * - `unsupportedVersion`: the first byte is not `CODEC_VERSION`.
 * - `unknownType`: the type byte is not one the called decoder accepts.
 * - `lengthMismatch`: a declared length disagrees with the bytes or with the pixel size
 *   (trailing bytes, raw data ≠ width × height × 4, empty compressed data, chunk sizes
 *   inconsistent with the declared total).
 * - `overCap`: a size or count above its cap (`FRAME_MAX_BYTES`, `FRAME_MAX_RECTS`, …).
 * - `invalidHeader`: reserved flag bits set, a timestamp that is not a finite number ≥ 0,
 *   or a sequence number that is not a u32.
 * - `invalidScreen`: screen width or height outside 1..`SCREEN_MAX_SIDE_PX`.
 * - `invalidRect`: a rect with a zero side or not wholly inside the screen.
 * - `invalidCodec`: an unknown codec byte, or a codec the message kind does not allow.
 * - `invalidCursor`: cursor position, shape size or hotspot out of range.
 * - `outOfOrder`: a chunk whose index is ahead of the next expected one.
 * - `duplicateChunk`: a chunk whose index was already received for the current frame.
 * - `missingChunk`: a chunk of another frame arrived while the current frame was incomplete.
 * - `invalidChunk`: a chunk header that is wrong on its own (count 0, index ≥ count, total 0,
 *   count/total that change within a frame, bad chunking arguments).
 */
export const CODEC_ERROR_REASONS = [
  'tooShort',
  'unsupportedVersion',
  'unknownType',
  'lengthMismatch',
  'overCap',
  'invalidHeader',
  'invalidScreen',
  'invalidRect',
  'invalidCodec',
  'invalidCursor',
  'outOfOrder',
  'duplicateChunk',
  'missingChunk',
  'invalidChunk',
] as const;

/** Closed set of reasons a `CodecError` carries; see `CODEC_ERROR_REASONS`. */
export type CodecErrorReason = (typeof CODEC_ERROR_REASONS)[number];

/**
 * The only error the codec throws, on encode and on decode. Branch on `reason`, never on
 * `message` (which is for developers and may change).
 */
export class CodecError extends Error {
  /** Why the message was refused. */
  readonly reason: CodecErrorReason;

  constructor(reason: CodecErrorReason, message: string = reason) {
    super(message);
    this.name = 'CodecError';
    this.reason = reason;
  }
}

/** True when `value` is a `CodecError`. */
export function isCodecError(value: unknown): value is CodecError {
  return value instanceof CodecError;
}

/** Throws `CodecError(reason)` unless `value` is an integer in `min..max`. Internal. */
export function assertIntInRange(value: number, min: number, max: number, reason: CodecErrorReason, what: string): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new CodecError(reason, `${what} must be an integer in ${min}..${max}`);
  }
}
