import { describe, expect, it } from 'vitest';
import { chunkFrame, encodeFrame } from '@guruconnect/shared/codec';
import { RelayQueue } from './relay-queue.ts';

function frameChunks(frameId: number, keyframe: boolean, bytes: number): Uint8Array[] {
  const side = 16;
  const rects = [];
  for (let left = bytes; left > 0; left -= 60_000) {
    rects.push({ x: 0, y: 0, width: side, height: side, codec: 'jpeg' as const, data: new Uint8Array(Math.min(left, 60_000)).fill(frameId & 0xff) });
  }
  return chunkFrame(encodeFrame({ seq: frameId, captureTsMs: frameId, keyframe, screenWidth: side, screenHeight: side, rects }), frameId);
}

function harness(maxBytes: number) {
  let congested = false;
  const sent: Uint8Array[] = [];
  let drops = 0;
  const q = new RelayQueue({ maxBytes, send: (c) => sent.push(c), congested: () => congested, onDrop: (n) => (drops += n) });
  return { q, sent, set: (v: boolean) => (congested = v), drops: () => drops };
}

const frameIdOf = (c: Uint8Array) => new DataView(c.buffer, c.byteOffset).getUint32(2, true);

describe('RelayQueue', () => {
  it('forwards every chunk in order while the viewer keeps up', () => {
    const h = harness(1 << 20);
    const chunks = [...frameChunks(1, true, 150_000), ...frameChunks(2, false, 10_000)];
    for (const c of chunks) h.q.push(c, 'chunk');
    expect(h.sent).toEqual(chunks);
    expect(h.q.queuedBytes).toBe(0);
  });

  it('holds at most maxBytes for a stalled viewer, dropping the oldest delta frames and asking for a keyframe', () => {
    const h = harness(200_000);
    h.set(true);
    for (let id = 1; id <= 50; id++) for (const c of frameChunks(id, id === 1, 30_000)) h.q.push(c, 'chunk');
    expect(h.q.queuedBytes).toBeLessThanOrEqual(200_000);
    expect(h.drops()).toBeGreaterThan(0);
    h.set(false);
    h.q.drain();
    const ids = [...new Set(h.sent.map(frameIdOf))];
    // The keyframe survives; what follows is the newest frames, in order.
    expect(ids[0]).toBe(1);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(ids.at(-1)).toBe(50);
  });

  it('never drops a frame it has started sending (the viewer would get half a frame)', () => {
    const h = harness(100_000);
    const big = frameChunks(1, false, 180_000);
    h.q.push(big[0]!, 'chunk');
    h.set(true);
    for (const c of big.slice(1)) h.q.push(c, 'chunk');
    for (const c of frameChunks(2, false, 90_000)) h.q.push(c, 'chunk');
    h.set(false);
    h.q.drain();
    expect(h.sent.filter((c) => frameIdOf(c) === 1)).toHaveLength(big.length);
  });

  it('discards the rest of a frame whose first chunks were dropped', () => {
    const h = harness(70_000);
    h.set(true);
    const a = frameChunks(1, false, 100_000);
    h.q.push(a[0]!, 'chunk');
    h.q.push(a[1]!, 'chunk'); // over the cap: frame 1 is dropped while incomplete
    for (const c of a.slice(2)) h.q.push(c, 'chunk');
    for (const c of frameChunks(2, true, 1000)) h.q.push(c, 'chunk');
    h.set(false);
    h.q.drain();
    expect(h.sent.map(frameIdOf)).toEqual([2]);
  });
});
