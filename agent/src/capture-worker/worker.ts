// The capture worker: owns the screen source and the frame pipeline, so capture, dirty-region
// detection and the synchronous part of every encode (sharp's pipeline set-up, ~0.3–0.5 ms per
// rect) run off the agent's main thread, which stays free for input and sending.
import { parentPort, workerData } from 'node:worker_threads';
import type { RawFrame, ScreenSource } from '../capture/screen-source.ts';
import { createSyntheticSource } from '../capture/synthetic-source.ts';
import { createFramePipeline } from '../pipeline/frame-pipeline.ts';
import type { WorkerInit, WorkerReply, WorkerRequest } from './protocol.ts';

if (!parentPort) throw new Error('capture worker: not in a worker thread');
const port = parentPort;
const init = workerData as WorkerInit;
const post = (m: WorkerReply) => port.postMessage(m);

async function open(): Promise<ScreenSource> {
  if (init.capture.kind === 'x11') {
    const { createX11Source } = await import('../capture/x11-source.ts');
    return createX11Source({ display: init.capture.display, fps: init.capture.fps });
  }
  return createSyntheticSource({ width: init.capture.width, height: init.capture.height, scene: init.capture.scene });
}

let source: ScreenSource;
try {
  source = await open();
} catch (err) {
  post({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
  process.exit(0);
}
const pipeline = createFramePipeline(init.pipeline);
/** The last frame captured: the only one the main thread can ask to encode. */
let latest: RawFrame | null = null;

async function handle(req: WorkerRequest): Promise<WorkerReply | null> {
  switch (req.op) {
    case 'capture': {
      latest = await source.capture();
      const { width, height, captureTsMs, seq } = latest;
      return { type: 'result', id: req.id, value: { width, height, captureTsMs, seq } };
    }
    case 'encode': {
      if (!latest || latest.seq !== req.seq) return { type: 'error', id: req.id, message: `frame ${req.seq} is not the latest capture` };
      return { type: 'result', id: req.id, value: await pipeline.encode(latest, { keyframe: req.keyframe }) };
    }
    case 'catchUp': {
      if (!latest || latest.seq !== req.seq) return { type: 'error', id: req.id, message: `frame ${req.seq} is not the latest capture` };
      return { type: 'result', id: req.id, value: await pipeline.catchUp(latest, req.viewerId, { scale: req.scale }) };
    }
    case 'refine': {
      if (!latest || latest.seq !== req.seq) return { type: 'error', id: req.id, message: `frame ${req.seq} is not the latest capture` };
      return { type: 'result', id: req.id, value: await pipeline.refine(latest, req.viewerId) };
    }
    case 'lag':
      pipeline.lag(req.viewerId);
      return { type: 'result', id: req.id, value: null };
    case 'forget':
      pipeline.forget(req.viewerId);
      return { type: 'result', id: req.id, value: null };
    case 'reset':
      pipeline.reset();
      return { type: 'result', id: req.id, value: null };
    case 'close':
      await source.close();
      post({ type: 'result', id: req.id, value: null });
      port.close();
      return null;
  }
}

/**
 * Requests start in the order they arrive. The encodes of one capture (a delta, a keyframe,
 * catch-ups, refines) and lag/forget run concurrently: each one's diff and bookkeeping is
 * synchronous and happens when it starts, so the pipeline's reference moves in request order,
 * and the encodes themselves run on sharp's thread pool. A capture, reset or close waits for
 * everything before it (the source may reuse the frame an encode is still reading).
 */
const running = new Set<Promise<void>>();
let barrier: Promise<unknown> = Promise.resolve();
const exclusive = new Set<WorkerRequest['op']>(['capture', 'reset', 'close']);
port.on('message', (req: WorkerRequest) => {
  const run = async () => {
    try {
      const reply = await handle(req);
      if (reply) post(reply);
    } catch (err) {
      post({ type: 'error', id: req.id, message: err instanceof Error ? err.message : String(err) });
    }
  };
  if (exclusive.has(req.op)) {
    const before = [...running];
    barrier = barrier.then(() => Promise.all(before)).then(run);
    return;
  }
  const job: Promise<void> = barrier.then(run).finally(() => running.delete(job));
  running.add(job);
});
post({ type: 'ready', kind: source.kind, width: source.width, height: source.height });
