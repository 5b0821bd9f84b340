/** One captured screen image. Pixels are tightly packed RGBA, 8 bits per channel, row-major. */
export interface RawFrame {
  width: number;
  height: number;
  /** width * height * 4 bytes, RGBA. */
  data: Uint8Array;
  /** Capture time, ms since the Unix epoch (Date.now() clock, shared across local processes). */
  captureTsMs: number;
  /** Monotonic capture counter starting at 0. */
  seq: number;
}

/** A screen to capture. Backends: `synthetic` (deterministic scene) and `x11` (a real X display). */
export interface ScreenSource {
  readonly kind: 'synthetic' | 'x11';
  readonly width: number;
  readonly height: number;
  /** Grab the current screen. Never resolves with a frame of another size. */
  capture(): Promise<RawFrame>;
  /** Release processes/handles. Idempotent. */
  close(): Promise<void>;
}
