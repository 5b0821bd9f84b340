import { io, type Socket } from 'socket.io-client';
import { PROTOCOL_VERSION } from '@guruconnect/shared/limits';
import type { z } from 'zod';

export type PlanePath = '/ws/agent' | '/ws/viewer' | '/ws/console';

/**
 * One socket.io connection to a plane of this origin, WebSocket only, without socket.io's own
 * reconnection: every caller reconnects itself, because each attempt needs a fresh credential
 * (console tickets and support codes are single-use; viewer tokens are re-minted).
 */
export function openPlane(path: PlanePath, query: Record<string, string>): Socket {
  return io(window.location.origin, {
    path,
    transports: ['websocket'],
    query: { ...query, protocol: String(PROTOCOL_VERSION) },
    reconnection: false,
    timeout: 10_000,
    autoConnect: true,
  });
}

/** Subscribes to `event`, validating each payload with its shared schema; invalid payloads are dropped. */
export function onValid<S extends z.ZodType>(socket: Socket, event: string, schema: S, handler: (data: z.infer<S>) => void): void {
  socket.on(event, (payload: unknown) => {
    const parsed = schema.safeParse(payload);
    if (parsed.success) handler(parsed.data);
  });
}

/** An acknowledgement as every plane answers: `{ ok: true, data } | { ok: false, error }`. */
export type Ack = { ok: true; data: unknown } | { ok: false; error: { code: string; message: string } };

/** Emits with an acknowledgement; resolves with the ack, or a client-side failure after `timeoutMs`. */
export function emitWithAck(socket: Socket, event: string, payload: unknown, timeoutMs = 10_000): Promise<Ack> {
  return new Promise((resolve) => {
    if (!socket.connected) return resolve({ ok: false, error: { code: 'ERR_SESSION_NOT_CONNECTED', message: 'not connected' } });
    socket.timeout(timeoutMs).emit(event, payload, (err: Error | null, ack: unknown) => {
      if (err) return resolve({ ok: false, error: { code: 'CLIENT_NETWORK', message: 'no answer' } });
      const a = ack as Ack | undefined;
      resolve(a && typeof a === 'object' && 'ok' in a ? a : { ok: false, error: { code: 'CLIENT_BAD_RESPONSE', message: 'bad ack' } });
    });
  });
}

/** Grows 1 s, 2 s, 4 s … up to `maxMs`, with ±20 % jitter. */
export function backoffMs(attempt: number, maxMs = 15_000): number {
  const base = Math.min(maxMs, 1000 * 2 ** Math.min(attempt, 10));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}
