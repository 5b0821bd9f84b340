import { readFileSync } from 'node:fs';

/** CPU time (user + system, all threads) a process has used so far, ms; NaN once it is gone. */
export function cpuMsOf(pid: number): number {
  try {
    // Fields after the parenthesised command name: state is [0], utime [11], stime [12] (clock ticks, 100/s).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}

/** A process and its direct children (the signaling server and its media relay process). */
export function withChildren(pid: number): number[] {
  try {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    return [pid, ...kids];
  } catch {
    return [pid];
  }
}

/**
 * CPU per party over a window: `start()` when the steady state begins, `perMB(mbps)` at its end
 * gives each party's CPU ms per MB moved (cores used ÷ MB/s × 1000).
 */
export function cpuPerMB(parties: Record<string, () => number[]>): { start(): void; perMB(mbps: number): Record<string, number> } {
  let t0 = 0;
  let c0: Record<string, number> = {};
  const total = (pids: number[]) => pids.reduce((n, p) => n + cpuMsOf(p), 0);
  return {
    start() {
      t0 = performance.now();
      c0 = Object.fromEntries(Object.entries(parties).map(([k, pids]) => [k, total(pids())]));
    },
    perMB(mbps) {
      const seconds = (performance.now() - t0) / 1000;
      return Object.fromEntries(Object.entries(parties).map(([k, pids]) => [k, Number(((total(pids()) - c0[k]!) / seconds / mbps).toFixed(3))]));
    },
  };
}
