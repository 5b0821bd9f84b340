import { EventEmitter } from 'node:events';
import type { InputMessage } from '@guruconnect/shared/protocol';
import type { InputSink } from './input-sink.ts';

/** Events of `SyntheticInput.events`: `input` after each applied message, in order. */
export interface SyntheticInputEvents {
  input: [message: InputMessage];
}

/** An input sink that injects nothing and records every message, for tests and the synthetic screen. */
export interface SyntheticInput extends InputSink {
  readonly kind: 'synthetic';
  /** Every message applied so far, in order. */
  readonly applied: readonly InputMessage[];
  readonly events: EventEmitter<SyntheticInputEvents>;
  /** Resolves with the next applied message that satisfies `pred` (default: any); rejects on close. */
  next(pred?: (message: InputMessage) => boolean): Promise<InputMessage>;
}

/** Creates a recording sink. After `close()`, messages are ignored and listeners removed. */
export function createSyntheticInput(): SyntheticInput {
  const applied: InputMessage[] = [];
  const events = new EventEmitter<SyntheticInputEvents>();
  const waiting = new Set<(err: Error) => void>();
  let closed = false;
  return {
    kind: 'synthetic',
    applied,
    events,
    apply(message: InputMessage): Promise<void> {
      if (!closed) {
        applied.push(message);
        events.emit('input', message);
      }
      return Promise.resolve();
    },
    next(pred = () => true): Promise<InputMessage> {
      if (closed) return Promise.reject(new Error('synthetic input is closed'));
      return new Promise((resolve, reject) => {
        const listener = (message: InputMessage): void => {
          if (!pred(message)) return;
          events.off('input', listener);
          waiting.delete(reject);
          resolve(message);
        };
        events.on('input', listener);
        waiting.add(reject);
      });
    },
    close(): Promise<void> {
      if (!closed) {
        closed = true;
        events.removeAllListeners();
        for (const reject of waiting) reject(new Error('synthetic input is closed'));
        waiting.clear();
      }
      return Promise.resolve();
    },
  };
}
