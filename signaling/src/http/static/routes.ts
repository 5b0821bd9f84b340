import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';
import { AppError } from '@guruconnect/shared/errors';
import { defineRoutes } from '../route.ts';

/** A missing file is looked for again at most this often (the app may be rebuilt while we run). */
const RESCAN_INTERVAL_MS = 2000;
/** Path prefixes that belong to the server, never to the web app's client-side routes. */
const SERVER_PREFIXES = ['/api/', '/ws/'];
const SERVER_PATHS = ['/api', '/ws', '/healthz', '/readyz'];

export interface StaticRoutesOptions {
  /** The built web app (`viewer-app/dist`). It may be missing: `/` then answers 503. */
  distDir: string;
  /** Clock for the rescan throttle (tests). */
  now?: () => number;
}

/**
 * The files of the built app, listed from disk. Only listed files are ever served, so no request
 * path can reach outside the directory whatever its encoding: traversal is impossible by
 * construction, not by filtering. Symlinks and dotfiles are not listed.
 */
class DistFiles {
  readonly #dir: string;
  readonly #now: () => number;
  #files = new Set<string>();
  #scannedAt = -Infinity;

  constructor(dir: string, now: () => number) {
    this.#dir = dir;
    this.#now = now;
    this.#scan();
  }

  has(rel: string): boolean {
    if (this.#files.has(rel)) return true;
    if (this.#now() - this.#scannedAt >= RESCAN_INTERVAL_MS) this.#scan();
    return this.#files.has(rel);
  }

  #scan(): void {
    this.#scannedAt = this.#now();
    const files = new Set<string>();
    const walk = (rel: string) => {
      let names: string[];
      try {
        names = readdirSync(join(this.#dir, rel));
      } catch {
        return;
      }
      for (const name of names) {
        if (name.startsWith('.')) continue;
        const child = rel ? `${rel}/${name}` : name;
        const st = lstatSync(join(this.#dir, child), { throwIfNoEntry: false });
        if (st?.isDirectory()) walk(child);
        else if (st?.isFile()) files.add(child);
      }
    };
    walk('');
    this.#files = files;
  }
}

/**
 * The request path as a relative file name, or null when it is not a plain path: encoded
 * separators, backslashes, NUL, `.`/`..` segments or bad escapes are refused outright.
 */
export function toRelativePath(rawUrl: string): string | null {
  const raw = rawUrl.split('?')[0]!.split('#')[0]!;
  if (/%(2f|5c|00)/i.test(raw)) return null;
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return null;
  }
  if (/[\\\0]/.test(decoded) || !decoded.startsWith('/')) return null;
  const segments = decoded.split('/').filter((s) => s !== '');
  if (segments.some((s) => s === '.' || s === '..')) return null;
  return segments.join('/');
}

function isServerPath(path: string): boolean {
  return SERVER_PATHS.includes(path) || SERVER_PREFIXES.some((p) => path.startsWith(p));
}

function acceptsHtml(req: FastifyRequest): boolean {
  const accept = req.headers.accept;
  return typeof accept === 'string' && /(^|,)\s*text\/html\s*(;|,|$)/i.test(accept);
}

function cacheControlFor(rel: string): string {
  // Vite names everything under assets/ by content hash.
  if (rel.startsWith('assets/')) return 'public, max-age=31536000, immutable';
  if (rel === 'index.html') return 'no-cache';
  return 'public, max-age=3600';
}

/**
 * Serves the built web app at `/`: its files, and `index.html` for any other GET that asks for
 * HTML outside `/api/*`, `/ws/*`, `/healthz` and `/readyz` (client-side routes such as
 * `/session/:id` or `/join/:code`). Everything else is `404 ERR_NOT_FOUND`. With no build,
 * `/` and the client-side routes answer `503 ERR_NOT_READY` telling to run `npm run build`.
 * `@fastify/static` only sends the files (`serve: false`); the routes are ours, each with its auth.
 */
export function staticRoutes(app: FastifyInstance, opts: StaticRoutesOptions): void {
  const files = new DistFiles(opts.distDir, opts.now ?? Date.now);
  void app.register(fastifyStatic, { serve: false });

  const sendFromDist = (reply: FastifyReply, rel: string) => {
    void reply.header('cache-control', cacheControlFor(rel));
    return reply.sendFile(rel, opts.distDir, { cacheControl: false, dotfiles: 'deny', index: false });
  };
  const sendApp = (reply: FastifyReply) => {
    if (!files.has('index.html')) throw new AppError('ERR_NOT_READY', 'The web app is not built: run `npm run build`');
    return sendFromDist(reply, 'index.html');
  };

  defineRoutes(app, [
    {
      method: 'GET',
      url: '/',
      auth: 'public',
      handler: async ({ reply }) => sendApp(reply),
    },
    {
      method: 'GET',
      url: '/*',
      auth: 'public',
      handler: async ({ req, reply }) => {
        const rel = toRelativePath(req.url);
        if (rel === null) throw new AppError('ERR_NOT_FOUND', 'No such route');
        if (rel !== '' && files.has(rel)) return sendFromDist(reply, rel);
        const path = `/${rel}`;
        if (!isServerPath(path) && !rel.startsWith('assets/') && acceptsHtml(req)) return sendApp(reply);
        throw new AppError('ERR_NOT_FOUND', 'No such route');
      },
    },
  ]);
}
