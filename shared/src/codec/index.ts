/**
 * The binary codec for the `frames` data channel and the relay: screen frames, cursor updates
 * and the chunks that carry frames over message-size-limited transports. Pure functions over
 * `Uint8Array`/`DataView`, browser-safe. Every message starts with the version byte
 * (`CODEC_VERSION`) then a type byte; multi-byte fields are little-endian.
 *
 * Sender: `encodeFrame` → `chunkFrame` → send each chunk; `encodeCursor` → send as is.
 * Receiver: `peekMessageType` → `chunk`: `FrameReassembler.push` → `decodeFrame`;
 * `cursor`: `decodeCursor`. Every refusal is a `CodecError` with a `reason`.
 */
export {
  CODEC_VERSION,
  MESSAGE_TYPES,
  RECT_CODECS,
  CURSOR_CODECS,
  FRAME_HEADER_BYTES,
  RECT_HEADER_BYTES,
  CURSOR_HEADER_BYTES,
  CURSOR_SHAPE_HEADER_BYTES,
  CHUNK_HEADER_BYTES,
  CHUNK_MAX_COUNT,
  RAW_BYTES_PER_PIXEL,
  type MessageType,
  type RectCodec,
  type CursorCodec,
} from './constants.ts';
export { CodecError, CODEC_ERROR_REASONS, isCodecError, type CodecErrorReason } from './errors.ts';
export { peekMessageType } from './message.ts';
export { encodeFrame, decodeFrame, encodedFrameLength, rectImageScale, RECT_IMAGE_SCALES, type Frame, type FrameRect } from './frame.ts';
export { encodeCursor, decodeCursor, type CursorUpdate, type CursorShape } from './cursor.ts';
export { chunkFrame, rechunk, FrameReassembler, readChunkHeader, type ChunkHeader, type FrameReassemblerOptions } from './chunking.ts';
export { writeStamp, readStamp, STAMP_WIDTH_PX, STAMP_HEIGHT_PX, type StampValue } from './stamp.ts';
