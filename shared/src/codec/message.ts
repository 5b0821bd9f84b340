import { CODEC_VERSION, MESSAGE_TYPE_BY_BYTE, MESSAGE_TYPE_BYTE, PREFIX_BYTES, PREFIX_OFFSET, type MessageType } from './constants.ts';
import { CodecError } from './errors.ts';

/**
 * Reads the two-byte prefix of a codec message so a receiver can dispatch it
 * (`frame` → `decodeFrame`, `cursor` → `decodeCursor`, `chunk` → `FrameReassembler.push`).
 * Looks at bytes 0..1 only; the rest is validated by the decoder.
 *
 * @throws CodecError `tooShort` (< 2 bytes), `unsupportedVersion`, `unknownType`.
 */
export function peekMessageType(bytes: Uint8Array): MessageType {
  if (bytes.length < PREFIX_BYTES) throw new CodecError('tooShort', 'message shorter than its prefix');
  const version = bytes[PREFIX_OFFSET.version];
  if (version !== CODEC_VERSION) throw new CodecError('unsupportedVersion', `codec version ${String(version)}`);
  const type = MESSAGE_TYPE_BY_BYTE[bytes[PREFIX_OFFSET.type] ?? 0];
  if (type === undefined) throw new CodecError('unknownType', 'unknown message type byte');
  return type;
}

/**
 * Checks the prefix against the type a decoder handles and returns a `DataView` over exactly
 * `bytes` (honouring its offset into a larger buffer). Internal.
 */
export function openMessage(bytes: Uint8Array, expected: MessageType): DataView {
  const type = peekMessageType(bytes);
  if (type !== expected) {
    throw new CodecError('unknownType', `expected a ${expected} message, got ${type}`);
  }
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Writes the common prefix for `type` into `view`. Internal. */
export function writePrefix(view: DataView, type: MessageType): void {
  view.setUint8(PREFIX_OFFSET.version, CODEC_VERSION);
  view.setUint8(PREFIX_OFFSET.type, MESSAGE_TYPE_BYTE[type]);
}
