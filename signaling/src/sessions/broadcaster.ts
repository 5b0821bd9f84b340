import type { Plane } from '../planes/handshake-auth.ts';

/** How the session logic talks to sockets, without knowing socket.io. */
export interface Broadcaster {
  emit(plane: Plane, socketId: string, event: string, payload: unknown): void;
  /** Console sockets of these users (or every console when `userIds` is 'all-admins-and'). */
  toConsoles(filter: (c: { userId: string; canView: boolean; isAdmin: boolean }) => boolean, event: string, payload: unknown): void;
  disconnect(plane: Plane, socketId: string, reason: string): void;
}
