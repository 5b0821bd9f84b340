// An unattended agent's key need not sit on its command line, where every local user can read it
// in the process list: `--key-file` (mode 0600 only) and `GURU_AGENT_KEY` carry it instead.
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgentKey, getSession, login } from '../support/api.ts';
import { startAgentProcess, type AgentProcess } from '../support/agent-process.ts';
import { startServerProcess, type ServerProcess } from '../support/server-process.ts';

let server: ServerProcess;
let admin: string;
const agents: AgentProcess[] = [];
const dir = mkdtempSync(join(tmpdir(), 'guru-keyfile-'));

beforeAll(async () => {
  server = await startServerProcess();
  admin = await login(server.url);
});
afterAll(async () => {
  await Promise.allSettled(agents.map((a) => a.stop()));
  await server?.stop();
});

function start(o: Parameters<typeof startAgentProcess>[0]): AgentProcess {
  const a = startAgentProcess(o);
  agents.push(a);
  return a;
}

function keyFile(name: string, key: string, mode: number): string {
  const path = join(dir, name);
  writeFileSync(path, `${key}\n`);
  chmodSync(path, mode);
  return path;
}

describe('agent key outside the command line', () => {
  it('connects with --key-file, and the key is nowhere in its command line', async () => {
    const { key } = await createAgentKey(server.url, admin, 'key-file-pc');
    const agent = start({ server: server.url, keyFile: keyFile('agent.key', key, 0o600) });
    const sessionId = await agent.sessionId(30_000);
    expect((await getSession(server.url, admin, sessionId))?.status).toBe('online');
    const cmdline = readFileSync(`/proc/${agent.pid}/cmdline`, 'utf8');
    expect(cmdline).toContain('--key-file');
    expect(cmdline).not.toContain(key);
    expect(cmdline).not.toMatch(/cak_/);
  });

  it('connects with GURU_AGENT_KEY when no credential is on the command line', async () => {
    const { key } = await createAgentKey(server.url, admin, 'env-key-pc');
    const agent = start({ server: server.url, env: { GURU_AGENT_KEY: key } });
    await agent.sessionId(30_000);
    expect(readFileSync(`/proc/${agent.pid}/cmdline`, 'utf8')).not.toMatch(/cak_/);
  });

  it('exits 2 on a key file that group or others can read, without echoing the key', async () => {
    const { key } = await createAgentKey(server.url, admin, 'open-key-pc');
    const agent = start({ server: server.url, keyFile: keyFile('open.key', key, 0o644) });
    expect(await agent.exit).toBe(2);
    const stderr = agent.plainStderr.join('\n');
    expect(stderr).toMatch(/chmod 600/);
    expect(stderr).not.toContain(key);
  });
});
