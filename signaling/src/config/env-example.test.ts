import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, parseConfig } from './config.ts';

const repoRoot = new URL('../../../', import.meta.url).pathname;
const examplePath = join(repoRoot, '.env.example');
const text = readFileSync(examplePath, 'utf8');
const GOOD_SECRET = 'k3J9-vQ2x!Lm8#Zr5@Tn1$Wp6^Yb4&Hd7*Fs0';
const SECRETS = ['JWT_SECRET', 'AGENT_API_KEY', 'BOOTSTRAP_ADMIN_PASSWORD', 'DATABASE_URL', 'TURN_SECRET', 'METRICS_TOKEN'];

/** Variables config.ts refuses when present but empty, unlike every other optional one. */
const EMPTY_REFUSED: string[] = [];
const withoutKeys = (env: Record<string, string | undefined>, keys: readonly string[]) => Object.fromEntries(Object.entries(env).filter(([k]) => !keys.includes(k)));

/** `NAME=value` (live) or `# NAME=value` (commented default). */
const VARIABLE_LINE = /^(#\s?)?([A-Z][A-Z0-9_]*)=(.*)$/;

/** Paragraphs of the file: the prose comment above and the variables it documents. */
const blocks = text.split(/\n\s*\n/).map((para) => {
  const lines = para.split('\n');
  const vars = lines.map((l) => VARIABLE_LINE.exec(l)).filter((m): m is RegExpExecArray => m !== null);
  const prose = lines
    .filter((l) => l.startsWith('#') && !VARIABLE_LINE.test(l))
    .map((l) => l.replace(/^#\s?/, ''))
    .join(' ');
  return { vars: vars.map((m) => ({ name: m[2]!, live: !m[1], value: m[3]! })), prose };
});
const variables = blocks.flatMap((b) => b.vars);

const tmp = mkdtempSync(join(tmpdir(), 'gc-env-example-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('.env.example', () => {
  it('lists exactly the variables of the config schema, each once', () => {
    const names = variables.map((v) => v.name);
    expect(new Set(names).size).toBe(names.length);
    expect([...names].sort()).toEqual([...CONFIG_VARIABLES].sort());
  });

  it.each(blocks.filter((b) => b.vars.length > 0).flatMap((b) => b.vars.map((v) => [v.name, b.prose] as const)))(
    '%s has a comment that gives its default and unit',
    (name, prose) => {
      expect(prose).toMatch(/default/i);
      if (name.endsWith('_MS')) expect(prose).toMatch(/milliseconds/i);
      else if (name.endsWith('_PER_S')) expect(prose).toMatch(/per second/i);
      else if (name.endsWith('_S')) expect(prose).toMatch(/seconds/i);
      if (name.endsWith('_BYTES')) expect(prose).toMatch(/bytes/i);
    },
  );

  it('leaves every secret empty and sets nothing else', () => {
    const live = parseEnv(text);
    expect(Object.keys(live).sort()).toEqual([...SECRETS].sort());
    for (const name of SECRETS) expect(live[name], name).toBe('');
  });

  it('tells the operator that JWT_SECRET is required and how to make one', () => {
    const block = blocks.find((b) => b.vars.some((v) => v.name === 'JWT_SECRET'));
    expect(block?.prose).toContain('required, ≥ 32 chars; `npm run setup` generates one');
  });

  it('shows the real defaults: uncommenting every line changes nothing', () => {
    const uncommented = parseEnv(text.replace(/^#\s?(?=[A-Z][A-Z0-9_]*=)/gm, ''));
    // An empty line means "unset" (the comments say so); compare the values actually shown.
    const shown = Object.fromEntries(Object.entries(uncommented).filter(([, v]) => v !== ''));
    const defaults = parseConfig({ JWT_SECRET: GOOD_SECRET });
    expect(defaults.ok).toBe(true);
    expect(parseConfig({ ...shown, JWT_SECRET: GOOD_SECRET })).toEqual(defaults);
    // …and uncommenting a line as it stands, empty or not, never stops the server.
    const asIs = parseConfig({ ...withoutKeys(uncommented, EMPTY_REFUSED), JWT_SECRET: GOOD_SECRET });
    expect(asIs.ok ? [] : asIs.problems).toEqual([]);
  });

  it('starts once copied to .env and completed by `npm run setup`', () => {
    copyFileSync(examplePath, join(tmp, '.env'));
    const r = spawnSync(process.execPath, [join(repoRoot, 'scripts/setup.mjs')], { cwd: tmp, env: { PATH: process.env.PATH }, encoding: 'utf8' });
    expect(r.status).toBe(0);
    const parsed = parseConfig(parseEnv(readFileSync(join(tmp, '.env'), 'utf8')));
    expect(parsed.ok ? [] : parsed.problems).toEqual([]);
  });
});
