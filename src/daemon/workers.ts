/**
 * sipd --workers N: N sipd processes on the same listen addresses, each one a cluster node.
 *
 * Linux spreads datagrams and connections over sockets bound with SO_REUSEPORT by a hash of the
 * source address and port, so every request of one UA (retransmissions, CANCEL, ACK) reaches
 * the same worker. The hash knows nothing of load: traffic from few sources splits unevenly (two
 * workers, 8 source ports: 6:2 or worse in about a third of port choices; 4 sources: 3:1 in half,
 * measured with plain reusePort sockets under Node 22), while many UAs spread evenly — a sipd
 * behind one or two SBCs gets little from --workers. Node.js opens such sockets from 22.12 on (dgram and net `reusePort`); Node 20
 * cannot (it ignores the option and the second bind fails), so there sipd refuses --workers > 1
 * with one line naming the requirement rather than silently running one process.
 *
 * The workers share state through the cluster (Redis): --workers > 1 needs --cluster. Worker 0
 * keeps the configured state directory and RPC endpoints (sipctl talks to it as to one sipd);
 * worker i > 0 gets <stateDir>/worker-i and its own unix socket there, and node id `<node>#i`.
 * Each worker also binds a private UDP port on the listen IP (transport/udp.ts, egress): its
 * forwarded requests name it in Via and Record-Route, so their responses and in-dialog requests
 * come back to it, and it is the worker's hand-off address in the cluster (cluster-module.ts,
 * handOffAddresses): a call for a TCP/TLS contact whose connection one worker holds reaches that
 * worker whichever worker, or other node, took it. Listening on every address (0.0.0.0, ::), the
 * private port is bound there too and other machines have no address for it; the workers of one
 * primary still reach each other's private ports on loopback: the primary gives them one random
 * id (WORKER_GROUP_ENV), and the cluster module hands calls to a worker of the same id at its
 * private port on 127.0.0.1 / ::1 (localHandOffAddresses). The requests themselves leave from the shared
 * port (issue 14): a phone behind a port-restricted or symmetric NAT takes packets only from the
 * address:port it registered to. A UA that answers to the source address instead of Via (or sipd
 * itself, and Kamailio with force_rport, answering a hand-off) sends the response to the shared
 * port, where the kernel gives it to any worker: that worker relays it to the worker whose private
 * port the top Via names (WorkerRelay below; udp.ts does the relaying).
 * This process (the primary) binds nothing: it starts the workers, passes SIGTERM/SIGINT/SIGHUP
 * on, restarts a worker that dies (at most once per second each), and exits when they have.
 * Worker 0 starts last, once every other worker said it is up (WORKER_READY over the fork
 * channel, sent after its sockets are bound): worker 0's configured RPC endpoint and runtime file
 * are what sipctl daemon start/status and scripts take as "sipd is ready", so that readiness now
 * means every worker has its socket in the reusePort group, not only worker 0.
 *
 * The relay: each worker tells the primary its private UDP addresses (EGRESS message); the primary
 * sends every worker all of them with a random key made at start (SIBLINGS, again whenever a
 * worker starts or exits). A relayed datagram goes from the shared port to the private port with a
 * line in front carrying the key and the response's source; a private port takes such a datagram
 * only from the shared address and with the key, and only to an address a sibling announced is a
 * response relayed (no reflection to arbitrary ports).
 *
 * A reusePort bind never fails on a port that another process of the same user holds with
 * reusePort too (another sipd --workers, a stale worker): the kernel would silently add our
 * sockets to that process's group and split the traffic between the two daemons by the source
 * hash — calls landing on the other one's workers, with the other one's registrations. So before
 * forking, the primary binds every listen address once without reusePort (checkListenFree) and
 * refuses to start when one is taken, as a single sipd would.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { availableParallelism, hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SOCKET_NAME } from '../core/daemon/files.js';
import { SIPD_NODE_FLAGS } from '../core/daemon/node-flags.js';
import { ConfigError, ConnectionError } from '../core/errors.js';
import type { SipdConfig } from './config/sipd-config.js';
import { parseListen } from './transport/transport.js';

/** set in a worker's environment: its index */
export const WORKER_ENV = 'SIPD_WORKER_INDEX';
/** set in a worker's environment: an id the primary made at start, the same for all its workers (ClusterSettings.workerGroup) */
export const WORKER_GROUP_ENV = 'SIPD_WORKER_GROUP';
/** sent by a worker to the primary (fork channel) once it has started: its sockets are bound */
export const WORKER_READY = 'sipd:worker-ready';
/** worker -> primary: `{ t: EGRESS, addrs: ['ip:port', …] }`, its private UDP addresses */
const EGRESS = 'sipd:worker-egress';
/** primary -> workers: `{ t: SIBLINGS, key, addrs }`, every worker's private UDP addresses */
const SIBLINGS = 'sipd:worker-siblings';

const addrKey = (ip: string, port: number) => `${ip}|${port}`;

/**
 * A worker's side of the response relay (see the header): which addresses are other workers'
 * private ports, and the key relayed datagrams carry. One per worker process: main.ts makes it and
 * the kernel hands it to each UDP transport it builds (DaemonOptions.workerRelay, UdpOptions.egress).
 * Inert outside a --workers process.
 */
export class WorkerRelay {
  private key: Buffer | undefined;
  private siblings = new Set<string>();
  private readonly own = new Set<string>();
  private listening = false;

  /** this worker's private address (udp.ts, once bound): told to the primary */
  announce(ip: string, port: number): void {
    if (process.send === undefined || process.env[WORKER_ENV] === undefined) return;
    this.own.add(addrKey(ip, port));
    if (!this.listening) {
      this.listening = true;
      process.on('message', (m: unknown) => {
        const x = m as { t?: unknown; key?: unknown; addrs?: unknown } | null;
        if (x === null || typeof x !== 'object' || x.t !== SIBLINGS || typeof x.key !== 'string' || !Array.isArray(x.addrs)) return;
        this.key = Buffer.from(x.key, 'hex');
        this.siblings = new Set(x.addrs.filter((a): a is string => typeof a === 'string'));
      });
    }
    process.send({ t: EGRESS, addrs: [...this.own] });
  }

  /** another worker's private UDP address (never this worker's own) */
  sibling(ip: string, port: number): boolean {
    const k = addrKey(ip, port);
    return this.key !== undefined && this.siblings.has(k) && !this.own.has(k);
  }

  /** the line put in front of a relayed datagram; undefined before the primary sent the key */
  header(source: { ip: string; port: number }): Buffer | undefined {
    if (this.key === undefined) return undefined;
    return Buffer.from(`\0sipd-relay ${this.key.toString('hex')} ${source.ip} ${source.port}\n`, 'latin1');
  }

  /** a relayed datagram's original source and message, or undefined when it is not one (or the key is wrong) */
  unwrap(data: Buffer): { ip: string; port: number; data: Buffer } | undefined {
    if (this.key === undefined || data.length < 16 || data[0] !== 0) return undefined;
    const nl = data.indexOf(0x0a, 0);
    if (nl < 0 || nl > 160) return undefined;
    const m = /^\0sipd-relay ([0-9a-f]+) ([0-9A-Fa-f.:]+) (\d{1,5})$/.exec(data.toString('latin1', 0, nl));
    if (m === null) return undefined;
    const got = Buffer.from(m[1]!, 'hex');
    if (got.length !== this.key.length || !timingSafeEqual(got, this.key)) return undefined;
    return { ip: m[2]!, port: Number(m[3]), data: data.subarray(nl + 1) };
  }
}

/** reusePort for dgram and net arrived in Node.js 22.12.0 (nodejs/node#55403, #55408). */
export function supportsReusePort(version: string = process.versions.node): boolean {
  const [major, minor] = version.split('.').map(Number) as [number, number];
  return major > 22 || (major === 22 && minor >= 12);
}

/** The number of processes --workers asks for, after checking what it needs. */
export function checkWorkers(cfg: SipdConfig, version: string = process.versions.node): number {
  const n = cfg.workers === 0 ? availableParallelism() : cfg.workers;
  if (n <= 1) return 1;
  if (!supportsReusePort(version)) {
    throw new ConfigError('WORKERS_UNSUPPORTED', `--workers ${n} needs Node.js >= 22.12 (reusePort sockets); this is Node.js ${version}`, 'run with --workers 1, or under Node.js 22.12 or newer');
  }
  if (cfg.cluster.url === undefined) {
    throw new ConfigError('WORKERS_NEED_CLUSTER', `--workers ${n} needs --cluster (the workers share bans, counters and registrations through Redis)`, 'add --cluster redis://127.0.0.1:6379/0, or run with --workers 1');
  }
  return n;
}

/** hostname + first listen address: unique per machine and address */
export function defaultNodeId(cfg: SipdConfig): string {
  const first = cfg.listen[0] ?? '';
  return `${hostname()}/${first}`.replace(/[^A-Za-z0-9._:[\]/@-]/g, '_').slice(0, 128);
}

/** A worker's configuration: its own state directory, RPC socket and node id; reusePort sockets. */
export function workerConfig(cfg: SipdConfig, index: number): SipdConfig {
  const nodeId = `${cfg.cluster.node_id ?? defaultNodeId(cfg)}#${index}`;
  const out: SipdConfig = { ...cfg, cluster: { ...cfg.cluster, node_id: nodeId }, reusePort: true, workers: 1 };
  if (index > 0) {
    out.stateDir = join(cfg.stateDir, `worker-${index}`);
    out.rpcListen = [`unix:${join(out.stateDir, SOCKET_NAME)}`];
  }
  return out;
}

/**
 * Every listen address (port > 0) bound once without reusePort and released: throws
 * SIP_LISTEN_FAILED naming the first one another process holds (see the header: with reusePort the
 * workers' own binds would succeed and share that process's port).
 */
export async function checkListenFree(listen: readonly string[]): Promise<void> {
  for (const text of listen) {
    const a = parseListen(text);
    if (a.port === 0) continue;
    const v6 = net.isIPv6(a.host);
    const error = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      if (a.transport === 'udp') {
        const s = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: v6 });
        s.once('error', (e: NodeJS.ErrnoException) => (s.close(), resolve(e)));
        s.bind({ address: a.host, port: a.port, exclusive: true }, () => s.close(() => resolve(undefined)));
      } else {
        const s = net.createServer();
        s.once('error', (e: NodeJS.ErrnoException) => resolve(e));
        s.listen({ host: a.host, port: a.port, ipv6Only: v6, exclusive: true }, () => s.close(() => resolve(undefined)));
      }
    });
    if (error !== undefined) {
      throw new ConnectionError('SIP_LISTEN_FAILED', `cannot listen on ${text}: ${error.code ?? error.message}${error.code === 'EADDRINUSE' ? ' (another process holds it; --workers would share its traffic)' : ''}`, { cause: error });
    }
  }
}


/**
 * The Node.js options a worker starts with (and the benches start sipd with): the primary's own
 * (process.execArgv, e.g. --cpu-prof) plus SIPD_NODE_FLAGS (core/daemon/node-flags.ts), unless the operator gave a
 * semi-space floor of their own.
 */
export function workerExecArgv(execArgv: readonly string[] = process.execArgv): string[] {
  return execArgv.some((a) => /^--min[-_]semi[-_]space[-_]size(=|$)/.test(a)) ? [...execArgv] : [...execArgv, ...SIPD_NODE_FLAGS];
}

/** Start `n` workers with this process's arguments; resolves with the exit code for the primary. */
export function runWorkers(n: number, argv: string[]): Promise<number> {
  const entry = fileURLToPath(new URL('../../bin/sipd.js', import.meta.url));
  const children = new Map<number, ChildProcess>();
  // the response relay (see the header): every worker's private addresses, and the key they share
  const relayKey = randomBytes(16).toString('hex');
  // which cluster members are this primary's workers (on this machine: they reach each other on loopback)
  const group = randomBytes(8).toString('hex');
  const egress = new Map<number, string[]>();
  const tellSiblings = () => {
    const msg = { t: SIBLINGS, key: relayKey, addrs: [...egress.values()].flat() };
    for (const c of children.values()) if (c.connected) c.send(msg, () => undefined);
  };
  let stopping = false;
  let exitCode = 0;
  return new Promise((resolve) => {
    const start = (i: number) => {
      const started = Date.now();
      const child = fork(entry, argv, { env: { ...process.env, [WORKER_ENV]: String(i), [WORKER_GROUP_ENV]: group }, execArgv: workerExecArgv(), stdio: 'inherit' });
      children.set(i, child);
      child.on('message', (m) => {
        const e = m as { t?: unknown; addrs?: unknown } | null;
        if (e !== null && typeof e === 'object' && e.t === EGRESS && Array.isArray(e.addrs)) {
          egress.set(i, e.addrs.filter((a): a is string => typeof a === 'string').slice(0, 16));
          tellSiblings();
          return;
        }
        if (m !== WORKER_READY) return;
        waiting.delete(i);
        startZero();
      });
      child.on('exit', (code, signal) => {
        children.delete(i);
        if (egress.delete(i)) tellSiblings();
        // one that died before it was up is not waited for again (its restart goes on)
        waiting.delete(i);
        if (!stopping) {
          process.stderr.write(`sipd: worker ${i} exited (${signal ?? code}); restarting\n`);
          const wait = Math.max(0, 1000 - (Date.now() - started));
          setTimeout(() => {
            if (!stopping) start(i);
          }, wait).unref();
          // A worker that cannot start at all (config error) must not loop for ever.
          if (Date.now() - started < 3000 && code !== null && code !== 0) {
            stopping = true;
            exitCode = code;
            for (const c of children.values()) c.kill('SIGTERM');
          }
        }
        startZero();
        if (stopping && children.size === 0) resolve(exitCode);
      });
    };
    // workers 1..n-1 first; worker 0 once they are all up (see the header)
    const waiting = new Set<number>();
    let zeroStarted = false;
    const startZero = () => {
      if (zeroStarted || stopping || waiting.size > 0) return;
      zeroStarted = true;
      start(0);
    };
    for (let i = 1; i < n; i++) {
      waiting.add(i);
      start(i);
    }
    startZero();
    const stop = (sig: NodeJS.Signals) => {
      stopping = true;
      for (const c of children.values()) c.kill(sig);
      if (children.size === 0) resolve(exitCode);
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => {
      for (const c of children.values()) c.kill('SIGHUP');
    });
  });
}
