// Test-only: what every browser scenario needs — the built web app, the server serving it as a
// separate process, real Chromium with console errors as failures, and canvas pixel checks.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { readStamp, STAMP_HEIGHT_PX, STAMP_WIDTH_PX, type StampValue } from '@guruconnect/shared/codec';
import { ADMIN_PASSWORD, freePort, LOG_DIR, REPO_ROOT, stopChild } from '../support/server-process.ts';
import { sleep } from '../support/wait.ts';

export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOT_DIR = join(REPO_ROOT, 'test-artifacts', 'screenshots');
const APP_DIR = join(REPO_ROOT, 'viewer-app');
const DIST_INDEX = join(APP_DIR, 'dist', 'index.html');
const BUILD_LOCK = join(REPO_ROOT, 'test-artifacts', 'viewer-app-build.lock');
/** The end user's shared tab is picked by this title (`--auto-select-tab-capture-source-by-title`). */
export const SHARED_TAB_TITLE = 'GuruConnect test shared content';

function newestMtimeMs(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    newest = Math.max(newest, st.isDirectory() ? newestMtimeMs(p) : st.mtimeMs);
  }
  return newest;
}

function buildIsStale(): boolean {
  if (!existsSync(DIST_INDEX)) return true;
  const built = statSync(DIST_INDEX).mtimeMs;
  const sources = Math.max(newestMtimeMs(join(APP_DIR, 'src')), statSync(join(APP_DIR, 'index.html')).mtimeMs, statSync(join(APP_DIR, 'vite.config.ts')).mtimeMs);
  return sources > built;
}

/**
 * Builds `viewer-app/dist` when it is missing or older than its sources. Test files run in
 * parallel workers, so the build is guarded by a lock directory (mkdir is atomic).
 */
export async function ensureAppBuilt(): Promise<void> {
  mkdirSync(join(REPO_ROOT, 'test-artifacts'), { recursive: true });
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (!buildIsStale()) return;
    try {
      mkdirSync(BUILD_LOCK);
    } catch {
      // Another worker builds; a lock older than two minutes is from a crashed run.
      if (existsSync(BUILD_LOCK) && Date.now() - statSync(BUILD_LOCK).mtimeMs > 120_000) rmSync(BUILD_LOCK, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error('timed out waiting for the viewer-app build');
      await sleep(250);
      continue;
    }
    try {
      if (!buildIsStale()) return;
      const r = spawnSync(process.execPath, [join(REPO_ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--logLevel', 'warn'], { cwd: APP_DIR, encoding: 'utf8', timeout: 120_000 });
      if (r.status !== 0) throw new Error(`viewer-app build failed: ${r.stderr || r.stdout}`);
      return;
    } finally {
      rmSync(BUILD_LOCK, { recursive: true, force: true });
    }
  }
}

export interface AppServer {
  readonly url: string;
  readonly logFile: string;
  stop(): Promise<void>;
}

/** The server (with the web app) as a separate process on a free port and a fresh embedded database. */
export async function startAppServer(env: Record<string, string> = {}): Promise<AppServer> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'guru-browser-'));
  mkdirSync(LOG_DIR, { recursive: true });
  const logFile = join(LOG_DIR, `server-browser-${Date.now()}-${randomBytes(3).toString('hex')}.log`);
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/browser/serve-app.ts'], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? tmpdir(),
      NODE_ENV: 'test',
      JWT_SECRET: `browser-only-${randomBytes(24).toString('base64url')}`,
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_URL: url,
      DATA_DIR: dataDir,
      BOOTSTRAP_ADMIN_PASSWORD: ADMIN_PASSWORD,
      LOG_LEVEL: 'debug',
      LOG_FILE: logFile,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (b: Buffer) => (output = (output + b.toString()).slice(-4000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const deadline = Date.now() + 45_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}: ${output}`);
    try {
      if ((await fetch(`${url}/readyz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server not ready in time: ${output}`);
    }
    await sleep(150);
  }
  let stopped: Promise<void> | null = null;
  return {
    url,
    logFile,
    stop: () =>
      (stopped ??= (async () => {
        await stopChild(child);
        rmSync(dataDir, { recursive: true, force: true });
      })()),
  };
}

/** Headless Chromium as the brief fixes it; Playwright gives every launch a fresh profile directory. */
export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      ...extraArgs,
    ],
  });
}

/** The flags that let a page share another tab without a picker (verified on Chromium 156). */
export const TAB_CAPTURE_ARGS = [`--auto-select-tab-capture-source-by-title=${SHARED_TAB_TITLE}`];

/** Every console error and uncaught exception of the pages it watches; a test fails on any. */
export class ConsoleWatch {
  readonly errors: string[] = [];
  readonly #allowed: readonly RegExp[];

  /** `allowed`: exact console errors a scenario knows about and documents (keep this empty if at all possible). */
  constructor(allowed: readonly RegExp[] = []) {
    this.#allowed = allowed;
  }

  watch(page: Page, name: string): Page {
    page.on('console', (msg) => {
      if (msg.type() !== 'error' || this.#allowed.some((re) => re.test(msg.text()))) return;
      this.errors.push(`[${name}] console.error: ${msg.text()}`);
    });
    page.on('pageerror', (err) => this.errors.push(`[${name}] uncaught: ${err.message}`));
    return page;
  }

  async newPage(context: BrowserContext, name: string): Promise<Page> {
    const page = await context.newPage();
    page.setViewportSize({ width: 1280, height: 720 }).catch(() => undefined);
    return this.watch(page, name);
  }
}

/** Signs in through the login form and waits for the dashboard. */
export async function signIn(page: Page, baseUrl: string, username: string, password: string): Promise<void> {
  await page.goto(`${baseUrl}/login`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${baseUrl}/`);
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
}

/**
 * The few DOM shapes the in-page probes use: they run in the browser, but this file is compiled
 * with the test package's Node-only lib, so they are declared here rather than pulling in `dom`.
 */
interface ProbeCanvas {
  width: number;
  height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } } | null;
}
declare const document: { querySelector(selector: string): ({ textContent: string | null } & Partial<ProbeCanvas>) | null };

/** Waits until the session page's frame counter passes `n`. */
export async function waitForFramesAbove(page: Page, n: number, timeoutMs = 20_000): Promise<void> {
  await page.waitForFunction((min) => Number(document.querySelector('[data-testid="conn-frames"]')?.textContent) > min, n, { timeout: timeoutMs });
}

export interface CanvasProbe {
  width: number;
  height: number;
  /** Distinct colours in a coarse sample (a blank or single-colour canvas has 1). */
  colours: number;
  /** Share of sampled pixels that are not black. */
  litShare: number;
  /** Mean of each channel over the sample. */
  mean: [number, number, number];
  stamp: StampValue | null;
}

/** Reads the remote-screen canvas back from the page: a pixel sample and the stamp, if any. */
export async function probeCanvas(page: Page): Promise<CanvasProbe> {
  const raw = await page.evaluate(
    ({ sw, sh }) => {
      const canvas = document.querySelector('[data-testid="remote-canvas"]') as ProbeCanvas | null;
      if (!canvas) throw new Error('no remote canvas');
      const ctx = canvas.getContext('2d');
      if (!ctx) throw new Error('no 2d context');
      const w = canvas.width;
      const h = canvas.height;
      const all = ctx.getImageData(0, 0, w, h).data;
      const stamp = w >= sw && h >= sh ? Array.from(ctx.getImageData(0, 0, sw, sh).data) : [];
      const colours = new Set<number>();
      let lit = 0;
      let n = 0;
      const sum = [0, 0, 0];
      const step = Math.max(1, Math.floor((w * h) / 4000));
      for (let p = 0; p < w * h; p += step, n++) {
        const i = p * 4;
        const r = all[i]!;
        const g = all[i + 1]!;
        const b = all[i + 2]!;
        colours.add(((r >> 4) << 8) | ((g >> 4) << 4) | (b >> 4));
        if (r + g + b > 30) lit++;
        sum[0]! += r;
        sum[1]! += g;
        sum[2]! += b;
      }
      return { w, h, stamp, colours: colours.size, lit: lit / Math.max(1, n), mean: sum.map((s) => s / Math.max(1, n)) };
    },
    { sw: STAMP_WIDTH_PX, sh: STAMP_HEIGHT_PX },
  );
  return {
    width: raw.w,
    height: raw.h,
    colours: raw.colours,
    litShare: raw.lit,
    mean: raw.mean as [number, number, number],
    stamp: raw.stamp.length ? readStamp(new Uint8Array(raw.stamp), STAMP_WIDTH_PX, STAMP_HEIGHT_PX) : null,
  };
}

/** Polls the canvas until `check` accepts a probe. */
export async function waitForCanvas(page: Page, check: (p: CanvasProbe) => boolean, what: string, timeoutMs = 30_000): Promise<CanvasProbe> {
  const deadline = Date.now() + timeoutMs;
  await page.getByTestId('remote-canvas').waitFor({ timeout: timeoutMs });
  let last: CanvasProbe | null = null;
  for (;;) {
    last = await probeCanvas(page);
    if (check(last)) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last canvas ${JSON.stringify({ ...last, stamp: last.stamp })}`);
    await sleep(200);
  }
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

/** A page the end user shares: a red background, a moving bar and a counter, titled for the picker flag. */
export const SHARED_TAB_HTML = `<!doctype html><title>${SHARED_TAB_TITLE}</title>
<body style="margin:0;background:#c81e1e;font:48px sans-serif;color:#fff">
<div id="n" style="padding:40px">0</div><div id="bar" style="position:absolute;top:200px;left:0;width:120px;height:80px;background:#fde047"></div>
<script>let i=0;setInterval(()=>{i++;document.getElementById('n').textContent=String(i);document.getElementById('bar').style.left=(i*17%600)+'px'},100)</script></body>`;
