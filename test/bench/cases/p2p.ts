import type { Metric } from '../lib/metric.ts';
import { atLeast } from '../lib/metric.ts';
import { startRole, type Role } from '../lib/roles.ts';
import { median, spread } from '../lib/stats.ts';
import type { CaseOptions } from './relay.ts';

const MB = 1024 * 1024;

function wire(a: Role, b: Role): void {
  a.child.on('message', (m: { type?: string }) => m.type === 'signal' && b.send(m as Record<string, unknown>));
  b.child.on('message', (m: { type?: string }) => m.type === 'signal' && a.send(m as Record<string, unknown>));
}

/** One run of two bare wrtc peers in separate processes ('input': 32-byte JSON at 500/s, latencies at the receiver). */
export async function p2pOnce(workload: 'bulk' | 'input', durationMs: number) {
  const recv = startRole('p2p-endpoint', { initiator: false, workload, durationMs });
  const send = startRole('p2p-endpoint', { initiator: true, workload, durationMs, rate: 500 });
  wire(send, recv);
  const r = await recv.next<{ bytes?: number; ms?: number; latencies?: number[] }>('result', 60_000);
  await Promise.all([send.stop(), recv.stop()]);
  return r;
}

async function tcpOnce(durationMs: number): Promise<number> {
  const recv = startRole('tcp-endpoint', { mode: 'recv', durationMs });
  const { port } = await recv.next<{ port: number }>('ready');
  const send = startRole('tcp-endpoint', { mode: 'send', port, durationMs });
  const r = await recv.next<{ bytes: number; ms: number }>('result');
  await Promise.all([send.stop(), recv.stop()]);
  return r.bytes / MB / (r.ms / 1000);
}

/** Data-channel goodput vs raw TCP loopback in the same run. */
export async function p2pGoodput(o: CaseOptions): Promise<Metric[]> {
  const reps = o.quick ? 1 : 3;
  const durationMs = o.quick ? 1500 : 5000;
  const tcp: number[] = [];
  const p2p: number[] = [];
  for (let i = 0; i < reps; i++) {
    tcp.push(await tcpOnce(durationMs));
    const r = await p2pOnce('bulk', durationMs);
    p2p.push(r.bytes! / MB / (r.ms! / 1000));
  }
  const ratios = p2p.map((v, i) => v / tcp[i]!);
  return [
    {
      name: 'p2p_goodput',
      value: median(ratios),
      unit: 'ratio',
      baseline: { value: median(tcp), unit: 'MB/s', what: 'raw TCP loopback' },
      target: '≥ 0.03 (≈ 50 MB/s)',
      pass: atLeast(median(ratios), 0.03),
      reps,
      spread: spread(ratios),
      details: { p2pMBps: Number(median(p2p).toFixed(1)) },
    },
  ];
}
