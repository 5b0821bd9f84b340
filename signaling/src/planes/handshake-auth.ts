import type { IncomingMessage } from 'node:http';
import { AppError } from '@guruconnect/shared/errors';
import { PROTOCOL_VERSION } from '@guruconnect/shared/limits';
import {
  agentHandshakeQuerySchema,
  consoleHandshakeQuerySchema,
  supportCodeSchema,
  viewerHandshakeQuerySchema,
  type AgentHandshakeQuery,
} from '@guruconnect/shared/protocol';
import type { AgentKeys } from '../agent-keys/agent-keys.ts';
import type { MachineStore } from '../db/stores/machine-store.ts';
import type { SupportCodeRecord } from '../db/stores/support-code-store.ts';
import type { IdentityService } from '../identity/identity-service.ts';
import type { Principal } from '../identity/principal.ts';
import { TokenService } from '../identity/tokens.ts';
import type { SupportCodes } from '../support-codes/support-codes.ts';
import type { Registry } from '../sessions/registry.ts';
import { HandshakeRefusal } from './refusal.ts';

export type Plane = 'agent' | 'viewer' | 'console';

export interface AgentIdentity {
  plane: 'agent';
  query: AgentHandshakeQuery;
  /** The key's identity for keyed agents, else the claimed agent_id. */
  agentId: string;
  keyId: string | null;
  /** Keyed agents never carry a uid (dedup gate). */
  effectiveUid: string | null;
  machineId: string;
  supportCode: SupportCodeRecord | null;
  credential: 'key' | 'shared_key' | 'support_code';
  /** The machine row was written (created or upserted with this handshake's name/os/version) while authenticating. */
  machineWritten: boolean;
}

export interface ViewerIdentity {
  plane: 'viewer';
  sessionId: string;
  userId: string;
  displayName: string;
  control: boolean;
  jti: string;
  parentJti: string;
  canChat: boolean;
  /** Declared `relay_acks=1`: acknowledges relayed frames from the first one. */
  relayAcks: boolean;
}

export interface ConsoleIdentity {
  plane: 'console';
  principal: Principal;
}

export type PlaneIdentity = AgentIdentity | ViewerIdentity | ConsoleIdentity;

export interface HandshakeDeps {
  identity: IdentityService;
  agentKeys: AgentKeys;
  supportCodes: SupportCodes;
  machines: MachineStore;
  registry: Registry;
  allowedOrigins: readonly string[];
  now?: () => number;
}

function parse<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }, query: Record<string, string>): T {
  if (query.protocol !== undefined && query.protocol !== String(PROTOCOL_VERSION)) {
    throw new HandshakeRefusal('ERR_PROTOCOL_VERSION', `Protocol ${PROTOCOL_VERSION} required`, { audit: 'connection_rejected_protocol', countsAsFailure: false });
  }
  const r = schema.safeParse(query);
  if (!r.success) throw new HandshakeRefusal('ERR_VALIDATION', 'Malformed handshake query', { audit: 'connection_rejected_no_auth' });
  if (query.protocol === undefined) throw new HandshakeRefusal('ERR_PROTOCOL_VERSION', `Protocol ${PROTOCOL_VERSION} required`, { audit: 'connection_rejected_protocol', countsAsFailure: false });
  return r.data;
}

/** Browser planes: a foreign Origin is cross-site WebSocket hijacking. No Origin = not a browser. */
function checkOrigin(req: IncomingMessage, allowed: readonly string[]): void {
  const origin = req.headers.origin;
  if (origin !== undefined && !allowed.includes(origin)) {
    throw new HandshakeRefusal('ERR_AUTH_ORIGIN_FORBIDDEN', 'Origin not allowed', { audit: 'connection_rejected_origin', details: { origin: origin.slice(0, 200) } });
  }
}

/** Translate identity errors into handshake refusals with their audit type. */
function asTokenRefusal(err: unknown): never {
  if (err instanceof HandshakeRefusal) throw err;
  const code = err instanceof AppError ? err.code : 'ERR_AUTH_INVALID_TOKEN';
  throw new HandshakeRefusal(code === 'ERR_AUTH_FORBIDDEN' ? 'ERR_AUTH_FORBIDDEN' : err instanceof AppError && err.status === 401 ? code : 'ERR_AUTH_INVALID_TOKEN', 'Invalid credential', { audit: 'connection_rejected_invalid_token' });
}

export async function authenticateViewer(req: IncomingMessage, query: Record<string, string>, d: HandshakeDeps): Promise<ViewerIdentity> {
  checkOrigin(req, d.allowedOrigins);
  if (!query.token) throw new HandshakeRefusal('ERR_AUTH_REQUIRED', 'Viewer token required', { audit: 'connection_rejected_no_auth' });
  const q = parse(viewerHandshakeQuerySchema, query);
  const claims = await d.identity.verifyViewerToken(q.token).catch(asTokenRefusal);
  if (claims.session_id !== q.session_id) {
    throw new HandshakeRefusal('ERR_SESSION_WRONG_SESSION', 'This token is for another session', { audit: 'connection_rejected_wrong_session' });
  }
  return {
    plane: 'viewer',
    sessionId: q.session_id,
    userId: claims.user.id,
    displayName: claims.user.displayName,
    control: claims.control && (claims.user.role === 'admin' || claims.user.permissions.includes('control')),
    jti: claims.jti,
    parentJti: claims.parent_jti,
    canChat: claims.user.role === 'admin' || claims.user.permissions.includes('chat'),
    relayAcks: q.relay_acks === '1',
  };
}

export async function authenticateConsole(req: IncomingMessage, query: Record<string, string>, d: HandshakeDeps): Promise<ConsoleIdentity> {
  checkOrigin(req, d.allowedOrigins);
  if (!query.ticket) throw new HandshakeRefusal('ERR_AUTH_REQUIRED', 'Console ticket required', { audit: 'connection_rejected_no_auth' });
  const q = parse(consoleHandshakeQuerySchema, query);
  const principal = await d.identity.redeemConsoleTicket(q.ticket).catch(asTokenRefusal);
  return { plane: 'console', principal };
}

export async function authenticateAgent(query: Record<string, string>, d: HandshakeDeps): Promise<AgentIdentity> {
  if (!query.support_code && !query.api_key) throw new HandshakeRefusal('ERR_AUTH_REQUIRED', 'support_code or api_key required', { audit: 'connection_rejected_no_auth' });
  const q = parse(agentHandshakeQuerySchema, query);
  const meta = { name: q.name, hostname: q.hostname ?? null, os: q.os ?? null, agentVersion: q.version ?? null };
  const at = new Date((d.now ?? Date.now)());

  if (q.api_key !== undefined) {
    const invalidKey = () => new HandshakeRefusal('ERR_AGENT_KEY_INVALID', 'Unknown or revoked agent key', { audit: 'connection_rejected_invalid_api_key' });
    // There is no JWT branch on the agent plane.
    if (TokenService.looksLikeJwt(q.api_key)) throw invalidKey();
    const key = await d.agentKeys.resolve(q.api_key);
    if (!key) throw invalidKey();
    if (key.kind === 'key') {
      let machineId = key.machineId;
      let machineWritten = false;
      if (machineId) {
        const machine = await d.machines.findById(machineId);
        if (!machine || machine.removedAt) {
          throw new HandshakeRefusal('ERR_AGENT_MACHINE_UNRESOLVED', 'The machine of this key cannot be resolved', { audit: 'connection_rejected_unresolved_machine', countsAsFailure: false });
        }
      } else {
        const created = (await d.machines.create({ ...meta, keyed: true }, at)).id;
        const bound = await d.agentKeys.bindMachine(key.keyId, created);
        if (bound === created) {
          machineId = created;
          machineWritten = true;
        } else {
          // Another first handshake of this key bound its machine a moment earlier: join that one
          // (the session service then lets the later connection supersede the earlier).
          await d.machines.discard(created);
          if (!bound) throw invalidKey();
          machineId = bound;
        }
      }
      return { plane: 'agent', query: q, agentId: `key:${key.keyId}`, keyId: key.keyId, effectiveUid: null, machineId, supportCode: null, credential: 'key', machineWritten };
    }
    // Deprecated shared key: un-keyed, identified by its uid.
    if (!q.machine_uid) throw new HandshakeRefusal('ERR_VALIDATION', 'machine_uid is required with the shared agent key', { audit: 'connection_rejected_no_auth' });
    const machine = await resolveUnkeyed(q, meta, at, d);
    return { plane: 'agent', query: q, agentId: q.agent_id, keyId: null, effectiveUid: q.machine_uid, machineId: machine, supportCode: null, credential: 'shared_key', machineWritten: true };
  }

  const code = q.support_code!;
  if (!supportCodeSchema.safeParse(code).success) {
    throw new HandshakeRefusal('ERR_SUPPORT_CODE_INVALID', 'Invalid support code', { audit: 'connection_rejected_invalid_code' });
  }
  const claimed = await d.supportCodes.claim(code);
  if (!claimed) {
    const why = await d.supportCodes.explainRefusal(code);
    throw new HandshakeRefusal(why.code, 'This support code cannot be used', { audit: why.audit });
  }
  const machineId = await resolveUnkeyed(q, meta, at, d);
  return { plane: 'agent', query: q, agentId: q.agent_id, keyId: null, effectiveUid: q.machine_uid ?? null, machineId, supportCode: claimed, credential: 'support_code', machineWritten: true };
}

/** Un-keyed agents upsert by uid; a uid that is live elsewhere is refused (a collision can deny, never hijack). */
async function resolveUnkeyed(q: AgentHandshakeQuery, meta: Parameters<MachineStore['create']>[0] extends infer M ? Omit<M & object, 'keyed'> : never, at: Date, d: HandshakeDeps): Promise<string> {
  if (!q.machine_uid) return (await d.machines.create({ ...meta, keyed: false }, at)).id;
  // Checked before the upsert, so a colliding agent cannot even rename the live machine.
  if (d.registry.hasLiveAgentForUid(q.machine_uid)) {
    throw new HandshakeRefusal('ERR_AGENT_UID_IN_USE', 'Another agent is connected with this machine id', { audit: 'connection_rejected_uid_in_use', countsAsFailure: false });
  }
  return (await d.machines.upsertByUid(q.machine_uid, meta, at)).id;
}
