import type { InputMessage } from '@guruconnect/shared/protocol';
import { describe, expect, it } from 'vitest';
import { createSyntheticInput } from './synthetic-input.ts';

const messages: InputMessage[] = [
  { type: 'pointer:move', x: 1, y: 2, t: 0 },
  { type: 'key', code: 'KeyA', down: true, t: 1 },
  { type: 'text', text: 'hi', t: 2 },
];

describe('synthetic input', () => {
  it('records every applied message in order and emits each one', async () => {
    const sink = createSyntheticInput();
    const emitted: InputMessage[] = [];
    sink.events.on('input', (m) => emitted.push(m));
    for (const m of messages) await sink.apply(m);
    expect(sink.kind).toBe('synthetic');
    expect(sink.applied).toEqual(messages);
    expect(emitted).toEqual(messages);
  });

  it('resolves next() with the first matching message', async () => {
    const sink = createSyntheticInput();
    const next = sink.next((m) => m.type === 'text');
    for (const m of messages) await sink.apply(m);
    await expect(next).resolves.toEqual(messages[2]);
  });

  it('ignores messages after close and rejects pending waits', async () => {
    const sink = createSyntheticInput();
    const pending = sink.next();
    await sink.close();
    await sink.close();
    await sink.apply(messages[0] as InputMessage);
    expect(sink.applied).toEqual([]);
    await expect(pending).rejects.toThrow(/closed/);
    await expect(sink.next()).rejects.toThrow(/closed/);
  });
});
