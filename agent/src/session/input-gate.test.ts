import { describe, expect, it } from 'vitest';
import type { InputMessage } from '@guruconnect/shared/protocol';
import type { InputSink } from '../input/input-sink.ts';
import { silentLogger } from '../log/logger.ts';
import { INPUT_QUEUE_MAX, InputGate } from './input-gate.ts';

/** A sink that applies only when released, to see what queues up behind a slow injection. */
function slowSink() {
  const applied: InputMessage[] = [];
  let release: () => void = () => {};
  const sink: InputSink = {
    kind: 'synthetic',
    apply: (msg) =>
      new Promise<void>((resolve) => {
        release = () => {
          release = () => {};
          applied.push(msg);
          resolve();
        };
      }),
    close: () => Promise.resolve(),
  };
  return { sink, applied, release: () => release() };
}

const move = (x: number): InputMessage => ({ type: 'pointer:move', x, y: 0, t: 0 });
const key = (down: boolean): InputMessage => ({ type: 'key', code: 'KeyA', down, t: 0 });
const tick = () => new Promise((r) => setTimeout(r, 0));

describe('InputGate', () => {
  it('applies in order, one at a time, coalescing pointer moves queued behind a busy sink', async () => {
    const s = slowSink();
    const gate = new InputGate(s.sink, silentLogger);
    const v = { id: 'v', control: true };
    gate.submit(v, key(true), 'p2p');
    for (let x = 1; x <= 5; x++) gate.submit(v, move(x), 'p2p');
    gate.submit(v, key(false), 'p2p');
    for (let i = 0; i < 4; i++) {
      await tick();
      s.release();
    }
    await tick();
    expect(s.applied).toEqual([key(true), move(5), key(false)]);
    expect(gate.applied.get('pointer:move')).toBe(1);
  });

  it('refuses a view-only viewer and counts it', () => {
    const gate = new InputGate(slowSink().sink, silentLogger);
    expect(gate.submit({ id: 'v', control: false }, key(true), 'relay')).toBe(false);
    expect(gate.refused.get('ERR_INPUT_NOT_ALLOWED')).toBe(1);
  });

  it('bounds what waits for a stuck sink', () => {
    const gate = new InputGate(slowSink().sink, silentLogger);
    const v = { id: 'v', control: true };
    for (let i = 0; i < INPUT_QUEUE_MAX + 10; i++) gate.submit(v, key(i % 2 === 0), 'p2p');
    expect(gate.refused.get('ERR_INPUT_THROTTLED')).toBeGreaterThan(0);
  });
});
