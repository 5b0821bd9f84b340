import { describe, expect, it } from 'vitest';
import { chunkFrame, encodeFrame } from '@guruconnect/shared/codec';
import { RELAY_ACK_WINDOW_FRAMES } from '@guruconnect/shared/limits';
import { RelayHub, type ViewerTransport } from './relay-hub.ts';

function frame(id: number): Uint8Array[] {
  const rects = [{ x: 0, y: 0, width: 8, height: 8, codec: 'jpeg' as const, data: new Uint8Array(500).fill(id & 0xff) }];
  return chunkFrame(encodeFrame({ seq: id, captureTsMs: id, keyframe: id === 1, screenWidth: 8, screenHeight: 8, rects }), id);
}

describe('RelayHub credit is per viewer', () => {
  it("one viewer's acks never open another viewer's window", () => {
    const sent: Record<string, number> = { a: 0, b: 0 };
    const transport = (id: string): ViewerTransport => ({ send: () => void sent[id]!++, bufferedBytes: () => 0, onDrain: () => {} });
    const hub = new RelayHub({ maxQueueBytes: 1 << 20, highWaterBytes: 1 << 20, transportOf: transport, requestKeyframe: () => {}, now: () => 0 });
    for (const v of ['a', 'b']) for (const c of frame(1)) hub.forward(v, c, 'chunk');
    hub.ack('a', 1);
    hub.ack('b', 1);
    for (let id = 2; id <= 20; id++) for (const v of ['a', 'b']) for (const c of frame(id)) hub.forward(v, c, 'chunk');
    expect(sent.a).toBe(1 + RELAY_ACK_WINDOW_FRAMES);
    // Viewer b acknowledges everything it could name, including a's frames: a gets nothing more.
    for (let id = 2; id <= 20; id++) hub.ack('b', id);
    expect(sent.a).toBe(1 + RELAY_ACK_WINDOW_FRAMES);
    expect(sent.b).toBeGreaterThan(1 + RELAY_ACK_WINDOW_FRAMES);
    // Acks for a viewer that has no queue are ignored.
    expect(() => hub.ack('nobody', 3)).not.toThrow();
  });
});

describe('RelayHub window caps (relay:window)', () => {
  it('applies a cap set before the viewer had a queue, only to that viewer, and forgets it when the viewer is dropped', () => {
    const sent: Record<string, number> = { a: 0, b: 0 };
    const transport = (id: string): ViewerTransport => ({ send: () => void sent[id]!++, bufferedBytes: () => 0, onDrain: () => {} });
    const hub = new RelayHub({ maxQueueBytes: 1 << 20, highWaterBytes: 1 << 20, transportOf: transport, requestKeyframe: () => {}, acknowledges: () => true, now: () => 0 });
    hub.setWindow('a', 1);
    for (let id = 1; id <= 5; id++) for (const v of ['a', 'b']) for (const c of frame(id)) hub.forward(v, c, 'chunk');
    expect(sent).toEqual({ a: 1, b: RELAY_ACK_WINDOW_FRAMES });
    hub.ack('a', 1);
    expect(sent.a).toBe(2);
    // Out-of-range caps are clamped, not trusted. (Frame 2 was shed: 4 frames waited for a window of 3.)
    hub.setWindow('a', 0);
    hub.ack('a', 3);
    expect(sent.a).toBe(3);
    hub.drop('a');
    for (let id = 6; id <= 10; id++) for (const c of frame(id)) hub.forward('a', c, 'chunk');
    expect(sent.a).toBe(3 + RELAY_ACK_WINDOW_FRAMES);
  });
});
