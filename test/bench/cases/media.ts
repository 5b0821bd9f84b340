// End-to-end media benchmarks: the real agent CLI (synthetic screen), the real server and viewers
// (test/support/viewer-client.ts) each in their own process, as in production. All on one machine,
// so the agent's capture timestamps (Date.now, stamped into the pixels) and the viewer's clock agree.
import { loadavg } from 'node:os';
import sharp from 'sharp';
import { createSyntheticSource } from '../../../agent/src/capture/synthetic-source.ts';
import { JPEG_OPTIONS } from '../../../agent/src/pipeline/frame-pipeline.ts';
import { startAgentProcess, type AgentProcess } from '../../support/agent-process.ts';
import { ADMIN_PASSWORD, ADMIN_USER } from '../../support/server-process.ts';
import type { ViewerClientOptions } from '../../support/viewer-client.ts';
import { cpuMsOf } from '../lib/cpu.ts';
import { gcServer, sharedGcServer } from '../lib/gc-setup.ts';
import { BENCH_SERVER_ENV } from './input.ts';
import type { Metric } from '../lib/metric.ts';
import { atLeast, atMost } from '../lib/metric.ts';
import { startRole, type Role } from '../lib/roles.ts';
import { median, percentile, sortNumbers, spread } from '../lib/stats.ts';
import type { ViewerWindow } from '../roles/media-viewer.ts';
import type { CaseOptions } from './relay.ts';

const FPS = 30;
const QUALITY = 70;
const FULL_SIZE = '1920x1080';
/** Quick mode only proves the cases still run: a tiny screen, short windows. */
const QUICK_SIZE = '640x360';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number, digits = 1) => Number(x.toFixed(digits));
const pct = (values: number[], p: number) => percentile(sortNumbers(values), p);

type GcServer = Awaited<ReturnType<typeof gcServer>>;

interface MediaSession {
  agent: AgentProcess;
  sessionId: string;
  /** A viewer role process on this session. */
  viewer(mode: 'stream' | 'joins', o?: Partial<ViewerClientOptions>): Role;
  stop(): Promise<void>;
}

/** A fresh agent key: agents running at the same time must not share one (one key, one machine). */
async function agentKey(gc: GcServer): Promise<string> {
  const res = await fetch(`${gc.server.url}/api/agent-keys`, { method: 'POST', headers: { authorization: `Bearer ${gc.admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bench-media' }) });
  if (!res.ok) throw new Error(`agent key: ${res.status}`);
  return ((await res.json()) as { key: string }).key;
}

/** Starts the agent CLI on `gc`'s server (synthetic screen) and waits for its session. */
async function startMedia(gc: GcServer, agentArgs: string[]): Promise<MediaSession> {
  const agent = startAgentProcess({ server: gc.server.url, key: await agentKey(gc), args: ['--fps', String(FPS), '--quality', String(QUALITY), ...agentArgs] });
  let sessionId: string;
  try {
    sessionId = await agent.sessionId(60_000);
  } catch (err) {
    await agent.stop();
    throw err;
  }
  const roles: Role[] = [];
  return {
    agent,
    sessionId,
    viewer(mode, o = {}) {
      const viewer: ViewerClientOptions = { baseUrl: gc.server.url, sessionId, username: ADMIN_USER, password: ADMIN_PASSWORD, accessToken: gc.admin, ...o };
      const role = startRole('media-viewer', { mode, viewer });
      roles.push(role);
      return role;
    },
    async stop() {
      await Promise.all(roles.map((r) => r.stop()));
      await agent.stop();
    },
  };
}

// One server process for all the media cases of a run (starting one costs seconds on a loaded
// machine, and the quick smoke run has to stay short); each case brings its own agent and viewers.
let shared: Promise<GcServer> | null = null;

/** Runs `fn` against the run's media server, started on first use (or a dedicated one with `env`). */
async function withServer<T>(fn: (gc: GcServer) => Promise<T>, env?: Record<string, string>): Promise<T> {
  if (env) {
    const own = await gcServer(env);
    try {
      return await fn(own);
    } finally {
      await own.server.stop();
    }
  }
  // The run's shared server (input and relay cases use it too): a server start costs seconds.
  shared ??= sharedGcServer(BENCH_SERVER_ENV);
  let gc: GcServer;
  try {
    gc = await shared;
  } catch (err) {
    shared = null;
    throw err;
  }
  return fn(gc);
}

/** Stops the media server if a case started one (the runner calls this after the last case). */
export async function stopMediaServer(): Promise<void> {
  // The server itself belongs to `sharedGcServer`; `stopSharedGcServers` stops it.
  shared = null;
}

async function streamViewer(m: MediaSession, o: Partial<ViewerClientOptions> = {}): Promise<Role> {
  const role = m.viewer('stream', o);
  await role.next('ready', 90_000);
  return role;
}

async function measure(role: Role, ms: number): Promise<ViewerWindow> {
  role.send({ type: 'measure', ms });
  return role.next<ViewerWindow>('window', ms + 60_000);
}

/** `measure`, plus the CPU the agent and the server used per captured frame meanwhile. */
async function measureWithCpu(role: Role, ms: number, pids: { agent: number; server: number }): Promise<ViewerWindow & { agentCpuMs: number; serverCpuMs: number }> {
  const a0 = cpuMsOf(pids.agent);
  const s0 = cpuMsOf(pids.server);
  const w = await measure(role, ms);
  return { ...w, agentCpuMs: cpuMsOf(pids.agent) - a0, serverCpuMs: cpuMsOf(pids.server) - s0 };
}

type Summary = ReturnType<typeof summarise>;

function cpuDetails(windows: Summary[], prefix = ''): Record<string, number> {
  return {
    [`${prefix}agentCpuMsPerFrame`]: round(median(windows.map((w) => w.agentCpuMsPerFrame))),
    [`${prefix}viewerCpuMsPerFrame`]: round(median(windows.map((w) => w.viewerCpuMsPerFrame))),
    [`${prefix}serverCpuMsPerFrame`]: round(median(windows.map((w) => w.serverCpuMsPerFrame))),
  };
}

/** What one window says about the stream. */
function summarise(w: ViewerWindow & { agentCpuMs?: number; serverCpuMs?: number }) {
  const captured = w.seqMax - w.seqMin + 1;
  return {
    /** Where the time goes: CPU per captured frame in each process (NaN: not measured). */
    agentCpuMsPerFrame: (w.agentCpuMs ?? NaN) / captured,
    serverCpuMsPerFrame: (w.serverCpuMs ?? NaN) / captured,
    viewerCpuMsPerFrame: w.cpuMs / captured,
    p50: pct(w.agesMs, 50),
    p95: pct(w.agesMs, 95),
    p99: pct(w.agesMs, 99),
    transitP50: pct(w.transitMs, 50),
    transitP95: pct(w.transitMs, 95),
    /** Share of the agent's captures (stamp sequence numbers) this viewer decoded. */
    delivered: w.seqs / captured,
    capturedFps: (captured * 1000) / w.windowMs,
    decodedFps: (w.seqs * 1000) / w.windowMs,
    mbitPerS: (w.bytes * 8) / w.windowMs / 1000,
  };
}

/**
 * `g2g_latency` and `fps`: a 1080p synthetic desktop at 30 fps on the P2P path; capture timestamp
 * (read back from the decoded pixels) → decoded at the viewer; and decoded ÷ captured frames.
 */
export async function g2gLatency(o: CaseOptions): Promise<Metric[]> {
  const reps = o.quick ? 1 : 3;
  const windowMs = o.quick ? 1000 : 8000;
  const size = o.quick ? QUICK_SIZE : FULL_SIZE;
  return withServer(async (gc) => {
    const m = await startMedia(gc, ['--size', size]);
    try {
      const viewer = await streamViewer(m);
      await sleep(o.quick ? 300 : 3000); // past the first keyframe and the JIT warm-up
      const windows: Summary[] = [];
      const load1 = loadavg()[0]!;
      for (let i = 0; i < reps; i++) windows.push(summarise(await measureWithCpu(viewer, windowMs, { agent: m.agent.pid, server: gc.server.pid })));
      const p95s = windows.map((w) => w.p95);
      const delivered = windows.map((w) => w.delivered);
      const capturedFps = median(windows.map((w) => w.capturedFps));
      const fpsRatio = median(delivered);
      const common = { size, path: 'p2p', windowS: windowMs / 1000 };
      return [
        {
          name: 'g2g_latency',
          value: median(p95s),
          unit: 'ms p95',
          target: '≤ 50 ms',
          pass: atMost(median(p95s), 50),
          reps,
          spread: spread(p95s),
          details: {
            p50: round(median(windows.map((w) => w.p50))),
            transitP50: round(median(windows.map((w) => w.transitP50))),
            transitP95: round(median(windows.map((w) => w.transitP95))),
            capturedFps: round(capturedFps),
            ...cpuDetails(windows),
            load1: round(load1, 2),
            ...common,
          },
        },
        {
          name: 'fps',
          value: fpsRatio,
          unit: 'ratio',
          baseline: { value: capturedFps, unit: 'fps', what: 'frames the agent captured (stamp seq range)' },
          target: '≥ 0.95, capturing ≥ 28.5 of 30 fps',
          pass: atLeast(fpsRatio, 0.95) && atLeast(capturedFps, 0.95 * FPS),
          reps,
          spread: spread(delivered),
          details: { decodedFps: round(median(windows.map((w) => w.decodedFps))), ...common },
        },
      ];
    } finally {
      await m.stop();
    }
  });
}

/** Mean size of a full-frame JPEG (same quality and subsampling as the pipeline) of the office scene. */
async function fullFrameJpegBytes(width: number, height: number, frames: number): Promise<number> {
  const source = createSyntheticSource({ width, height, scene: 'office' });
  const sizes: number[] = [];
  for (let i = 0; i < frames; i++) {
    const f = await source.capture();
    // Every 3rd frame is enough: full-frame sizes hardly move between frames of this scene.
    if (i % 3 !== 1) continue;
    const jpeg = await sharp(f.data, { raw: { width, height, channels: 4 } }).jpeg(JPEG_OPTIONS(QUALITY)).toBuffer();
    sizes.push(jpeg.length);
  }
  await source.close();
  return sizes.reduce((a, b) => a + b, 0) / sizes.length;
}

/**
 * `bandwidth`: bytes the viewer received for the office scene (typing + scrolling) ÷ a full-frame
 * JPEG of every captured frame, measured in the same run; plus the absolute Mbit/s.
 */
export async function bandwidth(o: CaseOptions): Promise<Metric[]> {
  const reps = o.quick ? 1 : 3;
  // Full mode: 3 windows of 20 s = the 60 s of the definition.
  const windowMs = o.quick ? 1000 : 60_000;
  const size = o.quick ? QUICK_SIZE : FULL_SIZE;
  const [width, height] = size.split('x').map(Number) as [number, number];
  return withServer(async (gc) => {
    const m = await startMedia(gc, ['--size', size, '--scene', 'office']);
    try {
      const viewer = await streamViewer(m);
      await sleep(o.quick ? 300 : 2000); // the first keyframe is not office work
      const windows: ViewerWindow[] = [];
      for (let i = 0; i < reps; i++) windows.push(await measure(viewer, windowMs));
      const jpegBytes = await fullFrameJpegBytes(width, height, o.quick ? 4 : 61);
      const ratios = windows.map((w) => w.bytes / (jpegBytes * (w.seqMax - w.seqMin + 1)));
      const mbits = windows.map((w) => summarise(w).mbitPerS);
      const ratio = median(ratios);
      const mbit = median(mbits);
      const capturedFps = median(windows.map((w) => summarise(w).capturedFps));
      return [
        {
          name: 'bandwidth',
          value: ratio,
          unit: 'ratio',
          baseline: { value: round((jpegBytes * 8 * capturedFps) / 1e6), unit: 'Mbit/s', what: `full-frame JPEG q${QUALITY} of every captured frame` },
          target: '≤ 0.1 and ≤ 3 Mbit/s',
          pass: atMost(ratio, 0.1) && atMost(mbit, 3),
          reps,
          spread: spread(ratios),
          details: {
            mbitPerS: round(mbit, 2),
            fullFrameKiB: round(jpegBytes / 1024),
            capturedFps: round(capturedFps),
            keyframes: windows.reduce((a, w) => a + w.keyframes, 0),
            scene: 'office',
            load1: round(loadavg()[0]!, 2),
            size,
            path: windows[0]?.path ?? 'none',
            windowS: windowMs / 1000,
          },
        },
      ];
    } finally {
      await m.stop();
    }
  });
}

/** An agent and a viewer process ready to join its session, started together. */
async function prepareJoins(gc: GcServer, agentArgs: string[]): Promise<{ m: MediaSession; role: Role }> {
  const m = await startMedia(gc, agentArgs);
  try {
    const role = m.viewer('joins');
    await role.next('ready', 60_000);
    return { m, role };
  } catch (err) {
    await m.stop();
    throw err;
  }
}

/** Fresh viewers joining one after another: join call (token mint) → first decoded frame. */
async function joinTimes({ m, role }: { m: MediaSession; role: Role }, agentArgs: string[], joins: number): Promise<{ totals: number[]; joined: number[]; onPath: number; path: string }> {
  try {
    const totals: number[] = [];
    const joined: number[] = [];
    const paths: string[] = [];
    for (let i = 0; i < joins; i++) {
      role.send({ type: 'join' });
      const r = await role.next<{ totalMs: number; joinedMs: number; path: string }>('joined', 60_000);
      totals.push(r.totalMs);
      joined.push(r.joinedMs);
      paths.push(r.path);
      await sleep(300); // the agent sees the viewer leave before the next one comes
    }
    const path = agentArgs.includes('force') ? 'relay' : 'p2p';
    return { totals, joined, onPath: paths.filter((p) => p === path).length, path };
  } finally {
    await m.stop();
  }
}

/** `ttff_p2p` and `ttff_relay`: viewer join → first decoded frame of a 1080p desktop, fresh viewer each time. */
export async function ttff(o: CaseOptions): Promise<Metric[]> {
  const joins = o.quick ? 2 : 12;
  const size = o.quick ? QUICK_SIZE : FULL_SIZE;
  return withServer(async (gc) => {
    const out: Metric[] = [];
    const args = { auto: ['--size', size, '--relay', 'auto'], force: ['--size', size, '--relay', 'force'] };
    // Both agents and viewer processes start at once (an agent without viewers idles); joins run one at a time.
    const prepared = await Promise.allSettled([prepareJoins(gc, args.auto), prepareJoins(gc, args.force)]);
    const ready = prepared.flatMap((p) => (p.status === 'fulfilled' ? [p.value] : []));
    if (ready.length < 2) {
      await Promise.all(ready.map((p) => p.m.stop()));
      throw (prepared.find((p) => p.status === 'rejected') as PromiseRejectedResult).reason;
    }
    try {
      for (const [name, relay, setup] of [
        ['ttff_p2p', 'auto', ready[0]!],
        ['ttff_relay', 'force', ready[1]!],
      ] as const) {
        const r = await joinTimes(setup, args[relay], joins);
        const p95 = pct(r.totals, 95);
        out.push({
          name,
          value: p95,
          unit: 'ms p95',
          target: '≤ 500 ms',
          pass: atMost(p95, 500) && r.onPath === joins,
          reps: joins,
          spread: spread(r.totals),
          details: {
            p50: round(pct(r.totals, 50)),
            max: round(Math.max(...r.totals)),
            // Of which: viewer token + socket.io connect + welcome; the rest is the media path and the first keyframe.
            welcomeP50: round(pct(r.joined, 50)),
            firstFramesOnPath: `${r.onPath}/${joins} ${r.path}`,
            load1: round(loadavg()[0]!, 2),
            size,
          },
        });
      }
    } finally {
      await Promise.all(ready.map((p) => p.m.stop()));
    }
    return out;
  });
}

/**
 * One slow-viewer measurement on `path`: the fast viewer alone, then with the throttled one.
 * `bytes`: the slow viewer's link carries 10% of the bytes per second the fast viewer received
 * alone (a technician on a slow connection); `frames`: it takes at most 10% of the frame rate,
 * reading nothing for one throttle interval after each frame (a slow machine).
 */
async function slowViewerOn(gc: GcServer, path: 'relay' | 'p2p', o: CaseOptions, throttleBy: 'bytes' | 'frames' = 'bytes') {
  const reps = o.quick ? 1 : 3;
  const windowMs = o.quick ? 2000 : 6000; // quick: long enough for the throttled viewer to decode a few frames
  const size = o.quick ? QUICK_SIZE : FULL_SIZE;
  // P2P: `--relay never`, so neither viewer can end up on the relay.
  const m = await startMedia(gc, ['--size', size, '--relay', path === 'relay' ? 'force' : 'never']);
  try {
    const fast = await streamViewer(m);
    await sleep(o.quick ? 300 : 2000);
    const alone: Summary[] = [];
    const pids = { agent: m.agent.pid, server: gc.server.pid };
    for (let i = 0; i < reps; i++) alone.push(summarise(await measureWithCpu(fast, windowMs, pids)));
    const aloneBytesPerS = (median(alone.map((w) => w.mbitPerS)) * 1e6) / 8;
    const throttle = throttleBy === 'bytes' ? { maxBytesPerS: Math.round(aloneBytesPerS / 10) } : { maxFramesPerS: Math.max(1, Math.round(FPS / 10)) };
    const slow = await streamViewer(m, throttle);
    await sleep(o.quick ? 500 : 4000); // let the slow viewer's backlog build up to the server's bound
    const withSlow: Summary[] = [];
    const slowWin: Summary[] = [];
    const slowRaw: ViewerWindow[] = [];
    for (let i = 0; i < reps; i++) {
      const [f, s] = await Promise.all([measureWithCpu(fast, windowMs, pids), measure(slow, windowMs)]);
      withSlow.push(summarise(f));
      slowWin.push(summarise(s));
      slowRaw.push(s);
    }
    const keyRequests = (reason: string) => m.agent.logs.filter((l) => l.msg === 'keyframe requested' && l.reason === reason).length;
    return {
      reps,
      size,
      throttle,
      alone,
      withSlow,
      slowWin,
      ageRatios: slowWin.map((w, i) => w.p99 / alone[i]!.p99),
      fpsRatios: withSlow.map((w, i) => w.decodedFps / alone[i]!.decodedFps),
      slowKeyframes: slowRaw.reduce((n, w) => n + w.keyframes, 0),
      slowCodecErrors: slowRaw.at(-1)?.codecErrors ?? 0,
      relayDrops: keyRequests('relay_drop'),
      viewerKeyRequests: keyRequests('viewer'),
      // The agent's cumulative stream counters (logged every 10 s at debug).
      agentStats: ((l) => (l ? `captures ${l.captures}, deltas ${l.deltas}, keyframes ${l.keyframes}, catchUps ${l.catchUps}, refines ${l.refines}, skippedCongested ${l.skippedCongested}` : 'none'))(
        m.agent.logs.filter((l) => l.msg === 'stream stats').at(-1),
      ),
    };
  } finally {
    await m.stop();
  }
}

/**
 * `slow_viewer` on the relay (both viewers `--relay force`: they share the agent's socket and the
 * server's per-viewer queues): p99 frame age of a viewer on a link throttled to 10% of the bytes
 * per second the stream takes ÷ p99 age of an unthrottled viewer alone; and the unthrottled
 * viewer's fps with the slow one ÷ alone. Full mode measures the same on P2P (`--relay never`)
 * and with a frame-rate throttle (10% of the frames) on the relay, and reports them in the details.
 */
export async function slowViewer(o: CaseOptions, serverEnv?: Record<string, string>): Promise<Metric[]> {
  return withServer(async (gc) => {
    const r = await slowViewerOn(gc, 'relay', o);
    // The same on P2P, for comparison (full mode only; reported in the details).
    const p2p = o.quick ? null : await slowViewerOn(gc, 'p2p', o);
    const p2pAge: Record<string, number> = p2p ? { p2pAgeRatio: round(median(p2p.ageRatios), 2), p2pSlowP99: round(median(p2p.slowWin.map((w) => w.p99))), p2pAloneP99: round(median(p2p.alone.map((w) => w.p99))) } : {};
    const p2pFps: Record<string, number> = p2p ? { p2pFpsRatio: round(median(p2p.fpsRatios), 3), p2pAloneFps: round(median(p2p.alone.map((w) => w.decodedFps))) } : {};
    // A slow machine rather than a slow link: the age floor is the throttle interval itself (bench/README.md).
    const byFrames = o.quick ? null : await slowViewerOn(gc, 'relay', o, 'frames');
    const framesAge: Record<string, number> = byFrames ? { frameThrottleAgeRatio: round(median(byFrames.ageRatios), 2), frameThrottleSlowP50: round(median(byFrames.slowWin.map((w) => w.p50))), frameThrottleSlowP99: round(median(byFrames.slowWin.map((w) => w.p99))) } : {};
    const common = { path: 'relay', size: r.size, throttleKBps: Math.round((r.throttle.maxBytesPerS ?? NaN) / 1000) };
    return [
      {
        name: 'slow_viewer_age',
        value: median(r.ageRatios),
        unit: 'ratio',
        baseline: { value: round(median(r.alone.map((w) => w.p99))), unit: 'ms p99', what: 'frame age, unthrottled viewer alone (relay)' },
        target: '≤ 3',
        pass: atMost(median(r.ageRatios), 3),
        reps: r.reps,
        spread: spread(r.ageRatios),
        details: {
          slowP99: round(median(r.slowWin.map((w) => w.p99))),
          // Per repetition, so an outlier shows which side moved.
          slowP99s: r.slowWin.map((w) => round(w.p99)).join('/'),
          aloneP99s: r.alone.map((w) => round(w.p99)).join('/'),
          slowP50: round(median(r.slowWin.map((w) => w.p50))),
          slowFps: round(median(r.slowWin.map((w) => w.decodedFps))),
          slowMbitPerS: round(median(r.slowWin.map((w) => w.mbitPerS)), 2),
          aloneMbitPerS: round(median(r.alone.map((w) => w.mbitPerS)), 2),
          agentStats: r.agentStats,
          relayDrops: r.relayDrops,
          viewerKeyRequests: r.viewerKeyRequests,
          slowCodecErrors: r.slowCodecErrors,
          ...common,
          ...p2pAge,
          ...framesAge,
        },
      },
      {
        name: 'slow_viewer_fps',
        value: median(r.fpsRatios),
        unit: 'ratio',
        baseline: { value: round(median(r.alone.map((w) => w.decodedFps))), unit: 'fps', what: 'unthrottled viewer alone (relay)' },
        target: '≥ 0.95',
        pass: atLeast(median(r.fpsRatios), 0.95),
        reps: r.reps,
        spread: spread(r.fpsRatios),
        details: {
          withSlowFps: round(median(r.withSlow.map((w) => w.decodedFps))),
          delivered: round(median(r.withSlow.map((w) => w.delivered)), 3),
          ...cpuDetails(r.alone, 'alone.'),
          ...cpuDetails(r.withSlow, 'withSlow.'),
          slowKeyframes: r.slowKeyframes,
          agentStats: r.agentStats,
          load1: round(loadavg()[0]!, 2),
          ...common,
          ...p2pFps,
        },
      },
    ];
  }, serverEnv);
}
