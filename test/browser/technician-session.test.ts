// A technician in real Chromium: signs in, sees the agent's machine online, opens it, gets the
// agent's synthetic screen on the canvas (P2P), controls it, chats, and leaves. Real server
// process serving the built app, real agent process.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { createAgentKey, getSession, login } from '../support/api.ts';
import { startAgentProcess, type AgentProcess } from '../support/agent-process.ts';
import { ADMIN_PASSWORD, ADMIN_USER } from '../support/server-process.ts';
import { waitUntil } from '../support/wait.ts';
import { ConsoleWatch, ensureAppBuilt, launchChromium, probeCanvas, screenshot, signIn, startAppServer, waitForCanvas, type AppServer } from './support.ts';

let server: AppServer;
let agent: AgentProcess;
let browser: Browser;
let page: Page;
let adminToken: string;
let sessionId: string;
let agentKey: string;
const consoleWatch = new ConsoleWatch();

beforeAll(async () => {
  await ensureAppBuilt();
  server = await startAppServer();
  adminToken = await login(server.url);
  agentKey = (await createAgentKey(server.url, adminToken)).key;
  agent = startAgentProcess({ server: server.url, key: agentKey, args: ['--name', 'Reception PC'] });
  sessionId = await agent.sessionId();
  browser = await launchChromium();
  page = await consoleWatch.newPage(await browser.newContext({ viewport: { width: 1280, height: 720 } }), 'technician');
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await agent?.stop();
  await server?.stop();
});

const inputApplied = (type: string) => agent.waitForLog((l) => l.msg === 'input applied' && l.type === type, 15_000, `agent applied ${type}`);

describe('technician views and controls a machine', () => {
  it('says in words when the password is wrong', async () => {
    // A refused sign-in is a 401, which Chromium logs as a failed resource load.
    const watch = new ConsoleWatch([/^Failed to load resource: the server responded with a status of 401/]);
    const other = await watch.newPage(page.context(), 'wrong-password');
    await other.goto(`${server.url}/login`);
    await other.getByLabel('Username').fill(ADMIN_USER);
    await other.getByLabel('Password').fill('not-the-password');
    await other.getByRole('button', { name: 'Sign in' }).click();
    await other.getByRole('alert').getByText('Wrong username or password.').waitFor();
    expect(watch.errors).toEqual([]);
    await other.close();
  });

  it('signs in and sees the machine online on the dashboard', async () => {
    await signIn(page, server.url, ADMIN_USER, ADMIN_PASSWORD);
    const row = page.locator('[data-testid="machine-table"] tr', { hasText: 'Reception PC' });
    await row.getByTestId('machine-status').getByText('Online').waitFor();
    await page.getByTestId('console-status').getByText('Live').waitFor();
    await screenshot(page, 'dashboard');
  });

  it('opens the machine and shows its screen, with the stamped frame counter advancing', async () => {
    await page.getByRole('button', { name: 'Open Reception PC' }).click();
    await page.waitForURL(`${server.url}/session/${sessionId}`);
    const first = await waitForCanvas(page, (p) => p.width === 640 && p.colours > 8 && p.stamp !== null, 'a stamped picture');
    expect(first.litShare).toBeGreaterThan(0.2);
    const later = await waitForCanvas(page, (p) => (p.stamp?.seq ?? 0) >= first.stamp!.seq + 5, 'the stamp to advance');
    expect(later.stamp!.captureTsMs).toBeGreaterThan(first.stamp!.captureTsMs);
    await page.getByTestId('conn-path').getByText('Direct (P2P)').waitFor();
    expect(await page.getByTestId('view-only-badge').count()).toBe(0);
    await screenshot(page, 'session-live');
    expect((await probeCanvas(page)).colours).toBeGreaterThan(8);
  });

  it('sends clicks and typing to the agent', async () => {
    const canvas = page.getByTestId('remote-canvas');
    const box = (await canvas.boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.up();
    const click = await inputApplied('pointer:button');
    expect(click.path).toBe('p2p');
    await inputApplied('pointer:move');
    await page.keyboard.type('hi');
    await inputApplied('key');
    await page.mouse.wheel(0, 120);
    await inputApplied('pointer:wheel');
    await page.getByText('Special keys').click();
    await page.getByRole('button', { name: 'Ctrl + Alt + Del' }).click();
    await inputApplied('keys:combo');
  });

  it('chats: the agent receives the line and every viewer of the session shows it', async () => {
    // A second technician tab on the same session sees the first one's message arrive.
    // sessionStorage is per tab, so the new tab signs in on its own.
    const second = await consoleWatch.newPage(page.context(), 'technician-2');
    await signIn(second, server.url, ADMIN_USER, ADMIN_PASSWORD);
    await second.goto(`${server.url}/session/${sessionId}`);
    await waitForCanvas(second, (p) => p.colours > 8, 'a picture in the second tab');
    await page.getByLabel('Message').fill('Hello <b>from</b> the technician');
    await page.getByRole('button', { name: 'Send' }).click();
    await agent.waitForLog((l) => l.msg === 'chat message' && l.from === 'technician', 15_000, 'chat at the agent');
    await second.getByTestId('chat-lines').getByText('Hello <b>from</b> the technician').waitFor();
    // Rendered as text, never as markup.
    expect(await second.getByTestId('chat-lines').locator('b').count()).toBe(0);
    await second.getByLabel('Message').fill('Reply from the second tab');
    await second.getByRole('button', { name: 'Send' }).click();
    await page.getByTestId('chat-lines').getByText('Reply from the second tab').waitFor();
    await second.close();
  });

  it('shows that the machine went offline and resumes the picture when it is back', async () => {
    await agent.stop();
    await page.getByRole('status').getByText('The remote computer is offline', { exact: false }).waitFor({ timeout: 15_000 });
    agent = startAgentProcess({ server: server.url, key: agentKey, args: ['--name', 'Reception PC'] });
    expect(await agent.sessionId()).toBe(sessionId);
    await page.getByTestId('session-phase').getByText('Live').waitFor({ timeout: 20_000 });
    await waitForCanvas(page, (p) => p.stamp !== null && p.stamp.captureTsMs > Date.now() - 5000, 'a fresh picture from the restarted agent');
    await page.getByTestId('conn-path').getByText('Direct (P2P)').waitFor();
  });

  it('leaves the session and returns to the dashboard', async () => {
    await page.getByRole('button', { name: 'Leave session' }).click();
    await page.waitForURL(`${server.url}/`);
    await waitUntil(async () => (await getSession(server.url, adminToken, sessionId))?.viewers.length === 0, 15_000, 'no viewers left');
    await agent.waitForLog((l) => l.msg === 'viewer left', 15_000, 'viewer left at the agent');
    expect(consoleWatch.errors).toEqual([]);
  });
});
