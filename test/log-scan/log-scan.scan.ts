// The second phase of `npm test`: after the whole suite ran, search every log it produced
// for secrets. Tests mark every password and chat text with the CANARY marker; tokens,
// agent keys and console tickets have recognisable shapes.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const LOGS = new URL('../../test-artifacts/logs/', import.meta.url).pathname;
const PATTERNS: Array<[string, RegExp]> = [
  ['password or chat marker', /Canary7Zx/],
  ['JWT', /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\./],
  ['agent key', /cak_[A-Za-z0-9_-]{40,}/],
  ['console ticket', /gct_[A-Za-z0-9_-]{40,}/],
  ['Authorization header', /"authorization":"(?!\[Redacted\])/i],
  ['support code in a query string', /support_code=\d{6}/],
  ['support code in a URL path', /\/(?:join|support-codes)\/\d{6}(?![0-9])/],
];

describe('logs of the whole test run', () => {
  const files = readdirSync(LOGS).filter((f) => f.endsWith('.log'));

  it('exist (the suite wrote logs, so the scan below is not vacuous)', () => {
    expect(files.length).toBeGreaterThan(10);
    const total = files.reduce((n, f) => n + readFileSync(join(LOGS, f), 'utf8').length, 0);
    expect(total).toBeGreaterThan(100_000);
  });

  it.each(PATTERNS)('contain no %s', (_what, pattern) => {
    const hits = files.filter((f) => pattern.test(readFileSync(join(LOGS, f), 'utf8')));
    expect(hits).toEqual([]);
  });

  it('the scanner itself finds a planted secret', () => {
    for (const [, pattern] of PATTERNS.slice(0, 4)) {
      expect(pattern.test(`x Canary7Zx eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.sig cak_${'a'.repeat(43)} gct_${'b'.repeat(43)}`)).toBe(true);
    }
  });
});
