/** Words for people for the reasons agents give when they refuse an update (`agent_update_rejected`). */
import { UPDATE_REJECT_REASONS, type AgentVersions, type UpdateRejectReason } from '@guruconnect/shared/protocol';

const WORDS: Record<UpdateRejectReason, string> = {
  bad_signature: 'Signature does not verify (tampered manifest or wrong signing key)',
  unknown_key: 'Signed by a key this agent does not trust',
  downgrade: 'Older than the version the agent runs',
  replay: 'An old manifest offered again',
  hash_mismatch: 'Download does not match the signed SHA-256',
  size_mismatch: 'Download does not have the signed size',
  tls_untrusted: 'Server certificate not trusted',
  min_version: 'Agent too old for this package (minimum version)',
  rolled_back: 'New version did not connect and was rolled back',
  invalid_manifest: 'Not a valid signed manifest',
  wrong_target: 'Manifest for another platform or channel',
  download_failed: 'Download failed',
  install_failed: 'Could not be installed',
};

/** Whether this reason means someone may be attacking the update channel (rather than a broken release or network). */
export function isSuspiciousReason(reason: string): boolean {
  return reason === 'bad_signature' || reason === 'unknown_key' || reason === 'replay' || reason === 'downgrade' || reason === 'tls_untrusted' || reason === 'hash_mismatch';
}

export function describeUpdateReason(reason: string): string {
  return (UPDATE_REJECT_REASONS as readonly string[]).includes(reason) ? WORDS[reason as UpdateRejectReason] : `Other reason (${reason})`;
}

export interface ReasonCount {
  reason: string;
  words: string;
  count: number;
  machines: number;
  suspicious: boolean;
}

/** Rejections grouped by reason: most frequent first, then by reason code. */
export function countRejections(rejections: AgentVersions['rejections']): ReasonCount[] {
  const by = new Map<string, { count: number; machines: Set<string> }>();
  for (const r of rejections) {
    const e = by.get(r.reason) ?? { count: 0, machines: new Set<string>() };
    e.count++;
    e.machines.add(r.machineId ?? r.machineName ?? 'unknown');
    by.set(r.reason, e);
  }
  return [...by]
    .map(([reason, e]) => ({ reason, words: describeUpdateReason(reason), count: e.count, machines: e.machines.size, suspicious: isSuspiciousReason(reason) }))
    .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
}

/** Share of live machines on each version, as whole percentages (the fleet table's bar). */
export function versionShares(versions: AgentVersions['versions']): Array<{ version: string; count: number; percent: number }> {
  const total = versions.reduce((n, v) => n + v.count, 0);
  return versions.map((v) => ({ version: v.version ?? 'unknown', count: v.count, percent: total === 0 ? 0 : Math.round((v.count / total) * 100) }));
}
