import { FRAME_CHUNK_MAX_BYTES, FRAME_MAX_BYTES } from '../limits.ts';
import { CHUNK_HEADER_BYTES, CHUNK_MAX_COUNT, CHUNK_OFFSET, FRAME_FLAG_KEYFRAME, FRAME_OFFSET, LITTLE_ENDIAN, U32_MAX } from './constants.ts';
import { assertIntInRange, CodecError } from './errors.ts';
import { openMessage, peekMessageType, writePrefix } from './message.ts';

/**
 * Splits an encoded frame into chunk messages for the `frames` data channel or the relay.
 * Every chunk, header included, is at most `maxChunkBytes`; all chunks but the last carry
 * exactly `maxChunkBytes − CHUNK_HEADER_BYTES` payload bytes (the reassembler relies on this).
 * Always chunks, even a frame that would fit in one message (count = 1), so receivers have a
 * single path. Each chunk is its own buffer.
 *
 * @param encodedFrame output of `encodeFrame`; 1..`FRAME_MAX_BYTES` bytes.
 * @param frameId u32 chosen by the sender, different from the previous frame's (e.g. a counter).
 * @param maxChunkBytes largest chunk message in bytes, > `CHUNK_HEADER_BYTES`.
 * @throws CodecError `invalidChunk` (bad arguments), `overCap` (frame too big, or more than
 * `CHUNK_MAX_COUNT` chunks).
 */
export function chunkFrame(encodedFrame: Uint8Array, frameId: number, maxChunkBytes: number = FRAME_CHUNK_MAX_BYTES): Uint8Array[] {
  assertIntInRange(frameId, 0, U32_MAX, 'invalidChunk', 'frameId');
  assertIntInRange(maxChunkBytes, CHUNK_HEADER_BYTES + 1, U32_MAX, 'invalidChunk', 'maxChunkBytes');
  const total = encodedFrame.length;
  if (total === 0) throw new CodecError('invalidChunk', 'cannot chunk an empty frame');
  if (total > FRAME_MAX_BYTES) throw new CodecError('overCap', 'frame exceeds FRAME_MAX_BYTES');
  const payloadMax = maxChunkBytes - CHUNK_HEADER_BYTES;
  const count = Math.ceil(total / payloadMax);
  if (count > CHUNK_MAX_COUNT) throw new CodecError('overCap', 'frame needs more than CHUNK_MAX_COUNT chunks');

  const chunks: Uint8Array[] = [];
  for (let index = 0; index < count; index++) {
    const start = index * payloadMax;
    const payload = encodedFrame.subarray(start, Math.min(start + payloadMax, total));
    const chunk = new Uint8Array(CHUNK_HEADER_BYTES + payload.length);
    const view = new DataView(chunk.buffer);
    writePrefix(view, 'chunk');
    view.setUint32(CHUNK_OFFSET.frameId, frameId, LITTLE_ENDIAN);
    view.setUint16(CHUNK_OFFSET.index, index, LITTLE_ENDIAN);
    view.setUint16(CHUNK_OFFSET.count, count, LITTLE_ENDIAN);
    view.setUint32(CHUNK_OFFSET.totalLength, total, LITTLE_ENDIAN);
    chunk.set(payload, CHUNK_HEADER_BYTES);
    chunks.push(chunk);
  }
  return chunks;
}

/**
 * Re-chunks a sequence of codec messages for a transport that takes larger messages (the relay):
 * each frame's chunks are merged and split again at `maxChunkBytes`, keeping the frame id; any
 * other message (a cursor update) passes through in place. A frame already in one chunk, or whose
 * chunks are already as large as allowed, is returned as is (no copy), so small deltas cost nothing.
 *
 * @param messages output of `chunkFrame` (one or more whole frames, in order) and cursor messages.
 * @throws CodecError when a frame's chunks are incomplete, out of order or inconsistent.
 */
export function rechunk(messages: readonly Uint8Array[], maxChunkBytes: number): Uint8Array[] {
  assertIntInRange(maxChunkBytes, CHUNK_HEADER_BYTES + 1, U32_MAX, 'invalidChunk', 'maxChunkBytes');
  const out: Uint8Array[] = [];
  for (let i = 0; i < messages.length; ) {
    const first = messages[i]!;
    if (peekMessageType(first) !== 'chunk') {
      out.push(first);
      i++;
      continue;
    }
    const { frameId, count, totalLength } = readChunkHeader(first);
    const run = messages.slice(i, i + count);
    i += count;
    if (count === 1 || first.length >= Math.min(maxChunkBytes, CHUNK_HEADER_BYTES + totalLength)) {
      out.push(...run);
      continue;
    }
    // Reassembling checks that the run is this frame's chunks, complete and in order.
    const reassembler = new FrameReassembler({ maxChunkBytes: first.length });
    let whole: Uint8Array | null = null;
    for (const chunk of run) whole = reassembler.push(chunk);
    if (!whole) throw new CodecError('missingChunk', 'a frame\'s chunks end before its last chunk');
    out.push(...chunkFrame(whole, frameId, maxChunkBytes));
  }
  return out;
}

/** Options of `FrameReassembler`. */
export interface FrameReassemblerOptions {
  /** Largest whole frame accepted, in bytes; a first chunk declaring more is `overCap`. */
  readonly maxFrameBytes?: number;
  /** Largest chunk message accepted, in bytes (header included); larger is `overCap`. */
  readonly maxChunkBytes?: number;
}

interface PartialFrame {
  readonly frameId: number;
  readonly count: number;
  readonly total: number;
  /** Payload bytes of every chunk but the last (fixed by chunk 0). */
  readonly payloadSize: number;
  readonly buffer: Uint8Array;
  nextIndex: number;
}

/**
 * Rebuilds encoded frames from chunk messages of ONE ordered, reliable stream (one data channel
 * or one relay link; use one reassembler per stream). Holds at most one partial frame, whose
 * buffer is allocated once, on its first chunk, sized by the declared total after the cap check.
 *
 * Since the transport is ordered and reliable, any deviation is a bug or an attack and throws a
 * `CodecError`; the partial frame is then discarded and the next frame that starts with chunk 0 is
 * accepted. The one exception: when chunk 0 of a new frame reveals that the previous frame was cut
 * short, `missingChunk` is thrown but that chunk still starts the new frame (it was valid; only
 * the old frame was lost), so the new frame's later chunks complete it. (A new frame of a single
 * chunk cannot be returned through the throw and is lost with the old one.) A receiver should
 * treat any error as "frame lost: ask for a keyframe".
 */
export class FrameReassembler {
  readonly #maxFrameBytes: number;
  readonly #maxChunkBytes: number;
  #partial: PartialFrame | null = null;

  constructor(options: FrameReassemblerOptions = {}) {
    const { maxFrameBytes = FRAME_MAX_BYTES, maxChunkBytes = FRAME_CHUNK_MAX_BYTES } = options;
    assertIntInRange(maxFrameBytes, 1, U32_MAX, 'invalidChunk', 'maxFrameBytes');
    assertIntInRange(maxChunkBytes, CHUNK_HEADER_BYTES + 1, U32_MAX, 'invalidChunk', 'maxChunkBytes');
    this.#maxFrameBytes = maxFrameBytes;
    this.#maxChunkBytes = maxChunkBytes;
  }

  /** True while a frame has started and its last chunk has not arrived. */
  get hasPartialFrame(): boolean {
    return this.#partial !== null;
  }

  /** Drops any partial frame (e.g. when the channel is replaced). */
  reset(): void {
    this.#partial = null;
  }

  /**
   * Takes the next chunk message of the stream. Returns the whole encoded frame (a fresh buffer
   * the caller owns; feed it to `decodeFrame`) when this was its last chunk, otherwise `null`.
   *
   * @throws CodecError `tooShort`, `unsupportedVersion`, `unknownType`, `overCap`, `invalidChunk`,
   * `lengthMismatch`, `outOfOrder`, `duplicateChunk`, `missingChunk`.
   */
  push(chunk: Uint8Array): Uint8Array | null {
    const partial = this.#partial;
    try {
      const view = openMessage(chunk, 'chunk');
      if (chunk.length > this.#maxChunkBytes) throw new CodecError('overCap', 'chunk exceeds maxChunkBytes');
      if (chunk.length < CHUNK_HEADER_BYTES) throw new CodecError('tooShort', 'chunk shorter than its header');
      const frameId = view.getUint32(CHUNK_OFFSET.frameId, LITTLE_ENDIAN);
      const index = view.getUint16(CHUNK_OFFSET.index, LITTLE_ENDIAN);
      const count = view.getUint16(CHUNK_OFFSET.count, LITTLE_ENDIAN);
      const total = view.getUint32(CHUNK_OFFSET.totalLength, LITTLE_ENDIAN);
      if (count === 0) throw new CodecError('invalidChunk', 'chunk count is 0');
      if (index >= count) throw new CodecError('invalidChunk', 'chunk index ≥ count');
      if (total === 0) throw new CodecError('invalidChunk', 'declared frame length is 0');
      if (total > this.#maxFrameBytes) throw new CodecError('overCap', 'declared frame length exceeds the cap');
      const payload = chunk.subarray(CHUNK_HEADER_BYTES);

      if (partial === null) {
        if (index !== 0) throw new CodecError('outOfOrder', 'chunk before the first chunk of its frame');
        return this.#start(frameId, count, total, payload);
      }
      if (frameId !== partial.frameId) {
        this.#partial = null;
        if (index === 0) this.#start(frameId, count, total, payload);
        throw new CodecError('missingChunk', 'a new frame started before the previous one completed');
      }
      if (index < partial.nextIndex) throw new CodecError('duplicateChunk', 'chunk index already received');
      if (index > partial.nextIndex) throw new CodecError('outOfOrder', 'chunk index skipped ahead');
      if (count !== partial.count || total !== partial.total) {
        throw new CodecError('invalidChunk', 'chunk count or total changed within a frame');
      }
      const isLast = index === count - 1;
      const expected = isLast ? total - index * partial.payloadSize : partial.payloadSize;
      if (payload.length !== expected) throw new CodecError('lengthMismatch', 'chunk payload size disagrees with the frame');
      partial.buffer.set(payload, index * partial.payloadSize);
      partial.nextIndex++;
      if (!isLast) return null;
      this.#partial = null;
      return partial.buffer;
    } catch (err) {
      // Any refusal loses the partial frame, except a new frame that `missingChunk` started.
      if (this.#partial === partial) this.#partial = null;
      throw err;
    }
  }

  #start(frameId: number, count: number, total: number, payload: Uint8Array): Uint8Array | null {
    const payloadSize = payload.length;
    // Chunks 0..count-2 carry payloadSize bytes and the last 1..payloadSize, so
    // (count-1)·payloadSize < total ≤ count·payloadSize, and chunk 0 cannot overrun total.
    if (payloadSize === 0 || payloadSize > total || Math.ceil(total / payloadSize) !== count) {
      throw new CodecError('lengthMismatch', 'chunk count disagrees with the declared length and chunk size');
    }
    const buffer = new Uint8Array(total);
    buffer.set(payload, 0);
    if (count === 1) return buffer;
    this.#partial = { frameId, count, total, payloadSize, buffer, nextIndex: 1 };
    return null;
  }
}

/** What a relay needs to know about one chunk without reassembling the frame. */
export interface ChunkHeader {
  frameId: number;
  index: number;
  count: number;
  totalLength: number;
  /** True when this is chunk 0 and the frame it starts is a keyframe. */
  keyframe: boolean;
}

/**
 * Reads and validates a chunk's header (and, for chunk 0, the frame's keyframe flag) without
 * copying. Lets a relay forward or drop whole frames.
 *
 * @throws CodecError `tooShort`, `unsupportedVersion`, `unknownType`, `invalidChunk`, `overCap`.
 */
export function readChunkHeader(chunk: Uint8Array, maxFrameBytes: number = FRAME_MAX_BYTES): ChunkHeader {
  const view = openMessage(chunk, 'chunk');
  if (chunk.length < CHUNK_HEADER_BYTES) throw new CodecError('tooShort', 'chunk shorter than its header');
  const frameId = view.getUint32(CHUNK_OFFSET.frameId, LITTLE_ENDIAN);
  const index = view.getUint16(CHUNK_OFFSET.index, LITTLE_ENDIAN);
  const count = view.getUint16(CHUNK_OFFSET.count, LITTLE_ENDIAN);
  const totalLength = view.getUint32(CHUNK_OFFSET.totalLength, LITTLE_ENDIAN);
  if (count === 0 || index >= count || totalLength === 0) throw new CodecError('invalidChunk', 'inconsistent chunk header');
  if (totalLength > maxFrameBytes) throw new CodecError('overCap', 'declared frame length exceeds the cap');
  // Chunk 0's payload starts with the frame header; its flags byte carries the keyframe bit.
  const flagsAt = CHUNK_HEADER_BYTES + FRAME_OFFSET.flags;
  const keyframe = index === 0 && chunk.length > flagsAt && (chunk[flagsAt]! & FRAME_FLAG_KEYFRAME) !== 0;
  return { frameId, index, count, totalLength, keyframe };
}
