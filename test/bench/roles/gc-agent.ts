// The product's agent — AgentConnection + MediaSession + the capture worker (synthetic screen and
// frame pipeline off the main thread) and the recording input sink — in its own process, as
// `agent/src/main.ts` wires it.
// Reports the one-way latency of every input it applies (sender stamp `t`, epoch ms).
import { randomUUID } from 'node:crypto';
import { startCaptureWorker } from '../../../agent/src/capture-worker/index.ts';
import { AgentConnection } from '../../../agent/src/connection/agent-connection.ts';
import { createSyntheticInput } from '../../../agent/src/input/synthetic-input.ts';
import { createLogger } from '../../../agent/src/log/logger.ts';
import { MediaSession } from '../../../agent/src/session/media-session.ts';
import { report, roleArgs } from '../lib/roles.ts';

const a = roleArgs<{ url: string; key: string; relay: 'auto' | 'force'; width: number; height: number; fps: number }>();
const log = createLogger({ level: 'error' });
const sink = createSyntheticInput();
const latencies: number[] = [];
sink.events.on('input', (m) => {
  if ('t' in m && typeof m.t === 'number') latencies.push(performance.timeOrigin + performance.now() - m.t);
});

const connection: AgentConnection = new AgentConnection({
  serverUrl: a.url,
  query: { agent_id: randomUUID(), name: 'Bench agent', machine_uid: `bench-${randomUUID()}`, kind: 'agent', version: '0.0.0', api_key: a.key },
  credential: 'key',
  log,
  handlers: {
    welcome: (w, resumed) => {
      media.onWelcome(w, resumed);
      report({ type: 'ready', sessionId: w.sessionId });
    },
    viewerJoined: (v) => media.onViewerJoined(v),
    viewerLeft: (id) => media.onViewerLeft(id),
    signal: (kind, msg) => media.onSignal(kind, msg),
    relayInput: (from, input) => media.onRelayInput(from, input),
    keyframeRequest: (from, reason) => media.onKeyframeRequest(from, reason),
    relayCredit: (viewerId, open) => media.onRelayCredit(viewerId, open),
    disconnected: () => media.onDisconnected(),
    fatal: (reason) => {
      report({ type: 'error', message: reason });
      process.exit(1);
    },
  },
});
const capture = await startCaptureWorker({ capture: { kind: 'synthetic', width: a.width, height: a.height, scene: 'desktop' }, pipeline: { quality: 70 } }, log);
const media = new MediaSession({
  source: capture.source,
  pipeline: capture.pipeline,
  sink,
  fps: a.fps,
  relayMode: a.relay,
  iceServersOverride: [],
  iceTransportPolicy: 'all',
  iceTimeoutMs: 3000, // the relay viewer never answers: fall back soon
  signalling: connection,
  log,
});
media.start();
connection.start();

let refusedBefore = 0;
process.on('message', (m: { type: string }) => {
  if (m.type === 'reset') {
    latencies.length = 0;
    refusedBefore = media.input.refusedTotal;
  }
  if (m.type === 'collect') report({ type: 'result', latencies, refused: media.input.refusedTotal - refusedBefore, refusedBy: Object.fromEntries(media.input.refused) });
});
