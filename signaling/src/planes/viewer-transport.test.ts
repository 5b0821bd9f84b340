import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DRAIN_FALLBACK_MS, socketTransport, type RelaySocket } from './viewer-transport.ts';

function fakeSocket(o: { tcp?: boolean } = {}) {
  const tcp = new EventEmitter();
  const ws = { bufferedAmount: 0, _socket: o.tcp === false ? undefined : tcp };
  const conn = Object.assign(new EventEmitter(), { writeBuffer: [] as unknown[], transport: { socket: ws } });
  const sent: Uint8Array[] = [];
  const socket: RelaySocket = { emit: (_e, chunk) => sent.push(chunk), conn };
  return { socket, conn, ws, tcp, sent };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('socketTransport (a viewer socket as the relay sees it)', () => {
  it('counts ws bufferedAmount plus engine.io packets not yet written', () => {
    const f = fakeSocket();
    f.ws.bufferedAmount = 1000;
    const header = '451-["relay:frame",{"_placeholder":true,"num":0}]';
    f.conn.writeBuffer.push({ data: header }, { data: new Uint8Array(300) }, { data: new ArrayBuffer(7) });
    expect(socketTransport(f.socket).bufferedBytes()).toBe(1000 + header.length + 300 + 7);
  });

  it('ends a wait when the TCP socket drains, without waiting for the fallback timer', () => {
    vi.useFakeTimers();
    const f = fakeSocket();
    const cb = vi.fn();
    socketTransport(f.socket).onDrain(cb);
    expect(cb).not.toHaveBeenCalled();
    f.tcp.emit('drain');
    expect(cb).toHaveBeenCalledTimes(1);
    // Once only, and nothing left listening.
    f.conn.emit('drain');
    vi.advanceTimersByTime(DRAIN_FALLBACK_MS * 2);
    expect(cb).toHaveBeenCalledTimes(1);
    expect(f.tcp.listenerCount('drain')).toBe(0);
    expect(f.conn.listenerCount('drain')).toBe(0);
  });

  it('ends a wait on engine.io drain, and after the fallback when nothing drains', () => {
    vi.useFakeTimers();
    const f = fakeSocket();
    const byEngine = vi.fn();
    socketTransport(f.socket).onDrain(byEngine);
    f.conn.emit('drain');
    expect(byEngine).toHaveBeenCalledTimes(1);

    const g = fakeSocket({ tcp: false });
    const byTimer = vi.fn();
    socketTransport(g.socket).onDrain(byTimer);
    vi.advanceTimersByTime(DRAIN_FALLBACK_MS - 1);
    expect(byTimer).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(byTimer).toHaveBeenCalledTimes(1);
    expect(g.conn.listenerCount('drain')).toBe(0);
  });

  it('writes relay chunks as relay:frame', () => {
    const f = fakeSocket();
    const chunk = new Uint8Array([1, 2, 3]);
    socketTransport(f.socket).send(chunk);
    expect(f.sent).toEqual([chunk]);
  });
});
