import { describe, expect, it } from 'vitest';
import { FRAME_MAX_BYTES, FRAME_MAX_RECTS, SCREEN_MAX_SIDE_PX } from '../limits.ts';
import { FRAME_HEADER_BYTES, FRAME_OFFSET, MESSAGE_TYPE_BYTE, RECT_HEADER_BYTES, RECT_OFFSET } from './constants.ts';
import { CodecError, type CodecErrorReason } from './errors.ts';
import { decodeFrame, encodedFrameLength, encodeFrame, rectImageScale, type Frame, type FrameRect } from './frame.ts';
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

function filled(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return bytes;
}

const rawRect: FrameRect = { x: 0, y: 0, width: 2, height: 2, codec: 'raw', data: filled(16, 1) };
const jpegRect: FrameRect = { x: 10, y: 10, width: 20, height: 10, codec: 'jpeg', data: filled(100, 2) };
const pngRect: FrameRect = { x: 60, y: 40, width: 4, height: 8, codec: 'png', data: filled(33, 3) };

function sampleFrame(overrides: Partial<Frame> = {}): Frame {
  return {
    seq: 7,
    captureTsMs: 1_700_000_000_123.5,
    keyframe: true,
    screenWidth: 64,
    screenHeight: 48,
    rects: [rawRect, jpegRect, pngRect],
    ...overrides,
  };
}

/** Offset of rect `i`'s header in the encoding of `frame`. */
function rectAt(frame: Frame, i: number): number {
  let offset = FRAME_HEADER_BYTES;
  for (const rect of frame.rects.slice(0, i)) offset += RECT_HEADER_BYTES + rect.data.length;
  return offset;
}

/** A copy of `bytes` with `edit` applied through a little-endian DataView. */
function patched(bytes: Uint8Array, edit: (view: DataView) => void): Uint8Array {
  const copy = bytes.slice();
  edit(new DataView(copy.buffer));
  return copy;
}

const valid = encodeFrame(sampleFrame());
const rect1 = rectAt(sampleFrame(), 1);
const rect2 = rectAt(sampleFrame(), 2);

describe('encodeFrame / decodeFrame round trip', () => {
  const manyRects: FrameRect[] = Array.from({ length: FRAME_MAX_RECTS }, (_, i) => ({
    x: i % 64,
    y: Math.floor(i / 64),
    width: 1,
    height: 1,
    codec: 'png' as const,
    data: filled(1 + (i % 5), i),
  }));
  it.each<[string, Frame]>([
    ['a frame with no rects', sampleFrame({ rects: [], keyframe: false })],
    ['a raw rect', sampleFrame({ rects: [rawRect] })],
    ['a jpeg rect', sampleFrame({ rects: [jpegRect] })],
    ['a png rect', sampleFrame({ rects: [pngRect] })],
    ['every codec in one frame', sampleFrame()],
    [`the maximum of ${FRAME_MAX_RECTS} rects`, sampleFrame({ screenHeight: 64, rects: manyRects })],
    ['a full-screen raw keyframe', sampleFrame({ screenWidth: 32, screenHeight: 16, rects: [{ x: 0, y: 0, width: 32, height: 16, codec: 'raw', data: filled(32 * 16 * 4, 9) }] })],
    [
      'a 1×1 rect in the far corner of the largest screen',
      sampleFrame({
        screenWidth: SCREEN_MAX_SIDE_PX,
        screenHeight: SCREEN_MAX_SIDE_PX,
        rects: [{ x: SCREEN_MAX_SIDE_PX - 1, y: SCREEN_MAX_SIDE_PX - 1, width: 1, height: 1, codec: 'raw', data: filled(4, 5) }],
      }),
    ],
    ['the largest seq and a zero timestamp', sampleFrame({ seq: 0xffff_ffff, captureTsMs: 0 })],
  ])('round-trips %s', (_name, frame) => {
    const bytes = encodeFrame(frame);
    expect(bytes.length).toBe(encodedFrameLength(frame));
    expect(peekMessageType(bytes)).toBe('frame');
    const decoded = decodeFrame(bytes);
    expect(decoded).toEqual({ ...frame, rects: frame.rects.map((r) => ({ ...r })) });
    expect(encodeFrame(decoded)).toEqual(bytes);
  });

  it('returns rect data as zero-copy views into the input', () => {
    const decoded = decodeFrame(valid);
    for (const rect of decoded.rects) expect(rect.data.buffer).toBe(valid.buffer);
  });

  it('decodes a frame that sits at an offset inside a larger buffer', () => {
    const host = new Uint8Array(valid.length + 10);
    host.set(valid, 7);
    expect(decodeFrame(host.subarray(7, 7 + valid.length))).toEqual(decodeFrame(valid));
  });

  it('writes version 1, the frame type and little-endian fields at the documented offsets', () => {
    const view = new DataView(valid.buffer);
    expect(valid[0]).toBe(1);
    expect(valid[1]).toBe(MESSAGE_TYPE_BYTE.frame);
    expect(view.getUint8(FRAME_OFFSET.flags)).toBe(1);
    expect(view.getUint32(FRAME_OFFSET.seq, true)).toBe(7);
    expect(view.getFloat64(FRAME_OFFSET.captureTsMs, true)).toBe(1_700_000_000_123.5);
    expect(view.getUint16(FRAME_OFFSET.screenWidth, true)).toBe(64);
    expect(view.getUint16(FRAME_OFFSET.rectCount, true)).toBe(3);
    expect(view.getUint16(rect1 + RECT_OFFSET.x, true)).toBe(10);
    expect(view.getUint32(rect1 + RECT_OFFSET.dataLength, true)).toBe(100);
  });
});

describe('encodeFrame refuses', () => {
  const huge = new Uint8Array(FRAME_MAX_BYTES);
  it.each<[string, Frame, CodecErrorReason]>([
    ['a frame over FRAME_MAX_BYTES', sampleFrame({ screenWidth: 4096, screenHeight: 4096, rects: [{ ...jpegRect, data: huge }] }), 'overCap'],
    ['more than FRAME_MAX_RECTS rects', sampleFrame({ rects: Array.from({ length: FRAME_MAX_RECTS + 1 }, () => pngRect) }), 'overCap'],
    ['a negative seq', sampleFrame({ seq: -1 }), 'invalidHeader'],
    ['a seq above u32', sampleFrame({ seq: 2 ** 32 }), 'invalidHeader'],
    ['a fractional seq', sampleFrame({ seq: 1.5 }), 'invalidHeader'],
    ['a NaN timestamp', sampleFrame({ captureTsMs: Number.NaN }), 'invalidHeader'],
    ['an infinite timestamp', sampleFrame({ captureTsMs: Number.POSITIVE_INFINITY }), 'invalidHeader'],
    ['a negative timestamp', sampleFrame({ captureTsMs: -1 }), 'invalidHeader'],
    ['a zero screen width', sampleFrame({ screenWidth: 0, rects: [] }), 'invalidScreen'],
    ['a screen over SCREEN_MAX_SIDE_PX', sampleFrame({ screenHeight: SCREEN_MAX_SIDE_PX + 1 }), 'invalidScreen'],
    ['a rect past the right edge', sampleFrame({ rects: [{ ...pngRect, x: 61 }] }), 'invalidRect'],
    ['a rect past the bottom edge', sampleFrame({ rects: [{ ...pngRect, y: 41 }] }), 'invalidRect'],
    ['a negative rect origin', sampleFrame({ rects: [{ ...pngRect, x: -1 }] }), 'invalidRect'],
    ['a zero-width rect', sampleFrame({ rects: [{ ...pngRect, width: 0 }] }), 'invalidRect'],
    ['a zero-height rect', sampleFrame({ rects: [{ ...pngRect, height: 0 }] }), 'invalidRect'],
    ['raw data shorter than w×h×4', sampleFrame({ rects: [{ ...rawRect, data: filled(15, 0) }] }), 'lengthMismatch'],
    ['raw data longer than w×h×4', sampleFrame({ rects: [{ ...rawRect, data: filled(17, 0) }] }), 'lengthMismatch'],
    ['empty png data', sampleFrame({ rects: [{ ...pngRect, data: new Uint8Array(0) }] }), 'lengthMismatch'],
    ['an unknown codec', sampleFrame({ rects: [{ ...pngRect, codec: 'webp' as 'png' }] }), 'invalidCodec'],
    ['an inherited property name as codec', sampleFrame({ rects: [{ ...pngRect, codec: 'toString' as 'png' }] }), 'invalidCodec'],
  ])('%s', (_name, frame, reason) => {
    expectReason(() => encodeFrame(frame), reason);
  });
});

describe('decodeFrame refuses', () => {
  it.each<[string, Uint8Array, CodecErrorReason]>([
    ['an empty buffer', new Uint8Array(0), 'tooShort'],
    ['a lone version byte', new Uint8Array([1]), 'tooShort'],
    ['a truncated header', valid.subarray(0, FRAME_HEADER_BYTES - 1), 'tooShort'],
    ['version 0', patched(valid, (v) => v.setUint8(0, 0)), 'unsupportedVersion'],
    ['version 2', patched(valid, (v) => v.setUint8(0, 2)), 'unsupportedVersion'],
    ['an unknown type byte', patched(valid, (v) => v.setUint8(1, 0x7f)), 'unknownType'],
    ['type 0', patched(valid, (v) => v.setUint8(1, 0)), 'unknownType'],
    ['a cursor message', patched(valid, (v) => v.setUint8(1, MESSAGE_TYPE_BYTE.cursor)), 'unknownType'],
    ['a chunk message', patched(valid, (v) => v.setUint8(1, MESSAGE_TYPE_BYTE.chunk)), 'unknownType'],
    ['a buffer over FRAME_MAX_BYTES', patched(new Uint8Array(FRAME_MAX_BYTES + 1), (v) => v.setUint16(0, 0x0101)), 'overCap'],
    ['a reserved flag bit', patched(valid, (v) => v.setUint8(FRAME_OFFSET.flags, 0x81)), 'invalidHeader'],
    ['a NaN timestamp', patched(valid, (v) => v.setFloat64(FRAME_OFFSET.captureTsMs, Number.NaN, true)), 'invalidHeader'],
    ['a negative timestamp', patched(valid, (v) => v.setFloat64(FRAME_OFFSET.captureTsMs, -5, true)), 'invalidHeader'],
    ['a zero screen width', patched(valid, (v) => v.setUint16(FRAME_OFFSET.screenWidth, 0, true)), 'invalidScreen'],
    ['a zero screen height', patched(valid, (v) => v.setUint16(FRAME_OFFSET.screenHeight, 0, true)), 'invalidScreen'],
    ['a screen over SCREEN_MAX_SIDE_PX', patched(valid, (v) => v.setUint16(FRAME_OFFSET.screenWidth, SCREEN_MAX_SIDE_PX + 1, true)), 'invalidScreen'],
    ['a rect count over FRAME_MAX_RECTS', patched(valid, (v) => v.setUint16(FRAME_OFFSET.rectCount, FRAME_MAX_RECTS + 1, true)), 'overCap'],
    ['a rect count whose headers cannot fit', patched(valid, (v) => v.setUint16(FRAME_OFFSET.rectCount, 200, true)), 'tooShort'],
    ['one rect more than the bytes hold', patched(valid, (v) => v.setUint16(FRAME_OFFSET.rectCount, 4, true)), 'tooShort'],
    ['a truncated rect header', valid.subarray(0, rect1 + RECT_HEADER_BYTES - 1), 'tooShort'],
    ['truncated rect data', valid.subarray(0, valid.length - 1), 'tooShort'],
    ['a declared length one past the end', patched(valid, (v) => v.setUint32(rect2 + RECT_OFFSET.dataLength, 34, true)), 'tooShort'],
    ['a declared length short of the actual data', patched(valid, (v) => v.setUint32(rect2 + RECT_OFFSET.dataLength, 32, true)), 'lengthMismatch'],
    ['a declared length over FRAME_MAX_BYTES', patched(valid, (v) => v.setUint32(rect1 + RECT_OFFSET.dataLength, 0xffff_ffff, true)), 'overCap'],
    ['bytes after the last rect', Uint8Array.from([...valid, 0]), 'lengthMismatch'],
    ['fewer rects than the bytes hold', patched(valid, (v) => v.setUint16(FRAME_OFFSET.rectCount, 2, true)), 'lengthMismatch'],
    ['a rect starting past the screen', patched(valid, (v) => v.setUint16(rect2 + RECT_OFFSET.x, 64, true)), 'invalidRect'],
    ['a rect extending past the bottom', patched(valid, (v) => v.setUint16(rect2 + RECT_OFFSET.y, 41, true)), 'invalidRect'],
    ['a zero-width rect', patched(valid, (v) => v.setUint16(rect1 + RECT_OFFSET.width, 0, true)), 'invalidRect'],
    ['a zero-height rect', patched(valid, (v) => v.setUint16(rect1 + RECT_OFFSET.height, 0, true)), 'invalidRect'],
    ['raw data length ≠ w×h×4', patched(valid, (v) => v.setUint16(FRAME_HEADER_BYTES + RECT_OFFSET.width, 3, true)), 'lengthMismatch'],
    ['empty jpeg data', encodeFrameUnchecked(0), 'lengthMismatch'],
    ['codec byte 0', patched(valid, (v) => v.setUint8(rect1 + RECT_OFFSET.codec, 0)), 'invalidCodec'],
    ['an unknown codec byte', patched(valid, (v) => v.setUint8(rect1 + RECT_OFFSET.codec, 0x42)), 'invalidCodec'],
  ])('%s', (_name, bytes, reason) => {
    expectReason(() => decodeFrame(bytes), reason);
  });
});

/** A one-rect jpeg frame whose data length is `dataLength` (encodeFrame would refuse 0). */
function encodeFrameUnchecked(dataLength: number): Uint8Array {
  const frame = sampleFrame({ rects: [{ ...jpegRect, data: new Uint8Array(1) }] });
  const bytes = encodeFrame(frame);
  const out = bytes.subarray(0, bytes.length - 1 + dataLength).slice();
  new DataView(out.buffer).setUint32(FRAME_HEADER_BYTES + RECT_OFFSET.dataLength, dataLength, true);
  return out;
}

describe('decodeFrame under random input', () => {
  function decodeOnlyThrowsCodecErrors(bytes: Uint8Array): void {
    let decoded: Frame;
    try {
      decoded = decodeFrame(bytes);
    } catch (err) {
      expect(err).toBeInstanceOf(CodecError);
      return;
    }
    // Whatever decodes is canonical: it re-encodes to the same bytes.
    expect(encodeFrame(decoded)).toEqual(bytes);
  }

  it('throws only CodecError for 2,000 random byte arrays', () => {
    const random = prng(0xc0dec);
    for (let n = 0; n < 2000; n++) {
      const bytes = new Uint8Array(Math.floor(random() * 300));
      for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
      // Half the time keep a valid prefix so the search reaches past the first checks.
      if (n % 2 === 0 && bytes.length >= 2) bytes.set([1, MESSAGE_TYPE_BYTE.frame]);
      decodeOnlyThrowsCodecErrors(bytes);
    }
  });

  it('throws only CodecError for 2,000 random mutations of a valid frame', () => {
    const random = prng(42);
    for (let n = 0; n < 2000; n++) {
      const bytes = valid.slice();
      const flips = 1 + Math.floor(random() * 4);
      for (let k = 0; k < flips; k++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
      const cut = random() < 0.2 ? Math.floor(random() * bytes.length) : bytes.length;
      decodeOnlyThrowsCodecErrors(bytes.subarray(0, cut));
    }
  });
});

describe('rectImageScale', () => {
  const jpeg = { width: 130, height: 67, codec: 'jpeg' } as const;
  it('accepts the rect size and the sizes smaller by 2 and 4 (rounded up)', () => {
    expect(rectImageScale(jpeg, 130, 67)).toBe(1);
    expect(rectImageScale(jpeg, 65, 34)).toBe(2);
    expect(rectImageScale(jpeg, 33, 17)).toBe(4);
  });
  it('refuses any other size: rounded down, mixed factors, larger, factor 3 or 8', () => {
    expect(rectImageScale(jpeg, 32, 16)).toBeNull();
    expect(rectImageScale(jpeg, 65, 17)).toBeNull();
    expect(rectImageScale(jpeg, 131, 67)).toBeNull();
    expect(rectImageScale(jpeg, 44, 23)).toBeNull();
    expect(rectImageScale(jpeg, 17, 9)).toBeNull();
    expect(rectImageScale(jpeg, 0, 0)).toBeNull();
  });
  it('a raw rect is never scaled', () => {
    expect(rectImageScale({ width: 8, height: 8, codec: 'raw' }, 8, 8)).toBe(1);
    expect(rectImageScale({ width: 8, height: 8, codec: 'raw' }, 4, 4)).toBeNull();
  });
});
