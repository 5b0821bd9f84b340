import { describe, expect, it } from 'vitest';
import { FRAME_CHUNK_MAX_BYTES, FRAME_MAX_BYTES } from '../limits.ts';
import { chunkFrame, FrameReassembler, readChunkHeader, rechunk } from './chunking.ts';
import { encodeCursor } from './cursor.ts';
import { CHUNK_HEADER_BYTES, CHUNK_OFFSET, MESSAGE_TYPE_BYTE } from './constants.ts';
import { CodecError, type CodecErrorReason } from './errors.ts';
import { decodeFrame, encodeFrame, type Frame } from './frame.ts';
import { peekMessageType } from './message.ts';

/** Asserts `fn` throws a CodecError with `reason`, calling it once (the reassembler is stateful). */
function expectReason(fn: () => unknown, reason: CodecErrorReason): void {
  let caught: unknown;
  expect(() => {
    try {
      fn();
    } catch (err) {
      caught = err;
      throw err;
    }
  }).toThrow(CodecError);
  expect((caught as CodecError).reason).toBe(reason);
}

/** mulberry32: small seeded PRNG so failures reproduce. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Pseudo-random bytes, filled a word at a time so multi-MiB fixtures stay fast. */
function noise(length: number, seed: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(length / 4));
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return new Uint8Array(words.buffer, 0, length);
}

/** Byte equality without per-element matcher overhead (multi-MiB buffers). */
function sameBytes(a: Uint8Array | null, b: Uint8Array): boolean {
  if (a === null || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

interface ChunkHeader {
  frameId?: number;
  index?: number;
  count?: number;
  total?: number;
}

/** A copy of `chunk` with header fields overwritten and, optionally, a different payload length. */
function tampered(chunk: Uint8Array, header: ChunkHeader, payloadLength?: number): Uint8Array {
  const length = payloadLength === undefined ? chunk.length : CHUNK_HEADER_BYTES + payloadLength;
  const copy = new Uint8Array(length);
  copy.set(chunk.subarray(0, Math.min(chunk.length, length)));
  const view = new DataView(copy.buffer);
  if (header.frameId !== undefined) view.setUint32(CHUNK_OFFSET.frameId, header.frameId, true);
  if (header.index !== undefined) view.setUint16(CHUNK_OFFSET.index, header.index, true);
  if (header.count !== undefined) view.setUint16(CHUNK_OFFSET.count, header.count, true);
  if (header.total !== undefined) view.setUint32(CHUNK_OFFSET.totalLength, header.total, true);
  return copy;
}

/** Pushes every chunk and returns what the last push returned. */
function pushAll(reassembler: FrameReassembler, chunks: readonly Uint8Array[]): Uint8Array | null {
  let result: Uint8Array | null = null;
  for (const chunk of chunks) result = reassembler.push(chunk);
  return result;
}

// ~3.9 MiB: one raw 1024×1000 rect (4,096,000 bytes) plus headers.
const bigFrame: Frame = {
  seq: 1,
  captureTsMs: 1_700_000_000_000,
  keyframe: true,
  screenWidth: 1920,
  screenHeight: 1080,
  rects: [{ x: 0, y: 0, width: 1024, height: 1000, codec: 'raw', data: noise(1024 * 1000 * 4, 99) }],
};
const bigEncoded = encodeFrame(bigFrame);

// Small stream fixtures: 250-byte frames in 100-byte chunks (86-byte payloads) → 3 chunks each.
const SMALL_CHUNK_BYTES = 100;
const frameA = noise(250, 1);
const frameB = noise(250, 2);
const frameC = noise(250, 3);
const [a0, a1, a2] = chunkFrame(frameA, 10, SMALL_CHUNK_BYTES) as [Uint8Array, Uint8Array, Uint8Array];
const [b0, b1, b2] = chunkFrame(frameB, 11, SMALL_CHUNK_BYTES) as [Uint8Array, Uint8Array, Uint8Array];
const chunksC = chunkFrame(frameC, 12, SMALL_CHUNK_BYTES);
const smallReassembler = (): FrameReassembler => new FrameReassembler({ maxChunkBytes: SMALL_CHUNK_BYTES });

describe('chunkFrame + FrameReassembler round trip', () => {
  it(`reassembles a ${(bigEncoded.length / 2 ** 20).toFixed(2)} MiB frame byte-exact from 64 KiB chunks`, () => {
    expect(bigEncoded.length).toBeGreaterThan(3.9 * 2 ** 20);
    const chunks = chunkFrame(bigEncoded, 0xffff_ffff);
    expect(chunks).toHaveLength(Math.ceil(bigEncoded.length / (FRAME_CHUNK_MAX_BYTES - CHUNK_HEADER_BYTES)));
    for (const chunk of chunks) expect(chunk.length).toBeLessThanOrEqual(FRAME_CHUNK_MAX_BYTES);
    const reassembler = new FrameReassembler();
    const results = chunks.map((chunk) => reassembler.push(chunk));
    expect(results.slice(0, -1).every((r) => r === null)).toBe(true);
    const whole = results.at(-1) ?? null;
    expect(sameBytes(whole, bigEncoded)).toBe(true);
    const decoded = decodeFrame(whole ?? new Uint8Array(0));
    expect(sameBytes(decoded.rects[0]?.data ?? null, bigFrame.rects[0]?.data ?? new Uint8Array(0))).toBe(true);
    expect(reassembler.hasPartialFrame).toBe(false);
  });

  const payload = FRAME_CHUNK_MAX_BYTES - CHUNK_HEADER_BYTES;
  it.each<[string, number, number, number]>([
    ['a 1-byte frame', 1, FRAME_CHUNK_MAX_BYTES, 1],
    ['a frame exactly one payload long', payload, FRAME_CHUNK_MAX_BYTES, 1],
    ['a frame one byte over one payload', payload + 1, FRAME_CHUNK_MAX_BYTES, 2],
    ['a frame filling FRAME_MAX_BYTES', FRAME_MAX_BYTES, FRAME_CHUNK_MAX_BYTES, Math.ceil(FRAME_MAX_BYTES / payload)],
    ['1-byte payloads', 40, CHUNK_HEADER_BYTES + 1, 40],
    ['an exact multiple of a small payload', 300, CHUNK_HEADER_BYTES + 100, 3],
    ['a short last chunk', 301, CHUNK_HEADER_BYTES + 100, 4],
  ])('round-trips %s', (_name, length, maxChunkBytes, expectedCount) => {
    const encoded = noise(length, length);
    const chunks = chunkFrame(encoded, 5, maxChunkBytes);
    expect(chunks).toHaveLength(expectedCount);
    chunks.forEach((chunk, index) => {
      expect(chunk.length).toBeLessThanOrEqual(maxChunkBytes);
      expect(peekMessageType(chunk)).toBe('chunk');
      const view = new DataView(chunk.buffer);
      expect(view.getUint32(CHUNK_OFFSET.frameId, true)).toBe(5);
      expect(view.getUint16(CHUNK_OFFSET.index, true)).toBe(index);
      expect(view.getUint16(CHUNK_OFFSET.count, true)).toBe(expectedCount);
      expect(view.getUint32(CHUNK_OFFSET.totalLength, true)).toBe(length);
    });
    const whole = pushAll(new FrameReassembler({ maxChunkBytes }), chunks);
    expect(sameBytes(whole, encoded)).toBe(true);
  });

  it('reassembles consecutive frames of one stream', () => {
    const reassembler = smallReassembler();
    expect(sameBytes(pushAll(reassembler, [a0, a1, a2]), frameA)).toBe(true);
    expect(sameBytes(pushAll(reassembler, [b0, b1, b2]), frameB)).toBe(true);
    expect(sameBytes(pushAll(reassembler, chunksC), frameC)).toBe(true);
  });

  it('accepts chunks smaller than its maxChunkBytes', () => {
    expect(sameBytes(pushAll(new FrameReassembler(), [a0, a1, a2]), frameA)).toBe(true);
  });

  it('returns a buffer the caller owns, not a view of a chunk', () => {
    const [only] = chunkFrame(frameA, 1);
    const whole = new FrameReassembler().push(only ?? new Uint8Array(0));
    expect(whole?.buffer).not.toBe(only?.buffer);
  });

  it('forgets a partial frame on reset()', () => {
    const reassembler = smallReassembler();
    reassembler.push(a0);
    expect(reassembler.hasPartialFrame).toBe(true);
    reassembler.reset();
    expect(reassembler.hasPartialFrame).toBe(false);
    expect(sameBytes(pushAll(reassembler, [b0, b1, b2]), frameB)).toBe(true);
  });
});

describe('rechunk (relay-sized messages from data-channel chunks)', () => {
  const cursor = encodeCursor({ x: 5, y: 6, visible: true });
  const big = noise(1000, 7);
  const bigChunks = chunkFrame(big, 21, SMALL_CHUNK_BYTES);

  it('merges each frame into fewer, larger chunks that reassemble to the same bytes, cursors in place', () => {
    const relayMax = CHUNK_HEADER_BYTES + 400;
    const out = rechunk([...bigChunks, cursor, a0, a1, a2], relayMax);
    // 1000 bytes at 400 per chunk → 3 chunks; the cursor; frame A (250 bytes) → 1 chunk.
    expect(out).toHaveLength(5);
    expect(out[3]).toBe(cursor);
    for (const m of out) expect(m.length).toBeLessThanOrEqual(relayMax);
    expect(out.slice(0, 3).map((c) => readChunkHeader(c))).toEqual([0, 1, 2].map((index) => ({ frameId: 21, index, count: 3, totalLength: 1000, keyframe: false })));
    const r = new FrameReassembler({ maxChunkBytes: relayMax });
    expect(sameBytes(pushAll(r, out.slice(0, 3)), big)).toBe(true);
    expect(sameBytes(pushAll(r, [out[4]!]), frameA)).toBe(true);
    expect(readChunkHeader(out[4]!).frameId).toBe(10);
  });

  it('keeps the keyframe flag of chunk 0', () => {
    const key = encodeFrame({ ...bigFrame, keyframe: true, rects: [{ x: 0, y: 0, width: 64, height: 64, codec: 'jpeg', data: noise(300_000, 9) }] });
    const out = rechunk(chunkFrame(key, 3), 1024 * 1024);
    expect(out).toHaveLength(1);
    expect(readChunkHeader(out[0]!).keyframe).toBe(true);
    expect(decodeFrame(new FrameReassembler({ maxChunkBytes: 1024 * 1024 }).push(out[0]!)!).keyframe).toBe(true);
  });

  it('returns single-chunk frames and already-large chunks as the same buffers (no copy)', () => {
    const [only] = chunkFrame(frameA, 1);
    expect(rechunk([only!], 1024 * 1024)[0]).toBe(only);
    const out = rechunk(bigChunks, SMALL_CHUNK_BYTES);
    out.forEach((c, i) => expect(c).toBe(bigChunks[i]));
  });

  it.each<[string, Uint8Array[], CodecErrorReason]>([
    ['a frame cut short', [a0!, a1!], 'missingChunk'],
    ['chunks out of order', [a0!, a2!, a1!], 'outOfOrder'],
    ['a run that starts mid-frame', [a1!, a2!], 'outOfOrder'],
  ])('refuses %s', (_name, run, reason) => {
    expectReason(() => rechunk(run, CHUNK_HEADER_BYTES + 400), reason);
  });
});

describe('chunkFrame refuses', () => {
  it.each<[string, () => unknown, CodecErrorReason]>([
    ['an empty frame', () => chunkFrame(new Uint8Array(0), 1), 'invalidChunk'],
    ['a frame over FRAME_MAX_BYTES', () => chunkFrame(new Uint8Array(FRAME_MAX_BYTES + 1), 1), 'overCap'],
    ['more than 65,535 chunks', () => chunkFrame(new Uint8Array(70_000), 1, CHUNK_HEADER_BYTES + 1), 'overCap'],
    ['a negative frameId', () => chunkFrame(frameA, -1), 'invalidChunk'],
    ['a frameId above u32', () => chunkFrame(frameA, 2 ** 32), 'invalidChunk'],
    ['a fractional frameId', () => chunkFrame(frameA, 0.5), 'invalidChunk'],
    ['a chunk size with no room for payload', () => chunkFrame(frameA, 1, CHUNK_HEADER_BYTES), 'invalidChunk'],
  ])('%s', (_name, fn, reason) => {
    expectReason(fn, reason);
  });
});

describe('FrameReassembler refuses', () => {
  // Each row: chunks pushed first (must not throw), then the chunk that must be refused.
  it.each<[string, Uint8Array[], Uint8Array, CodecErrorReason]>([
    ['an empty buffer', [], new Uint8Array(0), 'tooShort'],
    ['a truncated chunk header', [], a0.subarray(0, CHUNK_HEADER_BYTES - 1), 'tooShort'],
    ['an unknown version', [], tampered(a0, {}).fill(7, 0, 1), 'unsupportedVersion'],
    ['an unknown type byte', [], tampered(a0, {}).fill(0x55, 1, 2), 'unknownType'],
    ['a frame message instead of a chunk', [], tampered(a0, {}).fill(MESSAGE_TYPE_BYTE.frame, 1, 2), 'unknownType'],
    ['a chunk over maxChunkBytes', [], tampered(a0, {}, SMALL_CHUNK_BYTES), 'overCap'],
    ['a declared total over maxFrameBytes', [], tampered(a0, { total: FRAME_MAX_BYTES + 1 }), 'overCap'],
    ['a declared total of 4 GiB', [], tampered(a0, { total: 0xffff_ffff }), 'overCap'],
    ['a chunk count of 0', [], tampered(a0, { count: 0 }), 'invalidChunk'],
    ['an index equal to the count', [], tampered(a0, { index: 3 }), 'invalidChunk'],
    ['a declared total of 0', [], tampered(a0, { total: 0 }), 'invalidChunk'],
    ['a first chunk with an empty payload', [], tampered(a0, {}, 0), 'lengthMismatch'],
    ['a count too small for the total and chunk size', [], tampered(a0, { count: 2 }), 'lengthMismatch'],
    ['a count too large for the total and chunk size', [], tampered(a0, { count: 4 }), 'lengthMismatch'],
    ['a single chunk overrunning its declared total', [], tampered(a0, { count: 1, total: 85 }), 'lengthMismatch'],
    ['a last chunk overrunning the total', [a0, a1], tampered(a2, {}, a2.length - CHUNK_HEADER_BYTES + 1), 'lengthMismatch'],
    ['a last chunk short of the total', [a0, a1], tampered(a2, {}, a2.length - CHUNK_HEADER_BYTES - 1), 'lengthMismatch'],
    ['a middle chunk of another size', [a0], tampered(a1, {}, 50), 'lengthMismatch'],
    ['a count that changes within a frame', [a0], tampered(a1, { count: 4 }), 'invalidChunk'],
    ['a total that changes within a frame', [a0], tampered(a1, { total: 251 }), 'invalidChunk'],
    ['a first chunk whose index is not 0', [], a1, 'outOfOrder'],
    ['a skipped index', [a0], a2, 'outOfOrder'],
    ['a repeated first chunk', [a0], a0, 'duplicateChunk'],
    ['a repeated middle chunk', [a0, a1], a1, 'duplicateChunk'],
    ['a new frame starting before the last one completed', [a0, a1], b0, 'missingChunk'],
    ['a middle chunk of another frame', [a0], b1, 'missingChunk'],
  ])('%s', (_name, before, bad, reason) => {
    const reassembler = smallReassembler();
    for (const chunk of before) expect(reassembler.push(chunk)).toBeNull();
    expectReason(() => reassembler.push(bad), reason);
  });

  it('checks the declared total against its own maxFrameBytes', () => {
    expectReason(() => new FrameReassembler({ maxFrameBytes: 249, maxChunkBytes: SMALL_CHUNK_BYTES }).push(a0), 'overCap');
  });

  it.each<[string, Uint8Array[]]>([
    ['an out-of-order chunk', [a0, a2]],
    ['a duplicated chunk', [a0, a1, a1]],
    ['an oversize declaration', [a0, tampered(b0, { total: FRAME_MAX_BYTES + 1 })]],
    ['a malformed chunk mid-frame', [a0, a1.subarray(0, 5)]],
    ['a lone trailing chunk', [a1, a2]],
  ])('discards the partial frame after %s and accepts the next good frame', (_name, sequence) => {
    const reassembler = smallReassembler();
    for (const chunk of sequence) {
      try {
        reassembler.push(chunk);
      } catch (err) {
        expect(err).toBeInstanceOf(CodecError);
      }
    }
    expect(reassembler.hasPartialFrame).toBe(false);
    expect(sameBytes(pushAll(reassembler, chunksC), frameC)).toBe(true);
  });

  it('starts the new frame from the chunk that revealed the missing one', () => {
    const reassembler = smallReassembler();
    reassembler.push(a0);
    expectReason(() => reassembler.push(b0), 'missingChunk');
    expect(reassembler.push(b1)).toBeNull();
    expect(sameBytes(reassembler.push(b2), frameB)).toBe(true);
  });

  it('throws only CodecError for 2,000 random byte arrays and mutated chunks, then still works', () => {
    const random = prng(2024);
    const reassembler = smallReassembler();
    const stream = [a0, a1, a2, b0, b1, b2, ...chunksC];
    for (let n = 0; n < 2000; n++) {
      let chunk: Uint8Array;
      if (n % 2 === 0) {
        chunk = new Uint8Array(Math.floor(random() * 120));
        for (let i = 0; i < chunk.length; i++) chunk[i] = Math.floor(random() * 256);
        if (chunk.length >= 2) chunk.set([1, MESSAGE_TYPE_BYTE.chunk]);
      } else {
        chunk = (stream[Math.floor(random() * stream.length)] ?? a0).slice();
        const flips = 1 + Math.floor(random() * 3);
        for (let k = 0; k < flips; k++) chunk[Math.floor(random() * chunk.length)] = Math.floor(random() * 256);
        if (random() < 0.2) chunk = chunk.subarray(0, Math.floor(random() * chunk.length));
      }
      try {
        const whole = reassembler.push(chunk);
        if (whole !== null) expect(whole.length).toBeLessThanOrEqual(FRAME_MAX_BYTES);
      } catch (err) {
        expect(err).toBeInstanceOf(CodecError);
      }
    }
    reassembler.reset();
    expect(sameBytes(pushAll(reassembler, chunksC), frameC)).toBe(true);
  });
});

describe('readChunkHeader', () => {
  it('reads the header and the keyframe flag of chunk 0', () => {
    const key = encodeFrame({ seq: 1, captureTsMs: 1, keyframe: true, screenWidth: 4, screenHeight: 4, rects: [] });
    const delta = encodeFrame({ seq: 2, captureTsMs: 2, keyframe: false, screenWidth: 4, screenHeight: 4, rects: [] });
    const [k0] = chunkFrame(key, 7);
    const [d0] = chunkFrame(delta, 8);
    expect(readChunkHeader(k0!)).toMatchObject({ frameId: 7, index: 0, count: 1, keyframe: true });
    expect(readChunkHeader(d0!)).toMatchObject({ frameId: 8, keyframe: false });
  });

  it.each([
    ['a too-short buffer', new Uint8Array([1, 3]), 'tooShort'],
    ['a frame message instead of a chunk', new Uint8Array([1, 1, 0, 0]), 'unknownType'],
    ['an unknown version', new Uint8Array([9, 3, 0]), 'unsupportedVersion'],
  ])('refuses %s', (_w, bytes, reason) => {
    expect(() => readChunkHeader(bytes)).toThrow(expect.objectContaining({ reason }));
  });
});
