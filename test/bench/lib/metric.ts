/** One row of bench/RESULTS.md. */
export interface Metric {
  name: string;
  /** The measured value (a ratio when `baseline` is set, else a figure in `unit`). */
  value: number;
  unit: string;
  /** What the value is compared with, measured in the same run. */
  baseline?: { value: number; unit: string; what: string };
  /** Human-readable target, e.g. "≥ 0.85". */
  target: string;
  pass: boolean | null;
  reps: number;
  spread: number;
  details?: Record<string, number | string>;
}

export function atLeast(x: number, t: number): boolean {
  return Number.isFinite(x) && x >= t;
}
export function atMost(x: number, t: number): boolean {
  return Number.isFinite(x) && x <= t;
}
