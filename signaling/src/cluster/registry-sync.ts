import type { Logger } from '../logging/logger.ts';
import type { LiveAgent, LiveViewer, Registry, RegistryChange } from '../sessions/registry.ts';
import type { ClusterBus } from './bus.ts';

const CHANNEL = 'registry';
const CHECK_MS = 2000;

type Wire =
  | RegistryChange
  | { kind: 'hello' }
  | { kind: 'snapshot'; to: string; agents: LiveAgent[]; viewers: Array<{ viewer: LiveViewer; sessionKind: 'support' | 'unattended'; machineId: string | null }> };

/**
 * Replicates the live registry between nodes: each node publishes changes to what it holds
 * and applies everyone else's, so every check (who is in which session, is it watched)
 * stays synchronous and local. A node whose heartbeat lapses is purged and its sessions settled.
 */
export function syncRegistry(d: { registry: Registry; bus: ClusterBus; logger: Logger; onNodeDead(node: string, dropped: { agents: LiveAgent[] }): Promise<void> }): () => void {
  const { registry, bus } = d;
  if (!bus.clustered) return () => undefined;
  const me = bus.nodeId;
  const mine = (node: string) => node === me;

  // Publish only what this node originated (paths are reported by the agent's node).
  registry.listeners.push((c) => {
    const origin = c.kind === 'agent-added' || c.kind === 'agent-removed' ? c.agent.node : c.kind === 'path' ? registry.sessions.get(c.sessionId)?.agent?.node : c.viewer.node;
    if (origin && mine(origin)) bus.publish(CHANNEL, c);
  });

  const apply = (c: RegistryChange) => {
    switch (c.kind) {
      case 'agent-added':
        registry.addAgent(c.agent);
        break;
      case 'agent-removed':
        registry.removeAgent(c.agent.socketId);
        break;
      case 'viewer-added':
        registry.addViewer(c.viewer, c.sessionKind, c.machineId);
        break;
      case 'viewer-removed':
        registry.removeViewer(c.viewer.socketId);
        break;
      case 'path':
        registry.setViewerPath(c.sessionId, c.viewerId, c.path);
        break;
    }
  };

  bus.subscribe(CHANNEL, (raw) => {
    const msg = raw as Wire;
    if (msg.kind === 'hello') {
      const agents = [...registry.agents.values()].filter((a) => mine(a.node));
      const viewers = [...registry.viewers.values()]
        .filter((v) => mine(v.node))
        .map((viewer) => ({ viewer, sessionKind: registry.sessions.get(viewer.sessionId)?.kind ?? 'unattended', machineId: registry.sessions.get(viewer.sessionId)?.machineId ?? null }));
      bus.publish(CHANNEL, { kind: 'snapshot', to: '*', agents, viewers });
      return;
    }
    if (msg.kind === 'snapshot') {
      for (const a of msg.agents) if (!registry.agents.has(a.socketId)) registry.addAgent(a);
      for (const v of msg.viewers) if (!registry.viewers.has(v.viewer.socketId)) registry.addViewer(v.viewer, v.sessionKind, v.machineId);
      return;
    }
    apply(msg);
  });
  bus.publish(CHANNEL, { kind: 'hello' });

  // Heartbeats live in Redis with a TTL; a node missing from the live set is dead.
  const timer = setInterval(() => {
    void bus
      .liveNodes()
      .then(async (live) => {
        const known = new Set([...registry.agents.values()].map((a) => a.node).concat([...registry.viewers.values()].map((v) => v.node)));
        for (const node of known) {
          if (mine(node) || live.includes(node)) continue;
          const dropped = registry.purgeNode(node);
          await d.onNodeDead(node, dropped);
        }
      })
      .catch((err: unknown) => d.logger.warn({ err }, 'cluster liveness check failed'));
  }, CHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
}
