// `guru-agent`: the only file that reads argv and the environment, starts everything and traps signals.
import { hostname, homedir, release, type } from 'node:os';
import { readFileSync, statSync } from 'node:fs';
import { parseAgentArgs, type AgentArgs } from './cli/args.ts';
import { AgentConnection } from './connection/agent-connection.ts';
import { createLogger, redact, type Logger } from './log/logger.ts';
import { MediaSession } from './session/media-session.ts';
import { loadOrCreateState, StateFileError } from './state.ts';
import { startCaptureWorker } from './capture-worker/index.ts';
import type { CaptureSpec } from './capture-worker/protocol.ts';
import type { FramePipeline } from './pipeline/types.ts';
import { createSyntheticInput } from './input/synthetic-input.ts';
import type { ScreenSource } from './capture/screen-source.ts';
import type { InputSink } from './input/input-sink.ts';
import { BUILD_FLAVOR } from './update/build-flavor.ts';
import { TRUSTED_UPDATE_KEYS } from './update/trusted-keys.ts';
import { createUpdater, loadUpdateTrust, type Updater } from './update/updater.ts';

/**
 * Exit codes: 0 stopped by a signal, 1 unexpected failure, 2 bad command line, 3 refused by the
 * server; with `--install-root`, 75 an update was applied and 76 an update was rolled back (the
 * supervisor starts `<root>/current/…` again for both; docs/updates.md).
 */
export const EXIT = { ok: 0, failure: 1, usage: 2, refused: 3 } as const;

const AGENT_VERSION = (() => {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
})();

/** The server's rule for display text: no control characters, capped. */
function displayText(s: string, max: number): string | undefined {
  const t = s.replace(/[\p{Cc}\p{Cf}]/gu, '').trim().slice(0, max);
  return t.length > 0 ? t : undefined;
}

/**
 * Opens the screen (in the capture worker, with the frame pipeline) and the input sink. The
 * source's errors (a bad display, no ffmpeg) surface here as they would in-process.
 */
async function openDevices(args: AgentArgs, log: Logger): Promise<{ source: ScreenSource; pipeline: FramePipeline; sink: InputSink }> {
  const capture: CaptureSpec = args.source === 'x11' ? { kind: 'x11', display: args.display!, fps: args.fps } : { kind: 'synthetic', width: args.width, height: args.height, scene: args.scene };
  const { source, pipeline } = await startCaptureWorker({ capture, pipeline: { quality: args.quality } }, log.child({ component: 'capture' }));
  try {
    if (args.source === 'x11') {
      // Loaded only when used: the X11 input backend spawns external tools.
      const { createX11Input } = await import('./input/x11-input.ts');
      return { source, pipeline, sink: createX11Input({ display: args.display! }) };
    }
    return { source, pipeline, sink: createSyntheticInput() };
  } catch (err) {
    await source.close();
    throw err;
  }
}

/** With `--install-root`: recover from a failed update first thing; null when updates are off. */
async function startUpdater(args: AgentArgs, log: Logger, stop: (code: number) => void): Promise<Updater | { exitCode: number } | null> {
  if (!args.update || args.credential.kind !== 'key') return null;
  const trust = loadUpdateTrust({ caFile: args.update.caFile, keysFile: args.update.keysFile, flavor: BUILD_FLAVOR, compiledKeys: TRUSTED_UPDATE_KEYS });
  const updater = createUpdater({
    root: args.update.root,
    serverUrl: args.server,
    agentKey: args.credential.key,
    channel: args.update.channel,
    intervalMs: args.update.intervalS * 1000,
    currentVersion: AGENT_VERSION,
    trustedKeys: trust.trustedKeys,
    ca: trust.ca,
    env: process.env,
    logger: log,
    requestExit: (code, why) => {
      log.info('stopping', { reason: why, exitCode: code });
      stop(code);
    },
  });
  const start = await updater.start();
  return start.kind === 'exit' ? { exitCode: start.exitCode } : updater;
}

async function run(args: AgentArgs, log: Logger): Promise<number> {
  let finish!: (code: number) => void;
  const finished = new Promise<number>((resolve) => (finish = resolve));
  const started = await startUpdater(args, log, (code) => finish(code));
  if (started && 'exitCode' in started) return started.exitCode;
  const updater = started;
  const state = await loadOrCreateState(args.stateFile);
  const { source, pipeline, sink } = await openDevices(args, log);
  log.info('agent starting', {
    version: AGENT_VERSION,
    agentId: state.agentId,
    source: source.kind,
    width: source.width,
    height: source.height,
    fps: args.fps,
    quality: args.quality,
    relay: args.relay,
    credentialKind: args.credential.kind,
    iceOverride: args.iceServers !== null,
    iceTransportPolicy: args.iceTransportPolicy,
    iceTimeoutMs: args.iceTimeoutMs,
    updates: args.update ? { root: args.update.root, channel: args.update.channel, intervalS: args.update.intervalS } : null,
  });

  const query: Record<string, string> = {
    agent_id: state.agentId,
    name: args.name,
    machine_uid: state.machineUid,
    kind: 'agent',
    version: AGENT_VERSION,
    ...(args.credential.kind === 'code' ? { support_code: args.credential.code } : { api_key: args.credential.key }),
  };
  const host = displayText(hostname(), 253);
  if (host) query.hostname = host;
  const os = displayText(`${type()} ${release()}`, 128);
  if (os) query.os = os;

  const connection: AgentConnection = new AgentConnection({
    serverUrl: args.server,
    query,
    credential: args.credential.kind,
    log: log.child({ component: 'connection' }),
    handlers: {
      welcome: (w, resumed) => {
        media.onWelcome(w, resumed);
        void updater?.onConnected();
      },
      viewerJoined: (v) => media.onViewerJoined(v),
      viewerLeft: (id) => media.onViewerLeft(id),
      signal: (kind, msg) => media.onSignal(kind, msg),
      relayInput: (from, input) => media.onRelayInput(from, input),
      keyframeRequest: (from, reason) => media.onKeyframeRequest(from, reason),
      relayCredit: (viewerId, open) => media.onRelayCredit(viewerId, open),
      disconnected: () => media.onDisconnected(),
      fatal: (reason, message) => {
        process.stderr.write(`guru-agent: ${message}\n`);
        log.error('stopping', { reason });
        finish(EXIT.refused);
      },
    },
  });
  const media = new MediaSession({
    source,
    pipeline,
    sink,
    fps: args.fps,
    relayMode: args.relay,
    iceServersOverride: args.iceServers,
    iceTransportPolicy: args.iceTransportPolicy,
    iceTimeoutMs: args.iceTimeoutMs,
    signalling: connection,
    log: log.child({ component: 'media' }),
  });

  const onSignal = (signal: NodeJS.Signals) => {
    log.info('stopping', { reason: signal });
    finish(EXIT.ok);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // SIGUSR2: check for an update now (its default action would kill the agent).
  process.on('SIGUSR2', () => {
    if (updater) void updater.checkNow('SIGUSR2');
    else log.info('update check requested, but self-updates are off (no --install-root)');
  });

  media.start();
  connection.start();
  const code = await finished;
  updater?.close();
  connection.close();
  media.close();
  await Promise.allSettled([source.close(), sink.close()]);
  log.info('stopped', { exitCode: code });
  return code;
}

async function main(): Promise<void> {
  const parsed = parseAgentArgs(process.argv.slice(2), {
    home: homedir(),
    hostname: hostname(),
    display: process.env.DISPLAY,
    flavor: BUILD_FLAVOR,
    agentKeyEnv: process.env.GURU_AGENT_KEY,
    readSecretFile: (path) => ({ text: readFileSync(path, 'utf8'), mode: statSync(path).mode }),
  });
  // The key is in memory now; children (ffmpeg, xdotool) need not inherit it.
  delete process.env.GURU_AGENT_KEY;
  if (parsed.kind === 'help') {
    process.stdout.write(parsed.text);
    process.exit(EXIT.ok);
  }
  if (parsed.kind === 'error') {
    process.stderr.write(`guru-agent: ${String(redact(parsed.message))} (see --help)\n`);
    process.exit(EXIT.usage);
  }
  const args = parsed.args;
  const log = createLogger({ level: args.logLevel });
  process.on('unhandledRejection', (err) => log.error('unhandled rejection', { err }));
  let code: number;
  try {
    code = await run(args, log);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`guru-agent: ${String(redact(message))}\n`);
    log.error('agent failed', { err, stateFile: err instanceof StateFileError ? args.stateFile : undefined });
    code = EXIT.failure;
  }
  // Native WebRTC threads and sockets may keep the loop alive; everything is closed by now.
  process.exit(code);
}

void main();
