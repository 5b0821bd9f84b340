// Release CLI: `npm run release -- <command>`. Runs offline, on the machine that holds the release
// key — never on the server, which only serves what this signs. See docs/updates.md.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { pipeline } from 'node:stream/promises';
import {
  manifestIssuedAtSchema,
  UPDATE_CHANNELS,
  UPDATE_PLATFORMS,
  updateManifestSchema,
  type UpdateManifest,
} from '@guruconnect/shared/protocol';
import { generateReleaseKey, loadReleasePrivateKey, signManifest, verifyWithPublicKey } from '../updates/manifest-signing.ts';

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

/** A manifest issued further ahead than this is refused: agents would refuse every later release until then. */
const MAX_FUTURE_ISSUED_AT_MS = 60 * 60 * 1000;
/** The one line of agent/src/update/build-flavor.ts that `set-flavor` rewrites. */
const FLAVOR_LINE = /^export const BUILD_FLAVOR: BuildFlavor = '(development|production)';$/gm;

const USAGE = `usage: npm run release -- <command> [options]

commands:
  keygen --out <dir>
      New Ed25519 release key: <dir>/<keyId>.private.pem (0600) and <keyId>.public.pem.
      GURU_RELEASE_KEY_PASSPHRASE, when set, encrypts the private key.
  manifest --file <package> --version <x.y.z> --platform <${UPDATE_PLATFORMS.join('|')}>
           --url <https://…> [--channel ${UPDATE_CHANNELS.join('|')}] [--min-version <x.y.z>] --out <m.json>
      Unsigned manifest with the package's size and SHA-256.
  sign --key <private.pem> --manifest <m.json> --out <signed.json> [--force]
      Sign (issuedAt = now unless the manifest has one). GURU_RELEASE_KEY_PASSPHRASE decrypts the key.
  verify --pub <public.pem> --signed <signed.json>
      Check a signed manifest against a public key.
  set-flavor --file <…/agent/src/update/build-flavor.ts> <production|development>
      Rewrite the build flavour of a staged agent build.
`;

class UsageError extends Error {}

function options(rest: string[], spec: Record<string, { type: 'string' | 'boolean' }>) {
  try {
    return parseArgs({ args: rest, options: spec, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

function need(values: Record<string, unknown>, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`--${name} is required`);
  return v;
}

function writeNew(path: string, text: string, mode: number, force = false): void {
  writeFileSync(path, text, { mode, flag: force ? 'w' : 'wx' });
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

async function keygen(rest: string[], env: NodeJS.ProcessEnv, out: (s: string) => void): Promise<number> {
  const { values } = options(rest, { out: { type: 'string' } });
  const dir = resolve(need(values, 'out'));
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const pair = generateReleaseKey(env.GURU_RELEASE_KEY_PASSPHRASE || undefined);
  const priv = join(dir, `${pair.keyId}.private.pem`);
  const pub = join(dir, `${pair.keyId}.public.pem`);
  if (existsSync(priv) || existsSync(pub)) throw new Error(`refusing to overwrite ${pair.keyId} in ${dir}`);
  writeNew(priv, pair.privateKeyPem, 0o600);
  writeNew(pub, pair.publicKeyPem, 0o644);
  out(`key id:      ${pair.keyId}\nprivate key: ${priv}  (keep offline)\npublic key:  ${pub}\n\npin in the agent build:\n${JSON.stringify({ keyId: pair.keyId, publicKeyPem: pair.publicKeyPem })}\n`);
  return EXIT_OK;
}

async function manifest(rest: string[], out: (s: string) => void): Promise<number> {
  const { values } = options(rest, {
    file: { type: 'string' },
    version: { type: 'string' },
    platform: { type: 'string' },
    channel: { type: 'string' },
    url: { type: 'string' },
    'min-version': { type: 'string' },
    out: { type: 'string' },
  });
  const file = need(values, 'file');
  const draft = {
    version: need(values, 'version'),
    platform: need(values, 'platform'),
    channel: values.channel ?? 'stable',
    url: need(values, 'url'),
    sha256: await sha256File(file),
    size: (await stat(file)).size,
    ...(values['min-version'] ? { minVersion: values['min-version'] } : {}),
  };
  const parsed = updateManifestSchema.omit({ issuedAt: true }).safeParse(draft);
  if (!parsed.success) throw new UsageError(`manifest: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
  writeNew(need(values, 'out'), `${JSON.stringify(parsed.data, null, 2)}\n`, 0o644);
  out(`manifest for ${parsed.data.version} (${parsed.data.platform}/${parsed.data.channel}, ${parsed.data.size} bytes) written\n`);
  return EXIT_OK;
}

async function signCmd(rest: string[], env: NodeJS.ProcessEnv, now: () => number, out: (s: string) => void): Promise<number> {
  const { values } = options(rest, { key: { type: 'string' }, manifest: { type: 'string' }, out: { type: 'string' }, force: { type: 'boolean' } });
  const key = loadReleasePrivateKey(readFileSync(need(values, 'key'), 'utf8'), env.GURU_RELEASE_KEY_PASSPHRASE || undefined);
  const raw = JSON.parse(readFileSync(need(values, 'manifest'), 'utf8')) as Record<string, unknown>;
  const candidate = { ...raw, issuedAt: raw.issuedAt ?? new Date(now()).toISOString() };
  const parsed = updateManifestSchema.safeParse(candidate);
  if (!parsed.success) throw new UsageError(`manifest: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'document'} ${i.message}`).join('; ')}`);
  const m: UpdateManifest = parsed.data;
  if (!manifestIssuedAtSchema.safeParse(m.issuedAt).success || Date.parse(m.issuedAt) > now() + MAX_FUTURE_ISSUED_AT_MS) {
    throw new UsageError('issuedAt is more than an hour in the future; agents would refuse every release issued before it');
  }
  const signed = signManifest(m, key);
  writeNew(need(values, 'out'), `${JSON.stringify(signed, null, 2)}\n`, 0o644, values.force === true);
  out(`signed ${m.version} (${m.platform}/${m.channel}) issued ${m.issuedAt} with ${signed.keyId}\n`);
  return EXIT_OK;
}

function verifyCmd(rest: string[], out: (s: string) => void, err: (s: string) => void): number {
  const { values } = options(rest, { pub: { type: 'string' }, signed: { type: 'string' } });
  const r = verifyWithPublicKey(JSON.parse(readFileSync(need(values, 'signed'), 'utf8')), readFileSync(need(values, 'pub'), 'utf8'));
  if (!r.ok) {
    err(`release: NOT valid: ${r.problem}\n`);
    return EXIT_FAILED;
  }
  const m = r.signed.manifest;
  out(`valid: ${m.version} ${m.platform}/${m.channel} issued ${m.issuedAt}, ${m.size} bytes, sha256 ${m.sha256}, signed by ${r.signed.keyId}\n`);
  return EXIT_OK;
}

function setFlavor(rest: string[], out: (s: string) => void): number {
  const { values, positionals } = options(rest, { file: { type: 'string' } });
  const flavor = positionals[0];
  if (positionals.length !== 1 || (flavor !== 'production' && flavor !== 'development')) throw new UsageError('set-flavor takes production or development');
  const file = need(values, 'file');
  const text = readFileSync(file, 'utf8');
  const matches = text.match(FLAVOR_LINE) ?? [];
  if (matches.length !== 1) throw new Error(`${file}: expected exactly one BUILD_FLAVOR line, found ${matches.length}`);
  writeFileSync(file, text.replace(FLAVOR_LINE, `export const BUILD_FLAVOR: BuildFlavor = '${flavor}';`));
  out(`${file}: BUILD_FLAVOR = '${flavor}'\n`);
  return EXIT_OK;
}

export async function runRelease(
  argv: string[],
  io: { env: NodeJS.ProcessEnv; now?: () => number; out: (s: string) => void; err: (s: string) => void },
): Promise<number> {
  const [command, ...rest] = argv;
  const now = io.now ?? Date.now;
  try {
    switch (command) {
      case 'keygen':
        return await keygen(rest, io.env, io.out);
      case 'manifest':
        return await manifest(rest, io.out);
      case 'sign':
        return await signCmd(rest, io.env, now, io.out);
      case 'verify':
        return verifyCmd(rest, io.out, io.err);
      case 'set-flavor':
        return setFlavor(rest, io.out);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.out(USAGE);
        return command === undefined ? EXIT_USAGE : EXIT_OK;
      default:
        throw new UsageError(`unknown command ${command}`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`release: ${e.message}\n\n${USAGE}`);
      return EXIT_USAGE;
    }
    io.err(`release: ${e instanceof Error ? e.message : String(e)}\n`);
    return EXIT_FAILED;
  }
}

// Run only as a program, so tests can import `runRelease`.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const code = await runRelease(process.argv.slice(2), { env: process.env, out: (s) => void process.stdout.write(s), err: (s) => void process.stderr.write(s) });
  process.exitCode = code;
}
