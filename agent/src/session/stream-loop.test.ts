import { afterEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../log/logger.ts';
import { FakeTarget, fakePipeline, fakeSource } from '../testing/fakes.ts';
import { CATCHUP_PROBE_AFTER_MS } from './catch-up-scale.ts';
import { StreamLoop } from './stream-loop.ts';

function harness(targets: FakeTarget[], unchanged: () => boolean = () => false, now?: () => number) {
  const source = fakeSource();
  const pipeline = fakePipeline(unchanged);
  const loop = new StreamLoop({
    now,
    source,
    pipeline,
    fps: 10,
    targets: () => targets,
    deliver: (update, to) => {
      for (const t of to as FakeTarget[]) {
        t.received.push({ seq: update.seq, keyframe: update.keyframe });
        if (t.congestOnReceive) t.isCongested = true;
      }
    },
    log: silentLogger,
  });
  return { source, pipeline, loop };
}

/** Two viewers in sync after a keyframe, then `slow` congested for one tick (it fell behind). */
async function slowFellBehind() {
  const fast = new FakeTarget('fast');
  const slow = new FakeTarget('slow');
  const targets = [fast, slow];
  const h = harness(targets);
  await h.loop.tick();
  slow.isCongested = true;
  await h.loop.tick();
  return { h, fast, slow, targets };
}

describe('StreamLoop', () => {
  it('captures nothing while no viewer has a path', async () => {
    const a = new FakeTarget('a');
    a.isReady = false;
    const h = harness([a]);
    expect(await h.loop.tick()).toBe('idle');
    expect(h.source.captures).toBe(0);
  });

  it('sends a keyframe to a new viewer, then deltas', async () => {
    const a = new FakeTarget('a');
    const h = harness([a]);
    await h.loop.tick();
    await h.loop.tick();
    expect(a.received).toEqual([
      { seq: 0, keyframe: true },
      { seq: 1, keyframe: false },
    ]);
  });

  it('skips the capture when every viewer is congested, and the next delta covers the gap (no keyframe)', async () => {
    const a = new FakeTarget('a');
    const h = harness([a]);
    await h.loop.tick();
    a.isCongested = true;
    expect(await h.loop.tick()).toBe('congested');
    expect(h.source.captures).toBe(1);
    a.isCongested = false;
    await h.loop.tick();
    expect(a.received.at(-1)).toEqual({ seq: 1, keyframe: false });
    expect(h.loop.stats.skippedCongested).toBe(1);
  });

  it('keeps a fast viewer streaming while a congested one is skipped, then brings the slow one back with one catch-up delta of the latest screen (no keyframe)', async () => {
    const fast = new FakeTarget('fast');
    const slow = new FakeTarget('slow');
    const h = harness([fast, slow]);
    await h.loop.tick(); // both get keyframe 0
    slow.isCongested = true;
    for (let i = 0; i < 5; i++) await h.loop.tick();
    expect(fast.received.map((r) => r.seq)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(slow.received).toEqual([{ seq: 0, keyframe: true }]);
    expect(slow.behind).toBe(true);
    expect(slow.needsKeyframe).toBe(false);
    // The pipeline was told before the first delta the slow viewer missed, and only once.
    expect(h.pipeline.behind.has('slow')).toBe(true);
    slow.isCongested = false;
    await h.loop.tick();
    // Latest wins: one catch-up delta from frame 6, nothing stale, no keyframe.
    expect(slow.received).toEqual([
      { seq: 0, keyframe: true },
      { seq: 6, keyframe: false },
    ]);
    expect(h.pipeline.calls.slice(-2)).toEqual([
      { seq: 6, keyframe: false },
      { seq: 6, keyframe: false, catchUp: 'slow' },
    ]);
    expect(fast.received.at(-1)).toEqual({ seq: 6, keyframe: false });
    expect(slow.behind).toBe(false);
    expect(h.loop.stats.catchUps).toBe(1);
    expect(h.loop.stats.keyframes).toBe(1); // only the first, for both
  });

  it('gives a viewer that was behind a keyframe instead when it needs one anyway (path switch), and drops its backlog', async () => {
    const { h, slow } = await slowFellBehind();
    expect(slow.behind).toBe(true);
    slow.isCongested = false;
    slow.needsKeyframe = true; // e.g. it fell back to the relay meanwhile
    await h.loop.tick();
    expect(slow.received.at(-1)).toEqual({ seq: 2, keyframe: true });
    expect(slow.behind).toBe(false);
    expect(h.pipeline.behind.has('slow')).toBe(false);
  });

  it('falls back to a keyframe when the pipeline lost the backlog (e.g. the capture worker restarted)', async () => {
    const { h, slow } = await slowFellBehind();
    h.pipeline.behind.clear();
    slow.isCongested = false;
    await h.loop.tick();
    expect(slow.needsKeyframe).toBe(true);
    await h.loop.tick();
    expect(slow.received.at(-1)).toEqual({ seq: 3, keyframe: true });
  });

  it('resends soft catch-up tiles sharp once the viewer has kept up for REFINE_AFTER_MS, not before', async () => {
    // fps 10: 500 ms is 5 ticks.
    const { h, slow } = await slowFellBehind();
    slow.isCongested = false;
    await h.loop.tick(); // catch-up (soft)
    expect(h.pipeline.soft.has('slow')).toBe(true);
    const refines = () => h.pipeline.calls.filter((c) => c.refine === 'slow').length;
    for (let i = 0; i < 3; i++) await h.loop.tick();
    // Congested again for a tick: it falls behind, gets another catch-up, and its clock restarts.
    slow.isCongested = true;
    await h.loop.tick();
    slow.isCongested = false;
    await h.loop.tick();
    expect(h.pipeline.calls.filter((c) => c.catchUp === 'slow')).toHaveLength(2);
    for (let i = 0; i < 4; i++) await h.loop.tick();
    expect(refines()).toBe(0);
    await h.loop.tick();
    expect(refines()).toBe(1);
    expect(h.loop.stats.refines).toBe(1);
    // Sent to the slow viewer only, after that tick's delta.
    expect(slow.received.at(-1)).toEqual({ seq: h.pipeline.calls.at(-1)!.seq, keyframe: false });
    expect(slow.received.filter((r) => r.seq === slow.received.at(-1)!.seq)).toHaveLength(2);
    for (let i = 0; i < 6; i++) await h.loop.tick();
    expect(refines()).toBe(1);
  });

  it('scales the catch-ups of a viewer whose path stays slow, keeps it on catch-ups while scaled, and brings it back to full size once its path is fast', async () => {
    // fps 10, a clock at 100 ms per tick: the slow viewer's path is busy for 2 ticks after each
    // update (its updates 300 ms apart, CATCHUP_SLOW_MS is 100), the fast one's never.
    let now = 0;
    const fast = new FakeTarget('fast');
    const slow = new FakeTarget('slow');
    const h = harness([fast, slow], () => false, () => now);
    let busyTicks = 2;
    let busyUntil = -1;
    const tick = async () => {
      now += 100;
      slow.isCongested = now <= busyUntil;
      const before = slow.received.length;
      await h.loop.tick();
      if (slow.received.length > before) busyUntil = now + busyTicks * 100;
    };
    for (let i = 0; i < 30; i++) await tick();
    const catchUps = h.pipeline.calls.filter((c) => c.catchUp === 'slow');
    // Its keyframe and first catch-up crossed slowly: 2 from the second catch-up; two more: 4.
    expect(catchUps.map((c) => c.scale ?? 1).slice(0, 5)).toEqual([1, 2, 2, 4, 4]);
    expect(h.loop.stats.scaledCatchUps).toBeGreaterThan(0);
    // The fast viewer got a delta every tick; the slow one nothing but its keyframe and catch-ups.
    expect(fast.received).toHaveLength(30);
    expect(slow.received.slice(1).every((r) => !r.keyframe)).toBe(true);
    expect(slow.received.length - 1).toBe(catchUps.length);
    // One update in flight at a time from the first coarser scale on.
    expect(slow.pulls).toEqual([true]);
    expect(fast.pulls).toEqual([]);
    // A keyframe (a relay drop, a path switch) does not end pull mode: catch-ups right after it.
    slow.needsKeyframe = true;
    const beforeKey = h.pipeline.calls.length;
    for (let i = 0; i < 8; i++) await tick();
    const afterKey = h.pipeline.calls.slice(beforeKey);
    const keyAt = afterKey.findIndex((c) => c.keyframe);
    expect(keyAt).toBeGreaterThanOrEqual(0);
    expect(slow.received.filter((r) => r.keyframe)).toHaveLength(2);
    expect(afterKey.slice(keyAt + 1).filter((c) => c.catchUp === 'slow').length).toBeGreaterThan(0);
    // Every update it got after the keyframe was its own catch-up: as many as catch-up calls.
    const slowAfterKey = slow.received.slice(slow.received.findLastIndex((r) => r.keyframe) + 1);
    expect(slowAfterKey).toHaveLength(afterKey.slice(keyAt + 1).filter((c) => c.catchUp === 'slow').length);

    // Now the path takes every update at once. Scaled, it stays on catch-ups (a delta every tick,
    // but its own); after CATCHUP_PROBE_AFTER_MS fast it tries 2, then 1, and is back on the shared
    // deltas: no catch-ups from there, and refine sharpens its soft tiles.
    busyTicks = 0;
    const mark = h.pipeline.calls.length;
    for (let i = 0; i < 3 * (CATCHUP_PROBE_AFTER_MS / 100) + 10; i++) await tick();
    const later = h.pipeline.calls.slice(mark);
    const scales = later.filter((c) => c.catchUp === 'slow').map((c) => c.scale ?? 1);
    expect(scales.slice(0, 3)).toEqual([4, 4, 4]);
    expect(scales).toContain(2);
    expect(scales.at(-1)).toBe(1);
    const lastCatchUp = later.findLastIndex((c) => c.catchUp === 'slow');
    expect(later.slice(lastCatchUp + 1).some((c) => c.refine === 'slow')).toBe(true);
    expect(slow.pulls).toEqual([true, false]);
    // The same deltas as the fast viewer since (and the refine on top).
    const tail = slow.received.slice(-5).filter((r, i, all) => all.findIndex((x) => x.seq === r.seq) === i);
    expect(tail).toEqual(fast.received.slice(-tail.length));
  });

  it('holds a due refine while this tick filled the path, and drops it for a keyframe', async () => {
    const { h, slow, fast } = await slowFellBehind();
    slow.isCongested = false;
    await h.loop.tick();
    for (let i = 0; i < 4; i++) await h.loop.tick();
    // Due on the next tick, but the delta of that tick congests the path.
    slow.congestOnReceive = true;
    await h.loop.tick();
    expect(h.pipeline.calls.some((c) => c.refine === 'slow')).toBe(false);
    slow.congestOnReceive = false;
    slow.isCongested = false;
    slow.needsKeyframe = true; // e.g. its path switched
    await h.loop.tick();
    expect(slow.received.at(-1)!.keyframe).toBe(true);
    expect(h.pipeline.soft.has('slow')).toBe(false);
    for (let i = 0; i < 8; i++) await h.loop.tick();
    expect(h.pipeline.calls.some((c) => c.refine === 'slow')).toBe(false);
    expect(fast.received.every((r) => !r.keyframe || r.seq === 0)).toBe(true);
  });

  it('drops the soft tiles of a viewer that left', async () => {
    const { h, slow, targets } = await slowFellBehind();
    slow.isCongested = false;
    await h.loop.tick();
    expect(h.pipeline.soft.has('slow')).toBe(true);
    targets.pop();
    await h.loop.tick();
    expect(h.pipeline.soft.has('slow')).toBe(false);
  });

  it('drops the backlog of a viewer that left while behind', async () => {
    const { h, targets } = await slowFellBehind();
    expect(h.pipeline.behind.has('slow')).toBe(true);
    targets.pop();
    await h.loop.tick();
    expect(h.pipeline.behind.has('slow')).toBe(false);
  });

  it('does not desync a congested viewer when nothing changed on screen', async () => {
    let unchanged = false;
    const a = new FakeTarget('a');
    const b = new FakeTarget('b');
    const h = harness([a, b], () => unchanged);
    await h.loop.tick();
    unchanged = true;
    b.isCongested = true;
    expect(await h.loop.tick()).toBe('unchanged');
    expect(b.needsKeyframe).toBe(false);
    // Back: its catch-up finds nothing changed, so nothing is sent and it is in sync.
    b.isCongested = false;
    const before = b.received.length;
    await h.loop.tick();
    expect(b.received).toHaveLength(before);
    expect(b.behind).toBe(false);
  });

  it('encodes the delta before the keyframe of the same frame so both stay consistent', async () => {
    const a = new FakeTarget('a');
    const h = harness([a]);
    await h.loop.tick();
    const late = new FakeTarget('late');
    const h2targets = [a, late];
    const loop2 = new StreamLoop({
      source: h.source,
      pipeline: h.pipeline,
      fps: 10,
      targets: () => h2targets,
      deliver: (u, to) => to.forEach((t) => (t as FakeTarget).received.push({ seq: u.seq, keyframe: u.keyframe })),
      log: silentLogger,
    });
    await loop2.tick();
    expect(h.pipeline.calls.slice(-2)).toEqual([
      { seq: 1, keyframe: false },
      { seq: 1, keyframe: true },
    ]);
    expect(late.received).toEqual([{ seq: 1, keyframe: true }]);
  });

  it('keeps the backlog of an in-sync congested viewer when only a keyframe was encoded for another one', async () => {
    const a = new FakeTarget('a');
    const h = harness([a]);
    await h.loop.tick();
    a.isCongested = true;
    const b = new FakeTarget('b');
    const loop = new StreamLoop({ source: h.source, pipeline: h.pipeline, fps: 10, targets: () => [a, b], deliver: () => {}, log: silentLogger });
    await loop.tick();
    expect(a.behind).toBe(true);
    expect(h.pipeline.behind.has('a')).toBe(true);
  });

  it('drops an update for a viewer that lost its path while the frame was being encoded', async () => {
    const a = new FakeTarget('a');
    const source = fakeSource();
    const pipeline = fakePipeline();
    const delivered: string[] = [];
    const loop = new StreamLoop({
      source: { ...source, capture: async () => {
        const f = await source.capture();
        a.isReady = false;
        return f;
      } },
      pipeline,
      fps: 10,
      targets: () => [a],
      deliver: (_u, to) => delivered.push(...to.map((t) => t.id)),
      log: silentLogger,
    });
    await loop.tick();
    expect(delivered).toEqual([]);
  });

  describe('capture schedule', () => {
    afterEach(() => vi.useRealTimers());

    /** Runs the loop for `seconds` of fake time with every timer firing `lateMs` late; returns the captures. */
    async function capturesWithLateTimers(lateMs: number, seconds: number): Promise<number> {
      vi.useFakeTimers();
      const real = globalThis.setTimeout;
      const late = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => real(fn, (ms ?? 0) + lateMs)) as typeof setTimeout);
      const h = harness([new FakeTarget('a')]);
      h.loop.start();
      await vi.advanceTimersByTimeAsync(seconds * 1000);
      h.loop.stop();
      late.mockRestore();
      return h.source.captures;
    }

    it('keeps the asked-for rate when timers fire late (captures are due on a fixed grid)', async () => {
      // 10 fps for 10 s with every timer 4 ms late: waiting a full interval after each late tick gives ~96.
      const captures = await capturesWithLateTimers(4, 10);
      expect(captures).toBeGreaterThanOrEqual(99);
      expect(captures).toBeLessThanOrEqual(101);
    });

    it('does not burst to catch up after a stall longer than an interval', async () => {
      vi.useFakeTimers();
      const h = harness([new FakeTarget('a')]);
      let stall = true;
      const capture = h.source.capture.bind(h.source);
      h.source.capture = async () => {
        if (stall) {
          stall = false;
          await new Promise((r) => setTimeout(r, 1000)); // one capture takes 10 intervals
        }
        return capture();
      };
      h.loop.start();
      await vi.advanceTimersByTimeAsync(2000);
      h.loop.stop();
      // 1 s stalled, then 10 fps for the remaining second: ~11, not the 20 a catch-up burst would give.
      expect(h.source.captures).toBeGreaterThanOrEqual(10);
      expect(h.source.captures).toBeLessThanOrEqual(12);
    });
  });
});
