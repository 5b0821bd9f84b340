import type { Metric } from '../lib/metric.ts';
import { atLeast } from '../lib/metric.ts';
import { startRole } from '../lib/roles.ts';
import { startServerProcess } from '../../support/server-process.ts';
import type { CaseOptions } from './relay.ts';
import { BENCH_SERVER_ENV } from './input.ts';
import { sharedGcServer } from '../lib/gc-setup.ts';

const SHARED_KEY = BENCH_SERVER_ENV.AGENT_API_KEY;

/** Idle authenticated agents one server process holds within 1 GiB RSS, and handshakes/s. */
export async function agentsPerProcess(o: CaseOptions): Promise<Metric[]> {
  const total = o.quick ? 60 : 10_000;
  const perSwarm = o.quick ? 60 : 2_500;
  // Quick mode reuses the run's shared server (same shared key); the full run gets a fresh process for its RSS.
  const server = o.quick ? (await sharedGcServer(BENCH_SERVER_ENV)).server : await startServerProcess({ env: { LOG_LEVEL: 'warn', AGENT_API_KEY: SHARED_KEY, BLOCK_THRESHOLD: '100000' } });
  const swarms = [];
  try {
    const t0 = performance.now();
    for (let off = 0; off < total; off += perSwarm) swarms.push(startRole('agent-swarm', { url: server.url, key: SHARED_KEY, count: Math.min(perSwarm, total - off), concurrency: 50, offset: off }));
    const results = await Promise.all(swarms.map((s) => s.next<{ welcomed: number; failed: number }>('connected', 600_000)));
    const seconds = (performance.now() - t0) / 1000;
    const welcomed = results.reduce((n, r) => n + r.welcomed, 0);
    const failed = results.reduce((n, r) => n + r.failed, 0);
    await new Promise((r) => setTimeout(r, 1000));
    const rssMiB = server.rssKiB() / 1024;
    const held = rssMiB <= 1024 ? welcomed : 0;
    return [
      {
        name: 'agents_per_process',
        value: held,
        unit: 'agents',
        target: o.quick ? '(quick: 60 only)' : '≥ 10,000 with RSS ≤ 1 GiB',
        pass: o.quick ? null : atLeast(held, 10_000),
        reps: 1,
        spread: 0,
        details: { handshakesPerS: Number((welcomed / seconds).toFixed(0)), rssMiB: Number(rssMiB.toFixed(0)), failed },
      },
    ];
  } finally {
    await Promise.all(swarms.map((s) => s.stop()));
    if (!o.quick) await server.stop();
  }
}
