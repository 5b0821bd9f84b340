import type { MediaPath } from '@guruconnect/shared/protocol';
import type { RawFrame, ScreenSource } from '../capture/screen-source.ts';
import type { Logger } from '../log/logger.ts';
import type { EncodedUpdate, FramePipeline } from '../pipeline/types.ts';
import { CatchUpScale } from './catch-up-scale.ts';

/** A viewer as the capture loop sees it. */
export interface StreamTarget {
  readonly id: string;
  readonly path: MediaPath | null;
  /** Has a working path (P2P open or relay). */
  ready(): boolean;
  /** Its path has too much in flight: skip it this tick. */
  congested(): boolean;
  /** It just joined, switched path or lost frames it cannot rebuild from: only a keyframe brings it back in sync. */
  needsKeyframe: boolean;
  /** It was skipped while congested: the pipeline keeps what changed since, and a catch-up delta brings it back. */
  behind: boolean;
  /** Its path is too slow for more than one update in flight (on), or fine again (off): see `CatchUpScale.onCatchUps`. */
  pull?(on: boolean): void;
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
  /** Catch-up deltas sent to viewers that had been skipped (instead of keyframes). */
  catchUps: number;
  /** Full-quality resends of the tiles catch-ups sent soft. */
  refines: number;
  /** Catch-ups encoded smaller per side (`CatchUpScale`) for a viewer on a slow path. */
  scaledCatchUps: number;
  bytes: number;
}

const STATS_EVERY_MS = 10_000;
/**
 * A viewer whose catch-ups were soft (lower quality) gets its soft tiles again at full quality
 * once it has kept up for this long: a path that just drained is not handed a burst at once, and
 * while the screen keeps outrunning the path, fresh pixels come before sharp ones.
 */
export const REFINE_AFTER_MS = 500;

/**
 * One capture loop shared by every viewer, at most `fps` captures per second.
 *
 * Backpressure: a viewer whose path is congested is skipped; when every ready viewer is congested
 * the capture itself is skipped (nothing is encoded, so the pipeline's next delta still covers
 * everything since the last one sent: the union of dirty regions, for free). A viewer that is
 * skipped while others receive deltas falls `behind`: the pipeline keeps the union of the tiles
 * that change for it, and as soon as its path drains it gets one catch-up delta of those tiles
 * from the latest screen (VNC's pull model) — latest wins, nothing stale is queued for it, and a
 * slow link is not sent full-screen keyframes (~10× a delta) to resynchronise.
 *
 * Catch-ups are encoded at a lower quality (fewer bytes over the path that was too slow); once
 * that viewer has kept up for `REFINE_AFTER_MS`, it gets those tiles again at full quality.
 * A viewer whose path stays too slow even for those gets them smaller per side as well (its
 * `CatchUpScale`, fed with how long its path took to drain after each update), and is in pull
 * mode from its first coarser scale until it has kept up at scale 1 again: it gets only its own
 * catch-ups — small ones from the latest screen — never the full-size delta the other viewers
 * get whenever its path happens to be open, and one update in flight (`StreamTarget.pull`).
 *
 * The pipeline diffs against the last frame it encoded. Per tick, asked for in this order and
 * encoded concurrently, each sent as soon as it is ready: one delta for the viewers in sync, one
 * keyframe (same frame) for the viewers that need one, a catch-up delta for each viewer that was
 * behind; then a refine for each viewer whose soft tiles are due.
 */
export class StreamLoop {
  readonly #o: StreamLoopOptions;
  #timer: NodeJS.Timeout | null = null;
  #running = false;
  #kick: (() => void) | null = null;
  #lastStatsAt = 0;
  #captureErrors = 0;
  readonly stats: StreamStats = { captures: 0, skippedCongested: 0, deltas: 0, keyframes: 0, catchUps: 0, refines: 0, scaledCatchUps: 0, bytes: 0 };
  /** Viewers the pipeline keeps a backlog for (so it can be dropped when they leave). */
  readonly #lagged = new Set<string>();
  /** Viewers with soft tiles (a catch-up was sent): ticks in a row each has kept up since. */
  readonly #soft = new Map<string, number>();
  /** Per viewer: the scale of its catch-ups and whether it is in pull mode. */
  readonly #scales = new Map<string, CatchUpScale>();
  /** Per viewer: when its last update was handed to its path, until its path is seen open again. */
  readonly #sentAt = new Map<string, number>();

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
    const all = [...this.#o.targets()];
    this.#forgetGone(all);
    const ready = all.filter((t) => t.ready());
    if (ready.length === 0) return 'idle';
    const open = ready.filter((t) => !t.congested());
    this.#observeDrained(open);
    if (open.length === 0) {
      this.stats.skippedCongested++;
      return 'congested';
    }
    const frame = await this.#o.source.capture();
    this.stats.captures++;
    // In pull mode (a path too slow for the shared delta): its own catch-up of this tick's changes
    // instead — also right after a keyframe, and from the tick its scale first went up.
    for (const t of open) {
      if (t.needsKeyframe || t.behind || !this.#scales.get(t.id)?.onCatchUps) continue;
      this.#o.pipeline.lag(t.id);
      this.#lagged.add(t.id);
      t.behind = true;
    }
    const keyTargets = open.filter((t) => t.needsKeyframe);
    const deltaTargets = open.filter((t) => !t.needsKeyframe && !t.behind);
    const catchUps = open.filter((t) => !t.needsKeyframe && t.behind);
    for (const t of keyTargets) if (t.behind || this.#soft.has(t.id)) this.#forget(t);
    // Kept up this tick, or not: the soft viewers' clocks.
    for (const [id, ticks] of this.#soft) this.#soft.set(id, deltaTargets.some((t) => t.id === id) ? ticks + 1 : 0);
    // In sync but congested: they miss what is encoded now, and the pipeline keeps it for them.
    for (const t of ready) {
      if (t.needsKeyframe || t.behind || open.includes(t)) continue;
      this.#o.pipeline.lag(t.id);
      this.#lagged.add(t.id);
      t.behind = true;
    }
    let sent = false;
    // Every encode of this frame is asked for at once, in this order (the delta's diff moves the
    // pipeline's reference first), and each update goes out as soon as it is encoded: a slow
    // viewer's small catch-up does not wait behind the full delta for the others.
    const jobs: Array<Promise<unknown>> = [];
    if (deltaTargets.length > 0) {
      jobs.push(
        this.#o.pipeline.encode(frame, { keyframe: false }).then((delta) => {
          if (!delta) return;
          sent = true;
          this.#send(delta, deltaTargets);
        }),
      );
    }
    if (keyTargets.length > 0) {
      jobs.push(
        this.#o.pipeline.encode(frame, { keyframe: true }).then((key) => {
          if (!key) return;
          sent = true;
          this.#send(key, keyTargets);
          for (const t of keyTargets) t.needsKeyframe = false;
        }),
      );
    }
    for (const t of catchUps) {
      jobs.push(
        this.#catchUp(frame, t).then((didSend) => {
          if (didSend) sent = true;
        }),
      );
    }
    const failed = (await Promise.allSettled(jobs)).find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const refineAfter = Math.max(1, Math.round((REFINE_AFTER_MS * this.#o.fps) / 1000));
    for (const t of deltaTargets) {
      // Not on top of this tick's delta if that filled its path: a later tick, then.
      if ((this.#soft.get(t.id) ?? -1) < refineAfter || t.congested()) continue;
      this.#soft.delete(t.id);
      let update: EncodedUpdate | null;
      try {
        update = await this.#o.pipeline.refine(frame, t.id);
      } catch (err) {
        // The pipeline lost its state (e.g. the capture worker restarted): a keyframe sharpens everything.
        this.#o.log.debug('refine failed: keyframe next', { viewerId: t.id, err });
        t.needsKeyframe = true;
        continue;
      }
      if (!update) continue; // every soft tile was sent sharp since
      sent = true;
      this.stats.refines++;
      this.#send(update, [t]);
    }
    return sent ? 'sent' : 'unchanged';
  }

  /** One catch-up for a viewer that was behind; true when something was sent. Never throws. */
  async #catchUp(frame: RawFrame, t: StreamTarget): Promise<boolean> {
    let update: EncodedUpdate | null;
    const scale = this.#scales.get(t.id)?.scale ?? 1;
    try {
      update = await this.#o.pipeline.catchUp(frame, t.id, scale > 1 ? { scale } : undefined);
    } catch (err) {
      // The pipeline lost its backlog (e.g. the capture worker restarted): a keyframe it is.
      this.#o.log.debug('catch-up failed: keyframe next', { viewerId: t.id, err });
      this.#lagged.delete(t.id);
      t.behind = false;
      t.needsKeyframe = true;
      return false;
    }
    this.#lagged.delete(t.id);
    t.behind = false;
    if (update) {
      if (!update.keyframe) {
        this.stats.catchUps++;
        if (scale > 1) this.stats.scaledCatchUps++;
        this.#soft.set(t.id, 0);
      }
      this.#send(update, [t]);
    }
    return update !== null;
  }

  /** How long each viewer's path took to drain after its last update: its catch-up scale's signal. */
  #observeDrained(open: StreamTarget[]): void {
    if (this.#sentAt.size === 0) return;
    const now = this.#now();
    for (const t of open) {
      const sentAt = this.#sentAt.get(t.id);
      if (sentAt === undefined) continue;
      this.#sentAt.delete(t.id);
      let control = this.#scales.get(t.id);
      if (!control) this.#scales.set(t.id, (control = new CatchUpScale(1000 / this.#o.fps)));
      const before = control.scale;
      const wasOnCatchUps = control.onCatchUps;
      const scale = control.next(now - sentAt, now);
      if (control.onCatchUps !== wasOnCatchUps) t.pull?.(control.onCatchUps);
      if (scale !== before) this.#o.log.info('catch-up scale changed', { viewerId: t.id, scale, from: before, drainedAfterMs: Math.round(now - sentAt) });
    }
  }

  #forget(t: StreamTarget): void {
    this.#o.pipeline.forget(t.id);
    this.#lagged.delete(t.id);
    this.#soft.delete(t.id);
    t.behind = false;
  }

  /** Drops the backlog and soft tiles of viewers that are gone. */
  #forgetGone(all: StreamTarget[]): void {
    const present = new Set(all.map((t) => t.id));
    for (const id of this.#scales.keys()) if (!present.has(id)) this.#scales.delete(id);
    for (const id of this.#sentAt.keys()) if (!present.has(id)) this.#sentAt.delete(id);
    if (this.#lagged.size === 0 && this.#soft.size === 0) return;
    for (const id of new Set([...this.#lagged, ...this.#soft.keys()])) {
      if (present.has(id)) continue;
      this.#o.pipeline.forget(id);
      this.#lagged.delete(id);
      this.#soft.delete(id);
    }
  }

  #send(update: EncodedUpdate, targets: StreamTarget[]): void {
    // A viewer may have left or lost its path while we captured and encoded.
    const live = targets.filter((t) => t.ready());
    if (live.length === 0) return;
    if (update.keyframe) this.stats.keyframes++;
    else this.stats.deltas++;
    this.stats.bytes += update.bytes * live.length;
    const now = this.#now();
    // A second update in the same tick (a refine after the delta) drains with the first.
    for (const t of live) if (!this.#sentAt.has(t.id)) this.#sentAt.set(t.id, now);
    this.#o.deliver(update, live);
  }
}
