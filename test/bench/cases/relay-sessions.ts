import type { Metric } from '../lib/metric.ts';
import { atLeast } from '../lib/metric.ts';
import { startRole, type Role } from '../lib/roles.ts';
import { percentile, sortNumbers } from '../lib/stats.ts';
import { cpuMsOf } from '../lib/cpu.ts';
import { gcServer, sharedGcServer } from '../lib/gc-setup.ts';
import { BENCH_SERVER_ENV } from './input.ts';
import type { CaseOptions } from './relay.ts';

/** 3 Mbit/s per session: 12.5 KB frames at 30 fps (a busy 1080p office screen, issue #7). */
const FPS = 30;
const FRAME_BYTES = 12_500;
const P99_LIMIT_MS = 100;
/** Agents authenticate with the (deprecated) shared key, so each is a machine of its own. */
const SHARED_KEY = BENCH_SERVER_ENV.AGENT_API_KEY;
const DELIVERED_MIN = 0.95;

interface Step {
  sessions: number;
  p99: number;
  delivered: number;
  /** Server process CPU over the window, in % of one core. */
  serverCpuPct: number;
  ok: boolean;
}

/**
 * Concurrent relayed sessions one server process sustains: N agent→viewer pairs at 3 Mbit/s each,
 * spread over a few client processes; N steps up until the p99 frame latency (agent send → viewer
 * receive) passes 100 ms or fewer than 95% of frames arrive, or the bound is reached.
 */
export async function relaySessions(o: CaseOptions): Promise<Metric[]> {
  const steps = o.quick ? [3] : [25, 50, 100, 150, 200, 250, 300];
  const windowMs = o.quick ? 1000 : 5000;
  const settleMs = o.quick ? 300 : 1500;
  const clients = o.quick ? 1 : 4;
  // Quick mode borrows the input case's server; the full run measures a fresh one.
  const gc = o.quick ? await sharedGcServer(BENCH_SERVER_ENV) : await gcServer(BENCH_SERVER_ENV);
  const swarms: Role[] = [];
  const results: Step[] = [];
  try {
    for (let i = 0; i < clients; i++) swarms.push(startRole('relay-swarm', { url: gc.server.url, key: SHARED_KEY, admin: gc.admin, offset: i * 10_000, fps: FPS, frameBytes: FRAME_BYTES }));
    await Promise.all(swarms.map((s) => s.next('ready', 30_000)));
    let have = 0;
    for (const target of steps) {
      const add = target - have;
      const grown = await Promise.all(swarms.map((s, i) => (s.send({ type: 'grow', count: Math.floor(add / clients) + (i < add % clients ? 1 : 0) }), s.next<{ sessions: number; failed: number }>('grown', 120_000))));
      have = grown.reduce((n, g) => n + g.sessions, 0);
      await new Promise((r) => setTimeout(r, settleMs));
      for (const s of swarms) s.send({ type: 'reset' });
      const cpu0 = cpuMsOf(gc.server.pid);
      await new Promise((r) => setTimeout(r, windowMs));
      const serverCpuPct = ((cpuMsOf(gc.server.pid) - cpu0) / windowMs) * 100;
      for (const s of swarms) s.send({ type: 'collect' });
      const rs = await Promise.all(swarms.map((s) => s.next<{ sent: number; received: number; latencies: number[] }>('result', 30_000)));
      const lat = sortNumbers(rs.flatMap((r) => r.latencies));
      const sent = rs.reduce((n, r) => n + r.sent, 0);
      const delivered = sent === 0 ? 0 : rs.reduce((n, r) => n + r.received, 0) / sent;
      const p99 = percentile(lat, 99);
      const ok = have === target && p99 <= P99_LIMIT_MS && delivered >= DELIVERED_MIN;
      results.push({ sessions: have, p99, delivered, serverCpuPct, ok });
      process.stderr.write(`bench: relay_sessions ${have}: p99 ${p99.toFixed(1)} ms, delivered ${(delivered * 100).toFixed(1)}%, server CPU ${serverCpuPct.toFixed(0)}% of a core\n`);
      if (!ok) break;
    }
  } finally {
    await Promise.all(swarms.map((s) => s.stop()));
    if (!o.quick) await gc.server.stop();
  }
  const passed = results.filter((r) => r.ok).map((r) => r.sessions);
  const held = passed.length ? Math.max(...passed) : 0;
  const details: Record<string, number | string> = { mbitPerSession: (FRAME_BYTES * 8 * FPS) / 1e6, bound: steps.at(-1)! };
  for (const r of results) details[`n${r.sessions}`] = `p99 ${r.p99.toFixed(1)} ms, ${(r.delivered * 100).toFixed(1)}% delivered, server ${r.serverCpuPct.toFixed(0)}% CPU`;
  return [
    {
      name: 'relay_sessions',
      value: held,
      unit: 'sessions',
      target: o.quick ? '(quick: 3 only)' : '≥ 100 on 2 cores',
      pass: o.quick ? null : atLeast(held, 100),
      reps: 1,
      spread: 0,
      details,
    },
  ];
}
