// Real WebRTC (@roamhq/wrtc) on loopback: the agent's PeerLink against a plain RTCPeerConnection,
// which is what a browser viewer is.
import wrtc from '@roamhq/wrtc';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../log/logger.ts';
import { createPeerLink, type PeerLink } from './peer-link.ts';

interface Channel {
  label: string;
  readyState: string;
  binaryType: string;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onopen: (() => void) | null;
  send(d: string | Uint8Array): void;
}

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function pair() {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- wrtc's typings need the DOM lib
  const viewer: any = new wrtc.RTCPeerConnection({ iceServers: [] });
  const channels = new Map<string, Channel>();
  const frames: Uint8Array[] = [];
  let opened = false;
  const inputs: unknown[] = [];
  const failed: string[] = [];
  const pending: unknown[] = [];
  const link: PeerLink = createPeerLink({
    iceServers: [],
    iceTransportPolicy: 'all',
    log: silentLogger,
    handlers: {
      signal: async (kind, payload) => {
        if (kind === 'offer') {
          await viewer.setRemoteDescription(payload.description);
          for (const c of pending.splice(0)) await viewer.addIceCandidate(c);
          const answer = await viewer.createAnswer();
          await viewer.setLocalDescription(answer);
          link.signal('answer', { description: { type: 'answer', sdp: answer.sdp } });
        } else if (kind === 'candidate') {
          if (viewer.remoteDescription) await viewer.addIceCandidate(payload.candidate);
          else pending.push(payload.candidate);
        }
      },
      open: () => (opened = true),
      message: (d) => inputs.push(d),
      iceState: () => {},
      failed: (r) => failed.push(r),
    },
  });
  viewer.onicecandidate = (ev: { candidate: { candidate: string; sdpMid: string; sdpMLineIndex: number } | null }) => {
    if (ev.candidate) link.signal('candidate', { candidate: { candidate: ev.candidate.candidate, sdpMid: ev.candidate.sdpMid, sdpMLineIndex: ev.candidate.sdpMLineIndex } });
  };
  viewer.ondatachannel = ({ channel }: { channel: Channel }) => {
    channel.binaryType = 'arraybuffer';
    channels.set(channel.label, channel);
    if (channel.label === 'frames') channel.onmessage = (ev) => frames.push(new Uint8Array(ev.data as ArrayBuffer));
  };
  cleanups.push(() => {
    link.close('test_end');
    viewer.close();
  });
  return { viewer, link, channels, frames, inputs, failed, isOpen: () => opened };
}

async function until(check: () => boolean, ms = 10_000) {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('PeerLink over real WebRTC', () => {
  it('opens two labelled channels in one offer: binary frames out, JSON input in', async () => {
    const p = pair();
    await until(() => p.isOpen() && p.channels.get('input')?.readyState === 'open');
    expect([...p.channels.keys()].sort()).toEqual(['frames', 'input']);
    p.link.sendFrame(new Uint8Array([1, 2, 3]));
    p.channels.get('input')!.send('{"type":"control:ping","t":1}');
    await until(() => p.frames.length === 1 && p.inputs.length === 1);
    expect([...p.frames[0]!]).toEqual([1, 2, 3]);
    expect(p.inputs[0]).toBe('{"type":"control:ping","t":1}');
  });

  it('reports a failure when the viewer closes its side', async () => {
    const p = pair();
    await until(() => p.isOpen());
    p.viewer.close();
    await until(() => p.failed.length > 0);
    expect(p.failed).toHaveLength(1);
  });
});
