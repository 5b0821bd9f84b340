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
      return { type: 'result', id: req.id, value: await pipeline.catchUp(latest, req.viewerId) };
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

// One request at a time, in order: the pipeline's reference frame depends on it.
let chain = Promise.resolve();
port.on('message', (req: WorkerRequest) => {
  chain = chain.then(async () => {
    try {
      const reply = await handle(req);
      if (reply) post(reply);
    } catch (err) {
      post({ type: 'error', id: req.id, message: err instanceof Error ? err.message : String(err) });
    }
  });
});
post({ type: 'ready', kind: source.kind, width: source.width, height: source.height });
