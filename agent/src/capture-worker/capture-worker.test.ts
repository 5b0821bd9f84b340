import { afterEach, describe, expect, it } from 'vitest';
import { decodeFrame, FrameReassembler } from '@guruconnect/shared/codec';
import { silentLogger } from '../log/logger.ts';
import { startCaptureWorker, type CaptureWorker } from './index.ts';

/** The one frame the chunks of an update carry. */
function reassemble(messages: Uint8Array[]): Uint8Array {
  const r = new FrameReassembler();
  const frames = messages.map((m) => r.push(m)).filter((f): f is Uint8Array => f !== null);
  expect(frames).toHaveLength(1);
  return frames[0]!;
}

const SMALL = { kind: 'synthetic', width: 320, height: 240, scene: 'desktop' } as const;
let open: CaptureWorker[] = [];
afterEach(async () => {
  await Promise.all(open.map((w) => w.source.close()));
  open = [];
});

async function start(restartIntervalMs?: number): Promise<CaptureWorker> {
  const w = await startCaptureWorker({ capture: SMALL, pipeline: { quality: 70 } }, silentLogger, { restartIntervalMs });
  open.push(w);
  return w;
}

describe('capture worker', () => {
  it('captures and encodes in the worker: a keyframe, then deltas of the same frames, decodable with the shared codec', async () => {
    const w = await start();
    expect([w.source.kind, w.source.width, w.source.height]).toEqual(['synthetic', 320, 240]);
    for (let i = 0; i < 4; i++) {
      const frame = await w.source.capture();
      expect(frame.seq).toBe(i);
      expect(frame.data.length).toBe(0); // the pixels stay in the worker
      const update = await w.pipeline.encode(frame, { keyframe: false });
      expect(update).not.toBeNull();
      expect(update!.keyframe).toBe(i === 0); // the first one has no reference: a keyframe
      expect(update!.seq).toBe(i);
      const decoded = decodeFrame(reassemble(update!.messages));
      expect(decoded.seq).toBe(i);
      expect(decoded.screenWidth).toBe(320);
      expect(decoded.rects.length).toBeGreaterThan(0);
    }
    // reset(): the next update is a keyframe again.
    w.pipeline.reset();
    expect((await w.pipeline.encode(await w.source.capture(), { keyframe: false }))!.keyframe).toBe(true);
  });

  it('keeps a lagging viewer across requests: a soft catch-up, then its refine, through the worker', async () => {
    const w = await start();
    await w.pipeline.encode(await w.source.capture(), { keyframe: true });
    w.pipeline.lag('b');
    await w.pipeline.encode(await w.source.capture(), { keyframe: false });
    const frame = await w.source.capture();
    await w.pipeline.encode(frame, { keyframe: false });
    const catchUp = await w.pipeline.catchUp(frame, 'b');
    expect(catchUp!.keyframe).toBe(false);
    const refined = await w.pipeline.refine(frame, 'b');
    expect(decodeFrame(reassemble(refined!.messages)).seq).toBe(frame.seq);
    // The same tiles at full quality: more bytes than the soft catch-up.
    expect(refined!.bytes).toBeGreaterThan(catchUp!.bytes);
    expect(await w.pipeline.refine(frame, 'b')).toBeNull();
  });

  it("encodes a tick's delta and a scaled catch-up concurrently, each the same frame, and the next capture waits for both", async () => {
    const big = await startCaptureWorker({ capture: { ...SMALL, width: 640, height: 480 }, pipeline: { quality: 70 } }, silentLogger);
    open.push(big);
    await big.pipeline.encode(await big.source.capture(), { keyframe: true });
    big.pipeline.lag('b');
    const frame = await big.source.capture();
    const [delta, catchUp, next] = await Promise.all([big.pipeline.encode(frame, { keyframe: false }), big.pipeline.catchUp(frame, 'b', { scale: 4 }), big.source.capture()]);
    for (const u of [delta!, catchUp!]) {
      const frames = u.messages.map((m) => new FrameReassembler().push(m)).filter((f) => f !== null);
      expect(frames.length).toBeGreaterThan(0);
      expect(decodeFrame(frames[0]!).seq).toBe(frame.seq);
    }
    // The catch-up's images are a quarter of their rects' sides (the desktop's changes are big enough).
    expect(catchUp!.bytes).toBeLessThan(delta!.bytes);
    expect(next.seq).toBe(frame.seq + 1);
    // A scale outside RECT_IMAGE_SCALES is refused in the worker too.
    big.pipeline.lag('c');
    await expect(big.pipeline.catchUp(next, 'c', { scale: 3 })).rejects.toThrow(/scale/);
  });

  it('refuses to encode a frame that is not the latest capture', async () => {
    const w = await start();
    const old = await w.source.capture();
    await w.source.capture();
    await expect(w.pipeline.encode(old, { keyframe: true })).rejects.toThrow(/not the latest capture/);
  });

  it("rejects at start with the source's own error (an X display that does not exist)", async () => {
    await expect(startCaptureWorker({ capture: { kind: 'x11', display: ':987', fps: 10 }, pipeline: { quality: 70 } }, silentLogger)).rejects.toThrow(/987|display/i);
  });

  it('fails pending and new requests when the worker dies, then starts a new one (resynchronising with a keyframe)', async () => {
    const w = await start(300);
    await w.pipeline.encode(await w.source.capture(), { keyframe: true });
    await w.kill();
    await expect(w.source.capture()).rejects.toThrow(/restarting soon|exited/);
    await new Promise((r) => setTimeout(r, 350));
    const frame = await w.source.capture();
    expect(frame.seq).toBe(0); // a new source
    expect((await w.pipeline.encode(frame, { keyframe: false }))!.keyframe).toBe(true);
    expect(w.starts).toBe(2);
  });

  it('is closed for good after close()', async () => {
    const w = await start();
    await w.source.close();
    await expect(w.source.capture()).rejects.toThrow(/closed/);
  });
});
