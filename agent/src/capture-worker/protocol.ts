// Messages between the agent's main thread and its capture worker (worker.ts). Plain data only:
// they cross `postMessage` (structured clone).
import type { SyntheticScene } from '../capture/synthetic-source.ts';
import type { EncodedUpdate } from '../pipeline/types.ts';
import type { FramePipelineOptions } from '../pipeline/frame-pipeline.ts';

/** Which screen the worker opens. */
export type CaptureSpec = { kind: 'synthetic'; width: number; height: number; scene: SyntheticScene } | { kind: 'x11'; display: string; fps: number };

export interface WorkerInit {
  capture: CaptureSpec;
  pipeline: FramePipelineOptions;
}

/** A captured frame as the main thread knows it: the pixels stay in the worker. */
export interface FrameHandle {
  width: number;
  height: number;
  captureTsMs: number;
  seq: number;
}

export type WorkerRequest =
  | { id: number; op: 'capture' }
  | { id: number; op: 'encode'; seq: number; keyframe: boolean }
  | { id: number; op: 'catchUp'; seq: number; viewerId: string; scale?: number }
  | { id: number; op: 'refine'; seq: number; viewerId: string }
  | { id: number; op: 'lag'; viewerId: string }
  | { id: number; op: 'forget'; viewerId: string }
  | { id: number; op: 'reset' }
  | { id: number; op: 'close' };

export type WorkerReply =
  | { type: 'ready'; kind: 'synthetic' | 'x11'; width: number; height: number }
  | { type: 'failed'; message: string }
  | { type: 'result'; id: number; value: FrameHandle | EncodedUpdate | null }
  | { type: 'error'; id: number; message: string };
