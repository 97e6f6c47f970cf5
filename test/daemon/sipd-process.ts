/**
 * Run the real sipd (bin/sipd.js, the BUILT sources in dist/) as a child process for process
 * tests: a private state directory, a SQLite database with the Kamailio schema (so every module
 * loads as in production), free ports, and helpers to talk SIP and JSON-RPC to it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canBindTcp, canBindUdp } from '../../src/core/daemon/daemon-control.js';
import { openDatabase } from '../../src/core/db/database.js';
import { initSchema } from '../../src/core/db/schema/schema.js';
import { createRpcClient } from '../../src/core/rpc/client.js';
import { assertFreshBuild } from '../helpers/build.js';
import { until } from '../helpers/until.js';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SIPD = join(REPO, 'bin', 'sipd.js');

/** Fail early and clearly when dist/ is missing or older than src/ (test/helpers/build.ts): a failure, not a skip. */
export function assertBuilt(): void {
  assertFreshBuild();
  if (!existsSync(join(REPO, 'dist', 'daemon', 'main.js'))) throw new Error('dist/daemon/main.js is missing: run `npm run build` before the process tests');
}

/** A SQLite database with every Kamailio table sipd's modules read. */
export async function makeDb(dir: string): Promise<string> {
  const url = `sqlite://${join(dir, 'sipd.db')}`;
  const db = await openDatabase(url, { create: true });
  try {
    await initSchema(db);
  } finally {
    await db.close();
  }
  return url;
}

const handedOut = new Set<number>();
/**
 * A port free for UDP and TCP on 127.0.0.1 and ::1. Four digits on purpose: sipsak 0.9.8.1
 * truncates a five-digit port in the Request-URI it builds from -s (sip:127.0.0.1:25060 becomes
 * sip:127.0.0.1:2506).
 */
export async function freeSipPort(): Promise<number> {
  for (let i = 0; i < 500; i++) {
    const p = 5100 + Math.floor(Math.random() * 4800);
    if (handedOut.has(p)) continue;
    if ((await canBindUdp('127.0.0.1', p)) && (await canBindTcp('127.0.0.1', p)) && (await canBindUdp('::1', p)) && (await canBindTcp('::1', p))) {
      handedOut.add(p);
      return p;
    }
  }
  throw new Error('no free SIP port');
}

/**
 * Waits until something listens on UDP ip:port (a sipp UAS bound it: the port can no longer be
 * bound). Instead of a fixed pause after starting it, which a loaded machine can outlast.
 */
export async function udpListening(ip: string, port: number, ms = 10_000): Promise<void> {
  await until(`a listener on udp ${ip}:${port}`, async () => !(await canBindUdp(ip, port)), ms);
}

export interface SipdProcess {
  child: ChildProcess;
  stateDir: string;
  configFile: string;
  sipPort: number;
  rpcUrl: string;
  unixPath: string;
  /** everything sipd wrote (JSON lines) */
  output(): string;
  /** parsed JSON log lines */
  lines(): Array<Record<string, unknown>>;
  rpc<T = unknown>(method: string, params?: unknown[] | Record<string, unknown>): Promise<T>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** send a signal and wait for the exit */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface StartOptions {
  stateDir?: string;
  dbUrl: string;
  /** sipd config file contents (merged over the test defaults) */
  config?: Record<string, unknown>;
  sipPort?: number;
  /** also listen on [::1] (udp and tcp) */
  ipv6?: boolean;
  timeoutMs?: number;
}

export async function startSipd(opts: StartOptions): Promise<SipdProcess> {
  assertBuilt();
  const stateDir = opts.stateDir ?? mkdtempSync(join(tmpdir(), 'sipd-proc-'));
  const sipPort = opts.sipPort ?? (await freeSipPort());
  const unixPath = join(stateDir, 'sipd.sock');
  const configFile = join(stateDir, 'sipd.json');
  const listen = [`udp:127.0.0.1:${sipPort}`, `tcp:127.0.0.1:${sipPort}`, ...(opts.ipv6 ? [`udp:[::1]:${sipPort}`, `tcp:[::1]:${sipPort}`] : [])];
  const config = {
    listen,
    // port 0: sipd picks, and records the port in sipd.runtime.json
    rpcListen: ['http://127.0.0.1:0/RPC', `unix:${unixPath}`],
    stateSaveIntervalSec: 1,
    // sipsak is the test client: keep the rest of the default scanner list
    modules: { scanner: { user_agents: ['friendly-scanner', 'sipvicious', 'sipcli', 'sundayddr', 'sip-scan', 'iWar'] } },
    ...opts.config,
  };
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const home = mkdtempSync(join(tmpdir(), 'sipd-home-'));
  const child = spawn(process.execPath, [SIPD, '--config', configFile, '--state-dir', stateDir, '--log-format', 'json'], {
    env: { PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), SIPCTL_DB: opts.dbUrl, LANG: 'C.UTF-8' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  let gone = false;
  void exited.then(() => (gone = true));
  const kill = () => {
    if (!gone) child.kill('SIGKILL');
  };
  process.once('exit', kill);

  // Ready when the runtime file names this pid and core.uptime answers.
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  let rpcUrl = '';
  for (;;) {
    if (gone) throw new Error(`sipd exited during start:\n${out}`);
    if (Date.now() > deadline) {
      kill();
      throw new Error(`sipd did not become ready:\n${out}`);
    }
    try {
      const rt = JSON.parse(readFileSync(join(stateDir, 'sipd.runtime.json'), 'utf8')) as { pid: number; rpc: string[] };
      if (rt.pid === child.pid) {
        rpcUrl = rt.rpc.find((u) => u.startsWith('http:'))!;
        const c = createRpcClient(rpcUrl, { timeoutMs: 1000 });
        try {
          await c.call('core.uptime');
          break;
        } finally {
          await c.close();
        }
      }
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  const rpc = async <T>(method: string, params?: unknown[] | Record<string, unknown>): Promise<T> => {
    const c = createRpcClient(rpcUrl, { timeoutMs: 5000 });
    try {
      return await c.call<T>(method, params);
    } finally {
      await c.close();
    }
  };
  return {
    child,
    stateDir,
    configFile,
    sipPort,
    rpcUrl,
    unixPath,
    output: () => out,
    lines: () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    rpc,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (!gone) child.kill(signal);
      const r = await exited;
      process.removeListener('exit', kill);
      return r;
    },
  };
}

// ---------------------------------------------------------------- SIP over raw sockets

let seq = 0;
export function options(port: number, opts: { from?: string; transport?: 'UDP' | 'TCP'; host?: string; userAgent?: string } = {}): string {
  seq++;
  const host = opts.host ?? '127.0.0.1';
  const h = host.includes(':') ? `[${host}]` : host;
  return [
    `OPTIONS sip:${h}:${port} SIP/2.0`,
    `Via: SIP/2.0/${opts.transport ?? 'UDP'} ${opts.from ?? h}:5999;branch=z9hG4bK-t${seq}-${Date.now()};rport`,
    `From: <sip:probe@${h}>;tag=t${seq}`,
    `To: <sip:${h}:${port}>`,
    `Call-ID: probe-${seq}-${process.pid}@test`,
    `CSeq: ${seq} OPTIONS`,
    'Max-Forwards: 70',
    ...(opts.userAgent ? [`User-Agent: ${opts.userAgent}`] : []),
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/** Send one datagram from `bindAddress` and wait for a reply (undefined on timeout). */
export async function udpExchange(port: number, data: string | Buffer, opts: { host?: string; bindAddress?: string; timeoutMs?: number } = {}): Promise<string | undefined> {
  const host = opts.host ?? '127.0.0.1';
  const sock = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
  await new Promise<void>((r) => sock.bind({ address: opts.bindAddress ?? (net.isIPv6(host) ? '::1' : '127.0.0.1'), port: 0 }, () => r()));
  try {
    return await new Promise<string | undefined>((resolveReply) => {
      const t = setTimeout(() => resolveReply(undefined), opts.timeoutMs ?? 2000);
      sock.once('message', (m) => {
        clearTimeout(t);
        resolveReply(m.toString('utf8'));
      });
      sock.send(data, port, host);
    });
  } finally {
    sock.close();
  }
}

/** OPTIONS over a new TCP connection; the first reply (undefined on timeout or close). */
export async function tcpOptions(port: number, host = '127.0.0.1', timeoutMs = 3000): Promise<string | undefined> {
  return new Promise((resolveReply) => {
    const s = net.createConnection({ host, port });
    let got = '';
    const done = (v: string | undefined) => {
      clearTimeout(t);
      s.destroy();
      resolveReply(v);
    };
    const t = setTimeout(() => done(undefined), timeoutMs);
    s.on('connect', () => s.write(options(port, { transport: 'TCP', host })));
    s.on('data', (d) => {
      got += d;
      if (got.includes('\r\n\r\n')) done(got);
    });
    s.on('error', () => done(undefined));
    s.on('close', () => done(got || undefined));
  });
}

export function statusOf(reply: string | undefined): number | undefined {
  const m = /^SIP\/2\.0 (\d{3}) /.exec(reply ?? '');
  return m ? Number(m[1]) : undefined;
}
