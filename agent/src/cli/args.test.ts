import { describe, expect, it } from 'vitest';
import { ICE_TIMEOUT_MS, parseAgentArgs } from './args.ts';

const env = { home: '/home/t', hostname: 'host-1' };
const KEY = `cak_${'A'.repeat(43)}`;
const base = ['--server', 'https://support.example.com'];

describe('parseAgentArgs', () => {
  it('applies the defaults for a support-code agent', () => {
    const r = parseAgentArgs([...base, '--code', '123456'], env);
    expect(r).toEqual({
      kind: 'run',
      args: {
        server: 'https://support.example.com',
        credential: { kind: 'code', code: '123456' },
        name: 'host-1',
        source: 'synthetic',
        display: null,
        width: 1280,
        height: 720,
        fps: 15,
        quality: 70,
        relay: 'auto',
        stateFile: '/home/t/.guruconnect/agent-state.json',
        iceServers: null,
        iceTransportPolicy: 'all',
        iceTimeoutMs: ICE_TIMEOUT_MS,
        logLevel: 'info',
      },
    });
  });

  it('reads every option', () => {
    const r = parseAgentArgs(
      [...base, '--key', KEY, '--name', 'Front desk', '--source', 'x11', '--display', ':3', '--fps', '10', '--quality', '55', '--relay', 'force',
        '--state-file', '/tmp/s.json', '--ice-servers', '[{"urls":"stun:stun.example.com"}]', '--ice-transport-policy', 'relay', '--ice-timeout-ms', '2500',
        '--log-level', 'debug', '--size', '640x360'],
      env,
    );
    expect(r.kind).toBe('run');
    if (r.kind !== 'run') return;
    expect(r.args).toMatchObject({
      credential: { kind: 'key', key: KEY },
      name: 'Front desk',
      source: 'x11',
      display: ':3',
      fps: 10,
      quality: 55,
      relay: 'force',
      stateFile: '/tmp/s.json',
      iceServers: [{ urls: 'stun:stun.example.com' }],
      iceTransportPolicy: 'relay',
      iceTimeoutMs: 2500,
      logLevel: 'debug',
      width: 640,
      height: 360,
    });
  });

  it('uses x11 and $DISPLAY by default when a display is set', () => {
    const r = parseAgentArgs([...base, '--code', '123456'], { ...env, display: ':0' });
    expect(r.kind === 'run' && [r.args.source, r.args.display]).toEqual(['x11', ':0']);
  });

  it('prints help', () => {
    expect(parseAgentArgs(['--help'], env).kind).toBe('help');
  });

  const bad: Array<[string, string[], RegExp]> = [
    ['no server', ['--code', '123456'], /--server is required/],
    ['a server that is not http(s)', ['--server', 'ftp://x', '--code', '123456'], /http\(s\) URL/],
    ['a server with a query', ['--server', 'https://x/?a=1', '--code', '123456'], /query/],
    ['no credential', base, /exactly one of --code and --key/],
    ['both credentials', [...base, '--code', '123456', '--key', KEY], /exactly one/],
    ['a 5-digit code', [...base, '--code', '12345'], /6-digit/],
    ['a key without the cak_ prefix', [...base, '--key', 'x'.repeat(50)], /agent key/],
    ['fps 0', [...base, '--code', '123456', '--fps', '0'], /--fps must be an integer from 1 to 60/],
    ['fps not a number', [...base, '--code', '123456', '--fps', '12fps'], /--fps/],
    ['quality 101', [...base, '--code', '123456', '--quality', '101'], /--quality/],
    ['an unknown relay mode', [...base, '--code', '123456', '--relay', 'sometimes'], /--relay must be one of auto, force, never/],
    ['an unknown source', [...base, '--code', '123456', '--source', 'vnc'], /--source/],
    ['x11 without a display', [...base, '--code', '123456', '--source', 'x11'], /needs --display/],
    ['a malformed display', [...base, '--code', '123456', '--source', 'x11', '--display', 'zero'], /--display/],
    ['ice servers that are not JSON', [...base, '--code', '123456', '--ice-servers', '[oops'], /must be JSON/],
    ['ice servers of the wrong shape', [...base, '--code', '123456', '--ice-servers', '{"urls":1}'], /JSON array/],
    ['a tiny synthetic size', [...base, '--code', '123456', '--size', '10x10'], /--size/],
    ['an unknown option', [...base, '--code', '123456', '--frobnicate'], /frobnicate/],
    ['a positional argument', [...base, '--code', '123456', 'extra'], /argument/i],
    ['a name with a control character', [...base, '--code', '123456', '--name', 'a\u0007b'], /--name/],
    ['an unknown log level', [...base, '--code', '123456', '--log-level', 'loud'], /--log-level/],
  ];
  it.each(bad)('refuses %s with a one-line message', (_what, argv, message) => {
    const r = parseAgentArgs(argv, env);
    expect(r.kind).toBe('error');
    if (r.kind !== 'error') return;
    expect(r.message).toMatch(message);
    expect(r.message).not.toContain('\n');
  });

  it('never echoes a credential in its messages', () => {
    const secretKey = `cak_${'S'.repeat(10)}`; // too short: refused
    const r = parseAgentArgs([...base, '--key', secretKey], env);
    expect(r.kind === 'error' && r.message).not.toContain(secretKey);
    const r2 = parseAgentArgs([...base, '--code', '98765'], env);
    expect(r2.kind === 'error' && r2.message).not.toContain('98765');
  });
});
