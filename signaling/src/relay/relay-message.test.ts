import { describe, expect, it } from 'vitest';
import { chunkFrame, encodeCursor, encodeFrame } from '@guruconnect/shared/codec';
import { relayMessageKind } from './relay-message.ts';

const frame = encodeFrame({ seq: 1, captureTsMs: 0, keyframe: true, screenWidth: 16, screenHeight: 16, rects: [{ x: 0, y: 0, width: 16, height: 16, codec: 'jpeg', data: new Uint8Array(10) }] });

describe('relayMessageKind', () => {
  it('tells chunks from cursor updates', () => {
    expect(relayMessageKind(chunkFrame(frame, 3)[0]!)).toBe('chunk');
    expect(relayMessageKind(encodeCursor({ x: 1, y: 2, visible: true }))).toBe('other');
  });

  it('refuses an unchunked frame, a chunk with a broken header, and bytes that are no codec message', () => {
    expect(relayMessageKind(frame)).toBeNull();
    const chunk = chunkFrame(frame, 3)[0]!.slice();
    expect(relayMessageKind(chunk.subarray(0, 6))).toBeNull();
    expect(relayMessageKind(new Uint8Array([0xff, 0xff, 1, 2]))).toBeNull();
    expect(relayMessageKind(new Uint8Array(0))).toBeNull();
  });
});
