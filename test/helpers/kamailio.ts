/**
 * Test harness: start REAL Kamailio instances for interop tests.
 *
 * Every instance gets its own temp dir (config, pid file, log, runtime dir,
 * FIFO, datagram socket, binrpc ctl socket) and its own SIP/HTTP ports, so
 * several instances can run at once (multi-node tests, concurrent test files)
 * without touching /run/kamailio or a system Kamailio.
 *
 * The config is generated from the project's lab config
 * (test/fixtures/kamailio/kamailio.cfg: Debian's stock kamailio.cfg plus the
 * defines and changes of test/fixtures/kamailio/lab/make_cfg.py) by exact,
 * checked substitutions: if the lab config drifts and a substitution no longer
 * matches, startKamailio() throws instead of silently running the wrong config.
 *
 * Usage with node:test:
 *   import { after } from 'node:test';
 *   after(stopAllKamailio);            // stops every instance this process started
 *   const k = await startKamailio({ dbUrl });
 *
 * Leftovers are also killed from a process 'exit'/signal handler, and instance
 * dirs whose owning test process died (e.g. SIGKILL) are reaped on the next start.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as http from 'node:http';
import * as net from 'node:net';
import * as dgram from 'node:dgram';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

// ---------------------------------------------------------------- paths

/** Repo root (this file is test/helpers/kamailio.ts). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The lab fixtures inside the repo: config, kamctlrc, sipp scenarios, recorded replies (see its README.md). */
export const LAB_DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'kamailio');
export const LAB_CFG = path.join(LAB_DIR, 'kamailio.cfg');
/** Kamailio's recorded replies (scripts/record-kamailio.sh rewrites them). */
export const LAB_RECORDED = path.join(LAB_DIR, 'recorded');

const KAMAILIO_BIN_CANDIDATES = ['/usr/sbin/kamailio', '/usr/local/sbin/kamailio'];
const KAMCMD_BIN_CANDIDATES = ['/usr/sbin/kamcmd', '/usr/local/sbin/kamcmd'];
const MODULE_DIR_CANDIDATES = [
  '/usr/lib/x86_64-linux-gnu/kamailio/modules',
  '/usr/lib/aarch64-linux-gnu/kamailio/modules',
  '/usr/lib64/kamailio/modules',
  '/usr/lib/kamailio/modules',
  '/usr/local/lib64/kamailio/modules',
  '/usr/local/lib/kamailio/modules',
];
const SCHEMA_DIR_CANDIDATES = ['/usr/share/kamailio', '/usr/local/share/kamailio'];

/** Modules the lab config loads (with its defines) plus the SQLite driver. */
const REQUIRED_MODULES = [
  'db_mysql', 'db_sqlite', 'xhttp', 'jsonrpcs', 'kex', 'corex', 'tm', 'tmx', 'sl', 'rr', 'pv',
  'maxfwd', 'usrloc', 'registrar', 'textops', 'textopsx', 'siputils', 'xlog', 'sanity', 'ctl',
  'cfg_rpc', 'acc', 'counters', 'auth', 'auth_db', 'permissions', 'htable', 'pike',
];

/** The schema modules the lab config needs, in `kamdbctl create` order. */
export const LAB_SCHEMA_MODULES = ['standard', 'permissions', 'registrar', 'usrloc', 'auth_db', 'htable'];

function firstExisting(candidates: string[]): string | undefined {
  return candidates.find((p) => fs.existsSync(p));
}

export function kamailioBinary(): string | undefined {
  return process.env.SIPCTL_KAMAILIO_BIN ?? firstExisting(KAMAILIO_BIN_CANDIDATES);
}

export function kamcmdBinary(): string | undefined {
  return process.env.SIPCTL_KAMCMD_BIN ?? firstExisting(KAMCMD_BIN_CANDIDATES);
}

function moduleDir(): string | undefined {
  return firstExisting(MODULE_DIR_CANDIDATES.filter((d) => fs.existsSync(path.join(d, 'tm.so'))));
}

/** Why Kamailio cannot be used here, or undefined when it can. */
export function kamailioMissing(): string | undefined {
  const bin = kamailioBinary();
  if (!bin) return 'kamailio binary not installed (apt-get install kamailio ...)';
  if (!kamcmdBinary()) return 'kamcmd not installed (package kamailio)';
  const mdir = moduleDir();
  if (!mdir) return 'kamailio module directory not found';
  const missing = REQUIRED_MODULES.filter((m) => !fs.existsSync(path.join(mdir, `${m}.so`)));
  if (missing.length) return `kamailio modules missing in ${mdir}: ${missing.join(', ')}`;
  if (!fs.existsSync(LAB_CFG)) return `lab config not found: ${LAB_CFG}`;
  if (!firstExisting(SCHEMA_DIR_CANDIDATES.map((d) => path.join(d, 'mysql', 'standard-create.sql'))))
    return 'kamailio schema scripts not found (/usr/share/kamailio/mysql)';
  return undefined;
}

/** Binary + every module the lab config needs (and db_sqlite) are present. */
export function kamailioAvailable(): boolean {
  return kamailioMissing() === undefined;
}

// ---------------------------------------------------------------- schema

/**
 * The official Kamailio create scripts for `modules`, concatenated in order,
 * exactly what `kamdbctl create` feeds to the database. 'standard' (the
 * `version` table) is prepended when missing since every other script inserts
 * into it.
 */
export async function kamailioSchemaSql(engine: 'mysql' | 'sqlite', modules: string[]): Promise<string> {
  const sub = engine === 'mysql' ? 'mysql' : 'db_sqlite';
  const base = firstExisting(SCHEMA_DIR_CANDIDATES.map((d) => path.join(d, sub)));
  if (!base) throw new Error(`Kamailio ${engine} schema directory not found (looked in ${SCHEMA_DIR_CANDIDATES.join(', ')})`);
  const list = modules.includes('standard') ? [...modules] : ['standard', ...modules];
  const seen = new Set<string>();
  const parts: string[] = [];
  for (const m of list) {
    if (seen.has(m)) continue;
    seen.add(m);
    if (!/^[a-z0-9_]+$/.test(m)) throw new Error(`bad schema module name: ${m}`);
    const file = path.join(base, `${m}-create.sql`);
    let sql: string;
    try {
      sql = await fsp.readFile(file, 'utf8');
    } catch {
      throw new Error(`no Kamailio ${engine} schema for module '${m}' (${file})`);
    }
    parts.push(`-- ${m}-create.sql\n${sql.trim()}\n`);
  }
  return parts.join('\n');
}

// ---------------------------------------------------------------- ports

function canBindTcp(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

function canBindUdp(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    sock.once('error', () => {
      sock.close();
      resolve(false);
    });
    sock.bind({ address: host, port, exclusive: true }, () => sock.close(() => resolve(true)));
  });
}

const handedOutPorts = new Set<number>();

/**
 * A port that is currently free for both UDP and TCP on `host`. Chosen at
 * random below the kernel's ephemeral range (32768+) so it does not collide
 * with outgoing client sockets; ports already handed out by this process are
 * never reused. Another process may still grab it before it is bound:
 * startKamailio() retries with fresh ports when the bind fails.
 */
export async function findFreePort(host = '127.0.0.1', opts: { udp?: boolean; tcp?: boolean } = {}): Promise<number> {
  const udp = opts.udp ?? true;
  const tcp = opts.tcp ?? true;
  for (let i = 0; i < 200; i++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (handedOutPorts.has(port)) continue;
    if (tcp && !(await canBindTcp(host, port))) continue;
    if (udp && !(await canBindUdp(host, port))) continue;
    handedOutPorts.add(port);
    return port;
  }
  throw new Error(`no free port found on ${host}`);
}

// ---------------------------------------------------------------- config

export interface KamailioOptions {
  /** 'mysql://user:pass@127.0.0.1:3306/db' or 'sqlite:///abs/path.db' */
  dbUrl: string;
  /** SIP domain served (default: listenIp). Added as an alias when it differs from listenIp. */
  domain?: string;
  /** UDP+TCP SIP port (default: a free one). */
  sipPort?: number;
  /** TCP port for JSON-RPC over HTTP (default: a free one). */
  httpPort?: number;
  /** default 127.0.0.1 */
  listenIp?: string;
  /**
   * SIP worker processes per socket. Default 2 instead of the lab's 8: an
   * instance then holds ~12 MariaDB connections instead of ~24 (max_connections
   * is 151), so many instances can run at once. Pass 8 for lab parity.
   */
  children?: number;
  /** Readiness timeout in ms (default 15000). */
  readyTimeoutMs?: number;
  /** Extra lines appended to the global section (after the listen sockets). */
  extraGlobals?: string[];
  /** Config file to derive from (default: the lab config). */
  cfgPath?: string;
  /**
   * 'plaintext' (the lab's and stock config's default: auth_db computes ha1 from subscriber.password)
   * or 'ha1' (calculate_ha1 0, password_column ha1: what a deployment without stored passwords uses).
   */
  authMode?: 'plaintext' | 'ha1';
  /**
   * Extra module-section lines (loadmodule/modparam), inserted after the lab's own modparams and
   * before the routing logic, so they may also set parameters of modules the lab loads
   * (e.g. permissions). See test/helpers/kamailio-modules.ts for the issue-12 set.
   */
  extraModules?: string[];
}

/** Put `lines` at the end of the module section of a generated config. */
export function withExtraModules(cfg: string, lines: string[] | undefined): string {
  if (!lines || lines.length === 0) return cfg;
  return replaceOnce(cfg, '####### Routing Logic ########', `${lines.join('\n')}\n\n####### Routing Logic ########`, 'routing logic marker');
}

interface BuildCfgParams {
  dbUrl: string;
  engine: 'mysql' | 'sqlite';
  listenIp: string;
  domain: string;
  sipPort: number;
  httpPort: number;
  fifoPath: string;
  dgramPath: string;
  ctlPath: string;
  children?: number;
  extraGlobals?: string[];
}

/** Replace exactly one occurrence of `from` (string or regex) or throw. */
function replaceOnce(cfg: string, from: string | RegExp, to: string, what: string): string {
  if (typeof from === 'string') {
    const i = cfg.indexOf(from);
    if (i < 0 || cfg.indexOf(from, i + 1) >= 0)
      throw new Error(`lab kamailio.cfg changed: expected exactly one '${from}' (${what})`);
    return cfg.slice(0, i) + to + cfg.slice(i + from.length);
  }
  const g = new RegExp(from.source, from.flags.includes('g') ? from.flags : from.flags + 'g');
  const n = [...cfg.matchAll(g)].length;
  if (n !== 1) throw new Error(`lab kamailio.cfg changed: expected exactly one match of ${from} (${what}), found ${n}`);
  return cfg.replace(from, to);
}

function cfgString(s: string, what: string): string {
  if (/["\n\r\\]/.test(s)) throw new Error(`${what} must not contain quotes, backslashes or newlines: ${s}`);
  return s;
}

/** auth_db reads the precomputed ha1 column instead of hashing the plaintext password. */
export function useHa1Column(cfg: string): string {
  let out = replaceOnce(cfg, 'modparam("auth_db", "calculate_ha1", yes)', 'modparam("auth_db", "calculate_ha1", 0)', 'auth_db calculate_ha1');
  out = replaceOnce(out, 'modparam("auth_db", "password_column", "password")', 'modparam("auth_db", "password_column", "ha1")', 'auth_db password_column');
  return out;
}

/** Generate the per-instance config from the lab config text. Exported for unit checks. */
export function buildKamailioCfg(labCfg: string, p: BuildCfgParams): string {
  let cfg = labCfg;
  const ip = p.listenIp.includes(':') ? `[${p.listenIp}]` : p.listenIp;
  // listen sockets
  cfg = replaceOnce(
    cfg,
    /^listen=udp:127\.0\.0\.1:5060\nlisten=tcp:127\.0\.0\.1:5060\n(\/\*[^\n]*\*\/\n)?listen=tcp:127\.0\.0\.1:5071$/m,
    [
      `listen=udp:${ip}:${p.sipPort}`,
      `listen=tcp:${ip}:${p.sipPort}`,
      '/* HTTP (JSON-RPC via xhttp) socket */',
      `listen=tcp:${ip}:${p.httpPort}`,
      // `myself` is port-aware: without a port-less alias a request for
      // sip:DOMAIN (implicit :5060) is "Not relaying" on a non-5060 port
      `alias="${cfgString(p.domain, 'domain')}"`,
      ...(p.extraGlobals ?? []),
    ].join('\n'),
    'listen sockets',
  );
  // xhttp only on the HTTP port
  cfg = replaceOnce(cfg, '$Rp != 5071', `$Rp != ${p.httpPort}`, 'xhttp port check');
  if (p.listenIp !== '127.0.0.1') {
    cfg = replaceOnce(cfg, 'if(src_ip!=127.0.0.1) {', `if(src_ip!=127.0.0.1 && src_ip!=${ip}) {`, 'xhttp source check');
  }
  // logs go to stderr (-E), which we redirect to the instance log file
  cfg = replaceOnce(cfg, /^log_stderror=no$/m, 'log_stderror=yes', 'log_stderror');
  if (p.children !== undefined) {
    cfg = replaceOnce(cfg, /^children=\d+$/m, `children=${p.children}`, 'children');
  }
  // database
  cfg = replaceOnce(
    cfg,
    /^#!trydef DBURL "[^"\n]*"$/m,
    `#!define DBURL "${cfgString(p.dbUrl, 'dbUrl')}"`,
    'DBURL',
  );
  if (p.engine === 'sqlite') {
    cfg = replaceOnce(cfg, 'loadmodule "db_mysql.so"', 'loadmodule "db_sqlite.so"', 'db module');
  }
  // control sockets inside the instance dir
  cfg = replaceOnce(
    cfg,
    'modparam("jsonrpcs", "fifo_name", "/run/kamailio/kamailio_rpc.fifo")',
    `modparam("jsonrpcs", "fifo_name", "${cfgString(p.fifoPath, 'fifo path')}")`,
    'jsonrpcs fifo_name',
  );
  cfg = replaceOnce(
    cfg,
    'modparam("jsonrpcs", "dgram_socket", "/run/kamailio/kamailio_rpc.sock")',
    `modparam("jsonrpcs", "dgram_socket", "${cfgString(p.dgramPath, 'dgram path')}")`,
    'jsonrpcs dgram_socket',
  );
  cfg = replaceOnce(
    cfg,
    'modparam("ctl", "binrpc", "unix:/run/kamailio/kamailio_ctl")',
    `modparam("ctl", "binrpc", "unix:${cfgString(p.ctlPath, 'ctl path')}")`,
    'ctl binrpc',
  );
  if (cfg.includes('/run/kamailio/')) {
    throw new Error('generated kamailio.cfg still references /run/kamailio/ (lab config changed?)');
  }
  return cfg;
}

function engineOf(dbUrl: string): 'mysql' | 'sqlite' {
  if (dbUrl.startsWith('mysql://')) return 'mysql';
  if (dbUrl.startsWith('sqlite://')) {
    // db_sqlite 5.6 hands everything after "sqlite://" (minus the leading
    // "/host" part parsing) to sqlite3_open; an absolute file path needs the
    // three-slash form sqlite:///abs/path.db
    const file = dbUrl.slice('sqlite://'.length);
    if (!file.startsWith('/')) throw new Error(`sqlite dbUrl must be sqlite:///absolute/path.db, got ${dbUrl}`);
    return 'sqlite';
  }
  throw new Error(`unsupported dbUrl (want mysql:// or sqlite:///): ${dbUrl}`);
}

// ---------------------------------------------------------------- instances

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface KamailioInstance {
  sipPort: number;
  httpPort: number;
  listenIp: string;
  domain: string;
  /** http://IP:PORT/RPC */
  rpcUrl: string;
  /** JSON-RPC FIFO (kamctl's transport) */
  fifoPath: string;
  /** JSON-RPC datagram unix socket (kamcmd -j / jsonrpcs dgram) */
  dgramPath: string;
  /** binrpc unix socket file path (for kamcmd use ctlAddress) */
  ctlPath: string;
  /** 'unix:' + ctlPath, as given to `kamcmd -s` */
  ctlAddress: string;
  dir: string;
  cfgPath: string;
  logFile: string;
  pid: number;
  dbUrl: string;
  /** ms from spawn to the first successful core.uptime */
  startupMs: number;
  /** One JSON-RPC 2.0 call over HTTP; resolves to the parsed response body (result or error). */
  rpc(method: string, params?: unknown[] | Record<string, unknown>, timeoutMs?: number): Promise<JsonRpcResponse>;
  kamcmd(...args: string[]): Promise<ExecResult>;
  /** Last `lines` lines of the Kamailio log. */
  logTail(lines?: number): string;
  stop(): Promise<void>;
}

export interface JsonRpcResponse {
  jsonrpc?: string;
  id?: unknown;
  result?: any;
  error?: { code: number; message: string; data?: unknown };
  /** HTTP status line code */
  httpStatus: number;
}

const INSTANCE_PREFIX = 'sipctl-kam-';
const live = new Map<number, { child: ChildProcess; dir: string; stop: () => Promise<void> }>();
let hooksInstalled = false;

/** Signal process group `pid` (Kamailio main + its children) and, unless it already exited, the leader itself. */
function killGroupSync(pid: number, sig: NodeJS.Signals, leaderRunning = true): void {
  try {
    process.kill(-pid, sig);
  } catch {
    /* already gone */
  }
  if (!leaderRunning) return;
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

function emergencyCleanup(): void {
  for (const [pid, inst] of live) {
    killGroupSync(pid, 'SIGKILL', inst.child.exitCode === null && inst.child.signalCode === null);
    if (!process.env.SIPCTL_KEEP_KAMAILIO) {
      try {
        fs.rmSync(inst.dir, { recursive: true, force: true });
      } catch {
        /* ignore */
      }
    }
  }
  live.clear();
  for (const db of liveDbs.values()) db.dropSync();
  liveDbs.clear();
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', emergencyCleanup);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = () => {
      emergencyCleanup();
      process.removeListener(sig, handler);
      // re-raise with the default disposition so the exit status is right
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, handler);
  }
}

/** Process exists and is not a zombie (a SIGKILLed test process can linger as one). */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no procfs: trust kill(0)
  }
}

/**
 * Kill Kamailio instances left behind by test processes that died without
 * cleaning up (SIGKILL, crash). Only touches dirs with our prefix whose
 * recorded owner process is gone, and only a Kamailio whose command line
 * still names that dir's config.
 */
function reapStale(): void {
  const tmp = os.tmpdir();
  let entries: string[];
  try {
    entries = fs.readdirSync(tmp).filter((e) => e.startsWith(INSTANCE_PREFIX));
  } catch {
    return;
  }
  for (const e of entries) {
    const dir = path.join(tmp, e);
    try {
      const owner = Number(fs.readFileSync(path.join(dir, 'owner.pid'), 'utf8'));
      if (!owner || owner === process.pid || pidAlive(owner)) continue;
      const kpid = Number(fs.readFileSync(path.join(dir, 'kamailio.child.pid'), 'utf8'));
      const cfg = path.join(dir, 'kamailio.cfg');
      // main process and workers (also orphaned ones) of that instance, by pid
      for (const p of liveGroupMembers(kpid)) {
        try {
          if (fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(cfg)) process.kill(p, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      /* not ours / half-written: leave it */
    }
  }
}

function tailFile(file: string, lines = 40): string {
  try {
    const txt = fs.readFileSync(file, 'utf8');
    return txt.split('\n').slice(-lines - 1).join('\n');
  } catch {
    return '(no log)';
  }
}

function run(cmd: string, args: string[], timeoutMs: number, input?: string): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.stdin!.on('error', () => {});
    child.stdin!.end(input ?? '');
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${timeoutMs} ms timeout]`;
      if (child.pid) killGroupSync(child.pid, 'SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ stdout, stderr: stderr + String(err), code: 127 });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code: code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1) });
    });
  });
}

async function httpRpc(
  url: string,
  method: string,
  params: unknown[] | Record<string, unknown> | undefined,
  timeoutMs: number,
): Promise<JsonRpcResponse> {
  const body: Record<string, unknown> = { jsonrpc: '2.0', method, id: 1 };
  if (params !== undefined) body.params = params;
  const payload = JSON.stringify(body);
  // One fresh connection per call (agent: false, Connection: close). fetch() pools
  // keep-alive sockets, and the lab cfg's xhttp route closes each connection after its
  // reply, so a pooled socket could be reused just as Kamailio closed it ("other side
  // closed") — a race in the helper, not a finding about the proxy.
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'application/json', connection: 'close', 'content-length': Buffer.byteLength(payload) },
      timeout: timeoutMs,
    });
    req.on('timeout', () => req.destroy(new Error(`no reply from ${url} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.end(payload);
  });
  let parsed: any;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`non-JSON reply from ${url} (HTTP ${status}): ${text.slice(0, 200)}`);
  }
  return { ...parsed, httpStatus: status };
}

class BindError extends Error {}

/**
 * Start one Kamailio from the lab config with per-instance ports, sockets and
 * database. Resolves once JSON-RPC `core.uptime` answers over HTTP.
 */
export async function startKamailio(opts: KamailioOptions): Promise<KamailioInstance> {
  const why = kamailioMissing();
  if (why) throw new Error(why);
  installHooks();
  reapStale();
  const autoPorts = opts.sipPort === undefined || opts.httpPort === undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (e) {
      // an auto-picked port was taken between probing and binding: retry
      if (e instanceof BindError && autoPorts && attempt < 4) continue;
      throw e;
    }
  }
}

async function startOnce(opts: KamailioOptions): Promise<KamailioInstance> {
  const bin = kamailioBinary()!;
  const listenIp = opts.listenIp ?? '127.0.0.1';
  const domain = opts.domain ?? listenIp;
  const engine = engineOf(opts.dbUrl);
  const sipPort = opts.sipPort ?? (await findFreePort(listenIp));
  const httpPort = opts.httpPort ?? (await findFreePort(listenIp, { udp: false }));
  if (sipPort === httpPort) throw new Error('sipPort and httpPort must differ');

  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), INSTANCE_PREFIX));
  const runDir = path.join(dir, 'run');
  await fsp.mkdir(runDir);
  await fsp.writeFile(path.join(dir, 'owner.pid'), String(process.pid));
  const cfgPath = path.join(dir, 'kamailio.cfg');
  const logFile = path.join(dir, 'kamailio.log');
  const pidFile = path.join(dir, 'kamailio.pid');
  const fifoPath = path.join(dir, 'kamailio_rpc.fifo');
  const dgramPath = path.join(dir, 'kamailio_rpc.sock');
  const ctlPath = path.join(dir, 'kamailio_ctl');
  const rpcUrl = `http://${listenIp.includes(':') ? `[${listenIp}]` : listenIp}:${httpPort}/RPC`;

  const removeDir = async () => {
    if (!process.env.SIPCTL_KEEP_KAMAILIO) await fsp.rm(dir, { recursive: true, force: true });
  };

  try {
    const labCfg = await fsp.readFile(opts.cfgPath ?? LAB_CFG, 'utf8');
    const cfg = buildKamailioCfg(labCfg, {
      dbUrl: opts.dbUrl,
      engine,
      listenIp,
      domain,
      sipPort,
      httpPort,
      fifoPath,
      dgramPath,
      ctlPath,
      children: opts.children ?? 2,
      extraGlobals: opts.extraGlobals,
    });
    await fsp.writeFile(cfgPath, withExtraModules(opts.authMode === 'ha1' ? useHa1Column(cfg) : cfg, opts.extraModules));

    // 1. syntax/semantic check first, with its own output on failure
    const check = await run(bin, ['-c', '-f', cfgPath, '-Y', runDir, '-L', moduleDir()!], 20000);
    if (check.code !== 0) {
      throw new Error(
        `kamailio -c rejected the generated config ${cfgPath} (exit ${check.code}):\n${(check.stderr + check.stdout).trim()}`,
      );
    }
  } catch (e) {
    await removeDir();
    throw e;
  }

  // 2. start in the foreground (-DD), logging to stderr (-E) -> log file
  const logFd = fs.openSync(logFile, 'a');
  const t0 = Date.now();
  const child = spawn(
    bin,
    ['-f', cfgPath, '-DD', '-E', '-m', '64', '-M', '8', '-P', pidFile, '-Y', runDir, '-L', moduleDir()!],
    { cwd: dir, detached: true, stdio: ['ignore', logFd, logFd] },
  );
  fs.closeSync(logFd);
  // a forgotten instance must not keep the test process alive: the 'exit'
  // handler kills it when the process ends
  child.unref();
  const pid = child.pid;
  if (!pid) {
    await removeDir();
    throw new Error(`failed to spawn ${bin}`);
  }
  await fsp.writeFile(path.join(dir, 'kamailio.child.pid'), String(pid));

  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
  });
  child.once('error', () => {});

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (!exited) {
        killGroupSync(pid, 'SIGTERM');
        if (!(await within(exitPromise, 5000))) {
          killGroupSync(pid, 'SIGKILL');
          await within(exitPromise, 2000);
        }
      }
      // children of the main process may outlive it briefly
      for (let i = 0; i < 20 && processGroupAlive(pid); i++) await sleep(100);
      if (processGroupAlive(pid)) killGroupSync(pid, 'SIGKILL');
      live.delete(pid);
      await removeDir();
    })();
    return stopping;
  };
  live.set(pid, { child, dir, stop });

  // 3. readiness: JSON-RPC core.uptime over HTTP
  const readyTimeout = opts.readyTimeoutMs ?? 15000;
  const deadline = t0 + readyTimeout;
  let lastErr = '';
  let startupMs = -1;
  while (Date.now() < deadline) {
    if (exited) break;
    try {
      const r = await httpRpc(rpcUrl, 'core.uptime', undefined, 1000);
      if (r.result && typeof r.result.uptime === 'number') {
        startupMs = Date.now() - t0;
        break;
      }
      lastErr = JSON.stringify(r);
    } catch (e) {
      lastErr = String((e as Error).cause ?? e);
    }
    await sleep(50);
  }
  if (startupMs < 0) {
    const log = tailFile(logFile, 60);
    const exitInfo = exited ? `kamailio exited (code ${exited.code}, signal ${exited.signal})` : `no answer within ${readyTimeout} ms`;
    await stop();
    const msg = `Kamailio did not become ready on ${rpcUrl}: ${exitInfo}; last error: ${lastErr}\n--- log tail (${logFile}) ---\n${log}`;
    if (/Address already in use|bind\(.*\) failed|cannot bind/i.test(log)) throw new BindError(msg);
    throw new Error(msg);
  }

  return {
    sipPort,
    httpPort,
    listenIp,
    domain,
    rpcUrl,
    fifoPath,
    dgramPath,
    ctlPath,
    ctlAddress: `unix:${ctlPath}`,
    dir,
    cfgPath,
    logFile,
    pid,
    dbUrl: opts.dbUrl,
    startupMs,
    rpc: (method, params, timeoutMs = 5000) => httpRpc(rpcUrl, method, params, timeoutMs),
    kamcmd: (...args: string[]) => run(kamcmdBinary()!, ['-s', `unix:${ctlPath}`, ...args], 10000),
    logTail: (lines = 40) => tailFile(logFile, lines),
    stop,
  };
}

/**
 * Any non-zombie process left in process group `pgid`? Zombies count as gone
 * (they hold no ports or sockets; in containers whose PID 1 does not reap,
 * orphaned Kamailio children can stay zombies forever).
 */
export function processGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (!fs.existsSync('/proc/self/stat')) return true; // no procfs: trust kill(0)
  return liveGroupMembers(pgid).length > 0;
}

/** Non-zombie pids in process group `pgid` (Linux /proc). */
function liveGroupMembers(pgid: number): number[] {
  if (!pgid) return [];
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const p of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      // pid (comm) state ppid pgrp ...
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) === pgid && f[0] !== 'Z') out.push(Number(p));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** true if `p` settles within `ms` (the timer is cleared, so it never keeps the process alive). */
function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    p.then(
      () => {
        clearTimeout(t);
        resolve(true);
      },
      () => {
        clearTimeout(t);
        resolve(true);
      },
    );
  });
}

/** Stop every Kamailio this process started. Use as `after(stopAllKamailio)`. */
export async function stopAllKamailio(): Promise<void> {
  await Promise.all([...live.values()].map((i) => i.stop()));
}

/** Number of instances this process currently has running (for leak checks). */
export function liveKamailioCount(): number {
  return live.size;
}

// ---------------------------------------------------------------- MariaDB

export interface MysqlTestDatabase {
  name: string;
  user: string;
  password: string;
  /** mysql://user:pass@127.0.0.1:3306/name (what Kamailio's DBURL and sipctl get) */
  url: string;
  drop(): Promise<void>;
}

const liveDbs = new Map<string, { dropSync(): void }>();

/** Admin connection options: env SIPCTL_TEST_MYSQL_ADMIN_URL, else root over the unix socket / 127.0.0.1. */
function adminConnOptions(): Record<string, unknown> {
  const env = process.env.SIPCTL_TEST_MYSQL_ADMIN_URL;
  if (env) {
    const u = new URL(env);
    return {
      host: u.hostname,
      port: Number(u.port || 3306),
      user: decodeURIComponent(u.username),
      password: decodeURIComponent(u.password),
    };
  }
  const sock = ['/run/mysqld/mysqld.sock', '/var/run/mysqld/mysqld.sock', '/tmp/mysql.sock'].find((s) => fs.existsSync(s));
  return sock ? { socketPath: sock, user: 'root', password: '' } : { host: '127.0.0.1', port: 3306, user: 'root', password: '' };
}

export const MYSQL_HOST = '127.0.0.1';
export const MYSQL_PORT = 3306;

/**
 * A fresh MariaDB database (latin1, like `kamdbctl create` with the lab
 * kamctlrc) plus a dedicated user with a random password that has ALL on it,
 * so DB URLs carry credentials like a real deployment. drop() removes both.
 */
export async function createMysqlTestDatabase(prefix: string): Promise<MysqlTestDatabase> {
  const mysql = await import('mysql2/promise');
  const clean = prefix.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 24) || 'test';
  const rnd = randomBytes(4).toString('hex');
  const name = `${clean}_${process.pid}_${rnd}`;
  const user = `st_${rnd}${randomBytes(2).toString('hex')}`;
  const password = randomBytes(12).toString('hex');
  const hosts = ['localhost', '127.0.0.1'];
  const admin = await mysql.createConnection(adminConnOptions());
  try {
    await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET latin1`);
    for (const h of hosts) {
      await admin.query(`CREATE USER ?@? IDENTIFIED BY ?`, [user, h, password]);
      await admin.query(`GRANT ALL PRIVILEGES ON \`${name}\`.* TO ?@?`, [user, h]);
    }
  } catch (e) {
    await admin.query(`DROP DATABASE IF EXISTS \`${name}\``).catch(() => {});
    for (const h of hosts) await admin.query(`DROP USER IF EXISTS ?@?`, [user, h]).catch(() => {});
    throw e;
  } finally {
    await admin.end();
  }
  const dropSql = `DROP DATABASE IF EXISTS \`${name}\`; ${hosts.map((h) => `DROP USER IF EXISTS '${user}'@'${h}';`).join(' ')}`;
  const entry = {
    dropSync() {
      // last resort from the exit handler (sync): the mysql CLI as root
      spawnSync('mysql', ['-uroot', '-e', dropSql], { stdio: 'ignore', timeout: 5000 });
    },
  };
  liveDbs.set(name, entry);
  installHooks();
  let dropped: Promise<void> | undefined;
  return {
    name,
    user,
    password,
    url: `mysql://${user}:${password}@${MYSQL_HOST}:${MYSQL_PORT}/${name}`,
    drop() {
      dropped ??= (async () => {
        const c = await mysql.createConnection({ ...adminConnOptions(), multipleStatements: true });
        try {
          await c.query(dropSql);
        } finally {
          await c.end();
          liveDbs.delete(name);
        }
      })();
      return dropped;
    },
  };
}

// ---------------------------------------------------------------- subscribers

export function md5hex(s: string): string {
  return createHash('md5').update(s).digest('hex');
}

/** Digest hashes as kamctl/auth_db compute them. */
export function subscriberHashes(user: string, domain: string, password: string): { ha1: string; ha1b: string } {
  return {
    ha1: md5hex(`${user}:${domain}:${password}`),
    ha1b: md5hex(`${user}@${domain}:${domain}:${password}`),
  };
}
