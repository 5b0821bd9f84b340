/** The app's pages and how a location path maps to them (pure, no DOM). */

export const ADMIN_TABS = ['users', 'keys', 'machines', 'versions', 'audit', 'failed', 'blocked'] as const;
export type AdminTab = (typeof ADMIN_TABS)[number];

/** Every page of the app, parsed from the location's path. */
export type Route =
  | { name: 'login' }
  | { name: 'dashboard' }
  | { name: 'session'; id: string }
  | { name: 'admin'; tab: AdminTab }
  | { name: 'join'; code: string }
  | { name: 'not-found' };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Maps a pathname to its route; anything unknown is `not-found`. */
export function matchRoute(pathname: string): Route {
  let parts: string[];
  try {
    parts = pathname.replace(/\/+$/, '').split('/').filter(Boolean).map((p) => decodeURIComponent(p));
  } catch {
    return { name: 'not-found' };
  }
  const [first, second, ...rest] = parts;
  if (rest.length > 0) return { name: 'not-found' };
  if (first === undefined) return { name: 'dashboard' };
  if (first === 'login' && second === undefined) return { name: 'login' };
  if (first === 'session' && second !== undefined && UUID.test(second)) return { name: 'session', id: second.toLowerCase() };
  if (first === 'admin') {
    if (second === undefined) return { name: 'admin', tab: 'users' };
    if ((ADMIN_TABS as readonly string[]).includes(second)) return { name: 'admin', tab: second as AdminTab };
  }
  // Codes are validated by the server; the page says so in words when one is wrong.
  if (first === 'join' && second !== undefined && second.length <= 16) return { name: 'join', code: second };
  return { name: 'not-found' };
}
