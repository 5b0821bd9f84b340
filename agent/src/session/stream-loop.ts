import type { MediaPath } from '@guruconnect/shared/protocol';
import type { ScreenSource } from '../capture/screen-source.ts';
import type { Logger } from '../log/logger.ts';
import type { EncodedUpdate, FramePipeline } from '../pipeline/types.ts';

/** A viewer as the capture loop sees it. */
export interface StreamTarget {
  readonly id: string;
  readonly path: MediaPath | null;
  /** Has a working path (P2P open or relay). */
  ready(): boolean;
  /** Its path has too much in flight: skip it this tick. */
  congested(): boolean;
  /** It missed an update (or just joined / switched path): only a keyframe brings it back in sync. */
  needsKeyframe: boolean;
}

export interface StreamLoopOptions {
  source: ScreenSource;
  pipeline: FramePipeline;
  fps: number;
  targets(): Iterable<StreamTarget>;
  /** Send every message of `update`, in order, to each target. */
  deliver(update: EncodedUpdate, targets: StreamTarget[]): void;
  log: Logger;
  now?: () => number;
}

export type TickOutcome = 'idle' | 'congested' | 'sent' | 'unchanged';

export interface StreamStats {
  captures: number;
  /** Ticks skipped because every ready viewer was congested. */
  skippedCongested: number;
  deltas: number;
  keyframes: number;
  bytes: number;
}

const STATS_EVERY_MS = 10_000;

/**
 * One capture loop shared by every viewer, at most `fps` captures per second.
 *
 * Backpressure: a viewer whose path is congested is skipped; when every ready viewer is congested
 * the capture itself is skipped (nothing is encoded, so the pipeline's next delta still covers
 * everything since the last one sent: the union of dirty regions, for free). A viewer that was
 * skipped while others received a delta is out of sync; it gets a keyframe of the latest screen
 * as soon as its path drains — latest wins, nothing stale is queued for it.
 *
 * The pipeline diffs against the last frame it encoded. Per tick: one delta for the viewers in
 * sync, then (same frame) one keyframe for the viewers that need one.
 */
export class StreamLoop {
  readonly #o: StreamLoopOptions;
  #timer: NodeJS.Timeout | null = null;
  #running = false;
  #kick: (() => void) | null = null;
  #lastStatsAt = 0;
  #captureErrors = 0;
  readonly stats: StreamStats = { captures: 0, skippedCongested: 0, deltas: 0, keyframes: 0, bytes: 0 };

  constructor(o: StreamLoopOptions) {
    this.#o = o;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#lastStatsAt = this.#now();
    void this.#loop();
  }

  stop(): void {
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#kick?.();
  }

  #now(): number {
    return (this.#o.now ?? Date.now)();
  }

  async #loop(): Promise<void> {
    const intervalMs = 1000 / this.#o.fps;
    // Captures are due on a fixed grid (start + k × interval), not `interval` after the previous
    // one ended: timers fire late by a millisecond or more, and waiting a full interval after each
    // late tick drifted 30 fps down to ~27. A tick that falls more than one interval behind moves
    // the grid instead of bursting to catch up.
    let due = this.#now();
    while (this.#running) {
      due += intervalMs;
      try {
        await this.tick();
        this.#captureErrors = 0;
      } catch (err) {
        this.#captureErrors++;
        // The first failure and then every 100th: a broken display must not flood the log.
        if (this.#captureErrors % 100 === 1) this.#o.log.error('capture or encode failed', { err, failures: this.#captureErrors });
      }
      this.#maybeLogStats();
      if (!this.#running) break;
      const now = this.#now();
      if (now - due > intervalMs) due = now;
      const waitMs = Math.max(0, due - now);
      await new Promise<void>((resolve) => {
        this.#kick = resolve;
        this.#timer = setTimeout(resolve, waitMs);
      });
      this.#kick = null;
    }
  }

  #maybeLogStats(): void {
    const now = this.#now();
    if (now - this.#lastStatsAt < STATS_EVERY_MS) return;
    this.#lastStatsAt = now;
    this.#o.log.debug('stream stats', { ...this.stats });
  }

  /** One capture → encode → deliver round. Public for tests. */
  async tick(): Promise<TickOutcome> {
    const ready = [...this.#o.targets()].filter((t) => t.ready());
    if (ready.length === 0) return 'idle';
    const open = ready.filter((t) => !t.congested());
    if (open.length === 0) {
      this.stats.skippedCongested++;
      return 'congested';
    }
    const frame = await this.#o.source.capture();
    this.stats.captures++;
    const deltaTargets = open.filter((t) => !t.needsKeyframe);
    const keyTargets = open.filter((t) => t.needsKeyframe);
    // In sync but congested: they miss whatever is encoded now.
    const lagging = ready.filter((t) => !t.needsKeyframe && !open.includes(t));
    let advanced = false;
    let sent = false;

    if (deltaTargets.length > 0) {
      const delta = await this.#o.pipeline.encode(frame, { keyframe: false });
      if (delta) {
        advanced = true;
        sent = true;
        this.#send(delta, deltaTargets);
      }
    }
    if (keyTargets.length > 0) {
      const key = await this.#o.pipeline.encode(frame, { keyframe: true });
      if (key) {
        // A keyframe moves the pipeline's reference too, unless a delta already did for this frame.
        if (deltaTargets.length === 0) advanced = true;
        sent = true;
        this.#send(key, keyTargets);
        for (const t of keyTargets) t.needsKeyframe = false;
      }
    }
    if (advanced) for (const t of lagging) t.needsKeyframe = true;
    return sent ? 'sent' : 'unchanged';
  }

  #send(update: EncodedUpdate, targets: StreamTarget[]): void {
    // A viewer may have left or lost its path while we captured and encoded.
    const live = targets.filter((t) => t.ready());
    if (live.length === 0) return;
    if (update.keyframe) this.stats.keyframes++;
    else this.stats.deltas++;
    this.stats.bytes += update.bytes * live.length;
    this.#o.deliver(update, live);
  }
}
