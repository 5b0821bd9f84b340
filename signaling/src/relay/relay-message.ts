import { peekMessageType, readChunkHeader } from '@guruconnect/shared/codec';

/**
 * What a relay message from an agent is: a frame chunk, another codec message (a cursor update),
 * or null for anything the relay must refuse (an unchunked frame, a malformed chunk header — the
 * relay queue reads chunk headers, so a bad one is refused here, not thrown there).
 */
export function relayMessageKind(data: Uint8Array): 'chunk' | 'other' | null {
  try {
    const type = peekMessageType(data);
    if (type === 'frame') return null;
    if (type !== 'chunk') return 'other';
    readChunkHeader(data);
    return 'chunk';
  } catch {
    return null;
  }
}
