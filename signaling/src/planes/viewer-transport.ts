import type { ViewerTransport } from '../relay/relay-hub.ts';

interface Emitter {
  on(event: 'drain', cb: () => void): unknown;
  off(event: 'drain', cb: () => void): unknown;
}

/** What the relay reads of a socket.io server socket (engine.io and ws internals, typed here only). */
export interface RelaySocket {
  emit(event: 'relay:frame', chunk: Uint8Array): unknown;
  conn: Emitter & {
    writeBuffer: unknown[];
    /** The websocket transport's `ws` WebSocket; `_socket` is its TCP socket (ws 8). */
    transport?: { socket?: { bufferedAmount?: number; _socket?: Emitter } };
  };
}

/** Longest wait for a drain nothing announced (one that happened before the wait began). */
export const DRAIN_FALLBACK_MS = 15;

/** A viewer's socket as the relay sees it: write, bytes in flight, drain notification. */
export function socketTransport(socket: RelaySocket): ViewerTransport {
  const conn = socket.conn;
  return {
    send: (chunk) => socket.emit('relay:frame', chunk),
    bufferedBytes: () => (conn.transport?.socket?.bufferedAmount ?? 0) + pendingBytes(conn.writeBuffer),
    onDrain(cb) {
      let fired = false;
      const tcp = conn.transport?.socket?._socket;
      const fire = () => {
        if (fired) return;
        fired = true;
        conn.off('drain', fire);
        tcp?.off('drain', fire);
        clearTimeout(timer);
        cb();
      };
      // engine.io's 'drain' only means its write buffer went to the transport, and it is emitted
      // as the relay writes (before the relay can wait for it). What holds the relay back is
      // ws's bufferedAmount, the TCP socket's buffer: its 'drain' is the end of the wait.
      conn.on('drain', fire);
      tcp?.on('drain', fire);
      const timer = setTimeout(fire, DRAIN_FALLBACK_MS);
    },
  };
}

/** Bytes of engine.io packets not yet handed to the transport (relay chunks are up to RELAY_CHUNK_MAX_BYTES each). */
function pendingBytes(packets: unknown[]): number {
  let n = 0;
  for (const p of packets) {
    const data = (p as { data?: unknown }).data;
    n += typeof data === 'string' ? data.length : data instanceof Uint8Array ? data.byteLength : data instanceof ArrayBuffer ? data.byteLength : 64;
  }
  return n;
}
