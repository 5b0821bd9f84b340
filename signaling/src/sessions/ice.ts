import { createHmac } from 'node:crypto';
import type { IceServer } from '@guruconnect/shared/protocol';

/**
 * ICE servers for a peer: the configured list plus, with TURN_SECRET, time-limited TURN
 * credentials in the REST scheme coturn implements (`use-auth-secret`):
 * username = `<expiry unix s>:<subject>`, credential = base64(HMAC-SHA1(secret, username)).
 */
export function iceServersFor(subject: string, cfg: { ICE_SERVERS: readonly IceServer[]; TURN_URLS: readonly string[]; TURN_SECRET?: string; TURN_TTL_S: number }, nowMs = Date.now()): IceServer[] {
  const servers: IceServer[] = cfg.ICE_SERVERS.map((s) => ({ ...s }));
  if (cfg.TURN_SECRET && cfg.TURN_URLS.length > 0) {
    const username = `${Math.floor(nowMs / 1000) + cfg.TURN_TTL_S}:${subject}`;
    const credential = createHmac('sha1', cfg.TURN_SECRET).update(username).digest('base64');
    servers.push({ urls: [...cfg.TURN_URLS], username, credential });
  }
  return servers;
}
