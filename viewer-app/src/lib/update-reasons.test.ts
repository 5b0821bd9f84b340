import { describe, expect, it } from 'vitest';
import { UPDATE_REJECT_REASONS } from '@guruconnect/shared/protocol';
import { countRejections, describeUpdateReason, isSuspiciousReason, versionShares } from './update-reasons.ts';

const MACHINE_A = '00000000-0000-4000-8000-00000000000a';
const MACHINE_B = '00000000-0000-4000-8000-00000000000b';
const rejection = (reason: string, machineId: string | null) => ({
  at: '2026-03-01T12:00:00.000Z',
  machineId,
  machineName: machineId ? `pc-${machineId.slice(-1)}` : null,
  reason,
  fromVersion: '1.0.0',
  toVersion: '1.1.0',
  detail: null,
  clientIp: '192.0.2.1',
});

describe('update rejection words and counts', () => {
  it('has words for every reason an agent can report, and says so for an unknown one', () => {
    for (const r of UPDATE_REJECT_REASONS) expect(describeUpdateReason(r)).not.toMatch(/Other reason/);
    expect(describeUpdateReason('made_up')).toBe('Other reason (made_up)');
  });

  it('flags the reasons that point at an attack on the update channel, not at a broken release', () => {
    expect(['bad_signature', 'unknown_key', 'replay', 'downgrade', 'tls_untrusted', 'hash_mismatch'].every(isSuspiciousReason)).toBe(true);
    expect(['rolled_back', 'download_failed', 'install_failed', 'min_version'].some(isSuspiciousReason)).toBe(false);
  });

  it('groups rejections by reason, most frequent first, counting distinct machines', () => {
    const counts = countRejections([rejection('bad_signature', MACHINE_A), rejection('rolled_back', MACHINE_A), rejection('bad_signature', MACHINE_B), rejection('bad_signature', MACHINE_A), rejection('replay', null)]);
    expect(counts.map((c) => [c.reason, c.count, c.machines, c.suspicious])).toEqual([
      ['bad_signature', 3, 2, true],
      ['replay', 1, 1, true],
      ['rolled_back', 1, 1, false],
    ]);
    expect(countRejections([])).toEqual([]);
  });

  it('turns version groups into shares of the fleet', () => {
    const versions = [
      { version: '1.1.0', count: 3, machines: [] },
      { version: null, count: 1, machines: [] },
    ];
    expect(versionShares(versions)).toEqual([
      { version: '1.1.0', count: 3, percent: 75 },
      { version: 'unknown', count: 1, percent: 25 },
    ]);
    expect(versionShares([])).toEqual([]);
  });
});
