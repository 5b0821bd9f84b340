import type { Socket } from 'node:net';

/**
 * Before a TCP socket goes to another process (`child.send(msg, socket)`): what this process's
 * stream already read, and no more reads on its copy of the descriptor (Node internals). Without
 * it, bytes a client sends right after its handshake can be read here and lost.
 */
export function freezeForHandoff(socket: Socket): Buffer | null {
  const extra = socket.readableLength > 0 ? (socket.read() as Buffer | null) : null;
  const handle = (socket as unknown as { _handle?: { reading: boolean; readStop(): void } })._handle;
  if (handle?.reading) {
    handle.readStop();
    handle.reading = false;
  }
  return extra;
}
