// Support-code guessing: the odds an attacker has over 24 hours follow from the code space (shared
// limits) and the IP-blocking defaults (the server's config schema). This test takes both from the
// source, drives wrong guesses from one address against a server process with default settings
// until it is blocked, checks the block comes exactly where the configuration says, and records
// the odds for docs/reliability.md.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUPPORT_CODE_LENGTH, SUPPORT_CODE_TTL_DEFAULT_MIN } from '@guruconnect/shared/limits';
import { parseConfig } from '../../signaling/src/config/config.ts';
import { TEST_JWT_SECRET } from '../../signaling/src/testing/test-server.ts';
import { agentQuery } from '../../signaling/src/testing/clients.ts';
import { createSupportCode, login } from '../support/api.ts';
import { recordFigures } from '../support/figures.ts';
import { startServerProcess, type ServerProcess } from '../support/server-process.ts';
import { freshSource, http, probe } from './harness.ts';

const DAY_S = 86_400;
const parsed = parseConfig({ JWT_SECRET: TEST_JWT_SECRET });
if (!parsed.ok) throw new Error(parsed.problems.join('; '));
const defaults = parsed.config;
const CODE_SPACE = 10 ** SUPPORT_CODE_LENGTH;
/** The blocker counts failures and blocks once there are MORE than BLOCK_THRESHOLD in the window. */
const GUESSES_PER_BLOCK = defaults.BLOCK_THRESHOLD + 1;
/** Each block lasts BLOCK_COOLOFF_S; a new burst starts when it ends (the window has passed by then if cool-off ≥ window). */
const ATTEMPTS_PER_IP_PER_DAY = GUESSES_PER_BLOCK * Math.ceil(DAY_S / defaults.BLOCK_COOLOFF_S);
const SAFETY_CAP = GUESSES_PER_BLOCK + 50;

let server: ServerProcess;
let admin: string;
const observed: { agentPlane?: number; joinLookup?: number; secondIpEvaluated?: boolean } = {};

/** Six-digit codes that are certainly not live: the server holds one code, we skip it. */
function* wrongCodes(live: string): Generator<string> {
  for (let c = 100_000 + Math.floor(Math.random() * 800_000); ; c = (c + 7919) % CODE_SPACE) {
    const code = String(c).padStart(SUPPORT_CODE_LENGTH, '0');
    if (code !== live) yield code;
  }
}

/** P(at least one of `attempts` independent guesses hits one of `live` codes in the space). */
function hitProbability(attempts: number, live: number): number {
  return 1 - (1 - live / CODE_SPACE) ** attempts;
}
const pct = (p: number) => (p < 0.001 ? `${(p * 100).toExponential(2)} %` : `${(p * 100).toFixed(2)} %`);

beforeAll(async () => {
  // Default blocking settings: the point is to observe the defaults, so nothing is overridden.
  server = await startServerProcess({ readyTimeoutMs: 150_000 });
  admin = await login(server.url);
}, 180_000);
afterAll(async () => {
  if (observed.agentPlane !== undefined) {
    const table = [1, 10, 100].map((live) => ({ liveCodes: live, attempts: ATTEMPTS_PER_IP_PER_DAY, probability: pct(hitProbability(ATTEMPTS_PER_IP_PER_DAY, live)) }));
    recordFigures('guessing', {
      codeLength: SUPPORT_CODE_LENGTH,
      codeSpace: CODE_SPACE,
      config: { BLOCK_THRESHOLD: defaults.BLOCK_THRESHOLD, BLOCK_WINDOW_S: defaults.BLOCK_WINDOW_S, BLOCK_COOLOFF_S: defaults.BLOCK_COOLOFF_S, LOGIN_MAX_FAILURES: defaults.LOGIN_MAX_FAILURES },
      expectedGuessesPerBlock: GUESSES_PER_BLOCK,
      observed,
      attemptsPerIpPerDay: ATTEMPTS_PER_IP_PER_DAY,
      serverWideLimit: observed.secondIpEvaluated ? 'none observed' : 'refused a second address',
      odds: { oneIpOneCode: pct(hitProbability(ATTEMPTS_PER_IP_PER_DAY, 1)), table },
      assumptions: [
        `an attacker guesses from one IP address and always waits out the ${defaults.BLOCK_COOLOFF_S} s block (cool-off ≥ window, so every burst gets the full threshold)`,
        'wrong codes on /ws/agent, GET /api/join/:code and failed logins share one failure counter per address, so these are the attempts across all of them',
        `each live code stays live for the whole day (codes last ${SUPPORT_CODE_TTL_DEFAULT_MIN} min by default, so this overstates the odds of any one code)`,
        'there is no server-wide guess limit: N addresses get N times the attempts; an IPv6 client is counted (and blocked) by its /64, so rotating addresses inside one subscriber network does not help',
      ].join('; '),
    });
  }
  await server?.stop();
}, 60_000);

describe('support-code guessing is blocked where the configuration says', () => {
  it(`wrong codes on /ws/agent: ${GUESSES_PER_BLOCK} are evaluated, then the address is blocked (429) — even for a valid code`, async () => {
    const live = await createSupportCode(server.url, admin);
    const from = freshSource();
    const codes = wrongCodes(live);
    let evaluated = 0;
    let blocked = false;
    for (let i = 0; i < SAFETY_CAP && !blocked; i++) {
      const r = await probe(server.url, 'agent', agentQuery({ support_code: codes.next().value! }), 'websocket', { from });
      expect(r.upgraded).toBe(false);
      if (r.status === 401) evaluated++;
      else {
        expect(r.status).toBe(429);
        expect(r.body?.error?.code).toBe('ERR_AUTH_IP_BLOCKED');
        blocked = true;
      }
    }
    observed.agentPlane = evaluated;
    expect(blocked, 'blocked at all').toBe(true);
    expect(evaluated).toBe(GUESSES_PER_BLOCK);
    const withValid = await probe(server.url, 'agent', agentQuery({ support_code: live }), 'websocket', { from });
    expect(withValid.status).toBe(429);
    // Another address is judged on its own: the limit is per address, not server-wide.
    const other = await probe(server.url, 'agent', agentQuery({ support_code: codes.next().value! }), 'websocket', { from: freshSource() });
    observed.secondIpEvaluated = other.status === 401;
  });

  it(`wrong codes on GET /api/join/:code: ${GUESSES_PER_BLOCK} are answered, then 429 with Retry-After`, async () => {
    const live = await createSupportCode(server.url, admin);
    const from = freshSource();
    const codes = wrongCodes(live);
    let evaluated = 0;
    let blocked = false;
    for (let i = 0; i < SAFETY_CAP && !blocked; i++) {
      const r = await http(server.url, 'GET', `/api/join/${codes.next().value!}`, { from });
      if (r.status === 404) evaluated++;
      else {
        expect(r.status).toBe(429);
        expect(r.body?.error?.code).toBe('ERR_AUTH_IP_BLOCKED');
        expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
        blocked = true;
      }
    }
    observed.joinLookup = evaluated;
    expect(blocked, 'blocked at all').toBe(true);
    expect(evaluated).toBe(GUESSES_PER_BLOCK);
    expect((await http(server.url, 'GET', `/api/join/${live}`, { from })).status).toBe(429);
  });

  it('the odds follow from the code space and the limits', () => {
    expect(CODE_SPACE).toBe(1_000_000);
    expect(ATTEMPTS_PER_IP_PER_DAY).toBe(GUESSES_PER_BLOCK * Math.ceil(DAY_S / defaults.BLOCK_COOLOFF_S));
    // One guess can never beat the code space; a day of guessing from one address stays a small chance.
    expect(hitProbability(1, 1)).toBeCloseTo(1 / CODE_SPACE, 12);
    expect(hitProbability(ATTEMPTS_PER_IP_PER_DAY, 1)).toBeLessThan(0.01);
  });
});
