// What `npm run verify` runs, and how much of it. Fuzz budgets are inputs PER PROPERTY of a target
// (a test file); the target's property count is in `properties` so the planned total is explicit.
// Full-run budgets come from rates measured on the 2-core dev machine (see docs/reliability.md for
// the rates of the run itself): the cheap in-process codec properties (≈ 1,500–20,000 inputs/s) take
// most of the million inputs; the socket- and HTTP-level ones (≈ 40–500/s) get fewer.

export type BudgetName = 'small' | 'full';

export interface Budget {
  /** Runs per property, by fuzz target. `session-model` is per shard. */
  fuzz: Record<string, number>;
  /** The model-based lifecycle test runs in this many processes at once (different seeds). */
  modelShards: number;
  /** Repetitions of each revocation kind for the latency figures. */
  revocationReps: number;
  /** VERIFY_FULL=1: the fault and load suites run their full versions. */
  full: boolean;
}

/** Properties per fuzz target (checked against what the run counted; a mismatch is reported). */
export const FUZZ_PROPERTIES: Record<string, number> = { codec: 12, 'http-bodies': 24, 'socket-events': 14, 'raw-packets': 1 };

export const BUDGETS: Record<BudgetName, Budget> = {
  small: {
    fuzz: { codec: 2_000, 'http-bodies': 30, 'socket-events': 30, 'raw-packets': 60, 'session-model': 30, 'session-restarts': 2 },
    modelShards: 1,
    revocationReps: 3,
    full: false,
  },
  full: {
    // 12 × 80,000 + 24 × 1,500 + 14 × 2,000 + 1 × 3,000 = 1,027,000 inputs.
    fuzz: { codec: 80_000, 'http-bodies': 1_500, 'socket-events': 2_000, 'raw-packets': 3_000, 'session-model': 5_000, 'session-restarts': 20 },
    modelShards: 2,
    revocationReps: 25,
    full: true,
  },
};

/** Inputs the budget plans for the fuzz targets (the model is counted apart, in sequences). */
export function plannedFuzzInputs(b: Budget): number {
  return Object.entries(FUZZ_PROPERTIES).reduce((n, [target, props]) => n + props * (b.fuzz[target] ?? 0), 0);
}
