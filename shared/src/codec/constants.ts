/**
 * Wire layout of the binary codec. Every message starts with the same two bytes:
 * `[0] version (u8)`, `[1] message type (u8)`. Multi-byte integers and floats are
 * little-endian. Offsets below are from the start of the message (or of the rect /
 * shape header where the name says so).
 */

/** Version of the binary codec; the first byte of every message. A mismatch is `unsupportedVersion`. */
export const CODEC_VERSION = 1;

/** Byte order of every multi-byte field (`DataView` `littleEndian` argument). */
export const LITTLE_ENDIAN = true;

/** Offset of the version byte and of the message type byte, common to every message. */
export const PREFIX_OFFSET = { version: 0, type: 1 } as const;
/** Size of the common prefix (version + type). */
export const PREFIX_BYTES = 2;

/** The message types a receiver can dispatch on. */
export const MESSAGE_TYPES = ['frame', 'cursor', 'chunk'] as const;
/** A message type: `frame` (screen update), `cursor` (pointer position/shape), `chunk` (fragment of a frame). */
export type MessageType = (typeof MESSAGE_TYPES)[number];
/** Type byte of each message type. Zero is deliberately unused so zeroed memory never decodes. */
export const MESSAGE_TYPE_BYTE = { frame: 0x01, cursor: 0x02, chunk: 0x03 } as const satisfies Record<MessageType, number>;

/** Pixel encodings a frame rect may use: `raw` is RGBA 8 bits per channel, row-major, no padding. */
export const RECT_CODECS = ['raw', 'jpeg', 'png'] as const;
/** Pixel encoding of a frame rect. */
export type RectCodec = (typeof RECT_CODECS)[number];
/** Pixel encodings a cursor shape may use. */
export const CURSOR_CODECS = ['raw', 'png'] as const;
/** Pixel encoding of a cursor shape. */
export type CursorCodec = (typeof CURSOR_CODECS)[number];
/** Codec byte of each pixel encoding (shared by rects and cursor shapes). Zero is unused. */
export const CODEC_BYTE = { raw: 0x01, jpeg: 0x02, png: 0x03 } as const satisfies Record<RectCodec, number>;
/** Bytes per pixel of the `raw` codec (RGBA8). */
export const RAW_BYTES_PER_PIXEL = 4;

/**
 * Frame message header (21 bytes), followed by `rectCount` rects.
 * flags: bit 0 = keyframe; the other bits are reserved and must be zero.
 */
export const FRAME_OFFSET = {
  version: 0, // u8
  type: 1, // u8
  flags: 2, // u8
  seq: 3, // u32
  captureTsMs: 7, // f64, ms since the Unix epoch
  screenWidth: 15, // u16
  screenHeight: 17, // u16
  rectCount: 19, // u16
} as const;
/** Size of the frame header. */
export const FRAME_HEADER_BYTES = 21;
/** Frame flag: the frame carries the complete screen state. */
export const FRAME_FLAG_KEYFRAME = 0x01;
/** Every frame flag bit that has a meaning; any other set bit is `invalidHeader`. */
export const FRAME_FLAGS_KNOWN = FRAME_FLAG_KEYFRAME;

/** Rect header (13 bytes), relative to the start of the rect, followed by `dataLength` bytes. */
export const RECT_OFFSET = {
  x: 0, // u16
  y: 2, // u16
  width: 4, // u16
  height: 6, // u16
  codec: 8, // u8
  dataLength: 9, // u32
} as const;
/** Size of a rect header. */
export const RECT_HEADER_BYTES = 13;

/**
 * Cursor message header (7 bytes). When flag `hasShape` is set, a 13-byte shape header and
 * `dataLength` bytes of shape follow; otherwise the message ends here.
 * flags: bit 0 = visible, bit 1 = hasShape; the other bits are reserved and must be zero.
 */
export const CURSOR_OFFSET = {
  version: 0, // u8
  type: 1, // u8
  flags: 2, // u8
  x: 3, // u16
  y: 5, // u16
} as const;
/** Size of the cursor header. */
export const CURSOR_HEADER_BYTES = 7;
/** Cursor flag: the pointer is visible. */
export const CURSOR_FLAG_VISIBLE = 0x01;
/** Cursor flag: a shape follows the header. */
export const CURSOR_FLAG_HAS_SHAPE = 0x02;
/** Every cursor flag bit that has a meaning. */
export const CURSOR_FLAGS_KNOWN = CURSOR_FLAG_VISIBLE | CURSOR_FLAG_HAS_SHAPE;

/** Cursor shape header, relative to the start of the shape (message offset 7). */
export const CURSOR_SHAPE_OFFSET = {
  width: 0, // u16
  height: 2, // u16
  hotX: 4, // u16
  hotY: 6, // u16
  codec: 8, // u8
  dataLength: 9, // u32
} as const;
/** Size of the cursor shape header. */
export const CURSOR_SHAPE_HEADER_BYTES = 13;

/** Chunk message header (14 bytes), followed by the payload (a slice of one encoded frame). */
export const CHUNK_OFFSET = {
  version: 0, // u8
  type: 1, // u8
  frameId: 2, // u32
  index: 6, // u16
  count: 8, // u16
  totalLength: 10, // u32, length of the whole encoded frame
} as const;
/** Size of the chunk header. */
export const CHUNK_HEADER_BYTES = 14;
/** Largest chunk count (u16). */
export const CHUNK_MAX_COUNT = 0xffff;

/** Largest u32 value. */
export const U32_MAX = 0xffff_ffff;

/** Pixel encoding for each codec byte (index = byte); `undefined` for unknown bytes. */
export const CODEC_BY_BYTE: readonly (RectCodec | undefined)[] = (() => {
  const table: (RectCodec | undefined)[] = new Array<RectCodec | undefined>(256).fill(undefined);
  for (const codec of RECT_CODECS) table[CODEC_BYTE[codec]] = codec;
  return table;
})();

/** Message type for each type byte (index = byte); `undefined` for unknown bytes. */
export const MESSAGE_TYPE_BY_BYTE: readonly (MessageType | undefined)[] = (() => {
  const table: (MessageType | undefined)[] = new Array<MessageType | undefined>(256).fill(undefined);
  for (const type of MESSAGE_TYPES) table[MESSAGE_TYPE_BYTE[type]] = type;
  return table;
})();
