// The agent stops, with a clear one-line message and a distinct exit code, when running on makes no
// sense: a bad command line (2), or a credential the server refuses (3) — never retrying forever.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgentKey, createSupportCode, login, revokeAgentKey } from '../support/api.ts';
import { spawnAgentRaw, startAgentProcess, type AgentProcess } from '../support/agent-process.ts';
import { exited, startServerProcess, type ServerProcess } from '../support/server-process.ts';

let server: ServerProcess;
let admin: string;
const agents: AgentProcess[] = [];

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

describe('agent exit codes', () => {
  it.each([
    ['no credential', ['--server', 'http://127.0.0.1:1']],
    ['a malformed support code', ['--server', 'http://127.0.0.1:1', '--code', '12ab56']],
    ['an unknown option', ['--server', 'http://127.0.0.1:1', '--code', '123456', '--turbo']],
    ['an invalid relay mode', ['--server', 'http://127.0.0.1:1', '--code', '123456', '--relay', 'maybe']],
  ])('exits 2 with a one-line message for %s', async (_what, argv) => {
    const child = spawnAgentRaw(argv);
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    expect(await exited(child)).toBe(2);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/^guru-agent: /);
  });

  it('exits 3 when the support code is refused, without retrying', async () => {
    const agent = start({ server: server.url, code: '000000' });
    expect(await agent.exit).toBe(3);
    expect(agent.plainStderr.join('\n')).toMatch(/support code was refused/);
    expect(agent.logs.filter((l) => l.msg === 'connecting')).toHaveLength(1);
  });

  it('exits 3 when a used support code is presented again', async () => {
    const code = await createSupportCode(server.url, admin);
    const first = start({ server: server.url, code });
    await first.sessionId();
    const second = start({ server: server.url, code });
    expect(await second.exit).toBe(3);
    await first.stop();
  });

  it('exits 3 after its key is revoked mid-session (the reconnect is refused)', async () => {
    const { id, key } = await createAgentKey(server.url, admin);
    const agent = start({ server: server.url, key });
    await agent.sessionId();
    await revokeAgentKey(server.url, admin, id);
    expect(await agent.exit).toBe(3);
    expect(agent.plainStderr.join('\n')).toMatch(/agent key was refused/);
    // Never the key itself, anywhere in its output.
    expect(agent.logs.map((l) => JSON.stringify(l)).join('\n') + agent.plainStderr.join('\n')).not.toContain(key.slice(4));
  });
});
