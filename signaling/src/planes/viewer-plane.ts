import type { Socket } from 'socket.io';
import { BurstyRateLimiter, RateLimiterMemory } from 'rate-limiter-flexible';
import { AppError } from '@guruconnect/shared/errors';
import { PROTOCOL_VERSION } from '@guruconnect/shared/limits';
import { viewerClientEvents } from '@guruconnect/shared/protocol';
import type { ViewerIdentity } from './handshake-auth.ts';
import type { PlaneContext } from './plane-context.ts';
import { receive, refuseUnknownEvents } from './receive.ts';
import { deliverChat } from './chat.ts';

const SIGNALS = ['signal:offer', 'signal:answer', 'signal:candidate'] as const;

/** Relay input throttle: RELAY_INPUT_RATE_PER_S sustained, bursts up to RELAY_INPUT_BURST. */
export function createInputLimiter(ratePerS: number, burst: number): BurstyRateLimiter {
  return new BurstyRateLimiter(
    new RateLimiterMemory({ keyPrefix: 'relay-input', points: ratePerS, duration: 1 }),
    new RateLimiterMemory({ keyPrefix: 'relay-input-burst', points: Math.max(0, burst - ratePerS), duration: Math.max(1, Math.ceil(burst / ratePerS)) }),
  );
}

/** A technician viewing one session on `/ws/viewer`. */
export function onViewerConnection(ctx: PlaneContext & { inputLimiter: BurstyRateLimiter }, socket: Socket, id: ViewerIdentity, ip: string): void {
  const log = ctx.logger.child({ socketId: socket.id, sessionId: id.sessionId });
  let ready: Promise<void> | null = null;
  let gone = false;
  let dropped = 0;
  let refusedInputAudited = false;

  refuseUnknownEvents(socket, Object.keys(viewerClientEvents), log);

  const agentSocket = () => {
    const live = ctx.registry.sessions.get(id.sessionId);
    if (!live?.agent) throw new AppError('ERR_SESSION_NOT_CONNECTED', 'The agent is not connected');
    return { live, agent: live.agent };
  };

  for (const event of SIGNALS) {
    receive(socket, log, event, viewerClientEvents[event], async (msg) => {
      await ready;
      const { agent } = agentSocket();
      ctx.broadcaster.emit('agent', agent.socketId, event, { from: socket.id, description: msg.description, candidate: msg.candidate });
    });
  }

  receive(socket, log, 'chat:send', viewerClientEvents['chat:send'], async (msg) => {
    await ready;
    if (!id.canChat) throw new AppError('ERR_CHAT_NOT_ALLOWED', 'You may not chat');
    const live = ctx.registry.sessions.get(id.sessionId);
    if (!live) throw new AppError('ERR_SESSION_NOT_CONNECTED', 'Session not live');
    deliverChat(ctx, live, { kind: 'technician', name: id.displayName }, msg.text);
  });

  receive(socket, log, 'relay:input', viewerClientEvents['relay:input'], async (input) => {
    await ready;
    if (!id.control) {
      if (!refusedInputAudited) {
        refusedInputAudited = true;
        await ctx.audit.record({ type: 'input_refused', actorUserId: id.userId, sessionId: id.sessionId, clientIp: ip, details: { path: 'relay' } });
      }
      throw new AppError('ERR_INPUT_NOT_ALLOWED', 'View-only session');
    }
    try {
      await ctx.inputLimiter.consume(socket.id);
    } catch {
      dropped++;
      if (dropped % 100 === 1) log.debug({ dropped }, 'relay input throttled');
      throw new AppError('ERR_INPUT_THROTTLED', 'Too many input events');
    }
    const { agent } = agentSocket();
    ctx.broadcaster.emit('agent', agent.socketId, 'relay:input', { from: socket.id, input });
  });

  receive(socket, log, 'keyframe:request', viewerClientEvents['keyframe:request'], async () => {
    await ready;
    const { agent } = agentSocket();
    ctx.broadcaster.emit('agent', agent.socketId, 'keyframe:request', { from: socket.id });
  });

  // Flow control for relayed frames; viewers emit it without an ack callback (one reply per frame
  // would double the messages), and only a client that asks for a reply gets one.
  receive(socket, log, 'relay:ack', viewerClientEvents['relay:ack'], (msg) => {
    ctx.relay.ack(socket.id, msg.frameId);
    ctx.media.ack(socket.id, msg.frameId);
  });

  receive(socket, log, 'relay:media-ticket', viewerClientEvents['relay:media-ticket'], async () => {
    await ready;
    if (gone) throw new AppError('ERR_SESSION_NOT_CONNECTED', 'Disconnected');
    const ticket = await ctx.media.ticket({ role: 'viewer', socketId: socket.id, sessionId: id.sessionId, relayAcks: ctx.registry.viewers.get(socket.id)?.relayAcks === true }, ip);
    // Gone while the relay process started: the ticket must not outlive the connection.
    if (gone) ctx.media.detach(socket.id);
    return ticket;
  });

  socket.on('disconnect', (reason) => {
    gone = true;
    ctx.relay.drop(socket.id);
    ctx.media.detach(socket.id);
    void (ready ?? Promise.resolve()).then(() => ctx.sessions.viewerDisconnected(socket.id, reason, ip)).catch((err: unknown) => log.error({ err }, 'viewer disconnect handling failed'));
  });

  ready = (async () => {
    const record = await ctx.sessions.assertJoinable(id.sessionId);
    const live = await ctx.sessions.viewerConnected(id, socket.id, record, ip);
    if (gone) return;
    socket.emit('session:welcome', {
      sessionId: id.sessionId,
      viewerId: socket.id,
      control: id.control,
      agentOnline: Boolean(live.agent),
      iceServers: ctx.iceServersFor(`viewer:${id.userId}`),
      relayPolicy: ctx.config.RELAY_POLICY,
      protocol: PROTOCOL_VERSION,
    });
    log.info({ control: id.control }, 'viewer connected');
  })().catch((err: unknown) => {
    log.warn({ err }, 'viewer connect failed');
    socket.disconnect(true);
  });
}
