import { parseArgs } from 'node:util';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { iceServerSchema, supportCodeSchema, type IceServer } from '@guruconnect/shared/protocol';
import { AGENT_NAME_MAX_LENGTH, SCREEN_MAX_SIDE_PX } from '@guruconnect/shared/limits';
import { isLogLevel, type LogLevel } from '../log/logger.ts';
import { SYNTHETIC_SCENES, type SyntheticScene } from '../capture/synthetic-source.ts';
import type { BuildFlavor } from '../update/build-flavor.ts';

export const RELAY_MODES = ['auto', 'force', 'never'] as const;
/** `auto`: P2P, falling back to the relay; `force`: relay only; `never`: P2P only, no fallback. */
export type RelayMode = (typeof RELAY_MODES)[number];
export const SOURCE_KINDS = ['synthetic', 'x11'] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];

/** Default ICE timeout: P2P that has not connected by then falls back to the relay. */
export const ICE_TIMEOUT_MS = 5000;
export const DEFAULT_FPS = 15;
export const DEFAULT_QUALITY = 70;
export const MAX_FPS = 60;
/** Default time between update checks (a random jitter of up to 10 % is added). */
export const DEFAULT_UPDATE_INTERVAL_S = 6 * 60 * 60;
export const UPDATE_CHANNEL_NAMES = ['stable', 'beta'] as const;

/** The validated command line of `guru-agent`. */
export interface AgentArgs {
  /** Server origin, e.g. `https://support.example.com`. */
  server: string;
  credential: { kind: 'code'; code: string } | { kind: 'key'; key: string };
  name: string;
  source: SourceKind;
  /** X display for `--source x11`, e.g. `:1`. */
  display: string | null;
  /** Screen size of the synthetic source. */
  width: number;
  height: number;
  /** What the synthetic source animates. */
  scene: SyntheticScene;
  fps: number;
  /** JPEG quality 1..100. */
  quality: number;
  relay: RelayMode;
  stateFile: string;
  /** Overrides the server's ICE servers when set. */
  iceServers: IceServer[] | null;
  /** `relay` uses TURN candidates only (with `--ice-servers`, a way to make P2P impossible). */
  iceTransportPolicy: 'all' | 'relay';
  iceTimeoutMs: number;
  logLevel: LogLevel;
  /** Self-updates; null when `--install-root` is not given (updates off). */
  update: UpdateArgs | null;
}

/** The self-update options (`docs/updates.md`). */
export interface UpdateArgs {
  /** The install root the supervisor runs `current/…` from. */
  root: string;
  channel: (typeof UPDATE_CHANNEL_NAMES)[number];
  intervalS: number;
  /** PEM file of CA certificates trusted for update traffic in addition to Node's bundled roots. */
  caFile: string | null;
  /** Development builds only: a JSON file of pinned release keys replacing the compiled-in ones. */
  keysFile: string | null;
}

export type ParsedArgs = { kind: 'run'; args: AgentArgs } | { kind: 'help'; text: string } | { kind: 'error'; message: string };

export const USAGE = `Usage: guru-agent --server <url> (--code <6 digits> | --key-file <path> | --key <cak_…>) [options]

  --server <url>             GuruConnect server, http(s)://host[:port]
  --code <digits>            one-time support code from the technician
  --key-file <path>          file holding the agent key for unattended access (mode 0600; preferred:
                             unlike --key it is not visible to other users in the process list)
  --key <cak_…>              agent key on the command line (visible in \`ps\`; also read from $GURU_AGENT_KEY)
  --name <text>              name shown to technicians (default: hostname)
  --source synthetic|x11     what to share (default: x11 when DISPLAY is set, else synthetic)
  --display :N               X display for --source x11 (default: $DISPLAY)
  --size WxH                 synthetic screen size (default: 1280x720)
  --scene desktop|office     synthetic screen content: everything moving, or typing and scrolling (default: desktop)
  --fps N                    capture rate, 1..${MAX_FPS} (default: ${DEFAULT_FPS})
  --quality N                JPEG quality, 1..100 (default: ${DEFAULT_QUALITY})
  --relay auto|force|never   media path: P2P with relay fallback, relay only, P2P only (default: auto)
  --state-file <path>        identity file (default: ~/.guruconnect/agent-state.json)
  --ice-servers <json>       ICE servers, a JSON array of {urls, username?, credential?}; overrides the server's
  --ice-transport-policy all|relay   relay = TURN candidates only (default: all)
  --ice-timeout-ms N         fall back to the relay when P2P is not up after N ms (default: ${ICE_TIMEOUT_MS})
  --log-level error|warn|info|debug|trace   (default: info)
  --install-root <dir>       enable self-updates of the install in <dir> (run by a supervisor; see docs/updates.md)
  --update-channel stable|beta   (default: stable)
  --update-interval <s>      seconds between update checks, 60..${7 * 24 * 3600}, plus up to 10 % jitter (default: ${DEFAULT_UPDATE_INTERVAL_S}); SIGUSR2 checks now
  --update-ca <pem file>     CA certificate(s) trusted for update downloads and reports, besides the bundled roots
  --update-keys <json file>  development builds only: release keys to pin instead of the compiled-in ones
  -h, --help                 show this help
`;

const options = {
  server: { type: 'string' },
  code: { type: 'string' },
  key: { type: 'string' },
  'key-file': { type: 'string' },
  name: { type: 'string' },
  source: { type: 'string' },
  display: { type: 'string' },
  size: { type: 'string' },
  scene: { type: 'string' },
  fps: { type: 'string' },
  quality: { type: 'string' },
  relay: { type: 'string' },
  'state-file': { type: 'string' },
  'ice-servers': { type: 'string' },
  'ice-transport-policy': { type: 'string' },
  'ice-timeout-ms': { type: 'string' },
  'log-level': { type: 'string' },
  'install-root': { type: 'string' },
  'update-channel': { type: 'string' },
  'update-interval': { type: 'string' },
  'update-ca': { type: 'string' },
  'update-keys': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const AGENT_KEY_PATTERN = /^cak_[A-Za-z0-9_-]{43,128}$/;
const DISPLAY_PATTERN = /^[A-Za-z0-9.-]*:\d+(\.\d+)?$/;

class ArgError extends Error {}

function int(flag: string, value: string | undefined, def: number, min: number, max: number): number {
  if (value === undefined) return def;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) throw new ArgError(`--${flag} must be an integer from ${min} to ${max}`);
  return n;
}

function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[], def: T): T {
  if (value === undefined) return def;
  if (!(allowed as readonly string[]).includes(value)) throw new ArgError(`--${flag} must be one of ${allowed.join(', ')}`);
  return value as T;
}

function serverUrl(value: string | undefined): string {
  if (value === undefined) throw new ArgError('--server is required');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ArgError('--server must be an http(s) URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ArgError('--server must be an http(s) URL');
  if (url.username || url.password || url.search || url.hash) throw new ArgError('--server must not carry credentials, a query or a fragment');
  return url.origin;
}

/** Reads a secret file: its text and its permission bits. Injected so parsing stays free of I/O in tests. */
export type SecretFileReader = (path: string) => { text: string; mode: number };

function keyFromFile(path: string, read: SecretFileReader | undefined): string {
  if (path.trim() === '') throw new ArgError('--key-file must be a path');
  if (!read) throw new ArgError('--key-file is not available here');
  let file: { text: string; mode: number };
  try {
    file = read(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ArgError(`--key-file cannot be read (${code ?? 'error'})`);
  }
  // The same rule as ssh for private keys: a key others can read is a key others have.
  if ((file.mode & 0o077) !== 0) throw new ArgError('--key-file must not be readable by group or others (chmod 600)');
  const key = file.text.trim();
  if (!AGENT_KEY_PATTERN.test(key)) throw new ArgError('--key-file must hold one agent key (cak_ followed by 43 or more characters)');
  return key;
}

function credential(code: string | undefined, keyArg: string | undefined, keyFile: string | undefined, env: ArgsEnvironment): AgentArgs['credential'] {
  const given = [code, keyArg, keyFile].filter((v) => v !== undefined).length;
  if (given > 1) throw new ArgError('give exactly one of --code, --key-file and --key');
  // $GURU_AGENT_KEY is the fallback when the command line names no credential.
  const fromEnv = given === 0 && env.agentKeyEnv !== undefined && env.agentKeyEnv !== '' ? env.agentKeyEnv : undefined;
  if (given === 0 && fromEnv === undefined) throw new ArgError('give exactly one of --code, --key-file and --key (or set GURU_AGENT_KEY)');
  if (keyFile !== undefined) return { kind: 'key', key: keyFromFile(keyFile, env.readSecretFile) };
  if (fromEnv !== undefined) {
    if (!AGENT_KEY_PATTERN.test(fromEnv)) throw new ArgError('GURU_AGENT_KEY must be an agent key (cak_ followed by 43 or more characters)');
    return { kind: 'key', key: fromEnv };
  }
  const key = keyArg;
  if (code !== undefined) {
    // The message never echoes the value.
    if (!supportCodeSchema.safeParse(code).success) throw new ArgError('--code must be the 6-digit support code');
    return { kind: 'code', code };
  }
  if (!AGENT_KEY_PATTERN.test(key!)) throw new ArgError('--key must be an agent key (cak_ followed by 43 or more characters)');
  return { kind: 'key', key: key! };
}

function iceServers(value: string | undefined): IceServer[] | null {
  if (value === undefined) return null;
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    throw new ArgError('--ice-servers must be JSON');
  }
  const parsed = z.array(iceServerSchema).max(16).safeParse(json);
  if (!parsed.success) throw new ArgError('--ice-servers must be a JSON array of {urls, username?, credential?}');
  return parsed.data;
}

function size(value: string | undefined): { width: number; height: number } {
  if (value === undefined) return { width: 1280, height: 720 };
  const m = /^(\d{1,5})x(\d{1,5})$/.exec(value);
  const width = Number(m?.[1]);
  const height = Number(m?.[2]);
  if (!m || width < 320 || height < 240 || width > SCREEN_MAX_SIDE_PX || height > SCREEN_MAX_SIDE_PX) {
    throw new ArgError(`--size must be WIDTHxHEIGHT, at least 320x240 and at most ${SCREEN_MAX_SIDE_PX} per side`);
  }
  return { width, height };
}

function displayName(value: string | undefined, hostname: string): string {
  const name = (value ?? hostname).trim();
  // The server's rule for agent names: 1..128 characters, no control characters.
  if (name.length < 1 || name.length > AGENT_NAME_MAX_LENGTH || !/^[^\p{Cc}\p{Cf}]+$/u.test(name)) {
    throw new ArgError(`--name must be 1 to ${AGENT_NAME_MAX_LENGTH} characters without control characters`);
  }
  return name;
}

export interface ArgsEnvironment {
  home: string;
  hostname: string;
  /** `$DISPLAY`, if set. */
  display?: string | undefined;
  /** The build flavour (`BUILD_FLAVOR`); only `development` accepts `--update-keys`. Default: production. */
  flavor?: BuildFlavor;
  /** `$GURU_AGENT_KEY`, used when the command line names no credential. */
  agentKeyEnv?: string | undefined;
  /** Reads `--key-file`; without it `--key-file` is refused. */
  readSecretFile?: SecretFileReader;
}

function updateArgs(values: Record<string, string | boolean | undefined>, flavor: BuildFlavor, keyed: boolean): UpdateArgs | null {
  const get = (k: string) => values[k] as string | undefined;
  const root = get('install-root');
  if (root === undefined) {
    const stray = ['update-channel', 'update-interval', 'update-ca', 'update-keys'].find((k) => get(k) !== undefined);
    if (stray) throw new ArgError(`--${stray} needs --install-root`);
    return null;
  }
  if (root.trim() === '' || !isAbsolute(root)) throw new ArgError('--install-root must be an absolute path');
  // Update checks and reports are authenticated with the agent key; a support-code agent is a one-off.
  if (!keyed) throw new ArgError('--install-root needs an agent key (--key-file, --key or GURU_AGENT_KEY)');
  const keysFile = get('update-keys') ?? null;
  // The same rule as GURU_UPDATE_INSECURE_TLS: only a development build lets anything at run time change what it trusts.
  if (keysFile !== null && flavor !== 'development') throw new ArgError('--update-keys is accepted only by a development build');
  return {
    root: resolve(root),
    channel: oneOf('update-channel', get('update-channel'), UPDATE_CHANNEL_NAMES, 'stable'),
    intervalS: int('update-interval', get('update-interval'), DEFAULT_UPDATE_INTERVAL_S, 60, 7 * 24 * 3600),
    caFile: get('update-ca') ?? null,
    keysFile,
  };
}

/** Parses `guru-agent`'s arguments. Never throws: a bad command line is `{kind:'error', message}` (one line). */
export function parseAgentArgs(argv: readonly string[], env: ArgsEnvironment): ParsedArgs {
  try {
    let values;
    try {
      ({ values } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }));
    } catch (err) {
      // parseArgs's own messages name the offending option; keep the first line only.
      throw new ArgError((err instanceof Error ? err.message : String(err)).split('\n')[0]!.replace(/\. To specify.*$/, ''));
    }
    if (values.help) return { kind: 'help', text: USAGE };
    const envDisplay = env.display && DISPLAY_PATTERN.test(env.display) ? env.display : undefined;
    const source = oneOf('source', values.source, SOURCE_KINDS, envDisplay ? 'x11' : 'synthetic');
    const display = values.display ?? (source === 'x11' ? envDisplay : undefined) ?? null;
    if (display !== null && !DISPLAY_PATTERN.test(display)) throw new ArgError('--display must look like :N');
    if (source === 'x11' && display === null) throw new ArgError('--source x11 needs --display (or DISPLAY)');
    const { width, height } = size(values.size);
    const cred = credential(values.code, values.key, values['key-file'], env);
    const args: AgentArgs = {
      server: serverUrl(values.server),
      credential: cred,
      name: displayName(values.name, env.hostname),
      source,
      display,
      width,
      height,
      scene: oneOf('scene', values.scene, SYNTHETIC_SCENES, 'desktop'),
      fps: int('fps', values.fps, DEFAULT_FPS, 1, MAX_FPS),
      quality: int('quality', values.quality, DEFAULT_QUALITY, 1, 100),
      relay: oneOf('relay', values.relay, RELAY_MODES, 'auto'),
      stateFile: values['state-file'] ?? join(env.home, '.guruconnect', 'agent-state.json'),
      iceServers: iceServers(values['ice-servers']),
      iceTransportPolicy: oneOf('ice-transport-policy', values['ice-transport-policy'], ['all', 'relay'] as const, 'all'),
      iceTimeoutMs: int('ice-timeout-ms', values['ice-timeout-ms'], ICE_TIMEOUT_MS, 500, 120_000),
      logLevel: (() => {
        const level = values['log-level'] ?? 'info';
        if (!isLogLevel(level)) throw new ArgError('--log-level must be one of error, warn, info, debug, trace');
        return level;
      })(),
      update: updateArgs(values, env.flavor ?? 'production', cred.kind === 'key'),
    };
    return { kind: 'run', args };
  } catch (err) {
    if (err instanceof ArgError) return { kind: 'error', message: err.message };
    throw err;
  }
}
