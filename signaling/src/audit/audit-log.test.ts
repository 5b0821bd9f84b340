import { describe, expect, it } from 'vitest';
import type { AuditEntry, AuditStore } from '../db/stores/audit-store.ts';
import { createLogger } from '../logging/logger.ts';
import { AuditLog } from './audit-log.ts';

const logger = createLogger({ level: 'silent' });
const entry = (n: number): AuditEntry => ({ type: 'session_started', actor: `agent-${n}`, clientIp: '127.0.0.1' });

/** A store that records its calls; `failBatch` makes multi-row inserts fail, `bad` makes one actor's row fail. */
function fakeStore(o: { batches?: boolean; failBatch?: boolean; bad?: string } = {}) {
  const rows: string[] = [];
  const calls: Array<'insert' | `insertMany:${number}`> = [];
  const store: AuditStore = {
    async insert(e) {
      calls.push('insert');
      await Promise.resolve();
      if (e.actor === o.bad) throw new Error('row refused');
      rows.push(e.actor!);
    },
    list: () => Promise.resolve([]),
    failureGroups: () => Promise.resolve([]),
  };
  if (o.batches !== false) {
    store.insertMany = async (es) => {
      calls.push(`insertMany:${es.length}`);
      await new Promise((r) => setTimeout(r, 5));
      if (o.failBatch || es.some((e) => e.actor === o.bad)) throw new Error('batch refused');
      rows.push(...es.map((e) => e.actor!));
    };
  }
  return { store, rows, calls };
}

describe('AuditLog group commit', () => {
  it('writes events recorded together in one multi-row insert, in order, each resolving once stored', async () => {
    const { store, rows, calls } = fakeStore();
    const log = new AuditLog(store, logger);
    const heard: string[] = [];
    log.listeners.push((e) => heard.push(e.actor!));
    const resolvedWith: number[] = [];
    await Promise.all([1, 2, 3, 4].map((n) => log.record(entry(n)).then(() => resolvedWith.push(rows.length))));
    expect(calls).toEqual(['insertMany:4']);
    expect(rows).toEqual(['agent-1', 'agent-2', 'agent-3', 'agent-4']);
    expect(heard).toEqual(rows);
    // Nobody was told "recorded" before the row existed.
    expect(resolvedWith.every((n) => n === 4)).toBe(true);
  });

  it('batches what arrives while a write is in flight', async () => {
    const { store, rows, calls } = fakeStore();
    const log = new AuditLog(store, logger);
    const first = log.record(entry(1));
    const second = log.record(entry(2));
    await new Promise((r) => setTimeout(r, 1));
    const later = [3, 4, 5].map((n) => log.record(entry(n)));
    await Promise.all([first, second, ...later]);
    expect(calls).toEqual(['insertMany:2', 'insertMany:3']);
    expect(rows).toEqual(['agent-1', 'agent-2', 'agent-3', 'agent-4', 'agent-5']);
  });

  it('retries a failed batch row by row, so one bad event does not lose the others', async () => {
    const { store, rows, calls } = fakeStore({ bad: 'agent-2' });
    const log = new AuditLog(store, logger);
    const heard: string[] = [];
    log.listeners.push((e) => heard.push(e.actor!));
    await Promise.all([1, 2, 3].map((n) => log.record(entry(n))));
    expect(calls).toEqual(['insertMany:3', 'insert', 'insert', 'insert']);
    expect(rows).toEqual(['agent-1', 'agent-3']);
    expect(heard).toEqual(['agent-1', 'agent-3']);
  });

  it('writes one by one for a store without multi-row inserts', async () => {
    const { store, rows, calls } = fakeStore({ batches: false });
    const log = new AuditLog(store, logger);
    await Promise.all([1, 2].map((n) => log.record(entry(n))));
    expect(calls).toEqual(['insert', 'insert']);
    expect(rows).toEqual(['agent-1', 'agent-2']);
  });

  it('still strips secrets from details before writing a batch', async () => {
    const written: AuditEntry[] = [];
    const { store } = fakeStore();
    store.insertMany = (es) => {
      written.push(...es);
      return Promise.resolve();
    };
    const log = new AuditLog(store, logger);
    await Promise.all([log.record({ ...entry(1), details: { token: 'not-for-the-audit-trail', reason: 'ok' } }), log.record(entry(2))]);
    expect(written[0]!.details).toEqual({ reason: 'ok' });
  });
});
