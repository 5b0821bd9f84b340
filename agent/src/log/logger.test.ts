import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.ts';

function capture(level: 'info' | 'debug' = 'info') {
  const lines: string[] = [];
  const log = createLogger({ level, write: (l) => lines.push(l), now: () => 0 });
  return { log, lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('agent logger', () => {
  it('writes one JSON object per line with level, time and a constant message', () => {
    const c = capture();
    c.log.info('viewer joined', { viewerId: 'v1' });
    expect(c.lines).toEqual([`${JSON.stringify({ level: 'info', time: '1970-01-01T00:00:00.000Z', msg: 'viewer joined', viewerId: 'v1' })}\n`]);
  });

  it('drops lines below its level', () => {
    const c = capture('info');
    c.log.debug('noisy');
    expect(c.lines).toEqual([]);
  });

  const KEY = `cak_${'k'.repeat(43)}`;
  it.each([
    ['an api key field', { api_key: KEY }],
    ['a key field', { key: 'anything' }],
    ['a support code', { supportCode: '123456' }],
    ['a code field that is not an error code', { code: '123456' }],
    ['chat or typed text', { text: 'my password is hunter2' }],
    ['a token', { token: 'eyJ…' }],
    ['a TURN credential nested in a list', { iceServers: [{ urls: 'turn:x', credential: 'c' }] }],
    ['an SDP (ICE passwords)', { description: { sdp: 'a=ice-pwd:secret' } }],
  ])('redacts %s', (_what, fields) => {
    const c = capture();
    c.log.info('event', fields);
    const line = c.lines[0]!;
    expect(line).toContain('[redacted]');
    for (const secret of [KEY, '123456', 'hunter2', 'eyJ', 'a=ice-pwd', '"c"', 'anything']) expect(line).not.toContain(secret);
  });

  it('keeps error codes, and scrubs agent keys from any string (e.g. an error message)', () => {
    const c = capture();
    c.log.warn('input refused', { code: 'ERR_INPUT_NOT_ALLOWED', err: new Error(`bad key ${KEY}`) });
    const [r] = c.records();
    expect(r!.code).toBe('ERR_INPUT_NOT_ALLOWED');
    expect(JSON.stringify(r)).not.toContain(KEY);
  });

  it('children add their bindings', () => {
    const c = capture();
    c.log.child({ component: 'media' }).info('x');
    expect(c.records()[0]!.component).toBe('media');
  });
});
