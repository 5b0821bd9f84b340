// A technician without `control` gets a view-only session (badge, nothing sent, nothing applied);
// an admin bulk-removes two machines with confirmation and per-machine results, and the
// technician's dashboard drops them live.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { io } from 'socket.io-client';
import { createAgentKey, createUser, login } from '../support/api.ts';
import { startAgentProcess, type AgentProcess } from '../support/agent-process.ts';
import { ADMIN_PASSWORD, ADMIN_USER } from '../support/server-process.ts';
import { sleep } from '../support/wait.ts';
import { ConsoleWatch, ensureAppBuilt, launchChromium, screenshot, signIn, startAppServer, waitForCanvas, type AppServer } from './support.ts';

let server: AppServer;
let agent: AgentProcess;
let browser: Browser;
let tech: Page;
let admin: Page;
let sessionId: string;
let agentKey: string;
const consoleWatch = new ConsoleWatch();

/** A scripted keyed agent that connects once and leaves: an offline machine named `name`. */
async function offlineMachine(baseUrl: string, adminToken: string, name: string): Promise<void> {
  const { key } = await createAgentKey(baseUrl, adminToken, `key ${name}`);
  const socket = io(baseUrl, { path: '/ws/agent', transports: ['websocket'], reconnection: false, query: { api_key: key, agent_id: `scripted-${name.replace(/\W/g, '')}`, name, protocol: '1' } });
  await new Promise<void>((resolve, reject) => {
    socket.once('session:welcome', () => resolve());
    socket.once('connect_error', reject);
  });
  socket.disconnect();
}

beforeAll(async () => {
  await ensureAppBuilt();
  server = await startAppServer();
  const adminToken = await login(server.url);
  const { key } = await createAgentKey(server.url, adminToken);
  agentKey = key;
  agent = startAgentProcess({ server: server.url, key, args: ['--name', 'Front desk'] });
  sessionId = await agent.sessionId();
  await offlineMachine(server.url, adminToken, 'Old laptop');
  await offlineMachine(server.url, adminToken, 'Old desktop');
  const watcher = await createUser(server.url, adminToken, 'watcher', ['view', 'chat']);
  browser = await launchChromium();
  tech = await consoleWatch.newPage(await browser.newContext({ viewport: { width: 1280, height: 720 } }), 'view-only technician');
  admin = await consoleWatch.newPage(await browser.newContext({ viewport: { width: 1280, height: 720 } }), 'admin');
  await signIn(tech, server.url, watcher.username, watcher.password);
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await agent?.stop();
  await server?.stop();
});

describe('view-only technician and admin machine removal', () => {
  it('shows a technician without control only what they may use', async () => {
    await tech.locator('[data-testid="machine-table"] tr', { hasText: 'Front desk' }).getByText('Online').waitFor();
    expect(await tech.getByRole('heading', { name: 'Support codes' }).count()).toBe(0);
    expect(await tech.getByRole('link', { name: 'Administration' }).count()).toBe(0);
  });

  it('opens a view-only session: picture yes, input no', async () => {
    await tech.getByRole('button', { name: 'Open Front desk' }).click();
    await tech.waitForURL(`${server.url}/session/${sessionId}`);
    await waitForCanvas(tech, (p) => p.colours > 8 && p.stamp !== null, 'the picture');
    await tech.getByTestId('view-only-badge').waitFor();
    const sent: string[] = [];
    tech.on('websocket', (ws) => ws.on('framesent', (f) => typeof f.payload === 'string' && f.payload.includes('relay:input') && sent.push(f.payload)));
    const box = (await tech.getByTestId('remote-canvas').boundingBox())!;
    await tech.mouse.click(box.x + 50, box.y + 50);
    await tech.keyboard.type('no');
    await tech.getByText('Special keys').click();
    expect(await tech.getByRole('button', { name: 'Ctrl + Alt + Del' }).isDisabled()).toBe(true);
    await sleep(1500);
    expect(agent.logs.filter((l) => l.msg === 'input applied')).toEqual([]);
    expect(sent).toEqual([]);
    await screenshot(tech, 'session-view-only');
    await tech.getByRole('button', { name: 'Leave session' }).click();
    await tech.waitForURL(`${server.url}/`);
  });

  it('lets an admin remove two machines at once, after confirming, with a result per machine', async () => {
    const techTable = tech.getByTestId('machine-table');
    await techTable.getByText('Old laptop').waitFor();
    await techTable.getByText('Old desktop').waitFor();
    await signIn(admin, server.url, ADMIN_USER, ADMIN_PASSWORD);
    await admin.getByRole('link', { name: 'Administration' }).click();
    await admin.getByRole('link', { name: 'Machines' }).click();
    await admin.waitForURL(`${server.url}/admin/machines`);
    await admin.getByLabel('Select Old laptop').check();
    await admin.getByLabel('Select Old desktop').check();
    await admin.getByRole('button', { name: 'Remove selected (2)' }).click();
    const dialog = admin.getByRole('alertdialog');
    await dialog.getByText('Remove 2 machines?').waitFor();
    await screenshot(admin, 'admin-machines-confirm');
    // The list reload after a removal is held back: removed rows must go with the results, not with the reload.
    await admin.route('**/api/machines', async (route) => {
      if (route.request().method() === 'GET') await sleep(1500);
      await route.continue();
    });
    await dialog.getByRole('button', { name: 'Yes, remove' }).click();
    const results = admin.getByTestId('removal-results');
    await results.getByText('Old laptop: removed').waitFor();
    await results.getByText('Old desktop: removed').waitFor();
    const table = admin.getByTestId('admin-machine-table');
    await table.getByText('Front desk').waitFor();
    expect(await table.getByText('Old laptop').count()).toBe(0);
    expect(await table.getByText('Old desktop').count()).toBe(0);
    await admin.unroute('**/api/machines');
    // The technician's dashboard drops them live over the console plane.
    await techTable.getByText('Old laptop').waitFor({ state: 'detached', timeout: 10_000 });
    await techTable.getByText('Old desktop').waitFor({ state: 'detached', timeout: 10_000 });
    await techTable.getByText('Front desk').waitFor();
  });

  it('shows every admin page; a new agent key is shown once with a copy button', async () => {
    await admin.getByRole('link', { name: 'Users' }).click();
    await admin.getByTestId('user-table').locator('tr[data-username="watcher"]').waitFor();
    await admin.getByRole('link', { name: 'Agent keys' }).click();
    await admin.getByLabel('Name').fill('Warehouse PC');
    await admin.getByRole('button', { name: 'Create key' }).click();
    expect(await admin.getByTestId('new-key-value').textContent()).toMatch(/^cak_/);
    await admin.getByRole('button', { name: /^Copy key/ }).waitFor();
    await admin.getByRole('button', { name: 'I have saved it — hide the key' }).click();
    expect(await admin.getByTestId('new-key-value').count()).toBe(0);
    await admin.getByRole('link', { name: 'Audit log' }).click();
    await admin.getByTestId('audit-table').getByText('machine removed').first().waitFor();
    await admin.getByLabel('Event').selectOption('viewer_joined');
    await admin.getByRole('button', { name: 'Apply filters' }).click();
    await admin.getByTestId('audit-table').getByText('viewer joined').first().waitFor();
    expect(await admin.getByTestId('audit-table').getByText('machine removed').count()).toBe(0);
    await screenshot(admin, 'admin-audit');
    await admin.getByRole('link', { name: 'Failed connections' }).click();
    await admin.getByRole('heading', { name: 'Failed connections by address' }).waitFor();
    await admin.getByRole('link', { name: 'Blocked addresses' }).click();
    await admin.getByText('No address is blocked.').waitFor();
    // Agent versions: the fleet by version, and an update the agent refused, in words, with its reason code.
    const refused = await fetch(`${server.url}/api/agent/update-report`, {
      method: 'POST',
      headers: { authorization: `AgentKey ${agentKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ outcome: 'rejected', reason: 'bad_signature', platform: 'linux-x64', channel: 'stable', fromVersion: '0.1.0', runningVersion: '0.1.0', toVersion: '0.2.0', decidedAt: new Date().toISOString() }),
    });
    expect(refused.status).toBe(200);
    await admin.getByRole('link', { name: 'Agent versions' }).click();
    await admin.waitForURL(`${server.url}/admin/versions`);
    await admin.getByTestId('version-table').locator('tr[data-version="0.1.0"]', { hasText: 'Front desk' }).waitFor();
    await admin.getByTestId('rejection-table').locator('tr[data-reason="bad_signature"]', { hasText: 'Signature does not verify' }).waitFor();
    await admin.getByTestId('rejection-reasons').getByText('1 time on 1 machine').waitFor();
    await admin.getByTestId('applied-table').getByText('No applied updates.').waitFor();
    await screenshot(admin, 'admin-agent-versions');
    expect(consoleWatch.errors).toEqual([]);
  });
});
