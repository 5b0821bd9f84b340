import type { MediaPath } from '@guruconnect/shared/protocol';
import type { SessionKind } from '../db/stores/session-store.ts';

export interface LiveAgent {
  /** The node holding the socket. */
  node: string;
  socketId: string;
  sessionId: string;
  machineId: string;
  keyId: string | null;
  effectiveUid: string | null;
  supportCodeId: string | null;
  kind: SessionKind;
  client: 'agent' | 'browser';
  name: string;
}

export interface LiveViewer {
  node: string;
  socketId: string;
  sessionId: string;
  userId: string;
  displayName: string;
  control: boolean;
  jti: string;
  parentJti: string;
  canChat: boolean;
  /** The viewer acknowledges relayed frames from the first one (`relay_acks=1`): credit from the start. */
  relayAcks?: boolean;
  /** The media path this viewer's agent reported for it. */
  path: MediaPath | null;
}

export interface LiveConsole {
  socketId: string;
  userId: string;
  loginJti: string;
  canView: boolean;
  isAdmin: boolean;
}

export interface LiveSession {
  id: string;
  kind: SessionKind;
  machineId: string | null;
  agent: LiveAgent | null;
  viewers: Map<string, LiveViewer>;
  path: MediaPath | null;
}

/**
 * What this process holds live: agents, viewers and consoles by socket, and sessions that
 * have an agent or viewers. Every method is synchronous, so a check and the change it
 * guards never have an `await` between them.
 */
export type RegistryChange =
  | { kind: 'agent-added'; agent: LiveAgent }
  | { kind: 'agent-removed'; agent: LiveAgent }
  | { kind: 'viewer-added'; viewer: LiveViewer; sessionKind: SessionKind; machineId: string | null }
  | { kind: 'viewer-removed'; viewer: LiveViewer }
  | { kind: 'path'; sessionId: string; viewerId: string; path: MediaPath | null };

export class Registry {
  /** Told about every change (cluster replication). */
  readonly listeners: Array<(c: RegistryChange) => void> = [];

  #changed(c: RegistryChange): void {
    for (const l of this.listeners) l(c);
  }

  readonly sessions = new Map<string, LiveSession>();
  readonly agents = new Map<string, LiveAgent>();
  readonly viewers = new Map<string, LiveViewer>();
  readonly consoles = new Map<string, LiveConsole>();
  readonly #agentByMachine = new Map<string, string>();
  readonly #agentByUid = new Map<string, string>();

  #session(id: string, kind: SessionKind, machineId: string | null): LiveSession {
    let s = this.sessions.get(id);
    if (!s) {
      s = { id, kind, machineId, agent: null, viewers: new Map(), path: null };
      this.sessions.set(id, s);
    }
    return s;
  }

  addAgent(a: LiveAgent): LiveSession {
    const s = this.#session(a.sessionId, a.kind, a.machineId);
    s.machineId = a.machineId;
    s.agent = a;
    this.agents.set(a.socketId, a);
    this.#agentByMachine.set(a.machineId, a.socketId);
    if (a.effectiveUid) this.#agentByUid.set(a.effectiveUid, a.socketId);
    this.#changed({ kind: 'agent-added', agent: a });
    return s;
  }

  removeAgent(socketId: string): LiveAgent | undefined {
    const a = this.agents.get(socketId);
    if (!a) return undefined;
    this.agents.delete(socketId);
    if (this.#agentByMachine.get(a.machineId) === socketId) this.#agentByMachine.delete(a.machineId);
    if (a.effectiveUid && this.#agentByUid.get(a.effectiveUid) === socketId) this.#agentByUid.delete(a.effectiveUid);
    const s = this.sessions.get(a.sessionId);
    if (s && s.agent?.socketId === socketId) {
      s.agent = null;
      s.path = null;
      this.#dropIfIdle(s);
    }
    this.#changed({ kind: 'agent-removed', agent: a });
    return a;
  }

  addViewer(v: LiveViewer, kind: SessionKind, machineId: string | null): LiveSession {
    const s = this.#session(v.sessionId, kind, machineId);
    s.viewers.set(v.socketId, v);
    this.viewers.set(v.socketId, v);
    this.#changed({ kind: 'viewer-added', viewer: v, sessionKind: kind, machineId });
    return s;
  }

  removeViewer(socketId: string): LiveViewer | undefined {
    const v = this.viewers.get(socketId);
    if (!v) return undefined;
    this.viewers.delete(socketId);
    const s = this.sessions.get(v.sessionId);
    if (s) {
      s.viewers.delete(socketId);
      this.#dropIfIdle(s);
    }
    this.#changed({ kind: 'viewer-removed', viewer: v });
    return v;
  }

  /** Record the media path of one viewer; the session's path is relay if any viewer relays. */
  setViewerPath(sessionId: string, viewerId: string, path: MediaPath | null): LiveSession | undefined {
    const live = this.sessions.get(sessionId);
    const v = live?.viewers.get(viewerId);
    if (!live || !v) return undefined;
    v.path = path;
    const paths = [...live.viewers.values()].map((x) => x.path);
    live.path = paths.includes('relay') ? 'relay' : paths.includes('p2p') ? 'p2p' : null;
    this.#changed({ kind: 'path', sessionId, viewerId, path });
    return live;
  }

  /** Forget everything a (dead) node held. Returns what was dropped. */
  purgeNode(node: string): { agents: LiveAgent[]; viewers: LiveViewer[] } {
    const agents = [...this.agents.values()].filter((a) => a.node === node);
    const viewers = [...this.viewers.values()].filter((v) => v.node === node);
    for (const a of agents) this.removeAgent(a.socketId);
    for (const v of viewers) this.removeViewer(v.socketId);
    return { agents, viewers };
  }

  #dropIfIdle(s: LiveSession): void {
    if (!s.agent && s.viewers.size === 0) this.sessions.delete(s.id);
  }

  agentForMachine(machineId: string): LiveAgent | undefined {
    const id = this.#agentByMachine.get(machineId);
    return id ? this.agents.get(id) : undefined;
  }

  hasLiveAgentForMachine(machineId: string): boolean {
    return this.#agentByMachine.has(machineId);
  }

  hasLiveAgentForUid(uid: string): boolean {
    return this.#agentByUid.has(uid);
  }

  /** Hold a machine_uid for a connecting agent until `addAgent`; false when another socket holds it. */
  reserveUid(uid: string, socketId: string): boolean {
    const holder = this.#agentByUid.get(uid);
    if (holder !== undefined && holder !== socketId) return false;
    this.#agentByUid.set(uid, socketId);
    return true;
  }

  /** Give up a reservation that never became a live agent. */
  releaseUid(uid: string, socketId: string): void {
    if (this.#agentByUid.get(uid) === socketId && !this.agents.has(socketId)) this.#agentByUid.delete(uid);
  }

  /** Online (agent attached) or watched (viewers attached) sessions are never reaped or superseded. */
  isBusy(sessionId: string): boolean {
    const s = this.sessions.get(sessionId);
    return Boolean(s && (s.agent || s.viewers.size > 0));
  }
}
