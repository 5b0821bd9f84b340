import type { MediaPath } from '@guruconnect/shared/protocol';
import type { Metric } from '../lib/metric.ts';
import { atMost } from '../lib/metric.ts';
import { startRole, type Role } from '../lib/roles.ts';
import { median, percentile, sortNumbers, spread } from '../lib/stats.ts';
import { sharedGcServer } from '../lib/gc-setup.ts';
import { p2pOnce } from './p2p.ts';
import type { CaseOptions } from './relay.ts';

const RATE_PER_S = 500;
/** The server of the input and relay-session cases (shared by them; input runs at the product's default throttle). */
export const BENCH_SERVER_ENV = { BLOCK_THRESHOLD: '100000', AGENT_API_KEY: 'Qw7#Zt2!Lp9@Xn4$Rv8%Kb3^Md6&Jh1*Fs5' };

interface Run {
  p50: number;
  p99: number;
  samples: number;
  sent: number;
  refused: number;
}

function summarize(latencies: number[], sent: number, refused = 0): Run {
  const s = sortNumbers(latencies);
  return { p50: percentile(s, 50), p99: percentile(s, 99), samples: s.length, sent, refused };
}

/**
 * Viewer → agent input through the product: one agent (AgentConnection + MediaSession + input
 * gate, streaming a small synthetic screen meanwhile) and two viewer clients (the web app's
 * protocol), one on P2P and one forced onto the relay. In turn, one viewer sends `pointer:move`
 * at 500/s and the agent records when each message reaches its input sink.
 */
async function withProductSession<T>(fn: (once: (path: MediaPath, durationMs: number) => Promise<Run>) => Promise<T>): Promise<T> {
  const gc = await sharedGcServer(BENCH_SERVER_ENV);
  const agent = startRole('gc-agent', { url: gc.server.url, key: gc.key, relay: 'auto', width: 320, height: 240, fps: 10 });
  const viewers: Role[] = [];
  try {
    const { sessionId } = await agent.next<{ sessionId: string }>('ready', 30_000);
    const byPath = {} as Record<MediaPath, Role>;
    for (const path of ['p2p', 'relay'] as const) viewers.push((byPath[path] = startRole('gc-viewer', { url: gc.server.url, sessionId, path, rate: RATE_PER_S })));
    await Promise.all(viewers.map((v) => v.next('ready', 60_000)));
    return await fn(async (path, durationMs) => {
      agent.send({ type: 'reset' });
      byPath[path].send({ type: 'go', durationMs });
      const sent = await byPath[path].next<{ sent: number } & Record<MediaPath, number>>('sent', durationMs + 30_000);
      agent.send({ type: 'collect' });
      const r = await agent.next<{ latencies: number[]; refused: number }>('result', 10_000);
      if (sent[path] !== sent.sent) throw new Error(`input went over the wrong path: ${JSON.stringify(sent)}`);
      return summarize(r.latencies, sent.sent, r.refused);
    });
  } finally {
    await Promise.all([agent.stop(), ...viewers.map((v) => v.stop())]);
  }
}

/** Baseline: the same events through a plain `ws` 2-hop relay (no auth, no checks, no socket.io). */
async function wsOnce(durationMs: number): Promise<Run> {
  const relay = startRole('ws-relay', {});
  const { port } = await relay.next<{ port: number }>('ready');
  const recv = startRole('ws-endpoint', { url: `ws://127.0.0.1:${port}/?recv`, mode: 'recv', durationMs, messageBytes: 0, rate: RATE_PER_S });
  const send = startRole('ws-endpoint', { url: `ws://127.0.0.1:${port}/?send`, mode: 'send', durationMs, messageBytes: 0, rate: RATE_PER_S });
  try {
    await recv.next('ready');
    const { sent } = await send.next<{ sent: number }>('sent', durationMs + 30_000);
    await new Promise((r) => setTimeout(r, 200));
    recv.send({ type: 'collect' });
    return summarize((await recv.next<{ latencies: number[] }>('result')).latencies, sent);
  } finally {
    await Promise.all([send.stop(), recv.stop(), relay.stop()]);
  }
}

async function rawP2POnce(durationMs: number): Promise<Run> {
  const r = await p2pOnce('input', durationMs);
  return summarize(r.latencies ?? [], NaN);
}

function metric(name: string, ours: Run[], base: Run[], what: string): Metric {
  const p99 = median(ours.map((r) => r.p99));
  return {
    name,
    value: p99,
    unit: 'ms p99',
    ...(base.length ? { baseline: { value: median(base.map((r) => r.p99)), unit: 'ms p99', what } } : {}),
    target: '≤ 2 ms',
    pass: atMost(p99, 2),
    reps: ours.length,
    spread: spread(ours.map((r) => r.p99)),
    details: {
      p50: Number(median(ours.map((r) => r.p50)).toFixed(3)),
      ...(base.length ? { baselineP50: Number(median(base.map((r) => r.p50)).toFixed(3)) } : {}),
      applied: ours.reduce((n, r) => n + r.samples, 0),
      sent: ours.reduce((n, r) => n + r.sent, 0),
      refused: ours.reduce((n, r) => n + r.refused, 0),
    },
  };
}

/**
 * Viewer → agent input latency, 500 `pointer:move`/s: on the P2P `input` data channel vs bare
 * @roamhq/wrtc peers, and over the relay (`relay:input`) vs a plain ws 2-hop relay. The
 * baselines run in the same process layout (2 or 3 processes); quick mode skips them.
 */
export async function inputLatency(o: CaseOptions): Promise<Metric[]> {
  const reps = o.quick ? 1 : 3;
  const durationMs = o.quick ? 1000 : 5000;
  const runs = { p2p: [] as Run[], relay: [] as Run[], rawP2P: [] as Run[], rawRelay: [] as Run[] };
  if (!o.quick) {
    for (let i = 0; i < reps; i++) {
      runs.rawP2P.push(await rawP2POnce(durationMs));
      runs.rawRelay.push(await wsOnce(durationMs));
    }
  }
  await withProductSession(async (once) => {
    for (let i = 0; i < reps; i++) {
      runs.p2p.push(await once('p2p', durationMs));
      runs.relay.push(await once('relay', durationMs));
    }
  });
  return [
    metric('input_latency_p2p', runs.p2p, runs.rawP2P, 'bare wrtc data channel, 2 processes'),
    metric('input_latency_relay', runs.relay, runs.rawRelay, 'plain ws 2-hop relay, 3 processes'),
  ];
}
