// Fault: a viewer's network dies mid-session. Two ways: the viewer's process is killed (the kernel
// closes its connection), and the viewer's TCP connection is reset under a live socket.io
// session (RST, no WebSocket close frame). Either way the server cleans up by itself: the agent
// (a real process) hears `viewer:left`, the session lists no viewer, `viewer_left` is audited.
import type { Socket as NetSocket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRole, type Role } from '../bench/lib/roles.ts';
import { startScenario, type Scenario } from '../support/scenario.ts';
import { ADMIN_PASSWORD, ADMIN_USER } from '../support/server-process.ts';
import { waitUntil } from '../support/wait.ts';
import { allAuditEvents, recordFaultFigures } from './support.ts';

let sc: Scenario;
const roles: Role[] = [];
const cleanedUp: string[] = [];

beforeAll(async () => {
  sc = await startScenario();
});
afterAll(async () => {
  await Promise.allSettled(roles.map((r) => r.stop()));
  await sc?.stop();
});

async function expectCleanedUp(viewerId: string, how: string): Promise<void> {
  await sc.agent.waitForLog((l) => l.msg === 'viewer left' && l.viewerId === viewerId, 60_000, `the agent told that ${how} viewer left`);
  await waitUntil(async () => (await sc.session())?.viewers.length === 0, 30_000, 'the session to list no viewer', 200);
  const left = await waitUntil(async () => (await allAuditEvents(sc.server.url, sc.adminToken, { type: 'viewer_left', session: sc.sessionId })).length > cleanedUp.length, 30_000, 'viewer_left audited', 200);
  expect(left).toBe(true);
  expect((await sc.session())?.status).toBe('online');
  cleanedUp.push(how);
}

describe('a viewer whose network drops', () => {
  it('is cleaned up when its process is killed', async () => {
    const role = startRole(new URL('./roles/viewer.ts', import.meta.url), { url: sc.server.url, sessionId: sc.sessionId, username: ADMIN_USER, password: ADMIN_PASSWORD });
    roles.push(role);
    const { viewerId } = await role.next<{ viewerId: string }>('joined', 60_000);
    await waitUntil(async () => (await sc.session())?.viewers.length === 1, 30_000, 'the viewer listed', 200);
    await sc.agent.waitForLog((l) => l.msg === 'viewer joined' && l.viewerId === viewerId, 30_000, 'the agent told of the viewer');

    role.child.kill('SIGKILL');
    await expectCleanedUp(viewerId, 'a killed');
  }, 120_000);

  it('is cleaned up when its TCP connection is reset under a live session', async () => {
    const v = await sc.join({ forceRelay: true, decode: false });
    await sc.agent.waitForLog((l) => l.msg === 'viewer joined' && l.viewerId === v.viewerId, 30_000, 'the agent told of the viewer');
    const tcp = (v.socket.io.engine.transport as unknown as { ws?: { _socket?: NetSocket } }).ws?._socket;
    expect(tcp, 'the viewer runs on a real TCP socket').toBeDefined();
    tcp!.resetAndDestroy();
    await expectCleanedUp(v.viewerId, 'a reset');

    const viewers = (await allAuditEvents(sc.server.url, sc.adminToken, { type: 'viewer_left', session: sc.sessionId })).length;
    expect(viewers).toBe(2);
    await recordFaultFigures('viewerDrop', { dropped: cleanedUp.length, cleanedUp: cleanedUp.length, viewerLeftAudited: viewers, ways: cleanedUp });
  }, 120_000);
});
