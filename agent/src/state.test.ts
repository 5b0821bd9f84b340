import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deriveMachineUid, loadOrCreateState, StateFileError } from './state.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'agent-state-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('agent state file', () => {
  it('is created once with mode 0600 in a 0700 directory, and read back unchanged', async () => {
    const path = join(dir, 'nested', 'agent-state.json');
    const first = await loadOrCreateState(path, { machineIdPath: join(dir, 'missing') });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'nested')).mode & 0o777).toBe(0o700);
    const second = await loadOrCreateState(path, { machineIdPath: join(dir, 'missing') });
    expect(second).toEqual(first);
    expect(first.agentId).toMatch(/^agent-[0-9a-f]{16}$/);
    expect(first.machineUid).toMatch(/^[0-9a-f]{64}$/);
  });

  it('derives the uid from /etc/machine-id and the install salt, never storing the machine id', async () => {
    const machineIdPath = join(dir, 'machine-id');
    const machineId = '0123456789abcdef0123456789abcdef';
    writeFileSync(machineIdPath, `${machineId}\n`);
    const path = join(dir, 's.json');
    const s = await loadOrCreateState(path, { machineIdPath });
    expect(s.uidSource).toBe('machine-id');
    expect(s.machineUid).toBe(deriveMachineUid(machineId, s.salt));
    expect(readFileSync(path, 'utf8')).not.toContain(machineId);
    // Another install on the same machine gets another uid.
    const other = await loadOrCreateState(join(dir, 'other.json'), { machineIdPath });
    expect(other.machineUid).not.toBe(s.machineUid);
  });

  it('falls back to a random uid when the machine id is unreadable', async () => {
    const s = await loadOrCreateState(join(dir, 's.json'), { machineIdPath: join(dir, 'nope') });
    expect(s.uidSource).toBe('random');
  });

  it('refuses a damaged file instead of silently replacing the identity', async () => {
    const path = join(dir, 's.json');
    writeFileSync(path, '{"version":1');
    await expect(loadOrCreateState(path)).rejects.toBeInstanceOf(StateFileError);
  });

  it('tightens a state file someone made readable by others', async () => {
    const path = join(dir, 's.json');
    await loadOrCreateState(path, { machineIdPath: join(dir, 'nope') });
    chmodSync(path, 0o644);
    await loadOrCreateState(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });
});
