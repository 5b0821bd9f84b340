import type { Logger } from '../logging/logger.ts';
import type { AuditEntry, AuditStore } from '../db/stores/audit-store.ts';

const MAX_STRING = 256;
/** Detail keys that must never be stored, whatever a call site passes. */
const SECRET_DETAIL_KEYS = /pass|token|secret|key|code|text|chat|authorization|ticket|sdp/i;
const ALLOWED_SECRETISH = new Set(['reason', 'keyId', 'keyName', 'codeId', 'textLength', 'errorCode']);

/** NUL and unpaired surrogates make PostgreSQL refuse the whole row (and the event would be lost). */
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const storable = (s: string) => s.replace(UNSTORABLE, '\uFFFD');

function clean(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return storable(value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return value;
  if (depth > 2) return undefined;
  if (Array.isArray(value)) return value.slice(0, 50).map((v) => clean(v, depth + 1));
  if (typeof value === 'object') return cleanDetails(value as Record<string, unknown>, depth + 1);
  return undefined;
}

function cleanDetails(details: Record<string, unknown>, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(details).slice(0, 30)) {
    if (SECRET_DETAIL_KEYS.test(k) && !ALLOWED_SECRETISH.has(k)) continue;
    const c = clean(v, depth);
    if (c !== undefined) out[storable(k.slice(0, 64))] = c;
  }
  return out;
}

/** Writes audit events. Never throws: a failed write is logged and the caller carries on. */
export class AuditLog {
  readonly #store: AuditStore;
  readonly #logger: Logger;
  /** Called after every successful write (metrics, IP blocking). */
  readonly listeners: Array<(entry: AuditEntry) => void> = [];

  constructor(store: AuditStore, logger: Logger) {
    this.#store = store;
    this.#logger = logger;
  }

  async record(entry: AuditEntry): Promise<void> {
    const safe: AuditEntry = {
      ...entry,
      actor: entry.actor === undefined || entry.actor === null ? null : storable(entry.actor.slice(0, MAX_STRING)),
      target: entry.target === undefined || entry.target === null ? null : storable(entry.target.slice(0, MAX_STRING)),
      details: cleanDetails(entry.details ?? {}),
    };
    try {
      await this.#store.insert(safe);
    } catch (err) {
      this.#logger.error({ err, auditType: entry.type }, 'audit write failed');
      return;
    }
    for (const listener of this.listeners) {
      try {
        listener(safe);
      } catch (err) {
        this.#logger.error({ err }, 'audit listener failed');
      }
    }
  }
}
