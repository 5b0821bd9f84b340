import { afterEach, describe, expect, it, vi } from 'vitest';
import { chunkFrame, encodeFrame } from '@guruconnect/shared/codec';
import { RELAY_ACK_TIMEOUT_MS, RelayQueue } from './relay-queue.ts';

function frameChunks(frameId: number, keyframe: boolean, bytes: number): Uint8Array[] {
  const side = 16;
  const rects = [];
  for (let left = bytes; left > 0; left -= 60_000) {
    rects.push({ x: 0, y: 0, width: side, height: side, codec: 'jpeg' as const, data: new Uint8Array(Math.min(left, 60_000)).fill(frameId & 0xff) });
  }
  return chunkFrame(encodeFrame({ seq: frameId, captureTsMs: frameId, keyframe, screenWidth: side, screenHeight: side, rects }), frameId);
}

let clock = 0;
function harness(maxBytes: number, windowFrames = 3, now: () => number = () => clock, acknowledges = false) {
  let congested = false;
  const sent: Uint8Array[] = [];
  const credit: boolean[] = [];
  let drops = 0;
  const q = new RelayQueue({ maxBytes, send: (c) => sent.push(c), congested: () => congested, onDrop: (n) => (drops += n), onCredit: (open) => credit.push(open), windowFrames, now, acknowledges });
  return { q, sent, credit, set: (v: boolean) => (congested = v), drops: () => drops };
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

  it('is full before it would drop: at half its bytes, or two frames short of the window that sheds (credit on)', () => {
    const h = harness(200_000);
    h.set(true);
    for (const c of frameChunks(1, true, 90_000)) h.q.push(c, 'chunk');
    expect(h.q.full).toBe(false);
    for (const c of frameChunks(2, false, 20_000)) h.q.push(c, 'chunk');
    expect(h.q.full).toBe(true); // 110 KB of 200 KB
    expect(h.drops()).toBe(0);
    let progressed = 0;
    const w = new RelayQueue({ maxBytes: 1 << 20, windowFrames: 3, acknowledges: true, now: () => clock, send: () => undefined, congested: () => false, onDrop: () => undefined, onProgress: () => progressed++ });
    // Three frames in flight fill the window; the next ones wait.
    for (let id = 1; id <= 3; id++) for (const c of frameChunks(id, false, 1000)) w.push(c, 'chunk');
    expect(progressed).toBe(3);
    for (const c of frameChunks(4, false, 1000)) w.push(c, 'chunk');
    expect(w.full).toBe(false); // one waiting
    for (const c of frameChunks(5, false, 1000)) w.push(c, 'chunk');
    expect(w.full).toBe(true); // two waiting: a third would be the last before frames are shed
    w.ack(3);
    expect(progressed).toBe(4); // the waiting frames went out
    expect(w.full).toBe(false);
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

  describe('credit (a viewer that acknowledges frames)', () => {
    const idsSent = (h: ReturnType<typeof harness>) => [...new Set(h.sent.map(frameIdOf))];

    it('without any ack behaves as before: everything flows while the transport takes it', () => {
      const h = harness(1 << 20, 2);
      for (let id = 1; id <= 10; id++) for (const c of frameChunks(id, id === 1, 2000)) h.q.push(c, 'chunk');
      expect(idsSent(h)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    });

    it('for a viewer that declared it acknowledges, applies the window from the first frame and tells the agent', () => {
      const h = harness(1 << 20, 2, () => clock, true);
      for (let id = 1; id <= 6; id++) for (const c of frameChunks(id, id === 1, 2000)) h.q.push(c, 'chunk');
      // Two in flight, two waiting (a third waiting one pushed out the oldest delta), credit shut.
      expect(idsSent(h)).toEqual([1, 2]);
      expect(h.credit).toEqual([false]);
      expect(h.drops()).toBeGreaterThan(0);
      h.q.ack(2);
      expect(idsSent(h)).toEqual([1, 2, 5, 6]);
      expect(h.q.unacknowledged).toBe(2);
    });

    it("keeps at most the agent's cap in flight (relay:window 1: one frame per ack), and sends what waits at once when the cap rises", () => {
      const h = harness(1 << 20, 3, () => clock, true);
      h.q.maxWindowFrames = 1;
      for (const id of [1, 2]) for (const c of frameChunks(id, id === 1, 2000)) h.q.push(c, 'chunk');
      expect(idsSent(h)).toEqual([1]);
      expect(h.credit).toEqual([false]);
      h.q.ack(1);
      expect(idsSent(h)).toEqual([1, 2]);
      for (const c of frameChunks(3, false, 2000)) h.q.push(c, 'chunk');
      expect(idsSent(h)).toEqual([1, 2]);
      // Back to the default: frame 3 goes without waiting for the ack of 2.
      h.q.maxWindowFrames = 3;
      expect(idsSent(h)).toEqual([1, 2, 3]);
      expect(h.q.window).toBe(3);
      // Never above the configured window, whatever the cap says.
      h.q.maxWindowFrames = 10;
      expect(h.q.window).toBe(3);
    });

    it('takes the cap from its options (set before the queue existed)', () => {
      const q = new RelayQueue({ maxBytes: 1 << 20, send: () => {}, congested: () => false, onDrop: () => {}, windowFrames: 3, acknowledges: true, maxWindowFrames: 1, now: () => clock });
      for (const id of [1, 2]) for (const c of frameChunks(id, id === 1, 2000)) q.push(c, 'chunk');
      expect(q.unacknowledged).toBe(1);
      expect(q.window).toBe(1);
    });

    it('after the first ack, sends at most the window of unacknowledged frames, and more on each ack', () => {
      const h = harness(1 << 20, 2);
      for (const c of frameChunks(1, true, 2000)) h.q.push(c, 'chunk');
      h.q.ack(1);
      for (let id = 2; id <= 4; id++) for (const c of frameChunks(id, false, 2000)) h.q.push(c, 'chunk');
      expect(idsSent(h)).toEqual([1, 2, 3]);
      expect(h.q.unacknowledged).toBe(2);
      h.q.ack(2);
      expect(idsSent(h)).toEqual([1, 2, 3, 4]);
      // An ack for a frame never sent (or a repeat) changes nothing.
      h.q.ack(999);
      h.q.ack(2);
      expect(h.q.unacknowledged).toBe(2);
    });

    it('a viewer that stops acknowledging gets the newest frames later, never a backlog: old deltas are dropped, a keyframe asked for', () => {
      const h = harness(1 << 20, 2);
      for (const c of frameChunks(1, true, 2000)) h.q.push(c, 'chunk');
      h.q.ack(1);
      for (let id = 2; id <= 40; id++) for (const c of frameChunks(id, false, 2000)) h.q.push(c, 'chunk');
      expect(idsSent(h)).toEqual([1, 2, 3]);
      expect(h.drops()).toBeGreaterThan(30);
      // Memory stays at the window, not at maxBytes.
      expect(h.q.queuedBytes).toBeLessThan(4 * 2600);
      h.q.ack(3);
      expect(idsSent(h)).toEqual([1, 2, 3, 39, 40]);
    });

    it('opens a window that stayed shut for RELAY_ACK_TIMEOUT_MS (acks of frames the viewer discarded never come)', () => {
      const h = harness(1 << 20, 2);
      for (const c of frameChunks(1, true, 2000)) h.q.push(c, 'chunk');
      h.q.ack(1);
      for (let id = 2; id <= 5; id++) for (const c of frameChunks(id, false, 2000)) h.q.push(c, 'chunk');
      expect(idsSent(h)).toEqual([1, 2, 3]);
      clock += RELAY_ACK_TIMEOUT_MS - 1;
      for (const c of frameChunks(6, false, 2000)) h.q.push(c, 'chunk');
      expect(idsSent(h)).toEqual([1, 2, 3]);
      clock += 1;
      for (const c of frameChunks(7, false, 2000)) h.q.push(c, 'chunk');
      expect(idsSent(h)).toEqual([1, 2, 3, 6, 7]);
    });

    it('shrinks the window to one frame for a viewer that acknowledges slowly, and widens it again', () => {
      const h = harness(1 << 20, 3);
      let id = 0;
      const frame = () => {
        id++;
        for (const c of frameChunks(id, id === 1, 2000)) h.q.push(c, 'chunk');
      };
      frame();
      h.q.ack(1);
      // A 3 frames/s viewer: one ack every 333 ms.
      for (let i = 0; i < 12; i++) {
        for (let k = 0; k < 10; k++) frame();
        clock += 333;
        h.q.ack(Math.max(...h.sent.map(frameIdOf)));
      }
      expect(h.q.window).toBe(1);
      // Fast again: one ack every 33 ms.
      for (let i = 0; i < 30; i++) {
        frame();
        clock += 33;
        h.q.ack(Math.max(...h.sent.map(frameIdOf)));
      }
      expect(h.q.window).toBe(3);
    });

    it('finishes a frame it has started even when the window closes meanwhile', () => {
      const h = harness(1 << 20, 1);
      for (const c of frameChunks(1, true, 2000)) h.q.push(c, 'chunk');
      h.q.ack(1);
      const big = frameChunks(2, false, 150_000);
      for (const c of big) h.q.push(c, 'chunk');
      expect(h.sent.filter((c) => frameIdOf(c) === 2)).toHaveLength(big.length);
    });

    it('tells the agent when the credit closes and opens again, on changes only', () => {
      const h = harness(1 << 20, 2);
      for (const c of frameChunks(1, true, 2000)) h.q.push(c, 'chunk');
      expect(h.credit).toEqual([]); // no credit yet: a viewer that never acks is never held back
      h.q.ack(1);
      for (const c of frameChunks(2, false, 2000)) h.q.push(c, 'chunk');
      expect(h.credit).toEqual([]); // 1 of 2 in flight: still open
      for (const c of frameChunks(3, false, 2000)) h.q.push(c, 'chunk');
      expect(h.credit).toEqual([false]);
      expect(h.q.open).toBe(false);
      h.q.ack(2);
      expect(h.credit).toEqual([false, true]);
      h.q.ack(3);
      expect(h.credit).toEqual([false, true]); // no change, no message
    });

    describe('with timers', () => {
      afterEach(() => vi.useRealTimers());

      it('opens a shut credit by itself after RELAY_ACK_TIMEOUT_MS, even when the agent holds every frame back', async () => {
        vi.useFakeTimers();
        const h = harness(1 << 20, 1, () => Date.now());
        for (const c of frameChunks(1, true, 2000)) h.q.push(c, 'chunk');
        h.q.ack(1);
        for (const c of frameChunks(2, false, 2000)) h.q.push(c, 'chunk');
        expect(h.credit).toEqual([false]);
        await vi.advanceTimersByTimeAsync(RELAY_ACK_TIMEOUT_MS - 10);
        expect(h.credit).toEqual([false]);
        await vi.advanceTimersByTimeAsync(20);
        expect(h.credit).toEqual([false, true]);
        expect(h.q.unacknowledged).toBe(0);
        h.q.clear();
      });
    });
  });
});
