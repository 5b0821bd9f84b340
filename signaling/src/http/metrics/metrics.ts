import { Counter, Gauge, Registry as PromRegistry, collectDefaultMetrics } from 'prom-client';
import type { Registry } from '../../sessions/registry.ts';
import type { RelayHub } from '../../relay/relay-hub.ts';
import type { MediaRelay } from '../../media/media-relay.ts';

/** Prometheus metrics of one node. Gauges are computed from live state at scrape time. */
export function createMetrics(d: { registry: Registry; relay: RelayHub; media?: MediaRelay; nodeId: string }) {
  const reg = new PromRegistry();
  reg.setDefaultLabels({ node: d.nodeId });
  // Includes nodejs_eventloop_lag_* and process memory.
  collectDefaultMetrics({ register: reg });
  const local = <T extends { node: string }>(xs: Iterable<T>) => [...xs].filter((x) => x.node === d.nodeId);
  new Gauge({
    name: 'guru_connected_sockets',
    help: 'Sockets connected to this node, by plane',
    labelNames: ['plane'],
    registers: [reg],
    collect() {
      this.set({ plane: 'agent' }, local(d.registry.agents.values()).length);
      this.set({ plane: 'viewer' }, local(d.registry.viewers.values()).length);
      this.set({ plane: 'console' }, d.registry.consoles.size);
    },
  });
  new Gauge({
    name: 'guru_sessions',
    help: 'Live sessions whose agent is on this node, by media path',
    labelNames: ['path'],
    registers: [reg],
    collect() {
      const counts = { p2p: 0, relay: 0, none: 0 };
      for (const a of local(d.registry.agents.values())) counts[d.registry.sessions.get(a.sessionId)?.path ?? 'none']++;
      for (const [path, n] of Object.entries(counts)) this.set({ path }, n);
    },
  });
  new Gauge({ name: 'guru_relay_bytes_forwarded', help: 'Bytes the relay wrote to viewers (since start)', registers: [reg], collect() { this.set(d.relay.bytesForwarded + (d.media?.bytesForwarded ?? 0)); } });
  new Gauge({ name: 'guru_relay_frames_dropped', help: 'Frames the relay dropped for slow viewers (since start)', registers: [reg], collect() { this.set(d.relay.framesDropped + (d.media?.framesDropped ?? 0)); } });
  new Gauge({ name: 'guru_relay_queued_bytes', help: 'Bytes queued for viewers now', registers: [reg], collect() { this.set(d.relay.totalQueuedBytes() + (d.media?.queuedBytes ?? 0)); } });
  const refusals = new Counter({ name: 'guru_handshake_refusals_total', help: 'Handshakes refused, by error code', labelNames: ['plane', 'code'], registers: [reg] });
  const loginFailures = new Counter({ name: 'guru_login_failures_total', help: 'Failed sign-ins', registers: [reg] });
  return { registry: reg, refusals, loginFailures };
}

export type Metrics = ReturnType<typeof createMetrics>;
