// agent/bin/guru-agent-launcher.mjs as a real process, over install roots whose "agents" are tiny
// scripts that record how they were started and exit with a chosen code.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from './test-kit.ts';

const LAUNCHER = fileURLToPath(new URL('../../bin/guru-agent-launcher.mjs', import.meta.url));
const EXIT_TIMEOUT_MS = 20_000;
const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

/**
 * An install root with one fake agent per version. Each run appends `<version> <argv>` to
 * runs.log; `script` is the body that decides what the run does (it may switch `current`).
 */
function installRoot(current: string, agents: Record<string, string | null>): string {
  const root = tempDir('launcher');
  roots.push(root);
  for (const [version, script] of Object.entries(agents)) {
    const src = join(root, 'versions', version, 'agent', 'src');
    mkdirSync(src, { recursive: true });
    if (script === null) continue; // a package that points to nothing
    writeFileSync(
      join(src, 'bin.mjs'),
      `import { appendFileSync, readFileSync, renameSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
const root = ${JSON.stringify(root)};
appendFileSync(root + '/runs.log', ${JSON.stringify(version)} + ' ' + process.argv.slice(2).join(' ') + '\\n');
const runs = readFileSync(root + '/runs.log', 'utf8').trim().split('\\n').length;
const switchTo = (v) => { symlinkSync('versions/' + v, root + '/.tmp-link'); renameSync(root + '/.tmp-link', root + '/current'); };
${script}
`,
    );
  }
  symlinkSync(join('versions', current), join(root, 'current'));
  return root;
}

function launch(args: string[]) {
  const child = spawn(process.execPath, [LAUNCHER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exit = new Promise<number | null>((resolve, reject) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`launcher did not exit in time: ${stderr.slice(-500)}`));
    }, EXIT_TIMEOUT_MS);
    child.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
  return { child, exit, stderr: () => stderr, lines: () => stderr.trim().split('\n').flatMap((l) => { try { return [JSON.parse(l) as Record<string, unknown>]; } catch { return []; } }) };
}
const runs = (root: string) => (existsSync(join(root, 'runs.log')) ? readFileSync(join(root, 'runs.log'), 'utf8').trim().split('\n') : []);

describe('guru-agent-launcher', () => {
  it.each([
    ['no --root', ['--', '--server', 'x']],
    ['a relative root', ['--root', 'opt/guru', '--']],
    ['an entry outside the package', ['--root', '/opt/guru', '--entry', '../../evil.mjs', '--']],
    ['--install-root among the agent arguments', ['--root', '/opt/guru', '--', '--install-root', '/elsewhere']],
    ['an unknown launcher option', ['--root', '/opt/guru', '--frobnicate']],
  ])('refuses %s with exit 2', async (_what, args) => {
    const l = launch(args);
    expect(await l.exit).toBe(2);
    expect(l.stderr()).toMatch(/^guru-agent-launcher: /);
  });

  it('runs current with --install-root and the agent arguments; on 75 starts the new current; exits with 0 when the agent stops', async () => {
    const root = installRoot('1.0.0', { '1.0.0': "switchTo('1.1.0'); process.exit(75);", '1.1.0': 'process.exit(0);' });
    const l = launch(['--root', root, '--', '--server', 'https://s.example.com', '--key', 'k']);
    expect(await l.exit).toBe(0);
    expect(runs(root)).toEqual([`1.0.0 --install-root ${root} --server https://s.example.com --key k`, `1.1.0 --install-root ${root} --server https://s.example.com --key k`]);
  });

  it('restarts after a crash with a growing delay, restarts at once on 76, and stops on 2 without restarting', async () => {
    const root = installRoot('1.0.0', { '1.0.0': 'process.exit(runs < 3 ? 1 : runs === 3 ? 76 : 2);' });
    const l = launch(['--root', root, '--restart-delay-ms', '50', '--']);
    expect(await l.exit).toBe(2);
    expect(runs(root)).toHaveLength(4);
    const delays = l.lines().filter((x) => x.msg === 'agent exited; restarting after a delay').map((x) => x.delayMs);
    expect(delays).toEqual([50, 100]);
    expect(l.lines()).toContainEqual(expect.objectContaining({ msg: 'agent exited; not restarting', exitCode: 2 }));
  });

  it('passes SIGTERM to the agent and exits with its code; passes SIGUSR2 on', async () => {
    const root = installRoot('1.0.0', {
      '1.0.0': "process.on('SIGUSR2', () => writeFileSync(root + '/usr2', 'yes')); process.on('SIGTERM', () => process.exit(0)); writeFileSync(root + '/ready', 'yes'); setInterval(() => {}, 1000);",
    });
    const l = launch(['--root', root, '--']);
    const until = async (what: string, ok: () => boolean) => {
      for (let i = 0; i < 400 && !ok(); i++) await new Promise((r) => setTimeout(r, 25));
      expect(ok(), what).toBe(true);
    };
    await until('the agent is up', () => existsSync(join(root, 'ready')));
    l.child.kill('SIGUSR2');
    await until('SIGUSR2 reached the agent', () => existsSync(join(root, 'usr2')));
    l.child.kill('SIGTERM');
    expect(await l.exit).toBe(0);
    expect(runs(root)).toHaveLength(1);
  });

  it('switches back a pending update whose package never starts (entry missing) after 5 failed starts, and records it', async () => {
    const root = installRoot('1.1.0', { '1.0.0': 'process.exit(0);', '1.1.0': null });
    const pending = { version: '1.1.0', previousVersion: '1.0.0', issuedAt: '2026-02-01T00:00:00.000Z', signingKeyId: 'k1', platform: 'linux-x64', channel: 'stable', appliedAt: new Date().toISOString(), starts: 0 };
    writeFileSync(join(root, 'pending.json'), JSON.stringify(pending));
    const l = launch(['--root', root, '--restart-delay-ms', '10', '--max-restart-delay-ms', '20', '--']);
    expect(await l.exit).toBe(0);
    expect(readlinkSync(join(root, 'current'))).toBe(join('versions', '1.0.0'));
    expect(existsSync(join(root, 'pending.json'))).toBe(false);
    expect(JSON.parse(readFileSync(join(root, 'launcher-rollback.json'), 'utf8'))).toMatchObject({ ...pending, failures: 5 });
    expect(l.lines().filter((x) => x.msg === 'starting agent').map((x) => x.current)).toEqual([...Array(5).fill(join('versions', '1.1.0')), join('versions', '1.0.0')]);
    expect(runs(root)).toEqual([`1.0.0 --install-root ${root}`]);
  });

  it('does not switch anything when no update is pending (a plain crash loop keeps restarting)', async () => {
    const root = installRoot('1.0.0', { '1.0.0': 'process.exit(runs < 7 ? 1 : 0);' });
    const l = launch(['--root', root, '--restart-delay-ms', '5', '--max-restart-delay-ms', '10', '--']);
    expect(await l.exit).toBe(0);
    expect(runs(root)).toHaveLength(7);
    expect(existsSync(join(root, 'launcher-rollback.json'))).toBe(false);
    expect(readlinkSync(join(root, 'current'))).toBe(join('versions', '1.0.0'));
  });
});
