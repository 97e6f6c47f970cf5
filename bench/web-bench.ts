// Web console page load (issue 17, "a page load on loopback takes under one second, measured in
// the browser"): Debian's chromium (headless, playwright-core) against the built `sipctl web` on
// 127.0.0.1, with a live Kamailio 5.6 (lab config) on a MariaDB database made by `sipctl db init`.
// After one login (the session cookie stays), each round loads, in this order:
//   reference  /assets/BUILD.json: a small static file from the same server (the floor: one
//              request to the same process over the same loopback, no script)
//   dashboard  /#/dashboard: index.html, app.js, app.css, then /api/session and /api/dashboard
//              (a monitor sample of the proxy) until the node's card shows "up"
// measured with the browser's Navigation Timing (domContentLoaded, load: from navigation start)
// and, for the dashboard, performance.now() when the node's figures are on screen ("ready").
// Each navigation is a full document load (the two URLs are different documents); the server
// sends assets with Cache-Control: no-cache, so they are revalidated every time.
// Medians of BENCH_RUNS rounds (default 20) after 3 warm-up rounds; appended to bench/RESULTS.md.
// sipctl is the working tree built into bench/out/ as `npm run build` builds it (tsc, bundle,
// build-web): a bench never runs dist/, which another build may rewrite while it runs.
// Run: node --import tsx bench/web-bench.ts   (npm run bench -- web)
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDb } from '../test/helpers/db.js';
import { isolatedEnv } from '../test/helpers/cli.js';
import { kamailioMissing, startKamailio, stopAllKamailio, type KamailioInstance } from '../test/helpers/kamailio.js';
import { browserMissing, launchBrowser, loginWithKeyboard, startWeb, type Browser, type WebServer } from '../test/browser/console.js';
import { appendResults, git, machineLine, median } from './lib.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..');

/** The working tree built into bench/out/web-PID the way `npm run build` builds it. */
function buildCopy(onRemove: (f: () => void) => void): { bin: string; what: string } {
  const dir = join(HERE, 'out', `web-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  onRemove(() => rmSync(dir, { recursive: true, force: true }));
  for (const p of ['bin', 'src', 'scripts', 'web', 'package.json', 'tsconfig.json', 'oclif.manifest.json']) if (existsSync(join(REPO, p))) cpSync(join(REPO, p), join(dir, p), { recursive: true });
  const steps: string[][] = [[join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(dir, 'tsconfig.json')], [join(dir, 'scripts', 'bundle.mjs')], [join(dir, 'scripts', 'build-web.mjs')]];
  for (const args of steps) {
    const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 600_000 });
    if (r.status !== 0) throw new Error(`building the working tree failed at ${args[0]}:\n${(r.stdout + r.stderr).slice(0, 2000)}`);
  }
  const dirty = git('status', '--porcelain', '--', 'src', 'bin', 'web').split('\n').filter(Boolean).length;
  return { bin: join(dir, 'bin', 'run.cjs'), what: `the working tree at ${git('rev-parse', '--short', 'HEAD')}${dirty ? ` with ${dirty} uncommitted changes under src/, bin/ and web/` : ' (clean)'}` };
}

/** The copy's sipctl; stdin `input`, exit 0 or an Error. */
function sipctl(bin: string, env: NodeJS.ProcessEnv, args: string[], input = ''): void {
  const r = spawnSync(process.execPath, [bin, ...args], { env, input, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`sipctl ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
}

const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const WARMUP = 3;
const TARGET_MS = 1000;

for (const why of [kamailioMissing(), browserMissing()]) {
  if (why) {
    console.error(`web-bench: ${why}`);
    process.exit(1);
  }
}

interface Timing { dcl: number; load: number; ready?: number }

const cleanups: Array<() => Promise<void> | void> = [];
let k: KamailioInstance | undefined;
let web: WebServer | undefined;
let browser: Browser | undefined;
try {
  const built = buildCopy((f) => cleanups.push(f));
  console.log(`web-bench: sipctl from ${built.what}`);
  const db = await createTestDb('mysql', { init: false });
  cleanups.push(() => db.drop());
  const env = isolatedEnv({ SIPCTL_DB: db.url, SIPCTL_DB_PASSWORD: db.password, SIPCTL_DOMAIN: '127.0.0.1' });
  sipctl(built.bin, env, ['db', 'init']);
  k = await startKamailio({ dbUrl: db.fullUrl });
  const webEnv = { ...env, SIPCTL_RPC: k.rpcUrl };
  sipctl(built.bin, webEnv, ['web', 'user', 'add', 'bench', '--role', 'operator', '--password-stdin'], 'Loopback-pw-5678');
  web = await startWeb(webEnv, [], built.bin);
  browser = await launchBrowser();
  const page = browser.page;
  await loginWithKeyboard(page, web.url, 'bench', 'Loopback-pw-5678');
  await page.getByTestId('node').getByText('up', { exact: true }).waitFor({ timeout: 30_000 });

  const nav = () =>
    page.evaluate(() => {
      const n = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
      return { dcl: n.domContentLoadedEventEnd - n.startTime, load: n.loadEventEnd - n.startTime };
    });

  async function reference(): Promise<Timing> {
    await page.goto(`${web!.url}/assets/BUILD.json`, { waitUntil: 'load' });
    return nav();
  }
  async function dashboard(): Promise<Timing> {
    await page.goto(`${web!.url}/#/dashboard`, { waitUntil: 'load' });
    await page.getByTestId('node').getByText('up', { exact: true }).waitFor({ timeout: 30_000 });
    const ready = await page.evaluate(() => performance.now());
    return { ...(await nav()), ready };
  }

  const ref: Timing[] = [];
  const dash: Timing[] = [];
  for (let i = 0; i < WARMUP + RUNS; i++) {
    const r = await reference();
    const d = await dashboard();
    if (i >= WARMUP) {
      ref.push(r);
      dash.push(d);
    }
  }
  const m = (xs: Timing[], key: keyof Timing) => median(xs.map((x) => x[key] ?? NaN));
  const f = (ms: number) => ms.toFixed(1);
  const rows = [
    `| reference: /assets/BUILD.json (static, same server) | ${f(m(ref, 'dcl'))} | ${f(m(ref, 'load'))} | — |`,
    `| dashboard: /#/dashboard after login | ${f(m(dash, 'dcl'))} | ${f(m(dash, 'load'))} | ${f(m(dash, 'ready'))} |`,
  ];
  const load = m(dash, 'load');
  const ready = m(dash, 'ready');
  const verdict = `dashboard load ${f(load)} ms (${(load / m(ref, 'load')).toFixed(1)}× the static reference), node figures on screen at ${f(ready)} ms: target < ${TARGET_MS} ms ${Math.max(load, ready) < TARGET_MS ? 'met' : 'NOT met'}`;
  console.log(rows.join('\n'));
  console.log(verdict);
  appendResults(
    'Web console page load (bench/web-bench.ts)',
    `${machineLine()}, Debian chromium headless via playwright-core, Kamailio 5.6 (lab config) on MariaDB, sipctl web on 127.0.0.1, built from ${built.what}.\n` +
      `Command: \`node --import tsx bench/web-bench.ts\` (BENCH_RUNS=${RUNS}, ${WARMUP} warm-up rounds; rounds interleave reference and dashboard). Median ms from navigation start:\n\n` +
      '| page | domContentLoaded | load | ready (node figures shown) |\n|---|---|---|---|\n' +
      rows.join('\n') +
      `\n\n${verdict}.\n`,
  );
} finally {
  await browser?.close().catch(() => undefined);
  await web?.stop().catch(() => undefined);
  await k?.stop().catch(() => undefined);
  await stopAllKamailio();
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
}
