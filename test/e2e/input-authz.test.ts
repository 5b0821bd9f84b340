// Who may drive the remote machine. The agent enforces the viewer's `control` flag itself on P2P
// (the server never sees P2P input) and again on the relay; oversized or malformed messages are
// refused and counted, never applied. The synthetic agent logs each applied input's type (never
// its content) as JSON on stderr, which is what these rows read.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INPUT_MAX_MESSAGE_BYTES } from '@guruconnect/shared/limits';
import type { InputMessage } from '@guruconnect/shared/protocol';
import { createUser } from '../support/api.ts';
import type { AgentLogLine } from '../support/agent-process.ts';
import { startScenario, type Scenario } from '../support/scenario.ts';
import type { ViewerClient } from '../support/viewer-client.ts';
import { sleep, waitUntil } from '../support/wait.ts';

let sc: Scenario;
let controller: ViewerClient;
let watcher: ViewerClient;

beforeAll(async () => {
  sc = await startScenario();
  const viewOnly = await createUser(sc.server.url, sc.adminToken, 'watcher', ['view']);
  controller = await sc.join();
  watcher = await sc.join({ username: viewOnly.username, password: viewOnly.password });
  await waitUntil(() => controller.p2pInputOpen && watcher.p2pInputOpen, 20_000, 'both P2P input channels');
});
afterAll(async () => {
  await sc?.stop();
});

const applied = (viewerId: string) => (l: AgentLogLine) => l.msg === 'input applied' && l.viewerId === viewerId;
const refused = (viewerId: string, code: string) => (l: AgentLogLine) => l.msg === 'input refused' && l.viewerId === viewerId && l.code === code;

describe('input authorisation at the agent', () => {
  it('the tokens carry the expected rights', () => {
    expect(controller.control).toBe(true);
    expect(watcher.control).toBe(false);
  });

  const inputs: InputMessage[] = [
    { type: 'pointer:move', x: 100, y: 50, t: 1 },
    { type: 'pointer:button', button: 'left', down: true, x: 100, y: 50, t: 2 },
    { type: 'pointer:button', button: 'left', down: false, x: 100, y: 50, t: 3 },
    { type: 'pointer:wheel', dx: 0, dy: 120, x: 100, y: 50, t: 4 },
    { type: 'key', code: 'KeyA', down: true, t: 5 },
    { type: 'key', code: 'KeyA', down: false, t: 6 },
    { type: 'keys:combo', combo: 'alt-tab', t: 7 },
    { type: 'text', text: 'Secret7Typed', t: 8 },
  ];

  it('applies every kind of input from a viewer with control over P2P, logging types only', async () => {
    for (const msg of inputs) expect((await controller.sendInput(msg)).path).toBe('p2p');
    for (const type of new Set(inputs.map((m) => m.type))) {
      await sc.agent.waitForLog((l) => applied(controller.viewerId)(l) && l.type === type && l.path === 'p2p', 15_000, `applied ${type}`);
    }
    // Never the typed text itself.
    expect(readFileSync(sc.agent.logFile, 'utf8')).not.toContain('Secret7Typed');
  });

  type Row = [proves: string, send: () => Promise<unknown> | unknown, viewer: () => ViewerClient, code: string];
  const rows: Row[] = [
    ['a view-only viewer’s P2P input is refused by the agent', () => watcher.sendInput({ type: 'pointer:button', button: 'left', down: true, x: 1, y: 1, t: 0 }), () => watcher, 'ERR_INPUT_NOT_ALLOWED'],
    ['a view-only viewer’s P2P text is refused by the agent', () => watcher.sendInput({ type: 'text', text: 'rm -rf', t: 0 }), () => watcher, 'ERR_INPUT_NOT_ALLOWED'],
    ['an input message over 64 KiB on P2P is refused', () => controller.sendRawP2P(JSON.stringify({ type: 'text', text: 'x'.repeat(INPUT_MAX_MESSAGE_BYTES), t: 0 })), () => controller, 'ERR_PROTOCOL_MESSAGE_TOO_LARGE'],
    ['a malformed message on P2P is refused', () => controller.sendRawP2P('{"type":"pointer:move","x":"left"}'), () => controller, 'ERR_PROTOCOL_INVALID_MESSAGE'],
  ];
  it.each(rows)('%s', async (_proves, send, viewer, code) => {
    const before = sc.agent.logs.filter(applied(viewer().viewerId)).length;
    await send();
    await sc.agent.waitForLog(refused(viewer().viewerId, code), 15_000, `refusal ${code}`);
    await sleep(200);
    expect(sc.agent.logs.filter(applied(viewer().viewerId)).length).toBe(before);
  });

  it('never applied anything from the view-only viewer', () => {
    expect(sc.agent.logs.filter(applied(watcher.viewerId))).toEqual([]);
  });

  it('the server refuses a view-only viewer’s relay input before it reaches the agent', async () => {
    const ack = (await watcher.socket.timeout(5000).emitWithAck('relay:input', { type: 'key', code: 'KeyB', down: true, t: 0 })) as { ok: boolean; error?: { code: string } };
    expect(ack).toMatchObject({ ok: false, error: { code: 'ERR_INPUT_NOT_ALLOWED' } });
  });

  it('keeps applying valid input after refusing bad messages', async () => {
    const before = sc.agent.logs.filter(applied(controller.viewerId)).length;
    await controller.sendInput({ type: 'key', code: 'KeyZ', down: true, t: 9 });
    await waitUntil(() => sc.agent.logs.filter(applied(controller.viewerId)).length > before, 15_000, 'input applied after the refusals');
  });
});
