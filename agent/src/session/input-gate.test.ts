import { describe, expect, it } from 'vitest';
import type { InputMessage } from '@guruconnect/shared/protocol';
import type { InputSink } from '../input/input-sink.ts';
import { createSyntheticInput } from '../input/synthetic-input.ts';
import { silentLogger } from '../log/logger.ts';
import { RELAY_INPUT_BURST, RELAY_INPUT_RATE_PER_S } from '@guruconnect/shared/limits';
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

  it('rate-limits P2P input per viewer like the server limits relay input', async () => {
    let now = 0;
    const sink = createSyntheticInput();
    const gate = new InputGate(sink, silentLogger, () => now);
    const a = { id: 'a', control: true };
    // Batches of 100 with a pause, so the queue drains and only the rate limit can refuse.
    const burst = async (viewer: { id: string; control: boolean }, n: number) => {
      let accepted = 0;
      for (let i = 0; i < n; i++) {
        if (gate.submit(viewer, key(i % 2 === 0), 'p2p')) accepted++;
        if (i % 100 === 99) await tick();
      }
      await tick();
      return accepted;
    };
    expect(await burst(a, RELAY_INPUT_BURST + 100)).toBe(RELAY_INPUT_BURST);
    expect(gate.refused.get('ERR_INPUT_THROTTLED')).toBe(100);
    // Another viewer has its own budget; time refills it.
    expect(await burst({ id: 'b', control: true }, 10)).toBe(10);
    now += 1000;
    expect(await burst(a, RELAY_INPUT_RATE_PER_S)).toBe(RELAY_INPUT_RATE_PER_S);
    // Relay input was already limited by the server: not counted again.
    expect(gate.submit(a, key(true), 'relay')).toBe(true);
    expect(sink.applied.length).toBeGreaterThan(0);
  });
});
