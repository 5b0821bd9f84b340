import { describe, expect, it } from 'vitest';
import { CURSOR_MAX_MESSAGE_BYTES, CURSOR_MAX_SIDE_PX, SCREEN_MAX_SIDE_PX } from '../limits.ts';
import {
  CODEC_BYTE,
  CURSOR_HEADER_BYTES,
  CURSOR_OFFSET,
  CURSOR_SHAPE_HEADER_BYTES,
  CURSOR_SHAPE_OFFSET,
  MESSAGE_TYPE_BYTE,
} from './constants.ts';
import { decodeCursor, encodeCursor, type CursorShape, type CursorUpdate } from './cursor.ts';
import { CodecError, type CodecErrorReason } from './errors.ts';
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
  for (let i = 0; i < length; i++) bytes[i] = (i * 17 + seed) & 0xff;
  return bytes;
}

function patched(bytes: Uint8Array, edit: (view: DataView) => void): Uint8Array {
  const copy = bytes.slice();
  edit(new DataView(copy.buffer));
  return copy;
}

const rawShape: CursorShape = { width: 4, height: 3, hotX: 1, hotY: 2, codec: 'raw', data: filled(48, 1) };
const pngShape: CursorShape = { width: 32, height: 32, hotX: 0, hotY: 0, codec: 'png', data: filled(57, 2) };
const withShape = encodeCursor({ x: 100, y: 200, visible: true, shape: pngShape });
const shapeless = encodeCursor({ x: 5, y: 6, visible: false });
const S = CURSOR_HEADER_BYTES;

describe('encodeCursor / decodeCursor round trip', () => {
  it.each<[string, CursorUpdate]>([
    ['a visible position without a shape', { x: 10, y: 20, visible: true }],
    ['a hidden pointer', { x: 0, y: 0, visible: false }],
    ['the far corner of the largest screen', { x: SCREEN_MAX_SIDE_PX - 1, y: SCREEN_MAX_SIDE_PX - 1, visible: true }],
    ['a raw shape', { x: 1, y: 2, visible: true, shape: rawShape }],
    ['a png shape', { x: 1, y: 2, visible: true, shape: pngShape }],
    ['a hidden pointer with a new shape', { x: 1, y: 2, visible: false, shape: rawShape }],
    [
      'a 256×256 png shape with the hotspot in its last pixel',
      { x: 3, y: 4, visible: true, shape: { width: CURSOR_MAX_SIDE_PX, height: CURSOR_MAX_SIDE_PX, hotX: 255, hotY: 255, codec: 'png', data: filled(4000, 3) } },
    ],
    ['the largest raw shape that fits one message (127×127)', { x: 3, y: 4, visible: true, shape: { width: 127, height: 127, hotX: 0, hotY: 0, codec: 'raw', data: filled(127 * 127 * 4, 4) } }],
  ])('round-trips %s', (_name, cursor) => {
    const bytes = encodeCursor(cursor);
    expect(peekMessageType(bytes)).toBe('cursor');
    expect(bytes.length).toBeLessThanOrEqual(CURSOR_MAX_MESSAGE_BYTES);
    const decoded = decodeCursor(bytes);
    expect(decoded).toEqual(cursor);
    expect(encodeCursor(decoded)).toEqual(bytes);
  });

  it('omits the shape key when the message carries none', () => {
    expect('shape' in decodeCursor(shapeless)).toBe(false);
  });

  it('returns shape data as a zero-copy view into the input', () => {
    expect(decodeCursor(withShape).shape?.data.buffer).toBe(withShape.buffer);
  });

  it('writes the documented layout', () => {
    const view = new DataView(withShape.buffer);
    expect([withShape[0], withShape[1], withShape[2]]).toEqual([1, MESSAGE_TYPE_BYTE.cursor, 0b11]);
    expect(view.getUint16(CURSOR_OFFSET.x, true)).toBe(100);
    expect(view.getUint16(CURSOR_OFFSET.y, true)).toBe(200);
    expect(view.getUint16(S + CURSOR_SHAPE_OFFSET.width, true)).toBe(32);
    expect(view.getUint8(S + CURSOR_SHAPE_OFFSET.codec)).toBe(CODEC_BYTE.png);
    expect(view.getUint32(S + CURSOR_SHAPE_OFFSET.dataLength, true)).toBe(57);
    expect(shapeless.length).toBe(CURSOR_HEADER_BYTES);
  });
});

describe('encodeCursor refuses', () => {
  it.each<[string, CursorUpdate, CodecErrorReason]>([
    ['a negative position', { x: -1, y: 0, visible: true }, 'invalidCursor'],
    ['a position off the largest screen', { x: 0, y: SCREEN_MAX_SIDE_PX, visible: true }, 'invalidCursor'],
    ['a fractional position', { x: 1.5, y: 0, visible: true }, 'invalidCursor'],
    ['a zero-width shape', { x: 0, y: 0, visible: true, shape: { ...pngShape, width: 0 } }, 'invalidCursor'],
    ['a shape over CURSOR_MAX_SIDE_PX', { x: 0, y: 0, visible: true, shape: { ...pngShape, height: CURSOR_MAX_SIDE_PX + 1 } }, 'invalidCursor'],
    ['a hotspot outside the shape', { x: 0, y: 0, visible: true, shape: { ...rawShape, hotX: 4 } }, 'invalidCursor'],
    ['a jpeg shape', { x: 0, y: 0, visible: true, shape: { ...pngShape, codec: 'jpeg' as 'png' } }, 'invalidCodec'],
    ['raw data ≠ w×h×4', { x: 0, y: 0, visible: true, shape: { ...rawShape, data: filled(47, 0) } }, 'lengthMismatch'],
    ['empty png data', { x: 0, y: 0, visible: true, shape: { ...pngShape, data: new Uint8Array(0) } }, 'lengthMismatch'],
    [
      'a raw 128×128 shape (over CURSOR_MAX_MESSAGE_BYTES)',
      { x: 0, y: 0, visible: true, shape: { width: 128, height: 128, hotX: 0, hotY: 0, codec: 'raw', data: new Uint8Array(128 * 128 * 4) } },
      'overCap',
    ],
  ])('%s', (_name, cursor, reason) => {
    expectReason(() => encodeCursor(cursor), reason);
  });
});

describe('decodeCursor refuses', () => {
  it.each<[string, Uint8Array, CodecErrorReason]>([
    ['an empty buffer', new Uint8Array(0), 'tooShort'],
    ['a truncated header', shapeless.subarray(0, CURSOR_HEADER_BYTES - 1), 'tooShort'],
    ['an unknown version', patched(shapeless, (v) => v.setUint8(0, 9)), 'unsupportedVersion'],
    ['an unknown type byte', patched(shapeless, (v) => v.setUint8(1, 0xee)), 'unknownType'],
    ['a frame message', patched(shapeless, (v) => v.setUint8(1, MESSAGE_TYPE_BYTE.frame)), 'unknownType'],
    ['a buffer over CURSOR_MAX_MESSAGE_BYTES', patched(new Uint8Array(CURSOR_MAX_MESSAGE_BYTES + 1), (v) => v.setUint16(0, 0x0102)), 'overCap'],
    ['a reserved flag bit', patched(shapeless, (v) => v.setUint8(CURSOR_OFFSET.flags, 0x04)), 'invalidHeader'],
    ['a position off the largest screen', patched(shapeless, (v) => v.setUint16(CURSOR_OFFSET.x, SCREEN_MAX_SIDE_PX, true)), 'invalidCursor'],
    ['bytes after a shapeless cursor', Uint8Array.from([...shapeless, 0]), 'lengthMismatch'],
    ['a shape flag without a shape', patched(shapeless, (v) => v.setUint8(CURSOR_OFFSET.flags, 0x02)), 'tooShort'],
    ['a truncated shape header', withShape.subarray(0, S + CURSOR_SHAPE_HEADER_BYTES - 1), 'tooShort'],
    ['truncated shape data', withShape.subarray(0, withShape.length - 1), 'tooShort'],
    ['a declared length short of the data', patched(withShape, (v) => v.setUint32(S + CURSOR_SHAPE_OFFSET.dataLength, 56, true)), 'lengthMismatch'],
    ['a declared length past the end', patched(withShape, (v) => v.setUint32(S + CURSOR_SHAPE_OFFSET.dataLength, 0xffff_ffff, true)), 'tooShort'],
    ['a zero-size shape', patched(withShape, (v) => v.setUint16(S + CURSOR_SHAPE_OFFSET.width, 0, true)), 'invalidCursor'],
    ['a shape over CURSOR_MAX_SIDE_PX', patched(withShape, (v) => v.setUint16(S + CURSOR_SHAPE_OFFSET.height, 257, true)), 'invalidCursor'],
    ['a hotspot outside the shape', patched(withShape, (v) => v.setUint16(S + CURSOR_SHAPE_OFFSET.hotY, 32, true)), 'invalidCursor'],
    ['the jpeg codec', patched(withShape, (v) => v.setUint8(S + CURSOR_SHAPE_OFFSET.codec, CODEC_BYTE.jpeg)), 'invalidCodec'],
    ['an unknown codec byte', patched(withShape, (v) => v.setUint8(S + CURSOR_SHAPE_OFFSET.codec, 0)), 'invalidCodec'],
    ['raw data ≠ w×h×4', patched(withShape, (v) => v.setUint8(S + CURSOR_SHAPE_OFFSET.codec, CODEC_BYTE.raw)), 'lengthMismatch'],
  ])('%s', (_name, bytes, reason) => {
    expectReason(() => decodeCursor(bytes), reason);
  });
});

describe('decodeCursor under random input', () => {
  function decodeOnlyThrowsCodecErrors(bytes: Uint8Array): void {
    let decoded: CursorUpdate;
    try {
      decoded = decodeCursor(bytes);
    } catch (err) {
      expect(err).toBeInstanceOf(CodecError);
      return;
    }
    expect(encodeCursor(decoded)).toEqual(bytes);
  }

  it('throws only CodecError for 2,000 random byte arrays', () => {
    const random = prng(7);
    for (let n = 0; n < 2000; n++) {
      const bytes = new Uint8Array(Math.floor(random() * 100));
      for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
      if (n % 2 === 0 && bytes.length >= 3) bytes.set([1, MESSAGE_TYPE_BYTE.cursor, n & 3]);
      decodeOnlyThrowsCodecErrors(bytes);
    }
  });

  it('throws only CodecError for 2,000 random mutations of valid cursors', () => {
    const random = prng(8);
    const seeds = [withShape, shapeless, encodeCursor({ x: 9, y: 9, visible: true, shape: rawShape })];
    for (let n = 0; n < 2000; n++) {
      const bytes = (seeds[n % seeds.length] ?? shapeless).slice();
      const flips = 1 + Math.floor(random() * 3);
      for (let k = 0; k < flips; k++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
      const cut = random() < 0.2 ? Math.floor(random() * bytes.length) : bytes.length;
      decodeOnlyThrowsCodecErrors(bytes.subarray(0, cut));
    }
  });
});
