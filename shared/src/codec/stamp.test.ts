import { describe, expect, it } from 'vitest';
import { readStamp, STAMP_BLOCK_PX, STAMP_HEIGHT_PX, STAMP_MAX_TS_MS, STAMP_WIDTH_PX, writeStamp } from './stamp.ts';

function image(width: number, height: number, grey = 90): Uint8Array {
  return new Uint8Array(width * height * 4).fill(grey);
}

describe('stamp', () => {
  it('fits the 8-pixel JPEG grid', () => {
    expect(STAMP_WIDTH_PX % STAMP_BLOCK_PX).toBe(0);
    expect(STAMP_HEIGHT_PX % STAMP_BLOCK_PX).toBe(0);
    expect(STAMP_BLOCK_PX).toBe(8);
  });

  it.each([
    ['zeros', { seq: 0, captureTsMs: 0 }],
    ['a present-day capture', { seq: 12_345, captureTsMs: 1_767_225_600_123 }],
    ['the largest values', { seq: 0xffff_ffff, captureTsMs: STAMP_MAX_TS_MS }],
  ])('round-trips %s through raw pixels', (_name, value) => {
    const rgba = image(320, 240);
    writeStamp(rgba, 320, 240, value);
    expect(readStamp(rgba, 320, 240)).toEqual(value);
  });

  it('floors a fractional timestamp', () => {
    const rgba = image(200, 100);
    writeStamp(rgba, 200, 100, { seq: 7, captureTsMs: 1000.9 });
    expect(readStamp(rgba, 200, 100)).toEqual({ seq: 7, captureTsMs: 1000 });
  });

  it('touches only the stamp region', () => {
    const rgba = image(320, 240);
    writeStamp(rgba, 320, 240, { seq: 1, captureTsMs: 2 });
    for (let y = 0; y < 240; y++) {
      for (let x = 0; x < 320; x++) {
        if (x < STAMP_WIDTH_PX && y < STAMP_HEIGHT_PX) continue;
        if (rgba[(y * 320 + x) * 4] !== 90) throw new Error(`pixel (${x}, ${y}) changed`);
      }
    }
  });

  /** Paints block (`bx`, `by`) of a 320-wide image with one grey level. */
  function paintBlock(rgba: Uint8Array, bx: number, by: number, level: number): void {
    for (let y = by * 8; y < by * 8 + 8; y++) rgba.fill(level, (y * 320 + bx * 8) * 4, (y * 320 + bx * 8 + 8) * 4);
  }

  it.each([
    ['an all-black image', (rgba: Uint8Array) => rgba.fill(0)],
    ['an all-white image', (rgba: Uint8Array) => rgba.fill(255)],
    ['a stamp with one grey block', (rgba: Uint8Array) => paintBlock(rgba, 5, 3, 128)],
    ['a stamp whose marker is damaged', (rgba: Uint8Array) => paintBlock(rgba, 0, 0, 0)],
  ])('returns null for %s', (_name, damage) => {
    const rgba = image(320, 240);
    writeStamp(rgba, 320, 240, { seq: 99, captureTsMs: 1234 });
    damage(rgba);
    expect(readStamp(rgba, 320, 240)).toBeNull();
  });

  it('detects a flipped bit with the checksum instead of returning a wrong value', () => {
    const width = 320;
    let detected = 0;
    for (let bit = 16; bit < 112; bit++) {
      const rgba = image(width, 240);
      writeStamp(rgba, width, 240, { seq: 0x1234_5678, captureTsMs: 1_700_000_000_000 });
      const x0 = (bit % 16) * 8;
      const y0 = Math.floor(bit / 16) * 8;
      for (let y = y0; y < y0 + 8; y++) {
        for (let x = x0; x < x0 + 8; x++) {
          const i = (y * width + x) * 4;
          const flipped = 255 - (rgba[i] ?? 0);
          rgba.fill(flipped, i, i + 3);
        }
      }
      if (readStamp(rgba, width, 240) === null) detected++;
    }
    expect(detected).toBe(96);
  });

  it('returns null for an image smaller than the stamp or a short buffer', () => {
    expect(readStamp(image(64, 64), 64, 64)).toBeNull();
    expect(readStamp(new Uint8Array(10), 320, 240)).toBeNull();
  });

  it.each([
    ['an image too small', 100, 40, { seq: 1, captureTsMs: 1 }],
    ['a negative seq', 320, 240, { seq: -1, captureTsMs: 1 }],
    ['a seq above u32', 320, 240, { seq: 2 ** 32, captureTsMs: 1 }],
    ['a timestamp above 48 bits', 320, 240, { seq: 1, captureTsMs: 2 ** 48 }],
    ['a NaN timestamp', 320, 240, { seq: 1, captureTsMs: Number.NaN }],
  ])('refuses to write %s', (_name, width, height, value) => {
    expect(() => writeStamp(image(width, height), width, height, value)).toThrow(RangeError);
  });
});
