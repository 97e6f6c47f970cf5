// RPC commands: sipctl beside kamcmd against the same real Kamailio 5.6, in the same run.
//  1. whole-process median of `htable dump ipban` and `htable sets …` (hyperfine -N, or a loop);
//  2. 10,000 htable updates the way a script makes them: a shell loop of kamcmd, against one
//     `sipctl batch` of 10,000 lines (over HTTP, the datagram socket and the FIFO), and a shell loop
//     of sipctl for 1,000 updates extrapolated to 10,000. Target (issue 15): every batch ≥ 10× faster
//     than the kamcmd loop.
// Run: node --import tsx bench/rpc-bench.ts      (needs kamailio, kamcmd, MariaDB; hyperfine optional)
// Env: BENCH_RUNS (default 20), BENCH_UPDATES (default 10000), BENCH_SIPCTL_LOOP (default 1000),
//      BENCH_BULK_ROUNDS (default 1): the kamcmd loop and the three batches run this many times,
//      interleaved, and each figure is the median (the machine's load drifts during a run);
//      BENCH_NO_RECORD=1: print the table only, do not append it to bench/RESULTS.md.
// Each bulk figure carries the 1-minute load average before and after it and, for sipctl batch,
// the CPU time (user+sys) of the sipctl process: its own cost, whatever the load.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDb } from '../test/helpers/db.js';
import { SIPCTL } from '../test/helpers/cli.js';
import { kamcmdBinary, kamailioMissing, startKamailio, stopAllKamailio } from '../test/helpers/kamailio.js';
import { appendResults, git, machineLine, median } from './lib.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const UPDATES = Number(process.env.BENCH_UPDATES ?? 10000);
const SIPCTL_LOOP = Number(process.env.BENCH_SIPCTL_LOOP ?? 1000);
const BULK_ROUNDS = Math.max(1, Number(process.env.BENCH_BULK_ROUNDS ?? 1));
const DUMP_KEYS = 100;

const missing = kamailioMissing();
if (missing) {
  console.error(`rpc-bench: ${missing}`);
  process.exit(1);
}
const haveHyperfine = spawnSync('hyperfine', ['--version'], { stdio: 'ignore' }).status === 0;
const KAMCMD = kamcmdBinary()!;
const NODE = process.execPath;

/** Median wall time (ms) of each command, whole process, same run. */
function medians(cmds: Array<{ name: string; argv: string[] }>, env: NodeJS.ProcessEnv): Map<string, number> {
  if (haveHyperfine) {
    const out = join(mkdtempSync(join(tmpdir(), 'rpc-bench-')), 'h.json');
    const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
    execFileSync('hyperfine', ['-N', '-w', '3', '-r', String(RUNS), '--export-json', out, ...cmds.flatMap((c) => ['-n', c.name, c.argv.map(quote).join(' ')])], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    const res = JSON.parse(readFileSync(out, 'utf8')) as { results: Array<{ command: string; times: number[] }> };
    rmSync(join(out, '..'), { recursive: true, force: true });
    return new Map(res.results.map((r) => [r.command, median(r.times) * 1000]));
  }
  const m = new Map<string, number>();
  for (const c of cmds) {
    const times: number[] = [];
    for (let i = 0; i < RUNS + 3; i++) {
      const t0 = performance.now();
      const r = spawnSync(c.argv[0]!, c.argv.slice(1), { env, stdio: 'ignore' });
      if (r.status !== 0) throw new Error(`${c.name} failed (exit ${r.status})`);
      if (i >= 3) times.push(performance.now() - t0);
    }
    m.set(c.name, median(times));
  }
  return m;
}

/** The 1-minute load average. */
const load = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);

interface Timed {
  ms: number;
  /** user+sys CPU of the script's processes (ms) */
  cpuMs: number;
  loadBefore: number;
  loadAfter: number;
}

/** Wall time (ms) and CPU time of one shell script run, which must succeed. */
function timeShell(script: string, env: NodeJS.ProcessEnv, input?: string): Timed {
  const loadBefore = load();
  const t0 = performance.now();
  // bash's `time` reports the CPU of the script's children; it writes to the script's stderr
  const r = spawnSync('bash', ['-c', `TIMEFORMAT='cpu %U %S'; time ( ${script} )`], { env, input, stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`script failed (exit ${r.status}): ${script.slice(0, 120)}\n${String(r.stderr).slice(-500)}`);
  const m = /cpu ([\d.]+) ([\d.]+)\s*$/.exec(String(r.stderr));
  return { ms, cpuMs: m ? (Number(m[1]) + Number(m[2])) * 1000 : NaN, loadBefore, loadAfter: load() };
}

/** The run with the median wall time. */
function medianRun(runs: Timed[]): Timed {
  return [...runs].sort((a, b) => a.ms - b.ms)[Math.floor((runs.length - 1) / 2)]!;
}

const t = await createTestDb('mysql');
try {
  const k = await startKamailio({ dbUrl: t.fullUrl });
  const home = mkdtempSync(join(tmpdir(), 'rpc-bench-home-'));
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_DATA_HOME: join(home, '.data'), SIPCTL_RPC: k.rpcUrl, LANG: 'C.UTF-8' };
  const kamcmd = (...args: string[]) => [KAMCMD, '-s', k.ctlAddress, ...args];
  const sipctl = (...args: string[]) => [NODE, SIPCTL, ...args];

  // a realistic ipban: DUMP_KEYS banned addresses
  for (let i = 0; i < DUMP_KEYS; i++) await k.rpc('htable.seti', ['ipban', `198.51.${i >> 8}.${i & 255}`, 1]);

  const m = medians([
    { name: 'sipctl htable dump ipban', argv: sipctl('htable', 'dump', 'ipban') },
    { name: 'sipctl htable dump ipban (unix: dgram)', argv: sipctl('htable', 'dump', 'ipban', '--rpc', `unix:${k.dgramPath}`) },
    { name: 'kamcmd htable.dump ipban', argv: kamcmd('htable.dump', 'ipban') },
    { name: 'sipctl htable sets', argv: sipctl('htable', 'sets', 'MessageCount', 'bench', 'value') },
    { name: 'kamcmd htable.sets', argv: kamcmd('htable.sets', 'MessageCount', 'bench', 'value') },
  ], env);

  // 10,000 updates, as a script would make them; with BULK_ROUNDS > 1 the four runs alternate
  const flush = () => k.rpc('htable.flush', ['MessageCount']);
  const count = async () => (await k.rpc('htable.stats')).result.find((s: { name: string }) => s.name === 'MessageCount').all as number;
  const lines = Array.from({ length: UPDATES }, (_, i) => `htable sets MessageCount k${i + 1} v${i + 1}`).join('\n') + '\n';
  const bulk = {
    kamcmd: [] as Timed[],
    http: [] as Timed[],
    dgram: [] as Timed[],
    fifo: [] as Timed[],
  };
  for (let round = 0; round < BULK_ROUNDS; round++) {
    await flush();
    bulk.kamcmd.push(timeShell(`for i in $(seq 1 ${UPDATES}); do ${KAMCMD} -s ${k.ctlAddress} htable.sets MessageCount k$i v$i >/dev/null || exit 1; done`, env));
    if ((await count()) !== UPDATES) throw new Error('kamcmd loop did not store every key');
    for (const [name, rpc] of [['http', ''], ['dgram', ` --rpc unix:${k.dgramPath}`], ['fifo', ` --rpc fifo:${k.fifoPath}`]] as const) {
      await flush();
      bulk[name].push(timeShell(`${NODE} ${SIPCTL} batch${rpc}`, env, lines));
      if ((await count()) !== UPDATES) throw new Error(`sipctl batch (${name}) did not store every key`);
    }
  }
  const kamcmdRun = medianRun(bulk.kamcmd);
  const httpRun = medianRun(bulk.http);
  const dgramRun = medianRun(bulk.dgram);
  const fifoRun = medianRun(bulk.fifo);
  const kamcmdLoop = kamcmdRun.ms;
  const batchHttp = httpRun.ms;
  const batchDgram = dgramRun.ms;
  const batchFifo = fifoRun.ms;
  await flush();
  const sipctlLoopRun = timeShell(`for i in $(seq 1 ${SIPCTL_LOOP}); do ${NODE} ${SIPCTL} htable sets MessageCount k$i v$i >/dev/null || exit 1; done`, env);
  const sipctlLoop = sipctlLoopRun.ms;
  const sipctlLoopExtrapolated = sipctlLoop * (UPDATES / SIPCTL_LOOP);

  const ms = (x: number) => (x >= 10000 ? `${(x / 1000).toFixed(1)} s` : `${x.toFixed(1)} ms`);
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}`;
  const loadText = (t: Timed) => `load ${t.loadBefore.toFixed(2)}→${t.loadAfter.toFixed(2)}`;
  const bulkText = (t: Timed) => `${ms(t.ms)} (CPU ${ms(t.cpuMs)}; ${loadText(t)})`;
  const all = (runs: Timed[]) => (runs.length > 1 ? `; runs ${runs.map((t) => ms(t.ms)).join(', ')}` : '');
  const kamcmdText = `shell loop of kamcmd: ${ms(kamcmdLoop)} (${loadText(kamcmdRun)}${all(bulk.kamcmd)})`;
  const rows: string[][] = [
    ['`htable dump ipban` (100 keys), whole process, median', ms(m.get('sipctl htable dump ipban')!), `kamcmd htable.dump: ${ms(m.get('kamcmd htable.dump ipban')!)}`, ratio(m.get('sipctl htable dump ipban')!, m.get('kamcmd htable.dump ipban')!)],
    ['same, sipctl over the datagram socket (`--rpc unix:`)', ms(m.get('sipctl htable dump ipban (unix: dgram)')!), `kamcmd htable.dump: ${ms(m.get('kamcmd htable.dump ipban')!)}`, ratio(m.get('sipctl htable dump ipban (unix: dgram)')!, m.get('kamcmd htable.dump ipban')!)],
    ['`htable sets MessageCount bench value`, whole process, median', ms(m.get('sipctl htable sets')!), `kamcmd htable.sets: ${ms(m.get('kamcmd htable.sets')!)}`, ratio(m.get('sipctl htable sets')!, m.get('kamcmd htable.sets')!)],
    [`${UPDATES.toLocaleString('en')} updates: one \`sipctl batch\` (HTTP)${all(bulk.http)}`, bulkText(httpRun), kamcmdText, ratio(batchHttp, kamcmdLoop)],
    [`${UPDATES.toLocaleString('en')} updates: one \`sipctl batch --rpc unix:\` (datagram)${all(bulk.dgram)}`, bulkText(dgramRun), kamcmdText, ratio(batchDgram, kamcmdLoop)],
    [`${UPDATES.toLocaleString('en')} updates: one \`sipctl batch --rpc fifo:\` (kamctl's FIFO)${all(bulk.fifo)}`, bulkText(fifoRun), kamcmdText, ratio(batchFifo, kamcmdLoop)],
    [`${UPDATES.toLocaleString('en')} updates: shell loop of sipctl (${SIPCTL_LOOP.toLocaleString('en')} measured: ${ms(sipctlLoop)}, ×${UPDATES / SIPCTL_LOOP}; ${loadText(sipctlLoopRun)})`, ms(sipctlLoopExtrapolated), kamcmdText, ratio(sipctlLoopExtrapolated, kamcmdLoop)],
  ];
  const table = ['| measurement | sipctl | kamcmd, same run | ratio sipctl/kamcmd |', '|---|---:|---:|---:|', ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
  const speedups = { HTTP: kamcmdLoop / batchHttp, datagram: kamcmdLoop / batchDgram, FIFO: kamcmdLoop / batchFifo };
  const speedText = Object.entries(speedups).map(([n, x]) => `${x.toFixed(1)}× over ${n}`).join(', ');
  const goal = Object.values(speedups).every((x) => x >= 10)
    ? `Target met: ${UPDATES.toLocaleString('en')} scripted updates with \`sipctl batch\` are at least 10× faster than a loop of kamcmd on every transport (${speedText}).`
    : `Target NOT met on every transport (≥ 10× faster than a loop of kamcmd): ${speedText}.`;
  const tool = haveHyperfine ? `hyperfine -N, 3 warm-up + ${RUNS} runs` : `own loop, ${RUNS} runs after 3 warm-up`;
  const bulkHow = BULK_ROUNDS > 1 ? `each bulk figure is the median of ${BULK_ROUNDS} interleaved runs` : 'each bulk figure is one run';
  console.log(table + '\n\n' + goal);
  const at = `${new Date().toISOString().slice(11, 16)} UTC, at ${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--', 'src').trim() ? ' plus uncommitted changes under src/' : ''}`;
  if (!process.env.BENCH_NO_RECORD) appendResults('RPC', `${machineLine()}, nproc ${execFileSync('nproc').toString().trim()}, ${at}\n\nCommand: \`node --import tsx bench/rpc-bench.ts\` (${tool}; Kamailio 5.6 from the lab config on MariaDB, sipctl over HTTP unless noted, kamcmd over its binrpc socket; ${bulkHow}, every key checked stored; CPU = user+sys of the sipctl process; load = 1-minute load average before→after).\n\n${table}\n\n${goal}\n`);
  await k.stop();
  rmSync(home, { recursive: true, force: true });
} finally {
  await stopAllKamailio();
  await t.drop();
}
