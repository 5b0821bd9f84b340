// `npm run fuzz -- --runs N [vitest options…]`: the fuzz suite (test/fuzz) with a bigger budget.
// FUZZ_RUNS=N is what each property reads (`npm test` runs the same files with small defaults);
// the per-test timeout grows with the budget. Anything after the options goes to vitest as is
// (e.g. `-t codec`, `test/fuzz/http-bodies.test.ts` to narrow the run).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const usage = 'usage: npm run fuzz -- [--runs N] [vitest options…]   (N: inputs per property, default 1000)';
let runs = 1000;
const rest = [];
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i];
  if (arg === '--runs' || arg.startsWith('--runs=')) {
    const value = arg === '--runs' ? argv[++i] : arg.slice('--runs='.length);
    runs = Number(value);
    if (!Number.isInteger(runs) || runs < 1) {
      console.error(`fuzz: --runs must be a positive integer, got ${JSON.stringify(value)}\n${usage}`);
      process.exit(2);
    }
  } else if (arg === '--help' || arg === '-h') {
    console.log(usage);
    process.exit(0);
  } else {
    rest.push(arg);
  }
}

const vitest = fileURLToPath(new URL('../node_modules/vitest/vitest.mjs', import.meta.url));
const paths = rest.some((a) => a.startsWith('test/')) ? [] : ['test/fuzz'];
// Roughly 20 ms per input on the slowest property, with room to spare; never below vitest's default.
const testTimeout = Math.max(30_000, runs * 200);
console.log(`fuzz: FUZZ_RUNS=${runs}, test timeout ${Math.round(testTimeout / 1000)} s`);
const r = spawnSync(process.execPath, [vitest, 'run', ...paths, '--testTimeout', String(testTimeout), ...rest], {
  stdio: 'inherit',
  env: { ...process.env, FUZZ_RUNS: String(runs) },
  cwd: fileURLToPath(new URL('..', import.meta.url)),
});
process.exit(r.status ?? 1);
