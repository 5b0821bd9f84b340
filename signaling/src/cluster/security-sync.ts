import type { Services } from '../compose.ts';
import type { ClusterBus } from './bus.ts';

type SecurityWire =
  | { kind: 'tokens-revoked'; jtis: string[] }
  | { kind: 'user-revoked'; userId: string }
  | { kind: 'agent-key-revoked'; keyId: string }
  | { kind: 'block'; record: { ip: string; reason: string; blockedAt: string; expiresAt: string } }
  | { kind: 'unblock'; ip: string };

/**
 * Revocations and IP blocks made on one node reach every node within a pub/sub hop: each
 * node remembers them in memory (the database stays the durable record) and closes its own
 * sockets that used a revoked credential.
 */
export function shareSecurityState(bus: ClusterBus, s: Pick<Services, 'events' | 'revocations' | 'ipBlocker'>, maxTokenTtlS: number): void {
  if (!bus.clustered) return;
  let applyingRemote = false;
  const publish = (m: SecurityWire) => {
    if (!applyingRemote) bus.publish('security', m);
  };
  s.events.on('tokens-revoked', (jtis) => publish({ kind: 'tokens-revoked', jtis }));
  s.events.on('user-revoked', (userId) => publish({ kind: 'user-revoked', userId }));
  s.events.on('agent-key-revoked', (keyId) => publish({ kind: 'agent-key-revoked', keyId }));
  s.ipBlocker.listeners.push((e) =>
    publish(e.kind === 'block' ? { kind: 'block', record: { ...e.record, blockedAt: e.record.blockedAt.toISOString(), expiresAt: e.record.expiresAt.toISOString() } } : e),
  );
  bus.subscribe('security', (raw) => {
    const m = raw as SecurityWire;
    applyingRemote = true;
    try {
      switch (m.kind) {
        case 'tokens-revoked':
          s.revocations.remember(m.jtis.map((jti) => ({ jti, expiresAt: new Date(Date.now() + maxTokenTtlS * 1000) })));
          s.events.emit('tokens-revoked', m.jtis);
          break;
        case 'user-revoked':
          s.events.emit('user-revoked', m.userId);
          break;
        case 'agent-key-revoked':
          s.events.emit('agent-key-revoked', m.keyId);
          break;
        case 'block':
          s.ipBlocker.applyRemote({ kind: 'block', record: { ...m.record, blockedAt: new Date(m.record.blockedAt), expiresAt: new Date(m.record.expiresAt) } });
          break;
        case 'unblock':
          s.ipBlocker.applyRemote(m);
          break;
      }
    } finally {
      applyingRemote = false;
    }
  });
}
