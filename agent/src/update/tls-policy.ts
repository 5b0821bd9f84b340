import type { Logger } from '../log/logger.ts';
import { silentLogger } from '../log/logger.ts';
import { BUILD_FLAVOR } from './build-flavor.ts';

/** The variable that turns certificate checks off — honoured only by a development build. */
export const INSECURE_TLS_ENV = 'GURU_UPDATE_INSECURE_TLS';

/** Trusted CA certificates (PEM). Omitted: Node's bundled Mozilla roots. */
export type TlsCa = string | Buffer | ReadonlyArray<string | Buffer>;

export type Env = Readonly<Record<string, string | undefined>>;

/** How update traffic is protected. Build it only with `resolveTransportPolicy`. */
export interface TransportPolicy {
  /** Passed as `ca` to every request; when set, it replaces the default roots. */
  readonly ca: TlsCa | undefined;
  /** True only in a development build with `GURU_UPDATE_INSECURE_TLS=1`: no certificate checks, plain http allowed. */
  readonly insecure: boolean;
}

/**
 * Decide the TLS policy once. Certificate verification is on unless this is a development
 * build AND the environment asks for `GURU_UPDATE_INSECURE_TLS=1`; a production build logs the
 * request and ignores it. `NODE_TLS_REJECT_UNAUTHORIZED` plays no part: every request sets
 * `rejectUnauthorized` explicitly.
 */
export function resolveTransportPolicy(o: { ca?: TlsCa; env?: Env; logger?: Logger }): TransportPolicy {
  const log = o.logger ?? silentLogger;
  const requested = o.env?.[INSECURE_TLS_ENV] === '1';
  const insecure = requested && BUILD_FLAVOR === 'development';
  if (requested && !insecure) log.warn('insecure update TLS requested and ignored: production build', { variable: INSECURE_TLS_ENV, flavor: BUILD_FLAVOR });
  if (insecure) log.warn('update TLS certificate checks are OFF (development build)', { variable: INSECURE_TLS_ENV });
  return Object.freeze({ ca: o.ca, insecure });
}
