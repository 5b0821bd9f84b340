// Update traffic over node:https with the certificate policy set on every request: `ca` and
// `rejectUnauthorized` are explicit options, so neither NODE_TLS_REJECT_UNAUTHORIZED nor a
// changed global agent can weaken them.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { TransportPolicy } from './tls-policy.ts';

export type TransferFailure = 'tls_untrusted' | 'size_mismatch' | 'hash_mismatch' | 'download_failed';

export class TransferError extends Error {
  constructor(
    readonly reason: TransferFailure,
    message: string,
  ) {
    super(message);
    this.name = 'TransferError';
  }
}

/** OpenSSL / Node codes of a certificate that failed verification. */
const CERT_ERRORS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_REVOKED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'PATH_LENGTH_EXCEEDED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_TLS_CERT_ALTNAME_FORMAT',
]);

function classify(err: unknown): TransferError {
  if (err instanceof TransferError) return err;
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  if (typeof code === 'string' && CERT_ERRORS.has(code)) return new TransferError('tls_untrusted', `certificate not trusted (${code})`);
  return new TransferError('download_failed', typeof code === 'string' ? `${code}: ${message}` : message);
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Idle socket time before a transfer is abandoned. */
const IDLE_TIMEOUT_MS = 30_000;

interface OpenOptions {
  method: 'GET' | 'POST';
  headers?: OutgoingHttpHeaders;
  body?: string;
  policy: TransportPolicy;
  /** Whole-transfer deadline (the caller also uses it for the body). */
  signal: AbortSignal;
}

/** One request; resolves with the response head. Plain http only under the insecure development policy. */
function open(url: URL, o: OpenOptions): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const fail = (err: unknown) => reject(classify(err));
    let req;
    if (url.protocol === 'https:') {
      req = httpsRequest(url, {
        method: o.method,
        headers: o.headers,
        // Set in code on every request: the environment cannot change them.
        ca: o.policy.ca as string | Buffer | Array<string | Buffer> | undefined,
        rejectUnauthorized: o.policy.insecure ? false : true,
        minVersion: 'TLSv1.2',
        agent: false,
        timeout: IDLE_TIMEOUT_MS,
        signal: o.signal,
      });
    } else if (url.protocol === 'http:' && o.policy.insecure) {
      req = httpRequest(url, { method: o.method, headers: o.headers, agent: false, timeout: IDLE_TIMEOUT_MS, signal: o.signal });
    } else {
      reject(new TransferError('tls_untrusted', `refusing a ${url.protocol} URL: https is required`));
      return;
    }
    req.once('timeout', () => req.destroy(new TransferError('download_failed', 'connection idle too long')));
    req.once('error', fail);
    req.once('response', resolve);
    req.end(o.body);
  });
}

function deadline(ms: number): { signal: AbortSignal; done(): void } {
  const ac = new AbortController();
  const t = setTimeout(() => ac.abort(new TransferError('download_failed', `timed out after ${ms} ms`)), ms);
  return { signal: ac.signal, done: () => clearTimeout(t) };
}

/** Read a small body; `null` when it is larger than `maxBytes` (reading stops there). */
async function readCapped(res: IncomingMessage, maxBytes: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > maxBytes) {
      res.destroy();
      return null;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** GET (or POST) a small document. The body is `null` when it exceeded `maxBytes`. */
export async function requestSmall(
  url: URL,
  o: { method?: 'GET' | 'POST'; headers?: OutgoingHttpHeaders; body?: string; policy: TransportPolicy; maxBytes: number; timeoutMs: number },
): Promise<{ status: number; body: Buffer | null }> {
  const d = deadline(o.timeoutMs);
  try {
    const headers = o.body === undefined ? o.headers : { ...o.headers, 'content-length': Buffer.byteLength(o.body) };
    const res = await open(url, { method: o.method ?? 'GET', headers, body: o.body, policy: o.policy, signal: d.signal });
    const body = await readCapped(res, o.maxBytes).catch((err: unknown) => Promise.reject(classify(d.signal.reason ?? err)));
    return { status: res.statusCode ?? 0, body };
  } catch (err) {
    throw classify(d.signal.reason ?? err);
  } finally {
    d.done();
  }
}

export interface DownloadOptions {
  policy: TransportPolicy;
  /** Exact expected size in bytes: reading stops as soon as more arrives. */
  size: number;
  /** Expected SHA-256, lower-case hex. */
  sha256: string;
  /** File to create (must not exist); removed by the caller on failure. */
  dest: string;
  timeoutMs: number;
  maxRedirects?: number;
}

/**
 * Stream `url` into `dest`, hashing as it goes. Fails with `size_mismatch` as soon as the
 * body passes `size` (or a Content-Length disagrees), `hash_mismatch` when the digest differs,
 * `tls_untrusted` for a certificate that does not verify (on every redirect hop too).
 */
export async function download(url: URL, o: DownloadOptions): Promise<void> {
  const d = deadline(o.timeoutMs);
  try {
    let at = url;
    let res: IncomingMessage;
    for (let hop = 0; ; hop++) {
      res = await open(at, { method: 'GET', headers: { accept: 'application/octet-stream' }, policy: o.policy, signal: d.signal });
      const status = res.statusCode ?? 0;
      if (!REDIRECTS.has(status)) break;
      res.resume();
      const location = res.headers.location;
      if (!location || hop >= (o.maxRedirects ?? 5)) throw new TransferError('download_failed', `too many redirects or no location (HTTP ${status})`);
      at = new URL(location, at);
    }
    if (res.statusCode !== 200) {
      res.resume();
      throw new TransferError('download_failed', `HTTP ${res.statusCode}`);
    }
    const declared = res.headers['content-length'];
    if (declared !== undefined && Number(declared) !== o.size) {
      res.destroy();
      throw new TransferError('size_mismatch', `Content-Length ${Number(declared)} but the manifest says ${o.size} bytes`);
    }
    const hash = createHash('sha256');
    let bytes = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        if (bytes > o.size) {
          cb(new TransferError('size_mismatch', `more than the ${o.size} bytes the manifest says`));
          return;
        }
        hash.update(chunk);
        cb(null, chunk);
      },
    });
    await pipeline(res, meter, createWriteStream(o.dest, { flags: 'wx', mode: 0o600 }), { signal: d.signal });
    if (bytes !== o.size) throw new TransferError('size_mismatch', `got ${bytes} bytes, the manifest says ${o.size}`);
    const digest = hash.digest('hex');
    if (digest !== o.sha256) throw new TransferError('hash_mismatch', `SHA-256 ${digest.slice(0, 16)}… does not match the manifest`);
  } catch (err) {
    throw classify(d.signal.reason ?? err);
  } finally {
    d.done();
  }
}
