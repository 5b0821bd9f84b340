import { describe, expect, it } from 'vitest';
import { isDatabaseUnavailable } from './unavailable.ts';

const wrapped = (cause: unknown) => Object.assign(new Error('Invalid `prisma.user.findUnique()` invocation'), { code: 'P2036', cause });

describe('isDatabaseUnavailable', () => {
  it.each([
    ['Prisma: cannot reach the server', Object.assign(new Error('x'), { code: 'P1001' })],
    ['Prisma: the server closed the connection', Object.assign(new Error('x'), { code: 'P1017' })],
    ['Prisma: pool timeout', Object.assign(new Error('x'), { code: 'P2024' })],
    ['an adapter error inside a Prisma error', wrapped({ kind: 'DatabaseNotReachable', host: '127.0.0.1', port: 5432 })],
    ['PostgreSQL shutting down (57P01) two levels down', wrapped({ kind: 'postgres', originalCode: '57P01', cause: { code: '57P01' } })],
    ['connection refused from the socket', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })],
    ['the pg pool timing out', new Error('timeout exceeded when trying to connect')],
    ['a connection terminated mid-query', new Error('Connection terminated unexpectedly')],
  ])('recognises %s', (_what, err) => {
    expect(isDatabaseUnavailable(err)).toBe(true);
  });

  it.each([
    ['a unique violation', Object.assign(new Error('x'), { code: 'P2002' })],
    ['a programming error', new TypeError('Cannot read properties of undefined')],
    ['a syntax error from PostgreSQL', wrapped({ kind: 'postgres', originalCode: '42601' })],
    ['null', null],
    ['a string', 'ECONNREFUSED'],
  ])('does not take %s for an outage', (_what, err) => {
    expect(isDatabaseUnavailable(err)).toBe(false);
  });

  it('stops following a cycle of causes', () => {
    const a: { message: string; cause?: unknown } = { message: 'a' };
    a.cause = a;
    expect(isDatabaseUnavailable(a)).toBe(false);
  });
});
