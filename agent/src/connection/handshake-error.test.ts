import { describe, expect, it } from 'vitest';
import { classifyHandshakeError, handshakeStatus } from './handshake-error.ts';

/** What socket.io-client gives for a WebSocket handshake the server answered with an HTTP error. */
const refusedWith = (status: number) =>
  Object.assign(new Error('websocket error'), { type: 'TransportError', description: { message: `Unexpected server response: ${status}` } });

describe('classifyHandshakeError', () => {
  it.each([
    [400, 'refused'],
    [401, 'refused'],
    [403, 'refused'],
    [409, 'transient'],
    [429, 'transient'],
    [500, 'transient'],
    [503, 'transient'],
  ] as const)('HTTP %i is %s', (status, kind) => {
    expect(classifyHandshakeError(refusedWith(status))).toEqual({ kind, status });
  });

  it('treats network errors (no status) as transient', () => {
    expect(classifyHandshakeError(Object.assign(new Error('websocket error'), { description: { message: 'connect ECONNREFUSED 127.0.0.1:1' } }))).toEqual({ kind: 'transient', status: null });
    expect(classifyHandshakeError(new Error('timeout'))).toEqual({ kind: 'transient', status: null });
    expect(handshakeStatus(null)).toBeNull();
  });
});
