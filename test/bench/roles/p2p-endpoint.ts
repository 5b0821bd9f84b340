// Two WebRTC peers (@roamhq/wrtc) in separate processes; the orchestrator relays signaling.
// 'bulk': 64 KiB messages with bufferedAmount backpressure; 'input': 32-byte JSON at a rate.
import wrtc from '@roamhq/wrtc';
import { report, roleArgs } from '../lib/roles.ts';

const a = roleArgs<{ initiator: boolean; workload: 'bulk' | 'input'; durationMs: number; rate?: number }>();
const pc = new wrtc.RTCPeerConnection({ iceServers: [] });
const HIGH_WATER = 1024 * 1024;

pc.onicecandidate = (e: { candidate: unknown }) => {
  if (e.candidate) report({ type: 'signal', candidate: e.candidate });
};
process.on('message', async (m: { type: string; description?: RTCSessionDescriptionInit; candidate?: RTCIceCandidateInit }) => {
  if (m.type !== 'signal') return;
  if (m.description) {
    await pc.setRemoteDescription(m.description);
    if (m.description.type === 'offer') {
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      report({ type: 'signal', description: pc.localDescription });
    }
  } else if (m.candidate) await pc.addIceCandidate(m.candidate);
});

function finish(msg: Record<string, unknown>) {
  report(msg);
  setTimeout(() => process.exit(0), 50);
}

if (a.initiator) {
  const ch = pc.createDataChannel(a.workload, { ordered: true });
  ch.binaryType = 'arraybuffer';
  ch.bufferedAmountLowThreshold = HIGH_WATER / 2;
  ch.onopen = () => {
    const end = Date.now() + a.durationMs + 3000;
    if (a.workload === 'bulk') {
      const payload = new Uint8Array(65536).fill(3);
      const pump = () => {
        while (ch.bufferedAmount < HIGH_WATER && Date.now() < end && ch.readyState === 'open') ch.send(payload);
      };
      ch.onbufferedamountlow = pump;
      // wrtc's bufferedamountlow is not always delivered; poll as a fallback.
      const poll = setInterval(() => (Date.now() < end ? pump() : clearInterval(poll)), 2);
      pump();
    } else {
      const every = 1000 / (a.rate ?? 500);
      let sent = 0;
      const start = performance.now();
      const tick = () => {
        const due = Math.floor((performance.now() - start) / every);
        while (sent < due) {
          sent++;
          ch.send(JSON.stringify({ type: 'pointer:move', x: sent % 1000, y: 5, t: performance.timeOrigin + performance.now() }));
        }
        if (performance.now() - start < a.durationMs) setTimeout(tick, 1);
      };
      tick();
    }
  };
  void (async () => {
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    report({ type: 'signal', description: pc.localDescription });
  })();
} else {
  pc.ondatachannel = (e: { channel: RTCDataChannel }) => {
    const ch = e.channel;
    ch.binaryType = 'arraybuffer';
    let bytes = 0;
    let first = 0;
    const lat: number[] = [];
    ch.onmessage = (m: MessageEvent) => {
      if (typeof m.data === 'string') {
        lat.push(performance.timeOrigin + performance.now() - (JSON.parse(m.data) as { t: number }).t);
        if (!first) {
          first = performance.now();
          setTimeout(() => finish({ type: 'result', latencies: lat }), a.durationMs);
        }
        return;
      }
      if (!first) {
        first = performance.now();
        setTimeout(() => finish({ type: 'result', bytes, ms: performance.now() - first }), a.durationMs);
      }
      bytes += (m.data as ArrayBuffer).byteLength;
    };
  };
}
report({ type: 'ready' });
