import { createHash, randomBytes as nodeRandomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';

/**
 * The agent's identity on this machine, generated once and kept in a 0600 file: a stable
 * `agent_id` and `machine_uid` (the server deduplicates un-keyed machines by uid). The uid is
 * SHA-256 of `/etc/machine-id` plus a per-install salt when the machine id is readable (stable
 * across re-installs of the state file only if the salt is kept; never reveals the machine id),
 * else random.
 */
export interface AgentState {
  version: 1;
  agentId: string;
  machineUid: string;
  salt: string;
  uidSource: 'machine-id' | 'random';
  createdAt: string;
}

const stateSchema = z.object({
  version: z.literal(1),
  agentId: z.string().regex(/^agent-[0-9a-f]{16}$/),
  machineUid: z.string().regex(/^[0-9a-f]{64}$/),
  salt: z.string().regex(/^[0-9a-f]{32}$/),
  uidSource: z.enum(['machine-id', 'random']),
  createdAt: z.string(),
});

export interface StateOptions {
  machineIdPath?: string;
  randomBytes?: (n: number) => Buffer;
  now?: () => number;
}

/** The state file exists but cannot be used; the message says what to do. */
export class StateFileError extends Error {}

export const STATE_FILE_MODE = 0o600;

async function readMachineId(path: string): Promise<string | null> {
  try {
    const id = (await readFile(path, 'utf8')).trim();
    return /^[0-9a-fA-F]{32}$/.test(id) ? id.toLowerCase() : null;
  } catch {
    return null;
  }
}

export function deriveMachineUid(machineId: string, salt: string): string {
  return createHash('sha256').update(`guruconnect-machine-uid\0${machineId}\0${salt}`).digest('hex');
}

/** Reads the state file, or creates it (and its directory) on first run. */
export async function loadOrCreateState(path: string, o: StateOptions = {}): Promise<AgentState> {
  let text: string | null = null;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new StateFileError(`cannot read the state file ${path}: ${(err as Error).message}`);
  }
  if (text !== null) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
    const state = stateSchema.safeParse(parsed);
    if (!state.success) throw new StateFileError(`the state file ${path} is damaged; move it away to let the agent create a new identity`);
    // Tighten a file someone loosened.
    if (((await stat(path)).mode & 0o077) !== 0) await chmod(path, STATE_FILE_MODE);
    return state.data;
  }

  const random = o.randomBytes ?? nodeRandomBytes;
  const salt = random(16).toString('hex');
  const machineId = await readMachineId(o.machineIdPath ?? '/etc/machine-id');
  const state: AgentState = {
    version: 1,
    agentId: `agent-${random(8).toString('hex')}`,
    machineUid: machineId ? deriveMachineUid(machineId, salt) : random(32).toString('hex'),
    salt,
    uidSource: machineId ? 'machine-id' : 'random',
    createdAt: new Date((o.now ?? Date.now)()).toISOString(),
  };
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${random(6).toString('hex')}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: STATE_FILE_MODE, flag: 'wx' });
  await rename(tmp, path);
  return state;
}
