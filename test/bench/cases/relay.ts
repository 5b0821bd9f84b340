import type { Metric } from '../lib/metric.ts';
import { atLeast } from '../lib/metric.ts';
import { startRole } from '../lib/roles.ts';
import { median, percentile, sortNumbers, spread } from '../lib/stats.ts';
import { gcServer, sharedGcServer } from '../lib/gc-setup.ts';
import { BENCH_SERVER_ENV } from './input.ts';
import { RELAY_CHUNK_MAX_BYTES } from '@guruconnect/shared/limits';
import { cpuPerMB, withChildren } from '../lib/cpu.ts';

export interface CaseOptions {
  quick: boolean;
}

const MB = 1024 * 1024;

/**
 * Every relay case moves the same messages: the agent's relay chunks (or `messageBytes`). `role`
 * and `args` pick a reference variant of the plain relay (`ws-relay` with a heap ballast,
 * `ws-relay-handoff`).
 */
async function wsRelayOnce(durationMs: number, messageBytes: number, role = 'ws-relay', args: Record<string, unknown> = {}, relayFlags: readonly string[] = []): Promise<number> {
  return (await wsRelayRun(durationMs, messageBytes, role, args, relayFlags)).mbps;
}

/** CPU ms per MB relayed, per process, over the counted window (from the warm-up's end, roughly). */
type CpuPerMB = Record<'relay' | 'sender' | 'receiver', number>;
const CPU_SETTLE_MS = 1000;
/**
 * Full runs count goodput from 2 s after the first byte, on every relay alike (`goodputCounter`):
 * a relay process runs for days, and a fresh one spends its first seconds compiling its hot
 * path (perf, 2026-11-27: 10% of our relay process's CPU in TurboFan 1.5–3.5 s in, none 5–7 s in).
 * Set per run by `relayGoodput` (quick runs do not warm up).
 */
let warmupMs = 0;
/**
 * Every sender and receiver of every relay variant (ws, bare socket.io, ours) runs with its GC on
 * its own thread. They are the instruments, not the relay under test; with V8's GC helper threads
 * on 2 cores, the heavier ones (socket.io client, schemas) took 0.7–0.95 ms of CPU per MB in some
 * runs instead of 0.3–0.4, and those runs measured the endpoints (bench/README.md).
 */
const ENDPOINT_FLAGS = ['--single-threaded-gc'];

async function wsRelayRun(durationMs: number, messageBytes: number, role = 'ws-relay', args: Record<string, unknown> = {}, relayFlags: readonly string[] = []): Promise<{ mbps: number; cpu: CpuPerMB }> {
  const relay = startRole(role, args, relayFlags);
  const { port } = await relay.next<{ port: number }>('ready');
  const recv = startRole('ws-endpoint', { url: `ws://127.0.0.1:${port}/?recv`, mode: 'recv', durationMs, messageBytes, warmupMs }, ENDPOINT_FLAGS);
  await recv.next('ready');
  const send = startRole('ws-endpoint', { url: `ws://127.0.0.1:${port}/?send`, mode: 'send', durationMs, messageBytes, warmupMs }, ENDPOINT_FLAGS);
  const cpu = cpuPerMB({ relay: () => withChildren(relay.child.pid!), sender: () => [send.child.pid!], receiver: () => [recv.child.pid!] });
  const settle = setTimeout(() => cpu.start(), warmupMs + CPU_SETTLE_MS);
  const r = await recv.next<{ bytes: number; ms: number }>('result');
  clearTimeout(settle);
  const mbps = r.bytes / MB / (r.ms / 1000);
  const perMB = cpu.perMB(mbps) as CpuPerMB;
  await Promise.all([send.stop(), relay.stop(), recv.stop()]);
  return { mbps, cpu: perMB };
}

/** The same shape through a bare socket.io relay (no auth, no checks): where socket.io itself stops. */
async function sioRelayOnce(durationMs: number, messageBytes: number): Promise<number> {
  const relay = startRole('sio-relay', {});
  const { port } = await relay.next<{ port: number }>('ready');
  const recv = startRole('sio-endpoint', { port, mode: 'recv', durationMs, messageBytes, warmupMs }, ENDPOINT_FLAGS);
  await recv.next('ready');
  const send = startRole('sio-endpoint', { port, mode: 'send', durationMs, messageBytes, warmupMs }, ENDPOINT_FLAGS);
  const r = await recv.next<{ bytes: number; ms: number }>('result');
  await Promise.all([send.stop(), relay.stop(), recv.stop()]);
  return r.bytes / MB / (r.ms / 1000);
}

/** The server's `/metrics` (full runs only: quick mode shares a server started without a token). */
const METRICS_TOKEN = 'bench-metrics-token-0123456789';

/**
 * Round trips to the main process's HTTP API (`/healthz`, every 20 ms) while the relay runs, from
 * `afterMs` on: what relaying costs the control plane (logins, handshakes, signalling).
 */
function controlPlaneProbe(url: string, afterMs: number): { stop(): Promise<number[]> } {
  const lat: number[] = [];
  let stopped = false;
  const run = (async () => {
    await new Promise((r) => setTimeout(r, afterMs));
    while (!stopped) {
      const t = performance.now();
      await fetch(`${url}/healthz`).then((x) => x.text());
      lat.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await run;
      return lat;
    },
  };
}

/** MB/s through our relay, the server's JS heap after it (MiB; null in quick mode), and control-plane round trips meanwhile. */
async function gcRelayOnce(durationMs: number, quick: boolean, chunkBytes: number, transport: 'media' | 'socketio' = 'media', env: Record<string, string> = {}): Promise<{ mbps: number; heapMiB: number | null; healthzMs: number[]; cpu: CpuPerMB }> {
  // Quick mode reuses the run's shared server (a server start costs more than the measurement).
  const gc = quick ? await sharedGcServer(BENCH_SERVER_ENV) : await gcServer({ METRICS_TOKEN, ...env });
  try {
    const agent = startRole('gc-endpoint', { url: gc.server.url, mode: 'agent', key: gc.key, durationMs, workload: 'frames', chunkBytes, transport, warmupMs }, ENDPOINT_FLAGS);
    const { sessionId } = await agent.next<{ sessionId: string }>('ready');
    const viewer = startRole('gc-endpoint', { url: gc.server.url, mode: 'viewer', token: await gc.viewerToken(sessionId), sessionId, durationMs, workload: 'frames', transport, warmupMs }, ENDPOINT_FLAGS);
    const probe = controlPlaneProbe(gc.server.url, warmupMs + Math.min(1000, durationMs / 2));
    // The relay is the server and its media relay process together.
    const cpu = cpuPerMB({ relay: () => withChildren(gc.server.pid), sender: () => [agent.child.pid!], receiver: () => [viewer.child.pid!] });
    const settle = setTimeout(() => cpu.start(), warmupMs + CPU_SETTLE_MS);
    const r = await viewer.next<{ bytes: number; ms: number }>('result');
    clearTimeout(settle);
    const mbps = r.bytes / MB / (r.ms / 1000);
    const perMB = cpu.perMB(mbps) as CpuPerMB;
    const healthzMs = await probe.stop();
    await Promise.all([agent.stop(), viewer.stop()]);
    return { mbps, heapMiB: quick ? null : await serverHeapMiB(gc.server.url), healthzMs, cpu: perMB };
  } finally {
    if (!quick) await gc.server.stop();
  }
}

/** `nodejs_heap_size_used_bytes` from the server's Prometheus endpoint, in MiB. */
async function serverHeapMiB(url: string): Promise<number | null> {
  const r = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  const m = /^nodejs_heap_size_used_bytes(?:\{[^}]*\})? (\d+(?:\.\d+)?)/m.exec(await r.text());
  return m ? Number(m[1]) / MB : null;
}

/**
 * Relay goodput through the server (the media plane, as the product relays) vs a plain ws 2-hop
 * relay carrying the same messages (the agent's relay chunks, RELAY_CHUNK_MAX_BYTES), interleaved
 * repetitions. Full runs also measure our relay over socket.io only, the references that located
 * the heap limit, and a set at 64 KiB messages.
 */
export async function relayGoodput(o: CaseOptions): Promise<Metric[]> {
  const reps = o.quick ? 1 : 3;
  const durationMs = o.quick ? 800 : 5000;
  warmupMs = o.quick ? 0 : 2000;
  const base: number[] = [];
  const ours: number[] = [];
  const baseCpu: CpuPerMB[] = [];
  const oursCpu: CpuPerMB[] = [];
  const bareSio: number[] = [];
  const overSocketIo: number[] = [];
  const v8DefaultGc: number[] = [];
  const v8DefaultGcCpu: CpuPerMB[] = [];
  const heaps: number[] = [];
  const healthz: { media: number[]; socketio: number[] } = { media: [], socketio: [] };
  for (let i = 0; i < reps; i++) {
    const b = await wsRelayRun(durationMs, RELAY_CHUNK_MAX_BYTES);
    base.push(b.mbps);
    baseCpu.push(b.cpu);
    const r = await gcRelayOnce(durationMs, o.quick, RELAY_CHUNK_MAX_BYTES);
    ours.push(r.mbps);
    oursCpu.push(r.cpu);
    healthz.media.push(...r.healthzMs);
    if (r.heapMiB !== null) heaps.push(r.heapMiB);
    // Quick mode proves the cases run; the reference points are for full runs.
    if (!o.quick) {
      bareSio.push(await sioRelayOnce(durationMs, RELAY_CHUNK_MAX_BYTES));
      // Our relay without the media plane (MEDIA_RELAY=off, or a client that does not open it).
      const sio = await gcRelayOnce(durationMs, false, RELAY_CHUNK_MAX_BYTES, 'socketio');
      overSocketIo.push(sio.mbps);
      // The media relay process with V8's default (parallel, concurrent) garbage collector.
      const dflt = await gcRelayOnce(durationMs, false, RELAY_CHUNK_MAX_BYTES, 'media', { MEDIA_RELAY_NODE_FLAGS: '' });
      v8DefaultGc.push(dflt.mbps);
      v8DefaultGcCpu.push(dflt.cpu);
      healthz.socketio.push(...sio.healthzMs);
      if (sio.heapMiB !== null) heaps.push(sio.heapMiB);
    }
  }
  const ratios = ours.map((v, i) => v / base[i]!);
  const ratio = median(ratios);
  const ratioTo = (v: number, b: number) => Number((v / b).toFixed(3));
  let reference: Record<string, number> = {};
  if (!o.quick) {
    const ws64 = await wsRelayOnce(durationMs, 64 * 1024);
    // Where the rest goes: the plain relay in a process with our server's heap (as measured just
    // now), and that process handing each socket to a small-heap relay process instead.
    if (heaps.length === 0) throw new Error('relay_goodput: the server reported no heap size on /metrics');
    const ballastMiB = Math.round(median(heaps));
    const bigHeap: number[] = [];
    const handoff: number[] = [];
    const wsSingleGc: number[] = [];
    for (let i = 0; i < reps; i++) {
      // The plain relay with the GC flag our relay process runs with (MEDIA_RELAY_NODE_FLAGS).
      wsSingleGc.push(await wsRelayOnce(durationMs, RELAY_CHUNK_MAX_BYTES, 'ws-relay', {}, ['--single-threaded-gc']));
      bigHeap.push(await wsRelayOnce(durationMs, RELAY_CHUNK_MAX_BYTES, 'ws-relay', { ballastMiB }));
      handoff.push(await wsRelayOnce(durationMs, RELAY_CHUNK_MAX_BYTES, 'ws-relay-handoff', { ballastMiB }));
    }
    const pct = (xs: number[], p: number) => Number(percentile(sortNumbers(xs), p).toFixed(1));
    const cpuOf = (xs: CpuPerMB[]) => Object.fromEntries((['relay', 'sender', 'receiver'] as const).map((k) => [k, Number(median(xs.map((x) => x[k])).toFixed(3))]));
    reference = {
      // Where the CPU goes: ms of CPU per MB relayed in each process (median over the reps; the
      // relay is our server with its media relay process).
      ...Object.fromEntries(Object.entries(cpuOf(oursCpu)).map(([k, v]) => [`oursCpuMsPerMB_${k}`, v])),
      ...Object.fromEntries(Object.entries(cpuOf(baseCpu)).map(([k, v]) => [`wsCpuMsPerMB_${k}`, v])),
      // Our relay process with V8's default GC threads (MEDIA_RELAY_NODE_FLAGS=''), same run.
      oursWithV8DefaultGcMBps: Number(median(v8DefaultGc).toFixed(1)),
      oursWithV8DefaultGcRatio: ratioTo(median(v8DefaultGc), median(base)),
      oursWithV8DefaultGcCpuMsPerMB_relay: cpuOf(v8DefaultGcCpu).relay!,
      // The main process's HTTP round trips while the relay runs, with the media plane and without.
      healthzDuringRelayP50Ms: pct(healthz.media, 50),
      healthzDuringRelayP99Ms: pct(healthz.media, 99),
      healthzDuringSocketIoRelayP50Ms: pct(healthz.socketio, 50),
      healthzDuringSocketIoRelayP99Ms: pct(healthz.socketio, 99),
      oursOverSocketIoMBps: Number(median(overSocketIo).toFixed(1)),
      oursOverSocketIoRatio: ratioTo(median(overSocketIo), median(base)),
      serverHeapMiB: ballastMiB,
      wsWithServerHeapMBps: Number(median(bigHeap).toFixed(1)),
      wsWithServerHeapRatio: ratioTo(median(bigHeap), median(base)),
      wsHandoffToSmallHeapMBps: Number(median(handoff).toFixed(1)),
      wsHandoffToSmallHeapRatio: ratioTo(median(handoff), median(base)),
      wsWithSingleThreadedGcMBps: Number(median(wsSingleGc).toFixed(1)),
      wsWithSingleThreadedGcRatio: ratioTo(median(wsSingleGc), median(base)),
      oursVsWsWithSingleThreadedGc: ratioTo(median(ours), median(wsSingleGc)),
      // The ceiling of any relay built on socket.io here: the same messages through a bare socket.io relay.
      bareSocketIoMBps: Number(median(bareSio).toFixed(1)),
      bareSocketIoRatio: ratioTo(median(bareSio), median(base)),
      oursVsBareSocketIo: ratioTo(median(ours), median(bareSio)),
      // One interleaved set at 64 KiB messages: the cost per socket.io message.
      wsAt64KiBMBps: Number(ws64.toFixed(1)),
      oursAt64KiB: ratioTo((await gcRelayOnce(durationMs, false, 64 * 1024)).mbps, ws64),
      oursOverSocketIoAt64KiB: ratioTo((await gcRelayOnce(durationMs, false, 64 * 1024, 'socketio')).mbps, ws64),
      bareSocketIoAt64KiB: ratioTo(await sioRelayOnce(durationMs, 64 * 1024), ws64),
    };
  }
  return [
    {
      name: 'relay_goodput',
      value: ratio,
      unit: 'ratio',
      baseline: { value: median(base), unit: 'MB/s', what: `plain ws 2-hop relay, ${RELAY_CHUNK_MAX_BYTES / 1024} KiB messages` },
      target: '≥ 0.85',
      pass: atLeast(ratio, 0.85),
      reps,
      spread: spread(ratios),
      details: {
        relayMBps: Number(median(ours).toFixed(1)),
        messageBytes: RELAY_CHUNK_MAX_BYTES,
        ...reference,
      },
    },
  ];
}
