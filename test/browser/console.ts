/**
 * The web console under test: the built `sipctl web` (bin/run.cjs, dist/) serving the built front
 * end (dist/web/, scripts/build-web.mjs), driven by Debian's chromium through playwright-core.
 * Used by test/browser/*.test.ts and bench/web-bench.ts. Everything started here is stopped by
 * the returned stop() functions, which the callers run in after hooks / finally blocks.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, relative, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { assertFreshBuild } from '../helpers/build.js';
import { runSipctl } from '../helpers/cli.js';
import { findFreePort } from '../helpers/kamailio.js';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Chromium as this machine needs it: headless, no sandbox (root), and nothing that reaches for
 * the network on its own (the machine's network is closed: background fetches fail by the dozen).
 */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Why the browser tests cannot run here, or undefined. */
export function browserMissing(): string | undefined {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} not installed (Debian package chromium)`;
  return staleWeb();
}

/** Why dist/web/ is not the build of web/ as it is now, or undefined. */
export function staleWeb(): string | undefined {
  const stamp = join(REPO, 'dist', 'web', 'BUILD.json');
  if (!existsSync(stamp)) return 'dist/web/ is not built: run `npm run build` (scripts/build-web.mjs)';
  const built = statSync(stamp).mtimeMs;
  const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
  const newer = walk(join(REPO, 'web')).filter((f) => !f.endsWith('.md') && statSync(f).mtimeMs > built);
  if (newer.length) return `dist/web/ is older than ${relative(REPO, newer[0]!)}: run \`npm run build\``;
  return undefined;
}

export interface WebServer {
  url: string;
  output(): string;
  stop(): Promise<void>;
}

/**
 * `sipctl web --listen 127.0.0.1:PORT` from the built bin (or `bin`, a copy built elsewhere, as
 * bench/web-bench.ts does), ready when it answers HTTP.
 */
export async function startWeb(env: NodeJS.ProcessEnv, extraArgs: string[] = [], bin?: string): Promise<WebServer> {
  if (!bin) assertFreshBuild();
  const port = await findFreePort('127.0.0.1', { udp: false });
  const child: ChildProcess = spawn(process.execPath, [bin ?? join(REPO, 'bin', 'run.cjs'), 'web', '--listen', `127.0.0.1:${port}`, ...extraArgs], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  let exited = false;
  const gone = new Promise<void>((r) => child.on('exit', () => ((exited = true), r())));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(t);
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (exited) throw new Error(`sipctl web exited before it answered:\n${out}`);
    if ((await httpStatus(`${url}/api/session`)) > 0) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`sipctl web did not answer on ${url} within 20 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, output: () => out, stop };
}

/** The HTTP status of a GET, 0 when nothing answers. */
export function httpStatus(url: string): Promise<number> {
  return new Promise((resolvePromise) => {
    const req = request(url, { timeout: 2000 }, (res) => {
      res.resume();
      resolvePromise(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolvePromise(0));
    req.end();
  });
}

/** A web console account, made with `sipctl web user add NAME --role ROLE --password-stdin`. */
export async function addWebUser(env: NodeJS.ProcessEnv, name: string, role: 'viewer' | 'operator', password: string): Promise<void> {
  const r = await runSipctl(['web', 'user', 'add', name, '--role', role, '--password-stdin'], { env, input: password });
  if (r.code !== 0) throw new Error(`sipctl web user add ${name}: exit ${r.code}: ${r.stderr}`);
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/** Chromium with a new, empty profile in a temp dir (removed by close()). */
export async function launchBrowser(viewport = { width: 1280, height: 900 }): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'sipctl-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport });
  } catch (e) {
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    close: async () => {
      try {
        await context.close();
      } finally {
        rmSync(profile, { recursive: true, force: true });
      }
    },
  };
}

/** Log in through the form, from the keyboard only (Tab between the fields, Enter submits). */
export async function loginWithKeyboard(page: Page, url: string, name: string, password: string): Promise<void> {
  await page.goto(`${url}/`);
  await page.getByLabel('User').waitFor();
  await page.getByLabel('User').focus();
  await page.keyboard.type(name);
  await page.keyboard.press('Tab');
  await page.keyboard.type(password);
  await page.keyboard.press('Enter');
}
