import type { MediaPath } from '@guruconnect/shared/protocol';
import type { SessionKind } from '../db/stores/session-store.ts';

export interface LiveAgent {
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
  socketId: string;
  sessionId: string;
  userId: string;
  displayName: string;
  control: boolean;
  jti: string;
  parentJti: string;
  canChat: boolean;
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
export class Registry {
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
    return a;
  }

  addViewer(v: LiveViewer, kind: SessionKind, machineId: string | null): LiveSession {
    const s = this.#session(v.sessionId, kind, machineId);
    s.viewers.set(v.socketId, v);
    this.viewers.set(v.socketId, v);
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
    return v;
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

  /** Online (agent attached) or watched (viewers attached) sessions are never reaped or superseded. */
  isBusy(sessionId: string): boolean {
    const s = this.sessions.get(sessionId);
    return Boolean(s && (s.agent || s.viewers.size > 0));
  }
}
