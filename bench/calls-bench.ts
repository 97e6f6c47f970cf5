/**
 * Calls per second through the proxy: sipd beside a real Kamailio 5.6 (the lab configuration),
 * same machine, same run, one after the other (never at the same time: they share the two cores).
 *
 * One call = what a subscriber's phone does with its proxy: INVITE → 407 → ACK → INVITE with
 * digest credentials → 100 → 180 → 200 → ACK → BYE → 200, from a sipp caller (alice) to a sipp
 * callee (bob) registered at the proxy from the port it answers on. Both proxies authenticate the
 * INVITE against the subscriber table (MariaDB, ha1 column), look bob up in usrloc, Record-Route
 * and relay statefully; ACK and BYE come back through them.
 *
 * Search: each step offers RATE calls/s for DURATION seconds (sipp -r RATE -m RATE×DURATION);
 * a step passes when every call was made, under 1% failed, and the run took no longer than
 * DURATION × 1.25 + 3 s (sipp did not fall behind). Rates double from --start until a step
 * fails, then the interval is bisected --bisect times. The result is the highest passing rate;
 * the table also shows the CPU the proxy used (its processes' utime+stime over the step's wall
 * time: 100% = one core), the whole machine's (/proc/stat, of 200%: the proxy, sipp, MariaDB,
 * Redis — when it is near 200% the step was decided by the machine, not by the proxy alone), and
 * sipp's retransmissions.
 *
 * Configuration, each as shipped: sipd with its default modules (pike, scanner, sanity, auth-db
 * with lockout, usrloc write-through, and the call handling: dialog tracking, acc CDRs written to
 * MariaDB in batches, mtree, pipelimit with no limits); Kamailio with the lab cfg (children 8,
 * auth_db on ha1, usrloc db_mode 2, tm, rr, no dialog module, acc to syslog only). sipd does more
 * per call (dialog state and two accounting rows). The caller sends from 127.0.0.1, "myself" for
 * both, so pike never bans it; the callee (127.0.0.5) only answers, and neither proxy counts
 * responses towards pike. The userban tables are flushed before each step on both.
 *
 * Kamailio runs twice: with the lab's 64 MB shared memory pool (its -m), where tm runs out of
 * memory for transactions above a few hundred calls/s ("build_cell(): could not allocate shared
 * memory", answered 500), and with shm_mem_size=512, where it is limited by CPU instead.
 *
 *   node --import tsx bench/calls-bench.ts [--duration 8] [--start 100] [--bisect 3]
 *       [--only sipd|kamailio] [--kamailio-shm 64,512] [--no-record] [--verbose]
 *       [--sipd 'default;node=22.23.5,workers=2'] [--clients 4] [--commit REV]
 *       [--node-args '--cpu-prof --cpu-prof-dir DIR'] [--sipp-buffer BYTES]
 *
 * --sipd (bench/sipd-variants.ts): the sipd set-ups to measure one after the other, e.g.
 * single-process sipd on the machine's Node and --workers 2 --cluster under Node 22 (from
 * .cache/node, as scripts/test-node-versions.sh installs it) on a private Redis, whose Redis round
 * trips per call are counted. --clients K: K sipp callers per step from their own ports at 1/K of
 * the rate each (the kernel hands each source address and port to one worker), for every proxy.
 * --commit REV: sipd compiled for the run from that commit into bench/out/ (bench/lib.ts
 * buildSipd), not dist/, which other engineers' builds may rewrite during a long run.
 *
 * Needs sipp, Kamailio 5.6 with the lab modules, MariaDB with root over its socket, and a built
 * dist/ (npm run build). Everything it starts is stopped and the databases dropped at the end,
 * also on failure.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../src/core/db/database.js';
import { addSubscriber } from '../src/core/subscribers/subscribers.js';
import { createTestDb, type TestDb } from '../test/helpers/db.js';
import { kamailioMissing, startKamailio, stopAllKamailio, type KamailioInstance } from '../test/helpers/kamailio.js';
import { register, scenario, settle, sipp } from '../test/daemon/calls-support.js';
import { toolsMissing } from '../test/helpers/require.js';
import { SIPD, assertBuilt, freeSipPort } from '../test/daemon/sipd-process.js';
import { appendResults, buildSipd, machineLine } from './lib.js';
import { parseVariants, roundTrips, rpcCall, startVariant, summariseLog, type StartedVariant } from './sipd-variants.js';

const PASSWORD = 'Tr0ub4dor-Horse-77';
/**
 * The callee answers on its own loopback address: the Kamailio harness aliases 127.0.0.1 on any
 * port as "myself", so a contact on 127.0.0.1 would make Kamailio's loose_route() take in-dialog
 * requests for its own (BYE → 404 "Not here").
 */
const CALLEE_IP = '127.0.0.5';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : dflt;
}
const DURATION = Number(arg('duration', '8'));
const START = Number(arg('start', '100'));
const BISECT = Number(arg('bisect', '3'));
const ONLY = arg('only', '');
const RECORD = !process.argv.includes('--no-record');
const VERBOSE = process.argv.includes('--verbose');
/** Kamailio's shared memory pools to run with: the lab's 64 MB (its -m), and a large one. */
const KAM_SHM = arg('kamailio-shm', '64,512').split(',').map(Number);
const VARIANTS_SPEC = arg('sipd', 'default');
const SIPD_VARIANTS = parseVariants(VARIANTS_SPEC);
/** sipp callers per step, each from its own port at 1/CLIENTS of the rate */
const CLIENTS = Math.max(1, Number(arg('clients', '1')));
const COMMIT = arg('commit', '');
/**
 * --fixed 100,200 [--rounds 3]: instead of the search, every proxy at these fixed rates, all of
 * them running at once and taking turns (order rotated each round), so each sees the same share
 * of whatever else loads the machine; the table compares medians of CPU per call.
 */
const FIXED = arg('fixed', '').split(',').filter(Boolean).map(Number);
const ROUNDS = Number(arg('rounds', '3'));
/** --sipp-buffer BYTES: every sipp's socket buffers (-buff_size; sipp's default is 65,535 bytes) */
const SIPP_BUFFER = arg('sipp-buffer', '');
const SIPP_BUF_ARGS = SIPP_BUFFER !== '' ? ['-buff_size', SIPP_BUFFER] : [];
/** --node-args '--cpu-prof --cpu-prof-dir DIR': extra Node.js options for every sipd started (profiling); summary: sipd-bench.ts --prof-summary FILE */
const NODE_ARGS = arg('node-args', '').split(' ').filter(Boolean);

interface Step {
  rate: number;
  planned: number;
  created: number;
  successful: number;
  failed: number;
  retransmissions: number;
  wallMs: number;
  cpu: number;
  /** the busiest of the proxy's processes (100% = one core): a --workers worker at ~100% decides the step alone */
  busiest: number;
  /** datagrams the kernel dropped over the step because a UDP socket's receive buffer was full (machine-wide /proc/net/snmp RcvbufErrors: the proxy's, sipp's) */
  udpDrops: number;
  /** % of the machine's CPU (of 200%) the hypervisor took during the step */
  stolen: number;
  /** the whole machine's busy CPU over the step (100% = one core of the two): proxy, sipp, MariaDB, Redis */
  machine: number;
  /** sipd --cluster: Redis round trips (top-level commands) per successful call */
  redisTrips?: number;
  pass: boolean;
}

interface Target {
  name: string;
  port: number;
  pids(): number[];
  flushUserban(): Promise<void>;
  redisCommands?(): Promise<Record<string, number>>;
  /** sipd: its proxy counters (proxy.stats of worker 0), for --verbose on a failing step */
  counters?(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

const CLK_TCK = 100;

/** utime + stime of each process (ticks), by pid; with 'sys', stime only */
function ticksByPid(pids: number[], which: 'all' | 'sys' = 'all'): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(pid, (which === 'all' ? Number(f[11]) : 0) + Number(f[12]));
    } catch {
      /* gone */
    }
  }
  return out;
}

const sumTicks = (byPid: Map<number, number>): number => [...byPid.values()].reduce((a, b) => a + b, 0);

/**
 * The machine's ticks (all CPUs, /proc/stat): busy (everything but idle, iowait and steal) and
 * stolen — time the hypervisor gave the VM's CPUs to others (this VM lost 37–42 % of them during
 * one run): a step with much of it measured a smaller machine.
 */
function machineTicks(): { busy: number; steal: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const steal = f[7] ?? 0;
  return { busy: f.reduce((a, b) => a + b, 0) - f[3]! - (f[4] ?? 0) - steal, steal };
}

/** UDP datagrams dropped so far for a full receive buffer, every socket of the machine (/proc/net/snmp Udp: RcvbufErrors). */
function udpRcvbufErrors(): number {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp: '));
  const names = lines[0]!.split(/\s+/);
  return Number(lines[1]!.split(/\s+/)[names.indexOf('RcvbufErrors')]);
}

/** A process's role for --verbose: its command line's last words (sipd's worker mark, redis-server). */
function processName(pid: number): string {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').filter(Boolean);
    return argv.slice(-2).map((a) => a.split('/').pop()).join(' ');
  } catch {
    return '?';
  }
}

/** Every process in a process group (Kamailio's main process and its children). */
function groupPids(pgid: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) === pgid) out.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return out;
}

async function provision(t: TestDb): Promise<void> {
  const db = await t.open();
  try {
    for (const u of ['alice', 'bob']) await addSubscriber(db, u, '127.0.0.1', PASSWORD, { hash: 'md5', storePlaintext: false });
  } finally {
    await db.close();
  }
}

async function stepOnce(t: Target, rate: number, calleePort: number): Promise<Step & { callerNotStarted?: string }> {
  await t.flushUserban();
  const planned = rate * DURATION;
  const pids = t.pids();
  const rc0 = t.redisCommands ? await t.redisCommands() : undefined;
  const pc0 = VERBOSE && t.counters ? await t.counters().catch(() => undefined) : undefined;
  const ports: number[] = [];
  while (ports.length < CLIENTS) {
    const p = await freeSipPort();
    if (!ports.includes(p)) ports.push(p);
  }
  const share = (k: number) => Math.floor(planned / CLIENTS) + (k < planned % CLIENTS ? 1 : 0);
  const per0 = ticksByPid(t.pids());
  const sys0 = ticksByPid(t.pids(), 'sys');
  const m0 = machineTicks();
  const d0 = udpRcvbufErrors();
  const t0 = Date.now();
  // CLIENTS callers at once, each at rate/CLIENTS (-r rate -rp 1000×CLIENTS) from its own port
  const runs = await Promise.all(
    ports.map((localPort, k) =>
      sipp({
        scenario: scenario('caller.xml', { USER: 'alice', HOLD: 0 }),
        remote: `127.0.0.1:${t.port}`,
        localPort,
        service: 'bob',
        user: 'alice',
        password: PASSWORD,
        calls: share(k),
        rate,
        timeoutMs: (DURATION * 2 + 20) * 1000,
        extra: ['-rp', String(1000 * CLIENTS), '-l', String(Math.max(50, Math.ceil((rate * 4) / CLIENTS))), '-recv_timeout', '5000', '-max_socket', '2000', ...SIPP_BUF_ARGS],
      }).done,
    ),
  );
  const wallMs = Date.now() - t0;
  const per1 = ticksByPid(t.pids());
  const pct = (ticks: number) => (ticks / CLK_TCK / (wallMs / 1000)) * 100;
  const cpu = pct(sumTicks(per1) - sumTicks(per0));
  const busiest = Math.max(0, ...[...per1].map(([pid, v]) => pct(v - (per0.get(pid) ?? 0))));
  const m1 = machineTicks();
  const machine = pct(m1.busy - m0.busy);
  const stolen = pct(m1.steal - m0.steal);
  const udpDrops = udpRcvbufErrors() - d0;
  void pids;
  if (VERBOSE) {
    // the kernel's share (stime) of each: sending a datagram on loopback runs the receiver's side of it too
    const sys1 = ticksByPid(t.pids(), 'sys');
    console.error(`  CPU per process (of which in the kernel): ${[...per1].map(([pid, v]) => `${pid} ${processName(pid)} ${pct(v - (per0.get(pid) ?? 0)).toFixed(0)}% (${pct((sys1.get(pid) ?? 0) - (sys0.get(pid) ?? 0)).toFixed(0)}%)`).join(', ')}`);
  }
  const successful = runs.reduce((a, r) => a + (r.successful ?? 0), 0);
  const failed = runs.reduce((a, r, k) => a + (r.failed ?? share(k)), 0);
  const created = successful + runs.reduce((a, r) => a + (r.failed ?? 0), 0);
  const retransmissions = runs.reduce((a, r) => a + Number(/Retransmissions[^|]*\|\s*\d+\s*\|\s*(\d+)/.exec(r.output)?.[1] ?? 0), 0);
  const pass = created >= planned && failed < planned * 0.01 && wallMs <= DURATION * 1250 + 3000;
  void calleePort;
  if (!pass && VERBOSE) {
    // per caller: its calls, sipp's reasons for the failed ones, and the output of one that made none
    for (const [k, r] of runs.entries()) {
      console.error(`  caller ${k}: exit ${r.code}${r.timedOut ? ' (timed out)' : ''}, ${r.successful ?? '?'} ok, ${r.failed ?? '?'} failed of ${share(k)} ${JSON.stringify(r.failures ?? {})}`);
      if ((r.successful ?? 0) + (r.failed ?? 0) === 0) console.error(r.output.slice(-800));
    }
    console.error(runs.flatMap((r) => r.output.split('\n').filter((l) => /received 'SIP\/2.0/.test(l)).slice(0, 3)).join('\n'));
    const pc1 = pc0 !== undefined && t.counters ? await t.counters().catch(() => undefined) : undefined;
    if (pc0 !== undefined && pc1 !== undefined) console.error(`  proxy.stats during the step: ${Object.entries(pc1).flatMap(([k, v]) => (typeof v === 'number' && v !== (pc0[k] ?? 0) ? [`${k} +${v - (pc0[k] ?? 0)}`] : [])).join(', ')}`);
  }
  const redisTrips = rc0 && t.redisCommands ? roundTrips(rc0, await t.redisCommands()) / Math.max(1, successful) : undefined;
  // a caller that made no call at all and exited with an error never ran (its port taken since
  // freeSipPort checked it, say): the step measured nothing of the proxy's
  const dead = runs.find((r) => (r.successful ?? 0) + (r.failed ?? 0) === 0 && r.code !== 0);
  return { rate, planned, created, successful, failed, retransmissions, wallMs, cpu, busiest, machine, stolen, udpDrops, redisTrips, pass, ...(dead !== undefined ? { callerNotStarted: dead.output.trim().split('\n').slice(-2).join(' ').slice(0, 300) } : {}) };
}

/** One step; run again (at most twice) when a sipp caller never started, which says nothing of the proxy. */
async function step(t: Target, rate: number, calleePort: number): Promise<Step> {
  for (let attempt = 1; ; attempt++) {
    const { callerNotStarted, ...s } = await stepOnce(t, rate, calleePort);
    if (callerNotStarted === undefined || attempt === 3) return s;
    console.error(`  ${rate}/s: a sipp caller did not start (${callerNotStarted}); the step runs again`);
  }
}

async function search(t: Target, calleePort: number, log: (s: Step) => void): Promise<{ best: number; steps: Step[] }> {
  const steps: Step[] = [];
  let lo = 0;
  let hi = 0;
  for (let rate = START; ; rate *= 2) {
    const s = await step(t, rate, calleePort);
    steps.push(s);
    log(s);
    if (!s.pass) {
      hi = rate;
      break;
    }
    lo = rate;
    if (rate > 20_000) break;
  }
  for (let i = 0; i < BISECT && hi > 0 && hi - lo > Math.max(10, lo * 0.05); i++) {
    const rate = Math.round((lo + hi) / 2 / 10) * 10;
    const s = await step(t, rate, calleePort);
    steps.push(s);
    log(s);
    if (s.pass) lo = rate;
    else hi = rate;
  }
  return { best: lo, steps };
}

async function withCallee<T>(port: number, proxyPort: number, fn: () => Promise<T>): Promise<T> {
  const reg = await register({ proxyPort, user: 'bob', password: PASSWORD, localIp: CALLEE_IP, localPort: port, expires: 3600 });
  if (reg.successful !== 1) throw new Error(`REGISTER bob failed:\n${reg.output.slice(-1500)}`);
  const uas = sipp({ scenario: scenario('callee.xml', { RING: 0 }), localIp: CALLEE_IP, localPort: port, calls: 10_000_000, timeoutMs: 3_600_000, extra: ['-max_socket', '2000', ...SIPP_BUF_ARGS] });
  await settle(500);
  try {
    return await fn();
  } finally {
    uas.stop();
    await uas.done;
  }
}

function table(rows: Step[]): string {
  const head = '| rate (calls/s) | calls | failed | retrans. | wall (s) | proxy CPU | busiest process | machine CPU (of 200%) | stolen (of 200%) | UDP drops | Redis round trips/call | |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n';
  return head + rows.map((s) => `| ${s.rate} | ${s.created}/${s.planned} | ${s.failed} | ${s.retransmissions} | ${(s.wallMs / 1000).toFixed(1)} | ${s.cpu.toFixed(0)}% | ${s.busiest.toFixed(0)}% | ${s.machine.toFixed(0)}% | ${s.stolen.toFixed(0)}% | ${s.udpDrops} | ${s.redisTrips?.toFixed(2) ?? ''} | ${s.pass ? 'pass' : 'FAIL'} |`).join('\n') + '\n';
}

let sipdFrom = 'dist/ (npm run build)';
let removeBuild = () => {};
const LOAD0 = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

async function main(): Promise<void> {
  const missing = toolsMissing('sipp');
  if (missing) throw new Error(missing);
  const why = kamailioMissing();
  if (why && ONLY !== 'sipd') throw new Error(why);
  const dbs: TestDb[] = [];
  const results: Array<{ name: string; best: number; steps: Step[] }> = [];
  const print = (name: string) => (s: Step) => console.log(`${name.padEnd(9)} ${String(s.rate).padStart(5)}/s  calls ${s.created}/${s.planned}  failed ${s.failed}  retrans ${s.retransmissions}  wall ${(s.wallMs / 1000).toFixed(1)}s  cpu ${s.cpu.toFixed(0)}% (busiest ${s.busiest.toFixed(0)}%)  machine ${s.machine.toFixed(0)}%  stolen ${s.stolen.toFixed(0)}%  udp drops ${s.udpDrops}${s.redisTrips !== undefined ? `  redis ${s.redisTrips.toFixed(2)}/call` : ''}  ${s.pass ? 'pass' : 'FAIL'}`);
  try {
    if (ONLY !== 'kamailio') {
      let sipdBin = SIPD;
      if (COMMIT) {
        const built = buildSipd('calls-build', COMMIT, (remove) => (removeBuild = remove));
        sipdBin = built.bin;
        sipdFrom = built.what;
        console.log(`sipd built from ${built.what}`);
      } else assertBuilt();
      for (const v of SIPD_VARIANTS) {
        const t = await createTestDb('mysql');
        dbs.push(t);
        await provision(t);
        const stateDir = mkdtempSync(join(tmpdir(), 'sipd-calls-bench-'));
        let sv: StartedVariant | undefined;
        try {
          const sipPort = await freeSipPort();
          // as test/daemon/sipd-process.ts starts it (the default modules), at log level warn
          sv = await startVariant(v, {
            sipdBin,
            stateDir,
            config: { listen: [`udp:127.0.0.1:${sipPort}`, `tcp:127.0.0.1:${sipPort}`], rpcListen: ['http://127.0.0.1:0/RPC'], stateSaveIntervalSec: 1, logLevel: 'warn', modules: { scanner: { user_agents: ['friendly-scanner', 'sipvicious', 'sipcli', 'sundayddr', 'sip-scan', 'iWar'] } } },
            env: { PATH: process.env.PATH ?? '', HOME: stateDir, XDG_CONFIG_HOME: join(stateDir, '.config'), SIPCTL_DB: t.fullUrl, LANG: 'C.UTF-8' },
            logFd: 'pipe',
            nodeArgs: NODE_ARGS,
            timeoutMs: 60_000,
          });
          const s = sv;
          const flush = async () => {
            await fetch(s.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', method: 'htable.flush', params: ['userban'], id: 1 }), signal: AbortSignal.timeout(5000) });
          };
          const target: Target = {
            name: v.label,
            port: sipPort,
            pids: () => s.pids(),
            flushUserban: flush,
            counters: () => rpcCall<Record<string, number>>(s.rpcUrl, 'proxy.stats', 5000),
            ...(v.cluster ? { redisCommands: () => s.redisCommands() } : {}),
            stop: () => s.stop(),
          };
          const port = await freeSipPort();
          const short = v.workers > 1 ? `sipd/w${v.workers}` : v.cluster ? 'sipd/cl' : 'sipd';
          results.push({ name: v.label, ...(await withCallee(port, sipPort, () => search(target, port, print(short)))) });
          // its warnings (log level warn): why a step failed, when it was sipd that refused calls
          if (VERBOSE) console.error(summariseLog(s.output()));
        } finally {
          await sv?.stop();
          rmSync(stateDir, { recursive: true, force: true });
        }
      }
    }
    if (ONLY !== 'sipd') {
      for (const shm of KAM_SHM) {
        const t = await createTestDb('mysql');
        dbs.push(t);
        await provision(t);
        let k: KamailioInstance | undefined;
        const name = shm === 64 ? 'Kamailio (lab cfg, 64 MB shm)' : `Kamailio (lab cfg, shm_mem_size=${shm})`;
        try {
          k = await startKamailio({ dbUrl: t.fullUrl, authMode: 'ha1', children: 8, readyTimeoutMs: 60_000, extraGlobals: shm === 64 ? [] : [`shm_mem_size=${shm}`] });
          const kk = k;
          const target: Target = {
            name,
            port: kk.sipPort,
            pids: () => groupPids(kk.pid),
            flushUserban: async () => void (await kk.rpc('htable.flush', ['userban'])),
            stop: () => kk.stop(),
          };
          const port = await freeSipPort();
          results.push({ name, ...(await withCallee(port, kk.sipPort, () => search(target, port, print(`kam/${shm}`)))) });
        } finally {
          await k?.stop();
        }
      }
    }
  } finally {
    removeBuild();
    await stopAllKamailio();
    for (const t of dbs) await t.drop().catch(() => undefined);
  }

  const sipds = results.filter((r) => r.name.startsWith('sipd'));
  const kams = results.filter((r) => r.name.startsWith('Kamailio'));
  const kamBest = kams.length > 0 ? Math.max(...kams.map((r) => r.best)) : undefined;
  const cpuPerCall = (r: { best: number; steps: Step[] }) => {
    const s = r.steps.find((x) => x.pass && x.rate === r.best);
    return s && s.successful > 0 ? (s.cpu * 10_000 * s.wallMs) / 1000 / s.successful : undefined;
  };
  const baseCpu = sipds[0] ? cpuPerCall(sipds[0]) : undefined;
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  let body = `${machineLine()}; load average at the start ${LOAD0}, at the end ${load}\n\n`;
  body += `INVITE (407, digest) → 180 → 200 → ACK → BYE per call, sipp caller${CLIENTS > 1 ? `s (${CLIENTS} at once, each from its own port at 1/${CLIENTS} of the rate)` : ''} on 127.0.0.1, callee on ${CALLEE_IP}, ${DURATION} s per step; pass = every call made, < 1% failed, sipp kept the pace. sipd from ${sipdFrom}. Command: \`node --import tsx bench/calls-bench.ts ${process.argv.slice(2).join(' ')}\`.\n\n`;
  body += '| proxy | highest rate with < 1% failures | × Kamailio (best) | proxy CPU per call at that rate | CPU per call × first sipd row | Redis round trips per call |\n|---|---:|---:|---:|---:|---:|\n';
  for (const r of results) {
    const c = cpuPerCall(r);
    const st = r.steps.find((x) => x.pass && x.rate === r.best);
    const isSipd = r.name.startsWith('sipd');
    body += `| ${r.name} | ${r.best} calls/s | ${kamBest ? (r.best / kamBest).toFixed(2) : '—'} | ${c !== undefined ? `${c.toFixed(0)} µs` : '—'} | ${isSipd && c !== undefined && baseCpu ? (c / baseCpu).toFixed(2) : ''} | ${st?.redisTrips !== undefined ? st.redisTrips.toFixed(2) : isSipd ? '0' : '—'} |\n`;
  }
  for (const r of results) body += `\n${r.name} steps:\n\n${table(r.steps)}`;
  console.log('\n' + body);
  if (RECORD) appendResults('Calls per second through the proxy (sipd vs Kamailio 5.6)', body);
}

/** The proxies of the run, started at once: each sipd set-up, then Kamailio per --kamailio-shm. */
async function startAll(dbs: TestDb[], stops: Array<() => Promise<void>>): Promise<Target[]> {
  const targets: Target[] = [];
  if (ONLY !== 'kamailio') {
    let sipdBin = SIPD;
    if (COMMIT) {
      const built = buildSipd('calls-build', COMMIT, (remove) => (removeBuild = remove));
      sipdBin = built.bin;
      sipdFrom = built.what;
      console.log(`sipd built from ${built.what}`);
    } else assertBuilt();
    for (const v of SIPD_VARIANTS) {
      const t = await createTestDb('mysql');
      dbs.push(t);
      await provision(t);
      const stateDir = mkdtempSync(join(tmpdir(), 'sipd-calls-bench-'));
      stops.push(async () => rmSync(stateDir, { recursive: true, force: true }));
      const sipPort = await freeSipPort();
      const sv = await startVariant(v, {
        sipdBin,
        stateDir,
        config: { listen: [`udp:127.0.0.1:${sipPort}`, `tcp:127.0.0.1:${sipPort}`], rpcListen: ['http://127.0.0.1:0/RPC'], stateSaveIntervalSec: 1, logLevel: 'warn', modules: { scanner: { user_agents: ['friendly-scanner', 'sipvicious', 'sipcli', 'sundayddr', 'sip-scan', 'iWar'] } } },
        env: { PATH: process.env.PATH ?? '', HOME: stateDir, XDG_CONFIG_HOME: join(stateDir, '.config'), SIPCTL_DB: t.fullUrl, LANG: 'C.UTF-8' },
        logFd: 'pipe',
        nodeArgs: NODE_ARGS,
        timeoutMs: 60_000,
      });
      stops.push(() => sv.stop());
      targets.push({
        name: v.label,
        port: sipPort,
        pids: () => sv.pids(),
        flushUserban: async () => void (await fetch(sv.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', method: 'htable.flush', params: ['userban'], id: 1 }), signal: AbortSignal.timeout(5000) })),
        ...(v.cluster ? { redisCommands: () => sv.redisCommands() } : {}),
        stop: () => sv.stop(),
      });
    }
  }
  if (ONLY !== 'sipd') {
    for (const shm of KAM_SHM) {
      const t = await createTestDb('mysql');
      dbs.push(t);
      await provision(t);
      const k = await startKamailio({ dbUrl: t.fullUrl, authMode: 'ha1', children: 8, readyTimeoutMs: 60_000, extraGlobals: shm === 64 ? [] : [`shm_mem_size=${shm}`] });
      stops.push(() => k.stop());
      targets.push({ name: shm === 64 ? 'Kamailio (lab cfg, 64 MB shm)' : `Kamailio (lab cfg, shm_mem_size=${shm})`, port: k.sipPort, pids: () => groupPids(k.pid), flushUserban: async () => void (await k.rpc('htable.flush', ['userban'])), stop: () => k.stop() });
    }
  }
  return targets;
}

async function interleavedMain(): Promise<void> {
  const missing = toolsMissing('sipp');
  if (missing) throw new Error(missing);
  const dbs: TestDb[] = [];
  const stops: Array<() => Promise<void>> = [];
  const got = new Map<string, Step[]>();
  let targets: Target[] = [];
  try {
    targets = await startAll(dbs, stops);
    // each proxy's own callee, registered there, answering for the whole run
    const callees = new Map<string, number>();
    for (const t of targets) {
      const port = await freeSipPort();
      const reg = await register({ proxyPort: t.port, user: 'bob', password: PASSWORD, localIp: CALLEE_IP, localPort: port, expires: 3600 });
      if (reg.successful !== 1) throw new Error(`REGISTER bob at ${t.name} failed:\n${reg.output.slice(-1500)}`);
      const uas = sipp({ scenario: scenario('callee.xml', { RING: 0 }), localIp: CALLEE_IP, localPort: port, calls: 10_000_000, timeoutMs: 3_600_000, extra: ['-max_socket', '2000', ...SIPP_BUF_ARGS] });
      stops.push(async () => {
        uas.stop();
        await uas.done;
      });
      callees.set(t.name, port);
    }
    await settle(500);
    for (const t of targets) {
      const w = await step(t, 50, callees.get(t.name)!);
      console.log(`${t.name}: warm-up ${w.successful}/${w.planned} calls at 50/s`);
    }
    for (let r = 0; r < ROUNDS; r++) {
      for (const rate of FIXED) {
        for (let j = 0; j < targets.length; j++) {
          const t = targets[(j + r) % targets.length]!;
          const s = await step(t, rate, callees.get(t.name)!);
          got.set(`${t.name}@${rate}`, [...(got.get(`${t.name}@${rate}`) ?? []), s]);
          console.log(`round ${r + 1}/${ROUNDS} ${t.name.padEnd(44)} ${String(rate).padStart(5)}/s  ok ${s.successful}/${s.planned}  failed ${s.failed}  wall ${(s.wallMs / 1000).toFixed(1)}s  cpu ${s.cpu.toFixed(0)}%${s.redisTrips !== undefined ? `  redis ${s.redisTrips.toFixed(2)}/call` : ''}  ${s.pass ? 'pass' : 'FAIL'}`);
        }
      }
    }
  } finally {
    for (const f of stops.reverse()) await f().catch(() => undefined);
    removeBuild();
    await stopAllKamailio();
    for (const t of dbs) await t.drop().catch(() => undefined);
  }
  const med = (xs: number[]) => {
    const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
    return v.length === 0 ? NaN : v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
  };
  const cpuPer = (s: Step) => (s.successful > 0 ? (s.cpu * 10 * s.wallMs) / s.successful : NaN); // µs per successful call
  const r2 = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? (a / b).toFixed(2) : '—');
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  let body = `${machineLine()}; load average at the start ${LOAD0}, at the end ${load}\n\n`;
  body += `Fixed rates, every proxy running at once and taking turns (order rotated each round; ${ROUNDS} rounds of ${DURATION} s per rate). INVITE (407, digest) → 180 → 200 → ACK → BYE per call, ${CLIENTS} sipp caller${CLIENTS > 1 ? 's at once, each from its own port at 1/' + CLIENTS + ' of the rate' : ''} on 127.0.0.1, each proxy's own callee on ${CALLEE_IP}; a step passes when every call was made, < 1% failed and sipp kept the pace. CPU per call: the proxy's processes (with --workers the primary and every worker, with --cluster its private redis-server too) over the step's wall time, per successful call. sipd from ${sipdFrom}. Command: \`node --import tsx bench/calls-bench.ts ${process.argv.slice(2).join(' ')}\`.\n\n`;
  body += '| proxy | offered calls/s | rounds passed | calls failed (all rounds) | proxy CPU per call (median) | × Kamailio | × first sipd row | Redis round trips per call (median) |\n|---|---:|---:|---:|---:|---:|---:|---:|\n';
  for (const rate of FIXED) {
    const kam = targets.find((t) => t.name.startsWith('Kamailio'));
    const kCpu = kam ? med((got.get(`${kam.name}@${rate}`) ?? []).map(cpuPer)) : NaN;
    const first = targets.find((t) => t.name.startsWith('sipd'));
    const sCpu = first ? med((got.get(`${first.name}@${rate}`) ?? []).map(cpuPer)) : NaN;
    for (const t of targets) {
      const ss = got.get(`${t.name}@${rate}`) ?? [];
      const c = med(ss.map(cpuPer));
      const trips = med(ss.map((x) => x.redisTrips ?? NaN));
      body += `| ${t.name} | ${rate} | ${ss.filter((x) => x.pass).length}/${ss.length} | ${ss.reduce((a, x) => a + x.failed, 0)} of ${ss.reduce((a, x) => a + x.planned, 0)} | ${c.toFixed(0)} µs | ${r2(c, kCpu)} | ${t.name.startsWith('sipd') ? r2(c, sCpu) : ''} | ${Number.isFinite(trips) ? trips.toFixed(2) : t.redisCommands ? '—' : '0'} |\n`;
    }
  }
  for (const t of targets) {
    const all = FIXED.flatMap((rate) => got.get(`${t.name}@${rate}`) ?? []);
    body += `\n${t.name} steps:\n\n${table(all)}`;
  }
  console.log('\n' + body);
  if (RECORD) appendResults('Calls per second at fixed rates: sipd set-ups and Kamailio 5.6 taking turns', body);
}

(FIXED.length > 0 ? interleavedMain() : main()).catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});

void openDatabase;
