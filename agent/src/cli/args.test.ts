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
        scene: 'desktop',
        fps: 15,
        quality: 70,
        relay: 'auto',
        stateFile: '/home/t/.guruconnect/agent-state.json',
        iceServers: null,
        iceTransportPolicy: 'all',
        iceTimeoutMs: ICE_TIMEOUT_MS,
        logLevel: 'info',
        update: null,
      },
    });
  });

  it('reads every option', () => {
    const r = parseAgentArgs(
      [...base, '--key', KEY, '--name', 'Front desk', '--source', 'x11', '--display', ':3', '--fps', '10', '--quality', '55', '--relay', 'force',
        '--state-file', '/tmp/s.json', '--ice-servers', '[{"urls":"stun:stun.example.com"}]', '--ice-transport-policy', 'relay', '--ice-timeout-ms', '2500',
        '--log-level', 'debug', '--size', '640x360', '--scene', 'office'],
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
      scene: 'office',
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
    ['no credential', base, /exactly one of --code, --key-file and --key/],
    ['a key file and a key', [...base, '--key', KEY, '--key-file', '/etc/guru/agent.key'], /exactly one of/],
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
    ['an unknown synthetic scene', [...base, '--code', '123456', '--scene', 'video'], /--scene must be one of desktop, office/],
    ['a tiny synthetic size', [...base, '--code', '123456', '--size', '10x10'], /--size/],
    ['an unknown option', [...base, '--code', '123456', '--frobnicate'], /frobnicate/],
    ['a positional argument', [...base, '--code', '123456', 'extra'], /argument/i],
    ['a name with a control character', [...base, '--code', '123456', '--name', 'a\u0007b'], /--name/],
    ['an unknown log level', [...base, '--code', '123456', '--log-level', 'loud'], /--log-level/],
    ['an update option without --install-root', [...base, '--key', KEY, '--update-channel', 'beta'], /--update-channel needs --install-root/],
    ['a relative install root', [...base, '--key', KEY, '--install-root', 'opt/guru'], /absolute path/],
    ['an install root for a support-code agent', [...base, '--code', '123456', '--install-root', '/opt/guru'], /needs an agent key/],
    ['an unknown update channel', [...base, '--key', KEY, '--install-root', '/opt/guru', '--update-channel', 'nightly'], /--update-channel must be one of stable, beta/],
    ['an update interval under a minute', [...base, '--key', KEY, '--install-root', '/opt/guru', '--update-interval', '59'], /--update-interval must be an integer from 60/],
    ['pinned keys from a file in a production build', [...base, '--key', KEY, '--install-root', '/opt/guru', '--update-keys', '/tmp/k.json'], /only by a development build/],
  ];
  it.each(bad)('refuses %s with a one-line message', (_what, argv, message) => {
    const r = parseAgentArgs(argv, env);
    expect(r.kind).toBe('error');
    if (r.kind !== 'error') return;
    expect(r.message).toMatch(message);
    expect(r.message).not.toContain('\n');
  });

  describe('self-update options', () => {
    it('are off without --install-root', () => {
      const r = parseAgentArgs([...base, '--key', KEY], env);
      expect(r.kind === 'run' && r.args.update).toBeNull();
    });

    it('default to the stable channel every 6 hours with the compiled-in keys', () => {
      const r = parseAgentArgs([...base, '--key', KEY, '--install-root', '/opt/guru/'], env);
      expect(r.kind === 'run' && r.args.update).toEqual({ root: '/opt/guru', channel: 'stable', intervalS: 21_600, caFile: null, keysFile: null });
    });

    it('read every update option; a development build accepts --update-keys', () => {
      const argv = [...base, '--key', KEY, '--install-root', '/opt/guru', '--update-channel', 'beta', '--update-interval', '600', '--update-ca', '/etc/guru/ca.pem', '--update-keys', '/tmp/k.json'];
      const r = parseAgentArgs(argv, { ...env, flavor: 'development' });
      expect(r.kind === 'run' && r.args.update).toEqual({ root: '/opt/guru', channel: 'beta', intervalS: 600, caFile: '/etc/guru/ca.pem', keysFile: '/tmp/k.json' });
      // The same command line is refused by a production build (the default flavour here).
      expect(parseAgentArgs(argv, { ...env, flavor: 'production' }).kind).toBe('error');
    });
  });

  describe('the agent key outside the command line', () => {
    const files: Record<string, { text: string; mode: number }> = {
      '/etc/guru/agent.key': { text: `${KEY}\n`, mode: 0o100600 },
      '/etc/guru/open.key': { text: KEY, mode: 0o100644 },
      '/etc/guru/junk.key': { text: 'not a key', mode: 0o100600 },
    };
    const readSecretFile = (path: string) => {
      const f = files[path];
      if (!f) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
      return f;
    };

    it('reads --key-file (trailing newline trimmed) so the key is not in the process list', () => {
      const r = parseAgentArgs([...base, '--key-file', '/etc/guru/agent.key'], { ...env, readSecretFile });
      expect(r.kind === 'run' && r.args.credential).toEqual({ kind: 'key', key: KEY });
    });

    it.each([
      ['a key file others can read', '/etc/guru/open.key', /chmod 600/],
      ['a file without a key', '/etc/guru/junk.key', /must hold one agent key/],
      ['a missing file', '/etc/guru/none.key', /cannot be read \(ENOENT\)/],
    ])('refuses %s without echoing its content', (_what, path, message) => {
      const r = parseAgentArgs([...base, '--key-file', path], { ...env, readSecretFile });
      expect(r.kind).toBe('error');
      if (r.kind !== 'error') return;
      expect(r.message).toMatch(message);
      expect(r.message).not.toContain(KEY);
      expect(r.message).not.toContain('not a key');
    });

    it('uses GURU_AGENT_KEY only when the command line names no credential', () => {
      const fromEnv = parseAgentArgs(base, { ...env, agentKeyEnv: KEY });
      expect(fromEnv.kind === 'run' && fromEnv.args.credential).toEqual({ kind: 'key', key: KEY });
      const code = parseAgentArgs([...base, '--code', '123456'], { ...env, agentKeyEnv: KEY });
      expect(code.kind === 'run' && code.args.credential).toEqual({ kind: 'code', code: '123456' });
      const bad = parseAgentArgs(base, { ...env, agentKeyEnv: 'cak_short' });
      expect(bad.kind === 'error' && bad.message).toMatch(/GURU_AGENT_KEY must be an agent key/);
      expect(bad.kind === 'error' && bad.message).not.toContain('cak_short');
    });

    it('an install root works with a key file', () => {
      const r = parseAgentArgs([...base, '--key-file', '/etc/guru/agent.key', '--install-root', '/opt/guru'], { ...env, readSecretFile });
      expect(r.kind === 'run' && r.args.update?.root).toBe('/opt/guru');
    });
  });

  it('never echoes a credential in its messages', () => {
    const secretKey = `cak_${'S'.repeat(10)}`; // too short: refused
    const r = parseAgentArgs([...base, '--key', secretKey], env);
    expect(r.kind === 'error' && r.message).not.toContain(secretKey);
    const r2 = parseAgentArgs([...base, '--code', '98765'], env);
    expect(r2.kind === 'error' && r2.message).not.toContain('98765');
  });
});
