// Test-only: one server process + one agent process + viewers, and the checks every scenario shares.
import { expect } from 'vitest';
import { createAgentKey, getSession, login, type SessionInfo } from './api.ts';
import { startAgentProcess, type AgentProcess, type AgentProcessOptions } from './agent-process.ts';
import { ADMIN_PASSWORD, ADMIN_USER, startServerProcess, type ServerProcess, type ServerProcessOptions } from './server-process.ts';
import { ViewerClient, type FrameEvent, type ViewerClientOptions } from './viewer-client.ts';
import { waitUntil } from './wait.ts';

export interface Scenario {
  server: ServerProcess;
  adminToken: string;
  agent: AgentProcess;
  sessionId: string;
  /** When the scenario started (before the agent): no capture can be older. */
  startedAt: number;
  viewers: ViewerClient[];
  join(o?: Partial<ViewerClientOptions>): Promise<ViewerClient>;
  session(): Promise<SessionInfo | undefined>;
  /** Waits until `GET /api/sessions` reports this path for the session. */
  waitForPath(path: 'p2p' | 'relay', timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface ScenarioOptions {
  /** Extra agent CLI arguments. */
  agentArgs?: string[];
  server?: ServerProcessOptions;
  /** Run against this already started server (kept running on `stop`) instead of a new one. */
  reuseServer?: ServerProcess;
  agent?: Partial<AgentProcessOptions>;
}

export async function startScenario(o: ScenarioOptions = {}): Promise<Scenario> {
  const startedAt = Date.now();
  const server = o.reuseServer ?? (await startServerProcess(o.server));
  const stopServer = () => (o.reuseServer ? Promise.resolve() : server.stop());
  let agent: AgentProcess | null = null;
  try {
    const adminToken = await login(server.url);
    const { key } = await createAgentKey(server.url, adminToken);
    agent = startAgentProcess({ server: server.url, key, args: o.agentArgs, ...o.agent });
    const sessionId = await agent.sessionId();
    const viewers: ViewerClient[] = [];
    const sc: Scenario = {
      server,
      adminToken,
      agent,
      sessionId,
      startedAt,
      viewers,
      async join(vo = {}) {
        const v = await ViewerClient.join({ baseUrl: server.url, sessionId, username: ADMIN_USER, password: ADMIN_PASSWORD, ...vo });
        viewers.push(v);
        return v;
      },
      session: () => getSession(server.url, adminToken, sessionId),
      async waitForPath(path, timeoutMs = 20_000) {
        await waitUntil(async () => (await sc.session())?.path === path, timeoutMs, `session path ${path}`, 200);
      },
      async stop() {
        await Promise.allSettled(viewers.map((v) => v.close()));
        await agent!.stop();
        await stopServer();
      },
    };
    return sc;
  } catch (err) {
    await agent?.stop();
    await stopServer();
    throw err;
  }
}

/** The next `n` decoded frames of a viewer. */
export function collectFrames(v: ViewerClient, n: number, timeoutMs = 30_000, predicate: (f: FrameEvent) => boolean = () => true): Promise<FrameEvent[]> {
  return new Promise((resolve, reject) => {
    const frames: FrameEvent[] = [];
    const t = setTimeout(() => {
      off();
      reject(new Error(`got ${frames.length} of ${n} frames in ${timeoutMs} ms (path ${v.stats.path})`));
    }, timeoutMs);
    const off = v.onFrame((f) => {
      if (!predicate(f)) return;
      frames.push(f);
      if (frames.length < n) return;
      clearTimeout(t);
      off();
      resolve(frames);
    });
  });
}

/**
 * The content check: every decoded picture carries the synthetic source's stamp, the stamp read
 * back from the pixels equals the frame header (so the pixels are the ones captured), sequence
 * numbers only advance, and capture times lie between the scenario start and the arrival.
 */
export function expectStampedFrames(frames: FrameEvent[], startedAt: number): void {
  expect(frames.length).toBeGreaterThan(1);
  let prev: FrameEvent | null = null;
  for (const f of frames) {
    expect(f.stamp, `frame ${f.seq} has a readable stamp`).not.toBeNull();
    expect(f.stamp!.seq).toBe(f.seq);
    expect(Math.abs(f.stamp!.captureTsMs - f.captureTsMs)).toBeLessThanOrEqual(1);
    expect(f.captureTsMs).toBeGreaterThanOrEqual(startedAt);
    expect(f.captureTsMs).toBeLessThanOrEqual(f.receivedAtMs);
    // Plausible, not a target: a loaded CI machine may be slow, but never minutes late.
    expect(f.receivedAtMs - f.captureTsMs).toBeLessThan(15_000);
    if (prev) {
      expect(f.seq).toBeGreaterThan(prev.seq);
      expect(f.captureTsMs).toBeGreaterThanOrEqual(prev.captureTsMs);
    }
    prev = f;
  }
}
