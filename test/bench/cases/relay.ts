import type { Metric } from '../lib/metric.ts';
import { atLeast } from '../lib/metric.ts';
import { startRole } from '../lib/roles.ts';
import { median, spread } from '../lib/stats.ts';
import { gcServer, sharedGcServer } from '../lib/gc-setup.ts';
import { BENCH_SERVER_ENV } from './input.ts';

export interface CaseOptions {
  quick: boolean;
}

const MB = 1024 * 1024;

async function wsRelayOnce(durationMs: number, messageBytes = 65536): Promise<number> {
  const relay = startRole('ws-relay', {});
  const { port } = await relay.next<{ port: number }>('ready');
  const recv = startRole('ws-endpoint', { url: `ws://127.0.0.1:${port}/?recv`, mode: 'recv', durationMs, messageBytes });
  await recv.next('ready');
  const send = startRole('ws-endpoint', { url: `ws://127.0.0.1:${port}/?send`, mode: 'send', durationMs, messageBytes });
  const r = await recv.next<{ bytes: number; ms: number }>('result');
  await Promise.all([send.stop(), relay.stop(), recv.stop()]);
  return r.bytes / MB / (r.ms / 1000);
}

/** The same shape through a bare socket.io relay (no auth, no checks): where socket.io itself stops. */
async function sioRelayOnce(durationMs: number, messageBytes = 65536): Promise<number> {
  const relay = startRole('sio-relay', {});
  const { port } = await relay.next<{ port: number }>('ready');
  const recv = startRole('sio-endpoint', { port, mode: 'recv', durationMs, messageBytes });
  await recv.next('ready');
  const send = startRole('sio-endpoint', { port, mode: 'send', durationMs, messageBytes });
  const r = await recv.next<{ bytes: number; ms: number }>('result');
  await Promise.all([send.stop(), relay.stop(), recv.stop()]);
  return r.bytes / MB / (r.ms / 1000);
}

async function gcRelayOnce(durationMs: number, quick: boolean): Promise<number> {
  // Quick mode reuses the run's shared server (a server start costs more than the measurement).
  const gc = quick ? await sharedGcServer(BENCH_SERVER_ENV) : await gcServer();
  try {
    const agent = startRole('gc-endpoint', { url: gc.server.url, mode: 'agent', key: gc.key, durationMs, workload: 'frames' });
    const { sessionId } = await agent.next<{ sessionId: string }>('ready');
    const viewer = startRole('gc-endpoint', { url: gc.server.url, mode: 'viewer', token: await gc.viewerToken(sessionId), sessionId, durationMs, workload: 'frames' });
    const r = await viewer.next<{ bytes: number; ms: number }>('result');
    await Promise.all([agent.stop(), viewer.stop()]);
    return r.bytes / MB / (r.ms / 1000);
  } finally {
    if (!quick) await gc.server.stop();
  }
}

/** Relay goodput through the server vs a plain ws 2-hop relay, interleaved repetitions. */
export async function relayGoodput(o: CaseOptions): Promise<Metric[]> {
  const reps = o.quick ? 1 : 3;
  const durationMs = o.quick ? 800 : 5000;
  const base: number[] = [];
  const ours: number[] = [];
  const bareSio: number[] = [];
  for (let i = 0; i < reps; i++) {
    base.push(await wsRelayOnce(durationMs));
    ours.push(await gcRelayOnce(durationMs, o.quick));
    // Quick mode proves the cases run; the reference point is for full runs.
    if (!o.quick) bareSio.push(await sioRelayOnce(durationMs));
  }
  // Would bigger relay messages get socket.io there? Bare socket.io ÷ plain ws, both at the same
  // larger size (one interleaved pair per size; full runs only).
  const bySize: Record<string, number> = {};
  if (!o.quick) {
    for (const [label, bytes] of [['256KiB', 256 * 1024], ['1MiB', 1024 * 1024]] as const) {
      const ws = await wsRelayOnce(durationMs, bytes);
      bySize[label] = Number(((await sioRelayOnce(durationMs, bytes)) / ws).toFixed(3));
    }
  }
  const ratios = ours.map((v, i) => v / base[i]!);
  const ratio = median(ratios);
  const sio: Record<string, number> = bareSio.length
    ? {
        // The ceiling of any relay built on socket.io here: the same messages through a bare socket.io relay.
        bareSocketIoMBps: Number(median(bareSio).toFixed(1)),
        bareSocketIoRatio: Number(median(bareSio.map((v, i) => v / base[i]!)).toFixed(3)),
        oursVsBareSocketIo: Number((median(ours) / median(bareSio)).toFixed(3)),
        ...Object.fromEntries(Object.entries(bySize).map(([label, r]) => [`bareSocketIoRatioAt${label}`, r])),
      }
    : {};
  return [
    {
      name: 'relay_goodput',
      value: ratio,
      unit: 'ratio',
      baseline: { value: median(base), unit: 'MB/s', what: 'plain ws 2-hop relay' },
      target: '≥ 0.85',
      pass: atLeast(ratio, 0.85),
      reps,
      spread: spread(ratios),
      details: {
        relayMBps: Number(median(ours).toFixed(1)),
        ...sio,
      },
    },
  ];
}
