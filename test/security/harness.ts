// Test-only: black-box clients for the security and fuzz suites. Every request can come from its own
// loopback address (all of 127.0.0.0/8 is local on Linux), so the per-IP limits and blocks one row
// triggers never touch another row or the setup traffic from 127.0.0.1.
import { request, type IncomingHttpHeaders } from 'node:http';
import { connect as netConnect, type Socket as NetSocket } from 'node:net';
import { randomBytes } from 'node:crypto';
import v8 from 'node:v8';
import vm from 'node:vm';
import { basename } from 'node:path';
import fc from 'fast-check';
import { expect } from 'vitest';
import WebSocket from 'ws';
import { PROTOCOL_VERSION } from '@guruconnect/shared/limits';
import { figuresDir, recordFigures } from '../support/figures.ts';

export type PlaneName = 'agent' | 'viewer' | 'console';

let nextAddress = 0;
/** A loopback source address no other caller in this process got (127.10.0.1, 127.10.0.2, …). */
export function freshSource(): string {
  const n = nextAddress++;
  return `127.${10 + Math.floor(n / 62_500)}.${Math.floor(n / 250) % 250 + 1}.${(n % 250) + 1}`;
}

/** A random loopback source address (for fuzzing, where per-IP limits must not mask the input). */
export function randomSource(): string {
  const b = randomBytes(3);
  return `127.${(b[0]! % 200) + 50}.${(b[1]! % 250) + 1}.${(b[2]! % 250) + 1}`;
}

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test helper: JSON of any shape
  body: any;
}

export interface HttpOptions {
  token?: string;
  /** JSON body. */
  body?: unknown;
  /** Raw body bytes (sent as is, with `headers` deciding the content type). */
  raw?: string | Buffer;
  headers?: Record<string, string>;
  /** Source address (default 127.0.0.1). */
  from?: string;
  timeoutMs?: number;
}

/** One HTTP request with the path sent byte for byte (no URL normalisation), from any loopback address. */
export function http(base: string, method: string, path: string, o: HttpOptions = {}): Promise<HttpResult> {
  const { hostname, port } = new URL(base);
  const headers: Record<string, string> = { ...o.headers };
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  let payload: string | Buffer | undefined = o.raw;
  if (o.body !== undefined) {
    payload = JSON.stringify(o.body);
    headers['content-type'] ??= 'application/json';
  }
  if (payload !== undefined) headers['content-length'] = String(Buffer.byteLength(payload));
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, method, path, headers, localAddress: o.from ?? '127.0.0.1', agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(o.timeoutMs ?? 10_000, () => req.destroy(new Error(`${method} ${path}: no answer in ${o.timeoutMs ?? 10_000} ms`)));
    req.end(payload);
  });
}

/** `GET /healthz` answers 200 (the process is up and serving). */
export async function healthy(base: string): Promise<boolean> {
  try {
    return (await http(base, 'GET', '/healthz', { timeoutMs: 5000 })).status === 200;
  } catch {
    return false;
  }
}

export interface ProbeResult {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test helper
  body: any;
  upgraded: boolean;
}

/** First HTTP request of a plane handshake (polling GET or WebSocket upgrade), from a given source. */
export function probe(base: string, plane: PlaneName, query: Record<string, string>, mode: 'polling' | 'websocket', o: { headers?: Record<string, string>; from?: string } = {}): Promise<ProbeResult> {
  const url = new URL(`/ws/${plane}/`, base);
  for (const [k, v] of Object.entries({ EIO: '4', transport: mode, protocol: String(PROTOCOL_VERSION), ...query })) url.searchParams.set(k, v);
  const upgrade = mode === 'websocket' ? { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': randomBytes(16).toString('base64') } : {};
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', headers: { ...upgrade, ...o.headers }, localAddress: o.from ?? '127.0.0.1', agent: false });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      resolve({ status: 101, body: undefined, upgraded: true });
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => {
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = text;
        }
        resolve({ status: res.statusCode ?? 0, body, upgraded: false });
      });
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('probe timeout')));
    req.end();
  });
}

/**
 * A socket.io client spoken by hand over a `ws` WebSocket: engine.io open, socket.io CONNECT, then
 * whatever raw packets a test wants to send. Answers pings so the server keeps it.
 */
export class RawClient {
  readonly messages: Array<string | Buffer> = [];
  readonly closed: Promise<number>;
  #ackId = 100;
  #waiters: Array<() => void> = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const m = isBinary ? data : data.toString('utf8');
      if (m === '2') ws.send('3');
      this.messages.push(m);
      for (const w of this.#waiters.splice(0)) w();
    });
    this.closed = new Promise((resolve) => ws.once('close', (code: number) => resolve(code)));
    ws.on('error', () => undefined);
  }

  /** Connect to a plane and complete the socket.io CONNECT; rejects with the HTTP status on refusal. */
  static async open(base: string, plane: PlaneName, query: Record<string, string>, o: { origin?: string; from?: string } = {}): Promise<RawClient> {
    const url = new URL(`/ws/${plane}/`, base.replace(/^http/, 'ws'));
    for (const [k, v] of Object.entries({ EIO: '4', transport: 'websocket', protocol: String(PROTOCOL_VERSION), ...query })) url.searchParams.set(k, v);
    const ws = new WebSocket(url, { origin: o.origin, localAddress: o.from, perMessageDeflate: false });
    const client = new RawClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => reject(new Error(`refused: ${res.statusCode}`)));
      ws.once('error', reject);
    });
    await client.waitFor((m) => typeof m === 'string' && m.startsWith('0{'), 5000);
    ws.send('40');
    await client.waitFor((m) => typeof m === 'string' && (m.startsWith('40') || m.startsWith('44')), 5000);
    if (!client.messages.some((m) => typeof m === 'string' && m.startsWith('40{'))) throw new Error('socket.io CONNECT refused');
    return client;
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  send(data: string | Buffer): void {
    if (this.isOpen) this.ws.send(data);
  }

  /** Resolves with the first message (already received or future) that matches. */
  waitFor(match: (m: string | Buffer) => boolean, timeoutMs = 5000): Promise<string | Buffer> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('timeout waiting for a message')), timeoutMs);
      const check = () => {
        const hit = this.messages.find(match);
        if (hit !== undefined) {
          clearTimeout(t);
          resolve(hit);
          return;
        }
        if (this.ws.readyState >= WebSocket.CLOSING) {
          clearTimeout(t);
          reject(new Error('closed while waiting for a message'));
          return;
        }
        this.#waiters.push(check);
      };
      check();
    });
  }

  /** Emit `[event, ...args]` with an ack id and resolve the ack's first argument. */
  async call(event: unknown, ...args: unknown[]): Promise<unknown> {
    const id = this.#ackId++;
    this.send(`42${id}${JSON.stringify([event, ...args])}`);
    const reply = (await this.waitFor((m) => typeof m === 'string' && m.startsWith(`43${id}[`))) as string;
    return (JSON.parse(reply.slice(`43${id}`.length)) as unknown[])[0];
  }

  /** A round trip that proves the connection still answers. */
  async alive(plane: PlaneName): Promise<boolean> {
    if (!this.isOpen) return false;
    try {
      const event = plane === 'console' ? 'console:ping' : 'keyframe:request';
      return typeof (await this.call(event, {})) === 'object';
    } catch {
      return false;
    }
  }

  close(): void {
    this.ws.terminate();
  }
}

/** A client→server WebSocket frame (masked, as RFC 6455 requires of clients). */
export function wsFrame(opcode: number, payload: Buffer, fin: boolean): Buffer {
  const len = payload.length;
  const head = len < 126 ? 2 : len < 65_536 ? 4 : 10;
  const frame = Buffer.alloc(head + 4 + len);
  frame[0] = (fin ? 0x80 : 0) | opcode;
  if (len < 126) frame[1] = 0x80 | len;
  else if (len < 65_536) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(len, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(len), 2);
  }
  const mask = randomBytes(4);
  mask.copy(frame, head);
  for (let i = 0; i < len; i++) frame[head + 4 + i] = payload[i]! ^ mask[i % 4]!;
  return frame;
}

/** Server→client frames (unmasked) parsed from a byte stream. */
export function* readFrames(buf: Buffer): Generator<{ opcode: number; payload: Buffer; end: number }> {
  let at = 0;
  while (buf.length - at >= 2) {
    const opcode = buf[at]! & 0x0f;
    let len = buf[at + 1]! & 0x7f;
    let head = 2;
    if (len === 126) {
      if (buf.length - at < 4) return;
      len = buf.readUInt16BE(at + 2);
      head = 4;
    } else if (len === 127) {
      if (buf.length - at < 10) return;
      len = Number(buf.readBigUInt64BE(at + 2));
      head = 10;
    }
    if (buf.length - at < head + len) return;
    yield { opcode, payload: buf.subarray(at + head, at + head + len), end: at + head + len };
    at += head + len;
  }
}

export interface RawUpgrade {
  socket: NetSocket;
  status: number;
  /** Bytes received after the HTTP head (WebSocket frames once upgraded), growing. */
  received(): Buffer;
  ended: Promise<void>;
}

/**
 * An HTTP request written by hand on a TCP socket (for header floods and raw frames). Resolves
 * once the response head arrived.
 */
export function rawHttp(base: string, head: string, o: { from?: string } = {}): Promise<RawUpgrade> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: hostname, port: Number(port), localAddress: o.from });
    let buf = Buffer.alloc(0);
    let bodyStart = -1;
    let done = false;
    const ended = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('error', (err) => {
      if (!done) reject(err);
    });
    socket.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (done) return;
      bodyStart = buf.indexOf('\r\n\r\n');
      if (bodyStart === -1) return;
      done = true;
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(buf.subarray(0, bodyStart).toString('latin1'))?.[1] ?? 0);
      resolve({ socket, status, received: () => buf.subarray(bodyStart + 4), ended });
    });
    socket.once('close', () => {
      if (!done) {
        done = true;
        resolve({ socket, status: 0, received: () => Buffer.alloc(0), ended });
      }
    });
    socket.write(head);
  });
}

/** The upgrade request line and headers for a plane handshake. */
export function upgradeHead(base: string, plane: PlaneName, query: Record<string, string>, extra: string[] = [], o: { upgradeFirst?: boolean; keyLast?: boolean } = {}): string {
  const url = new URL(`/ws/${plane}/`, base);
  for (const [k, v] of Object.entries({ EIO: '4', transport: 'websocket', protocol: String(PROTOCOL_VERSION), ...query })) url.searchParams.set(k, v);
  const upgrade = ['Upgrade: websocket', 'Connection: Upgrade'];
  const key = [`Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`, 'Sec-WebSocket-Version: 13'];
  const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`];
  if (o.keyLast) lines.push(...upgrade, ...extra, ...key);
  else lines.push(...upgrade, ...key, ...extra);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

let gcFn: (() => void) | undefined;
/** Heap in use after a full collection (gc exposed at runtime, no flag needed on the command line). */
export function heapAfterGc(): number {
  if (!gcFn) {
    v8.setFlagsFromString('--expose_gc');
    gcFn = vm.runInNewContext('gc') as () => void;
  }
  gcFn();
  gcFn();
  return process.memoryUsage().heapUsed;
}

export const MiB = 1024 * 1024;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Poll until `cond` holds or the deadline passes; resolves with the last value of `cond`. */
export async function eventually(cond: () => boolean | Promise<boolean>, timeoutMs = 5000, everyMs = 25): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() > until) return false;
    await sleep(everyMs);
  }
}

/** Counts unhandled rejections and uncaught exceptions in this process (the server runs in it). */
export function watchProcessFaults(): { readonly rejections: unknown[]; readonly exceptions: unknown[]; stop(): void } {
  const rejections: unknown[] = [];
  const exceptions: unknown[] = [];
  const onRejection = (reason: unknown) => rejections.push(reason);
  const onException = (err: unknown) => exceptions.push(err);
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return {
    rejections,
    exceptions,
    stop() {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
    },
  };
}

/** The fuzz target a test file is: its file name without `.test.ts` (`codec`, `session-model`, …). */
function currentTarget(): string {
  const path = expect.getState().testPath ?? 'unknown';
  return basename(path).replace(/\.test\.[cm]?[jt]s$/, '');
}

/**
 * The per-target budget `npm run verify` hands down in FUZZ_BUDGET (`{"codec": 80000, …}`: inputs
 * per property of that target), or undefined.
 */
export function fuzzBudget(target = currentTarget()): number | undefined {
  let budget: unknown;
  try {
    budget = JSON.parse(process.env.FUZZ_BUDGET ?? '{}');
  } catch {
    throw new Error('FUZZ_BUDGET must be a JSON object of target → runs');
  }
  const n = (budget as Record<string, unknown>)[target];
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : undefined;
}

/**
 * How many inputs a fuzz property tries: verify's per-target budget (FUZZ_BUDGET), else FUZZ_RUNS
 * (`npm run fuzz -- --runs N`), else the default. Under verify it also starts counting: see
 * `countFuzzRuns`.
 */
export function fuzzRuns(defaultRuns: number, target = currentTarget()): number {
  countFuzzRuns();
  const fromBudget = fuzzBudget(target);
  if (fromBudget) return fromBudget;
  const n = Number(process.env.FUZZ_RUNS);
  return Number.isInteger(n) && n > 0 ? n : defaultRuns;
}

export interface FuzzPropertyCount {
  property: string;
  /** Inputs the property actually ran (fast-check's `numRuns`, the failing one included), shrinking aside. */
  runs: number;
  skips: number;
  shrinks: number;
  failed: boolean;
  interrupted: boolean;
}

let counting = false;
/**
 * Under `npm run verify` (VERIFY_FIGURES_DIR set): a fast-check reporter counts what every property
 * of this test file really ran and records it as figures `fuzz-<file>`; it throws on failure exactly
 * as fast-check's default reporter does. Idempotent; a no-op in a normal test run.
 */
export function countFuzzRuns(): void {
  if (counting || !figuresDir()) return;
  counting = true;
  const target = currentTarget();
  const properties: FuzzPropertyCount[] = [];
  const record = (d: fc.RunDetails<unknown>) => {
    const property = expect.getState().currentTestName ?? 'unknown';
    properties.push({ property, runs: d.numRuns, skips: d.numSkips, shrinks: d.numShrinks, failed: d.failed, interrupted: d.interrupted });
    recordFigures(`fuzz-${target}`, {
      target,
      inputs: properties.reduce((n, p) => n + p.runs, 0),
      failures: properties.filter((p) => p.failed).length,
      properties,
    });
  };
  fc.configureGlobal({
    ...fc.readConfigureGlobal(),
    // One reporter for sync and async properties (fast-check refuses both options at once).
    reporter(d) {
      record(d);
      if (d.failed) throw new Error(fc.defaultReportMessage(d), { cause: d.errorInstance });
    },
  });
}
