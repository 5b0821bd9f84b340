import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from './config.ts';

const GOOD_SECRET = 'k3J9-vQ2x!Lm8#Zr5@Tn1$Wp6^Yb4&Hd7*Fs0';
const repoRoot = new URL('../../../', import.meta.url).pathname;
// The server runs in a temp dir, where a bare `--import tsx` would not resolve.
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

describe('parseConfig', () => {
  it('accepts a minimal environment and fills defaults', () => {
    const r = parseConfig({ JWT_SECRET: GOOD_SECRET });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.PORT).toBe(3002);
    expect(r.config.DATA_DIR).toBe('./data');
    expect(r.config.DATABASE_URL).toBeUndefined();
    expect(r.config.PUBLIC_URL).toBe('http://localhost:3002');
    expect(r.config.ALLOWED_ORIGINS).toEqual(['http://localhost:3002']);
    expect(Object.isFrozen(r.config)).toBe(true);
  });

  it('reports every problem at once', () => {
    const r = parseConfig({ JWT_SECRET: 'short', PORT: 'abc', DATABASE_URL: 'mysql://x', TRUSTED_PROXIES: '10.0.0.0/8,nope' });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems.map((p) => p.split(' ')[0]).sort()).toEqual(['DATABASE_URL', 'JWT_SECRET', 'PORT', 'TRUSTED_PROXIES']);
  });

  it('takes tuning flags for the media relay process and refuses flags that load code or open a debugger', () => {
    const flagsOf = (v?: string) => {
      const r = parseConfig({ JWT_SECRET: GOOD_SECRET, ...(v === undefined ? {} : { MEDIA_RELAY_NODE_FLAGS: v }) });
      return r.ok ? r.config.MEDIA_RELAY_NODE_FLAGS : r.problems;
    };
    expect(flagsOf()).toEqual(['--single-threaded-gc']);
    expect(flagsOf('')).toEqual([]);
    expect(flagsOf(' --max-semi-space-size=4  --single-threaded-gc ')).toEqual(['--max-semi-space-size=4', '--single-threaded-gc']);
    for (const bad of ['--inspect', '--inspect-brk=0.0.0.0:9229', '--require=/tmp/x.js', '--import=data:x', '--eval=1', '--experimental-loader=x', 'single-threaded-gc', '--x=$(id)', '--env-file=.env']) {
      const problems = flagsOf(bad);
      expect(problems, bad).toEqual([expect.stringMatching(/^MEDIA_RELAY_NODE_FLAGS /)]);
    }
  });

  it('requires TLS_CERT_FILE and TLS_KEY_FILE together', () => {
    const r = parseConfig({ JWT_SECRET: GOOD_SECRET, TLS_CERT_FILE: '/x.pem' });
    expect(r.ok).toBe(false);
  });

  it('accepts a strong AGENT_API_KEY and https PUBLIC_URL with extra origins', () => {
    const r = parseConfig({
      JWT_SECRET: GOOD_SECRET,
      AGENT_API_KEY: 'Zq8#Lm2!Vx7@Rt4$Pn9^Kb3&Wd6*Hs1%Jf5',
      PUBLIC_URL: 'https://support.example.com/',
      ALLOWED_ORIGINS: 'https://ops.example.com',
    });
    expect(r.ok && r.config.ALLOWED_ORIGINS).toEqual(['https://support.example.com', 'https://ops.example.com']);
  });
});

/** Start the real server entry point with only the given variables and no .env file. */
function startServer(env: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'gc-cfg-'));
  return spawnSync(process.execPath, ['--import', TSX, join(repoRoot, 'signaling/src/main.ts')], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', GURU_ENV_FILE: join(dir, 'none.env'), DATA_DIR: join(dir, 'data'), PORT: '0', ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
}

describe('start-up refusals (real process)', () => {
  const secret31 = 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P';
  const cases: Array<[string, Record<string, string>, string, string | undefined]> = [
    ['no JWT_SECRET', {}, 'JWT_SECRET', undefined],
    ['a 31-character JWT_SECRET', { JWT_SECRET: secret31 }, 'JWT_SECRET', secret31],
    ['AGENT_API_KEY too short', { JWT_SECRET: GOOD_SECRET, AGENT_API_KEY: 'Zq8#Lm2!Vx7@Rt4$' }, 'AGENT_API_KEY', 'Zq8#Lm2!Vx7@Rt4$'],
    ['AGENT_API_KEY containing changeme', { JWT_SECRET: GOOD_SECRET, AGENT_API_KEY: 'xQ9!zR7@CHANGEME-wT5#vY3$uP1%sK8^' }, 'AGENT_API_KEY', 'xQ9!zR7@CHANGEME-wT5#vY3$uP1%sK8^'],
    ['AGENT_API_KEY with fewer than 10 distinct characters', { JWT_SECRET: GOOD_SECRET, AGENT_API_KEY: 'abcdefghiabcdefghiabcdefghiabcdefghi' }, 'AGENT_API_KEY', 'abcdefghiabcdefghiabcdefghiabcdefghi'],
  ];
  it.each(cases)('refuses %s with a one-line message naming the variable', (_what, env, variable, secret) => {
    const r = startServer(env);
    expect(r.status).not.toBe(0);
    expect(r.status).not.toBeNull();
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(variable);
    if (secret) {
      expect(r.stderr).not.toContain(secret);
      expect(r.stdout).not.toContain(secret);
    }
  });

  it('names the rule that failed for AGENT_API_KEY', () => {
    expect(startServer({ JWT_SECRET: GOOD_SECRET, AGENT_API_KEY: 'xQ9!zR7@CHANGEME-wT5#vY3$uP1%sK8^' }).stderr).toMatch(/changeme/);
    expect(startServer({ JWT_SECRET: GOOD_SECRET, AGENT_API_KEY: 'abcdefghiabcdefghiabcdefghiabcdefghi' }).stderr).toMatch(/10 distinct/);
    expect(startServer({ JWT_SECRET: GOOD_SECRET, AGENT_API_KEY: 'Zq8#Lm2!Vx7@Rt4$' }).stderr).toMatch(/at least 32/);
  });
});
