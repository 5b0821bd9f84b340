import { describe, expect, it } from 'vitest';
import { backoffDelayMs } from './backoff.ts';

describe('backoffDelayMs', () => {
  const o = { baseMs: 500, capMs: 30_000 };
  it.each([
    [0, 250, 500],
    [1, 500, 1000],
    [3, 2000, 4000],
    [6, 15_000, 30_000],
    [20, 15_000, 30_000],
    [1000, 15_000, 30_000],
  ])('attempt %i waits between %i and %i ms', (attempt, min, max) => {
    expect(backoffDelayMs(attempt, { ...o, random: () => 0 })).toBe(min);
    expect(backoffDelayMs(attempt, { ...o, random: () => 0.999999 })).toBeLessThanOrEqual(max);
    expect(backoffDelayMs(attempt, { ...o, random: () => 0.999999 })).toBeGreaterThan(max - 2);
  });

  it('never exceeds the cap of about 30 s', () => {
    for (let i = 0; i < 100; i++) expect(backoffDelayMs(i)).toBeLessThanOrEqual(30_000);
  });
});
