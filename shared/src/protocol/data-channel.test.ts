import { describe, expect, it } from 'vitest';
import { INPUT_MAX_MESSAGE_BYTES, INPUT_TEXT_MAX_LENGTH, INPUT_WHEEL_MAX_DELTA_PX, PROTOCOL_VERSION, SCREEN_MAX_SIDE_PX } from '../limits.ts';
import { controlMessageSchema, inputMessageSchema, parseDataChannelMessage } from './data-channel.ts';

const MAX = SCREEN_MAX_SIDE_PX - 1;

describe('parseDataChannelMessage accepts', () => {
  it.each<[string, Record<string, unknown>]>([
    ['a pointer move', { type: 'pointer:move', x: 10, y: 20, t: 1_700_000_000_000 }],
    ['a pointer move to the far corner of the largest screen', { type: 'pointer:move', x: MAX, y: MAX, t: 0 }],
    ['a fractional sender timestamp (performance.now)', { type: 'pointer:move', x: 0, y: 0, t: 1234.5678 }],
    ['a left button press', { type: 'pointer:button', button: 'left', down: true, x: 1, y: 2, t: 3 }],
    ['a forward button release', { type: 'pointer:button', button: 'forward', down: false, x: 1, y: 2, t: 3 }],
    ['a wheel scroll up to the delta bound', { type: 'pointer:wheel', dx: -INPUT_WHEEL_MAX_DELTA_PX, dy: INPUT_WHEEL_MAX_DELTA_PX, x: 5, y: 5, t: 1 }],
    ['a key down', { type: 'key', code: 'KeyA', down: true, t: 1 }],
    ['a 32-character key code', { type: 'key', code: 'A'.repeat(32), down: false, t: 1 }],
    ['ctrl-alt-del', { type: 'keys:combo', combo: 'ctrl-alt-del', t: 1 }],
    ['print-screen', { type: 'keys:combo', combo: 'print-screen', t: 1 }],
    ['text with newlines and emoji', { type: 'text', text: 'héllo\nwörld 👋', t: 1 }],
    ['text at the length bound', { type: 'text', text: 'x'.repeat(INPUT_TEXT_MAX_LENGTH), t: 1 }],
    ['a keyframe request', { type: 'control:keyframe-request' }],
    ['a ping', { type: 'control:ping', t: 99 }],
    ['a pong', { type: 'control:pong', t: 99 }],
    ['an agent hello', { type: 'control:hello', protocol: PROTOCOL_VERSION, role: 'agent' }],
    ['a viewer hello', { type: 'control:hello', protocol: PROTOCOL_VERSION, role: 'viewer' }],
  ])('%s', (_name, message) => {
    expect(parseDataChannelMessage(JSON.stringify(message))).toEqual({ ok: true, data: message });
  });

  it('accepts a message of exactly INPUT_MAX_MESSAGE_BYTES', () => {
    const json = JSON.stringify({ type: 'control:ping', t: 1 });
    const padded = json + ' '.repeat(INPUT_MAX_MESSAGE_BYTES - json.length);
    expect(parseDataChannelMessage(padded)).toEqual({ ok: true, data: { type: 'control:ping', t: 1 } });
  });
});

describe('parseDataChannelMessage refuses', () => {
  it.each<[string, string]>([
    ['text that is not JSON', 'pointer:move 1 2'],
    ['an empty string', ''],
    ['JSON null', 'null'],
    ['a JSON array', '[{"type":"control:ping","t":1}]'],
    ['a JSON number', '42'],
    ['an object without type', '{"x":1,"y":2,"t":3}'],
    ['an unknown type', '{"type":"pointer:teleport","x":1,"y":2,"t":3}'],
    ['a socket.io-style event name', '{"type":"relay:frame"}'],
    ['a missing timestamp', '{"type":"pointer:move","x":1,"y":2}'],
    ['a negative timestamp', '{"type":"pointer:move","x":1,"y":2,"t":-1}'],
    ['a string timestamp', '{"type":"pointer:move","x":1,"y":2,"t":"1"}'],
    ['a negative coordinate', '{"type":"pointer:move","x":-1,"y":2,"t":3}'],
    ['a coordinate off the largest screen', `{"type":"pointer:move","x":${SCREEN_MAX_SIDE_PX},"y":2,"t":3}`],
    ['a fractional coordinate', '{"type":"pointer:move","x":1.5,"y":2,"t":3}'],
    ['a huge exponent coordinate', '{"type":"pointer:move","x":1e400,"y":2,"t":3}'],
    ['an extra key', '{"type":"pointer:move","x":1,"y":2,"t":3,"admin":true}'],
    ['a __proto__ key', '{"type":"pointer:move","x":1,"y":2,"t":3,"__proto__":{"polluted":true}}'],
    ['an unknown button', '{"type":"pointer:button","button":"side","down":true,"x":1,"y":2,"t":3}'],
    ['a button state that is not boolean', '{"type":"pointer:button","button":"left","down":1,"x":1,"y":2,"t":3}'],
    ['a wheel delta over the bound', `{"type":"pointer:wheel","dx":${INPUT_WHEEL_MAX_DELTA_PX + 1},"dy":0,"x":1,"y":2,"t":3}`],
    ['a fractional wheel delta', '{"type":"pointer:wheel","dx":0.5,"dy":0,"x":1,"y":2,"t":3}'],
    ['an empty key code', '{"type":"key","code":"","down":true,"t":1}'],
    ['a key code over 32 characters', `{"type":"key","code":"${'A'.repeat(33)}","down":true,"t":1}`],
    ['a key code with punctuation', '{"type":"key","code":"Key-A","down":true,"t":1}'],
    ['a key code with a non-ASCII letter', '{"type":"key","code":"Keyé","down":true,"t":1}'],
    ['an unknown combo', '{"type":"keys:combo","combo":"ctrl-shift-esc","t":1}'],
    ['empty text', '{"type":"text","text":"","t":1}'],
    ['text over the length bound', JSON.stringify({ type: 'text', text: 'x'.repeat(INPUT_TEXT_MAX_LENGTH + 1), t: 1 })],
    ['a keyframe request with a payload', '{"type":"control:keyframe-request","full":true}'],
    ['a ping without t', '{"type":"control:ping"}'],
    ['a hello with an unknown role', `{"type":"control:hello","protocol":${PROTOCOL_VERSION},"role":"admin"}`],
    ['a hello with a string protocol', '{"type":"control:hello","protocol":"1","role":"agent"}'],
  ])('%s as ERR_PROTOCOL_INVALID_MESSAGE', (_name, text) => {
    expect(parseDataChannelMessage(text)).toEqual({ ok: false, code: 'ERR_PROTOCOL_INVALID_MESSAGE' });
  });

  it.each<[string, string]>([
    ['one ASCII byte over the limit', `{"type":"control:ping","t":1}${' '.repeat(INPUT_MAX_MESSAGE_BYTES)}`.slice(0, INPUT_MAX_MESSAGE_BYTES + 1)],
    ['fewer characters than the limit but more UTF-8 bytes', JSON.stringify({ type: 'text', text: 'é'.repeat(INPUT_MAX_MESSAGE_BYTES / 2), t: 1 })],
    ['astral characters over the limit in bytes', '"' + '👋'.repeat(INPUT_MAX_MESSAGE_BYTES / 4) + '"'],
    ['a megabyte of garbage', 'x'.repeat(1024 * 1024)],
  ])('%s as ERR_PROTOCOL_MESSAGE_TOO_LARGE', (_name, text) => {
    expect(parseDataChannelMessage(text)).toEqual({ ok: false, code: 'ERR_PROTOCOL_MESSAGE_TOO_LARGE' });
  });

  it.each([0, PROTOCOL_VERSION + 1, 99])('a hello for protocol %i as ERR_PROTOCOL_VERSION', (protocol) => {
    const text = JSON.stringify({ type: 'control:hello', protocol, role: 'viewer' });
    expect(parseDataChannelMessage(text)).toEqual({ ok: false, code: 'ERR_PROTOCOL_VERSION' });
  });

  it('never throws, even for a non-string from an untyped caller', () => {
    expect(parseDataChannelMessage(undefined as unknown as string)).toEqual({ ok: false, code: 'ERR_PROTOCOL_INVALID_MESSAGE' });
  });
});

describe('the per-kind schemas', () => {
  it('keep input and control messages apart', () => {
    expect(inputMessageSchema.safeParse({ type: 'control:ping', t: 1 }).success).toBe(false);
    expect(controlMessageSchema.safeParse({ type: 'pointer:move', x: 1, y: 1, t: 1 }).success).toBe(false);
    expect(inputMessageSchema.safeParse({ type: 'pointer:move', x: 1, y: 1, t: 1 }).success).toBe(true);
    expect(controlMessageSchema.safeParse({ type: 'control:ping', t: 1 }).success).toBe(true);
  });
});
