import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CASES, runBench } from './run.ts';

// Benchmarks are not tests: CI runs the quick mode only to prove every metric is still produced.
describe('benchmark suite (quick smoke)', () => {
  it('produces every metric with a finite value and writes both reports', async () => {
    const out = mkdtempSync(join(tmpdir(), 'gc-bench-'));
    const metrics = await runBench({ quick: true, out });
    const names = metrics.map((m) => m.name);
    for (const name of Object.keys(CASES)) expect(names.some((n) => n === name || n.startsWith(name.split('_')[0]!))).toBe(true);
    for (const m of metrics) expect(Number.isFinite(m.value), `${m.name}: ${JSON.stringify(m.details)}`).toBe(true);
    expect(names).toContain('relay_vs_p2p');
    const md = readFileSync(join(out, 'RESULTS.md'), 'utf8');
    for (const name of names) expect(md).toContain(`\`${name}\``);
    expect(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')).metrics).toHaveLength(metrics.length);
  }, 240_000);
});
