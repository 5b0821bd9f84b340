// Test-only fakes for the agent's unit tests (the cross-process tests use the real backends).
import { chunkFrame, encodeFrame } from '@guruconnect/shared/codec';
import type { RawFrame, ScreenSource } from '../capture/screen-source.ts';
import type { EncodedUpdate, FramePipeline } from '../pipeline/types.ts';
import type { StreamTarget } from '../session/stream-loop.ts';
import type { PeerLink, PeerLinkFactory, PeerLinkHandlers, SignalPayload } from '../session/peer-link.ts';
import type { SignalKind } from '../connection/agent-connection.ts';

/** A 4×4 source whose frame n is filled with n. */
export function fakeSource(): ScreenSource & { captures: number } {
  let seq = 0;
  const src = {
    kind: 'synthetic' as const,
    width: 4,
    height: 4,
    captures: 0,
    capture(): Promise<RawFrame> {
      src.captures++;
      const frame = { width: 4, height: 4, data: new Uint8Array(64).fill(seq & 0xff), captureTsMs: 1000 + seq, seq };
      seq++;
      return Promise.resolve(frame);
    },
    close: () => Promise.resolve(),
  };
  return src;
}

/**
 * Records every encode, catch-up and refine; a delta is null when `unchanged()` says so. A
 * catch-up leaves the viewer `soft` until a refine or forget (the fake keeps no tiles: a delta
 * does not sharpen it).
 */
export function fakePipeline(unchanged: () => boolean = () => false, o: { rectBytes?: number } = {}): FramePipeline & { calls: Array<{ seq: number; keyframe: boolean; catchUp?: string; refine?: string; scale?: number }>; behind: Set<string>; soft: Set<string> } {
  const calls: Array<{ seq: number; keyframe: boolean; catchUp?: string; refine?: string; scale?: number }> = [];
  const behind = new Set<string>();
  const soft = new Set<string>();
  // Real codec chunks (one rect of `rectBytes`, default 2), as the pipeline would send them.
  const update = (frame: RawFrame, keyframe: boolean): EncodedUpdate => {
    const rect = { x: 0, y: 0, width: 16, height: 16, codec: 'jpeg' as const, data: new Uint8Array(o.rectBytes ?? 2).fill(frame.seq & 0xff) };
    const messages = chunkFrame(encodeFrame({ seq: frame.seq, captureTsMs: frame.captureTsMs, keyframe, screenWidth: 16, screenHeight: 16, rects: [rect] }), frame.seq);
    return { seq: frame.seq, captureTsMs: frame.captureTsMs, keyframe, messages, bytes: messages.reduce((n, m) => n + m.length, 0), rects: 1 };
  };
  return {
    calls,
    behind,
    soft,
    encode(frame, opts): Promise<EncodedUpdate | null> {
      calls.push({ seq: frame.seq, keyframe: opts.keyframe });
      if (!opts.keyframe && unchanged()) return Promise.resolve(null);
      return Promise.resolve(update(frame, opts.keyframe));
    },
    lag(viewerId) {
      behind.add(viewerId);
    },
    catchUp(frame, viewerId, opts): Promise<EncodedUpdate | null> {
      if (!behind.delete(viewerId)) return Promise.reject(new Error(`viewer ${viewerId} is not behind`));
      calls.push({ seq: frame.seq, keyframe: false, catchUp: viewerId, ...(opts?.scale ? { scale: opts.scale } : {}) });
      if (unchanged()) return Promise.resolve(null);
      soft.add(viewerId);
      return Promise.resolve(update(frame, false));
    },
    refine(frame, viewerId): Promise<EncodedUpdate | null> {
      if (behind.has(viewerId)) return Promise.reject(new Error(`viewer ${viewerId} is behind`));
      if (!soft.delete(viewerId)) return Promise.resolve(null);
      calls.push({ seq: frame.seq, keyframe: false, refine: viewerId });
      return Promise.resolve(update(frame, false));
    },
    forget(viewerId) {
      behind.delete(viewerId);
      soft.delete(viewerId);
    },
    reset() {},
  };
}

export class FakeTarget implements StreamTarget {
  readonly id: string;
  path: 'p2p' | 'relay' | null = 'p2p';
  isReady = true;
  isCongested = false;
  /** What it is sent fills its path (the harness sets `isCongested`). */
  congestOnReceive = false;
  needsKeyframe = true;
  behind = false;
  readonly received: Array<{ seq: number; keyframe: boolean }> = [];
  /** What `pull` was told, in order. */
  readonly pulls: boolean[] = [];

  constructor(id: string) {
    this.id = id;
  }

  ready(): boolean {
    return this.isReady;
  }

  congested(): boolean {
    return this.isCongested;
  }

  pull(on: boolean): void {
    this.pulls.push(on);
  }
}


/** A PeerLink driven by the test: `open()`, `fail()`, `ice()`, `receive()`. */
export class FakePeer implements PeerLink {
  readonly handlers: PeerLinkHandlers;
  readonly signalsIn: Array<{ kind: SignalKind; payload: SignalPayload }> = [];
  readonly framesOut: Uint8Array[] = [];
  readonly jsonOut: unknown[] = [];
  buffered = 0;
  closedWith: string | null = null;
  opened = false;

  constructor(handlers: PeerLinkHandlers) {
    this.handlers = handlers;
  }

  get isOpen(): boolean {
    return this.opened && this.closedWith === null;
  }

  signal(kind: SignalKind, payload: SignalPayload): void {
    this.signalsIn.push({ kind, payload });
  }

  sendFrame(message: Uint8Array): void {
    if (this.closedWith !== null) throw new Error('closed');
    this.framesOut.push(message);
  }

  sendJson(message: unknown): void {
    this.jsonOut.push(message);
  }

  framesBufferedBytes(): number {
    return this.buffered;
  }

  close(reason: string): void {
    this.closedWith ??= reason;
  }

  open(): void {
    this.opened = true;
    this.handlers.open();
  }

  fail(reason = 'test_failure'): void {
    this.handlers.failed(reason);
  }

  ice(state: string): void {
    this.handlers.iceState(state);
  }

  receive(data: unknown): void {
    this.handlers.message(data);
  }
}

export function fakePeerFactory(): { factory: PeerLinkFactory; peers: FakePeer[] } {
  const peers: FakePeer[] = [];
  return {
    peers,
    factory: (o) => {
      const p = new FakePeer(o.handlers);
      peers.push(p);
      return p;
    },
  };
}
