/**
 * sipd --cluster: Redis commands per REGISTER and per call, counted with `INFO commandstats`
 * before and after each sipp run against a private redis-server; beside it, the same runs against
 * the same sipd build without --cluster (the reference: no Redis at all), so a success-count
 * difference would show a cost of cluster mode on the wire.
 *
 *   npm run bench -- cluster [--registers 200] [--calls 20] [--no-record]
 *
 * REGISTER: challenge + authenticated REGISTER (sipp register.xml), one binding written through
 * to SQLite and (cluster) to Redis. Call: INVITE with digest → 200 → ACK → BYE, the caller with an
 * active-call limit (dialog.max_calls_per_user 5), so admission and release are counted too.
 * Appends a table to bench/RESULTS.md ("## sipd cluster: Redis round trips").
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../src/core/db/database.js';
import { addSubscriber } from '../src/core/subscribers/subscribers.js';
import { scenario, settle, sipp } from '../test/daemon/calls-support.js';
import { freeSipPort, makeDb, startSipd } from '../test/daemon/sipd-process.js';
import { startRedis } from '../test/helpers/redis.js';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : def;
};
const REGISTERS = Number(arg('registers', '200'));
const CALLS = Number(arg('calls', '20'));
const PASSWORD = 'Tr0ub4dor-Horse-77';

const dir = mkdtempSync(join(tmpdir(), 'sipd-cluster-bench-'));
const redis = await startRedis(dir);
const counts = (): Record<string, number> => {
  const t = execFileSync('redis-cli', ['-p', String(redis.port), 'INFO', 'commandstats'], { encoding: 'utf8' });
  return Object.fromEntries([...t.matchAll(/cmdstat_([\w|]+):calls=(\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
};
/** Commands sipd sent between two snapshots (the bench's own INFO and the heartbeats' HSET excluded as noted). */
const delta = (a: Record<string, number>, b: Record<string, number>) => {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(b)) if (k !== 'info' && v - (a[k] ?? 0) > 0) out[k] = v - (a[k] ?? 0);
  return out;
};
/**
 * Round trips: commandstats also counts what runs inside a Lua script (TIME, ZADD, SET, HDEL,
 * PUBLISH…) and inside MULTI, so only the commands sipd sends at top level count: EVAL (admission,
 * counters, ban writes, and a call's owner record: written by one script, DLG_OWN, and removed
 * when the call ends by one script, DLG_END — the same round trips as the MULTI and the HDEL they
 * replaced), EXEC (a registration's MULTI block), HGETALL (a lookup), ZREM (a call's release),
 * MGET and SCAN (resynchronisation); a top-level HDEL would still count, but a call sends none now.
 * The heartbeat (HSET and HGETALL every 2 s, counted by cluster.stats) is left out.
 */
const TOP_LEVEL = ['eval', 'evalsha', 'exec', 'hgetall', 'hdel', 'zrem', 'mget', 'scan'];
const trips = (d: Record<string, number>) => Object.entries(d).reduce((n, [k, v]) => n + (TOP_LEVEL.includes(k) ? v : 0), 0) - (d.heartbeat_hgetall ?? 0);
/** heartbeats of the node so far (cluster.stats; each reads sipd:nodes with one HGETALL) */
const heartbeats = async (sipd: { rpc<T>(m: string): Promise<T> }, cluster: boolean) => (cluster ? (await sipd.rpc<{ heartbeats?: number }>('cluster.stats')).heartbeats ?? 0 : 0);

async function run(cluster: boolean) {
  const runDir = mkdtempSync(join(dir, cluster ? 'cluster-' : 'alone-'));
  const dbUrl = await makeDb(runDir);
  const db = await openDatabase(dbUrl);
  for (const u of ['alice', 'bob']) await addSubscriber(db, u, 'sip.test', PASSWORD, { hash: 'md5', storePlaintext: false });
  await db.close();
  const port = await freeSipPort();
  const sipd = await startSipd({
    dbUrl, sipPort: port, timeoutMs: 90_000,
    config: {
      ...(cluster ? { cluster: { url: `redis://127.0.0.1:${redis.port}/0`, node_id: 'bench', timeout_ms: 5000 } } : {}),
      modules: { 'auth-db': { realm: 'sip.test' }, scanner: { user_agents: ['friendly-scanner'] }, dialog: { max_calls_per_user: 5 } },
    },
  });
  try {
    const alicePort = await freeSipPort();
    const h0 = await heartbeats(sipd, cluster);
    const r0 = counts();
    const t0 = Date.now();
    const reg = await sipp({ scenario: scenario('register.xml', { USER: 'alice', EXPIRES: 300 }), remote: `127.0.0.1:${port}`, localPort: alicePort, user: 'alice', password: PASSWORD, calls: REGISTERS, rate: 50, timeoutMs: 120_000 }).done;
    const regMs = Date.now() - t0;
    const r1 = counts();
    const h1 = await heartbeats(sipd, cluster);
    const uas = sipp({ scenario: scenario('callee.xml'), localIp: '127.0.0.1', localPort: alicePort, calls: CALLS, timeoutMs: 120_000 });
    await settle();
    const h2 = await heartbeats(sipd, cluster);
    const c0 = counts();
    const call = await sipp({ scenario: scenario('caller.xml', { USER: 'bob', HOLD: 100 }), remote: `127.0.0.1:${port}`, localPort: await freeSipPort(), service: 'alice', user: 'bob', password: PASSWORD, calls: CALLS, rate: 5, timeoutMs: 120_000 }).done;
    await uas.done;
    const c1 = counts();
    const h3 = await heartbeats(sipd, cluster);
    // the heartbeat's HGETALL is not the REGISTER's or the call's (±1 at each edge of a run)
    const regCmds = { ...delta(r0, r1), ...(h1 > h0 ? { heartbeat_hgetall: h1 - h0 } : {}) };
    const callCmds = { ...delta(c0, c1), ...(h3 > h2 ? { heartbeat_hgetall: h3 - h2 } : {}) };
    return { reg, regMs, regCmds, call, callCmds };
  } finally {
    await sipd.stop();
  }
}

try {
  const alone = await run(false);
  const clustered = await run(true);
  const per = (d: Record<string, number>, n: number) => (n > 0 ? (trips(d) / n).toFixed(2) : 'n/a');
  const fmt = (d: Record<string, number>) => Object.entries(d).map(([k, v]) => `${k} ${v}`).join(', ');
  const rows = [
    `| | REGISTERs ok / failed | Redis round trips per REGISTER | calls ok / failed | Redis round trips per call |`,
    `|---|---|---|---|---|`,
    `| sipd alone (reference) | ${alone.reg.successful ?? 0} / ${alone.reg.failed ?? 0} | 0 | ${alone.call.successful ?? 0} / ${alone.call.failed ?? 0} | 0 |`,
    `| sipd --cluster | ${clustered.reg.successful ?? 0} / ${clustered.reg.failed ?? 0} | ${per(clustered.regCmds, clustered.reg.successful ?? 0)} | ${clustered.call.successful ?? 0} / ${clustered.call.failed ?? 0} | ${per(clustered.callCmds, clustered.call.successful ?? 0)} |`,
  ];
  const text = [
    '',
    `## sipd cluster: Redis round trips (${new Date().toISOString().slice(0, 10)})`,
    '',
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, load average ${execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).split(' ').slice(0, 3).join(' ')}; Node ${process.versions.node}; redis-server ${execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).match(/v=(\S+)/)?.[1] ?? '?'} (private, no persistence).`,
    `Command: \`${`node --import tsx bench/cluster-bench.ts ${process.argv.slice(2).join(' ')}`.trim()}\`; ${REGISTERS} REGISTERs at 50/s, ${CALLS} calls at 5/s (caller with an active-call limit).`,
    '',
    ...rows,
    '',
    `Commands counted (cluster): REGISTER run: ${fmt(clustered.regCmds)}; call run: ${fmt(clustered.callCmds)}. Round trips are the commands sipd sends at top level (${TOP_LEVEL.join(', ')}); the others ran inside a Lua script or a MULTI block, and the node heartbeat (one HSET and one HGETALL every 2 s; heartbeat_hgetall, from cluster.stats) is left out.`,
    '',
  ].join('\n');
  process.stdout.write(text);
  if (!process.argv.includes('--no-record')) appendFileSync(join(import.meta.dirname, 'RESULTS.md'), text);
} finally {
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
