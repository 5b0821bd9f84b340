import type { Socket } from 'socket.io';
import { consoleClientEvents } from '@guruconnect/shared/protocol';
import type { ConsoleIdentity } from './handshake-auth.ts';
import type { PlaneContext } from './plane-context.ts';
import { receive, refuseUnknownEvents } from './receive.ts';

/** A technician's dashboard on `/ws/console`: live machine and session notifications. */
export function onConsoleConnection(ctx: PlaneContext, socket: Socket, id: ConsoleIdentity): void {
  const p = id.principal;
  const log = ctx.logger.child({ socketId: socket.id, userId: p.userId });
  ctx.registry.consoles.set(socket.id, { socketId: socket.id, userId: p.userId, loginJti: p.jti, canView: p.permissions.includes('view'), isAdmin: p.role === 'admin' });
  refuseUnknownEvents(socket, Object.keys(consoleClientEvents), log);
  receive(socket, log, 'console:ping', consoleClientEvents['console:ping'], () => ({ at: new Date().toISOString() }));
  socket.on('disconnect', () => ctx.registry.consoles.delete(socket.id));
  socket.emit('console:welcome', { userId: p.userId, permissions: [...p.permissions] });
}
