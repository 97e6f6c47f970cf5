/**
 * REGISTER with and without country rules (issue 13: "lookups must not slow REGISTER handling
 * measurably: < 5 % on the REGISTER bench"). One sipd build, one SQLite database with USERS
 * subscribers, two configurations started in turn, ROUNDS times each (A B A B …, so drift of a
 * shared machine falls on both):
 *
 *   without  the country module disabled (disableModules: ["country"])
 *   with     country rules for registrations and calls (block KP, IR, CU) and the default data
 *            set, Debian's tor-geoipdb (660,000 IPv4/IPv6 ranges): every REGISTER looks its
 *            source up (127.0.0.1 is in no range: the whole binary search, then "unknown")
 *
 * Each run: sipp (bench/sipp/sipd_reg_auth.xml: REGISTER → 401 → REGISTER with credentials → 200)
 * at RATE calls/s for SECONDS seconds, after a warm-up. The figure is sipd's CPU time per
 * successful REGISTER (utime + stime from /proc, so other load on the machine does not count),
 * beside the response time and failures. Appended to bench/RESULTS.md.
 *
 *   node --import tsx bench/country-bench.ts [--rate 300] [--seconds 15] [--rounds 3] [--no-record]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openDatabase } from '../src/core/db/database.js';
import { initSchema } from '../src/core/db/schema/schema.js';
import { addSubscriber } from '../src/core/subscribers/subscribers.js';
import { findFreePort } from '../test/helpers/kamailio.js';
import { appendResults, buildSipd, daemonStopper, machineLine, median } from './lib.js';
import { TorGeoip } from '../src/daemon/modules/country/geoip.js';
import { parseIp } from '../src/daemon/modules/permissions/ip.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const SCENARIO = join(HERE, 'sipp', 'sipd_reg_auth.xml');
const { values: a } = parseArgs({ options: { rate: { type: 'string', default: '300' }, seconds: { type: 'string', default: '15' }, rounds: { type: 'string', default: '3' }, users: { type: 'string', default: '200' }, 'no-record': { type: 'boolean' } } });
const RATE = Number(a.rate);
const SECONDS = Number(a.seconds);
const ROUNDS = Number(a.rounds);
const USERS = Number(a.users);
const TICK_MS = 1000 / Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

const cleanups: Array<() => Promise<void> | void> = [];
async function cleanup() {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  cleanups.length = 0;
}
process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));

function cpuMs(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_MS;
}

interface Run { cpuPerReg: number; ok: number; failed: number; rttMs: number }

async function startSipd(bin: string, dbUrl: string, config: Record<string, unknown>): Promise<{ pid: number; port: number; stop: () => Promise<void> }> {
  const stateDir = mkdtempSync(join(tmpdir(), 'sipd-cbench-'));
  const port = await findFreePort('127.0.0.1');
  writeFileSync(join(stateDir, 'sipd.json'), JSON.stringify({ listen: [`udp:127.0.0.1:${port}`], rpcListen: ['http://127.0.0.1:0/RPC'], logLevel: 'warn', ...config }));
  const child: ChildProcess = spawn(process.execPath, [bin, '--config', join(stateDir, 'sipd.json'), '--state-dir', stateDir, '--log-format', 'json'], {
    env: { PATH: process.env.PATH, HOME: stateDir, SIPCTL_DB: dbUrl, LANG: 'C.UTF-8' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const stop = daemonStopper(child, stateDir);
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error('sipd exited during start');
    try {
      const rt = JSON.parse(readFileSync(join(stateDir, 'sipd.runtime.json'), 'utf8')) as { pid: number };
      if (rt.pid === child.pid) return { pid: child.pid!, port, stop };
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('sipd not ready');
}

function sipp(port: number, csv: string, calls: number, rate: number, dir: string): { ok: number; failed: number; rttMs: number } {
  const stat = join(dir, `stat-${Date.now()}.csv`);
  const r = spawnSync('sipp', [`127.0.0.1:${port}`, '-sf', SCENARIO, '-inf', csv, '-i', '127.0.0.1', '-r', String(rate), '-m', String(calls), '-l', String(rate * 4), '-recv_timeout', '5000', '-timeout', `${Math.ceil(calls / rate) + 20}s`, '-nostdin', '-trace_stat', '-stf', stat, '-fd', '1'], { encoding: 'utf8', cwd: dir, timeout: Math.ceil(calls / rate + 40) * 1000 });
  if (!existsSync(stat)) throw new Error(`sipp wrote no statistics: ${r.stderr?.slice(-500)}`);
  const rows = readFileSync(stat, 'utf8').trim().split('\n').map((l) => l.split(';'));
  const [head, last] = [rows[0]!, rows[rows.length - 1]!];
  const get = (n: string) => last[head.indexOf(n)] ?? '';
  const rtt = get('ResponseTime1(C)'); // hh:mm:ss:µs… as sipp prints it
  const p = rtt.split(':').map(Number);
  const rttMs = p.length >= 4 ? ((p[0]! * 60 + p[1]!) * 60 + p[2]!) * 1000 + p[3]! / 1000 : NaN;
  return { ok: Number(get('SuccessfulCall(C)')), failed: Number(get('FailedCall(C)')), rttMs };
}

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'country-bench-'));
  cleanups.push(() => rmSync(work, { recursive: true, force: true }));
  const built = buildSipd('country', undefined, (rm) => cleanups.push(rm));
  const dbUrl = `sqlite://${join(work, 'bench.db')}`;
  const db = await openDatabase(dbUrl, { create: true });
  const lines = ['SEQUENTIAL'];
  try {
    await initSchema(db);
    for (let i = 1; i <= USERS; i++) {
      const u = `sipp${String(i).padStart(4, '0')}`;
      await addSubscriber(db, u, '127.0.0.1', `Tr0ub4dor-Horse-${i}x`, { hash: 'md5', storePlaintext: false });
      lines.push(`${u};[authentication username=${u} password=Tr0ub4dor-Horse-${i}x]`);
    }
    for (const scope of ['register', 'subscriber']) for (const cc of ['KP', 'IR', 'CU']) await db.execute('INSERT INTO sipd_country (scope, username, action, country) VALUES (?, ?, ?, ?)', [scope, '', 'block', cc]);
  } finally {
    await db.close();
  }
  const csv = join(work, 'users.csv');
  writeFileSync(csv, lines.join('\n') + '\n');
  const configs: Array<[string, Record<string, unknown>]> = [
    ['without', { disableModules: ['country'] }],
    ['with', {}],
  ];
  const runs = new Map<string, Run[]>([['without', []], ['with', []]]);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, config] of configs) {
      const s = await startSipd(built.bin, dbUrl, config);
      cleanups.push(s.stop);
      sipp(s.port, csv, Math.min(USERS, RATE * 2), RATE, work); // warm-up: every user once, JIT warm
      const c0 = cpuMs(s.pid);
      const r = sipp(s.port, csv, RATE * SECONDS, RATE, work);
      const cpu = cpuMs(s.pid) - c0;
      await s.stop();
      const run = { cpuPerReg: r.ok > 0 ? cpu / r.ok : NaN, ok: r.ok, failed: r.failed, rttMs: r.rttMs };
      runs.get(name)!.push(run);
      process.stdout.write(`round ${round + 1} ${name}: ${r.ok} ok, ${r.failed} failed, sipd CPU ${(run.cpuPerReg * 1000).toFixed(0)} µs/REGISTER, response ${r.rttMs.toFixed(2)} ms\n`);
    }
  }
  // The lookup alone, in this process: what every initial request pays for its country.
  const g = new TorGeoip('/usr/share/tor/geoip', '/usr/share/tor/geoip6');
  const addrs = ['127.0.0.1', '81.2.69.142', '8.8.8.8', '2001:67c:2e8:22::c100:68b', '2a00:1450:4001::1'];
  const per: number[] = [];
  for (const t of addrs) {
    const N = 200_000;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) g.lookup(parseIp(t)!);
    per.push(Number(process.hrtime.bigint() - t0) / N);
  }
  const lookupNs = median(per);
  const med = (n: string, f: (r: Run) => number) => median(runs.get(n)!.map(f));
  const w = med('without', (r) => r.cpuPerReg);
  const c = med('with', (r) => r.cpuPerReg);
  const ratio = (c / w - 1) * 100;
  const table = [
    '| sipd | REGISTERs ok / failed (all rounds) | sipd CPU per REGISTER (median of rounds) | response time (median) |',
    '| --- | --- | --- | --- |',
    ...(['without', 'with'] as const).map((n) => `| ${n} country rules | ${runs.get(n)!.reduce((s, r) => s + r.ok, 0)} / ${runs.get(n)!.reduce((s, r) => s + r.failed, 0)} | ${(med(n, (r) => r.cpuPerReg) * 1000).toFixed(0)} µs | ${med(n, (r) => r.rttMs).toFixed(2)} ms |`),
    '',
    `With country rules: ${ratio >= 0 ? '+' : ''}${ratio.toFixed(1)} % CPU per REGISTER (target: < 5 %). One lookup (parse + search, median over ${addrs.length} addresses, IPv4 and IPv6, in the bench process): ${lookupNs.toFixed(0)} ns = ${((lookupNs / 1e3 / (w * 1000)) * 100).toFixed(3)} % of sipd's CPU per REGISTER without rules.`,
  ].join('\n');
  process.stdout.write(`\n${table}\n`);
  if (!a['no-record']) {
    appendResults('sipd REGISTER with and without country rules', `${machineLine()}\n\nCommand: \`node --import tsx bench/country-bench.ts --rate ${RATE} --seconds ${SECONDS} --rounds ${ROUNDS} --users ${USERS}\`; sipd built from ${built.what}; SQLite; sipp from 127.0.0.1 at ${RATE}/s for ${SECONDS} s per run, runs alternating; "with": block KP, IR, CU for register and subscriber, data Debian tor-geoipdb (every REGISTER looked up). CPU is sipd's own (utime+stime), so load from other processes on the machine does not count in it, though it still disturbs caches and scheduling.\n\n${table}\n`);
  }
  await cleanup();
}

main().catch(async (e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  await cleanup();
  process.exit(1);
});
