import { createContext } from 'svelte';
import { matchRoute, type Route } from './routes.ts';

export { ADMIN_TABS, matchRoute, type AdminTab, type Route } from './routes.ts';

/** Client-side routing over the History API. */
export class Router {
  path = $state(window.location.pathname);
  readonly route: Route = $derived(matchRoute(this.path));
  #stop: (() => void) | null = null;

  /** Follows the browser's back/forward buttons; returns the stop function. */
  start(): () => void {
    const onPop = () => (this.path = window.location.pathname);
    window.addEventListener('popstate', onPop);
    this.#stop = () => window.removeEventListener('popstate', onPop);
    return this.#stop;
  }

  navigate(to: string, opts: { replace?: boolean } = {}): void {
    const url = new URL(to, window.location.origin);
    if (url.origin !== window.location.origin) return;
    if (opts.replace) window.history.replaceState(null, '', url.pathname + url.search);
    else if (url.pathname + url.search !== window.location.pathname + window.location.search) window.history.pushState(null, '', url.pathname + url.search);
    this.path = url.pathname;
  }
}

const [useRouter, setRouter] = createContext<Router>();
export { useRouter, setRouter };
