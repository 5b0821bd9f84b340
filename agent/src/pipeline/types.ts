import type { RawFrame } from '../capture/screen-source.ts';

/** Encoder settings. */
export interface PipelineOptions {
  /** JPEG quality 1..100. */
  quality: number;
  /** Lossless PNG tiles instead of JPEG (sharper text, more bytes). */
  lossless?: boolean;
  /** Tile side in pixels for dirty-region detection. */
  tileSize?: number;
}

/** One encoded update ready to send: codec messages (chunks), each ≤ FRAME_CHUNK_MAX_BYTES. */
export interface EncodedUpdate {
  seq: number;
  captureTsMs: number;
  keyframe: boolean;
  /** Chunk messages from `chunkFrame`, in order; a large update may span several frames. */
  messages: Uint8Array[];
  /** Total bytes of `messages`. */
  bytes: number;
  /** Dirty rectangles encoded in this update. */
  rects: number;
}

/**
 * Turns captured frames into encoded updates: dirty tiles against the previous frame,
 * merged into rectangles, encoded (JPEG via sharp, or PNG), framed with the shared codec,
 * chunked. `encode(frame, {keyframe:true})` sends the whole screen.
 */
export interface FramePipeline {
  encode(frame: RawFrame, opts: { keyframe: boolean }): Promise<EncodedUpdate | null>;
  /** Forget the previous frame so the next encode is a keyframe. */
  reset(): void;
}
