// Test-only: the agent CLI as a separate process, with its JSON log lines (stderr) parsed.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exited, LOG_DIR, REPO_ROOT, stopChild } from './server-process.ts';

export interface AgentLogLine {
  level: string;
  msg: string;
  [k: string]: unknown;
}

export interface AgentProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  readonly logFile: string;
  /** Every JSON line the agent wrote to stderr so far. */
  readonly logs: AgentLogLine[];
  /** Non-JSON stderr lines (the one-line fatal messages). */
  readonly plainStderr: string[];
  readonly stdout: string[];
  /** Resolves with the exit code when the process ends. */
  readonly exit: Promise<number | null>;
  /** The first log line (past or future) matching `predicate`. */
  waitForLog(predicate: (l: AgentLogLine) => boolean, timeoutMs?: number, what?: string): Promise<AgentLogLine>;
  /** The session id from the agent's `session welcome` log line. */
  sessionId(timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

export interface AgentProcessOptions {
  server: string;
  code?: string;
  key?: string;
  /** Pass the key as `--key-file <path>` instead (takes precedence over `key`). */
  keyFile?: string;
  /** Extra CLI arguments, e.g. `['--relay', 'force']`. */
  args?: string[];
  /** Default: a fresh temporary state file. */
  stateFile?: string;
  env?: Record<string, string>;
  /** Node arguments that start the agent instead of `--import tsx agent/src/main.ts`, e.g. the launcher and its options ending with `--`. */
  launch?: string[];
}

/** Arguments a small, fast synthetic agent gets unless the test overrides them. */
export const SMALL_SYNTHETIC = ['--source', 'synthetic', '--size', '640x360', '--fps', '12', '--log-level', 'debug'];

/** Spawns `node --import tsx agent/src/main.ts …` (or `node <launch…> …`). */
export function spawnAgentRaw(argv: string[], env: Record<string, string> = {}, launch = ['--import', 'tsx', 'agent/src/main.ts']): ChildProcess {
  return spawn(process.execPath, [...launch, ...argv], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? tmpdir(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export function startAgentProcess(o: AgentProcessOptions): AgentProcess {
  const stateDir = o.stateFile ? null : mkdtempSync(join(tmpdir(), 'guru-agent-'));
  const stateFile = o.stateFile ?? join(stateDir!, 'agent-state.json');
  const credential = o.keyFile !== undefined ? ['--key-file', o.keyFile] : o.key !== undefined ? ['--key', o.key] : o.code !== undefined ? ['--code', o.code] : [];
  const child = spawnAgentRaw(['--server', o.server, ...credential, '--state-file', stateFile, ...SMALL_SYNTHETIC, ...(o.args ?? [])], o.env, o.launch);
  mkdirSync(LOG_DIR, { recursive: true });
  const logFile = join(LOG_DIR, `agent-${Date.now()}-${randomBytes(3).toString('hex')}.log`);
  const file = createWriteStream(logFile);
  const logs: AgentLogLine[] = [];
  const plainStderr: string[] = [];
  const stdout: string[] = [];
  const waiters = new Set<(l: AgentLogLine) => void>();
  let rest = '';
  child.stderr!.on('data', (b: Buffer) => {
    file.write(b);
    rest += b.toString();
    const lines = rest.split('\n');
    rest = lines.pop()!;
    for (const line of lines) {
      if (!line.trim()) continue;
      let parsed: AgentLogLine | null = null;
      try {
        const v = JSON.parse(line) as unknown;
        if (v && typeof v === 'object' && typeof (v as AgentLogLine).msg === 'string') parsed = v as AgentLogLine;
      } catch {
        // plain line
      }
      if (!parsed) {
        plainStderr.push(line);
        continue;
      }
      logs.push(parsed);
      for (const w of waiters) w(parsed);
    }
  });
  child.stdout!.on('data', (b: Buffer) => stdout.push(b.toString()));
  const exit = exited(child).then((code) => {
    file.end();
    return code;
  });

  const waitForLog = (predicate: (l: AgentLogLine) => boolean, timeoutMs = 20_000, what = 'agent log line') =>
    new Promise<AgentLogLine>((resolve, reject) => {
      const found = logs.find(predicate);
      if (found) return resolve(found);
      const t = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last lines: ${logs.slice(-5).map((l) => l.msg).join(' | ')}`));
      }, timeoutMs);
      const check = (l: AgentLogLine) => {
        if (!predicate(l)) return;
        clearTimeout(t);
        waiters.delete(check);
        resolve(l);
      };
      waiters.add(check);
    });

  return {
    pid: child.pid!,
    child,
    logFile,
    logs,
    plainStderr,
    stdout,
    exit,
    waitForLog,
    sessionId: async (timeoutMs = 30_000) => String((await waitForLog((l) => l.msg === 'session welcome', timeoutMs, 'session welcome')).sessionId),
    stop: async () => {
      await stopChild(child);
      await exit;
      if (stateDir) rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
