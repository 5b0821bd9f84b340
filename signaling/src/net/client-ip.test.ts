import { describe, expect, it } from 'vitest';
import { abuseKey, normalizeIp, parseTrustedProxies, resolveClientIp } from './client-ip.ts';

const trusted = parseTrustedProxies(['10.0.0.1', '10.1.0.0/16', 'fd00::/8']);
const none = parseTrustedProxies([]);

describe('resolveClientIp', () => {
  it.each([
    ['a direct peer without a header is the client', '203.0.113.7', undefined, trusted, '203.0.113.7'],
    ['a direct untrusted peer with a spoofed XFF is still the peer', '203.0.113.7', '1.2.3.4', trusted, '203.0.113.7'],
    ['rotating XFF from an untrusted peer changes nothing', '203.0.113.7', '9.9.9.9, 8.8.8.8', none, '203.0.113.7'],
    ['a trusted proxy with one XFF entry yields that entry', '10.0.0.1', '198.51.100.4', trusted, '198.51.100.4'],
    ['a trusted proxy with several entries yields the right-most untrusted one', '10.0.0.1', '6.6.6.6, 198.51.100.4, 10.1.2.3', trusted, '198.51.100.4'],
    ['a client-supplied left-most entry cannot override the real one', '10.1.9.9', 'evil-spoof, 198.51.100.4', trusted, '198.51.100.4'],
    ['a trusted proxy without XFF is the client', '10.0.0.1', undefined, trusted, '10.0.0.1'],
    ['an IPv6 peer is kept as IPv6', '2001:db8::1', undefined, trusted, '2001:db8::1'],
    ['an IPv4-mapped IPv6 peer becomes IPv4', '::ffff:203.0.113.9', undefined, trusted, '203.0.113.9'],
    ['an IPv4-mapped trusted proxy is recognised', '::ffff:10.0.0.1', '198.51.100.4', trusted, '198.51.100.4'],
    ['an IPv6 trusted proxy forwarding an IPv6 client', 'fd00::5', '2001:db8::42', trusted, '2001:db8::42'],
    ['garbage in the chain stops trust at the peer', '10.0.0.1', '198.51.100.4, not-an-ip', trusted, '10.0.0.1'],
    ['an array of XFF headers is joined in order', '10.0.0.1', ['198.51.100.4', '10.1.0.2'], trusted, '198.51.100.4'],
  ])('%s', (_what, peer, xff, proxies, expected) => {
    expect(resolveClientIp(peer, xff, proxies)).toBe(expected);
  });
});

describe('normalizeIp', () => {
  it.each([
    ['1.2.3.4', '1.2.3.4'],
    ['::ffff:1.2.3.4', '1.2.3.4'],
    ['[2001:db8::1]', '2001:db8::1'],
    ['nonsense', undefined],
    ['', undefined],
  ])('normalises %j to %j', (raw, expected) => {
    expect(normalizeIp(raw)).toBe(expected);
  });
});

describe('abuseKey', () => {
  it.each([
    ['198.51.100.7', '198.51.100.7'],
    ['::ffff:198.51.100.7', '198.51.100.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['[2001:db8:1:2::9]', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::/64', '2001:db8:1:2::/64'],
    ['2001:DB8:1:2:0:0:0:0/64', '2001:db8:1:2::/64'],
  ])('%s → %s', (raw, key) => {
    expect(abuseKey(raw)).toBe(key);
  });

  it.each([['not an ip'], ['198.51.100.7/64'], ['2001:db8::/48'], [''], [undefined]])('refuses %s', (raw) => {
    expect(abuseKey(raw)).toBeUndefined();
  });
});
