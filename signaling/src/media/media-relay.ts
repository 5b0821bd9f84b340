import { fork, type ChildProcess } from 'node:child_process';
import type { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { AppError } from '@guruconnect/shared/errors';
import { MEDIA_PLANE_PATH } from '@guruconnect/shared/limits';
import type { Logger } from '../logging/logger.ts';
import { MediaTickets } from './media-tickets.ts';
import { freezeForHandoff } from './socket-handoff.ts';
import type { FromRelay, MediaBinding, RelayProcessOptions, ToRelay } from './relay-ipc.ts';

/** After the relay process died, no new one is started for this long (tickets are refused). */
export const MEDIA_RESTART_BACKOFF_MS = 5000;
/** Longest wait for a new relay process to say it is ready (it compiles its sources with tsx). */
const START_TIMEOUT_MS = 60_000;

export interface MediaRelayOptions {
  /** False: every ticket request is refused with ERR_MEDIA_UNAVAILABLE (socket.io relay only). */
  enabled: boolean;
  maxQueueBytes: number;
  highWaterBytes: number;
  logger: Logger;
  /** A media viewer's relay credit opened or closed (tell its agent: `relay:credit`). */
  onCredit(viewerId: string, open: boolean): void;
  /** A media socket opened in the relay process (pass on state it needs, e.g. a window cap). */
  onAttached?(socketId: string): void;
  /** The relay process dropped frames for a viewer: its agent should send a keyframe. */
  onKeyframe(viewerId: string): void;
  /** A media socket broke the protocol (audit it). */
  onRefused(r: Extract<FromRelay, { type: 'refused' }> & { ip: string; sessionId: string }): void;
  /** Node/V8 flags for the relay process (`MEDIA_RELAY_NODE_FLAGS`). */
  nodeFlags?: readonly string[];
  now?: () => number;
  statsIntervalMs?: number;
}

/**
 * The parent's side of the media plane: tickets, the relay process's life, and handing it
 * authenticated TCP sockets. Media sockets live and die with the socket.io connection their
 * ticket was issued to (`detach`).
 */
export class MediaRelay {
  readonly #o: MediaRelayOptions;
  readonly #tickets: MediaTickets;
  /** socket.io connections that may hold a media socket: id → where it came from. */
  readonly #live = new Map<string, { ip: string; sessionId: string }>();
  /** Connections whose media socket is open in the relay process. */
  readonly #attached = new Set<string>();
  #child: ChildProcess | null = null;
  #starting: Promise<ChildProcess> | null = null;
  #diedAt = -Infinity;
  #closed = false;
  bytesForwarded = 0;
  framesDropped = 0;
  /** The Node/V8 flags the running relay process reported (empty until it has started). */
  processFlags: string[] = [];
  queuedBytes = 0;

  constructor(o: MediaRelayOptions) {
    this.#o = o;
    this.#tickets = new MediaTickets(o.now);
  }

  /** A ticket for this socket.io connection (starts the relay process on first use). */
  async ticket(binding: MediaBinding, ip: string): Promise<{ ticket: string; path: string }> {
    if (!this.#o.enabled || this.#closed) throw new AppError('ERR_MEDIA_UNAVAILABLE', 'The media plane is off on this server');
    await this.#ensureChild();
    this.#live.set(binding.socketId, { ip, sessionId: binding.sessionId });
    return { ticket: this.#tickets.issue(binding), path: MEDIA_PLANE_PATH };
  }

  /** Use up a ticket; null when it is not one this server issued for a connection still here. */
  consume(ticket: unknown): MediaBinding | null {
    const b = this.#tickets.consume(ticket);
    return b && this.#live.has(b.socketId) && this.#child ? b : null;
  }

  /** Hand an upgrade whose ticket was consumed to the relay process. */
  handoff(binding: MediaBinding, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const child = this.#child;
    if (!child || !(socket instanceof Socket) || socket.destroyed) {
      socket.destroy();
      return;
    }
    const extra = freezeForHandoff(socket);
    const whole = extra ? Buffer.concat([head, extra]) : head;
    // The URL (and its ticket) stays here: the relay process needs only the WebSocket headers.
    const msg: ToRelay = { type: 'attach', binding, method: req.method ?? 'GET', headers: req.headers, head: whole.toString('base64') };
    // Not through net.Server's worker bookkeeping (`socket.server`): it would make this server's
    // close wait on the relay process, and hang for good once that process has exited. Its
    // connection count drops when the emptied socket object is destroyed after the send.
    (socket as unknown as { server: unknown }).server = null;
    child.send(msg, socket, () => socket.destroy());
  }

  isAttached(socketId: string): boolean {
    return this.#attached.has(socketId);
  }

  /** A viewer acknowledged a relayed frame (the relay process needs it if it serves the viewer). */
  ack(viewerId: string, frameId: number): void {
    if (this.#attached.has(viewerId)) this.#tell({ type: 'ack', viewerId, frameId });
  }

  setWindow(viewerId: string, frames: number): void {
    if (this.#attached.has(viewerId)) this.#tell({ type: 'window', viewerId, frames });
  }

  /** The socket.io connection is gone: its ticket is void and its media socket closes. */
  detach(socketId: string): void {
    this.#tickets.revoke(socketId);
    if (!this.#live.delete(socketId)) return;
    this.#tell({ type: 'detach', socketId });
  }

  get running(): boolean {
    return this.#child !== null;
  }

  /** The relay process's pid (tests). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const child = this.#child ?? (await this.#starting?.catch(() => null));
    this.#child = null;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        resolve();
      }, 2000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      child.disconnect();
    });
  }

  #tell(msg: ToRelay): void {
    if (this.#child?.connected) this.#child.send(msg);
  }

  async #ensureChild(): Promise<ChildProcess> {
    if (this.#child) return this.#child;
    if (this.#starting) return this.#starting;
    if ((this.#o.now ?? Date.now)() - this.#diedAt < MEDIA_RESTART_BACKOFF_MS) throw new AppError('ERR_MEDIA_UNAVAILABLE', 'The media relay is restarting');
    this.#starting = this.#spawn().finally(() => {
      this.#starting = null;
    });
    return this.#starting;
  }

  #spawn(): Promise<ChildProcess> {
    const options: RelayProcessOptions = { maxQueueBytes: this.#o.maxQueueBytes, highWaterBytes: this.#o.highWaterBytes, statsIntervalMs: this.#o.statsIntervalMs ?? 1000 };
    const child = fork(fileURLToPath(new URL('./relay-process.ts', import.meta.url)), [JSON.stringify(options)], {
      execArgv: ['--import', 'tsx', ...(this.#o.nodeFlags ?? [])],
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const log = this.#o.logger;
    return new Promise<ChildProcess>((resolve, reject) => {
      const fail = (why: string) => {
        clearTimeout(timer);
        this.#diedAt = (this.#o.now ?? Date.now)();
        child.kill('SIGKILL');
        reject(new AppError('ERR_MEDIA_UNAVAILABLE', `The media relay did not start (${why})`));
      };
      const timer = setTimeout(() => fail('timeout'), START_TIMEOUT_MS);
      child.once('error', (err) => fail(err.message));
      child.once('exit', (code) => {
        if (this.#child !== child) return fail(`exit ${code}`);
        this.#child = null;
        this.#attached.clear();
        if (this.#closed) return;
        this.#diedAt = (this.#o.now ?? Date.now)();
        log.error({ code }, 'media relay process exited; relaying over socket.io until it is back');
      });
      child.on('message', (m: FromRelay) => {
        if (m.type === 'ready') {
          clearTimeout(timer);
          if (this.#closed) {
            child.disconnect();
            return reject(new AppError('ERR_MEDIA_UNAVAILABLE', 'The server is stopping'));
          }
          this.#child = child;
          this.processFlags = m.execArgv.filter((a) => a.startsWith('--') && a !== '--import');
          log.info({ pid: child.pid, flags: this.processFlags }, 'media relay process started');
          resolve(child);
          return;
        }
        this.#onChild(m);
      });
    });
  }

  #onChild(m: FromRelay): void {
    switch (m.type) {
      case 'attached':
        // The connection may have gone while its socket was on the way.
        if (this.#live.has(m.socketId)) {
          this.#attached.add(m.socketId);
          this.#o.onAttached?.(m.socketId);
        } else this.#tell({ type: 'detach', socketId: m.socketId });
        return;
      case 'closed':
        this.#attached.delete(m.socketId);
        return;
      case 'credit':
        this.#o.onCredit(m.viewerId, m.open);
        return;
      case 'keyframe':
        this.#o.onKeyframe(m.viewerId);
        return;
      case 'refused': {
        const at = this.#live.get(m.socketId);
        this.#o.onRefused({ ...m, ip: at?.ip ?? '', sessionId: at?.sessionId ?? '' });
        return;
      }
      case 'stats':
        this.bytesForwarded += m.bytesForwarded;
        this.framesDropped += m.framesDropped;
        this.queuedBytes = m.queuedBytes;
        return;
    }
  }
}
