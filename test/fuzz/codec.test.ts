// The binary codec on hostile bytes: decoders, the reassembler and readChunkHeader may refuse
// anything, but only with a CodecError — never a RangeError from a DataView, a TypeError, a hang
// or a buffer sized by an unchecked header. Valid messages are mutated byte by byte, truncated,
// extended and re-headed; encoders get out-of-range values. FUZZ_RUNS sets the runs per property.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CHUNK_HEADER_BYTES,
  CodecError,
  FrameReassembler,
  chunkFrame,
  decodeCursor,
  decodeFrame,
  encodeCursor,
  encodeFrame,
  peekMessageType,
  readChunkHeader,
  type CursorUpdate,
  type Frame,
  type FrameRect,
} from '@guruconnect/shared/codec';
import { FRAME_MAX_BYTES } from '@guruconnect/shared/limits';
import { fuzzRuns } from '../security/harness.ts';

const RUNS = fuzzRuns(400);

/** Runs `fn`; anything thrown must be a CodecError. Returns the result or the error. */
function onlyCodecErrors<T>(fn: () => T): T | CodecError {
  try {
    return fn();
  } catch (err) {
    if (err instanceof CodecError) return err;
    throw new Error(`non-CodecError thrown: ${String(err)}`, { cause: err });
  }
}

// ---- valid messages ---------------------------------------------------------------------------------

const rectArb = (w: number, h: number): fc.Arbitrary<FrameRect> =>
  fc
    .record({ x: fc.nat(w - 1), y: fc.nat(h - 1), codec: fc.constantFrom('raw' as const, 'jpeg' as const, 'png' as const) })
    .chain(({ x, y, codec }) =>
      fc.record({ width: fc.integer({ min: 1, max: Math.min(8, w - x) }), height: fc.integer({ min: 1, max: Math.min(8, h - y) }) }).chain(({ width, height }) =>
        (codec === 'raw' ? fc.uint8Array({ minLength: width * height * 4, maxLength: width * height * 4 }) : fc.uint8Array({ minLength: 1, maxLength: 64 })).map((data) => ({ x, y, width, height, codec, data })),
      ),
    );
const frameArb: fc.Arbitrary<Frame> = fc
  .record({ screenWidth: fc.integer({ min: 1, max: 64 }), screenHeight: fc.integer({ min: 1, max: 64 }) })
  .chain(({ screenWidth, screenHeight }) =>
    fc.record({
      seq: fc.nat({ max: 0xffff_ffff }),
      captureTsMs: fc.double({ min: 0, max: 1e15, noNaN: true }),
      keyframe: fc.boolean(),
      screenWidth: fc.constant(screenWidth),
      screenHeight: fc.constant(screenHeight),
      rects: fc.array(rectArb(screenWidth, screenHeight), { maxLength: 4 }),
    }),
  );
const cursorArb: fc.Arbitrary<CursorUpdate> = fc.record(
  {
    x: fc.nat(16_383),
    y: fc.nat(16_383),
    visible: fc.boolean(),
    shape: fc
      .record({ width: fc.integer({ min: 1, max: 8 }), height: fc.integer({ min: 1, max: 8 }), codec: fc.constantFrom('raw' as const, 'png' as const) })
      .chain(({ width, height, codec }) =>
        fc.record({
          width: fc.constant(width),
          height: fc.constant(height),
          hotX: fc.nat(width - 1),
          hotY: fc.nat(height - 1),
          codec: fc.constant(codec),
          data: codec === 'raw' ? fc.uint8Array({ minLength: width * height * 4, maxLength: width * height * 4 }) : fc.uint8Array({ minLength: 1, maxLength: 32 }),
        }),
      ),
  },
  { requiredKeys: ['x', 'y', 'visible'] },
);

// ---- mutations --------------------------------------------------------------------------------------

type Mutation = (b: Uint8Array) => Uint8Array;
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ at: fc.nat(), v: fc.integer({ min: 0, max: 255 }) }).map(({ at, v }) => (b: Uint8Array) => {
    const c = b.slice();
    if (c.length) c[at % c.length] = v;
    return c;
  }),
  fc.nat().map((n) => (b: Uint8Array) => b.slice(0, b.length ? n % b.length : 0)),
  fc.uint8Array({ minLength: 1, maxLength: 16 }).map((tail) => (b: Uint8Array) => Uint8Array.from([...b, ...tail])),
  // Overwrite a little-endian u16/u32 field with an extreme.
  fc.record({ at: fc.nat(40), wide: fc.boolean(), v: fc.constantFrom(0, 1, 0xffff, 0xffff_ffff, 0x7fff_ffff, 0x8000_0000, FRAME_MAX_BYTES, FRAME_MAX_BYTES + 1) }).map(({ at, wide, v }) => (b: Uint8Array) => {
    const c = b.slice();
    const view = new DataView(c.buffer);
    const size = wide ? 4 : 2;
    if (c.length >= size) {
      const o = at % (c.length - size + 1);
      if (wide) view.setUint32(o, v >>> 0, true);
      else view.setUint16(o, v & 0xffff, true);
    }
    return c;
  }),
  // A view into a larger buffer at an odd offset (decoders must honour byteOffset).
  fc.nat(7).map((pad) => (b: Uint8Array) => {
    const big = new Uint8Array(b.length + pad + 3).fill(0xee);
    big.set(b, pad);
    return big.subarray(pad, pad + b.length);
  }),
);
const mutatedArb = (validArb: fc.Arbitrary<Uint8Array>) => fc.tuple(validArb, fc.array(mutationArb, { minLength: 1, maxLength: 4 })).map(([b, ms]) => ms.reduce((acc, m) => m(acc), b));
const randomBytesArb = fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 2048 }), fc.uint8Array({ minLength: 2, maxLength: 64 }).map((b) => ((b[0] = 1), b)));

const decoders: Array<[string, (b: Uint8Array) => unknown]> = [
  ['peekMessageType', peekMessageType],
  ['decodeFrame', decodeFrame],
  ['decodeCursor', decodeCursor],
  ['readChunkHeader', (b) => readChunkHeader(b)],
  ['readChunkHeader with a small cap', (b) => readChunkHeader(b, 100)],
  ['FrameReassembler.push', (b) => new FrameReassembler().push(b)],
];

describe('decoders on random and mutated bytes throw only CodecError', () => {
  const encoded = fc.oneof(frameArb.map(encodeFrame), cursorArb.map(encodeCursor), fc.tuple(frameArb, fc.integer({ min: CHUNK_HEADER_BYTES + 1, max: 256 })).chain(([f, max]) => fc.constantFrom(...chunkFrame(encodeFrame(f), 1, max))));
  it.each(decoders)('%s', (_name, decode) => {
    fc.assert(fc.property(fc.oneof(randomBytesArb, mutatedArb(encoded)), (bytes) => void onlyCodecErrors(() => decode(bytes))), { numRuns: RUNS });
  });
});

describe('valid messages survive the trip', () => {
  it('decode(encode(frame)) re-encodes byte for byte, and every chunking reassembles to it', () => {
    fc.assert(
      fc.property(frameArb, fc.integer({ min: CHUNK_HEADER_BYTES + 1, max: 300 }), fc.nat({ max: 0xffff_ffff }), (frame, max, id) => {
        const bytes = encodeFrame(frame);
        expect(encodeFrame(decodeFrame(bytes))).toEqual(bytes);
        const r = new FrameReassembler();
        const chunks = chunkFrame(bytes, id, max);
        const out = chunks.map((c) => r.push(c));
        expect(out.at(-1)).toEqual(bytes);
        expect(out.slice(0, -1).every((x) => x === null)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('FrameReassembler on hostile streams', () => {
  it('a stream of valid, mutated, reordered and foreign chunks only ever throws CodecError and returns whole frames', () => {
    const streamArb = fc
      .array(fc.tuple(frameArb, fc.integer({ min: CHUNK_HEADER_BYTES + 1, max: 128 }), fc.nat({ max: 0xffff_ffff })), { minLength: 1, maxLength: 4 })
      .chain((frames) => {
        const all = frames.flatMap(([f, max, id]) => chunkFrame(encodeFrame(f), id, max));
        const pick = fc.oneof(fc.constantFrom(...all), mutatedArb(fc.constantFrom(...all)), randomBytesArb);
        return fc.tuple(fc.constant(frames.map(([f]) => encodeFrame(f))), fc.oneof(fc.constant(all), fc.shuffledSubarray(all), fc.array(pick, { maxLength: 40 })));
      });
    fc.assert(
      fc.property(streamArb, fc.integer({ min: 1, max: FRAME_MAX_BYTES }), ([, stream], cap) => {
        const r = new FrameReassembler({ maxFrameBytes: cap, maxChunkBytes: 256 });
        for (const chunk of stream) {
          const out = onlyCodecErrors(() => r.push(chunk));
          if (out instanceof Uint8Array) {
            expect(out.length).toBeGreaterThan(0);
            expect(out.length).toBeLessThanOrEqual(cap);
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('a first chunk declaring a huge frame allocates nothing beyond the cap', () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffff_ffff }), fc.integer({ min: 1, max: 0xffff }), (total, count) => {
        const c = new Uint8Array(CHUNK_HEADER_BYTES + 4);
        const v = new DataView(c.buffer);
        v.setUint8(0, 1);
        v.setUint8(1, 3);
        v.setUint16(8, count, true);
        v.setUint32(10, total, true);
        void onlyCodecErrors(() => new FrameReassembler({ maxFrameBytes: 1024 }).push(c));
      }),
      { numRuns: RUNS },
    );
  });
});

describe('encoders on out-of-range input throw only CodecError', () => {
  const num = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(-1, 0, 0.5, 2 ** 32, 2 ** 53, Number.NaN, Infinity, -Infinity, 16_384, 16_385, 65_536));
  const anyRect = fc.record({ x: num, y: num, width: num, height: num, codec: fc.constantFrom('raw', 'jpeg', 'png', 'gif', '__proto__', 'toString'), data: fc.uint8Array({ maxLength: 64 }) });
  it('encodeFrame', () => {
    fc.assert(
      fc.property(fc.record({ seq: num, captureTsMs: num, keyframe: fc.boolean(), screenWidth: num, screenHeight: num, rects: fc.array(anyRect, { maxLength: 3 }) }), (frame) => void onlyCodecErrors(() => encodeFrame(frame as Frame))),
      { numRuns: RUNS },
    );
  });
  it('encodeCursor', () => {
    fc.assert(
      fc.property(fc.record({ x: num, y: num, visible: fc.boolean(), shape: fc.option(fc.record({ width: num, height: num, hotX: num, hotY: num, codec: fc.constantFrom('raw', 'png', 'jpeg', 'constructor'), data: fc.uint8Array({ maxLength: 64 }) }), { nil: undefined }) }), (c) => void onlyCodecErrors(() => encodeCursor(c as CursorUpdate))),
      { numRuns: RUNS },
    );
  });
  it('chunkFrame and the reassembler options', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), num, num, num, (bytes, id, max, cap) => {
        void onlyCodecErrors(() => chunkFrame(bytes, id, max));
        void onlyCodecErrors(() => new FrameReassembler({ maxFrameBytes: cap, maxChunkBytes: max }));
      }),
      { numRuns: RUNS },
    );
  });
});
