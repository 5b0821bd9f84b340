/** Reconnect backoff: exponential from `baseMs`, capped at `capMs`, with "equal jitter". */
export interface BackoffOptions {
  baseMs: number;
  capMs: number;
  random?: () => number;
}

export const RECONNECT_BACKOFF: BackoffOptions = { baseMs: 500, capMs: 30_000 };

/**
 * Delay before reconnect attempt `attempt` (0 = the first retry): uniformly in
 * [ceiling / 2, ceiling] where ceiling = min(capMs, baseMs · 2^attempt). Half the ceiling is
 * guaranteed so retries really back off; the random half spreads a fleet of agents that lost
 * the server at the same moment.
 */
export function backoffDelayMs(attempt: number, o: BackoffOptions = RECONNECT_BACKOFF): number {
  const ceiling = Math.min(o.capMs, o.baseMs * 2 ** Math.min(Math.max(0, attempt), 30));
  return Math.round(ceiling / 2 + (o.random ?? Math.random)() * (ceiling / 2));
}
