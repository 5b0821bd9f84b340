// Every update decision goes to the server as `POST /api/agent/update-report`. Reports wait in an
// outbox file first, so a rollback decided by a version that cannot reach the server is
// delivered later by the version that can.
import { z } from 'zod';
import { UPDATE_REPORT_DETAIL_MAX_LENGTH, updateReportSchema, type UpdateReport } from '@guruconnect/shared/protocol';
import { silentLogger, type Logger } from '../log/logger.ts';
import { requestSmall } from './https-transfer.ts';
import { readJson, writeJsonAtomic } from './install-layout.ts';
import { resolveTransportPolicy, type Env, type TlsCa } from './tls-policy.ts';

export interface UpdateReporter {
  /** Queue a report and try to deliver everything queued. Never throws. */
  report(r: UpdateReport): Promise<void>;
}

/** A reporter that drops everything (an agent without an agent key cannot report). */
export const noReporter: UpdateReporter = { report: () => Promise.resolve() };

/** Reports kept while the server is unreachable; older ones are dropped first. */
export const OUTBOX_MAX_REPORTS = 50;
/** The same rejection (reason, version, issuedAt) is reported at most once in this window. */
export const REPEAT_REPORT_WINDOW_MS = 24 * 60 * 60 * 1000;
const REPORT_TIMEOUT_MS = 15_000;

const outboxSchema = z.object({
  queue: z.array(updateReportSchema),
  recent: z.array(z.object({ fingerprint: z.string().max(256), at: z.number() })),
});
type Outbox = z.infer<typeof outboxSchema>;

/** Control and format characters and unpaired surrogates replaced, length capped, as the server's schema demands. */
export function cleanDetail(s: string): string {
  // Cut first: a cut may split a surrogate pair, and the replace then removes the lone half.
  return s.slice(0, UPDATE_REPORT_DETAIL_MAX_LENGTH).replace(/[\p{Cc}\p{Cf}\p{Cs}]/gu, ' ');
}

const fingerprint = (r: UpdateReport) => (r.outcome === 'rejected' ? `${r.reason}|${r.toVersion ?? ''}|${r.issuedAt ?? ''}|${r.fromVersion}` : null);

export interface HttpReporterOptions {
  serverUrl: string;
  /** `cak_…`; sent as `Authorization: AgentKey cak_…`. */
  agentKey: string;
  ca?: TlsCa;
  env?: Env;
  logger?: Logger;
  /** Where undelivered reports wait (`installPaths(root).outbox`); in memory when omitted. */
  outboxPath?: string;
  now?: () => number;
}

export interface HttpReporter extends UpdateReporter {
  /** Deliver what is queued; resolves to the number still waiting. */
  flush(): Promise<number>;
}

export function createHttpReporter(o: HttpReporterOptions): HttpReporter {
  const log = o.logger ?? silentLogger;
  const now = o.now ?? Date.now;
  const policy = resolveTransportPolicy({ ca: o.ca, env: o.env, logger: log });
  const url = new URL('/api/agent/update-report', o.serverUrl);
  let memory: Outbox = { queue: [], recent: [] };
  // One operation at a time: the outbox is read, changed and written whole.
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = chain.then(fn, fn);
    chain = next.catch(() => undefined);
    return next;
  };

  const load = async (): Promise<Outbox> => {
    if (!o.outboxPath) return memory;
    try {
      return (await readJson(o.outboxPath, outboxSchema)) ?? { queue: [], recent: [] };
    } catch (err) {
      log.warn('update report outbox unreadable; starting a new one', { err });
      return { queue: [], recent: [] };
    }
  };
  const save = async (box: Outbox) => {
    if (!o.outboxPath) memory = box;
    else await writeJsonAtomic(o.outboxPath, box);
  };

  /** 'sent' and 'drop' remove the report; 'retry' keeps it and stops this flush. */
  const deliver = async (r: UpdateReport): Promise<'sent' | 'drop' | 'retry'> => {
    try {
      const res = await requestSmall(url, {
        method: 'POST',
        headers: { authorization: `AgentKey ${o.agentKey}`, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(r),
        policy,
        maxBytes: 4096,
        timeoutMs: REPORT_TIMEOUT_MS,
      });
      if (res.status >= 200 && res.status < 300) return 'sent';
      // A refused report (bad key, malformed) will never be accepted; keep only what may pass later.
      if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
        log.warn('update report refused by the server', { status: res.status, outcome: r.outcome });
        return 'drop';
      }
      return 'retry';
    } catch (err) {
      log.debug('update report not delivered; will retry', { err });
      return 'retry';
    }
  };

  const flushLocked = async (): Promise<number> => {
    const box = await load();
    let sent = 0;
    while (box.queue.length > 0) {
      const outcome = await deliver(box.queue[0]!);
      if (outcome === 'retry') break;
      box.queue.shift();
      sent++;
    }
    if (sent > 0) await save(box);
    return box.queue.length;
  };

  return {
    flush: () => serial(flushLocked).catch(() => -1),
    report: (raw) =>
      serial(async () => {
        const r = raw.outcome === 'rejected' && raw.detail !== undefined ? { ...raw, detail: cleanDetail(raw.detail) } : raw;
        const box = await load();
        const t = now();
        box.recent = box.recent.filter((e) => t - e.at < REPEAT_REPORT_WINDOW_MS);
        const fp = fingerprint(r);
        if (fp && box.recent.some((e) => e.fingerprint === fp)) {
          log.debug('update rejection already reported recently', { reason: r.outcome === 'rejected' ? r.reason : undefined });
        } else {
          if (fp) box.recent = [...box.recent, { fingerprint: fp, at: t }].slice(-OUTBOX_MAX_REPORTS);
          box.queue = [...box.queue, r].slice(-OUTBOX_MAX_REPORTS);
          await save(box);
        }
        await flushLocked();
      }).catch((err: unknown) => log.warn('update report could not be queued', { err })),
  };
}
