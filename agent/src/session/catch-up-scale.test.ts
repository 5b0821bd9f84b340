import { describe, expect, it } from 'vitest';
import { CATCHUP_PROBE_AFTER_MS, CATCHUP_PROBE_MAX_MS, CATCHUP_SLOW_MS, CatchUpScale } from './catch-up-scale.ts';

// 30 fps: an update that drained by the next capture took one interval.
const INTERVAL = 1000 / 30;
const SLOW = CATCHUP_SLOW_MS + 1;
const ROOMY = INTERVAL;
/** Not slow, but not drained by the next capture either. */
const TIGHT = 2 * INTERVAL;

/** Feeds drain times one update after another (the clock advances by each) and returns the scales. */
function feed(c: CatchUpScale, drains: number[], clock = { now: 0 }): number[] {
  return drains.map((ms) => {
    clock.now += ms;
    return c.next(ms, clock.now);
  });
}
const times = (n: number, ms: number) => Array.from({ length: n }, () => ms);

describe('CatchUpScale', () => {
  it('stays at 1, and off catch-ups, while updates drain fast, and for one slow update among fast ones (a hiccup)', () => {
    const c = new CatchUpScale(INTERVAL);
    expect(feed(c, [ROOMY, TIGHT, CATCHUP_SLOW_MS, ROOMY, SLOW, ROOMY, SLOW, TIGHT])).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    expect(c.onCatchUps).toBe(false);
  });

  it('halves the sides after two slow updates in a row, down to a quarter, never below, and puts the viewer on catch-ups', () => {
    const c = new CatchUpScale(INTERVAL);
    expect(feed(c, [SLOW, SLOW, SLOW, SLOW, 500, 500, 500])).toEqual([1, 2, 2, 4, 4, 4, 4]);
    expect(c.onCatchUps).toBe(true);
  });

  it('counts slow from two capture intervals at a low frame rate', () => {
    const c = new CatchUpScale(100);
    expect(feed(c, [150, 150, 200, 200])).toEqual([1, 1, 1, 1]);
    expect(feed(c, [201, 201])).toEqual([1, 2]);
  });

  it('never tries a finer scale while updates take more than one capture interval to drain (a busy screen on a slow path)', () => {
    const clock = { now: 0 };
    const c = new CatchUpScale(INTERVAL);
    feed(c, times(4, SLOW), clock);
    expect(feed(c, times(300, TIGHT), clock).every((s) => s === 4)).toBe(true);
    // One roomy update in between does not make a roomy path.
    expect(feed(c, [...times(20, TIGHT), ROOMY, ...times(20, TIGHT), ROOMY], clock).every((s) => s === 4)).toBe(true);
  });

  it('tries one finer scale after updates drained by the next capture for CATCHUP_PROBE_AFTER_MS; a slow try goes back at once and the next try waits twice as long', () => {
    const clock = { now: 0 };
    const c = new CatchUpScale(INTERVAL);
    feed(c, times(4, SLOW), clock);
    expect(c.scale).toBe(4);
    /** Roomy updates until the scale changes: how long that took. */
    const roomyUntilChange = () => {
      const from = c.scale;
      const t0 = clock.now;
      while (feed(c, [ROOMY], clock)[0] === from) if (clock.now - t0 > 100_000) throw new Error('no change');
      return clock.now - t0;
    };
    const near = (ms: number, want: number) => expect(ms >= want && ms <= want + 2 * ROOMY, `${ms} ms, want ${want}`).toBe(true);
    near(roomyUntilChange(), CATCHUP_PROBE_AFTER_MS);
    expect(c.scale).toBe(2);
    // The update after the try was slow: back to 4 at once (no second slow one needed).
    expect(feed(c, [SLOW], clock)).toEqual([4]);
    // The next try waits 2 × CATCHUP_PROBE_AFTER_MS; this one goes through.
    near(roomyUntilChange(), 2 * CATCHUP_PROBE_AFTER_MS);
    expect(c.scale).toBe(2);
    // The wait is back to CATCHUP_PROBE_AFTER_MS.
    near(roomyUntilChange(), CATCHUP_PROBE_AFTER_MS);
    expect(c.scale).toBe(1);
    // At 1 it stays on catch-ups until it has kept up there for CATCHUP_PROBE_AFTER_MS too.
    expect(c.onCatchUps).toBe(true);
    feed(c, times(Math.round(CATCHUP_PROBE_AFTER_MS / ROOMY) - 2, ROOMY), clock);
    expect(c.onCatchUps).toBe(true);
    feed(c, times(3, ROOMY), clock);
    expect(c.onCatchUps).toBe(false);
    expect(c.scale).toBe(1);
  });

  it('waits at most CATCHUP_PROBE_MAX_MS between tries on a path that never takes the finer scale', () => {
    const clock = { now: 0 };
    const c = new CatchUpScale(INTERVAL);
    feed(c, times(4, SLOW), clock);
    const triesAt: number[] = [];
    while (clock.now < 200_000) {
      if (feed(c, [ROOMY], clock)[0] === 2) {
        triesAt.push(clock.now);
        feed(c, [SLOW], clock);
      }
    }
    const gaps = triesAt.slice(1).map((t, i) => t - triesAt[i]!);
    expect(gaps.slice(0, 3).map((g) => Math.round(g / 1000))).toEqual([2, 4, 8]);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(CATCHUP_PROBE_MAX_MS + SLOW + 2 * ROOMY);
    expect(gaps.at(-1)).toBeGreaterThanOrEqual(CATCHUP_PROBE_MAX_MS);
  });
});
