import type { LiveSession } from '../sessions/registry.ts';
import type { PlaneContext } from './plane-context.ts';

/**
 * Deliver a chat line to every party of one session — its viewers, its agent, and the
 * consoles of admins and of technicians viewing it — and to nobody else. Only the
 * length is ever logged or audited.
 */
export function deliverChat(ctx: PlaneContext, live: LiveSession, from: { kind: 'technician' | 'end_user'; name: string }, text: string): void {
  const message = { sessionId: live.id, from, text, at: new Date().toISOString() };
  for (const v of live.viewers.values()) ctx.broadcaster.emit('viewer', v.socketId, 'chat:message', message);
  if (live.agent) ctx.broadcaster.emit('agent', live.agent.socketId, 'chat:message', message);
  ctx.broadcaster.toConsoles({ admins: true, userIds: [...new Set([...live.viewers.values()].map((v) => v.userId))] }, 'chat:message', message);
  ctx.logger.debug({ sessionId: live.id, textLength: text.length }, 'chat delivered');
}
