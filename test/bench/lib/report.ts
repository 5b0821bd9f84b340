import { writeFileSync, mkdirSync } from 'node:fs';
import { cpus, totalmem, release } from 'node:os';
import type { Metric } from './metric.ts';

const fmt = (n: number) => (Number.isFinite(n) ? (Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 1 ? n.toFixed(2) : n.toFixed(3)) : 'n/a');

/** Write bench/results.json and bench/RESULTS.md. */
export function writeReport(dir: string, metrics: Metric[], meta: { quick: boolean; startedAt: string; durationS: number }): void {
  mkdirSync(dir, { recursive: true });
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memGiB: Math.round(totalmem() / 2 ** 30), node: process.version, kernel: release() };
  writeFileSync(`${dir}/results.json`, `${JSON.stringify({ ...meta, machine, metrics }, null, 2)}\n`);
  const rows = metrics.map((m) => {
    const base = m.baseline ? `${fmt(m.baseline.value)} ${m.baseline.unit} (${m.baseline.what})` : '—';
    const pass = m.pass === null ? 'report' : m.pass ? 'pass' : 'FAIL';
    const details = m.details ? Object.entries(m.details).map(([k, v]) => `${k}=${v}`).join(', ') : '';
    return `| \`${m.name}\` | ${fmt(m.value)} ${m.unit} | ${base} | ${m.target} | ${pass} | ${m.reps} | ${(m.spread * 100).toFixed(0)}% | ${details} |`;
  });
  const md = [
    `# Benchmark results`,
    '',
    `Run ${meta.startedAt} (${meta.quick ? 'quick smoke — tiny sizes, figures not meaningful' : 'full'}), ${meta.durationS.toFixed(0)} s.`,
    `Machine: ${machine.cpus}× ${machine.cpuModel}, ${machine.memGiB} GiB, Node ${machine.node}, Linux ${machine.kernel}. Shared and noisy: medians of repetitions; spread = (max − min) / median.`,
    '',
    '| metric | value | baseline (same run) | target | result | reps | spread | details |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
  writeFileSync(`${dir}/RESULTS.md`, md);
}
