/**
 * sipd REGISTER benchmark, beside a real Kamailio 5.6 (the lab configuration) in the same run, on
 * the same MariaDB database:
 *
 *  1. throughput: sipp drives REGISTER → 401 → REGISTER with credentials → 200 (one "call") for
 *     1,000 subscribers at a stepped rate (1000, 2000, 4000, 6000, 8000, 10000, … calls/s, each
 *     step DURATION seconds), then bisects between the last rate that passed and the first that
 *     failed. A step passes with under 1% failed calls when sipp kept the pace: every sipp client
 *     made its calls within DURATION × 1.05 + 0.5 s of its own start (a proxy that falls behind
 *     stretches that time; 0.5 s covers sipp's own ramp and the last answers, which cost ~4 % of a
 *     10 s step even at idle, so an "achieved ≥ 95 % of offered" rule failed steps with every call
 *     answered in 1 ms). Per step: calls, failures, response time, retransmissions, CPU of the proxy
 *     process(es), of MariaDB, of sipp and of everything else on the machine (other users of the
 *     same cores make a step noisy: that column says when).
 *  2. diagnostics, when sipd reaches less than PROFILE_BELOW of Kamailio's rate (or --profile):
 *     the same search (8 s steps) for sipd with the auth-db lockout off, and with the lockout off
 *     and usrloc db_mode 0, each removing one suspect; a CPU profile (node --cpu-prof, top frames
 *     printed) of sipd with the lockout off at its best rate (and of the db_mode 0 one if time
 *     allows); MariaDB's own rate for sipd's per-REGISTER write (START TRANSACTION; UPDATE;
 *     COMMIT) over 4 connections (sipd's pool) and 16.
 *  3. memory: 100,000 subscribers and 100,000 location rows (as the registrars write them) loaded
 *     at start by both proxies (usrloc loads the table at start in both), then 10,000 ipban
 *     entries set over JSON-RPC (sipd: batch arrays; Kamailio: one call each, no batch support).
 *     sipd: VmRSS after forced full GCs (an --import data: hook answers SIGUSR2 with gc(); harness
 *     only, sipd itself unchanged). Kamailio: its shared memory is a fixed pool, -m 64 in the lab,
 *     which 100,000 contacts do not fit in (it dies loading them; reported), so it is measured
 *     again with shm_mem_size=256: the sum of VmRSS over its processes (counts the shared pool once
 *     per process), the sum of Pss (each page once) and core.shmmem's real_used.
 *  4. a markdown table, appended with date and machine to bench/RESULTS.md ("## sipd REGISTER").
 *
 *   node --import tsx bench/sipd-bench.ts [--duration 20] [--budget 630] [--contacts 100000]
 *       [--bans 10000] [--rates 1000,2000,…] [--profile | --no-profile] [--only sipd|kamailio]
 *       [--skip-memory] [--skip-throughput] [--no-record] [--keep-profile DIR] [--keep-logs DIR]
 *       [--sipd-config '{"modules":{…}}'] [--commit REV]
 *       [--sipd 'default;node=22.23.5,workers=2'] [--clients 4]
 *       [--node-args '--cpu-prof --cpu-prof-dir DIR'] [--prof-summary FILE.cpuprofile]
 *
 * --sipd (bench/sipd-variants.ts): the sipd set-ups to measure (`db_mode=2` in a variant: usrloc
 * write-back, as Kamailio's lab cfg; tables name each proxy's db_mode), one after the other beside the one
 * Kamailio run, e.g. single-process sipd on the machine's Node, and --workers 2 --cluster under
 * Node 22 (from .cache/node, as scripts/test-node-versions.sh installs it) on a private Redis.
 * Diagnostics and the memory part use the first. --clients K: K sipp processes, each from its own
 * port with its own 1/K of the users at 1/K of the rate — needed for --workers, since the kernel
 * hands each source address and port to one worker (one sipp = one worker); used for every proxy
 * of the run alike.
 *
 * sipd is compiled for the run into bench/out/ from the working tree's src/ as it is at the start
 * (or from --commit REV), never run from dist/, which a concurrent `npm run build` may rewrite.
 * Needs: sipp, kamailio 5.6 with the lab modules, MariaDB
 * with root over its unix socket (test/helpers/db.ts). Everything it starts is stopped and the
 * database dropped at the end, also on failure or Ctrl-C.
 *
 * Both proxies run as configured by default: sipd with its default modules (pike, scanner,
 * sanity, auth-db lockout, usrloc write-through db_mode 1); Kamailio with the lab cfg (children 8,
 * auth_db on the ha1 column, usrloc db_mode 2 = write-back on a timer). sipp sends from
 * 127.0.0.1, "myself" for both, so pike never bans it; its User-Agent "SIPp-lab" is checked
 * against both scanner filters with a live OPTIONS before the run. The scenario is the lab's with
 * the port in the Request-URI (bench/sipp/sipd_reg_auth.xml says why: sipp's digest uri). The
 * userban table is flushed on both before each step, so a step starts with no lockout left over
 * from the last one (an overloaded step makes sipp give up on calls half-way; sipd no longer counts
 * a UDP retransmission as a failed login — it answers it from its reply cache — but a flush keeps
 * the steps independent whatever either proxy counts).
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Database, SqlValue } from '../src/core/db/database.js';
import { createTestDb, type TestDb } from '../test/helpers/db.js';
import { createRpcClient } from '../src/core/rpc/client.js';
import { findFreePort, startKamailio, type KamailioInstance } from '../test/helpers/kamailio.js';
import { appendResults, buildSipd, machineLine } from './lib.js';
import { parseVariants, roundTrips, startVariant, usrlocDbMode, type SipdVariant } from './sipd-variants.js';

// ---------------------------------------------------------------- options

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : def;
}
const flag = (name: string) => process.argv.includes(`--${name}`);

const DURATION = Number(arg('duration', '20'));
const BUDGET_S = Number(arg('budget', '630'));
const CONTACTS = Number(arg('contacts', '100000'));
const BANS = Number(arg('bans', '10000'));
const RATES = arg('rates', '1000,2000,4000,6000,8000,10000,12000,14000,16000,20000').split(',').map(Number);
const ONLY = arg('only', '');
const RECORD = !flag('no-record');
const SKIP_MEMORY = flag('skip-memory');
/** development: memory part only */
const SKIP_THROUGHPUT = flag('skip-throughput');
const FORCE_PROFILE = flag('profile');
const NO_PROFILE = flag('no-profile');
const KEEP_PROFILE = arg('keep-profile', '');
/** copy each sipd's log (JSON lines) here when it stops, named after its set-up */
const KEEP_LOGS = arg('keep-logs', '');
/** extra sipd configuration (JSON) merged over the bench's, for experiments */
const SIPD_CONFIG = JSON.parse(arg('sipd-config', '{}')) as Record<string, unknown>;
/**
 * --node-args '--cpu-prof --cpu-prof-dir DIR': extra Node.js options for every sipd the bench
 * starts (profiling a --fixed run); --prof-summary FILE.cpuprofile prints the summary the
 * diagnostics use (top self time, by file, inclusive) and exits.
 */
const NODE_ARGS = arg('node-args', '').split(' ').filter(Boolean);
const PROF_SUMMARY = arg('prof-summary', '');
/** the sipd set-ups measured (bench/sipd-variants.ts) */
const VARIANTS_SPEC = arg('sipd', 'default');
const SIPD_VARIANTS = parseVariants(VARIANTS_SPEC, SIPD_CONFIG);
/** Kamailio's name in tables: the lab cfg's usrloc mode (write-back) is part of what is compared */
const KAMAILIO = 'Kamailio (usrloc db_mode 2)';
/**
 * --fixed 300,600 [--rounds 3]: instead of the step search, every proxy at these fixed rates, all
 * of them running at once and taking turns (the order rotated each round), so that each sees the
 * same share of whatever else loads the machine; the median CPU per call compares them.
 */
const FIXED = arg('fixed', '').split(',').filter(Boolean).map(Number);
const ROUNDS = Number(arg('rounds', '3'));
/** sipp processes per step, each with 1/CLIENTS of the rate and of the users */
const CLIENTS = Math.max(1, Number(arg('clients', '1')));
const USERS = 1000;
const DOMAIN = '127.0.0.1';
/** profile sipd when its rate is below this fraction of Kamailio's */
const PROFILE_BELOW = 0.8;
const MAX_FAILED_PCT = 1;
/** sipp kept the pace when each client's elapsed time ≤ DURATION × PACE_FACTOR + PACE_SLACK_S */
const PACE_FACTOR = 1.05;
const PACE_SLACK_S = 0.5;

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..');
/** set by buildSipdForBench(): sipd runs from its own build, which a concurrent `npm run build` cannot change mid-run */
let SIPD_BIN = '';
const COMMIT = arg('commit', '');
const SCENARIO = join(HERE, 'sipp', 'sipd_reg_auth.xml');
const HZ = 100; // CLK_TCK on Linux
const T0 = Date.now();
const elapsedS = () => (Date.now() - T0) / 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (s: string) => process.stderr.write(`[${elapsedS().toFixed(0).padStart(4)} s] ${s}\n`);

// ---------------------------------------------------------------- cleanup (also on failure / signals)

const cleanups: Array<{ what: string; fn: () => Promise<void> | void }> = [];
function onCleanup(what: string, fn: () => Promise<void> | void): () => void {
  const e = { what, fn };
  cleanups.push(e);
  return () => {
    const i = cleanups.indexOf(e);
    if (i >= 0) cleanups.splice(i, 1);
  };
}
let cleaning: Promise<void> | undefined;
function cleanupAll(): Promise<void> {
  cleaning ??= (async () => {
    while (cleanups.length > 0) {
      const e = cleanups.pop()!;
      try {
        await e.fn();
      } catch (err) {
        process.stderr.write(`cleanup (${e.what}) failed: ${String(err)}\n`);
      }
    }
  })();
  return cleaning;
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    process.stderr.write(`\n${sig}: cleaning up\n`);
    void cleanupAll().finally(() => process.exit(130));
  });
}
// Hard cap: whatever hangs, the bench ends (cleaned up) BUDGET + 120 s after it started.
setTimeout(() => {
  process.stderr.write(`bench exceeded its hard time limit (${BUDGET_S + 120} s); cleaning up\n`);
  void cleanupAll().finally(() => process.exit(3));
}, (BUDGET_S + 120) * 1000).unref();

// ---------------------------------------------------------------- /proc

/** utime+stime ticks of one process (all its threads); 0 when gone. */
function cpuTicks(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

/** Live (non-zombie) members of a process group. */
function groupPids(pgid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) === pgid && f[0] !== 'Z') out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

function statusKb(pid: number, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function pssKb(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** A step's "other processes" cell: their CPU, and what the hypervisor took when it took any (of 200 %). */
const others = (s: { otherCpuPct: number; stolenPct: number }): string => `${s.otherCpuPct.toFixed(0)}%${s.stolenPct >= 1 ? ` (+${s.stolenPct.toFixed(0)}% stolen)` : ''}`;

/**
 * Ticks of the whole machine (all CPUs): busy (user + nice + system + irq + softirq) and stolen
 * (steal: the hypervisor gave the VM's CPUs to others — up to 94 % of 200 % in one calls-bench
 * step here; before, it was counted among the other processes).
 */
function machineTicks(): { busy: number; steal: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { busy: f[0] + f[1] + f[2] + f[5] + f[6], steal: f[7] ?? 0 };
}

function mariadbPid(): number {
  for (const f of ['/run/mysqld/mysqld.pid', '/var/run/mysqld/mysqld.pid']) {
    try {
      return Number(readFileSync(f, 'utf8').trim());
    } catch {
      /* next */
    }
  }
  return 0;
}

// ---------------------------------------------------------------- JSON-RPC over HTTP (both proxies)

let rpcId = 0;
async function rpc<T = unknown>(url: string, method: string, params?: unknown[], timeoutMs = 10_000): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', method, ...(params ? { params } : {}), id: ++rpcId }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const j = (await res.json()) as { result?: T; error?: { code: number; message: string } };
  if (j.error) throw new Error(`${method}: ${j.error.code} ${j.error.message}`);
  return j.result as T;
}

/** A JSON-RPC batch array (sipd; Kamailio 5.6 jsonrpcs has no batches). */
async function rpcBatch(url: string, calls: Array<{ method: string; params: unknown[] }>): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(calls.map((c) => ({ jsonrpc: '2.0', method: c.method, params: c.params, id: ++rpcId }))),
    signal: AbortSignal.timeout(30_000),
  });
  const j = (await res.json()) as Array<{ error?: { message: string } }>;
  if (!Array.isArray(j) || j.length !== calls.length) throw new Error(`batch: unexpected reply ${JSON.stringify(j).slice(0, 200)}`);
  const bad = j.find((r) => r.error);
  if (bad) throw new Error(`batch: ${bad.error!.message}`);
}

/** "group:name = value" lines of stats.get_statistics → map (same shape on both proxies). */
async function statistics(url: string, which: string[]): Promise<Map<string, number>> {
  const lines = await rpc<string[]>(url, 'stats.get_statistics', which);
  const m = new Map<string, number>();
  for (const l of Array.isArray(lines) ? lines : []) {
    const x = /^(\S+) = (-?\d+)/.exec(l);
    if (x) m.set(x[1], Number(x[2]));
  }
  return m;
}

// ---------------------------------------------------------------- sipd build

/** sipd from its own build (bench/lib.ts buildSipd): the working tree, or --commit REV. */
function buildSipdForBench(): string {
  const built = buildSipd('sipd-build', COMMIT, (remove) => onCleanup('sipd build', remove));
  SIPD_BIN = built.bin;
  return built.what;
}

// ---------------------------------------------------------------- proxies

interface Proxy {
  /** 'sipd', 'Kamailio', or a diagnostic sipd variant */
  name: string;
  sipPort: number;
  rpcUrl: string;
  /** every pid whose CPU counts as the proxy's */
  pids(): number[];
  /** sipd --cluster: Redis commands so far (INFO commandstats of its private Redis) */
  redisCommands?(): Promise<Record<string, number>>;
  /** sipd --cluster: its private redis-server (counted in pids() too; shown apart in the step table) */
  redisPid?(): number | undefined;
  stop(): Promise<void>;
}

function md5(s: string): string {
  return createHash('md5').update(s).digest('hex');
}
const userName = (i: number) => (i <= 9999 ? `sipp${String(i).padStart(4, '0')}` : `sipp${String(i).padStart(6, '0')}`);
const password = (u: string) => `pw-${u}-x9`;

/** Subscribers i in [from, to], as provision_1000.sql writes them (ha1 over domain 127.0.0.1). */
async function provision(db: Database, from: number, to: number): Promise<void> {
  for (let a = from; a <= to; a += 1000) {
    const rows: SqlValue[] = [];
    const b = Math.min(to, a + 999);
    for (let i = a; i <= b; i++) {
      const u = userName(i);
      const pw = password(u);
      rows.push(u, DOMAIN, pw, md5(`${u}:${DOMAIN}:${pw}`), md5(`${u}@${DOMAIN}:${DOMAIN}:${pw}`));
    }
    await db.execute(`INSERT INTO subscriber (username, domain, password, ha1, ha1b) VALUES ${Array.from({ length: b - a + 1 }, () => '(?,?,?,?,?)').join(',')}`, rows);
  }
}

/** 'YYYY-MM-DD HH:MM:SS' local time, as Kamailio's db_mysql and sipd's usrloc write it. */
function dbTime(epochS: number): string {
  const d = new Date(epochS * 1000);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getFullYear(), 4)}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** `n` location rows, one contact per subscriber, column for column as the registrars write them. */
async function preloadLocation(db: Database, n: number): Promise<void> {
  await db.execute('DELETE FROM location');
  const now = Math.floor(Date.now() / 1000);
  const cols = ['ruid', 'username', 'domain', 'contact', 'received', 'path', 'expires', 'q', 'callid', 'cseq', 'last_modified', 'flags', 'cflags', 'user_agent', 'socket', 'methods', 'instance', 'reg_id', 'server_id', 'connection_id', 'keepalive', 'partition'];
  const tag = randomBytes(3).toString('hex');
  for (let a = 1; a <= n; a += 1000) {
    const b = Math.min(n, a + 999);
    const vals: SqlValue[] = [];
    for (let i = a; i <= b; i++) {
      const u = userName(i);
      // a distinct address per contact, as many phones would have
      const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      vals.push(`uloc-bench${tag}-${i.toString(16)}`, u, null, `sip:${u}@${ip}:5060`, null, null, dbTime(now + 3600), -1,
        `${randomBytes(8).toString('hex')}@${ip}`, 2, dbTime(now), 0, 0, 'SIPp-lab', null, null, null, 0, 0, -1, 0, 0);
    }
    await db.execute(`INSERT INTO location (${cols.map((c) => '`' + c + '`').join(',')}) VALUES ${Array.from({ length: b - a + 1 }, () => `(${cols.map(() => '?').join(',')})`).join(',')}`, vals);
  }
}

/** Forced full GC on SIGUSR2, then process.memoryUsage() into $SIPD_BENCH_MEM: harness only, no change to sipd. */
const GC_HOOK = `data:text/javascript,${encodeURIComponent(
  "import{writeFileSync}from'node:fs';process.on('SIGUSR2',()=>{globalThis.gc();globalThis.gc();setTimeout(()=>writeFileSync(process.env.SIPD_BENCH_MEM,JSON.stringify(process.memoryUsage())),300)});",
)}`;

interface SipdProxy extends Proxy {
  pid: number;
  stateDir: string;
  logFile: string;
  /** forced GC; returns process.memoryUsage() as sipd sees it */
  gc(): Promise<NodeJS.MemoryUsage | undefined>;
}

async function startSipdProxy(t: TestDb, o: { sipPort?: number; nodeArgs?: string[]; timeoutMs?: number; name?: string; config?: Record<string, unknown>; variant?: SipdVariant } = {}): Promise<SipdProxy & { redisCommands(): Promise<Record<string, number>> }> {
  // a diagnostic whose configuration names its own usrloc db_mode runs that, whatever the first set-up's db_mode word
  const first = SIPD_VARIANTS[0]!;
  const variant = o.variant ?? (o.config !== SIPD_CONFIG && usrlocDbMode(o.config) !== undefined ? { ...first, dbMode: undefined } : first);
  const stateDir = mkdtempSync(join(tmpdir(), 'sipd-bench-'));
  const sipPort = o.sipPort ?? (await findFreePort('127.0.0.1'));
  // Defaults everywhere except where it listens; the scanner list is the default one (sipp's
  // User-Agent "SIPp-lab" matches none of its patterns: checked live by probeOptions).
  const logFile = join(stateDir, 'sipd.log');
  const memFile = join(stateDir, 'mem.json');
  const fd = openSync(logFile, 'a');
  let v;
  try {
    v = await startVariant(variant, {
      sipdBin: SIPD_BIN,
      stateDir,
      config: { listen: [`udp:127.0.0.1:${sipPort}`, `tcp:127.0.0.1:${sipPort}`], rpcListen: ['http://127.0.0.1:0/RPC'], ...o.config },
      env: { PATH: process.env.PATH ?? '', HOME: stateDir, XDG_CONFIG_HOME: join(stateDir, '.config'), SIPCTL_DB: t.url, SIPCTL_DB_PASSWORD: t.password ?? '', SIPD_BENCH_MEM: memFile, LANG: 'C.UTF-8' },
      logFd: fd,
      nodeArgs: ['--expose-gc', '--import', GC_HOOK, ...NODE_ARGS, ...(o.nodeArgs ?? [])],
      timeoutMs: o.timeoutMs,
    });
  } catch (e) {
    throw new Error(`${String(e)}\n${readFileSync(logFile, 'utf8').slice(-3000)}`);
  } finally {
    closeSync(fd);
  }
  const started = v;
  const pid = started.pid;
  const stop = async () => {
    await started.stop();
    if (KEEP_LOGS) {
      mkdirSync(KEEP_LOGS, { recursive: true });
      cpSync(logFile, join(KEEP_LOGS, `${(o.name ?? variant.label).replace(/\W+/g, '-')}-${pid}.log`));
    }
    rmSync(stateDir, { recursive: true, force: true });
  };
  const unregister = onCleanup(`sipd ${pid}`, stop);
  const rpcUrl = started.rpcUrl;
  return {
    name: o.name ?? variant.label,
    pid,
    sipPort,
    rpcUrl,
    stateDir,
    logFile,
    pids: () => started.pids(),
    redisCommands: () => started.redisCommands(),
    redisPid: () => started.redisPid(),
    async gc() {
      rmSync(memFile, { force: true });
      process.kill(pid, 'SIGUSR2');
      for (let i = 0; i < 100; i++) {
        await sleep(100);
        try {
          return JSON.parse(readFileSync(memFile, 'utf8')) as NodeJS.MemoryUsage;
        } catch {
          /* not yet */
        }
      }
      return undefined;
    },
    stop: async () => {
      await stop();
      unregister();
    },
  };
}

async function startKamailioProxy(t: TestDb, sipPort?: number, extraGlobals?: string[]): Promise<Proxy & { k: KamailioInstance }> {
  const k = await startKamailio({ dbUrl: t.fullUrl, authMode: 'ha1', children: 8, sipPort, readyTimeoutMs: 60_000, extraGlobals });
  const unregister = onCleanup(`kamailio ${k.pid}`, () => k.stop());
  return {
    name: KAMAILIO,
    k,
    sipPort: k.sipPort,
    rpcUrl: k.rpcUrl,
    pids: () => groupPids(k.pid),
    stop: async () => {
      await k.stop();
      unregister();
    },
  };
}

/** OPTIONS with sipp's User-Agent: a 200 proves the scanner filter lets sipp through. */
async function probeOptions(port: number): Promise<string> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind({ address: '127.0.0.1', port: 0 }, () => r()));
  const lp = sock.address().port;
  const msg = [
    `OPTIONS sip:127.0.0.1:${port} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${lp};branch=z9hG4bK-probe${Date.now()};rport`,
    `From: <sip:probe@127.0.0.1>;tag=p1`,
    `To: <sip:127.0.0.1:${port}>`,
    `Call-ID: probe-${Date.now()}@127.0.0.1`,
    'CSeq: 1 OPTIONS',
    'Max-Forwards: 70',
    'User-Agent: SIPp-lab',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  try {
    return await new Promise<string>((resolveReply, reject) => {
      const t = setTimeout(() => reject(new Error(`no reply to an OPTIONS with User-Agent SIPp-lab on port ${port}: the scanner filter drops sipp`)), 3000);
      sock.once('message', (m) => {
        clearTimeout(t);
        resolveReply(m.toString('latin1').split('\r\n')[0]);
      });
      sock.send(msg, port, '127.0.0.1');
    });
  } finally {
    sock.close();
  }
}

// ---------------------------------------------------------------- sipp

interface Step {
  proxy: string;
  target: number;
  offered: number;
  created: number;
  successful: number;
  failed: number;
  failedPct: number;
  elapsedS: number;
  achieved: number;
  rtdMs: number;
  retrans: number;
  proxyCpuPct: number;
  /** sipd --cluster: the part of proxyCpuPct its private redis-server used */
  redisCpuPct?: number;
  dbCpuPct: number;
  sippCpuPct: number;
  /** CPU used by everything else on the machine during the step (other users of these 2 cores) */
  otherCpuPct: number;
  /** CPU the hypervisor took from the VM during the step (steal), of 200 % */
  stolenPct: number;
  /** sipd only: REGISTERs answered "403 Try later" by the auth-db lockout during the step */
  refused?: number;
  /** sipd --cluster: Redis round trips (top-level commands) per successful call in the step */
  redisTrips?: number;
  pass: boolean;
  note: string;
}

let workDir = '';
/** one local port per sipp client for every step: see runSipp */
const sippPorts: number[] = [];
/** users.csv for client k of CLIENTS: users i with (i - 1) % CLIENTS === k */
function writeCsv(k = 0): string {
  const f = join(workDir, `users-${k}.csv`);
  if (!existsSync(f)) {
    const lines = ['SEQUENTIAL'];
    for (let i = 1 + k; i <= USERS; i += CLIENTS) {
      const u = userName(i);
      lines.push(`${u};[authentication username=${u} password=${password(u)}]`);
    }
    writeFileSync(f, lines.join('\n') + '\n');
  }
  return f;
}

function parseStat(file: string): Record<string, string> | undefined {
  let txt: string;
  try {
    txt = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const rows = txt.split('\n').filter((l) => l.trim()).map((l) => l.split(';'));
  if (rows.length < 2) return undefined;
  const out: Record<string, string> = {};
  rows[0].forEach((h, i) => (out[h] = rows[rows.length - 1][i]));
  return out;
}

/** "HH:MM:SS:uuuuuu" or seconds → seconds */
function sippTime(s: string | undefined): number {
  if (!s) return NaN;
  const p = s.split(':').map(Number);
  if (p.length === 4) return p[0] * 3600 + p[1] * 60 + p[2] + p[3] / 1e6;
  return Number(s);
}

/**
 * One step: CLIENTS sipp processes at once, each at rate/CLIENTS (-r rate -rp 1000×CLIENTS) with
 * its own users, from its own local port. The port stays the same for every step, so the Contact
 * (sip:user@127.0.0.1:PORT) does too and each call refreshes the user's one binding instead of
 * adding one per step (max_contacts is 10 in sipd).
 */
async function runSipp(p: Proxy, rate: number, seconds: number, extraCheck?: () => Promise<number>): Promise<Step> {
  const dir = mkdtempSync(join(workDir, `sipp-${p.name.replace(/\W+/g, '-')}-${rate}-`));
  while (sippPorts.length < CLIENTS) {
    const port = await findFreePort('127.0.0.1', { tcp: false });
    if (!sippPorts.includes(port)) sippPorts.push(port);
  }
  const m = rate * seconds;
  const share = (k: number) => Math.floor(m / CLIENTS) + (k < m % CLIENTS ? 1 : 0);
  const clientArgs = (k: number) => [
    '-f', '%U %S', '-o', join(dir, `time-${k}.txt`),
    'sipp', `127.0.0.1:${p.sipPort}`,
    '-sf', SCENARIO, '-inf', writeCsv(k),
    '-i', '127.0.0.1', '-p', String(sippPorts[k]),
    '-r', String(rate), '-rp', String(1000 * CLIENTS), '-m', String(share(k)), '-l', String(Math.ceil((rate * 4) / CLIENTS) + 100),
    '-recv_timeout', '5000', '-timeout', `${seconds + 15}s`,
    '-buff_size', String(4 * 1024 * 1024),
    '-nostdin', '-trace_stat', '-stf', join(dir, `stat-${k}.csv`), '-fd', '1',
  ];
  const mp = mariadbPid();
  const m0 = machineTicks();
  const pids0 = p.pids();
  const each0 = pids0.map(cpuTicks);
  const c0 = each0.reduce((a, x) => a + x, 0);
  const d0 = mp ? cpuTicks(mp) : 0;
  const rp = p.redisPid?.();
  const r0 = rp !== undefined ? cpuTicks(rp) : 0;
  const t0 = Date.now();
  let err = '';
  const codes = await Promise.all(
    Array.from({ length: CLIENTS }, async (_, k) => {
      const child = spawn('/usr/bin/time', clientArgs(k), { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
      child.stderr!.setEncoding('utf8').on('data', (d) => (err = (err + d).slice(-4000)));
      const kill = () => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* gone */
        }
      };
      const unregister = onCleanup(`sipp ${child.pid}`, kill);
      const hard = setTimeout(kill, (seconds + 30) * 1000);
      const code = await new Promise<number>((r) => child.on('close', (c) => r(c ?? 1)));
      clearTimeout(hard);
      unregister();
      return code;
    }),
  );
  const code = codes.find((c) => c !== 0) ?? 0;
  const wall = (Date.now() - t0) / 1000;
  const c1 = p.pids().reduce((a, x) => a + cpuTicks(x), 0);
  const d1 = mp ? cpuTicks(mp) : 0;
  const r1 = rp !== undefined ? cpuTicks(rp) : 0;
  const m1 = machineTicks();
  const stats = Array.from({ length: CLIENTS }, (_, k) => parseStat(join(dir, `stat-${k}.csv`)));
  const all = stats.every((x) => x !== undefined) ? (stats as Array<Record<string, string>>) : undefined;
  const sum = (key: string) => (all ? all.reduce((a, x) => a + Number(x[key] ?? 0), 0) : 0);
  let sippCpu = 0;
  for (let k = 0; k < CLIENTS; k++) {
    try {
      const [u, sy] = readFileSync(join(dir, `time-${k}.txt`), 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
      sippCpu += u + sy;
    } catch {
      sippCpu = NaN;
    }
  }
  const created = sum('TotalCallCreated');
  const successful = sum('SuccessfulCall(C)');
  const elapsed = (all ? Math.max(...all.map((x) => sippTime(x['ElapsedTime(C)']) || 0)) : 0) || wall;
  const failed = Math.max(0, created - successful);
  const failedPct = created > 0 ? (100 * failed) / created : 100;
  // Each client's own rate, summed: one sipp that starts or ends later than the others (process
  // start on a busy machine) must not count against the proxy, as the slowest client's elapsed
  // time applied to every client's calls did.
  const achieved = all ? all.reduce((a, x) => a + Number(x['SuccessfulCall(C)'] ?? 0) / Math.max(sippTime(x['ElapsedTime(C)']) || wall, seconds), 0) : successful / Math.max(elapsed, seconds);
  const refused = extraCheck ? await extraCheck() : undefined;
  const pass = created > 0 && failedPct < MAX_FAILED_PCT && elapsed <= seconds * PACE_FACTOR + PACE_SLACK_S;
  const notes: string[] = [];
  if (!all) notes.push(`no sipp stats (exit ${code}): ${err.trim().split('\n').slice(-3).join(' | ')}`);
  if (all && all.length > 1) {
    const times = all.map((x) => sippTime(x['ElapsedTime(C)']) || 0);
    if (Math.max(...times) - Math.min(...times) > 0.2) notes.push(`sipp clients ran ${Math.min(...times).toFixed(2)}–${Math.max(...times).toFixed(2)} s`);
  }
  const count = (key: string, what: string) => {
    if (sum(key) > 0) notes.push(`${what} ${sum(key)}`);
  };
  count('FailedMaxUDPRetrans(C)', 'max-retrans');
  count('FailedUnexpectedMessage(C)', 'unexpected');
  count('FailedCallRejected(C)', 'rejected');
  count('FailedOutboundCongestion(C)', 'congestion');
  count('FailedCmdNotSent(C)', 'not-sent');
  if (refused) notes.push(`403 Try later ${refused}`);
  // several processes (sipd --workers: the primary, then the workers; with --cluster, redis-server last): did the load spread?
  if (pids0.length > 1 && p.name !== KAMAILIO) notes.push(`CPU per process ${pids0.map((x, i) => `${((100 * (cpuTicks(x) - each0[i]!)) / HZ / wall).toFixed(0)}%`).join(' / ')}`);
  if (all && created < 0.98 * m && failedPct < MAX_FAILED_PCT) notes.push(`sipp created only ${created} of ${m}`);
  // mean response time over the clients, weighted by their successful calls
  const rtdS = all && successful > 0 ? all.reduce((a, x) => a + (x['ResponseTime1(C)'] ? sippTime(x['ResponseTime1(C)']) : 0) * Number(x['SuccessfulCall(C)'] ?? 0), 0) / successful : NaN;
  const step: Step = {
    proxy: p.name,
    target: rate,
    offered: m,
    created,
    successful,
    failed,
    failedPct,
    elapsedS: elapsed,
    achieved,
    // sipp reports it in whole milliseconds: 0 means under 1 ms
    rtdMs: rtdS * 1000,
    retrans: sum('Retransmissions(C)'),
    proxyCpuPct: (100 * (c1 - c0)) / HZ / wall,
    redisCpuPct: rp !== undefined ? (100 * (r1 - r0)) / HZ / wall : undefined,
    dbCpuPct: (100 * (d1 - d0)) / HZ / wall,
    sippCpuPct: (100 * sippCpu) / wall,
    otherCpuPct: Math.max(0, (100 * (m1.busy - m0.busy - (c1 - c0) - (d1 - d0))) / HZ / wall - (100 * sippCpu) / wall),
    stolenPct: (100 * (m1.steal - m0.steal)) / HZ / wall,
    refused,
    pass,
    note: notes.join('; '),
  };
  rmSync(dir, { recursive: true, force: true });
  return step;
}

// ---------------------------------------------------------------- step search

const steps: Step[] = [];

function fmtStep(s: Step): string {
  return `${s.proxy} ${s.target}/s:${s.redisTrips !== undefined ? ` Redis round trips/call ${s.redisTrips.toFixed(2)},` : ''} created ${s.created}/${s.offered}, ok ${s.successful}, failed ${s.failedPct.toFixed(2)}%, achieved ${s.achieved.toFixed(0)}/s, rtd ${s.rtdMs.toFixed(1)} ms, retrans ${s.retrans}, CPU proxy ${s.proxyCpuPct.toFixed(0)}%${s.redisCpuPct !== undefined ? ` (Redis ${s.redisCpuPct.toFixed(0)}%)` : ''} db ${s.dbCpuPct.toFixed(0)}% sipp ${s.sippCpuPct.toFixed(0)}% others ${s.otherCpuPct.toFixed(0)}% stolen ${s.stolenPct.toFixed(0)}% → ${s.pass ? 'pass' : 'FAIL'}${s.note ? ` (${s.note})` : ''}`;
}

/** Between steps: lockout counters cleared on both, so every step starts from the same state. */
async function resetBetweenSteps(p: Proxy): Promise<void> {
  await rpc(p.rpcUrl, 'htable.flush', ['userban']).catch(() => undefined);
  await sleep(1500);
}

async function refusedCounter(p: Proxy): Promise<number> {
  if (p.name === KAMAILIO) return 0;
  return (await statistics(p.rpcUrl, ['auth:']).catch(() => new Map<string, number>())).get('auth:refused') ?? 0;
}

interface SearchResult {
  best?: Step;
  firstFail?: Step;
  truncated: boolean;
  duration: number;
}

/**
 * Warm-up, not counted: JIT, database connections, the first registrations of every user. 4 s at
 * 200/s, then 6 s at 500/s, so the first measured step starts from a steady state: with --workers
 * each process sees only its share of the warm-up, and the step search never climbs back above its
 * first failure, so a first step that collapses decides the result (the workers stopped at 722/s
 * one day and reached 2,402/s the day before, both after 4 s at 200/s).
 */
async function warmUp(p: Proxy): Promise<void> {
  for (const [rate, seconds] of [[200, 4], [500, 6]] as const) {
    await resetBetweenSteps(p);
    const w = await runSipp(p, rate, seconds);
    log(`${p.name}: warm-up ${w.successful}/${w.created} calls at ${rate}/s`);
  }
}

async function search(p: Proxy, deadlineS: number, duration = DURATION): Promise<SearchResult> {
  let best: Step | undefined;
  let firstFail: Step | undefined;
  let truncated = false;
  const stepCost = duration + 6;
  const run = async (rate: number): Promise<Step> => {
    await resetBetweenSteps(p);
    const r0 = await refusedCounter(p);
    const rc0 = p.redisCommands ? await p.redisCommands() : undefined;
    const s = await runSipp(p, rate, duration, async () => (await refusedCounter(p)) - r0);
    if (rc0 && p.redisCommands) s.redisTrips = roundTrips(rc0, await p.redisCommands()) / Math.max(1, s.successful);
    steps.push(s);
    log(fmtStep(s));
    return s;
  };
  await warmUp(p);
  for (const rate of RATES) {
    if (elapsedS() + stepCost > deadlineS) {
      truncated = true;
      break;
    }
    const s = await run(rate);
    if (s.pass) best = s;
    else {
      firstFail = s;
      break;
    }
  }
  let lo = best?.target ?? 0;
  let hi = firstFail?.target;
  for (let i = 0; i < 3 && hi !== undefined; i++) {
    const mid = Math.round((lo + hi) / 2 / 250) * 250;
    if (mid <= lo || mid >= hi || hi - lo <= Math.max(250, 0.1 * lo)) break;
    if (elapsedS() + stepCost > deadlineS) {
      truncated = true;
      break;
    }
    const s = await run(mid);
    if (s.pass) {
      best = s;
      lo = mid;
    } else hi = mid;
  }
  return { best, firstFail, truncated, duration };
}

// ---------------------------------------------------------------- CPU profile

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

function summariseProfile(file: string, top = 18): string {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number };
  const totalUs = prof.endTime - prof.startTime;
  const perSampleUs = totalUs / Math.max(1, prof.samples.length);
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const short = (url: string) =>
    url
      .replace(/^file:\/\//, '')
      .replace(REPO + '/', '')
      .replace(/^bench\/out\/sipd-build-\d+\//, '')
      .replace(/^.*node_modules\//, 'node_modules/');
  const label = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url ? `${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}` : ''}`.trim();
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  const byFile = new Map<string, number>();
  let idle = 0;
  for (const n of prof.nodes) {
    const hits = n.hitCount ?? 0;
    if (hits === 0) continue;
    const l = label(n);
    if (n.callFrame.functionName === '(idle)') idle += hits;
    self.set(l, (self.get(l) ?? 0) + hits);
    const fileKey = n.callFrame.url ? short(n.callFrame.url).replace(/^(node_modules\/(@[^/]+\/)?[^/]+).*$/, '$1') : n.callFrame.functionName;
    byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + hits);
    // inclusive: each distinct label on the path to the root once
    const seen = new Set<string>();
    for (let id: number | undefined = n.id; id !== undefined; id = parent.get(id)) {
      const ln = label(byId.get(id)!);
      if (seen.has(ln)) continue;
      seen.add(ln);
      incl.set(ln, (incl.get(ln) ?? 0) + hits);
    }
  }
  const samples = prof.samples.length;
  const busy = samples - idle;
  const pct = (h: number) => `${((100 * h) / Math.max(1, busy)).toFixed(1)}%`;
  const ms = (h: number) => `${((h * perSampleUs) / 1000).toFixed(0)} ms`;
  const out: string[] = [];
  out.push(`profile: ${(totalUs / 1e6).toFixed(1)} s, ${samples} samples, idle ${((100 * idle) / Math.max(1, samples)).toFixed(1)}%; shares below are of the non-idle samples`);
  out.push('', 'top self time:', '| self | share | frame |', '|---:|---:|---|');
  for (const [l, h] of [...self].filter(([l]) => !l.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top)) out.push(`| ${ms(h)} | ${pct(h)} | \`${l}\` |`);
  out.push('', 'self time by file / package:', '| self | share | file |', '|---:|---:|---|');
  for (const [f, h] of [...byFile].filter(([f]) => f !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, 14)) out.push(`| ${ms(h)} | ${pct(h)} | \`${f}\` |`);
  out.push('', 'inclusive time (selected frames of sipd and its database driver):', '| total | share | frame |', '|---:|---:|---|');
  for (const [l, h] of [...incl].filter(([l]) => /dist\/|node_modules\/mysql2|node:dgram|node:crypto/.test(l)).sort((a, b) => b[1] - a[1]).slice(0, top)) out.push(`| ${ms(h)} | ${pct(h)} | \`${l}\` |`);
  return out.join('\n');
}

// ---------------------------------------------------------------- memory

interface Mem {
  rssKb: number;
  /** private anonymous resident memory (heap, stacks; not the shared node binary) */
  anonKb?: number;
  pssKb: number;
  processes: number;
  heapUsedKb?: number;
  shmUsedKb?: number;
  contacts?: number;
  bans?: number;
}

async function settleRss(pid: number, maxMs = 20_000): Promise<number> {
  let last = statusKb(pid, 'VmRSS');
  const t = Date.now();
  let stable = 0;
  while (Date.now() - t < maxMs) {
    await sleep(1000);
    const now = statusKb(pid, 'VmRSS');
    stable = Math.abs(now - last) <= Math.max(256, last * 0.005) ? stable + 1 : 0;
    last = now;
    if (stable >= 3) break;
  }
  return last;
}

async function sipdMem(s: SipdProxy): Promise<Mem> {
  await settleRss(s.pid, 5_000);
  await s.gc();
  await settleRss(s.pid, 8_000);
  // a second full GC once the first has been given back: what stays is live data
  const mu = await s.gc();
  const rss = await settleRss(s.pid, 8_000);
  const st = await statistics(s.rpcUrl, ['usrloc:']).catch(() => new Map<string, number>());
  const ht = await rpc<Array<{ name: string; slots?: unknown; all?: number; items?: number }>>(s.rpcUrl, 'htable.stats').catch(() => []);
  const ipban = Array.isArray(ht) ? ht.find((x) => x.name === 'ipban') : undefined;
  return { rssKb: rss, anonKb: statusKb(s.pid, 'RssAnon'), pssKb: pssKb(s.pid), processes: 1, heapUsedKb: mu ? Math.round(mu.heapUsed / 1024) : undefined, contacts: st.get('usrloc:location-contacts') ?? st.get('usrloc:location_contacts'), bans: ipban?.all ?? ipban?.items };
}

async function kamailioMem(k: Proxy): Promise<Mem> {
  await sleep(3000);
  const pids = k.pids();
  const shm = await rpc<{ real_used?: number; used?: number }>(k.rpcUrl, 'core.shmmem', ['k']).catch(() => rpc<{ real_used?: number }>(k.rpcUrl, 'core.shmmem').catch(() => undefined));
  const st = await statistics(k.rpcUrl, ['usrloc:']).catch(() => new Map<string, number>());
  const ht = await rpc<Array<{ name: string; slots?: unknown; all?: number; items?: number }>>(k.rpcUrl, 'htable.stats').catch(() => []);
  const ipban = Array.isArray(ht) ? ht.find((x) => x.name === 'ipban') : undefined;
  // core.shmmem answers in bytes without an argument, in kB with "k"
  const shmUsedKb = shm?.real_used !== undefined ? shm.real_used : undefined;
  return {
    rssKb: pids.reduce((a, p) => a + statusKb(p, 'VmRSS'), 0),
    pssKb: pids.reduce((a, p) => a + pssKb(p), 0),
    processes: pids.length,
    shmUsedKb,
    contacts: st.get('usrloc:location-contacts') ?? st.get('usrloc:location_contacts'),
    bans: ipban?.all ?? ipban?.items,
  };
}

/** Kamailio loads location rows after it answers RPC: wait until the count stops growing. */
async function kamailioLoaded(k: Proxy & { k: KamailioInstance }, want: number): Promise<{ contacts: number; alive: boolean }> {
  let last = -1;
  let still = 0;
  for (let i = 0; i < 60; i++) {
    await sleep(500);
    const alive = groupPids(k.k.pid).length > 0;
    const n = alive ? ((await statistics(k.rpcUrl, ['usrloc:']).catch(() => undefined))?.get('usrloc:location_contacts') ?? -1) : last;
    if (!alive || n < 0) {
      // the RPC process may be gone with the rest
      if (!alive || !groupPids(k.k.pid).includes(k.k.pid)) return { contacts: Math.max(0, last), alive: false };
      continue;
    }
    if (n >= want) return { contacts: n, alive: true };
    still = n === last ? still + 1 : 0;
    last = n;
    if (still >= 6) return { contacts: n, alive: true };
  }
  return { contacts: Math.max(0, last), alive: groupPids(k.k.pid).length > 0 };
}

function banIp(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

async function banSipd(s: Proxy, n: number): Promise<number> {
  const t = Date.now();
  for (let a = 1; a <= n; a += 100) {
    const calls = [];
    for (let i = a; i <= Math.min(n, a + 99); i++) calls.push({ method: 'htable.seti', params: ['ipban', banIp(i), 1] });
    await rpcBatch(s.rpcUrl, calls);
  }
  return Date.now() - t;
}

/**
 * Kamailio 5.6 jsonrpcs has no batch arrays: one call each, 4 at a time, through sipctl's RPC
 * client (with 8 keep-alive connections at once Kamailio's xhttp resets some: ECONNRESET).
 */
async function banKamailio(k: Proxy, n: number): Promise<number> {
  const client = createRpcClient(k.rpcUrl, { timeoutMs: 5000 });
  const t = Date.now();
  let next = 1;
  try {
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let i = next++; i <= n; i = next++) {
          for (let attempt = 1; ; attempt++) {
            try {
              await client.call('htable.seti', ['ipban', banIp(i), 1]);
              break;
            } catch (e) {
              if (attempt >= 3) throw e;
            }
          }
        }
      }),
    );
  } finally {
    await client.close();
  }
  return Date.now() - t;
}

// ---------------------------------------------------------------- diagnostics (sipd only)

/** sipd under `node --cpu-prof` at `rate` for `seconds`; a summary of the profile. */
async function profileSipd(t: TestDb, label: string, config: Record<string, unknown>, rate: number, seconds = 10): Promise<string> {
  const slug = label.replace(/\W+/g, '-');
  const profDir = KEEP_PROFILE ? resolve(KEEP_PROFILE, slug) : join(workDir, `prof-${slug}`);
  mkdirSync(profDir, { recursive: true });
  log(`profiling ${label} (node --cpu-prof) at ${rate}/s for ${seconds} s`);
  const prof = await startSipdProxy(t, { name: label, config, nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profDir] });
  try {
    await resetBetweenSteps(prof);
    const ps = await runSipp(prof, rate, seconds);
    log(`  profiled run: ${fmtStep(ps)}`);
    await prof.stop();
    const f = readdirSync(profDir).find((x) => x.endsWith('.cpuprofile'));
    if (f === undefined) return `${label}: node --cpu-prof wrote no profile`;
    if (KEEP_PROFILE) log(`  profile kept: ${join(profDir, f)}`);
    return `**${label}**, \`node --cpu-prof\`, sipp at ${rate}/s for ${seconds} s (${ps.achieved.toFixed(0)}/s achieved, ${ps.failedPct.toFixed(2)}% failed, sipd CPU ${ps.proxyCpuPct.toFixed(0)}% of one core, MariaDB ${ps.dbCpuPct.toFixed(0)}%):\n\n${summariseProfile(join(profDir, f))}`;
  } finally {
    await prof.stop();
  }
}

/**
 * Commits/s of sipd's write pattern on this MariaDB, without sipd: 4 × poolSize concurrent workers,
 * each START TRANSACTION; UPDATE location … WHERE ruid = ?; COMMIT, over `poolSize` connections
 * (sipd's usrloc pool has 4: src/core/db/mysql.ts connectionLimit).
 */
async function dbCeiling(t: TestDb, poolSize: number, seconds = 4): Promise<number> {
  const mysql = await import('mysql2/promise');
  const u = new URL(t.fullUrl);
  const pool = mysql.createPool({ host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password), database: u.pathname.slice(1), connectionLimit: poolSize, dateStrings: true });
  try {
    const [rows] = await pool.query('SELECT ruid FROM location LIMIT 1000');
    const ruids = (rows as Array<{ ruid: string }>).map((r) => r.ruid);
    if (ruids.length === 0) return NaN;
    const now = Math.floor(Date.now() / 1000);
    let n = 0;
    const end = Date.now() + seconds * 1000;
    const workers = poolSize * 4;
    await Promise.all(
      Array.from({ length: workers }, async (_, w) => {
        for (let i = w; Date.now() < end; i += workers) {
          const c = await pool.getConnection();
          try {
            await c.beginTransaction();
            await c.query('UPDATE location SET expires = ?, last_modified = ?, cseq = cseq + 1 WHERE ruid = ?', [dbTime(now + 3600), dbTime(now), ruids[i % ruids.length]]);
            await c.commit();
            n++;
          } finally {
            c.release();
          }
        }
      }),
    );
    return n / seconds;
  } finally {
    await pool.end();
  }
}

// ---------------------------------------------------------------- fixed rates, taking turns

async function interleaved(t: TestDb, first: Proxy[], load0: number[], built: string): Promise<void> {
  const proxies: Proxy[] = [...first];
  for (const [i, v] of SIPD_VARIANTS.entries()) {
    if (i === 0 || ONLY === 'kamailio') continue;
    const p = await startSipdProxy(t, { config: SIPD_CONFIG, variant: v });
    log(`${p.name} pid ${p.pid} (${p.pids().length} processes) on udp:127.0.0.1:${p.sipPort}: OPTIONS → ${await probeOptions(p.sipPort)}`);
    proxies.push(p);
  }
  for (const p of proxies) await warmUp(p);
  const got = new Map<string, Step[]>();
  for (let r = 0; r < ROUNDS; r++) {
    for (const rate of FIXED) {
      for (let j = 0; j < proxies.length; j++) {
        const p = proxies[(j + r) % proxies.length]!;
        await resetBetweenSteps(p);
        const rc0 = p.redisCommands ? await p.redisCommands() : undefined;
        const s = await runSipp(p, rate, DURATION);
        if (rc0 && p.redisCommands) s.redisTrips = roundTrips(rc0, await p.redisCommands()) / Math.max(1, s.successful);
        steps.push(s);
        got.set(`${p.name}@${rate}`, [...(got.get(`${p.name}@${rate}`) ?? []), s]);
        log(`round ${r + 1}/${ROUNDS}: ${fmtStep(s)}`);
      }
    }
  }
  const med = (xs: number[]) => {
    const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
    return v.length === 0 ? NaN : v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
  };
  const cpuPer = (s: Step) => (s.successful > 0 ? (s.proxyCpuPct * 1e4) / s.achieved : NaN);
  const rows: string[] = [
    `| proxy | offered/s | rounds passed | calls failed (all rounds) | achieved/s (median) | proxy CPU per call (median) | × Kamailio | × first sipd row | proxy + MariaDB CPU per call (median) | Redis round trips per call | rtd (median) | other processes' CPU (median, of 200%) |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const rate of FIXED) {
    const kam = got.get(`${KAMAILIO}@${rate}`);
    const kCpu = kam ? med(kam.map(cpuPer)) : NaN;
    const firstSipd = proxies.find((p) => p.name !== KAMAILIO);
    const sCpu = firstSipd ? med((got.get(`${firstSipd.name}@${rate}`) ?? []).map(cpuPer)) : NaN;
    for (const p of proxies) {
      const ss = got.get(`${p.name}@${rate}`) ?? [];
      const c = med(ss.map(cpuPer));
      const created = ss.reduce((a, x) => a + x.created, 0);
      const failed = ss.reduce((a, x) => a + x.failed, 0);
      const trips = med(ss.map((x) => x.redisTrips ?? NaN));
      rows.push(`| ${p.name} | ${rate} | ${ss.filter((x) => x.pass).length}/${ss.length} | ${failed} of ${created} | ${med(ss.map((x) => x.achieved)).toFixed(0)} | ${c.toFixed(0)} µs | ${ratio(c, kCpu)} | ${p.name === KAMAILIO ? '' : ratio(c, sCpu)} | ${med(ss.map((x) => ((x.proxyCpuPct + x.dbCpuPct) * 1e4) / x.achieved)).toFixed(0)} µs | ${Number.isFinite(trips) ? trips.toFixed(2) : p.redisCommands ? '—' : '0'} | ${med(ss.map((x) => x.rtdMs)).toFixed(0)} ms | ${med(ss.map((x) => x.otherCpuPct)).toFixed(0)}% |`);
    }
  }
  const stepRows = [
    '| proxy | offered/s | created | successful | failed | achieved/s | rtd ms | retrans | proxy CPU | of it Redis | MariaDB CPU | sipp CPU | other processes | Redis round trips/call | result |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...steps.map((s) => `| ${s.proxy} | ${s.target} | ${s.created} | ${s.successful} | ${s.failedPct.toFixed(2)}% | ${s.achieved.toFixed(0)} | ${s.rtdMs.toFixed(1)} | ${s.retrans} | ${s.proxyCpuPct.toFixed(0)}% | ${s.redisCpuPct !== undefined ? `${s.redisCpuPct.toFixed(0)}%` : ''} | ${s.dbCpuPct.toFixed(0)}% | ${s.sippCpuPct.toFixed(0)}% | ${others(s)} | ${s.redisTrips?.toFixed(2) ?? ''} | ${s.pass ? 'pass' : 'fail'}${s.note ? ` (${s.note})` : ''} |`),
  ];
  const cmd = `node --import tsx bench/sipd-bench.ts ${process.argv.slice(2).join(' ')}`.trim();
  const body = [
    `${machineLine()}; load average at start ${load0.map((x) => x.toFixed(2)).join(' ')}, at the end ${loadavg().map((x) => x.toFixed(2)).join(' ')}; bench took ${elapsedS().toFixed(0)} s`,
    '',
    `Command: \`${cmd}\`; sipd built from ${built}. Fixed rates, every proxy running at once and taking turns (order rotated each round, ${ROUNDS} rounds of ${DURATION} s per rate), REGISTER → 401 → REGISTER with digest → 200 per call from ${CLIENTS} sipp process${CLIENTS > 1 ? 'es' : ''} (each its own port and 1/${CLIENTS} of the ${USERS} users), MariaDB 10.11 on the same 2 cores. CPU per call: the proxy's processes (with --workers the primary and every worker; with --cluster its private redis-server too) over the successful calls.`,
    '',
    ...rows,
    '',
    'Steps:',
    '',
    ...stepRows,
    '',
  ].join('\n');
  process.stdout.write('\n' + body + '\n');
  if (RECORD) {
    appendResults('sipd REGISTER at fixed rates: sipd set-ups and Kamailio taking turns', body);
    log('appended to bench/RESULTS.md');
  }
  for (const p of proxies.slice(first.length)) await p.stop();
}

// ---------------------------------------------------------------- main

const mb = (kb: number | undefined) => (kb === undefined || !Number.isFinite(kb) ? '—' : `${(kb / 1024).toFixed(1)} MB`);
const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || !b || !Number.isFinite(a) || !Number.isFinite(b) ? '—' : (a / b).toFixed(2));
const NO_LOCKOUT = { 'auth-db': { max_failures: 0, spray_max_failures: 0 } };
/** Diagnostic sipd configurations: each removes one suspect. Not deployment settings. */
const VARIANTS = [
  {
    label: 'sipd, lockout off',
    why: 'the default configuration without the auth-db lockout (max_failures and spray_max_failures 0): no cascade from retransmissions',
    config: { modules: { ...NO_LOCKOUT } },
  },
  {
    label: 'sipd, lockout off, usrloc db_mode 0',
    why: 'also without location writes: the ceiling of the SIP path itself (one event loop, one core)',
    config: { modules: { ...NO_LOCKOUT, usrloc: { db_mode: 0 } } },
  },
];

async function main(): Promise<void> {
  if (PROF_SUMMARY) {
    process.stdout.write(summariseProfile(PROF_SUMMARY, 30) + '\n');
    return;
  }
  workDir = mkdtempSync(join(tmpdir(), 'sipd-bench-work-'));
  onCleanup('work dir', () => rmSync(workDir, { recursive: true, force: true }));
  const load0 = loadavg();
  log(`machine: ${machineLine()}; load average ${load0.map((x) => x.toFixed(2)).join(' ')}`);
  const built = buildSipdForBench();
  log(`sipd built from ${built}`);

  const t = await createTestDb('mysql');
  onCleanup(`database ${t.url}`, () => t.drop());
  const db = await t.open();
  onCleanup('db connection', () => db.close());
  await provision(db, 1, USERS);
  log(`database ${t.url.replace(/^mysql:\/\/[^@]*@/, 'mysql://…@')}: ${USERS} subscribers`);

  const wantK = ONLY !== 'sipd';
  const wantS = ONLY !== 'kamailio';
  let kam = wantK ? await startKamailioProxy(t) : undefined;
  if (kam) log(`Kamailio 5.6 pid ${kam.k.pid} on udp:127.0.0.1:${kam.sipPort} (children 8, -m 64 -M 8, ${kam.pids().length} processes), started in ${kam.k.startupMs} ms`);
  let sipd = wantS ? await startSipdProxy(t, { config: SIPD_CONFIG }) : undefined;
  if (sipd) log(`${sipd.name} pid ${sipd.pid} on udp:127.0.0.1:${sipd.sipPort}, rpc ${sipd.rpcUrl}`);
  for (const p of [kam, sipd]) if (p) log(`${p.name}: OPTIONS with User-Agent SIPp-lab → ${await probeOptions(p.sipPort)}`);

  if (FIXED.length > 0) {
    await interleaved(t, [kam, sipd].filter((p): p is NonNullable<typeof p> => p !== undefined), load0, built);
    return;
  }

  // ---- 1. throughput
  const memReserve = SKIP_MEMORY ? 0 : 90;
  const diagReserve = wantS && !NO_PROFILE ? 170 : 0;
  const tpEnd = BUDGET_S - memReserve - diagReserve;
  const results = new Map<string, SearchResult>();
  // Kamailio's share of the time: 0.65 beside one sipd, an equal share beside several
  const nS = wantS ? SIPD_VARIANTS.length : 0;
  const kShare = nS === 0 ? 1 : nS === 1 ? 0.65 : 1 / (nS + 0.5);
  if (kam && !SKIP_THROUGHPUT) {
    const until = elapsedS() + kShare * (tpEnd - elapsedS());
    log(`Kamailio: step search (${DURATION} s per step, until ${until.toFixed(0)} s)`);
    results.set('Kamailio', await search(kam, until));
  }
  /** every sipd set-up's search, in --sipd order (the first is also "sipd" below) */
  const variantResults: Array<{ v: SipdVariant; r: SearchResult }> = [];
  if (sipd && !SKIP_THROUGHPUT) {
    const until = elapsedS() + (tpEnd - elapsedS()) / nS;
    log(`${sipd.name}: step search (${DURATION} s per step, until ${until.toFixed(0)} s)`);
    results.set('sipd', await search(sipd, until));
    variantResults.push({ v: SIPD_VARIANTS[0]!, r: results.get('sipd')! });
    for (const [i, v] of SIPD_VARIANTS.entries()) {
      if (i === 0) continue;
      const p = await startSipdProxy(t, { config: SIPD_CONFIG, variant: v });
      try {
        log(`${p.name} pid ${p.pid} (${p.pids().length} processes) on udp:127.0.0.1:${p.sipPort}: OPTIONS → ${await probeOptions(p.sipPort)}`);
        const untilV = elapsedS() + (tpEnd - elapsedS()) / (nS - i);
        log(`${p.name}: step search (${DURATION} s per step, until ${untilV.toFixed(0)} s)`);
        variantResults.push({ v, r: await search(p, untilV) });
      } finally {
        await p.stop();
      }
    }
  }
  const kBest = results.get('Kamailio')?.best;
  const sBest = results.get('sipd')?.best;

  const mem: Record<string, Record<string, Mem | undefined>> = { sipd: {}, Kamailio: {} };
  if (!SKIP_MEMORY) {
    if (sipd) mem.sipd.idle = await sipdMem(sipd);
    if (kam) mem.Kamailio.idle = await kamailioMem(kam);
  }
  const sPort = sipd?.sipPort;
  const kPort = kam?.sipPort;
  await sipd?.stop();
  sipd = undefined;

  // ---- 2. diagnostics: where sipd's time goes
  const diag: string[] = [];
  const rateRatio = sBest && kBest ? sBest.achieved / kBest.achieved : undefined;
  const diagnose = wantS && !NO_PROFILE && !SKIP_THROUGHPUT && (FORCE_PROFILE || rateRatio === undefined || rateRatio < PROFILE_BELOW);
  const diagEnd = BUDGET_S - memReserve;
  const variants: Array<{ label: string; why: string; r: SearchResult }> = [];
  const ceilings: Array<[number, number]> = [];
  if (diagnose) {
    // Kamailio's write-back timer has copied its bindings of the same users into the table: a sipd
    // started now would load them beside its own (same contact URIs, other ruids).
    await db.execute('DELETE FROM location');
    const span = diagEnd - 35 - elapsedS();
    for (const [i, v] of VARIANTS.entries()) {
      const until = i === 0 ? elapsedS() + 0.45 * span : diagEnd - 35;
      if (elapsedS() + 20 > until) continue;
      const p = await startSipdProxy(t, { name: v.label, config: { ...SIPD_CONFIG, ...v.config } });
      log(`${v.label} (diagnostic: ${v.why}): step search (8 s per step, until ${until.toFixed(0)} s)`);
      variants.push({ label: v.label, why: v.why, r: await search(p, until, 8) });
      await p.stop();
    }
    // The profile: write-through as deployed, lockout off so that a hiccup cannot turn the run into 403s.
    const v0 = variants[0];
    // at 80% of the best rate: the profiler costs CPU too, and a profile of a collapsing run shows the collapse
    const below = (r: number) => Math.max(250, Math.round((0.8 * r) / 250) * 250);
    if (elapsedS() + 16 < diagEnd) diag.push(await profileSipd(t, VARIANTS[0].label, { ...SIPD_CONFIG, ...VARIANTS[0].config }, below(v0?.r.best?.target ?? sBest?.target ?? 500), 8));
    const v1 = variants[1];
    if (v1?.r.best && elapsedS() + 22 < diagEnd) diag.push(await profileSipd(t, VARIANTS[1].label, { ...SIPD_CONFIG, ...VARIANTS[1].config }, below(v1.r.best.target), 8));
    for (const n of [4, 16]) ceilings.push([n, await dbCeiling(t, n)]);
    log(`MariaDB ceiling for START TRANSACTION; UPDATE location; COMMIT: ${ceilings.map(([n, r]) => `${r.toFixed(0)}/s with ${n} connections`).join(', ')}`);
  }

  // ---- 3. memory
  const banMs: Record<string, number> = {};
  const kamNotes: string[] = [];
  let kamShm: number | undefined;
  if (!SKIP_MEMORY) {
    // Kamailio (db_mode 2) writes its contacts back at shutdown: stop it before the table is replaced.
    await kam?.stop();
    kam = undefined;
    log(`provisioning ${CONTACTS} subscribers and ${CONTACTS} location rows`);
    if (CONTACTS > USERS) await provision(db, USERS + 1, CONTACTS);
    await preloadLocation(db, CONTACTS);
    if (wantS) {
      const ts = Date.now();
      sipd = await startSipdProxy(t, { sipPort: sPort, config: SIPD_CONFIG });
      log(`sipd up with ${CONTACTS} location rows in ${Date.now() - ts} ms`);
      mem.sipd.contacts = await sipdMem(sipd);
      banMs.sipd = await banSipd(sipd, BANS);
      mem.sipd.bans = await sipdMem(sipd);
      log(`sipd memory: ${JSON.stringify(mem.sipd)}`);
      await sipd.stop();
      sipd = undefined;
    }
    if (wantK) {
      // -m 64 as in the lab first; Kamailio's shm is a fixed pool, so when 100k contacts do not fit,
      // again with shm_mem_size=256 (a cfg global, which overrides -m).
      for (const shmMb of [64, 256]) {
        const label = `Kamailio -m ${shmMb}`;
        try {
          const ts = Date.now();
          kam = await startKamailioProxy(t, kPort, shmMb === 64 ? [] : [`shm_mem_size=${shmMb}`]);
          const loaded = await kamailioLoaded(kam, CONTACTS);
          log(`${label}: ${loaded.contacts} of ${CONTACTS} contacts loaded in ${Date.now() - ts} ms${loaded.alive ? '' : '; Kamailio DIED'}`);
          if (!loaded.alive || loaded.contacts < CONTACTS) {
            const why = kam.k.logTail(400).split('\n').filter((l) => /out of memory|CRITICAL|ERROR/i.test(l)).slice(0, 3).map((l) => l.replace(/^.*?(ERROR|CRITICAL|WARNING)/, '$1').slice(0, 200));
            kamNotes.push(`${label}: ${loaded.alive ? `only ${loaded.contacts} of ${CONTACTS} contacts loaded` : `exited while loading ${CONTACTS} contacts (had ${loaded.contacts})`}${why.length ? `; log: ${why.map((w) => `\`${w}\``).join(' ')}` : ''}`);
            await kam.stop();
            kam = undefined;
            continue;
          }
          kamShm = shmMb;
          mem.Kamailio.contacts = await kamailioMem(kam);
          banMs.Kamailio = await banKamailio(kam, BANS);
          mem.Kamailio.bans = await kamailioMem(kam);
          log(`Kamailio memory: ${JSON.stringify(mem.Kamailio)}`);
        } catch (e) {
          log(`${label} with ${CONTACTS} contacts failed: ${String(e).slice(0, 800)}`);
          kamNotes.push(`${label}: ${String(e).slice(0, 200)}`);
        }
        await kam?.stop();
        kam = undefined;
        if (kamShm !== undefined) break;
      }
    }
  }

  // ---- 4. report
  const rateCell = (s?: Step) => (s ? `${s.achieved.toFixed(0)}/s (step ${s.target}/s)` : 'none passed');
  const lim = (r?: SearchResult) => {
    if (!r) return '';
    const f = r.firstFail;
    return f ? `first failing step ${f.target}/s: ${f.failedPct.toFixed(1)}% failed, ${f.achieved.toFixed(0)}/s, rtd ${f.rtdMs.toFixed(0)} ms, CPU ${f.proxyCpuPct.toFixed(0)}%${f.note ? `, ${f.note}` : ''}` : r.truncated ? 'search cut short by the time budget' : 'no step failed';
  };
  const cpuPerCall = (s?: Step) => (s ? (s.proxyCpuPct * 1e4) / s.achieved : undefined); // µs of proxy CPU per call
  const cpuPerCallWithDb = (s?: Step) => (s ? ((s.proxyCpuPct + s.dbCpuPct) * 1e4) / s.achieved : undefined);
  const rtd = (s?: Step) => (s === undefined || !Number.isFinite(s.rtdMs) ? '—' : s.rtdMs < 1 ? '< 1 ms' : `${s.rtdMs.toFixed(0)} ms`);
  const pct = (x?: number, d = 0) => (x === undefined || !Number.isFinite(x) ? '—' : `${x.toFixed(d)}%`);
  const rows: string[] = [
    `| metric | ${SIPD_VARIANTS[0]!.label} | Kamailio 5.6 (same run, usrloc db_mode 2) | ratio sipd/Kamailio |`,
    '|---|---:|---:|---:|',
    `| highest REGISTER+digest rate with < 1% failed calls (${DURATION} s steps; 1 call = REGISTER→401→REGISTER→200) | ${rateCell(sBest)} | ${rateCell(kBest)} | ${ratio(sBest?.achieved, kBest?.achieved)} |`,
    `| failed calls at that rate | ${pct(sBest?.failedPct, 2)} | ${pct(kBest?.failedPct, 2)} | |`,
    `| mean time REGISTER → 200 (sipp rtd, both round trips; sipp counts whole ms) at that rate | ${rtd(sBest)} | ${rtd(kBest)} | |`,
    `| proxy CPU at that rate (% of one core; Kamailio: all its processes) | ${pct(sBest?.proxyCpuPct)} | ${pct(kBest?.proxyCpuPct)} | |`,
    `| proxy CPU per call (two requests) | ${cpuPerCall(sBest)?.toFixed(0) ?? '—'} µs | ${cpuPerCall(kBest)?.toFixed(0) ?? '—'} µs | ${ratio(cpuPerCall(sBest), cpuPerCall(kBest))} |`,
    `| MariaDB CPU at that rate | ${pct(sBest?.dbCpuPct)} | ${pct(kBest?.dbCpuPct)} | |`,
    // What caching credentials buys: the database's share of the work moves into the proxy's.
    `| proxy + MariaDB CPU per call | ${cpuPerCallWithDb(sBest)?.toFixed(0) ?? '—'} µs | ${cpuPerCallWithDb(kBest)?.toFixed(0) ?? '—'} µs | ${ratio(cpuPerCallWithDb(sBest), cpuPerCallWithDb(kBest))} |`,
    `| what stopped it | ${lim(results.get('sipd'))} | ${lim(results.get('Kamailio'))} | |`,
  ];
  if (!SKIP_MEMORY) {
    const s = mem.sipd;
    const k = mem.Kamailio;
    const kCell = (m?: Mem, shm = 64) => (m ? `Σ RSS ${mb(m.rssKb)}, Σ PSS ${mb(m.pssKb)} (${m.processes} processes; shm in use ${mb(m.shmUsedKb)} of a fixed ${shm} MB)` : '—');
    const sCell = (m?: Mem) => (m ? `${mb(m.rssKb)} (RssAnon ${mb(m.anonKb)}, V8 heap in use ${mb(m.heapUsedKb)})` : '—');
    rows.push(
      `| resident memory, idle after the rate steps: ${USERS} subscribers, ≤ ${USERS} contacts (sipd: VmRSS after a forced GC) | ${sCell(s.idle)} | ${kCell(k.idle)} | ${ratio(s.idle?.rssKb, k.idle?.pssKb)} (vs Σ PSS) |`,
      `| … restarted with ${CONTACTS.toLocaleString('en')} contacts and ${CONTACTS.toLocaleString('en')} subscribers (contacts loaded: sipd ${s.contacts?.contacts ?? '?'}, Kamailio ${k.contacts?.contacts ?? '?'}) | ${sCell(s.contacts)} | ${kCell(k.contacts, kamShm)} | ${ratio(s.contacts?.rssKb, k.contacts?.pssKb)} (vs Σ PSS) |`,
      `| … plus ${BANS.toLocaleString('en')} banned IPs (ipban entries: sipd ${s.bans?.bans ?? '?'}, Kamailio ${k.bans?.bans ?? '?'}) | ${sCell(s.bans)} | ${kCell(k.bans, kamShm)} | ${ratio(s.bans?.rssKb, k.bans?.pssKb)} (vs Σ PSS) |`,
      `| growth for the ${BANS.toLocaleString('en')} bans | ${mb(s.bans && s.contacts ? s.bans.rssKb - s.contacts.rssKb : undefined)} RSS, ${mb(s.bans?.heapUsedKb !== undefined && s.contacts?.heapUsedKb !== undefined ? s.bans.heapUsedKb - s.contacts.heapUsedKb : undefined)} heap | ${mb(k.bans?.shmUsedKb !== undefined && k.contacts?.shmUsedKb !== undefined ? k.bans.shmUsedKb - k.contacts.shmUsedKb : undefined)} shm | |`,
      `| time to set ${BANS.toLocaleString('en')} bans over JSON-RPC (sipd: batch arrays of 100; Kamailio: single calls, 4 in parallel) | ${banMs.sipd ?? '—'} ms | ${banMs.Kamailio ?? '—'} ms | ${ratio(banMs.sipd, banMs.Kamailio)} |`,
    );
  }
  if (kamNotes.length) rows.push('', ...kamNotes.map((n) => `Note: ${n}.`));
  const setupRows: string[] = [];
  if (variantResults.length > 1 || CLIENTS > 1) {
    const base = variantResults[0]?.r.best;
    setupRows.push(
      `Every sipd set-up beside the same Kamailio run (${CLIENTS} sipp client${CLIENTS > 1 ? 's' : ''} per step, each from its own port). CPU per call: the proxy's processes' CPU (all workers, plus the --workers primary, plus its private redis-server with --cluster) over the calls of its best step; "per core" compares it with the first row — cluster mode's cost per core is how much more CPU one call takes.`,
      '',
      '| proxy | highest rate (< 1% failed) | × Kamailio | proxy CPU at that rate | proxy CPU per call | CPU per call × first row | Redis round trips per call (REGISTER→401→REGISTER→200) | what stopped it |',
      '|---|---:|---:|---:|---:|---:|---:|---|',
      `| Kamailio 5.6 (8 children, usrloc db_mode 2) | ${rateCell(kBest)} | 1.00 | ${pct(kBest?.proxyCpuPct)} | ${cpuPerCall(kBest)?.toFixed(0) ?? '—'} µs | | — | ${lim(results.get('Kamailio'))} |`,
      ...variantResults.map(({ v, r }) => `| ${v.label} | ${rateCell(r.best)} | ${ratio(r.best?.achieved, kBest?.achieved)} | ${pct(r.best?.proxyCpuPct)} | ${cpuPerCall(r.best)?.toFixed(0) ?? '—'} µs | ${ratio(cpuPerCall(r.best), cpuPerCall(base))} | ${r.best?.redisTrips !== undefined ? r.best.redisTrips.toFixed(2) : v.cluster ? '—' : '0'} | ${lim(r)} |`),
    );
  }
  const stepRows = [
    '| proxy | offered/s | s | created | successful | failed | achieved/s | rtd ms | retrans | proxy CPU | MariaDB CPU | sipp CPU | other processes | Redis round trips/call | result |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...steps.map((s) => `| ${s.proxy} | ${s.target} | ${s.offered / s.target} | ${s.created} | ${s.successful} | ${s.failedPct.toFixed(2)}% | ${s.achieved.toFixed(0)} | ${s.rtdMs.toFixed(1)} | ${s.retrans} | ${s.proxyCpuPct.toFixed(0)}% | ${s.dbCpuPct.toFixed(0)}% | ${s.sippCpuPct.toFixed(0)}% | ${others(s)} | ${s.redisTrips?.toFixed(2) ?? ''} | ${s.pass ? 'pass' : 'fail'}${s.note ? ` (${s.note})` : ''} |`),
  ];
  const noisy = steps.filter((x) => x.otherCpuPct > 20 || x.stolenPct > 20);
  if (noisy.length > 0) {
    stepRows.push('', `Other processes on the machine, or the hypervisor (stolen), took more than 20% CPU (of 200%) during ${noisy.length} of ${steps.length} steps (${[...new Set(noisy.map((x) => `"${x.proxy}"`))].join('; ')}): those figures are low by an unknown amount.`);
  }
  const diagText: string[] = [];
  if (diagnose) {
    diagText.push('### Diagnostics (sipd)', '');
    for (const v of variants) diagText.push(`- **${v.label}** (${v.why}; 8 s steps): ${rateCell(v.r.best)}${v.r.best ? ` at ${v.r.best.proxyCpuPct.toFixed(0)}% of one core, ${cpuPerCall(v.r.best)!.toFixed(0)} µs CPU per call, rtd ${rtd(v.r.best)}` : ''}; ${lim(v.r)}.`);
    if (ceilings.length) diagText.push(`- MariaDB alone, sipd's per-REGISTER write (START TRANSACTION; UPDATE location … WHERE ruid; COMMIT), 4 workers per connection: ${ceilings.map(([n, r]) => `${r.toFixed(0)} commits/s over ${n} connections`).join(', ')} (sipd's usrloc pool: 4).`);
    diagText.push('', ...diag.flatMap((d) => [d, '']));
  }
  const cmd = `node --import tsx bench/sipd-bench.ts ${process.argv.slice(2).join(' ')}`.trim();
  const body = [
    `${machineLine()}; load average at start ${load0.map((x) => x.toFixed(2)).join(' ')}; bench took ${elapsedS().toFixed(0)} s`,
    '',
    `Command: \`${cmd}\`; sipd built from ${built}; load average at the end ${loadavg().map((x) => x.toFixed(2)).join(' ')}. sipp 3.6.1 from 127.0.0.1 (\`bench/sipp/sipd_reg_auth.xml\`: the lab's reg_auth.xml with the port in the Request-URI), ${USERS} users from a CSV in turn; MariaDB 10.11 on the same 2 cores. sipd: default configuration (auth-db lockout on) but for --sipd-config and the set-up's words, usrloc db_mode as each row names it (1 = write-through, 2 = write-back); Kamailio: the lab cfg, children 8, auth_db on ha1, usrloc db_mode 2 (write-back). A step passes with < ${MAX_FAILED_PCT}% failed calls and every sipp client done within the step's duration × ${PACE_FACTOR} + ${PACE_SLACK_S} s (kept the pace); userban flushed on both before each step.`,
    '',
    ...rows,
    '',
    ...(setupRows.length ? [...setupRows, ''] : []),
    'Steps:',
    '',
    ...stepRows,
    '',
    ...diagText,
  ].join('\n');
  process.stdout.write('\n' + body + '\n');
  if (RECORD) {
    appendResults('sipd REGISTER', body);
    log('appended to bench/RESULTS.md');
  }
}

main()
  .then(() => cleanupAll())
  .then(() => process.exit(0))
  .catch(async (e) => {
    process.stderr.write(`sipd-bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    await cleanupAll();
    process.exit(1);
  });
