// The main thread's side of the capture worker (worker.ts): a ScreenSource and a FramePipeline
// whose work happens in the worker. Captured pixels never cross threads: `capture()` returns a
// handle of the frame (its `data` is empty) and `encode()` of that handle encodes it in the
// worker, so one 1080p frame costs the main thread two small messages and the encoded bytes.
import { Worker } from 'node:worker_threads';
import type { RawFrame, ScreenSource } from '../capture/screen-source.ts';
import type { Logger } from '../log/logger.ts';
import type { EncodedUpdate, FramePipeline } from '../pipeline/types.ts';
import type { FrameHandle, WorkerInit, WorkerReply, WorkerRequest } from './protocol.ts';

/** A worker that died is started again on the next request, at most this often. */
export const WORKER_RESTART_MIN_INTERVAL_MS = 5000;
/** How long `close()` waits for the worker to release the screen before terminating it. */
const CLOSE_TIMEOUT_MS = 2000;
const NO_PIXELS = new Uint8Array(0);

type Request = WorkerRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

export interface CaptureWorker {
  source: ScreenSource;
  pipeline: FramePipeline;
  /** Worker starts so far (1 + restarts after a crash). */
  readonly starts: number;
  /** Stops the worker thread as a crash would (tests); the next request after the restart interval starts a new one. */
  kill(): Promise<void>;
}

export interface CaptureWorkerOptions {
  /** Default `WORKER_RESTART_MIN_INTERVAL_MS`. */
  restartIntervalMs?: number;
}

interface Running {
  worker: Worker;
  pending: Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>;
}

/**
 * Starts the capture worker and waits until its screen is open; rejects with the source's error
 * (a bad display, no ffmpeg) like opening the source in-process would.
 */
export async function startCaptureWorker(init: WorkerInit, log: Logger, options: CaptureWorkerOptions = {}): Promise<CaptureWorker> {
  const restartIntervalMs = options.restartIntervalMs ?? WORKER_RESTART_MIN_INTERVAL_MS;
  let running: Running | null = null;
  let starting: Promise<Running> | null = null;
  let lastStart = 0;
  let starts = 0;
  let nextId = 1;
  let closed = false;

  const launch = (): Promise<{ run: Running; info: { kind: 'synthetic' | 'x11'; width: number; height: number } }> =>
    new Promise((resolve, reject) => {
      starts++;
      lastStart = Date.now();
      const worker = new Worker(new URL('./entry.mjs', import.meta.url), { workerData: init });
      const run: Running = { worker, pending: new Map() };
      let ready = false;
      const fail = (err: Error) => {
        for (const p of run.pending.values()) p.reject(err);
        run.pending.clear();
        if (running === run) {
          running = null;
          lastStart = Date.now(); // the restart interval counts from the crash
        }
      };
      worker.on('message', (m: WorkerReply) => {
        if (m.type === 'ready') {
          ready = true;
          resolve({ run, info: m });
        } else if (m.type === 'failed') {
          reject(new Error(m.message));
          void worker.terminate();
        } else {
          const p = run.pending.get(m.id);
          if (!p) return;
          run.pending.delete(m.id);
          if (m.type === 'result') p.resolve(m.value);
          else p.reject(new Error(m.message));
        }
      });
      worker.on('error', (err) => {
        if (!closed) log.error('capture worker failed', { err });
        if (!ready) reject(err);
        fail(err);
      });
      worker.on('exit', (code) => {
        if (!ready) reject(new Error(`capture worker exited with ${code} before it was ready`));
        if (!closed && ready) log.error('capture worker exited', { code });
        fail(new Error(`capture worker exited with ${code}`));
      });
    });

  const first = await launch();
  running = first.run;

  /** The running worker, started again after a crash (not more often than the restart interval). */
  const current = async (): Promise<Running> => {
    if (closed) throw new Error('capture worker closed');
    if (running) return running;
    if (starting) return starting;
    const wait = restartIntervalMs - (Date.now() - lastStart);
    if (wait > 0) throw new Error('capture worker is down; restarting soon');
    starting = launch().then(
      ({ run }) => {
        starting = null;
        running = run;
        log.warn('capture worker restarted', { starts });
        return run;
      },
      (err: unknown) => {
        starting = null;
        throw err;
      },
    );
    return starting;
  };

  const call = async <T>(req: Request): Promise<T> => {
    const run = await current();
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      run.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      run.worker.postMessage({ ...req, id } satisfies WorkerRequest);
    });
  };

  const source: ScreenSource = {
    kind: first.info.kind,
    width: first.info.width,
    height: first.info.height,
    async capture(): Promise<RawFrame> {
      const h = await call<FrameHandle>({ op: 'capture' });
      return { ...h, data: NO_PIXELS };
    },
    async close(): Promise<void> {
      if (closed) return;
      const run = running;
      if (run) {
        const done = new Promise<void>((resolve) => run.worker.once('exit', () => resolve()));
        try {
          await Promise.race([call({ op: 'close' }), new Promise((r) => setTimeout(r, CLOSE_TIMEOUT_MS))]);
        } catch {
          // gone already
        }
        closed = true;
        await Promise.race([done, new Promise((r) => setTimeout(r, CLOSE_TIMEOUT_MS))]);
        await run.worker.terminate();
      }
      closed = true;
    },
  };
  const pipeline: FramePipeline = {
    encode: (frame, opts) => call<EncodedUpdate | null>({ op: 'encode', seq: frame.seq, keyframe: opts.keyframe }),
    catchUp: (frame, viewerId, opts) => call<EncodedUpdate | null>({ op: 'catchUp', seq: frame.seq, viewerId, scale: opts?.scale }),
    refine: (frame, viewerId) => call<EncodedUpdate | null>({ op: 'refine', seq: frame.seq, viewerId }),
    // Ordered before any later request (one message port, handled in order); nothing to wait for.
    lag: (viewerId) => {
      void call({ op: 'lag', viewerId }).catch(() => {});
    },
    forget: (viewerId) => {
      void call({ op: 'forget', viewerId }).catch(() => {});
    },
    reset: () => {
      void call({ op: 'reset' }).catch(() => {});
    },
  };
  return {
    source,
    pipeline,
    get starts() {
      return starts;
    },
    async kill() {
      const run = running;
      if (!run) return;
      running = null;
      lastStart = Date.now();
      const err = new Error('capture worker killed');
      for (const p of run.pending.values()) p.reject(err);
      run.pending.clear();
      await run.worker.terminate();
    },
  };
}
