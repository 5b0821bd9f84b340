import type { Socket } from 'socket.io';
import { AppError } from '@guruconnect/shared/errors';
import { RELAY_CHUNK_MAX_BYTES, PROTOCOL_VERSION } from '@guruconnect/shared/limits';
import { relayMessageKind } from '../relay/relay-message.ts';
import { agentClientEvents } from '@guruconnect/shared/protocol';
import type { AgentIdentity } from './handshake-auth.ts';
import type { PlaneContext } from './plane-context.ts';
import { receive, refuseUnknownEvents } from './receive.ts';
import { deliverChat } from './chat.ts';

const SIGNALS = ['signal:offer', 'signal:answer', 'signal:candidate'] as const;

/** An agent (or a browser share-screen page) on `/ws/agent`. */
export function onAgentConnection(ctx: PlaneContext, socket: Socket, id: AgentIdentity, ip: string): void {
  const log = ctx.logger.child({ socketId: socket.id, machineId: id.machineId });
  let ready: Promise<void> | null = null;
  let gone = false;

  refuseUnknownEvents(socket, Object.keys(agentClientEvents), log);

  const sessionOf = () => {
    const agent = ctx.registry.agents.get(socket.id);
    const live = agent && ctx.registry.sessions.get(agent.sessionId);
    if (!agent || !live) throw new AppError('ERR_SESSION_NOT_CONNECTED', 'Session not ready');
    return { agent, live };
  };

  for (const event of SIGNALS) {
    receive(socket, log, event, agentClientEvents[event], async (msg) => {
      await ready;
      const { live } = sessionOf();
      // Only to a viewer of this very session.
      if (!live.viewers.has(msg.to)) throw new AppError('ERR_SIGNAL_NOT_ALLOWED', 'Not a viewer of this session');
      ctx.broadcaster.emit('viewer', msg.to, event, { from: socket.id, description: msg.description, candidate: msg.candidate });
    });
  }

  receive(socket, log, 'chat:send', agentClientEvents['chat:send'], async (msg) => {
    await ready;
    const { agent, live } = sessionOf();
    deliverChat(ctx, live, { kind: 'end_user', name: agent.name }, msg.text);
  });

  receive(socket, log, 'path:report', agentClientEvents['path:report'], async (msg) => {
    await ready;
    await ctx.sessions.reportPath(socket.id, msg.viewerId, msg.path, msg.reason, ip);
  });

  receive(socket, log, 'relay:window', agentClientEvents['relay:window'], async (msg) => {
    await ready;
    const { live } = sessionOf();
    // Only viewers of this very session.
    const viewer = live.viewers.get(msg.viewerId);
    if (!viewer) throw new AppError('ERR_SIGNAL_NOT_ALLOWED', 'Not a viewer of this session');
    ctx.relayWindow(viewer, msg.frames);
  });

  receive(socket, log, 'relay:media-ticket', agentClientEvents['relay:media-ticket'], async () => {
    await ready;
    const { live } = sessionOf();
    const ticket = await ctx.media.ticket({ role: 'agent', socketId: socket.id, sessionId: live.id, relayAcks: false }, ip);
    // Gone while the relay process started: the ticket must not outlive the connection.
    if (gone) ctx.media.detach(socket.id);
    return ticket;
  });

  let oversizeAudited = false;
  receive(socket, log, 'relay:frame', agentClientEvents['relay:frame'], async (msg) => {
    if (msg.data.length > RELAY_CHUNK_MAX_BYTES) {
      if (!oversizeAudited) {
        oversizeAudited = true;
        await ctx.audit.record({ type: 'message_too_large', clientIp: ip, details: { plane: 'agent', event: 'relay:frame', bytes: msg.data.length, capBytes: RELAY_CHUNK_MAX_BYTES } });
      }
      throw new AppError('ERR_PROTOCOL_MESSAGE_TOO_LARGE', `Relay messages are at most ${RELAY_CHUNK_MAX_BYTES} bytes`);
    }
    const kind = relayMessageKind(msg.data);
    if (!kind) throw new AppError('ERR_PROTOCOL_INVALID_MESSAGE', 'Not a codec chunk or cursor message');
    await ready;
    const { live } = sessionOf();
    let delivered = 0;
    for (const viewerId of Array.isArray(msg.to) ? msg.to : [msg.to]) {
      // Only viewers of this very session.
      const viewer = live.viewers.get(viewerId);
      if (viewer && ctx.relayTo(viewer, msg.data, kind)) delivered++;
    }
    return { delivered };
  });

  socket.on('disconnect', (reason) => {
    gone = true;
    ctx.media.detach(socket.id);
    void (ready ?? Promise.resolve()).then(() => ctx.sessions.agentDisconnected(socket.id, reason, ip)).catch((err: unknown) => log.error({ err }, 'agent disconnect handling failed'));
  });

  ready = (async () => {
    const live = await ctx.sessions.agentConnected(id, socket.id, ip);
    if (gone) return;
    socket.emit('session:welcome', {
      sessionId: live.id,
      machineId: id.machineId,
      kind: live.kind,
      iceServers: ctx.iceServersFor(`agent:${id.machineId}`),
      relayPolicy: ctx.config.RELAY_POLICY,
      protocol: PROTOCOL_VERSION,
    });
    for (const v of live.viewers.values()) socket.emit('viewer:joined', { viewerId: v.socketId, userId: v.userId, displayName: v.displayName, control: v.control });
    log.info({ sessionId: live.id, kind: live.kind }, 'agent connected');
  })().catch((err: unknown) => {
    log.error({ err }, 'agent connect failed');
    socket.disconnect(true);
  });
}
