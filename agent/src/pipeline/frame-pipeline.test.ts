import { decodeFrame, FrameReassembler, readStamp, rectImageScale, type Frame } from '@guruconnect/shared/codec';
import { FRAME_CHUNK_MAX_BYTES, FRAME_MAX_BYTES } from '@guruconnect/shared/limits';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { RawFrame } from '../capture/screen-source.ts';
import { createSyntheticSource } from '../capture/synthetic-source.ts';
import { createFramePipeline, PIPELINE_MAX_RECTS, splitRect } from './frame-pipeline.ts';
import type { EncodedUpdate } from './types.ts';

function rawFrame(width: number, height: number, seq: number, data?: Uint8Array): RawFrame {
  return { width, height, seq, captureTsMs: 1_767_225_600_000 + seq, data: data ?? new Uint8Array(width * height * 4).fill(200) };
}

/** Random RGB, opaque (or random alpha too with `opaque` false: incompressible by any lossless codec). */
function noise(width: number, height: number, seed: number, opaque = true): Uint8Array {
  const words = new Uint32Array(width * height);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = (opaque ? x | 0xff000000 : x) >>> 0;
  }
  return new Uint8Array(words.buffer);
}

/** What a viewer does: reassemble chunks, decode frames. Also checks every size cap on the way. */
function receive(update: EncodedUpdate, reassembler = new FrameReassembler()): Frame[] {
  const frames: Frame[] = [];
  for (const message of update.messages) {
    expect(message.length).toBeLessThanOrEqual(FRAME_CHUNK_MAX_BYTES);
    const whole = reassembler.push(message);
    if (whole === null) continue;
    expect(whole.length).toBeLessThanOrEqual(FRAME_MAX_BYTES);
    frames.push(decodeFrame(whole));
  }
  expect(reassembler.hasPartialFrame).toBe(false);
  expect(update.bytes).toBe(update.messages.reduce((sum, m) => sum + m.length, 0));
  return frames;
}

/** Paints decoded rects into an RGBA framebuffer, as the viewer's canvas would. */
async function paint(framebuffer: Uint8Array, frames: readonly Frame[]): Promise<void> {
  for (const frame of frames) {
    const stride = frame.screenWidth * 4;
    for (const rect of frame.rects) {
      const pixels = rect.codec === 'raw' ? rect.data : new Uint8Array(await sharp(rect.data).ensureAlpha().raw().toBuffer());
      expect(pixels.length).toBe(rect.width * rect.height * 4);
      for (let row = 0; row < rect.height; row++) {
        framebuffer.set(pixels.subarray(row * rect.width * 4, (row + 1) * rect.width * 4), (rect.y + row) * stride + rect.x * 4);
      }
    }
  }
}

function meanAbsError(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs((a[i] ?? 0) - (b[i] ?? 0));
  return sum / a.length;
}

describe('frame pipeline', () => {
  it('sends a keyframe first, then nothing for an identical frame', async () => {
    const pipeline = createFramePipeline({ quality: 70 });
    const first = await pipeline.encode(rawFrame(640, 480, 0), { keyframe: false });
    expect(first).toMatchObject({ seq: 0, keyframe: true, rects: 1 });
    expect(await pipeline.encode(rawFrame(640, 480, 1), { keyframe: false })).toBeNull();
  });

  it('sends one small rect covering a change inside one tile', async () => {
    const pipeline = createFramePipeline({ quality: 70 });
    await pipeline.encode(rawFrame(640, 480, 0), { keyframe: false });
    const changed = rawFrame(640, 480, 1);
    changed.data.fill(10, (300 * 640 + 200) * 4, (300 * 640 + 210) * 4);
    const update = await pipeline.encode(changed, { keyframe: false });
    if (update === null) throw new Error('expected an update');
    expect(update).toMatchObject({ seq: 1, keyframe: false, rects: 1 });
    const [frame, ...rest] = receive(update);
    expect(rest).toEqual([]);
    expect(frame?.keyframe).toBe(false);
    expect(frame?.rects.map(({ x, y, width, height }) => ({ x, y, width, height }))).toEqual([{ x: 192, y: 256, width: 64, height: 64 }]);
    expect(update.bytes).toBeLessThan(4096);
  });

  it('covers the whole screen on a keyframe request, after reset and after a resize', async () => {
    const pipeline = createFramePipeline({ quality: 70 });
    await pipeline.encode(rawFrame(640, 480, 0), { keyframe: false });
    const cases: [RawFrame, boolean, () => void][] = [
      [rawFrame(640, 480, 1), true, () => {}],
      [rawFrame(640, 480, 2), false, () => pipeline.reset()],
      [rawFrame(800, 600, 3), false, () => {}],
    ];
    for (const [raw, keyframe, before] of cases) {
      before();
      const update = await pipeline.encode(raw, { keyframe });
      if (update === null) throw new Error('expected a keyframe');
      expect(update.keyframe).toBe(true);
      const frames = receive(update);
      expect(frames[0]?.keyframe).toBe(true);
      const area = frames.flatMap((f) => f.rects).reduce((sum, r) => sum + r.width * r.height, 0);
      expect(area).toBe(raw.width * raw.height);
    }
  });

  it('reproduces the synthetic desktop through JPEG, stamp included', async () => {
    const source = createSyntheticSource({ width: 1920, height: 1080 });
    const pipeline = createFramePipeline({ quality: 70 });
    const reassembler = new FrameReassembler();
    const framebuffer = new Uint8Array(1920 * 1080 * 4);
    for (let i = 0; i < 6; i++) {
      const raw = await source.capture();
      const start = performance.now();
      const update = await pipeline.encode(raw, { keyframe: false });
      if (i === 0) console.log(`1080p synthetic keyframe at q=70: ${(performance.now() - start).toFixed(1)} ms, ${update?.bytes} bytes`);
      if (update === null) throw new Error('the synthetic desktop changes every frame');
      const frames = receive(update, reassembler);
      expect(frames.every((f) => f.seq === raw.seq && f.captureTsMs === raw.captureTsMs)).toBe(true);
      await paint(framebuffer, frames);
      expect(readStamp(framebuffer, 1920, 1080)).toEqual({ seq: raw.seq, captureTsMs: raw.captureTsMs });
      expect(meanAbsError(framebuffer, raw.data)).toBeLessThan(3);
    }
  });

  it('merges a busy desktop into a few rects (each one an encode and a decode) for about the same bytes', async () => {
    const run = async (maxRects?: number) => {
      const source = createSyntheticSource({ width: 1920, height: 1080, now: () => 0 });
      const pipeline = createFramePipeline({ quality: 70, ...(maxRects ? { maxRects } : {}) });
      await pipeline.encode(await source.capture(), { keyframe: true });
      const updates: EncodedUpdate[] = [];
      for (let i = 0; i < 4; i++) updates.push((await pipeline.encode(await source.capture(), { keyframe: false }))!);
      return { rects: updates.map((u) => u.rects), bytes: updates.reduce((n, u) => n + u.bytes, 0) };
    };
    const merged = await run();
    const fine = await run(32);
    expect(Math.max(...merged.rects)).toBeLessThanOrEqual(PIPELINE_MAX_RECTS);
    expect(Math.min(...fine.rects)).toBeGreaterThan(PIPELINE_MAX_RECTS);
    expect(merged.bytes).toBeLessThan(fine.bytes * 1.05);
  });

  it('is byte-exact when lossless', async () => {
    const source = createSyntheticSource({ width: 640, height: 480, now: () => 1_000 });
    const pipeline = createFramePipeline({ quality: 70, lossless: true });
    const framebuffer = new Uint8Array(640 * 480 * 4);
    const reassembler = new FrameReassembler();
    const codecs = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const raw = await source.capture();
      const update = await pipeline.encode(raw, { keyframe: false });
      if (update === null) throw new Error('the synthetic desktop changes every frame');
      const frames = receive(update, reassembler);
      for (const rect of frames.flatMap((f) => f.rects)) codecs.add(rect.codec);
      await paint(framebuffer, frames);
      expect(Buffer.compare(framebuffer, raw.data)).toBe(0);
    }
    expect(codecs.has('png')).toBe(true);
    expect(codecs.has('jpeg')).toBe(false);
  });

  it('brings a viewer that fell behind up to date with one catch-up delta of the union of the changes (byte-exact, smaller than a keyframe)', async () => {
    const source = createSyntheticSource({ width: 640, height: 480, now: () => 1_000 });
    const pipeline = createFramePipeline({ quality: 70, lossless: true });
    const fbA = new Uint8Array(640 * 480 * 4);
    const fbB = new Uint8Array(640 * 480 * 4);
    const [rA, rB] = [new FrameReassembler(), new FrameReassembler()];
    let keyframeBytes = 0;
    for (let i = 0; i < 10; i++) {
      const raw = await source.capture();
      if (i === 3) pipeline.lag('b'); // B is congested for frames 3..8
      // Frame 5: only a keyframe is encoded (for a viewer joining): B's backlog must still grow.
      const update = await pipeline.encode(raw, { keyframe: i === 0 || i === 5 });
      if (update === null) throw new Error('the synthetic desktop changes every frame');
      if (update.keyframe) keyframeBytes = update.bytes;
      await paint(fbA, receive(update, rA));
      expect(Buffer.compare(fbA, raw.data)).toBe(0);
      if (i < 3) await paint(fbB, receive(update, rB));
      if (i === 9) {
        const catchUp = await pipeline.catchUp(raw, 'b');
        expect(catchUp).not.toBeNull();
        expect(catchUp!.keyframe).toBe(false);
        expect(catchUp!.seq).toBe(raw.seq);
        expect(catchUp!.bytes).toBeLessThan(keyframeBytes);
        await paint(fbB, receive(catchUp!, rB));
        expect(Buffer.compare(fbB, raw.data)).toBe(0);
      }
    }
    // In sync again: no backlog left.
    await expect(pipeline.catchUp(await source.capture(), 'b')).rejects.toThrow(/not behind/);
  });

  it('keeps the backlog of a viewer behind when a tick encodes only a keyframe (for someone joining)', async () => {
    const pipeline = createFramePipeline({ quality: 70, lossless: true });
    const fbB = new Uint8Array(128 * 128 * 4);
    const rB = new FrameReassembler();
    const f0 = rawFrame(128, 128, 0);
    await paint(fbB, receive((await pipeline.encode(f0, { keyframe: true }))!, rB));
    pipeline.lag('b');
    const d1 = f0.data.slice();
    d1.fill(7, (10 * 128 + 10) * 4, (10 * 128 + 12) * 4); // tile (0,0), changed only in frame 1
    await pipeline.encode(rawFrame(128, 128, 1, d1), { keyframe: true });
    const d2 = d1.slice();
    d2.fill(9, (100 * 128 + 100) * 4, (100 * 128 + 102) * 4); // tile (1,1)
    const f2 = rawFrame(128, 128, 2, d2);
    await pipeline.encode(f2, { keyframe: false });
    const catchUp = await pipeline.catchUp(f2, 'b');
    expect(catchUp!.keyframe).toBe(false);
    await paint(fbB, receive(catchUp!, rB));
    expect(Buffer.compare(fbB, d2)).toBe(0);
  });

  it('answers a catch-up with null when nothing changed, and with a keyframe after a resize or a forgotten reference', async () => {
    const pipeline = createFramePipeline({ quality: 70 });
    await pipeline.encode(rawFrame(64, 64, 0), { keyframe: true });
    pipeline.lag('b');
    expect(await pipeline.encode(rawFrame(64, 64, 1), { keyframe: false })).toBeNull();
    expect(await pipeline.catchUp(rawFrame(64, 64, 1), 'b')).toBeNull();

    pipeline.lag('b');
    const resized = await pipeline.catchUp(rawFrame(128, 64, 2), 'b');
    expect(resized!.keyframe).toBe(true);

    pipeline.lag('c');
    pipeline.reset();
    expect((await pipeline.catchUp(rawFrame(128, 64, 3), 'c'))!.keyframe).toBe(true);

    pipeline.lag('d');
    pipeline.forget('d');
    await expect(pipeline.catchUp(rawFrame(128, 64, 4), 'd')).rejects.toThrow(/not behind/);
  });

  /**
   * A 256×128 grey screen; `paintBlock` draws grey screen-like content (a gradient under 4-px
   * checks: edges, where JPEG quality shows) into one 64×64 tile-aligned block of a copy.
   */
  const softScreen = () => new Uint8Array(256 * 128 * 4).fill(200);
  function paintBlock(data: Uint8Array, tx: number, ty: number, seed: number): Uint8Array {
    const out = data.slice();
    for (let y = 0; y < 64; y++) {
      for (let x = 0; x < 64; x++) {
        const i = ((ty * 64 + y) * 256 + tx * 64 + x) * 4;
        const v = ((x >> 2) + (y >> 2) + seed) & 1 ? 240 : (x * 2 + y * 2 + seed * 40) & 0xff;
        out.fill(v, i, i + 3);
        out[i + 3] = 255;
      }
    }
    return out;
  }

  /** The pixels of one 64×64 block of a 256-wide screen. */
  function block(data: Uint8Array, tx: number, ty: number): Uint8Array {
    const out = new Uint8Array(64 * 64 * 4);
    for (let row = 0; row < 64; row++) out.set(data.subarray(((ty * 64 + row) * 256 + tx * 64) * 4, ((ty * 64 + row) * 256 + tx * 64 + 64) * 4), row * 256);
    return out;
  }

  it('sends catch-ups at the lower catch-up quality, then the same tiles sharp with refine', async () => {
    // Two pipelines fed the same frames: one whose catch-ups are at full quality (the reference).
    const soft = createFramePipeline({ quality: 80, catchUpQuality: 30 });
    const sharpOnly = createFramePipeline({ quality: 80, catchUpQuality: 80 });
    const f0 = rawFrame(256, 128, 0, softScreen());
    const f1 = rawFrame(256, 128, 1, paintBlock(paintBlock(f0.data, 0, 0, 21), 3, 1, 22));
    const fb = new Uint8Array(256 * 128 * 4);
    const r = new FrameReassembler();
    for (const p of [soft, sharpOnly]) {
      await p.encode(f0, { keyframe: true });
      p.lag('b');
      await p.encode(f1, { keyframe: false });
    }
    const softUpdate = (await soft.catchUp(f1, 'b'))!;
    const sharpUpdate = (await sharpOnly.catchUp(f1, 'b'))!;
    expect(softUpdate.keyframe).toBe(false);
    expect(softUpdate.bytes).toBeLessThan(sharpUpdate.bytes * 0.8);
    await paint(fb, receive((await soft.encode(f0, { keyframe: true }))!, r));
    await paint(fb, receive(softUpdate, r));
    const softError = meanAbsError(block(fb, 3, 1), block(f1.data, 3, 1));
    // Nothing else changed: refine resends exactly the catch-up's tiles at full quality — the
    // same bytes the full-quality catch-up had — and the picture gets sharper.
    const refined = (await soft.refine(f1, 'b'))!;
    expect(refined.keyframe).toBe(false);
    expect(refined.bytes).toBe(sharpUpdate.bytes);
    await paint(fb, receive(refined, r));
    expect(meanAbsError(block(fb, 3, 1), block(f1.data, 3, 1))).toBeLessThan(softError * 0.8);
    expect(await soft.refine(f1, 'b')).toBeNull();
    // No soft tiles from full-quality catch-ups.
    expect(await sharpOnly.refine(f1, 'b')).toBeNull();
  });

  it('refines only the soft tiles no full-quality delta has covered since, and never a viewer that is behind', async () => {
    const pipeline = createFramePipeline({ quality: 80, catchUpQuality: 30 });
    const f0 = rawFrame(256, 128, 0, softScreen());
    await pipeline.encode(f0, { keyframe: true });
    pipeline.lag('b');
    const f1 = rawFrame(256, 128, 1, paintBlock(paintBlock(f0.data, 0, 0, 31), 3, 1, 32));
    await pipeline.encode(f1, { keyframe: false });
    await pipeline.catchUp(f1, 'b');
    // In sync now: the next delta redraws tile (0,0) at full quality for b as well.
    const f2 = rawFrame(256, 128, 2, paintBlock(f1.data, 0, 0, 33));
    const delta = (await pipeline.encode(f2, { keyframe: false }))!;
    expect(receive(delta).flatMap((f) => f.rects.map((x) => [x.x, x.y]))).toEqual([[0, 0]]);
    const refined = (await pipeline.refine(f2, 'b'))!;
    expect(receive(refined).flatMap((f) => f.rects.map((x) => [x.x, x.y, x.width, x.height]))).toEqual([[192, 64, 64, 64]]);

    // Behind again: its soft tiles wait for the next catch-up, and refine is refused meanwhile.
    pipeline.lag('b');
    const f3 = rawFrame(256, 128, 3, paintBlock(f2.data, 1, 0, 34));
    await pipeline.encode(f3, { keyframe: false });
    await expect(pipeline.refine(f3, 'b')).rejects.toThrow(/is behind/);
    await pipeline.catchUp(f3, 'b');
    // forget (a keyframe is coming) drops them; so does a resize.
    pipeline.forget('b');
    expect(await pipeline.refine(f3, 'b')).toBeNull();
    pipeline.lag('b');
    const f4 = rawFrame(256, 128, 4, paintBlock(f3.data, 2, 0, 35));
    await pipeline.encode(f4, { keyframe: false });
    await pipeline.catchUp(f4, 'b');
    expect(await pipeline.encode(rawFrame(128, 128, 5), { keyframe: false })).not.toBeNull();
    expect(await pipeline.refine(rawFrame(128, 128, 5), 'b')).toBeNull();
  });

  it('encodes a scaled catch-up smaller per side (fewer bytes, stretched back by the viewer), leaves small rects full size, and refine resends them full size', async () => {
    const at = () => createFramePipeline({ quality: 80, catchUpQuality: 30 });
    const opaque = softScreen();
    for (let i = 3; i < opaque.length; i += 4) opaque[i] = 255;
    const f0 = rawFrame(256, 128, 0, opaque);
    // Two 64×64 blocks of coarse content (16-px checks over a gradient: what survives a 4× smaller
    // image) and one 16×16 change: big enough to scale, and too small.
    const d1 = f0.data.slice();
    for (const [bx, by] of [[0, 0], [128, 64]] as const) {
      for (let y = 0; y < 64; y++) {
        for (let x = 0; x < 64; x++) {
          const i = ((by + y) * 256 + bx + x) * 4;
          d1.fill(((x >> 4) + (y >> 4)) & 1 ? 230 : 20 + x + y, i, i + 3);
        }
      }
    }
    for (let y = 0; y < 16; y++) d1.fill(30 + y, ((100 + y) * 256 + 10) * 4, ((100 + y) * 256 + 26) * 4);
    const f1 = rawFrame(256, 128, 1, d1);
    const updates = new Map<number, EncodedUpdate>();
    for (const scale of [1, 2, 4]) {
      const p = at();
      await p.encode(f0, { keyframe: true });
      p.lag('b');
      await p.encode(f1, { keyframe: false });
      updates.set(scale, (await p.catchUp(f1, 'b', { scale }))!);
      if (scale === 4) {
        // Decode as the viewer does: each image is the rect's size divided by a known scale, and
        // stretched over the rect it is close to the screen (a blurred picture, not another one).
        const fb = f0.data.slice();
        const scales: number[] = [];
        for (const rect of receive(updates.get(4)!).flatMap((f) => f.rects)) {
          const { data, info } = await sharp(rect.data).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
          const s = rectImageScale(rect, info.width, info.height);
          expect(s).not.toBeNull();
          scales.push(s!);
          const pixels = s === 1 ? data : await sharp(data, { raw: { width: info.width, height: info.height, channels: 4 } }).resize(rect.width, rect.height, { fit: 'fill' }).raw().toBuffer();
          for (let row = 0; row < rect.height; row++) fb.set(pixels.subarray(row * rect.width * 4, (row + 1) * rect.width * 4), ((rect.y + row) * 256 + rect.x) * 4);
        }
        expect(scales).toContain(4);
        expect(meanAbsError(fb, f1.data)).toBeLessThan(meanAbsError(f0.data, f1.data) / 2);
        // Sharp again: refine sends the same tiles full size and at full quality.
        const refined = receive((await p.refine(f1, 'b'))!).flatMap((f) => f.rects);
        for (const rect of refined) {
          const meta = await sharp(rect.data).metadata();
          expect([meta.width, meta.height]).toEqual([rect.width, rect.height]);
        }
        expect(refined.reduce((n, r) => n + r.width * r.height, 0)).toBeGreaterThanOrEqual(2 * 64 * 64);
      }
    }
    expect(updates.get(4)!.bytes).toBeLessThan(updates.get(1)!.bytes);
  });

  it('cuts the bytes of a catch-up on the synthetic desktop by scaling it: ½ per side well under half, ¼ under that', async () => {
    const bytes: number[] = [];
    for (const scale of [1, 2, 4]) {
      const source = createSyntheticSource({ width: 960, height: 540, now: () => 1_000 });
      const p = createFramePipeline({ quality: 70 });
      await p.encode(await source.capture(), { keyframe: true });
      p.lag('b');
      let frame = await source.capture();
      for (let i = 0; i < 4; i++, frame = await source.capture()) await p.encode(frame, { keyframe: false });
      await p.encode(frame, { keyframe: false });
      bytes.push((await p.catchUp(frame, 'b', { scale }))!.bytes);
    }
    expect(bytes[1]!).toBeLessThan(bytes[0]! * 0.5);
    expect(bytes[2]!).toBeLessThan(bytes[1]! * 0.75);
  });

  it('refuses a scale outside RECT_IMAGE_SCALES, and keeps lossless catch-ups full size', async () => {
    const p = createFramePipeline({ quality: 80, lossless: true });
    const f0 = rawFrame(256, 128, 0, softScreen());
    await p.encode(f0, { keyframe: true });
    p.lag('b');
    const f1 = rawFrame(256, 128, 1, paintBlock(f0.data, 1, 1, 61));
    await p.encode(f1, { keyframe: false });
    await expect(p.catchUp(f1, 'b', { scale: 3 })).rejects.toThrow(RangeError);
    const rects = receive((await p.catchUp(f1, 'b', { scale: 4 }))!).flatMap((f) => f.rects);
    expect(rects.map((r) => r.codec)).toEqual(['png']);
    const meta = await sharp(rects[0]!.data).metadata();
    expect([meta.width, meta.height]).toEqual([rects[0]!.width, rects[0]!.height]);
  });

  it('keeps lossless catch-ups lossless: nothing to refine', async () => {
    const pipeline = createFramePipeline({ quality: 80, lossless: true });
    const f0 = rawFrame(256, 128, 0, softScreen());
    await pipeline.encode(f0, { keyframe: true });
    pipeline.lag('b');
    const f1 = rawFrame(256, 128, 1, paintBlock(f0.data, 1, 1, 41));
    await pipeline.encode(f1, { keyframe: false });
    expect(receive((await pipeline.catchUp(f1, 'b'))!).flatMap((f) => f.rects.map((x) => x.codec))).toEqual(['png']);
    expect(await pipeline.refine(f1, 'b')).toBeNull();
  });

  it('splits a huge noisy frame into frames ≤ FRAME_MAX_BYTES and chunks ≤ FRAME_CHUNK_MAX_BYTES', async () => {
    const width = 3840;
    const height = 2160;
    const raw = rawFrame(width, height, 7, noise(width, height, 99));
    const update = await createFramePipeline({ quality: 95 }).encode(raw, { keyframe: true });
    if (update === null) throw new Error('expected a keyframe');
    const frames = receive(update);
    expect(frames.length).toBeGreaterThan(1);
    expect(frames.map((f) => f.keyframe)).toEqual(frames.map((_, i) => i === 0));
    expect(frames.every((f) => f.seq === 7 && f.captureTsMs === raw.captureTsMs)).toBe(true);
    const framebuffer = new Uint8Array(width * height * 4);
    await paint(framebuffer, frames);
    expect(meanAbsError(framebuffer.subarray(0, 4 * width * 16), raw.data.subarray(0, 4 * width * 16))).toBeLessThan(40);
    const rects = frames.flatMap((f) => f.rects);
    expect(rects.reduce((sum, r) => sum + r.width * r.height, 0)).toBe(width * height);
    expect(update.rects).toBe(rects.length);
  });

  it('falls back to raw rects when PNG would be larger, and still fits the caps', async () => {
    const raw = rawFrame(1920, 1080, 3, noise(1920, 1080, 5, false));
    const update = await createFramePipeline({ quality: 70, lossless: true }).encode(raw, { keyframe: true });
    if (update === null) throw new Error('expected a keyframe');
    const frames = receive(update);
    expect(frames.flatMap((f) => f.rects).every((r) => r.codec === 'raw')).toBe(true);
    const framebuffer = new Uint8Array(1920 * 1080 * 4);
    await paint(framebuffer, frames);
    expect(Buffer.compare(framebuffer, raw.data)).toBe(0);
  });

  it('splits big rects into aligned bands of bounded area', () => {
    const pieces = splitRect({ x: 64, y: 0, width: 1920, height: 1080 }, 512 * 1024);
    expect(pieces.every((p) => p.width * p.height <= 512 * 1024 && (p.y % 16 === 0 || p.y === 0))).toBe(true);
    expect(pieces.reduce((sum, p) => sum + p.width * p.height, 0)).toBe(1920 * 1080);
    const tall = splitRect({ x: 0, y: 0, width: 16_000, height: 100 }, 100_000);
    expect(tall.every((p) => p.width * p.height <= 100_000)).toBe(true);
    expect(tall.reduce((sum, p) => sum + p.width * p.height, 0)).toBe(16_000 * 100);
  });

  it.each([
    ['quality 0', { quality: 0 }],
    ['quality 101', { quality: 101 }],
    ['a tile size that is not a multiple of 8', { quality: 70, tileSize: 60 }],
    ['zero concurrency', { quality: 70, concurrency: 0 }],
    ['catch-up quality 0', { quality: 70, catchUpQuality: 0 }],
  ])('refuses %s', (_name, options) => {
    expect(() => createFramePipeline(options)).toThrow(RangeError);
  });
});
