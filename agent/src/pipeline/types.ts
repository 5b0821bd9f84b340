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

/** How a catch-up is encoded: `scale` 1 (default), 2 or 4 (`RECT_IMAGE_SCALES`). */
export interface CatchUpOptions {
  scale?: number;
}

/**
 * Turns captured frames into encoded updates: dirty tiles against the previous frame,
 * merged into rectangles, encoded (JPEG via sharp, or PNG), framed with the shared codec,
 * chunked. `encode(frame, {keyframe:true})` sends the whole screen.
 */
export interface FramePipeline {
  encode(frame: RawFrame, opts: { keyframe: boolean }): Promise<EncodedUpdate | null>;
  /**
   * A viewer misses the updates from now on (its path is congested): keep the union of the tiles
   * that change for it, against the frame it has (the last one encoded). Call before the encode
   * it misses. Idempotent.
   */
  lag(viewerId: string): void;
  /**
   * The update that brings a viewer that was behind up to `frame` (the frame of this tick): the
   * tiles changed since its last update, encoded from `frame` — a delta, not a keyframe (a
   * keyframe only when the screen size changed or the pipeline lost its reference). Null when
   * nothing changed. The viewer is in sync afterwards. JPEG catch-ups are encoded at a lower
   * quality (fewer bytes over the slow path): the viewer shows those tiles soft until `refine`.
   * With `scale` > 1 (one of `RECT_IMAGE_SCALES`) JPEG rects are also encoded that many times
   * smaller per side (the viewer stretches them), for a path too slow for full-size catch-ups.
   */
  catchUp(frame: RawFrame, viewerId: string, opts?: CatchUpOptions): Promise<EncodedUpdate | null>;
  /**
   * For a viewer in sync: the tiles its catch-ups sent soft and no full-quality update has covered
   * since, at full quality from `frame` (the frame of this tick). Null when there are none.
   */
  refine(frame: RawFrame, viewerId: string): Promise<EncodedUpdate | null>;
  /** Drop a viewer's backlog and soft tiles (it left, or gets a keyframe anyway). */
  forget(viewerId: string): void;
  /** Forget the previous frame so the next encode is a keyframe. */
  reset(): void;
}
