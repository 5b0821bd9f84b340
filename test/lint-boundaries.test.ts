// The import arrows (shared ← signaling | agent | viewer-app ← test) and the "only config.ts /
// main.ts read the environment" rule are enforced by eslint.config.js. Each row lints a small
// snippet as if it lived at a real path in the repository and says what it proves.
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../', import.meta.url));

type Row = [proves: string, filePath: string, code: string, rule: string];

const forbidden: Row[] = [
  ['shared cannot import a Node built-in by its node: name', 'shared/src/protocol/probe.ts', "import { readFileSync } from 'node:fs';\nexport const f = readFileSync;\n", 'no-restricted-imports'],
  ['shared cannot import a Node built-in by its bare name', 'shared/src/codec/probe.ts', "import { readFileSync } from 'fs';\nexport const f = readFileSync;\n", 'no-restricted-imports'],
  ['shared cannot re-export a Node built-in', 'shared/src/probe.ts', "export * from 'node:path';\n", 'no-restricted-imports'],
  ['shared cannot load a Node built-in with import()', 'shared/src/probe.ts', "export const fs = await import('node:fs');\n", 'no-restricted-syntax'],
  ['shared cannot use the Buffer global', 'shared/src/codec/probe.ts', "export const b = Buffer.from('x');\n", 'no-restricted-globals'],
  ['shared cannot import an app package', 'shared/src/protocol/probe.ts', "import { x } from '@guruconnect/signaling';\nexport const y = x;\n", 'no-restricted-imports'],
  ['signaling cannot import the agent package', 'signaling/src/sessions/probe.ts', "import { x } from '@guruconnect/agent';\nexport const y = x;\n", 'no-restricted-imports'],
  ['a type-only import is still an import', 'signaling/src/sessions/probe.ts', "import type { X } from '@guruconnect/agent';\nexport type Y = X;\n", 'no-restricted-imports'],
  ['signaling cannot load the agent package with import()', 'signaling/src/sessions/probe.ts', "export const agent = await import('@guruconnect/agent');\n", 'no-restricted-syntax'],
  ['the agent cannot import the signaling package', 'agent/src/probe.ts', "import { x } from '@guruconnect/signaling';\nexport const y = x;\n", 'no-restricted-imports'],
  ['signaling cannot reach into the agent by a relative path', 'signaling/src/http/probe.ts', "import { x } from '../../agent/src/x.ts';\nexport const y = x;\n", 'no-restricted-imports'],
  ['the environment is read only in config.ts / main.ts', 'signaling/src/http/foo.ts', 'export const port = process.env.PORT;\n', 'no-restricted-properties'],
];

const allowed: Row[] = [
  ['shared may import zod', 'shared/src/protocol/probe.ts', "import { z } from 'zod';\nexport const s = z.string();\n", 'no-restricted-imports'],
  ['signaling may import a public subpath of shared', 'signaling/src/sessions/probe.ts', "import { PROTOCOL_VERSION } from '@guruconnect/shared/protocol';\nexport const v = PROTOCOL_VERSION;\n", 'no-restricted-imports'],
  ['the entry point may read the environment', 'signaling/src/main.ts', 'export const port = process.env.PORT;\n', 'no-restricted-properties'],
];

let eslint: ESLint;
beforeAll(() => {
  eslint = new ESLint({ cwd: repoRoot });
});

async function lint(filePath: string, code: string) {
  const abs = join(repoRoot, filePath);
  // A path the config ignores would lint clean and prove nothing.
  expect(await eslint.isPathIgnored(abs)).toBe(false);
  const [result] = await eslint.lintText(code, { filePath: abs });
  expect(result!.fatalErrorCount).toBe(0);
  return result!.messages.filter((m) => m.severity === 2);
}

describe('lint keeps the import arrows pointing one way', () => {
  it.each(forbidden)('%s (%s)', async (_proves, filePath, code, rule) => {
    const errors = await lint(filePath, code);
    expect(errors.map((e) => e.ruleId)).toContain(rule);
  });

  it.each(allowed)('%s (%s)', async (_proves, filePath, code) => {
    expect(await lint(filePath, code)).toEqual([]);
  });
});
