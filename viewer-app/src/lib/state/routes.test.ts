import { describe, expect, it } from 'vitest';
import { matchRoute, type Route } from './routes.ts';

const ID = '0b9c6f9e-8d5e-4d53-9a53-3f2b5c1d2e7a';

// Each row: a location path and the page it must show.
const rows: Array<[string, Route]> = [
  ['/', { name: 'dashboard' }],
  ['/login', { name: 'login' }],
  ['/login/', { name: 'login' }],
  [`/session/${ID}`, { name: 'session', id: ID }],
  [`/session/${ID.toUpperCase()}`, { name: 'session', id: ID }],
  ['/session/not-a-uuid', { name: 'not-found' }],
  ['/admin', { name: 'admin', tab: 'users' }],
  ['/admin/keys', { name: 'admin', tab: 'keys' }],
  ['/admin/blocked', { name: 'admin', tab: 'blocked' }],
  ['/admin/versions', { name: 'admin', tab: 'versions' }],
  ['/admin/secrets', { name: 'not-found' }],
  ['/join/123456', { name: 'join', code: '123456' }],
  ['/join/12345678901234567', { name: 'not-found' }],
  ['/join/%E0%A4%A', { name: 'not-found' }],
  ['/session/a/b', { name: 'not-found' }],
  ['/nowhere', { name: 'not-found' }],
];

describe('matchRoute', () => {
  it.each(rows)('%s → %o', (path, route) => {
    expect(matchRoute(path)).toEqual(route);
  });
});
