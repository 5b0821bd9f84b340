import ipaddr from 'ipaddr.js';

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** A parsed TRUSTED_PROXIES list. */
export interface TrustedProxies {
  contains(ip: string): boolean;
}

/** Normalise an address: IPv4-mapped IPv6 (`::ffff:1.2.3.4`) becomes IPv4; invalid → undefined. */
export function normalizeIp(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  const trimmed = raw.trim().replace(/^\[(.*)\]$/, '$1');
  if (!ipaddr.isValid(trimmed)) return undefined;
  const addr = ipaddr.parse(trimmed);
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
    return (addr as ipaddr.IPv6).toIPv4Address().toString();
  }
  return addr.toString();
}

/**
 * The key that abuse counters and blocks use for a client address: the address itself for IPv4,
 * its /64 network for IPv6 (`2001:db8:1:2::/64`). One subscriber usually holds a whole /64, so
 * counting IPv6 addresses one by one would give a guesser 2^64 fresh addresses. A key that is
 * already a /64 (an operator unblocking one) is returned as is.
 */
export function abuseKey(raw: string | undefined): string | undefined {
  const m = raw?.trim().match(/^(.*)\/64$/);
  const norm = normalizeIp(m ? m[1] : raw);
  if (!norm) return undefined;
  const addr = ipaddr.parse(norm);
  if (addr.kind() === 'ipv4') return m ? undefined : norm;
  const parts = (addr as ipaddr.IPv6).parts.slice(0, 4).concat([0, 0, 0, 0]);
  return `${new ipaddr.IPv6(parts).toString()}/64`;
}

export function parseTrustedProxies(entries: readonly string[]): TrustedProxies {
  const ranges: Range[] = entries.map((entry) => {
    if (entry.includes('/')) return ipaddr.parseCIDR(entry);
    const addr = ipaddr.parse(normalizeIp(entry) ?? entry);
    return [addr, addr.kind() === 'ipv4' ? 32 : 128];
  });
  return {
    contains(ip: string): boolean {
      const norm = normalizeIp(ip);
      if (!norm) return false;
      const addr = ipaddr.parse(norm);
      return ranges.some(([net, bits]) => net.kind() === addr.kind() && addr.match([net, bits] as never));
    },
  };
}

/**
 * The client's IP: the socket peer, unless the peer is a trusted proxy — then the
 * right-most `X-Forwarded-For` entry that is not itself a trusted proxy. A forwarded
 * header from an untrusted peer is ignored (so rotating it cannot dodge rate limits).
 */
export function resolveClientIp(peer: string | undefined, forwardedFor: string | string[] | undefined, trusted: TrustedProxies): string {
  const peerIp = normalizeIp(peer) ?? '0.0.0.0';
  if (!trusted.contains(peerIp) || forwardedFor === undefined) return peerIp;
  const header = Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor;
  const hops = header.split(',').map((h) => h.trim()).filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normalizeIp(hops[i]);
    if (!hop) return peerIp; // garbage in the chain: do not trust anything left of it
    if (!trusted.contains(hop)) return hop;
  }
  // Every hop is a trusted proxy: the left-most one is the best we know.
  return normalizeIp(hops[0]) ?? peerIp;
}
