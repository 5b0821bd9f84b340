// `npm run bench [-- --quick] [--only name,name] [--out dir]`: run the benchmark cases and
// write results.json + RESULTS.md. Each case measures its own baseline in the same run.
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { Metric } from './lib/metric.ts';
import { writeReport } from './lib/report.ts';
import { relayGoodput, type CaseOptions } from './cases/relay.ts';
import { inputLatency } from './cases/input.ts';
import { relaySessions } from './cases/relay-sessions.ts';
import { stopSharedGcServers } from './lib/gc-setup.ts';
import { p2pGoodput } from './cases/p2p.ts';
import { diffCost, encodeEfficiency } from './cases/pipeline.ts';
import { agentsPerProcess } from './cases/scale.ts';
import { clusterScaling } from './cases/cluster.ts';
import { bandwidth, g2gLatency, slowViewer, stopMediaServer, ttff } from './cases/media.ts';

export const CASES: Record<string, (o: CaseOptions) => Promise<Metric[]>> = {
  relay_goodput: relayGoodput,
  input_latency: inputLatency, // input_latency_p2p and input_latency_relay
  relay_sessions: relaySessions,
  p2p_goodput: p2pGoodput,
  diff_cost: diffCost,
  encode_efficiency: encodeEfficiency,
  agents_per_process: agentsPerProcess,
  cluster: clusterScaling,
  g2g_latency: g2gLatency, // and `fps`
  bandwidth,
  ttff,
  slow_viewer: slowViewer,
};

export async function runBench(o: { quick: boolean; only?: string[]; out: string }): Promise<Metric[]> {
  const started = Date.now();
  const metrics: Metric[] = [];
  for (const [name, run] of Object.entries(CASES)) {
    if (o.only && !o.only.includes(name)) continue;
    process.stderr.write(`bench: ${name}…\n`);
    const caseStarted = Date.now();
    try {
      metrics.push(...(await run({ quick: o.quick })));
      process.stderr.write(`bench: ${name} took ${((Date.now() - caseStarted) / 1000).toFixed(1)} s\n`);
    } catch (err) {
      process.stderr.write(`bench: ${name} failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      metrics.push({ name, value: NaN, unit: 'error', target: 'ran', pass: false, reps: 0, spread: 0, details: { error: String(err).slice(0, 200) } });
    }
  }
  await stopMediaServer();
  await stopSharedGcServers();
  const relay = metrics.find((m) => m.name === 'relay_goodput')?.details?.relayMBps;
  const p2p = metrics.find((m) => m.name === 'p2p_goodput')?.details?.p2pMBps;
  if (typeof relay === 'number' && typeof p2p === 'number') {
    const v = relay / p2p;
    metrics.push({ name: 'relay_vs_p2p', value: v, unit: 'ratio', baseline: { value: p2p, unit: 'MB/s', what: 'P2P data channel goodput' }, target: '≥ 2', pass: v >= 2, reps: 1, spread: 0, details: { relayMBps: relay } });
  }
  writeReport(o.out, metrics, { quick: o.quick, startedAt: new Date(started).toISOString(), durationS: (Date.now() - started) / 1000 });
  return metrics;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, only: { type: 'string' }, out: { type: 'string' } } });
  const out = values.out ?? fileURLToPath(new URL('../../bench', import.meta.url));
  const metrics = await runBench({ quick: values.quick ?? false, only: values.only?.split(','), out });
  for (const m of metrics) process.stdout.write(`${m.name}\t${m.value}\t${m.unit}\t${m.pass === null ? 'report' : m.pass ? 'pass' : 'FAIL'}\n`);
  process.exit(0);
}
