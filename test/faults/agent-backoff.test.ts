// Fault: the agent's server disappears (killed, port closed) and comes back a few seconds later
// on the same port. The agent (a real process) backs off exponentially — every retry waits at
// least as long as the one before, as its debug log says — and reconnects by itself to the same
// session, without exiting.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgentKey, login } from '../support/api.ts';
import { startAgentProcess, type AgentProcess } from '../support/agent-process.ts';
import { fullRun } from '../support/figures.ts';
import { startServerProcess, type ServerProcess } from '../support/server-process.ts';
import { recordFaultFigures } from './support.ts';

/** Retries to watch fail before the server comes back (≈ 0.5 + 1 + 2 + … s of backoff). */
const FAILED_RETRIES = fullRun() ? 6 : 3;

let server: ServerProcess;
let agent: AgentProcess | undefined;

beforeAll(async () => {
  server = await startServerProcess();
});
afterAll(async () => {
  await agent?.stop();
  await server?.stop();
});

describe('the agent when its server disappears', () => {
  it('backs off with growing intervals while the server is gone and reconnects by itself', async () => {
    const admin = await login(server.url);
    const { key } = await createAgentKey(server.url, admin);
    agent = startAgentProcess({ server: server.url, key });
    const sessionId = await agent.sessionId(60_000);
    const before = agent.logs.length;

    await server.kill('SIGKILL');
    const retries = () => agent!.logs.slice(before).filter((l) => l.msg === 'reconnecting');
    // Down until the agent has failed this many retries (event-driven, not a fixed pause).
    await agent.waitForLog(() => retries().length >= FAILED_RETRIES + 1, 120_000, `${FAILED_RETRIES + 1} reconnect attempts`);
    const failedConnects = agent.logs.slice(before).filter((l) => l.msg === 'connection failed');
    expect(failedConnects.length).toBeGreaterThanOrEqual(FAILED_RETRIES);

    await server.start();
    const resumed = await agent.waitForLog((l) => l.msg === 'session welcome' && l.resumed === true, 120_000, 'the agent back');
    expect(resumed.sessionId).toBe(sessionId);
    expect(agent.child.exitCode).toBeNull();

    // Equal-jitter exponential backoff: attempt n+1 never waits less than attempt n, the
    // attempts are counted up, and the delay stays under the 30 s cap.
    const seen = retries();
    const delays = seen.map((l) => Number(l.inMs));
    expect(seen.map((l) => Number(l.attempt))).toEqual(seen.map((_, i) => i + 1));
    for (let i = 1; i < delays.length; i++) expect(delays[i]).toBeGreaterThanOrEqual(delays[i - 1]!);
    expect(delays[delays.length - 1]!).toBeGreaterThanOrEqual(delays[0]! * 4);
    expect(Math.max(...delays)).toBeLessThanOrEqual(30_000);

    await recordFaultFigures('agentBackoff', { retriesWhileDown: seen.length, retryDelaysMs: delays, reconnected: true });
  }, 180_000);
});
