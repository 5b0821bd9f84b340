import type { Plane } from '../planes/handshake-auth.ts';

/** Which consoles get a notification: technicians who may view, admins, or named users. */
export interface ConsoleScope {
  viewers?: boolean;
  admins?: boolean;
  userIds?: string[];
}

export function inScope(scope: ConsoleScope, c: { userId: string; canView: boolean; isAdmin: boolean }): boolean {
  return Boolean((scope.viewers && c.canView) || (scope.admins && c.isAdmin) || scope.userIds?.includes(c.userId));
}

/** How the session logic talks to sockets — on any node — without knowing socket.io. */
export interface Broadcaster {
  emit(plane: Plane, socketId: string, event: string, payload: unknown): void;
  toConsoles(scope: ConsoleScope, event: string, payload: unknown): void;
  disconnect(plane: Plane, socketId: string, reason: string): void;
}
