import type { Socket } from 'socket.io';
import type { z } from 'zod';
import { AppError } from '@guruconnect/shared/errors';
import type { Logger } from '../logging/logger.ts';
import { toAppError } from '../http/errors.ts';

type Ack = (reply: unknown) => void;

/**
 * The one receive wrapper: validates the payload before the handler runs and answers with
 * `{ ok: true, data } | { ok: false, error: { code, message } }`. Handlers never see raw input,
 * and nothing a client sends can crash the process.
 */
export function receive<S extends z.ZodType>(
  socket: Socket,
  logger: Logger,
  event: string,
  schema: S,
  handler: (data: z.infer<S>) => Promise<unknown> | unknown,
): void {
  socket.on(event, async (...args: unknown[]) => {
    const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as Ack) : undefined;
    const reply = (r: unknown) => {
      try {
        ack?.(r);
      } catch {
        // a client that cannot take its ack is not our problem
      }
    };
    const parsed = args.length === 1 ? schema.safeParse(args[0]) : null;
    if (!parsed?.success) {
      reply({ ok: false, error: { code: 'ERR_PROTOCOL_INVALID_MESSAGE', message: `Invalid ${event} payload` } });
      return;
    }
    try {
      const data = await handler(parsed.data);
      reply({ ok: true, data: data ?? {} });
    } catch (err) {
      const e = toAppError(err);
      if (e.code === 'ERR_INTERNAL') logger.error({ err, event, socketId: socket.id }, 'socket handler failed');
      reply({ ok: false, error: { code: e.code, message: e.message } });
    }
  });
}

/**
 * Unknown event names get an error ack and go no further: the check is socket.io middleware, which
 * runs before any listener, so a leftover `socket.on(name)` outside `known` is unreachable by name.
 */
export function refuseUnknownEvents(socket: Socket, known: readonly string[], logger: Logger): void {
  const allowed = new Set(known);
  socket.use((packet, next) => {
    const [event, ...args] = packet as unknown[];
    if (typeof event === 'string' && allowed.has(event)) return next();
    logger.debug({ socketId: socket.id, event: String(event).slice(0, 64) }, 'unknown event refused');
    const ack = args[args.length - 1];
    if (typeof ack === 'function') {
      try {
        ack({ ok: false, error: { code: 'ERR_PROTOCOL_UNKNOWN_EVENT', message: 'Unknown event' } });
      } catch {
        // ignore
      }
    }
    // `next` is never called: the packet is dropped without reaching any listener.
  });
}

export { AppError };
