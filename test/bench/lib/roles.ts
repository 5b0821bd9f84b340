import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

export interface Role {
  child: ChildProcess;
  /** Next message of a type from the role. */
  next<T = Record<string, unknown>>(type: string, timeoutMs?: number): Promise<T>;
  send(msg: Record<string, unknown>): void;
  stop(): Promise<void>;
}

/**
 * Run `roles/<name>.ts` (or the module at a `file:` URL) as a separate process, talking JSON over
 * IPC; `nodeFlags` go to its Node (e.g. `--single-threaded-gc`).
 */
export function startRole(name: string | URL, args: Record<string, unknown>, nodeFlags: readonly string[] = []): Role {
  const file = name instanceof URL ? fileURLToPath(name) : fileURLToPath(new URL(`../roles/${name}.ts`, import.meta.url));
  const child = fork(file, [JSON.stringify(args)], { execArgv: ['--import', TSX, ...nodeFlags], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const inbox: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  child.on('message', (m) => {
    inbox.push(m as Record<string, unknown>);
    for (const w of waiters.splice(0)) w();
  });
  return {
    child,
    next(type, timeoutMs = 120_000) {
      return new Promise((resolve, reject) => {
        const onExit = () => waiters.splice(0).forEach((w) => w());
        const done = () => {
          clearTimeout(timer);
          child.off('exit', onExit);
        };
        const timer = setTimeout(() => {
          child.off('exit', onExit);
          reject(new Error(`role ${name}: timeout waiting for ${type}`));
        }, timeoutMs);
        const look = () => {
          const i = inbox.findIndex((m) => m.type === type);
          if (i === -1) {
            if (child.exitCode !== null || child.signalCode !== null) {
              done();
              reject(new Error(`role ${name} exited (${child.exitCode}) before ${type}`));
              return;
            }
            waiters.push(look);
            return;
          }
          done();
          resolve(inbox.splice(i, 1)[0] as never);
        };
        child.once('exit', onExit);
        look();
      });
    },
    send(msg) {
      child.send(msg);
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await done;
      clearTimeout(t);
    },
  };
}

/** Inside a role: the arguments and a typed sender. */
export function roleArgs<T>(): T {
  return JSON.parse(process.argv[2] ?? '{}') as T;
}
export function report(msg: Record<string, unknown>): void {
  process.send?.(msg);
}
