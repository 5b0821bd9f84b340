import { RECT_IMAGE_SCALES } from '@guruconnect/shared/codec';

/**
 * A viewer whose path takes longer than this (or two capture intervals, if longer) to drain after
 * an update is on a path too slow for its updates: at 30 fps that is fewer than 10 updates a
 * second, each showing a screen at least 100 ms old.
 */
export const CATCHUP_SLOW_MS = 100;
/** Slow updates in a row before catch-ups get coarser (one slow update is a hiccup, not a path). */
export const CATCHUP_SLOW_IN_A_ROW = 2;
/**
 * How long every update must have drained by the next capture (room to spare on the path) before
 * a finer scale is tried — and, at scale 1, before the viewer is back on the shared deltas.
 */
export const CATCHUP_PROBE_AFTER_MS = 1000;
/** The wait before the next try doubles with each failed one, up to this. */
export const CATCHUP_PROBE_MAX_MS = 32_000;
/** Slack on "drained by the next capture" (timers fire late). */
const ROOMY_SLACK_MS = 10;

const MAX_SCALE = Math.max(...RECT_IMAGE_SCALES);

/**
 * The image scale of one viewer's catch-ups: how many times smaller per side they are encoded
 * (1, 2 or 4; the viewer stretches them). A catch-up's bytes fall about as its pixels do (on the
 * 1080p synthetic desktop 66 KB at scale 1, 22 at 2, 9.4 at 4), and on a byte-limited path the
 * time an update takes to cross is its bytes: the scale trades sharpness for a live picture.
 *
 * The signal is how long the viewer's path took to drain after each update (the agent sees its
 * relay credit or data channel open again at a capture tick). Coarser after
 * `CATCHUP_SLOW_IN_A_ROW` slow updates. A finer scale (about 3× the bytes) is tried only when
 * every update has drained by the next capture for `CATCHUP_PROBE_AFTER_MS` — a quiet screen
 * sharpens, a busy one on the same path stays coarse. A try whose update drains slow goes back at
 * once, and the next try waits twice as long (≤ `CATCHUP_PROBE_MAX_MS`).
 *
 * A viewer once made coarser stays `onCatchUps` (its own updates from the latest screen, never
 * the full-quality delta the other viewers share, which its path could not carry) until its
 * updates have drained by the next capture at scale 1 for `CATCHUP_PROBE_AFTER_MS`.
 */
export class CatchUpScale {
  scale = 1;
  /** The viewer gets catch-ups, not the shared deltas, even when its path is open. */
  onCatchUps = false;
  readonly #slowMs: number;
  readonly #roomyMs: number;
  #slowInARow = 0;
  /** Since when every update has drained by the next capture (null: the last one did not). */
  #roomySince: number | null = null;
  #probeAfterMs = CATCHUP_PROBE_AFTER_MS;
  /** The last update was a try at a finer scale. */
  #probing = false;

  /** `intervalMs`: the time between captures. */
  constructor(intervalMs: number) {
    this.#slowMs = Math.max(CATCHUP_SLOW_MS, 2 * intervalMs);
    this.#roomyMs = intervalMs + ROOMY_SLACK_MS;
  }

  /** An update drained `drainMs` after it was sent: returns the scale for the next catch-up. */
  next(drainMs: number, nowMs: number): number {
    const slow = drainMs > this.#slowMs;
    if (this.#probing) {
      this.#probing = false;
      if (slow) {
        this.#coarser();
        this.#probeAfterMs = Math.min(this.#probeAfterMs * 2, CATCHUP_PROBE_MAX_MS);
        return this.scale;
      }
      this.#probeAfterMs = CATCHUP_PROBE_AFTER_MS;
    }
    if (slow) {
      this.#roomySince = null;
      if (++this.#slowInARow >= CATCHUP_SLOW_IN_A_ROW && this.scale < MAX_SCALE) this.#coarser();
      return this.scale;
    }
    this.#slowInARow = 0;
    if (drainMs > this.#roomyMs) {
      this.#roomySince = null;
      return this.scale;
    }
    this.#roomySince ??= nowMs;
    const roomyForMs = nowMs - this.#roomySince;
    if (this.scale === 1) {
      if (roomyForMs >= CATCHUP_PROBE_AFTER_MS) this.onCatchUps = false;
    } else if (roomyForMs >= this.#probeAfterMs) {
      this.scale /= 2;
      this.#probing = true;
      this.#roomySince = nowMs;
    }
    return this.scale;
  }

  #coarser(): void {
    this.scale = Math.min(this.scale * 2, MAX_SCALE);
    this.onCatchUps = true;
    this.#slowInARow = 0;
    this.#roomySince = null;
  }
}
