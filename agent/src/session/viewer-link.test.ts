import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RELAY_ACK_WINDOW_FRAMES } from '@guruconnect/shared/limits';
import type { RelayMode } from '../cli/args.ts';
import { silentLogger } from '../log/logger.ts';
import { fakePeerFactory } from '../testing/fakes.ts';
import { FRAMES_HIGH_WATER_BYTES, ViewerLink } from './viewer-link.ts';

function harness(relayMode: RelayMode = 'auto', relayCongested = false) {
  const { factory, peers } = fakePeerFactory();
  const reports: Array<{ path: string; reason: string }> = [];
  const signals: string[] = [];
  const windows: number[] = [];
  const link = new ViewerLink({
    viewerId: 'v1',
    control: true,
    relayMode,
    iceServers: [],
    iceTransportPolicy: 'all',
    iceTimeoutMs: 5000,
    disconnectGraceMs: 3000,
    createPeer: factory,
    log: silentLogger,
    port: {
      signal: (_to, kind) => signals.push(kind),
      reportPath: (_id, path, reason) => reports.push({ path, reason }),
      relayCongested: () => relayCongested,
      relayWindow: (_id, frames) => windows.push(frames),
      inputData: () => {},
    },
  });
  link.start();
  return { link, peers, reports, signals, windows };
}

describe('ViewerLink pull mode (one update in flight)', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('asks the server for a relay window of 1 and back, on changes only, and again on a new server socket', () => {
    const h = harness('force');
    h.link.pull(true);
    h.link.pull(true);
    h.link.pull(false);
    expect(h.windows).toEqual([1, RELAY_ACK_WINDOW_FRAMES]);
    h.link.pull(true);
    h.link.reannounced(true);
    expect(h.windows).toEqual([1, RELAY_ACK_WINDOW_FRAMES, 1, 1]);
  });

  it('says nothing while on P2P, and sets the window when the viewer falls back to the relay', () => {
    const h = harness();
    h.peers[0]!.open();
    h.link.pull(true);
    expect(h.windows).toEqual([]);
    h.link.p2pBroken('channel_closed');
    expect(h.link.state).toBe('relay');
    expect(h.windows).toEqual([1]);
  });
});

describe('ViewerLink path selection', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('goes P2P when both channels open, says hello and reports the path', () => {
    const h = harness();
    expect(h.link.state).toBe('negotiating');
    expect(h.link.ready()).toBe(false);
    h.peers[0]!.open();
    expect(h.link.state).toBe('p2p');
    expect(h.link.needsKeyframe).toBe(true);
    expect(h.peers[0]!.jsonOut).toEqual([{ type: 'control:hello', protocol: 1, role: 'agent' }]);
    expect(h.reports).toEqual([{ path: 'p2p', reason: 'ice_connected' }]);
  });

  it('falls back to the relay when ICE has not connected within the timeout', () => {
    const h = harness();
    vi.advanceTimersByTime(4999);
    expect(h.link.state).toBe('negotiating');
    vi.advanceTimersByTime(1);
    expect(h.link.state).toBe('relay');
    expect(h.peers[0]!.closedWith).toBe('ice_timeout');
    expect(h.reports).toEqual([{ path: 'relay', reason: 'ice_timeout' }]);
    expect(h.link.needsKeyframe).toBe(true);
  });

  it('falls back at once when the peer fails before connecting', () => {
    const h = harness();
    h.peers[0]!.fail('ERR_ICE_CONNECTION_FAILURE');
    expect(h.link.state).toBe('relay');
    expect(h.reports.at(-1)).toEqual({ path: 'relay', reason: 'ERR_ICE_CONNECTION_FAILURE' });
  });

  it('falls back mid-session when the P2P link closes, with a keyframe on the relay', () => {
    const h = harness();
    h.peers[0]!.open();
    h.link.needsKeyframe = false;
    h.peers[0]!.fail('peer_closed');
    expect(h.link.state).toBe('relay');
    expect(h.link.needsKeyframe).toBe(true);
  });

  it('waits out a short ICE disconnection, and falls back when it lasts', () => {
    const h = harness();
    h.peers[0]!.open();
    h.peers[0]!.ice('disconnected');
    vi.advanceTimersByTime(2000);
    h.peers[0]!.ice('connected');
    vi.advanceTimersByTime(5000);
    expect(h.link.state).toBe('p2p');
    h.peers[0]!.ice('disconnected');
    vi.advanceTimersByTime(3000);
    expect(h.link.state).toBe('relay');
    expect(h.reports.at(-1)).toEqual({ path: 'relay', reason: 'ice_disconnected' });
  });

  it('uses the relay from the start when forced, without creating a peer', () => {
    const h = harness('force');
    expect(h.peers).toHaveLength(0);
    expect(h.link.state).toBe('relay');
    expect(h.reports).toEqual([{ path: 'relay', reason: 'forced' }]);
  });

  it('goes down instead of relaying with --relay never', () => {
    const h = harness('never');
    vi.advanceTimersByTime(5000);
    expect(h.link.state).toBe('down');
    expect(h.link.ready()).toBe(false);
    expect(h.reports).toEqual([]);
  });

  it('counts a P2P viewer as congested above the high-water mark, a relay viewer when the socket is', () => {
    const h = harness();
    h.peers[0]!.open();
    h.peers[0]!.buffered = FRAMES_HIGH_WATER_BYTES;
    expect(h.link.congested()).toBe(false);
    h.peers[0]!.buffered = FRAMES_HIGH_WATER_BYTES + 1;
    expect(h.link.congested()).toBe(true);
    expect(harness('force', true).link.congested()).toBe(true);
    expect(harness('force', false).link.congested()).toBe(false);
  });

  it("counts a relay viewer as congested while the server's credit for it is shut, and forgets that on a new relay start", () => {
    const h = harness('force');
    h.link.relayCredit(false);
    expect(h.link.congested()).toBe(true);
    h.link.relayCredit(true);
    expect(h.link.congested()).toBe(false);
    h.link.relayCredit(false);
    h.link.reannounced(true); // the agent reconnected: a new server queue
    expect(h.link.congested()).toBe(false);
    // Credit is a relay notion: a P2P viewer ignores it.
    const p = harness();
    p.peers[0]!.open();
    p.link.relayCredit(false);
    expect(p.link.congested()).toBe(false);
  });

  it('ignores a late failure of a peer it already replaced, and close is idempotent', () => {
    const h = harness();
    h.peers[0]!.open();
    h.link.close('viewer_left');
    h.link.close('again');
    h.peers[0]!.fail('late');
    expect(h.link.state).toBe('closed');
    expect(h.peers[0]!.closedWith).toBe('viewer_left');
    expect(h.reports).toEqual([{ path: 'p2p', reason: 'ice_connected' }]);
  });
});
