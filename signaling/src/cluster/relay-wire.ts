/** Relay messages between nodes: [u8 kind][u8 id length][viewer id][codec message]. */
export function encodeRelayHop(viewerId: string, kind: 'chunk' | 'other', data: Uint8Array): Buffer {
  const id = Buffer.from(viewerId, 'utf8');
  const out = Buffer.allocUnsafe(2 + id.length + data.length);
  out[0] = kind === 'chunk' ? 1 : 2;
  out[1] = id.length;
  id.copy(out, 2);
  out.set(data, 2 + id.length);
  return out;
}

export function decodeRelayHop(buf: Buffer): { viewerId: string; kind: 'chunk' | 'other'; data: Uint8Array } | null {
  if (buf.length < 3 || (buf[0] !== 1 && buf[0] !== 2)) return null;
  const len = buf[1]!;
  if (buf.length < 2 + len + 1) return null;
  return { viewerId: buf.subarray(2, 2 + len).toString('utf8'), kind: buf[0] === 1 ? 'chunk' : 'other', data: buf.subarray(2 + len) };
}
