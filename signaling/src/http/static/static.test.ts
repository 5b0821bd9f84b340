import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installErrorHandling } from '../errors.ts';
import { installSecurityHeaders } from '../security-headers.ts';
import { defineRoutes, registeredRoutes } from '../route.ts';
import { staticRoutes, toRelativePath } from './routes.ts';

const INDEX = '<!doctype html><title>GuruConnect</title><script type="module" src="/assets/index-abc.js"></script>';
const HTML = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };

let root: string;
let dist: string;
let app: FastifyInstance;
let baseUrl: string;

async function build(distDir: string): Promise<FastifyInstance> {
  const f = Fastify();
  installSecurityHeaders(f);
  installErrorHandling(f);
  defineRoutes(f, [{ method: 'GET', url: '/healthz', auth: 'public', handler: async () => ({ status: 'ok' }) }]);
  staticRoutes(f, { distDir });
  await f.ready();
  return f;
}

/** A request exactly as written (fetch and inject would normalise dot segments away). */
function rawGet(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${baseUrl}${path}`, { method: 'GET', headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.path = path;
    req.end();
  });
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'guru-static-'));
  dist = join(root, 'dist');
  mkdirSync(join(dist, 'assets'), { recursive: true });
  writeFileSync(join(dist, 'index.html'), INDEX);
  writeFileSync(join(dist, 'assets', 'index-abc.js'), 'console.log("app")');
  writeFileSync(join(dist, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  writeFileSync(join(dist, '.secret'), 'dotfile');
  writeFileSync(join(root, 'package.json'), '{"name":"outside"}');
  symlinkSync(join(root, 'package.json'), join(dist, 'linked.json'));
  app = await build(dist);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  baseUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});

afterAll(async () => {
  await app?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('static web app', () => {
  it('serves index.html at / with the strict CSP and no caching', async () => {
    const res = await app.inject({ method: 'GET', url: '/', headers: HTML });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toBe(INDEX);
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    expect(res.headers['cache-control']).toBe('no-cache');
  });

  it('serves hashed assets as immutable with their content type', async () => {
    const res = await app.inject({ method: 'GET', url: '/assets/index-abc.js' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/javascript/);
    expect(res.headers['cache-control']).toContain('immutable');
    expect((await app.inject({ method: 'GET', url: '/favicon.svg' })).headers['content-type']).toMatch(/^image\/svg\+xml/);
  });

  // Each row: a path a browser may ask for and what it must get.
  const fallbackRows: Array<[string, Record<string, string>, number, string]> = [
    ['/session/0b9c6f9e-8d5e-4d53-9a53-3f2b5c1d2e7a', HTML, 200, 'client route gets the app'],
    ['/join/123456', HTML, 200, 'end-user route gets the app'],
    ['/admin/users', HTML, 200, 'admin route gets the app'],
    ['/session/x', { accept: 'application/json' }, 404, 'non-HTML request is not rewritten'],
    ['/api/nope', HTML, 404, '/api is never the app'],
    ['/ws/nope', HTML, 404, '/ws is never the app'],
    ['/assets/missing.js', HTML, 404, 'a missing asset is not the app'],
  ];
  it.each(fallbackRows)('GET %s → %i (%s)', async (url, headers, status) => {
    const res = await app.inject({ method: 'GET', url, headers });
    expect(res.statusCode).toBe(status);
    if (status === 200) expect(res.body).toBe(INDEX);
    else expect(res.json()).toEqual({ error: { code: 'ERR_NOT_FOUND', message: expect.any(String) } });
  });

  it('leaves the health routes alone', async () => {
    const res = await app.inject({ method: 'GET', url: '/healthz', headers: HTML });
    expect(res.json()).toEqual({ status: 'ok' });
  });

  // Each row: a path written to escape dist (sent byte for byte) → always 404, even to a browser.
  const traversalRows = [
    '/..%2f..%2fetc/passwd',
    '/assets/../../package.json',
    '/assets/..%2f..%2fpackage.json',
    '/%2e%2e/%2e%2e/etc/passwd',
    '/assets/%2e%2e/%2e%2e/package.json',
    '/..\\..\\package.json',
    '/assets/index-abc.js%00.html',
  ];
  it.each(traversalRows)('answers 404 to the traversal attempt %s', async (path) => {
    for (const headers of [HTML, {}]) {
      const res = await rawGet(path, headers);
      expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(404);
      expect(res.body).not.toContain('outside');
      expect(res.body).not.toContain('root:');
    }
  });

  // Plain paths to files that are not part of the app: never their contents (a browser may get the app).
  const unlistedRows = ['/.secret', '/linked.json', '//etc/passwd', '/assets//../linked.json'];
  it.each(unlistedRows)('never serves the unlisted file %s', async (path) => {
    for (const headers of [HTML, {}]) {
      const res = await rawGet(path, headers);
      expect([200, 404]).toContain(res.status);
      if (res.status === 200) expect(res.body).toBe(INDEX);
      expect(res.body).not.toContain('outside');
      expect(res.body).not.toContain('dotfile');
    }
  });

  it('maps request paths to plain relative names or refuses them', () => {
    expect(toRelativePath('/assets/a.js?v=1')).toBe('assets/a.js');
    expect(toRelativePath('/')).toBe('');
    expect(toRelativePath('/a/./b')).toBeNull();
    expect(toRelativePath('/%E0%A4%A')).toBeNull();
  });

  it('answers 503 ERR_NOT_READY when the app is not built, and serves it once it is', async () => {
    let now = 0;
    const empty = join(root, 'not-built');
    const f = Fastify();
    installSecurityHeaders(f);
    installErrorHandling(f);
    staticRoutes(f, { distDir: empty, now: () => now });
    await f.ready();
    const res = await f.inject({ method: 'GET', url: '/', headers: HTML });
    expect(res.statusCode).toBe(503);
    expect(res.json().error.code).toBe('ERR_NOT_READY');
    expect(res.json().error.message).toContain('npm run build');
    expect((await f.inject({ method: 'GET', url: '/join/123456', headers: HTML })).statusCode).toBe(503);
    mkdirSync(empty);
    writeFileSync(join(empty, 'index.html'), INDEX);
    now += 5000;
    expect((await f.inject({ method: 'GET', url: '/', headers: HTML })).statusCode).toBe(200);
    await f.close();
  });

  it('declares every route it adds as public, for the route inventory', () => {
    const probe = Fastify();
    staticRoutes(probe, { distDir: dist });
    expect(registeredRoutes(probe)).toEqual([
      { method: 'GET', url: '/', auth: 'public' },
      { method: 'GET', url: '/*', auth: 'public' },
    ]);
  });
});
