/**
 * A machine-readable "stamp" drawn into the top-left corner of a screen image: it carries the
 * frame's `seq` and capture time so a test (or a latency probe) can read them back from what a
 * viewer actually displays, after lossy encoding.
 *
 * Layout: a grid of `STAMP_COLUMNS × STAMP_ROWS` blocks of `STAMP_BLOCK_PX × STAMP_BLOCK_PX`
 * pixels at (0, 0), each block pure black (bit 0) or pure white (bit 1). Blocks line up with the
 * 8×8 JPEG DCT grid, so a uniform block survives JPEG (quality ≥ 50, any chroma subsampling) as
 * a nearly uniform block. Bits are read row-major, most significant bit first:
 *
 * | bits    | field                                                        |
 * |---------|--------------------------------------------------------------|
 * | 0..15   | start marker `STAMP_MARKER` (0xA53C)                         |
 * | 16..47  | `seq`, u32                                                   |
 * | 48..95  | `captureTsMs`, integer ms, u48                               |
 * | 96..111 | CRC-16/CCITT-FALSE over the 10 bytes of `seq` ‖ `captureTsMs` (big-endian) |
 *
 * A reader that finds no marker, a checksum mismatch or an ambiguous (grey) block returns `null`
 * rather than a wrong value.
 */

/** Side of one stamp block in pixels (one JPEG DCT block). */
export const STAMP_BLOCK_PX = 8;
/** Blocks per stamp row. */
export const STAMP_COLUMNS = 16;
/** Rows of blocks. */
export const STAMP_ROWS = 7;
/** Width of the stamp region in pixels, from x = 0. */
export const STAMP_WIDTH_PX = STAMP_COLUMNS * STAMP_BLOCK_PX;
/** Height of the stamp region in pixels, from y = 0. */
export const STAMP_HEIGHT_PX = STAMP_ROWS * STAMP_BLOCK_PX;
/** The 16-bit start marker in bits 0..15. */
export const STAMP_MARKER = 0xa53c;
/** Largest `captureTsMs` a stamp carries (48 bits: year 10889). */
export const STAMP_MAX_TS_MS = 2 ** 48 - 1;

/** What a stamp carries. `captureTsMs` is whole milliseconds (a writer floors fractions). */
export interface StampValue {
  readonly seq: number;
  readonly captureTsMs: number;
}

const BITS = STAMP_COLUMNS * STAMP_ROWS;
const PAYLOAD_BYTES = 10;
/** Mean luma at or below this reads as 0, at or above `ONE_MIN` as 1; in between is ambiguous. */
const ZERO_MAX = 80;
const ONE_MIN = 175;

/** CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF). */
function crc16(bytes: Uint8Array): number {
  let crc = 0xffff;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

function payloadBytes(seq: number, ts: number): Uint8Array {
  const bytes = new Uint8Array(PAYLOAD_BYTES);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, seq);
  view.setUint16(4, Math.floor(ts / 2 ** 32));
  view.setUint32(6, ts % 2 ** 32);
  return bytes;
}

function assertImage(rgba: Uint8Array, width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < STAMP_WIDTH_PX || height < STAMP_HEIGHT_PX) {
    throw new RangeError(`image ${width}×${height} is smaller than the ${STAMP_WIDTH_PX}×${STAMP_HEIGHT_PX} stamp`);
  }
  if (rgba.length < width * height * 4) throw new RangeError('rgba is shorter than width × height × 4');
}

/**
 * Draws the stamp for `value` into the top-left `STAMP_WIDTH_PX × STAMP_HEIGHT_PX` pixels of an
 * RGBA8 image (row-major, `width × height × 4` bytes), alpha 255. `captureTsMs` is floored.
 *
 * @throws RangeError if the image is smaller than the stamp, `seq` is not a u32, or
 * `captureTsMs` is not finite in 0..`STAMP_MAX_TS_MS`.
 */
export function writeStamp(rgba: Uint8Array, width: number, height: number, value: StampValue): void {
  assertImage(rgba, width, height);
  const { seq } = value;
  if (!Number.isInteger(seq) || seq < 0 || seq > 0xffff_ffff) throw new RangeError('seq must be a u32');
  const ts = Math.floor(value.captureTsMs);
  if (!Number.isFinite(ts) || ts < 0 || ts > STAMP_MAX_TS_MS) throw new RangeError('captureTsMs out of range');

  const payload = payloadBytes(seq, ts);
  const bytes = new Uint8Array(BITS / 8);
  bytes[0] = STAMP_MARKER >> 8;
  bytes[1] = STAMP_MARKER & 0xff;
  bytes.set(payload, 2);
  const crc = crc16(payload);
  bytes[12] = crc >> 8;
  bytes[13] = crc & 0xff;

  const stride = width * 4;
  for (let bit = 0; bit < BITS; bit++) {
    const level = ((bytes[bit >> 3] ?? 0) >> (7 - (bit & 7))) & 1 ? 255 : 0;
    const x0 = (bit % STAMP_COLUMNS) * STAMP_BLOCK_PX;
    const y0 = Math.floor(bit / STAMP_COLUMNS) * STAMP_BLOCK_PX;
    for (let y = y0; y < y0 + STAMP_BLOCK_PX; y++) {
      let i = y * stride + x0 * 4;
      for (let x = 0; x < STAMP_BLOCK_PX; x++, i += 4) {
        rgba[i] = level;
        rgba[i + 1] = level;
        rgba[i + 2] = level;
        rgba[i + 3] = 255;
      }
    }
  }
}

/** Mean luma (0..255) of the inner 4×4 pixels of a block; the edges are where JPEG rings. */
function blockLuma(rgba: Uint8Array, stride: number, x0: number, y0: number): number {
  let sum = 0;
  for (let y = y0 + 2; y < y0 + 6; y++) {
    let i = y * stride + (x0 + 2) * 4;
    for (let x = 0; x < 4; x++, i += 4) {
      sum += 77 * (rgba[i] ?? 0) + 150 * (rgba[i + 1] ?? 0) + 29 * (rgba[i + 2] ?? 0);
    }
  }
  return sum / (16 * 256);
}

/**
 * Reads a stamp written by `writeStamp` from an RGBA8 image, possibly after lossy encoding.
 * Returns `null` when the image is too small, the marker is absent, a block is neither clearly
 * black nor clearly white, or the checksum disagrees. Never throws.
 */
export function readStamp(rgba: Uint8Array, width: number, height: number): StampValue | null {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < STAMP_WIDTH_PX || height < STAMP_HEIGHT_PX) return null;
  if (rgba.length < width * height * 4) return null;
  const stride = width * 4;
  const bytes = new Uint8Array(BITS / 8);
  for (let bit = 0; bit < BITS; bit++) {
    const luma = blockLuma(rgba, stride, (bit % STAMP_COLUMNS) * STAMP_BLOCK_PX, Math.floor(bit / STAMP_COLUMNS) * STAMP_BLOCK_PX);
    if (luma > ZERO_MAX && luma < ONE_MIN) return null;
    if (luma >= ONE_MIN) bytes[bit >> 3] = (bytes[bit >> 3] ?? 0) | (1 << (7 - (bit & 7)));
  }
  const view = new DataView(bytes.buffer);
  if (view.getUint16(0) !== STAMP_MARKER) return null;
  const payload = bytes.subarray(2, 2 + PAYLOAD_BYTES);
  if (view.getUint16(12) !== crc16(payload)) return null;
  const seq = view.getUint32(2);
  const captureTsMs = view.getUint16(6) * 2 ** 32 + view.getUint32(8);
  return { seq, captureTsMs };
}
