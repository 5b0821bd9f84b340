import { AppError } from '@guruconnect/shared/errors';
import type { MediaPath } from '@guruconnect/shared/protocol';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AgentKeys } from '../agent-keys/agent-keys.ts';
import type { MachineStore } from '../db/stores/machine-store.ts';
import type { SessionRecord, SessionStore } from '../db/stores/session-store.ts';
import type { Logger } from '../logging/logger.ts';
import type { AgentIdentity, ViewerIdentity } from '../planes/handshake-auth.ts';
import type { SupportCodes } from '../support-codes/support-codes.ts';
import type { Broadcaster } from './broadcaster.ts';
import type { LiveSession, Registry } from './registry.ts';

export interface Actor {
  userId: string | null;
  username: string;
  ip: string | null;
}

export interface SessionServiceDeps {
  registry: Registry;
  sessions: SessionStore;
  machines: MachineStore;
  supportCodes: SupportCodes;
  agentKeys: AgentKeys;
  audit: AuditLog;
  logger: Logger;
  broadcaster: Broadcaster;
  nodeId: string;
  staleSessionTtlS: number;
  now?: () => number;
}

/** The session lifecycle: agents and viewers coming and going, removal and the reaper. */
export class SessionService {
  readonly #d: SessionServiceDeps;
  /** Per machine: the tail of the attach chain, so one machine's handshakes attach one at a time. */
  readonly #attaching = new Map<string, Promise<unknown>>();

  constructor(d: SessionServiceDeps) {
    this.#d = d;
  }

  #at(): Date {
    return new Date((this.#d.now ?? Date.now)());
  }

  /**
   * After a restart: sessions held by nodes that are not alive come back offline (persistent)
   * or ended (support). Alone, that is every session; in a cluster, only dead nodes' sessions.
   */
  async restore(liveNodes: string[] = []): Promise<void> {
    const n = await this.#d.sessions.settleAfterRestart(this.#at(), liveNodes.filter((x) => x !== this.#d.nodeId));
    this.#d.logger.info({ settled: n }, 'sessions restored offline');
  }

  /** A node died: its agents are gone, its sessions go offline or end, watchers are told. */
  async nodeDied(node: string, dropped: { agents: Array<{ sessionId: string }> }): Promise<void> {
    const live = await this.#d.sessions.settleNode(this.#at(), node);
    for (const a of dropped.agents) {
      const s = this.#d.registry.sessions.get(a.sessionId);
      for (const v of s?.viewers.values() ?? []) if (v.node === this.#d.nodeId) this.#d.broadcaster.emit('viewer', v.socketId, 'agent:offline', { sessionId: a.sessionId });
    }
    this.#d.logger.warn({ node, settled: live }, 'cluster node died; its sessions settled');
  }

  async agentConnected(id: AgentIdentity, socketId: string, ip: string): Promise<LiveSession> {
    const uid = id.effectiveUid;
    // Two un-keyed handshakes with one uid can both pass the gate before either is live. The uid is
    // held from here on, synchronously, so the later one is denied — a collision never supersedes.
    if (uid && !this.#d.registry.reserveUid(uid, socketId)) throw new AppError('ERR_AGENT_UID_IN_USE', 'Another agent is connected with this machine id');
    try {
      // Two handshakes of one keyed machine (a reconnect racing its own retry) must not both pass
      // the "previous connection?" check while the other is still in the database: each attach of
      // a machine waits for the one before it, and the later one then supersedes the earlier.
      return await this.#oneAtATime(id.machineId, () => this.#attachAgent(id, socketId, ip));
    } catch (err) {
      if (uid) this.#d.registry.releaseUid(uid, socketId);
      throw err;
    }
  }

  async #oneAtATime<T>(key: string, run: () => Promise<T>): Promise<T> {
    const before = this.#attaching.get(key) ?? Promise.resolve();
    const mine = before.then(run, run);
    const tail = mine.catch(() => undefined);
    this.#attaching.set(key, tail);
    try {
      return await mine;
    } finally {
      if (this.#attaching.get(key) === tail) this.#attaching.delete(key);
    }
  }

  async #attachAgent(id: AgentIdentity, socketId: string, ip: string): Promise<LiveSession> {
    const { registry, sessions } = this.#d;
    const at = this.#at();
    // A keyed agent that reconnects while its old socket lingers takes over the connection.
    const previous = registry.agentForMachine(id.machineId);
    if (previous && previous.socketId !== socketId) {
      registry.removeAgent(previous.socketId);
      this.#d.broadcaster.disconnect('agent', previous.socketId, 'superseded');
    }
    let record: SessionRecord | null = null;
    if (id.credential === 'support_code') {
      record = await sessions.create({ machineId: id.machineId, kind: 'support', supportCodeId: id.supportCode?.id ?? null, nodeId: this.#d.nodeId }, at);
    } else {
      const existing = await sessions.listPersistentForMachine(id.machineId);
      for (const s of existing) {
        // A row still marked online with no live agent anywhere belongs to a dead node: take it over.
        const stale = !registry.sessions.get(s.id)?.agent;
        if (!record && (await sessions.reattach(s.id, this.#d.nodeId, at, stale))) {
          record = s;
          continue;
        }
        // Supersede older offline duplicates — only if still offline and nobody is watching.
        if (!registry.isBusy(s.id) && (await sessions.removeIfOffline(s.id, at))) {
          await this.#d.audit.record({ type: 'session_removed', actor: 'system', target: `session:${s.id}`, sessionId: s.id, details: { reason: 'superseded' } });
        }
      }
      record ??= await sessions.create({ machineId: id.machineId, kind: 'unattended', nodeId: this.#d.nodeId }, at);
    }
    const live = registry.addAgent({
      node: this.#d.nodeId,
      socketId,
      sessionId: record.id,
      machineId: id.machineId,
      keyId: id.keyId,
      effectiveUid: id.effectiveUid,
      supportCodeId: id.supportCode?.id ?? null,
      kind: record.kind,
      client: id.query.kind,
      name: id.query.name,
    });
    // Un-keyed and new machines were just written with this handshake's details; one write is enough.
    if (!id.machineWritten) await this.#d.machines.touch(id.machineId, { name: id.query.name, hostname: id.query.hostname ?? null, os: id.query.os ?? null, agentVersion: id.query.version ?? null }, at);
    await this.#d.audit.record({ type: 'session_started', actor: id.agentId, target: `machine:${id.machineId}`, sessionId: record.id, clientIp: ip, details: { kind: record.kind, credential: id.credential, client: id.query.kind } });
    this.#notify(live, 'online');
    return live;
  }

  async agentDisconnected(socketId: string, reason: string, ip: string | null): Promise<void> {
    const agent = this.#d.registry.removeAgent(socketId);
    if (!agent) return;
    const at = this.#at();
    const live = this.#d.registry.sessions.get(agent.sessionId);
    if (agent.kind === 'support') {
      await this.#d.sessions.end(agent.sessionId, at);
      if (agent.supportCodeId) await this.#d.supportCodes.complete(agent.supportCodeId);
      // A support session ends with its agent: its viewers go too.
      for (const v of live?.viewers.values() ?? []) {
        this.#d.broadcaster.emit('viewer', v.socketId, 'session:ended', { sessionId: agent.sessionId, reason: 'agent_left' });
        this.#d.broadcaster.disconnect('viewer', v.socketId, 'session_ended');
      }
    } else if (live?.agent) {
      // Another connection of this agent already took the session over: nothing went offline.
      return;
    } else {
      await this.#d.sessions.setOffline(agent.sessionId, at);
      for (const v of live?.viewers.values() ?? []) this.#d.broadcaster.emit('viewer', v.socketId, 'agent:offline', { sessionId: agent.sessionId });
    }
    await this.#d.machines.touch(agent.machineId, null, at);
    await this.#d.audit.record({ type: 'session_ended', actor: agent.name, target: `machine:${agent.machineId}`, sessionId: agent.sessionId, clientIp: ip, details: { reason: reason.slice(0, 64), kind: agent.kind } });
    this.#notifySession(agent.sessionId, agent.kind, agent.machineId, agent.kind === 'support' ? 'ended' : 'offline', live);
    this.#d.broadcaster.toConsoles({ viewers: true }, 'machine:status', { machineId: agent.machineId, online: false, name: agent.name, lastSeenAt: at.toISOString() });
  }

  /** The viewer's session must exist and be neither removed nor ended. */
  async assertJoinable(sessionId: string): Promise<SessionRecord> {
    const s = await this.#d.sessions.findById(sessionId);
    if (!s || s.removedAt || s.status === 'removed' || s.status === 'ended') throw new AppError('ERR_SESSION_NOT_FOUND', 'No such session');
    return s;
  }

  async viewerConnected(v: ViewerIdentity, socketId: string, record: SessionRecord, ip: string): Promise<LiveSession> {
    const live = this.#d.registry.addViewer(
      { node: this.#d.nodeId, socketId, sessionId: v.sessionId, userId: v.userId, displayName: v.displayName, control: v.control, jti: v.jti, parentJti: v.parentJti, canChat: v.canChat, relayAcks: v.relayAcks, path: null },
      record.kind,
      record.machineId,
    );
    if (live.agent) this.#d.broadcaster.emit('agent', live.agent.socketId, 'viewer:joined', { viewerId: socketId, userId: v.userId, displayName: v.displayName, control: v.control });
    await this.#d.audit.record({ type: 'viewer_joined', actorUserId: v.userId, actor: v.displayName, sessionId: v.sessionId, clientIp: ip, details: { control: v.control } });
    this.#notifySession(live.id, live.kind, live.machineId, live.agent ? 'online' : 'offline', live);
    return live;
  }

  async viewerDisconnected(socketId: string, reason: string, ip: string | null): Promise<void> {
    const v = this.#d.registry.removeViewer(socketId);
    if (!v) return;
    const live = this.#d.registry.sessions.get(v.sessionId);
    if (live?.agent) this.#d.broadcaster.emit('agent', live.agent.socketId, 'viewer:left', { viewerId: socketId });
    await this.#d.audit.record({ type: 'viewer_left', actorUserId: v.userId, actor: v.displayName, sessionId: v.sessionId, clientIp: ip, details: { reason: reason.slice(0, 64) } });
    if (live) this.#notifySession(live.id, live.kind, live.machineId, live.agent ? 'online' : 'offline', live);
  }

  async reportPath(agentSocketId: string, viewerId: string, path: MediaPath, reason: string | undefined, ip: string | null): Promise<void> {
    const agent = this.#d.registry.agents.get(agentSocketId);
    const live = agent && this.#d.registry.sessions.get(agent.sessionId);
    if (!agent || !live || !live.viewers.has(viewerId)) throw new AppError('ERR_SIGNAL_TARGET_UNKNOWN', 'No such viewer in this session');
    this.#d.registry.setViewerPath(live.id, viewerId, path);
    await this.#d.sessions.setPath(live.id, live.path);
    if (path === 'relay') {
      this.#d.logger.warn({ sessionId: live.id, reason }, 'session fell back to relay');
      await this.#d.audit.record({ type: 'relay_started', actor: agent.name, sessionId: live.id, clientIp: ip, details: { reason: reason ?? 'unspecified', viewerId } });
    }
    this.#notifySession(live.id, live.kind, live.machineId, 'online', live);
  }

  /** Admin removal of a session: soft delete, disconnect everyone. Idempotent. */
  async removeSession(id: string, actor: Actor): Promise<void> {
    const record = await this.#d.sessions.findById(id);
    if (!record) throw new AppError('ERR_SESSION_NOT_FOUND', 'No such session');
    const changed = await this.#d.sessions.markRemoved(id, actor.userId, this.#at());
    this.#disconnectSession(id, 'session_removed');
    if (changed) {
      await this.#d.audit.record({ type: 'session_removed', actorUserId: actor.userId, actor: actor.username, target: `session:${id}`, sessionId: id, clientIp: actor.ip });
      this.#notifySession(id, record.kind, record.machineId, 'removed', undefined);
    }
  }

  /** Admin removal of a machine: soft delete, revoke its keys, remove its sessions, disconnect. Idempotent. */
  async removeMachine(id: string, actor: Actor): Promise<void> {
    const machine = await this.#d.machines.findById(id);
    if (!machine) throw new AppError('ERR_MACHINE_NOT_FOUND', 'No such machine');
    const at = this.#at();
    const changed = await this.#d.machines.markRemoved(id, at);
    const revokedKeys = await this.#d.agentKeys.revokeForMachine(id);
    for (const s of await this.#d.sessions.listForMachine(id)) {
      await this.#d.sessions.markRemoved(s.id, actor.userId, at);
      this.#disconnectSession(s.id, 'machine_removed');
    }
    const agent = this.#d.registry.agentForMachine(id);
    if (agent) this.#d.broadcaster.disconnect('agent', agent.socketId, 'machine_removed');
    if (changed) {
      await this.#d.audit.record({ type: 'machine_removed', actorUserId: actor.userId, actor: actor.username, target: `machine:${id}`, clientIp: actor.ip, details: { revokedKeys: revokedKeys.length } });
      this.#d.broadcaster.toConsoles({ viewers: true }, 'machine:status', { machineId: id, online: false, name: machine.name, lastSeenAt: machine.lastSeenAt?.toISOString() ?? null, removed: true });
    }
  }

  /** Remove persistent sessions offline for longer than the TTL, never an online or watched one. */
  async reap(): Promise<string[]> {
    const at = this.#at();
    const cutoff = new Date(at.getTime() - this.#d.staleSessionTtlS * 1000);
    const reaped: string[] = [];
    for (const s of await this.#d.sessions.listStale(cutoff)) {
      if (this.#d.registry.isBusy(s.id)) continue;
      // The database re-checks offline && persistent && stale && not removed atomically.
      if (!(await this.#d.sessions.removeIfOffline(s.id, at, cutoff))) continue;
      // A viewer that attached while the row was being removed is sent away.
      this.#disconnectSession(s.id, 'session_reaped');
      reaped.push(s.id);
      await this.#d.audit.record({ type: 'session_removed', actor: 'reaper', target: `session:${s.id}`, sessionId: s.id, details: { reason: 'stale' } });
    }
    if (reaped.length) this.#d.logger.info({ count: reaped.length }, 'stale sessions reaped');
    return reaped;
  }

  #disconnectSession(id: string, reason: string): void {
    const live = this.#d.registry.sessions.get(id);
    if (!live) return;
    if (live.agent) this.#d.broadcaster.disconnect('agent', live.agent.socketId, reason);
    for (const v of live.viewers.values()) {
      this.#d.broadcaster.emit('viewer', v.socketId, 'session:ended', { sessionId: id, reason });
      this.#d.broadcaster.disconnect('viewer', v.socketId, reason);
    }
  }

  #notify(live: LiveSession, status: 'online'): void {
    this.#notifySession(live.id, live.kind, live.machineId, status, live);
    if (live.machineId && live.agent) {
      this.#d.broadcaster.toConsoles({ viewers: true }, 'machine:status', { machineId: live.machineId, online: true, name: live.agent.name, lastSeenAt: this.#at().toISOString() });
    }
  }

  #notifySession(id: string, kind: LiveSession['kind'], machineId: string | null, status: 'online' | 'offline' | 'ended' | 'removed', live: LiveSession | undefined): void {
    const viewers = [...(live?.viewers.values() ?? [])].map((v) => ({ userId: v.userId, displayName: v.displayName, control: v.control }));
    this.#d.broadcaster.toConsoles({ viewers: true }, 'session:update', { id, machineId, kind, status, path: live?.path ?? null, viewers });
  }
}
