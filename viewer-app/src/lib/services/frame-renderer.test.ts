// The renderer's drawing rules with the browser's canvas and image decoder replaced by fakes
// (small interfaces: `createImageBitmap`, a 2D context's `drawImage`). The real browser path is
// covered end to end by test/browser; scaled rects are checked here because an agent sends them
// only to a viewer on a slow path.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chunkFrame, encodeFrame, type FrameRect } from '@guruconnect/shared/codec';
import { FrameRenderer } from './frame-renderer.ts';

/** A fake bitmap: the "image" bytes carry its size (u16 width, u16 height). */
class FakeBitmap {
  closed = false;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {}
  close(): void {
    this.closed = true;
  }
}
const image = (w: number, h: number) => new Uint8Array([w & 0xff, w >> 8, h & 0xff, h >> 8, 9, 9]);

const saved: Record<string, unknown> = {};
beforeAll(() => {
  const g = globalThis as Record<string, unknown>;
  for (const k of ['ImageBitmap', 'createImageBitmap']) saved[k] = g[k];
  g.ImageBitmap = FakeBitmap;
  g.createImageBitmap = async (blob: Blob) => {
    const b = new Uint8Array(await blob.arrayBuffer());
    return new FakeBitmap(b[0]! | (b[1]! << 8), b[2]! | (b[3]! << 8));
  };
});
afterAll(() => Object.assign(globalThis, saved));

function setup() {
  const draws: Array<[number, number, number, number, number, number]> = [];
  const ctx = { drawImage: (img: FakeBitmap, x: number, y: number, w: number, h: number) => draws.push([img.width, img.height, x, y, w, h]), putImageData: () => {} };
  const canvas = { width: 0, height: 0, getContext: () => ctx } as unknown as HTMLCanvasElement;
  let keyframeAsks = 0;
  const r = new FrameRenderer({ needKeyframe: () => void keyframeAsks++ });
  r.attach(canvas);
  const send = (seq: number, rects: FrameRect[]) => {
    for (const c of chunkFrame(encodeFrame({ seq, captureTsMs: Date.now(), keyframe: seq === 0, screenWidth: 256, screenHeight: 128, rects }), seq)) r.push(c, 'p2p');
  };
  const settle = () => new Promise((res) => setTimeout(res, 20));
  return { r, draws, send, settle, asks: () => keyframeAsks };
}

describe('FrameRenderer', () => {
  it('stretches an image that is smaller than its rect by a codec scale over the whole rect', async () => {
    const h = setup();
    h.send(0, [{ x: 0, y: 0, width: 256, height: 128, codec: 'jpeg', data: image(256, 128) }]);
    h.send(1, [
      { x: 0, y: 0, width: 130, height: 67, codec: 'jpeg', data: image(33, 17) },
      { x: 128, y: 64, width: 64, height: 64, codec: 'jpeg', data: image(32, 32) },
    ]);
    await h.settle();
    expect(h.draws).toEqual([
      [256, 128, 0, 0, 256, 128],
      [33, 17, 0, 0, 130, 67],
      [32, 32, 128, 64, 64, 64],
    ]);
    expect(h.r.snapshot().codecErrors).toBe(0);
  });

  it('draws nothing of a frame with an image of any other size, counts it and asks for a keyframe', async () => {
    const h = setup();
    h.send(0, [{ x: 0, y: 0, width: 256, height: 128, codec: 'jpeg', data: image(256, 128) }]);
    await h.settle();
    const asks = h.asks();
    // The second rect's image is neither its size nor ½ or ¼ of it (rounded up): the whole frame is refused.
    h.send(1, [
      { x: 0, y: 0, width: 64, height: 64, codec: 'jpeg', data: image(32, 32) },
      { x: 64, y: 0, width: 64, height: 64, codec: 'jpeg', data: image(21, 21) },
    ]);
    await h.settle();
    expect(h.draws).toHaveLength(1);
    expect(h.r.snapshot().codecErrors).toBe(1);
    expect(h.asks()).toBe(asks + 1);
    // Until the keyframe comes, deltas are not drawn on the stale picture.
    h.send(2, [{ x: 0, y: 0, width: 64, height: 64, codec: 'jpeg', data: image(64, 64) }]);
    await h.settle();
    expect(h.draws).toHaveLength(1);
  });
});
