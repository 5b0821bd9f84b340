// Renders docs/reliability.md from one verify run: the phases' vitest JSON, the figures the suites
// recorded and npm audit. Nothing here is typed by hand; anything a suite did not record reads
// "not measured".
import type { AuditResult } from './npm-audit.ts';
import { fuzzTargets, one, pick, type Json } from './collect.ts';
import type { PhaseResult, TestResult } from './vitest-phase.ts';

export interface RunMeta {
  date: string;
  commit: string;
  machine: string;
  command: string;
  budget: string;
  wallMs: number;
  plannedFuzzInputs: number;
  failures: string[];
}

const NM = 'not measured';
const fmt = (n: number) => n.toLocaleString('en-US');
const sec = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
const val = (v: unknown, unit = ''): string => {
  if (v === undefined || v === null) return NM;
  if (typeof v === 'number') return `${fmt(Math.round(v * 100) / 100)}${unit}`;
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'string') return v;
  return `\`${JSON.stringify(v).slice(0, 200)}\``;
};
const table = (head: string[], rows: string[][]) => [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

/** Every leaf of a figures object as `path: value` (for the suites whose shape the report does not know). */
function flatten(obj: unknown, prefix = ''): Array<[string, string]> {
  if (obj === null || typeof obj !== 'object') return [[prefix, val(obj)]];
  if (Array.isArray(obj) && obj.every((x) => typeof x === 'number')) {
    const xs = obj as number[];
    return [[prefix, xs.length > 8 ? `${xs.length} values, min ${fmt(Math.min(...xs))}, max ${fmt(Math.max(...xs))}` : xs.map(fmt).join(', ')]];
  }
  return Object.entries(obj as Json)
    .filter(([k]) => !(prefix === '' && (k === 'name' || k === 'at')))
    .flatMap(([k, v]) => flatten(v, prefix ? `${prefix}.${k}` : k));
}
const details = (summary: string, obj: Json | undefined) =>
  obj ? `<details><summary>${summary}</summary>\n\n${table(['figure', 'value'], flatten(obj).map(([k, v]) => [`\`${k}\``, v]))}\n\n</details>` : '';

/** Every number the figures hold under a key that says something was lost (`auditEventsLost`, `lost`, …). */
function lostOf(obj: unknown): number {
  if (!obj || typeof obj !== 'object') return 0;
  return Object.entries(obj as Json).reduce((n, [k, v]) => n + (typeof v === 'number' && /lost/i.test(k) ? v : lostOf(v)), 0);
}

const inFile = (tests: TestResult[], ending: string) => tests.filter((t) => t.file.endsWith(ending));
const passedOf = (tests: TestResult[]) => `${tests.filter((t) => t.status === 'passed').length} / ${tests.length}`;

export function renderReport(meta: RunMeta, phases: PhaseResult[], figures: Map<string, Json[]>, audit: AuditResult | undefined): string {
  const all = phases.flatMap((p) => p.tests);
  const matrix = inFile(all, 'boundary-matrix.test.ts');
  const inventory = inFile(all, 'inventory.test.ts');
  const fuzz = fuzzTargets(figures).filter((t) => !t.target.startsWith('session-'));
  const model = fuzzTargets(figures).find((t) => t.target === 'session-model');
  const sequences = model?.properties.filter((p) => p.property.includes('session lifecycle model')) ?? [];
  const restarts = model?.properties.filter((p) => p.property.includes('server restarts')) ?? [];
  const fuzzInputs = fuzz.reduce((n, t) => n + t.inputs, 0);
  const fuzzFailures = fuzz.reduce((n, t) => n + t.failures, 0);
  const revocation = one(figures, 'revocation');
  const guessing = one(figures, 'guessing');
  const faults = one(figures, 'faults');
  const load = one(figures, 'load');
  const canary = one(figures, 'canary');
  const logScan = phases.find((p) => p.phase === 'log-scan');
  const sum = (xs: Array<{ runs: number }>) => xs.reduce((n, p) => n + p.runs, 0);
  const flood = pick(load, 'flood', 'handshakeFlood') as Json | undefined;
  const rss = (pick(load, 'mixed.rssKiB', 'rssKiB') as number[] | undefined) ?? [];
  const faultTests = phases.find((p) => p.phase === 'faults')?.tests ?? [];

  const summary: string[][] = [
    ['boundary matrix rows passed', matrix.length ? passedOf(matrix) : NM],
    ['route/event inventory checks passed', inventory.length ? passedOf(inventory) : NM],
    ['inputs fuzzed (planned)', `${fmt(fuzzInputs)} (${fmt(meta.plannedFuzzInputs)})`],
    ['fuzz properties failed (crashes)', fuzz.length ? String(fuzzFailures) : NM],
    ['model-based lifecycle sequences (failed)', model ? `${fmt(sum(sequences))} (${sequences.filter((p) => p.failed).length})` : NM],
    ['server restarts in the model (failed)', model ? `${fmt(sum(restarts))} (${restarts.filter((p) => p.failed).length})` : NM],
    ['fault scenarios survived (tests passed) / data lost', `${faultTests.length ? passedOf(faultTests) : NM} / ${faults ? `${fmt(lostOf(faults))} (sum of every recorded "…lost" count)` : NM}`],
    ['load held (agents × viewers, traffic time, unexpected disconnects)', load ? `${val(pick(load, 'mixed.agents', 'agents'))} × ${val(pick(load, 'mixed.viewers', 'viewers'))}, ${val(pick(load, 'mixed.trafficS', 'mixed.durationS', 'durationS'), ' s')}, ${val(pick(load, 'mixed.unexpectedDisconnects', 'unexpectedDisconnects'))}` : NM],
    ['handshake flood', flood ? `${val(pick(flood, 'requests'))} unauthenticated handshakes, ${val(pick(flood, 'upgraded'))} upgraded, legitimate agents in ${val(pick(flood, 'legitimateAgentsIn'))} / ${val(pick(flood, 'legitimateAgents'))}` : NM],
    ['revocation → socket closed p50 / p99', revocation ? `${val(pick(revocation, 'p50Ms'), ' ms')} / ${val(pick(revocation, 'p99Ms'), ' ms')} (n = ${val(pick(revocation, 'n'))})` : NM],
    ['support-code guessing odds, 24 h, one IP, one live code', val(pick(guessing, 'odds.oneIpOneCode'))],
    ['npm audit (prod) high / critical', audit?.ran ? `${audit.counts.high ?? 0} / ${audit.counts.critical ?? 0} (${audit.unexplained} unexplained)` : `not run${audit?.error ? `: ${audit.error}` : ''}`],
    ['canary markers found in logs and audit', canary ? val(pick(canary, 'markersFound')) : NM],
    ['log scan', logScan ? (logScan.failed === 0 && !logScan.problem ? `clean (${logScan.passed} checks)` : `FAILED (${logScan.failed})`) : NM],
  ];

  const fuzzRows = fuzz.map((t) => {
    const ms = inFile(phases.find((p) => p.phase === 'fuzz')?.tests ?? [], `${t.target}.test.ts`).reduce((n, x) => n + x.durationMs, 0);
    return [t.target, String(t.properties.length), fmt(t.inputs), String(t.failures), ms ? sec(ms) : NM, ms ? `${fmt(Math.round(t.inputs / (ms / 1000)))}/s` : NM];
  });

  const revRows = Object.entries((pick(revocation, 'kinds') as Json | undefined) ?? {}).map(([kind, k]) => [kind, val(pick(k as Json, 'n')), val(pick(k as Json, 'p50Ms'), ' ms'), val(pick(k as Json, 'p99Ms'), ' ms'), val(pick(k as Json, 'maxMs'), ' ms')]);
  const oddsRows = ((pick(guessing, 'odds.table') as Json[] | undefined) ?? []).map((r) => [val(r.liveCodes), val(r.attempts), val(r.probability)]);

  const out = [
    '# Reliability and security figures',
    '',
    `> **Generated by \`${meta.command}\` — do not edit by hand.** Run it again to refresh.`,
    `> Date: ${meta.date} · commit \`${meta.commit}\` · budget \`${meta.budget}\` · wall time ${sec(meta.wallMs)}`,
    `> Machine: ${meta.machine}`,
    '',
    meta.failures.length ? `**Verdict: FAILED** — ${meta.failures.join('; ')}` : '**Verdict: passed** — every suite passed, no unexplained high/critical advisory.',
    '',
    '## Summary',
    '',
    table(['figure', 'value'], summary),
    '',
    '## Fuzzing (fast-check; counted by the properties themselves)',
    '',
    fuzzRows.length ? table(['target', 'properties', 'inputs', 'failed properties', 'time', 'rate'], fuzzRows) : NM,
    '',
    `A failed property is a crash, a non-coded error, a 5xx, an unhandled rejection or a hang on some input. Model-based test: ${model ? `${fmt(sum(sequences))} command sequences over ${model.properties.length - restarts.length} process(es), ${fmt(sum(restarts))} server restarts` : NM}.`,
    '',
    '## Revocation → open socket closed',
    '',
    'Time from the revoking HTTP call’s response to the client seeing its open socket disconnected, against a server process. The contract is 1 s.',
    '',
    revRows.length ? table(['revocation', 'n', 'p50', 'p99', 'max'], revRows) : NM,
    '',
    '## Support-code guessing odds over 24 h',
    '',
    guessing
      ? [
          `Code space ${val(pick(guessing, 'codeSpace'))} (${val(pick(guessing, 'codeLength'))} decimal digits). Defaults: block after more than ${val(pick(guessing, 'config.BLOCK_THRESHOLD'))} failures in ${val(pick(guessing, 'config.BLOCK_WINDOW_S'), ' s')}, for ${val(pick(guessing, 'config.BLOCK_COOLOFF_S'), ' s')}.`,
          `Observed against a server process with default settings: blocked after ${val(pick(guessing, 'observed.agentPlane'))} wrong codes on \`/ws/agent\` and ${val(pick(guessing, 'observed.joinLookup'))} on \`GET /api/join/:code\` (expected ${val(pick(guessing, 'expectedGuessesPerBlock'))}); a second address was ${pick(guessing, 'observed.secondIpEvaluated') === true ? 'still evaluated (no server-wide limit)' : 'refused too'}.`,
          `Attempts per IP per 24 h: ${val(pick(guessing, 'attemptsPerIpPerDay'))}.`,
          '',
          oddsRows.length ? table(['live codes', 'attempts (24 h)', 'P(at least one hit)'], oddsRows) : '',
          '',
          `Assumptions: ${val(pick(guessing, 'assumptions'))}`,
        ].join('\n')
      : NM,
    '',
    '## Faults',
    '',
    faults ? details('every figure the fault suite recorded', faults) : NM,
    '',
    '## Load',
    '',
    load
      ? table(
          ['figure', 'value'],
          [
            ['agents / viewers', `${val(pick(load, 'mixed.agents', 'agents'))} / ${val(pick(load, 'mixed.viewers', 'viewers'))}`],
            ['traffic time', val(pick(load, 'mixed.trafficS', 'mixed.durationS', 'durationS'), ' s')],
            ['unexpected disconnects', val(pick(load, 'mixed.unexpectedDisconnects', 'unexpectedDisconnects'))],
            ['error acks / ack timeouts / refused handshakes', `${val(pick(load, 'mixed.errorAcks'))} / ${val(pick(load, 'mixed.ackTimeouts'))} / ${val(pick(load, 'mixed.refusedHandshakes'))}`],
            ['server RSS start / peak / end', rss.length ? `${fmt(rss[0]!)} / ${fmt(Math.max(...rss))} / ${fmt(rss.at(-1)!)} KiB (${rss.length} samples)` : NM],
            ['handshake flood', flood ? `${val(pick(flood, 'requests'))} requests, ${val(pick(flood, 'upgraded'))} upgraded, statuses ${val(pick(flood, 'statuses'))}, legitimate agents in ${val(pick(flood, 'legitimateAgentsIn'))} / ${val(pick(flood, 'legitimateAgents'))}` : NM],
          ],
        )
      : NM,
    '',
    load ? details('every figure the load suite recorded', load) : '',
    '',
    '## npm audit (`npm audit --omit=dev`)',
    '',
    audit?.ran
      ? [
          table(['severity', 'count'], Object.entries(audit.counts).map(([k, v]) => [k, String(v)])),
          '',
          audit.serious.length ? table(['package', 'severity', 'explained', 'advisories'], audit.serious.map((s) => [s.name, s.severity, s.explained ? `yes: ${s.reason}` : '**no**', s.via])) : 'No high or critical advisory.',
        ].join('\n')
      : `Not run: ${audit?.error ?? 'skipped'}.`,
    '',
    '## Secrets in logs (canary test and log scan)',
    '',
    canary ? details('canary figures', canary) : NM,
    '',
    '## Suites',
    '',
    table(['phase', 'tests passed', 'failed', 'wall time', 'problem'], phases.map((p) => [p.phase, fmt(p.passed), String(p.failed), sec(p.wallMs), p.problem ?? ''])),
    '',
  ];
  return out.join('\n');
}
