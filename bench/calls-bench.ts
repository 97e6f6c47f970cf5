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
 * time: 100% = one core), and sipp's retransmissions.
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
 *
 * Needs sipp, Kamailio 5.6 with the lab modules, MariaDB with root over its socket, and a built
 * dist/ (npm run build). Everything it starts is stopped and the databases dropped at the end,
 * also on failure.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { openDatabase } from '../src/core/db/database.js';
import { addSubscriber } from '../src/core/subscribers/subscribers.js';
import { createTestDb, type TestDb } from '../test/helpers/db.js';
import { kamailioMissing, startKamailio, stopAllKamailio, type KamailioInstance } from '../test/helpers/kamailio.js';
import { register, scenario, settle, sipp } from '../test/daemon/calls-support.js';
import { toolsMissing } from '../test/helpers/require.js';
import { freeSipPort, startSipd, type SipdProcess } from '../test/daemon/sipd-process.js';
import { appendResults, machineLine } from './lib.js';

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

interface Step {
  rate: number;
  planned: number;
  created: number;
  successful: number;
  failed: number;
  retransmissions: number;
  wallMs: number;
  cpu: number;
  pass: boolean;
}

interface Target {
  name: string;
  port: number;
  pids(): number[];
  flushUserban(): Promise<void>;
  stop(): Promise<void>;
}

const CLK_TCK = 100;

function cpuTicks(pids: number[]): number {
  let t = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      t += Number(f[11]) + Number(f[12]);
    } catch {
      /* gone */
    }
  }
  return t;
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

async function step(t: Target, rate: number, calleePort: number): Promise<Step> {
  await t.flushUserban();
  const planned = rate * DURATION;
  const pids = t.pids();
  const cpu0 = cpuTicks(pids);
  const t0 = Date.now();
  const r = await sipp({
    scenario: scenario('caller.xml', { USER: 'alice', HOLD: 0 }),
    remote: `127.0.0.1:${t.port}`,
    localPort: await freeSipPort(),
    service: 'bob',
    user: 'alice',
    password: PASSWORD,
    calls: planned,
    rate,
    timeoutMs: (DURATION * 2 + 20) * 1000,
    extra: ['-l', String(Math.max(50, rate * 4)), '-recv_timeout', '5000', '-max_socket', '2000'],
  }).done;
  const wallMs = Date.now() - t0;
  const cpu = ((cpuTicks(pids) - cpu0) / CLK_TCK / (wallMs / 1000)) * 100;
  const created = (r.successful ?? 0) + (r.failed ?? 0);
  const retransmissions = Number(/Retransmissions[^|]*\|\s*\d+\s*\|\s*(\d+)/.exec(r.output)?.[1] ?? 0);
  const successful = r.successful ?? 0;
  const failed = r.failed ?? planned;
  const pass = created >= planned && failed < planned * 0.01 && wallMs <= DURATION * 1250 + 3000;
  void calleePort;
  if (!pass && VERBOSE) console.error(r.output.split('\n').filter((l) => /received 'SIP\/2.0/.test(l)).slice(0, 3).join('\n'));
  return { rate, planned, created, successful, failed, retransmissions, wallMs, cpu, pass };
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
  const uas = sipp({ scenario: scenario('callee.xml', { RING: 0 }), localIp: CALLEE_IP, localPort: port, calls: 10_000_000, timeoutMs: 3_600_000, extra: ['-max_socket', '2000'] });
  await settle(500);
  try {
    return await fn();
  } finally {
    uas.stop();
    await uas.done;
  }
}

function table(rows: Step[]): string {
  const head = '| rate (calls/s) | calls | failed | retrans. | wall (s) | proxy CPU | |\n|---:|---:|---:|---:|---:|---:|---|\n';
  return head + rows.map((s) => `| ${s.rate} | ${s.created}/${s.planned} | ${s.failed} | ${s.retransmissions} | ${(s.wallMs / 1000).toFixed(1)} | ${s.cpu.toFixed(0)}% | ${s.pass ? 'pass' : 'FAIL'} |`).join('\n') + '\n';
}

async function main(): Promise<void> {
  const missing = toolsMissing('sipp');
  if (missing) throw new Error(missing);
  const why = kamailioMissing();
  if (why && ONLY !== 'sipd') throw new Error(why);
  const dbs: TestDb[] = [];
  const results: Array<{ name: string; best: number; steps: Step[] }> = [];
  const print = (name: string) => (s: Step) => console.log(`${name.padEnd(9)} ${String(s.rate).padStart(5)}/s  calls ${s.created}/${s.planned}  failed ${s.failed}  retrans ${s.retransmissions}  wall ${(s.wallMs / 1000).toFixed(1)}s  cpu ${s.cpu.toFixed(0)}%  ${s.pass ? 'pass' : 'FAIL'}`);
  try {
    if (ONLY !== 'kamailio') {
      const t = await createTestDb('mysql');
      dbs.push(t);
      await provision(t);
      let sipd: SipdProcess | undefined;
      try {
        sipd = await startSipd({ dbUrl: t.fullUrl, timeoutMs: 30_000, config: { logLevel: 'warn', modules: {} } });
        const s = sipd;
        const target: Target = {
          name: 'sipd',
          port: s.sipPort,
          pids: () => [s.child.pid!],
          flushUserban: async () => void (await s.rpc('htable.flush', ['userban'])),
          stop: async () => void (await s.stop()),
        };
        const port = await freeSipPort();
        results.push({ name: 'sipd', ...(await withCallee(port, s.sipPort, () => search(target, port, print('sipd')))) });
      } finally {
        await sipd?.stop();
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
    await stopAllKamailio();
    for (const t of dbs) await t.drop().catch(() => undefined);
  }

  const sipdBest = results.find((r) => r.name === 'sipd')?.best;
  const kams = results.filter((r) => r.name.startsWith('Kamailio'));
  const kamBest = kams.length > 0 ? Math.max(...kams.map((r) => r.best)) : undefined;
  let body = `${machineLine()}\n\n`;
  body += `INVITE (407, digest) → 180 → 200 → ACK → BYE per call, sipp caller on 127.0.0.1, callee on ${CALLEE_IP}, ${DURATION} s per step; pass = every call made, < 1% failed, sipp kept the pace. Command: \`node --import tsx bench/calls-bench.ts --duration ${DURATION} --start ${START} --bisect ${BISECT}\`.\n\n`;
  body += '| proxy | highest rate with < 1% failures |\n|---|---:|\n';
  for (const r of results) body += `| ${r.name} | ${r.best} calls/s |\n`;
  if (sipdBest !== undefined && kamBest !== undefined && kamBest > 0) {
    body += `\nRatio sipd / Kamailio (Kamailio's best configuration above): **${(sipdBest / kamBest).toFixed(2)}**`;
    for (const k of kams) if (k.best > 0) body += `; sipd / ${k.name}: ${(sipdBest / k.best).toFixed(2)}`;
    body += '\n';
  }
  for (const r of results) body += `\n${r.name} steps:\n\n${table(r.steps)}`;
  console.log('\n' + body);
  if (RECORD) appendResults('Calls per second through the proxy (sipd vs Kamailio 5.6)', body);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});

void openDatabase;
