import { readStamp, STAMP_HEIGHT_PX, STAMP_WIDTH_PX } from '@guruconnect/shared/codec';
import { describe, expect, it } from 'vitest';
import type { RawFrame } from './screen-source.ts';
import { createSyntheticSource, OFFICE_FRAMES_PER_GLYPH, OFFICE_FRAMES_PER_SCROLL, syntheticChangedRegions, type SyntheticRegion } from './synthetic-source.ts';

/** Pixels (x, y) where two RGBA frames differ, as 32-bit words. */
function changedPixels(a: RawFrame, b: RawFrame): { x: number; y: number }[] {
  const pa = new Uint32Array(a.data.buffer, a.data.byteOffset, a.width * a.height);
  const pb = new Uint32Array(b.data.buffer, b.data.byteOffset, b.width * b.height);
  const out: { x: number; y: number }[] = [];
  for (let i = 0; i < pa.length; i++) if (pa[i] !== pb[i]) out.push({ x: i % a.width, y: Math.floor(i / a.width) });
  return out;
}

function inside(p: { x: number; y: number }, r: SyntheticRegion): boolean {
  return p.x >= r.x && p.x < r.x + r.width && p.y >= r.y && p.y < r.y + r.height;
}

function fixedClock(start: number): () => number {
  let t = start;
  return () => t++;
}

describe('synthetic source', () => {
  it.each([
    [320, 240, 120],
    [640, 480, 60],
    [1920, 1080, 8],
  ])('changes pixels only inside the announced regions (%i×%i, %i frames)', async (width, height, frames) => {
    const source = createSyntheticSource({ width, height, now: fixedClock(1_700_000_000_000) });
    let previous = await source.capture();
    const seen = new Set<string>();
    for (let seq = 1; seq < frames; seq++) {
      const frame = await source.capture();
      const regions = syntheticChangedRegions(seq, width, height);
      for (const region of regions) seen.add(region.name);
      const outside = changedPixels(previous, frame).filter((p) => !regions.some((r) => inside(p, r)));
      expect(outside.slice(0, 5), `seq ${seq}`).toEqual([]);
      previous = frame;
    }
    expect([...seen].sort()).toEqual(['moving-window', 'scroll', 'stamp', 'typing', 'video']);
  });

  it('office scene: types and scrolls at a human pace, with no video or moving window', async () => {
    const [width, height] = [640, 480];
    const source = createSyntheticSource({ width, height, scene: 'office', now: fixedClock(1_700_000_000_000) });
    const desktop = createSyntheticSource({ width, height, now: () => 1_700_000_000_000 });
    let previous = await source.capture();
    const first = await desktop.capture();
    // The same desktop, minus the moving window and the video.
    expect(changedPixels(previous, first).length).toBeGreaterThan(0);
    expect(changedPixels(previous, first).every((p) => p.y >= 240 || (p.x < STAMP_WIDTH_PX && p.y < STAMP_HEIGHT_PX))).toBe(true);
    const frames = 2 * OFFICE_FRAMES_PER_SCROLL + 1;
    const counts = new Map<string, number>();
    let unchangedOutsideStamp = 0;
    for (let seq = 1; seq < frames; seq++) {
      const frame = await source.capture();
      const regions = syntheticChangedRegions(seq, width, height, 'office');
      for (const r of regions) counts.set(r.name, (counts.get(r.name) ?? 0) + 1);
      const changed = changedPixels(previous, frame);
      expect(changed.filter((p) => !regions.some((r) => inside(p, r))).slice(0, 5), `seq ${seq}`).toEqual([]);
      if (changed.every((p) => p.x < STAMP_WIDTH_PX && p.y < STAMP_HEIGHT_PX)) unchangedOutsideStamp++;
      previous = frame;
    }
    expect(counts.get('stamp')).toBe(frames - 1);
    expect(counts.get('typing')).toBe(Math.floor((frames - 1) / OFFICE_FRAMES_PER_GLYPH));
    expect(counts.get('scroll')).toBe(2);
    expect(counts.has('video') || counts.has('moving-window')).toBe(false);
    // Most frames change nothing but the stamp (a glyph every 4th frame, a scroll every 30th).
    expect(unchangedOutsideStamp).toBeGreaterThan((frames - 1) / 2);
    expect(syntheticChangedRegions(OFFICE_FRAMES_PER_SCROLL, width, height, 'office').map((r) => r.name)).toContain('scroll');
  });

  it('announces the whole screen for frame 0', () => {
    expect(syntheticChangedRegions(0, 800, 600)).toEqual([{ name: 'screen', x: 0, y: 0, width: 800, height: 600 }]);
  });

  it('stamps every frame with its seq and capture time', async () => {
    const source = createSyntheticSource({ width: 640, height: 480, now: fixedClock(1_767_225_600_000) });
    for (let seq = 0; seq < 5; seq++) {
      const frame = await source.capture();
      expect(frame.seq).toBe(seq);
      expect(frame.captureTsMs).toBe(1_767_225_600_000 + seq);
      expect(readStamp(frame.data, frame.width, frame.height)).toEqual({ seq, captureTsMs: frame.captureTsMs });
    }
  });

  it('draws the same pixels for the same seq, whatever the clock says (outside the stamp)', async () => {
    const a = createSyntheticSource({ width: 640, height: 480, now: () => 1 });
    const b = createSyntheticSource({ width: 640, height: 480, now: () => 9_999_999 });
    for (let seq = 0; seq < 30; seq++) {
      const [fa, fb] = [await a.capture(), await b.capture()];
      const diff = changedPixels(fa, fb);
      expect(diff.every((p) => p.x < STAMP_WIDTH_PX && p.y < STAMP_HEIGHT_PX)).toBe(true);
    }
  });

  it('changes the video region on every frame', async () => {
    const source = createSyntheticSource({ width: 640, height: 480, now: () => 0 });
    let previous = await source.capture();
    for (let seq = 1; seq < 20; seq++) {
      const frame = await source.capture();
      const video = syntheticChangedRegions(seq, 640, 480).find((r) => r.name === 'video');
      if (video === undefined) throw new Error('no video region');
      expect(changedPixels(previous, frame).some((p) => inside(p, video))).toBe(true);
      previous = frame;
    }
  });

  it('hands out fresh copies the source never touches again', async () => {
    const source = createSyntheticSource({ width: 320, height: 240, now: () => 0 });
    const first = await source.capture();
    const snapshot = first.data.slice();
    first.data.fill(0, 0, 4096);
    await source.capture();
    const again = createSyntheticSource({ width: 320, height: 240, now: () => 0 });
    expect(Buffer.compare((await again.capture()).data, snapshot)).toBe(0);
    const second = await source.capture();
    expect(second.data.buffer).not.toBe(first.data.buffer);
    expect(second.data.length).toBe(320 * 240 * 4);
  });

  it('renders 1080p frames fast enough for 30 fps', async () => {
    const source = createSyntheticSource({ now: () => 0 });
    await source.capture();
    const frames = 60;
    const start = performance.now();
    for (let i = 0; i < frames; i++) await source.capture();
    const msPerFrame = (performance.now() - start) / frames;
    console.log(`synthetic 1080p capture: ${msPerFrame.toFixed(2)} ms/frame`);
    expect(msPerFrame).toBeLessThan(20);
  });

  it('refuses a screen smaller than the scene and capture after close', async () => {
    expect(() => createSyntheticSource({ width: 200, height: 100 })).toThrow(RangeError);
    const source = createSyntheticSource({ width: 320, height: 240 });
    await source.close();
    await source.close();
    await expect(source.capture()).rejects.toThrow(/closed/);
  });
});
