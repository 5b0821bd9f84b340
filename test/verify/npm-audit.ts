// `npm audit --omit=dev --json` for the report: high and critical advisories in what ships, each
// either fixed or explained in test/verify/audit-allow.json (package → reason). Anything else fails.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { REPO_ROOT } from './vitest-phase.ts';

export interface AuditResult {
  ran: boolean;
  error?: string;
  counts: Record<string, number>;
  /** High/critical packages: severity, whether explained, and the reason. */
  serious: Array<{ name: string; severity: string; explained: boolean; reason?: string; via: string }>;
  unexplained: number;
}

const ALLOW_FILE = new URL('./audit-allow.json', import.meta.url);

interface Advisory {
  severity?: string;
  via?: Array<string | { title?: string; url?: string }>;
}

export function runNpmAudit(): AuditResult {
  const allow = JSON.parse(readFileSync(ALLOW_FILE, 'utf8')) as { allow: Array<{ package: string; reason: string }> };
  const r = spawnSync('npm', ['audit', '--omit=dev', '--json'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
  let json: { metadata?: { vulnerabilities?: Record<string, number> }; vulnerabilities?: Record<string, Advisory>; message?: string; error?: { summary?: string } };
  try {
    json = JSON.parse(r.stdout) as typeof json;
  } catch {
    return { ran: false, error: `npm audit gave no JSON (exit ${r.status}): ${(r.stderr || r.error?.message || '').slice(0, 300)}`, counts: {}, serious: [], unexplained: 0 };
  }
  if (json.error || !json.metadata?.vulnerabilities) return { ran: false, error: json.message || json.error?.summary || 'npm audit: no metadata', counts: {}, serious: [], unexplained: 0 };
  const serious = Object.entries(json.vulnerabilities ?? {})
    .filter(([, a]) => a.severity === 'high' || a.severity === 'critical')
    .map(([name, a]) => {
      const reason = allow.allow.find((x) => x.package === name)?.reason;
      const via = (a.via ?? []).map((v) => (typeof v === 'string' ? v : (v.url ?? v.title ?? '?'))).join(', ');
      return { name, severity: a.severity!, explained: reason !== undefined, reason, via };
    });
  return { ran: true, counts: json.metadata.vulnerabilities, serious, unexplained: serious.filter((s) => !s.explained).length };
}
