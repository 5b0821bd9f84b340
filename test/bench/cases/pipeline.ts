import sharp from 'sharp';
import { createSyntheticSource } from '../../../agent/src/capture/synthetic-source.ts';
import { findDirtyTiles } from '../../../agent/src/pipeline/dirty-tiles.ts';
import { createFramePipeline, JPEG_OPTIONS } from '../../../agent/src/pipeline/frame-pipeline.ts';
import type { Metric } from '../lib/metric.ts';
import { atLeast, atMost } from '../lib/metric.ts';
import { median, spread } from '../lib/stats.ts';
import type { CaseOptions } from './relay.ts';

const W = 1920;
const H = 1080;

function medianMs(fn: () => void, rounds: number): number {
  for (let i = 0; i < 5; i++) fn();
  const s: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    fn();
    s.push(performance.now() - t);
  }
  return median(s);
}

/** Dirty-region detection per 1080p frame of the synthetic desktop ÷ one Buffer.compare of the frame. */
export async function diffCost(o: CaseOptions): Promise<Metric[]> {
  const src = createSyntheticSource({ width: W, height: H, now: () => 0 });
  const a = await src.capture();
  const b = await src.capture();
  const copyOfA = Buffer.from(a.data);
  const bufA = Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength);
  const rounds = o.quick ? 20 : 200;
  const reps = o.quick ? 1 : 3;
  const ratios: number[] = [];
  let base = 0;
  for (let r = 0; r < reps; r++) {
    // Baseline: comparing two equal frames reads both buffers fully (the memcmp of the frame).
    base = medianMs(() => bufA.compare(copyOfA), rounds);
    const ours = medianMs(() => findDirtyTiles(a.data, b.data, W, H), rounds);
    ratios.push(ours / base);
  }
  const v = median(ratios);
  return [{ name: 'diff_cost', value: v, unit: 'ratio', baseline: { value: base, unit: 'ms', what: 'Buffer.compare of a 1080p frame' }, target: '≤ 2', pass: atMost(v, 2), reps, spread: spread(ratios) }];
}

/** Pipeline fps on a fully changing 1080p frame ÷ isolated sharp encode fps, same quality. */
export async function encodeEfficiency(o: CaseOptions): Promise<Metric[]> {
  const frames = o.quick ? 3 : 20;
  const quality = 70;
  const noise = () => {
    const d = new Uint8Array(W * H * 4);
    for (let i = 0; i < d.length; i += 4096) d.fill((i * 2654435761) >>> 24, i, i + 4096);
    return d;
  };
  const inputs = Array.from({ length: frames }, (_, i) => {
    const d = noise();
    d[0] = i;
    return d;
  });
  let t = performance.now();
  for (const d of inputs) await sharp(d, { raw: { width: W, height: H, channels: 4 } }).jpeg(JPEG_OPTIONS(quality)).toBuffer();
  const sharpFps = frames / ((performance.now() - t) / 1000);
  const pipeline = createFramePipeline({ quality });
  t = performance.now();
  for (const [i, d] of inputs.entries()) await pipeline.encode({ width: W, height: H, data: d, captureTsMs: Date.now(), seq: i }, { keyframe: true });
  const pipeFps = frames / ((performance.now() - t) / 1000);
  const v = pipeFps / sharpFps;
  return [{ name: 'encode_efficiency', value: v, unit: 'ratio', baseline: { value: sharpFps, unit: 'fps', what: 'isolated sharp JPEG encode, same settings (q=70)' }, target: '≥ 0.8', pass: atLeast(v, 0.8), reps: 1, spread: 0, details: { pipelineFps: Number(pipeFps.toFixed(1)) } }];
}
