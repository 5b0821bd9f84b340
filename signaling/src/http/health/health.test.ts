import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../../db/test-database.ts';
import { api, startTestServer, type TestServer } from '../../testing/test-server.ts';

describe.each(databaseKinds())('health on %s', (kind) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ kind });
  });
  afterAll(async () => s?.close());

  it('answers /healthz 200 while the process runs', async () => {
    const r = await api(s.url, 'GET', '/healthz');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: 'ok' });
  });

  it('answers /readyz 200 while the database answers', async () => {
    const r = await api(s.url, 'GET', '/readyz');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: 'ready', database: kind });
  });

  it('answers /readyz 503 with ERR_NOT_READY when the database is gone', async () => {
    const other = await startTestServer({ kind });
    await other.tdb.db.close();
    const r = await api(other.url, 'GET', '/readyz');
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe('ERR_NOT_READY');
    await other.close();
  });

  it('sends strict security headers and error bodies for unknown routes', async () => {
    const r = await api(s.url, 'GET', '/nope');
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('ERR_NOT_FOUND');
    expect(r.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('referrer-policy')).toBe('no-referrer');
  });
});
