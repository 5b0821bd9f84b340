import { readStamp, writeStamp } from '@guruconnect/shared/codec';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';

const WIDTH = 320;
const HEIGHT = 200;

/** A busy RGBA image (coloured noise) so the JPEG encoder has real work around the stamp. */
function busyImage(seed: number): Uint8Array {
  const rgba = new Uint8Array(WIDTH * HEIGHT * 4);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < rgba.length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    rgba[i] = x & 0xff;
    rgba[i + 1] = (x >>> 8) & 0xff;
    rgba[i + 2] = (x >>> 16) & 0xff;
    rgba[i + 3] = 255;
  }
  return rgba;
}

async function jpegRoundTrip(rgba: Uint8Array, quality: number, chromaSubsampling: '4:2:0' | '4:4:4'): Promise<Uint8Array> {
  const jpeg = await sharp(rgba, { raw: { width: WIDTH, height: HEIGHT, channels: 4 } })
    .jpeg({ quality, mozjpeg: false, chromaSubsampling })
    .toBuffer();
  const { data, info } = await sharp(jpeg).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  expect(info).toMatchObject({ width: WIDTH, height: HEIGHT, channels: 4 });
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

describe('stamp through JPEG', () => {
  it.each([
    [50, '4:2:0'],
    [80, '4:2:0'],
    [50, '4:4:4'],
    [95, '4:4:4'],
  ] as const)('reads back seq and timestamp after JPEG quality %i, chroma %s', async (quality, chroma) => {
    for (const [i, value] of [
      { seq: 0, captureTsMs: 0 },
      { seq: 4_000_000_001, captureTsMs: 1_767_225_600_999 },
      { seq: 0x5555_5555, captureTsMs: 0xaaaa_aaaa_aaaa },
    ].entries()) {
      const rgba = busyImage(i + quality);
      writeStamp(rgba, WIDTH, HEIGHT, value);
      expect(readStamp(await jpegRoundTrip(rgba, quality, chroma), WIDTH, HEIGHT)).toEqual(value);
    }
  });

  it('reads nothing from a JPEG of an image without a stamp', async () => {
    expect(readStamp(await jpegRoundTrip(busyImage(7), 80, '4:2:0'), WIDTH, HEIGHT)).toBeNull();
  });
});
