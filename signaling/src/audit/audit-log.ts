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

/** Most events written in one statement. */
const MAX_BATCH = 200;

interface Pending {
  entry: AuditEntry;
  done: () => void;
}

/**
 * Writes audit events. Never throws: a failed write is logged and the caller carries on.
 * `record` resolves once its event is stored. Events recorded while a write is in flight (a burst
 * of handshakes) are written together in one multi-row insert when the store supports it (group
 * commit); if that insert fails, each event of the batch is retried alone, so one bad row cannot
 * lose the others.
 */
export class AuditLog {
  readonly #store: AuditStore;
  readonly #logger: Logger;
  /** Called after every successful write (metrics, IP blocking). */
  readonly listeners: Array<(entry: AuditEntry) => void> = [];
  readonly #queue: Pending[] = [];
  #writing = false;

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
    if (!this.#store.insertMany) return this.#writeOne(safe);
    await new Promise<void>((done) => {
      this.#queue.push({ entry: safe, done });
      if (!this.#writing) void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    this.#writing = true;
    try {
      // Events recorded in the same synchronous turn join the first batch (no timer: fake clocks stay safe).
      await Promise.resolve();
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, MAX_BATCH);
        let stored = false;
        if (batch.length > 1) {
          try {
            await this.#store.insertMany!(batch.map((p) => p.entry));
            stored = true;
          } catch (err) {
            this.#logger.warn({ err, events: batch.length }, 'audit batch write failed; writing events one by one');
          }
        }
        for (const p of batch) {
          if (stored) this.#notify(p.entry);
          else await this.#writeOne(p.entry);
          p.done();
        }
      }
    } finally {
      this.#writing = false;
    }
  }

  async #writeOne(safe: AuditEntry): Promise<void> {
    try {
      await this.#store.insert(safe);
    } catch (err) {
      this.#logger.error({ err, auditType: safe.type }, 'audit write failed');
      return;
    }
    this.#notify(safe);
  }

  #notify(safe: AuditEntry): void {
    for (const listener of this.listeners) {
      try {
        listener(safe);
      } catch (err) {
        this.#logger.error({ err }, 'audit listener failed');
      }
    }
  }
}
