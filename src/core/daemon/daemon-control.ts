/**
 * `sipctl daemon start|stop|status|logs`: run sipd in the background and look after it.
 *
 * Files in the state directory (sipd's --state-dir):
 *   sipd.pid           written by sipd itself at start (it also locks the directory), removed at stop
 *   sipd.runtime.json  what sipd bound (SIP sockets, RPC endpoints, with ports resolved), removed at stop
 *   sipd.log           sipd's stdout and stderr (JSON lines), appended to across starts
 *
 * start: refuses when a sipd already runs there; picks free ports when the defaults (5060,
 * 5071) are taken and no address was configured, and says so; spawns `node bin/sipd.js`
 * (with SIPD_NODE_FLAGS, as the sipd command's shebang gives them)
 * detached with its output in the log; waits until JSON-RPC core.uptime answers — or fails
 * with the end of the log when sipd exits or does not answer in time.
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, readSync, fstatSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { packageFile } from '../package-root.js';
import { ConflictError, NotFoundError, SipctlError } from '../errors.js';
import { createRpcClient } from '../rpc/client.js';
import { LOG_FILE, PID_FILE, RUNTIME_FILE, SOCKET_NAME, pidAlive, type RuntimeInfo } from './files.js';
import { SIPD_NODE_FLAGS } from './node-flags.js';

export { defaultStateDir } from './files.js';
export type { RuntimeInfo } from './files.js';

export const DEFAULT_SIP_PORT = 5060;
export const DEFAULT_RPC_PORT = 5071;

export interface DaemonPaths {
  stateDir: string;
  pidFile: string;
  runtimeFile: string;
  logFile: string;
}

export function daemonPaths(stateDir: string): DaemonPaths {
  return { stateDir, pidFile: join(stateDir, PID_FILE), runtimeFile: join(stateDir, RUNTIME_FILE), logFile: join(stateDir, LOG_FILE) };
}

/** bin/sipd.js of this installation (from src/, dist/ and the CLI bundle alike). */
export function sipdBin(): string {
  return packageFile('bin', 'sipd.js');
}

/**
 * The pid in the pid file when that process is alive and is a sipd; undefined otherwise. A pid
 * file that is there but cannot be read (another user's state dir) is an error, not 'not running':
 * status would say stopped of a running sipd, and start would try a second one.
 */
export function runningPid(paths: DaemonPaths): number | undefined {
  let text: string;
  try {
    text = readFileSync(paths.pidFile, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new SipctlError('DAEMON_STATE_UNREADABLE', `cannot read sipd's pid file ${paths.pidFile} (${code ?? (e as Error).message})`, { category: 'config', hint: 'run sipctl as the user that started sipd, or give its --state-dir', cause: e });
  }
  const pid = Number(text.trim());
  if (!Number.isSafeInteger(pid) || pid <= 0 || !pidAlive(pid)) return undefined;
  // A recycled pid must never be signalled: check it is a sipd (Linux /proc; elsewhere trust the file).
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!cmdline.includes('sipd')) return undefined;
  } catch {
    /* no /proc: keep the pid */
  }
  return pid;
}

export function readRuntime(paths: DaemonPaths): RuntimeInfo | undefined {
  try {
    return JSON.parse(readFileSync(paths.runtimeFile, 'utf8')) as RuntimeInfo;
  } catch {
    return undefined;
  }
}

/** The last `lines` lines of the log (all when 0), read from the end: a big log is never read whole. */
export function logTail(logFile: string, lines: number): string {
  let fd: number;
  try {
    fd = openSync(logFile, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw e;
  }
  try {
    const size = fstatSync(fd).size;
    if (lines <= 0) {
      const buf = Buffer.alloc(size);
      readSync(fd, buf, 0, size, 0);
      return buf.toString('utf8');
    }
    let pos = size;
    let chunks: Buffer[] = [];
    let newlines = 0;
    while (pos > 0 && newlines <= lines) {
      const n = Math.min(65536, pos);
      pos -= n;
      const b = Buffer.alloc(n);
      readSync(fd, b, 0, n, pos);
      chunks = [b, ...chunks];
      for (const c of b) if (c === 0x0a) newlines++;
    }
    const text = Buffer.concat(chunks).toString('utf8');
    const all = text.split('\n');
    const trailing = all.at(-1) === '' ? all.pop() : undefined;
    return all.slice(-lines).join('\n') + (trailing === '' ? '\n' : '');
  } finally {
    closeSync(fd);
  }
}

/** Bytes of a file from `start` on (at most the last `max`), as text. */
function readFrom(file: string, start: number, max: number): string {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return '';
  }
  try {
    const size = fstatSync(fd).size;
    const from = Math.max(start, size - max);
    if (size <= from) return '';
    const buf = Buffer.alloc(size - from);
    readSync(fd, buf, 0, buf.length, from);
    return buf.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** Can `port` be bound on `host` right now (TCP)? */
export function canBindTcp(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ host, port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** Can `port` be bound on `host` right now (UDP)? */
export function canBindUdp(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind({ address: host, port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/**
 * `preferred` when it is free (TCP, and UDP too for a SIP port), else the first free port after
 * it within 200, else a random free one from the kernel.
 */
export async function pickPort(host: string, preferred: number, opts: { udp: boolean }): Promise<number> {
  const free = async (p: number) => (await canBindTcp(host, p)) && (!opts.udp || (await canBindUdp(host, p)));
  for (let p = preferred; p < preferred + 200 && p <= 65535; p++) if (await free(p)) return p;
  for (let i = 0; i < 50; i++) {
    const p = await new Promise<number>((resolve) => {
      const s = net.createServer();
      s.listen({ host, port: 0 }, () => {
        const port = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(port));
      });
    });
    if (await free(p)) return p;
  }
  throw new SipctlError('DAEMON_NO_PORT', `no free port on ${host}`, { category: 'connection' });
}

export interface StartOptions {
  stateDir: string;
  /** sipd's own config file (--config of sipd) */
  sipdConfig?: string;
  db?: string;
  listen?: string[];
  rpcListen?: string[];
  domain?: string[];
  /** environment for sipd (SIPCTL_DB, SIPCTL_CONFIG… travel through it) */
  env?: NodeJS.ProcessEnv;
  /** ms to wait for core.uptime; default 15000 */
  timeoutMs?: number;
  /** node binary and bin/sipd.js (tests) */
  node?: string;
  bin?: string;
}

export interface StartResult {
  pid: number;
  listen: string[];
  rpc: string[];
  stateDir: string;
  logFile: string;
  version: string;
  /** what start decided on its own (ports moved because the defaults were taken) */
  notes: string[];
}

/** Does sipd's config file set `key`? (A file we cannot read is sipd's to report.) */
function fileSets(path: string | undefined, key: string): boolean {
  if (path === undefined) return false;
  try {
    const raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    return raw !== null && typeof raw === 'object' && key in raw;
  } catch {
    return false;
  }
}

export async function startDaemon(opts: StartOptions): Promise<StartResult> {
  const paths = daemonPaths(opts.stateDir);
  const env = opts.env ?? process.env;
  const running = runningPid(paths);
  if (running !== undefined) {
    throw new ConflictError('DAEMON_RUNNING', `sipd is already running (pid ${running}, state dir ${opts.stateDir})`, 'sipctl daemon status shows it; sipctl daemon stop stops it');
  }
  mkdirSync(opts.stateDir, { recursive: true, mode: 0o700 });

  const notes: string[] = [];
  const args: string[] = ['--state-dir', opts.stateDir, '--log-format', 'json'];
  const sipdConfig = opts.sipdConfig ?? (env.SIPD_CONFIG || undefined);
  if (sipdConfig !== undefined) args.push('--config', sipdConfig);
  if (opts.db !== undefined) args.push('--db', opts.db);
  for (const d of opts.domain ?? []) args.push('--domain', d);

  let listen = opts.listen ?? [];
  if (listen.length === 0 && !fileSets(sipdConfig, 'listen')) {
    const port = await pickPort('127.0.0.1', DEFAULT_SIP_PORT, { udp: true });
    if (port !== DEFAULT_SIP_PORT) notes.push(`SIP port ${DEFAULT_SIP_PORT} on 127.0.0.1 is in use; sipd listens on ${port} instead`);
    listen = [`udp:127.0.0.1:${port}`, `tcp:127.0.0.1:${port}`];
  }
  for (const l of listen) args.push('--listen', l);
  let rpcListen = opts.rpcListen ?? [];
  if (rpcListen.length === 0 && !fileSets(sipdConfig, 'rpcListen')) {
    const port = await pickPort('127.0.0.1', DEFAULT_RPC_PORT, { udp: false });
    if (port !== DEFAULT_RPC_PORT) notes.push(`RPC port ${DEFAULT_RPC_PORT} on 127.0.0.1 is in use; JSON-RPC listens on ${port} instead`);
    rpcListen = [`http://127.0.0.1:${port}/RPC`, `unix:${join(opts.stateDir, SOCKET_NAME)}`];
  }
  for (const r of rpcListen) args.push('--rpc-listen', r);

  const logFd = openSync(paths.logFile, 'a', 0o600);
  const logStart = statSync(paths.logFile).size;
  let child;
  try {
    // the Node.js options `sipd` would get from its shebang (node-flags.ts)
    child = spawn(opts.node ?? process.execPath, [...SIPD_NODE_FLAGS, opts.bin ?? sipdBin(), ...args], { detached: true, stdio: ['ignore', logFd, logFd], env });
  } finally {
    closeSync(logFd);
  }
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  child.on('exit', (code, signal) => (exited = { code, signal }));
  child.on('error', () => (exited = { code: 127, signal: null }));
  child.unref();

  /** the last lines this start wrote to the log */
  const since = () => readFrom(paths.logFile, logStart, 64 * 1024).split('\n').filter(Boolean).slice(-15).join('\n');
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  for (;;) {
    if (exited !== undefined) {
      throw new SipctlError('DAEMON_START_FAILED', `sipd exited during start (${exited.signal ?? `exit code ${exited.code}`}); log ${paths.logFile}:\n${since()}`, { category: 'connection' });
    }
    const rt = readRuntime(paths);
    if (rt !== undefined && rt.pid === child.pid && rt.rpc.length > 0) {
      const url = rt.rpc.find((u) => u.startsWith('unix:')) ?? rt.rpc[0];
      const client = createRpcClient(url, { timeoutMs: 2000 });
      try {
        await client.call('core.uptime');
        return { pid: child.pid!, listen: rt.listen, rpc: rt.rpc, stateDir: opts.stateDir, logFile: paths.logFile, version: rt.version, notes };
      } catch {
        /* not answering yet */
      } finally {
        await client.close();
      }
    }
    if (Date.now() > deadline) {
      try {
        process.kill(child.pid!, 'SIGTERM');
      } catch {
        /* gone */
      }
      throw new SipctlError('DAEMON_START_TIMEOUT', `sipd did not answer core.uptime within ${Math.round((opts.timeoutMs ?? 15_000) / 1000)} s and was stopped; log ${paths.logFile}:\n${since()}`, { category: 'timeout' });
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface StopResult {
  pid: number;
  stopped: boolean;
  /** SIGTERM, or SIGKILL with --force after the timeout */
  signal: 'SIGTERM' | 'SIGKILL';
}

export async function stopDaemon(opts: { stateDir: string; timeoutMs?: number; force?: boolean }): Promise<StopResult> {
  const paths = daemonPaths(opts.stateDir);
  const pid = runningPid(paths);
  if (pid === undefined) throw new NotFoundError('DAEMON_NOT_RUNNING', `sipd is not running (state dir ${opts.stateDir})`);
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  while (pidAlive(pid)) {
    if (Date.now() > deadline) {
      if (!opts.force) {
        throw new SipctlError('DAEMON_STOP_TIMEOUT', `sipd (pid ${pid}) did not stop within ${Math.round((opts.timeoutMs ?? 15_000) / 1000)} s of SIGTERM`, { category: 'timeout', hint: 'look at sipctl daemon logs; --force sends SIGKILL (state saved periodically survives)' });
      }
      process.kill(pid, 'SIGKILL');
      while (pidAlive(pid)) await new Promise((r) => setTimeout(r, 20));
      return { pid, stopped: true, signal: 'SIGKILL' };
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { pid, stopped: true, signal: 'SIGTERM' };
}

export interface StatusResult {
  running: true;
  pid: number;
  version: string;
  listen: string[];
  rpc: string[];
  uptime: number;
  upSince: string;
  stateDir: string;
  logFile: string;
  modules: string[];
}

export async function daemonStatus(opts: { stateDir: string; timeoutMs?: number }): Promise<StatusResult> {
  const paths = daemonPaths(opts.stateDir);
  const pid = runningPid(paths);
  if (pid === undefined) throw new NotFoundError('DAEMON_NOT_RUNNING', `sipd is not running (state dir ${opts.stateDir})`, 'start it with sipctl daemon start');
  const rt = readRuntime(paths);
  if (rt === undefined || rt.pid !== pid) {
    throw new SipctlError('DAEMON_NOT_READY', `sipd (pid ${pid}) is running but has not finished starting (no ${RUNTIME_FILE})`, { category: 'connection' });
  }
  const url = rt.rpc.find((u) => u.startsWith('unix:')) ?? rt.rpc[0];
  if (url === undefined) throw new SipctlError('DAEMON_NO_RPC', `sipd (pid ${pid}) has no RPC endpoint to ask`, { category: 'connection' });
  const client = createRpcClient(url, { timeoutMs: opts.timeoutMs ?? 5000 });
  try {
    const up = await client.call<{ uptime: number; up_since: string }>('core.uptime');
    return { running: true, pid, version: rt.version, listen: rt.listen, rpc: rt.rpc, uptime: up.uptime, upSince: rt.startedAt, stateDir: opts.stateDir, logFile: paths.logFile, modules: rt.modules };
  } finally {
    await client.close();
  }
}

/**
 * Print what is appended to the log from `fromByte` on, until `signal` aborts. Polls (250 ms):
 * works the same on every filesystem and after log rotation by truncation.
 */
export async function followLog(logFile: string, fromByte: number, write: (text: string) => void, signal: AbortSignal): Promise<void> {
  let pos = fromByte;
  while (!signal.aborted) {
    let size = 0;
    try {
      size = statSync(logFile).size;
    } catch {
      size = 0;
    }
    if (size < pos) pos = 0; // truncated: start again
    if (size > pos) {
      const fd = openSync(logFile, 'r');
      try {
        const buf = Buffer.alloc(size - pos);
        readSync(fd, buf, 0, buf.length, pos);
        write(buf.toString('utf8'));
        pos = size;
      } finally {
        closeSync(fd);
      }
    }
    await new Promise<void>((r) => {
      const t = setTimeout(r, 250);
      signal.addEventListener('abort', () => {
        clearTimeout(t);
        r();
      }, { once: true });
    });
  }
}

export function logExists(stateDir: string): boolean {
  return existsSync(daemonPaths(stateDir).logFile);
}
