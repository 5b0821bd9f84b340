// The viewing flow when the server forces the relay (RELAY_POLICY=force): frames reach the
// browser as `relay:frame` socket events through the same codec, input goes back as `relay:input`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { createAgentKey, getSession, login } from '../support/api.ts';
import { startAgentProcess, type AgentProcess } from '../support/agent-process.ts';
import { ADMIN_PASSWORD, ADMIN_USER } from '../support/server-process.ts';
import { sleep } from '../support/wait.ts';
import { ConsoleWatch, ensureAppBuilt, launchChromium, screenshot, signIn, startAppServer, waitForCanvas, type AppServer } from './support.ts';

let server: AppServer;
let agent: AgentProcess;
let browser: Browser;
let page: Page;
let adminToken: string;
let sessionId: string;
const consoleWatch = new ConsoleWatch();

beforeAll(async () => {
  await ensureAppBuilt();
  server = await startAppServer({ RELAY_POLICY: 'force' });
  adminToken = await login(server.url);
  const { key } = await createAgentKey(server.url, adminToken);
  agent = startAgentProcess({ server: server.url, key, args: ['--name', 'Relay PC'] });
  sessionId = await agent.sessionId();
  browser = await launchChromium();
  page = await consoleWatch.newPage(await browser.newContext({ viewport: { width: 1280, height: 720 } }), 'technician');
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await agent?.stop();
  await server?.stop();
});

describe('viewing through the forced relay', () => {
  it('shows the stamped screen over the relay and says so', async () => {
    await signIn(page, server.url, ADMIN_USER, ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Open Relay PC' }).click();
    await page.waitForURL(`${server.url}/session/${sessionId}`);
    const first = await waitForCanvas(page, (p) => p.width === 640 && p.stamp !== null && p.colours > 8, 'a stamped picture');
    await waitForCanvas(page, (p) => (p.stamp?.seq ?? 0) >= first.stamp!.seq + 5, 'the stamp to advance');
    await page.getByTestId('conn-path').getByText('Relayed by server').waitFor();
    expect((await getSession(server.url, adminToken, sessionId))?.path).toBe('relay');
    await agent.waitForLog((l) => l.msg === 'using the relay' && l.reason === 'forced', 10_000, 'forced relay at the agent');
    await screenshot(page, 'session-relay');
  });

  it('sends input as relay:input', async () => {
    const box = (await page.getByTestId('remote-canvas').boundingBox())!;
    await page.mouse.click(box.x + 100, box.y + 100);
    const click = await agent.waitForLog((l) => l.msg === 'input applied' && l.type === 'pointer:button', 15_000, 'click at the agent');
    expect(click.path).toBe('relay');
    await page.keyboard.press('KeyX');
    const key = await agent.waitForLog((l) => l.msg === 'input applied' && l.type === 'key', 15_000, 'key at the agent');
    expect(key.path).toBe('relay');
  });

  it('asks for a keyframe over the relay when the screen takes focus', async () => {
    await page.getByRole('button', { name: 'Leave session' }).focus();
    await sleep(600); // the page asks at most every 500 ms, and the click above already asked
    const before = agent.logs.filter((l) => l.msg === 'keyframe requested').length;
    await page.getByTestId('remote-canvas').focus();
    await agent.waitForLog((l) => l.msg === 'keyframe requested' && agent.logs.filter((x) => x.msg === 'keyframe requested').length > before, 10_000, 'keyframe request');
    expect(consoleWatch.errors).toEqual([]);
  });
});
