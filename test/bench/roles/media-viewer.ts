// A technician's viewer (test/support/viewer-client.ts) in its own process, for the end-to-end
// media benchmarks. Decodes every frame into a framebuffer and reads the synthetic source's stamp.
//   mode 'stream': join once; on {type:'measure', ms} report a 'window' of what was decoded.
//   mode 'joins':  on {type:'join'} join a fresh ViewerClient, wait for its first decoded frame,
//                  report a 'joined' timing and close it again.
import { ViewerClient, type FrameEvent, type ViewerClientOptions } from '../../support/viewer-client.ts';
import { report, roleArgs } from '../lib/roles.ts';

interface Args {
  mode: 'stream' | 'joins';
  viewer: ViewerClientOptions;
}

/** What one viewer decoded during a measurement window. */
export interface ViewerWindow {
  type: 'window';
  windowMs: number;
  /** Decoded codec frames (an update split into several frames counts each). */
  frames: number;
  /** Distinct capture sequence numbers decoded. */
  seqs: number;
  /** Lowest and highest sequence number decoded in the window. */
  seqMin: number;
  seqMax: number;
  /** Per decoded update: decode time − capture time (the stamp's when it could be read), ms. */
  agesMs: number[];
  /** Per decoded update: last chunk received − capture time (agent + transport), ms. */
  transitMs: number[];
  bytes: number;
  keyframes: number;
  /** Decoded frames whose stamp did not match the frame header (pixels of another capture). */
  stampMismatches: number;
  path: string | null;
  decodeErrors: number;
  codecErrors: number;
  /** CPU time this viewer process used during the window (all threads, incl. sharp's), ms. */
  cpuMs: number;
}

const a = roleArgs<Args>();
const fail = (err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`media-viewer: ${message}\n`);
  report({ type: 'error', message });
  setTimeout(() => process.exit(1), 50);
};

function captureTs(f: FrameEvent): number {
  return f.stamp && f.stamp.seq === f.seq ? f.stamp.captureTsMs : f.captureTsMs;
}

async function stream(): Promise<void> {
  const v = await ViewerClient.join(a.viewer);
  let window: { start: number; ages: Map<number, number>; transit: Map<number, number>; frames: number; bytes: number; keyframes: number; mismatches: number } | null = null;
  v.onFrame((f) => {
    if (!window) return;
    const now = Date.now();
    window.frames++;
    window.bytes += f.bytes;
    if (f.keyframe) window.keyframes++;
    if (f.stamp && f.stamp.seq !== f.seq) window.mismatches++;
    // The last frame of a split update completes the picture: keep the latest age per seq.
    window.ages.set(f.seq, now - captureTs(f));
    window.transit.set(f.seq, f.receivedAtMs - captureTs(f));
  });
  await v.nextFrame(() => true, 30_000);
  report({ type: 'ready', firstFrameMs: v.stats.firstFrameMs, path: v.stats.path });
  process.on('message', (m: { type: string; ms?: number }) => {
    if (m.type === 'close') {
      void v.close().finally(() => process.exit(0));
      return;
    }
    if (m.type !== 'measure') return;
    const cpu0 = process.cpuUsage();
    window = { start: Date.now(), ages: new Map(), transit: new Map(), frames: 0, bytes: 0, keyframes: 0, mismatches: 0 };
    const w = window;
    setTimeout(() => {
      window = null;
      const seqs = [...w.ages.keys()];
      const out: ViewerWindow = {
        type: 'window',
        windowMs: Date.now() - w.start,
        frames: w.frames,
        seqs: seqs.length,
        seqMin: seqs.length ? Math.min(...seqs) : NaN,
        seqMax: seqs.length ? Math.max(...seqs) : NaN,
        agesMs: [...w.ages.values()],
        transitMs: [...w.transit.values()],
        bytes: w.bytes,
        keyframes: w.keyframes,
        stampMismatches: w.mismatches,
        path: v.stats.path,
        decodeErrors: v.stats.decodeErrors,
        codecErrors: v.stats.codecErrors,
        cpuMs: (({ user, system }) => (user + system) / 1000)(process.cpuUsage(cpu0)),
      };
      report(out as unknown as Record<string, unknown>);
    }, m.ms ?? 1000);
  });
}

async function joins(): Promise<void> {
  process.on('message', (m: { type: string }) => {
    if (m.type === 'close') process.exit(0);
    if (m.type !== 'join') return;
    void (async () => {
      const t0 = Date.now();
      const v = await ViewerClient.join(a.viewer);
      const joinedMs = Date.now() - t0;
      const f = await v.nextFrame(() => true, 30_000);
      const totalMs = Date.now() - t0;
      await v.close();
      report({ type: 'joined', totalMs, joinedMs, firstFrameMs: v.stats.firstFrameMs, path: f.path, keyframe: f.keyframe });
    })().catch(fail);
  });
  report({ type: 'ready' });
}

(a.mode === 'stream' ? stream() : joins()).catch(fail);
