/**
 * sipd soak benchmark (issue 18): does sipd's memory stay flat under hours of ordinary load, and
 * does it come back after a fuzz run?
 *
 *  1. sipp drives REGISTER → 401 → REGISTER with credentials → 200 (bench/sipp/sipd_reg_auth.xml,
 *     1,000 subscribers on MariaDB) at a fixed rate for --warmup + --minutes minutes;
 *  2. every --sample seconds: sipd's VmRSS (/proc/PID/status, as it is), then the V8 heap still
 *     in use after a forced full GC (what sipd really holds; an --import hook answers SIGUSR2
 *     with gc(), harness only, as in sipd-bench.ts); the slopes in MB/h are the least-squares
 *     lines through the samples after the warm-up;
 *  3. at the end of the soak the size of every bounded structure (stats.get_statistics sipd:,
 *     usrloc) is read;
 *  4. fuzz: --fuzz-datagrams mutated datagrams over UDP and --fuzz-tcp short TCP connections (one
 *     OPTIONS each, then closed), then --after minutes of the same REGISTER load, sampled; RSS
 *     then is compared with the warm-up level.
 *
 * Reference, measured in the same run: sipd's own RSS at the end of the warm-up (its level once
 * JIT, database pools and the 1,000 registrations are in place). Targets (issue 18): slope ≤ 5
 * MB/h after warm-up; RSS within 20 % of the warm-up level --after minutes after the fuzz run.
 *
 *   node --import tsx bench/soak-bench.ts [--minutes 30] [--warmup 3] [--rate 300] [--sample 60]
 *       [--fuzz-datagrams 100000] [--fuzz-tcp 20000] [--after 5] [--no-record] [--commit REV]
 *   npm run bench -- soak        (bench/run.sh: the soak runs only when named, it takes its time)
 *
 * sipd is compiled for the run into bench/out/ from the working tree (or --commit REV), never run
 * from dist/, which a concurrent `npm run build` may rewrite. Needs sipp and MariaDB with root over
 * its unix socket (test/helpers/db.ts). Everything it starts is stopped and the database dropped at
 * the end, also on failure or Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import { closeSync, cpSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Database, SqlValue } from '../src/core/db/database.js';
import { createTestDb } from '../test/helpers/db.js';
import { findFreePort } from '../test/helpers/kamailio.js';
import { appendResults, buildSipd, daemonStopper, machineLine } from './lib.js';
import { workerExecArgv } from '../src/daemon/workers.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : def;
}
const MINUTES = Number(arg('minutes', '30'));
const WARMUP_MIN = Number(arg('warmup', '3'));
const RATE = Number(arg('rate', '300'));
const SAMPLE_S = Number(arg('sample', '60'));
const FUZZ_DATAGRAMS = Number(arg('fuzz-datagrams', '100000'));
const FUZZ_TCP = Number(arg('fuzz-tcp', '20000'));
const AFTER_MIN = Number(arg('after', '5'));
const RECORD = !process.argv.includes('--no-record');
const COMMIT = arg('commit', '');
/** --node-flags "--a --b": extra Node.js/V8 flags for the sipd under test — experiments only (what sipd sets by default is what a run for the record measures); printed with the results */
const NODE_FLAGS = arg('node-flags', '').split(/\s+/).filter(Boolean);
/** --keep DIR: copy sipd's log and sipp's statistics and error logs there before clean-up (to find out why calls fail). */
const KEEP = arg('keep', '');
/** --snapshots 3,8: heap snapshots (after a forced GC) into --keep at the first samples at or after these minutes */
const SNAPSHOTS = arg('snapshots', '').split(',').filter(Boolean).map(Number);
const USERS = 1000;
const DOMAIN = '127.0.0.1';

const HERE = dirname(fileURLToPath(import.meta.url));
const SCENARIO = join(HERE, 'sipp', 'sipd_reg_auth.xml');
const T0 = Date.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (s: string) => process.stderr.write(`[${((Date.now() - T0) / 1000).toFixed(0).padStart(5)} s] ${s}\n`);

// ---------------------------------------------------------------- cleanup (also on failure / signals)

const cleanups: Array<() => Promise<void> | void> = [];
async function cleanupAll(): Promise<void> {
  while (cleanups.length > 0) {
    try {
      await cleanups.pop()!();
    } catch (e) {
      process.stderr.write(`cleanup failed: ${String(e)}\n`);
    }
  }
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => void cleanupAll().finally(() => process.exit(130)));
}
const HARD_LIMIT_S = (WARMUP_MIN + MINUTES + AFTER_MIN) * 60 + 900;
setTimeout(() => {
  process.stderr.write(`soak exceeded its hard time limit (${HARD_LIMIT_S} s); cleaning up\n`);
  void cleanupAll().finally(() => process.exit(3));
}, HARD_LIMIT_S * 1000).unref();

// ---------------------------------------------------------------- helpers

const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const userName = (i: number) => `sipp${String(i).padStart(4, '0')}`;
const password = (u: string) => `pw-${u}-x9`;

async function provision(db: Database): Promise<void> {
  const rows: SqlValue[] = [];
  for (let i = 1; i <= USERS; i++) {
    const u = userName(i);
    const pw = password(u);
    rows.push(u, DOMAIN, pw, md5(`${u}:${DOMAIN}:${pw}`), md5(`${u}@${DOMAIN}:${DOMAIN}:${pw}`));
  }
  await db.execute(`INSERT INTO subscriber (username, domain, password, ha1, ha1b) VALUES ${Array.from({ length: USERS }, () => '(?,?,?,?,?)').join(',')}`, rows);
}

let rpcId = 0;
async function rpc<T>(url: string, method: string, params?: unknown[]): Promise<T> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', method, ...(params ? { params } : {}), id: ++rpcId }), signal: AbortSignal.timeout(10_000) });
  const j = (await res.json()) as { result?: T; error?: { message: string } };
  if (j.error) throw new Error(`${method}: ${j.error.message}`);
  return j.result as T;
}

async function statistics(url: string, which: string[]): Promise<Map<string, number>> {
  const lines = await rpc<string[]>(url, 'stats.get_statistics', which);
  const m = new Map<string, number>();
  for (const l of lines) {
    const x = /^(\S+) = (-?\d+)/.exec(l);
    if (x) m.set(x[1], Number(x[2]));
  }
  return m;
}

function rssKb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}
const fdCount = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
/** CPU seconds (user + system) the process has used so far (/proc/PID/stat, clock ticks of 1/100 s) */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** sipd's resident memory split as the kernel sees it (/proc/PID/smaps_rollup): anonymous (V8 heap, malloc, stacks) and file-backed (node binary, libraries), MB. */
function residentSplit(pid: number): { anonMb: number; fileMb: number } {
  const t = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(t)?.[1] ?? NaN);
  return { anonMb: kb('Anonymous') / 1024, fileMb: (kb('Rss') - kb('Anonymous')) / 1024 };
}

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return num / den;
}

// ---------------------------------------------------------------- sipd and sipp

/** Copies the named files (or all files whose name starts with one of them) from dir into --keep. */
function keepFiles(dir: string, prefixes: string[]): void {
  mkdirSync(KEEP, { recursive: true });
  for (const f of readdirSync(dir)) if (prefixes.some((p) => f.startsWith(p))) cpSync(join(dir, f), join(KEEP, f));
}

/** Forced GC on SIGUSR2, then process.memoryUsage() into $SIPD_BENCH_MEM: harness only, no change to sipd. */
const GC_HOOK = `data:text/javascript,${encodeURIComponent(
  "import{writeFileSync,readFileSync,rmSync}from'node:fs';import{writeHeapSnapshot,getHeapSpaceStatistics}from'node:v8';process.on('SIGUSR2',()=>{const before=Object.fromEntries(getHeapSpaceStatistics().map(s=>[s.space_name,s.physical_space_size]));globalThis.gc();globalThis.gc();const w=process.env.SIPD_BENCH_MEM+'.snapshot';let to;try{to=readFileSync(w,'utf8')}catch{}if(to){rmSync(w);writeHeapSnapshot(to)}setTimeout(()=>writeFileSync(process.env.SIPD_BENCH_MEM,JSON.stringify({...process.memoryUsage(),spacesBefore:before,spaces:Object.fromEntries(getHeapSpaceStatistics().map(s=>[s.space_name,s.physical_space_size]))})),300)});",
)}`;

/** What the GC hook reports: process.memoryUsage() after the forced GC, and V8's committed size per heap space before and after it. */
interface MemReport extends NodeJS.MemoryUsage {
  spacesBefore: Record<string, number>;
  spaces: Record<string, number>;
}

interface Sipd {
  /** memory after a forced full GC; with `snapshot`, a heap snapshot is written there after the GC */
  liveHeap(snapshot?: string): Promise<MemReport | undefined>;
  pid: number;
  port: number;
  rpcUrl: string;
}

async function startSipd(bin: string, dbUrl: string, dbPassword: string): Promise<Sipd> {
  const stateDir = mkdtempSync(join(tmpdir(), 'sipd-soak-'));
  const port = await findFreePort('127.0.0.1');
  const configFile = join(stateDir, 'sipd.json');
  writeFileSync(configFile, JSON.stringify({ listen: [`udp:127.0.0.1:${port}`, `tcp:127.0.0.1:${port}`], rpcListen: ['http://127.0.0.1:0/RPC'] }));
  const logFile = join(stateDir, 'sipd.log');
  const fd = openSync(logFile, 'a');
  const memFile = join(stateDir, 'mem.json');
  const child: ChildProcess = spawn(process.execPath, [...workerExecArgv(['--expose-gc', ...NODE_FLAGS]), '--import', GC_HOOK, bin, '--config', configFile, '--state-dir', stateDir, '--log-format', 'json', '--log-level', 'warn'], {
    env: { PATH: process.env.PATH, HOME: stateDir, XDG_CONFIG_HOME: join(stateDir, '.config'), SIPCTL_DB: dbUrl, SIPCTL_DB_PASSWORD: dbPassword, SIPD_BENCH_MEM: memFile, LANG: 'C.UTF-8' },
    stdio: ['ignore', fd, fd],
    cwd: stateDir,
  });
  closeSync(fd);
  cleanups.push(daemonStopper(child, stateDir));
  if (KEEP) cleanups.push(() => keepFiles(stateDir, ['sipd.log']));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`sipd exited during start:\n${readFileSync(logFile, 'utf8').slice(-3000)}`);
    if (Date.now() > deadline) throw new Error(`sipd not ready:\n${readFileSync(logFile, 'utf8').slice(-3000)}`);
    try {
      const rt = JSON.parse(readFileSync(join(stateDir, 'sipd.runtime.json'), 'utf8')) as { pid: number; rpc: string[] };
      if (rt.pid === child.pid) {
        const rpcUrl = rt.rpc.find((u) => u.startsWith('http:'))!;
        await rpc(rpcUrl, 'core.uptime');
        const liveHeap = async (snapshot?: string) => {
          rmSync(memFile, { force: true });
          if (snapshot) writeFileSync(`${memFile}.snapshot`, snapshot);
          process.kill(child.pid!, 'SIGUSR2');
          for (let i = 0; i < 1200; i++) {
            await sleep(100);
            try {
              const mu = JSON.parse(readFileSync(memFile, 'utf8')) as MemReport;
              const spaces = (r: Record<string, number>) => Object.entries(r).filter(([, v]) => v > 0).map(([k, v]) => `${k.replace(/_space$/, '')} ${mb(v)}`).join(', ');
              log(`after GC: heapUsed ${mb(mu.heapUsed)} MB, heapTotal ${mb(mu.heapTotal)} MB, external ${mb(mu.external)} MB, arrayBuffers ${mb(mu.arrayBuffers)} MB, rss ${mb(mu.rss)} MB; committed before GC: ${spaces(mu.spacesBefore)}; after: ${spaces(mu.spaces)}`);
              return mu;
            } catch {
              /* not yet */
            }
          }
          return undefined;
        };
        return { pid: child.pid!, port, rpcUrl, liveHeap };
      }
    } catch {
      /* not yet */
    }
    await sleep(100);
  }
}

interface SippRun {
  done: Promise<Record<string, string> | undefined>;
  stop(): void;
}

/** sipp at RATE calls/s for `seconds` (from one local port: every call refreshes its user's one binding). */
function startSipp(workDir: string, sipdPort: number, localPort: number, seconds: number): SippRun {
  const csv = join(workDir, 'users.csv');
  const lines = ['SEQUENTIAL'];
  for (let i = 1; i <= USERS; i++) lines.push(`${userName(i)};[authentication username=${userName(i)} password=${password(userName(i))}]`);
  writeFileSync(csv, lines.join('\n') + '\n');
  const stat = join(workDir, `stat-${Date.now()}.csv`);
  const child = spawn('sipp', [
    `127.0.0.1:${sipdPort}`, '-sf', SCENARIO, '-inf', csv, '-i', '127.0.0.1', '-p', String(localPort),
    '-r', String(RATE), '-rp', '1000', '-m', String(RATE * seconds), '-l', String(RATE * 4 + 100),
    '-recv_timeout', '5000', '-timeout', `${seconds + 60}s`, '-nostdin', '-trace_stat', '-stf', stat, '-fd', '10', ...(KEEP ? ['-trace_err', '-trace_rtt', '-rtt_freq', '1000'] : []),
  ], { cwd: workDir, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d) => (err = (err + d).slice(-2000)));
  const kill = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  };
  cleanups.push(kill);
  const done = new Promise<Record<string, string> | undefined>((resolveDone) =>
    child.on('close', (code) => {
      let txt = '';
      try {
        txt = readFileSync(stat, 'utf8');
      } catch {
        log(`sipp left no statistics (exit ${code}): ${err.trim().slice(-300)}`);
        return resolveDone(undefined);
      }
      const rows = txt.split('\n').filter((l) => l.trim()).map((l) => l.split(';'));
      const out: Record<string, string> = {};
      rows[0].forEach((h, i) => (out[h] = rows[rows.length - 1][i]));
      resolveDone(out);
    }),
  );
  return { done, stop: kill };
}

// ---------------------------------------------------------------- fuzz

function mutate(base: Buffer): Buffer {
  const d = Buffer.from(base);
  const n = 1 + Math.floor(Math.random() * 6);
  for (let k = 0; k < n; k++) {
    const i = Math.floor(Math.random() * d.length);
    const r = Math.random();
    if (r < 0.6) d[i] = Math.floor(Math.random() * 256);
    else if (r < 0.8) d[i] = 0x0d;
    else d[i] = 0x3a;
  }
  return Math.random() < 0.2 ? d.subarray(0, Math.floor(Math.random() * d.length)) : d;
}

function request(method: string, port: number, n: number): string {
  return [
    `${method} sip:127.0.0.1:${port} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-fz${n}-${Date.now()};rport`,
    `From: <sip:fuzz${n % 97}@127.0.0.1>;tag=f${n}`,
    `To: <sip:fuzz${n % 97}@127.0.0.1>`,
    `Call-ID: fuzz-${n}-${process.pid}@soak`,
    `CSeq: ${n} ${method}`,
    `Contact: <sip:fuzz@127.0.0.1:5999>`,
    'Max-Forwards: 70',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

async function fuzzUdp(port: number, count: number): Promise<void> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind({ address: '127.0.0.1', port: 0 }, () => r()));
  sock.on('message', () => undefined);
  for (let i = 0; i < count; i++) {
    const base = Buffer.from(request(i % 2 ? 'OPTIONS' : 'REGISTER', port, i), 'latin1');
    await new Promise<void>((r) => sock.send(mutate(base), port, '127.0.0.1', () => r()));
    if (i % 500 === 499) await sleep(20); // about 20,000/s: the soak load keeps running beside it
  }
  sock.close();
}

function shortTcp(port: number, n: number): Promise<void> {
  return new Promise((resolveConn) => {
    const s = net.createConnection({ host: '127.0.0.1', port });
    const timer = setTimeout(() => s.destroy(), 5000);
    s.on('connect', () => s.write(request('OPTIONS', port, n).replace('SIP/2.0/UDP', 'SIP/2.0/TCP')));
    s.on('data', () => s.destroy());
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      resolveConn();
    });
  });
}

async function fuzzTcp(port: number, count: number): Promise<void> {
  for (let i = 0; i < count; i += 20) await Promise.all(Array.from({ length: Math.min(20, count - i) }, (_, k) => shortTcp(port, i + k)));
}

// ---------------------------------------------------------------- main

interface Sample {
  minute: number;
  phase: 'warm-up' | 'soak' | 'after fuzz';
  rssMb: number;
  /** of RSS: anonymous and file-backed pages (smaps_rollup), read with it */
  anonMb: number;
  fileMb: number;
  /** V8's committed heap (all spaces) just before the forced GC, and of it the young generation */
  v8Mb: number;
  youngMb: number;
  heapMb: number;
  liveMb: number;
  fds: number;
  /** the machine's 1-minute load average then */
  load: number;
  /** sipd's CPU seconds so far */
  cpuS: number;
}

async function main(): Promise<void> {
  const workDir = mkdtempSync(join(tmpdir(), 'sipd-soak-work-'));
  cleanups.push(() => rmSync(workDir, { recursive: true, force: true }));
  if (KEEP) cleanups.push(() => keepFiles(workDir, ['stat-', 'sipd_reg_auth_']));
  log(`machine: ${machineLine()}`);
  const built = buildSipd('soak-build', COMMIT, (remove) => cleanups.push(remove));
  log(`sipd built from ${built.what}`);
  const t = await createTestDb('mysql');
  cleanups.push(() => t.drop());
  const db = await t.open();
  await provision(db);
  await db.close();
  const sipd = await startSipd(built.bin, t.url, t.password ?? '');
  log(`sipd pid ${sipd.pid} on udp:127.0.0.1:${sipd.port}`);
  const sippPort = await findFreePort('127.0.0.1', { tcp: false });

  const samples: Sample[] = [];
  const started = Date.now();
  const snapped = new Set<number>();
  const take = async (phase: Sample['phase']) => {
    const heap = (await statistics(sipd.rpcUrl, ['sipd:heap_used_kb']).catch(() => new Map<string, number>())).get('sipd:heap_used_kb') ?? NaN;
    const minute = (Date.now() - started) / 60_000;
    const rssMb = rssKb(sipd.pid) / 1024;
    const split = residentSplit(sipd.pid);
    const snapAt = KEEP ? SNAPSHOTS.find((m) => minute >= m && !snapped.has(m)) : undefined;
    if (snapAt !== undefined) {
      snapped.add(snapAt);
      mkdirSync(KEEP, { recursive: true });
    }
    const snapshot = snapAt === undefined ? undefined : join(KEEP, `sipd-${minute.toFixed(1)}min.heapsnapshot`);
    const mem = await sipd.liveHeap(snapshot);
    const committed = (names?: string[]) => (mem ? Object.entries(mem.spacesBefore).filter(([k]) => !names || names.includes(k)).reduce((a, [, v]) => a + v, 0) / 2 ** 20 : NaN);
    const s: Sample = { minute, phase, rssMb, ...split, v8Mb: committed(), youngMb: committed(['new_space', 'new_large_object_space']), heapMb: heap / 1024, liveMb: mem ? mem.heapUsed / 2 ** 20 : NaN, fds: fdCount(sipd.pid), load: Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]), cpuS: cpuSeconds(sipd.pid) };
    if (snapshot) log(`heap snapshot: ${snapshot}`);
    samples.push(s);
    log(`${phase} minute ${s.minute.toFixed(1)}: RSS ${s.rssMb.toFixed(1)} MB (anon ${s.anonMb.toFixed(1)}, file ${s.fileMb.toFixed(1)}; V8 committed ${s.v8Mb.toFixed(1)}, young ${s.youngMb.toFixed(1)}), heap ${s.heapMb.toFixed(1)} MB, after GC ${s.liveMb.toFixed(1)} MB, fds ${s.fds}, load ${s.load}, CPU ${s.cpuS.toFixed(1)} s`);
  };

  // 1–2. warm-up + soak
  const soakS = (WARMUP_MIN + MINUTES) * 60;
  const fd0 = fdCount(sipd.pid);
  const sipp = startSipp(workDir, sipd.port, sippPort, soakS);
  await take('warm-up');
  while ((Date.now() - started) / 1000 < soakS - 1) {
    await sleep(Math.min(SAMPLE_S * 1000, soakS * 1000 - (Date.now() - started)));
    await take((Date.now() - started) / 60_000 <= WARMUP_MIN + 0.01 ? 'warm-up' : 'soak');
  }
  const sippStats = await sipp.done;
  const created = Number(sippStats?.['TotalCallCreated'] ?? 0);
  const ok = Number(sippStats?.['SuccessfulCall(C)'] ?? 0);
  log(`sipp: ${ok} of ${created} calls successful`);
  const warm = samples.filter((s) => s.phase === 'warm-up').at(-1)!;
  const soakCpuS = samples.filter((s) => s.phase !== 'after fuzz').at(-1)!.cpuS - samples[0].cpuS;
  const soak = samples.filter((s) => s.phase === 'soak');
  const slopeMbH = slope(soak.map((s) => s.minute / 60), soak.map((s) => s.rssMb));
  const heapSlopeMbH = slope(soak.map((s) => s.minute / 60), soak.map((s) => s.liveMb));
  // 3. sizes at the end of the soak
  const sizes = await statistics(sipd.rpcUrl, ['sipd:', 'usrloc:']);

  // 4. fuzz, with the REGISTER load running again beside it and after it
  const sipp2 = startSipp(workDir, sipd.port, sippPort, AFTER_MIN * 60 + 120);
  const f0 = Date.now();
  await Promise.all([fuzzUdp(sipd.port, FUZZ_DATAGRAMS), fuzzTcp(sipd.port, FUZZ_TCP)]);
  const fuzzS = (Date.now() - f0) / 1000;
  await take('after fuzz');
  const sizesFuzz = await statistics(sipd.rpcUrl, ['sipd:']);
  log(`fuzz: ${FUZZ_DATAGRAMS} datagrams and ${FUZZ_TCP} TCP connections in ${fuzzS.toFixed(0)} s`);
  const fuzzEnd = Date.now();
  while (Date.now() - fuzzEnd < AFTER_MIN * 60_000 - 1000) {
    await sleep(Math.min(SAMPLE_S * 1000, AFTER_MIN * 60_000 - (Date.now() - fuzzEnd)));
    await take('after fuzz');
  }
  const after = samples.at(-1)!;
  const fdAfter = fdCount(sipd.pid);
  sipp2.stop();
  const sizesAfter = await statistics(sipd.rpcUrl, ['sipd:']);

  // ---- report
  const ratio = after.rssMb / warm.rssMb;
  const rows = samples.map((s) => `| ${s.minute.toFixed(1)} | ${s.phase} | ${s.rssMb.toFixed(1)} | ${s.v8Mb.toFixed(1)} (${s.youngMb.toFixed(1)}) | ${(s.anonMb - s.v8Mb).toFixed(1)} | ${s.fileMb.toFixed(1)} | ${s.heapMb.toFixed(1)} | ${s.liveMb.toFixed(1)} | ${s.fds} | ${s.load.toFixed(1)} |`);
  const sizeRows = [...new Set([...sizes.keys(), ...sizesFuzz.keys(), ...sizesAfter.keys()])].map((k) => `| \`${k}\` | ${sizes.get(k) ?? ''} | ${sizesFuzz.get(k) ?? ''} | ${sizesAfter.get(k) ?? ''} |`);
  const verdict = (b: boolean) => (b ? 'met' : 'NOT met');
  const body = [
    `${machineLine()}; sipd from ${built.what}.`,
    `Command: \`node --import tsx bench/soak-bench.ts --minutes ${MINUTES} --warmup ${WARMUP_MIN} --rate ${RATE} --sample ${SAMPLE_S} --fuzz-datagrams ${FUZZ_DATAGRAMS} --fuzz-tcp ${FUZZ_TCP} --after ${AFTER_MIN}${NODE_FLAGS.length ? ` --node-flags "${NODE_FLAGS.join(' ')}"` : ''}\`.`,
    '',
    `Machine load during the run (1-minute load average at the samples): ${Math.min(...samples.map((s) => s.load)).toFixed(1)}–${Math.max(...samples.map((s) => s.load)).toFixed(1)}, mean ${(samples.reduce((a, s) => a + s.load, 0) / samples.length).toFixed(1)}.${NODE_FLAGS.length ? ` sipd ran with the extra Node.js flags ${NODE_FLAGS.join(' ')} (experiment).` : ''}`,
    '',
    `Load: sipp REGISTER with digest (bench/sipp/sipd_reg_auth.xml, ${USERS} subscribers, MariaDB) at ${RATE}/s for ${WARMUP_MIN} + ${MINUTES} min: ${ok} of ${created} calls successful. sipd with its default modules and limits. RSS is VmRSS as it is, read before the forced GC; heap is V8's heapUsed then (stats sipd:heap_used_kb); heap after forced GC is what sipd still holds.`,
    '',
    '| | sipd | reference: sipd at the end of the warm-up | ratio | target |',
    '|---|---|---|---|---|',
    `| RSS slope after warm-up (least squares, ${soak.length} samples) | ${slopeMbH.toFixed(2)} MB/h (heap after GC ${heapSlopeMbH.toFixed(2)} MB/h) | — | — | ≤ 5 MB/h: ${verdict(slopeMbH <= 5)} |`,
    `| RSS at the end of the soak | ${soak.at(-1)?.rssMb.toFixed(1)} MB | ${warm.rssMb.toFixed(1)} MB | ${((soak.at(-1)?.rssMb ?? NaN) / warm.rssMb).toFixed(2)} | — |`,
    `| RSS ${AFTER_MIN} min after the fuzz (${FUZZ_DATAGRAMS} mutated datagrams + ${FUZZ_TCP} short TCP connections in ${fuzzS.toFixed(0)} s, REGISTER load continuing) | ${after.rssMb.toFixed(1)} MB | ${warm.rssMb.toFixed(1)} MB | ${ratio.toFixed(2)} | within 20 %: ${verdict(Math.abs(ratio - 1) <= 0.2)} |`,
    `| sipd CPU time during warm-up and soak (user + system) | ${soakCpuS.toFixed(0)} s = ${((soakCpuS / Math.max(1, ok)) * 1e6).toFixed(0)} µs per successful call | | | — |`,
    `| open fds of sipd: before the load / after everything | ${fd0} / ${fdAfter} | | | back to baseline: ${verdict(fdAfter <= fd0 + 2)} |`,
    '',
    '| minute | phase | RSS MB | of it V8 heap committed MB (young gen.) | other anonymous MB (malloc, stacks) | file-backed MB | heap used MB | heap after forced GC MB | fds | load avg 1 min |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    '| statistic | end of soak | just after the fuzz | end |',
    '|---|---|---|---|',
    ...sizeRows,
    '',
  ].join('\n');
  process.stdout.write(body + '\n');
  if (RECORD) appendResults('sipd soak (issue 18)', body);
}

main()
  .then(() => cleanupAll())
  .then(() => process.exit(0))
  .catch(async (e: unknown) => {
    process.stderr.write(`soak failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    await cleanupAll();
    process.exit(1);
  });
