/**
 * What SIP over TCP and SIP over TLS share (RFC 3261 §18.3): connection admission and counting,
 * framing by Content-Length, the timers, the bounded write queue, and binding/closing the
 * listening socket. tcp.ts hands plain sockets here; tls.ts hands the decrypted TLSSocket once
 * its handshake (and client-certificate check) is done, so both obey the same bounds:
 *
 * - per connection, at most one message is buffered, never more than the parser's
 *   maxMessageSize (StreamFramer refuses anything larger and the connection is closed);
 * - slow-sender limit: a message, once started, must be complete within `slowSenderTimeoutMs`
 *   (headers and body together: a slowloris trickle is cut off), and so must the FIRST message
 *   from the accept on — CRLF keep-alives do not count, so a connection that only ever sends
 *   CRLFs is closed (issue 18: such connections once held every slot);
 * - idle timeout: a connection with no complete message for `idleTimeoutMs` is closed. A CRLF
 *   keep-alive (RFC 5626 §3.5.1, §4.4.1) refreshes that timer at most once per
 *   `keepaliveMinIntervalMs` — a client keeps a flow alive with one ping per interval, and
 *   pinging every few seconds buys nothing more. Each double-CRLF ping is answered with one
 *   CRLF pong (RFC 5626 §4.4.1);
 * - at most `maxConnectionsPerSource` connections per source IP (never more than half of
 *   `maxConnections`, so one address cannot take every slot) and `maxConnections` in all (for
 *   TLS counted from the TCP accept, so handshakes in progress count too). When all slots are
 *   taken, a new connection is admitted by closing ('evicted') the least recently active
 *   connection of the source holding the most — unless the newcomer's own source holds as many,
 *   then it is refused: a source with few connections always gets in, the oldest idle
 *   connections of the heaviest sources go first, and trickling sources settle at equal shares;
 * - a peer that does not read its replies (more than `maxPendingWriteBytes` queued) is dropped;
 * - a source the kernel refuses (`admit` — e.g. banned in ipban) is closed at accept, before a
 *   TLS handshake costs anything.
 * A framing error (no Content-Length, oversized, bad bytes) closes the connection: there is no
 * way to find the next message boundary after it.
 *
 * Timers: one per connection, armed for the earliest deadline and re-armed lazily when it fires
 * early — a message does not cost a clearTimeout/setTimeout pair.
 */
import net from 'node:net';
import { ConnectionError } from '../../core/errors.js';
import type { ParserLimits } from '../../core/sip/message.js';
import { SipParseError } from '../../core/sip/sip-parse-error.js';
import { StreamFramer } from '../../core/sip/stream-framer.js';
import type { Endpoint, TlsPeer } from '../kernel/contracts.js';
import type { Logger } from '../kernel/module.js';
import { isUnspecified } from '../../core/address/ip.js';
import { type ListenAddress, type MessageHandler, type StreamConnection, normaliseIp } from './transport.js';

export interface StreamLimits {
  maxConnections: number;
  maxConnectionsPerSource: number;
  idleTimeoutMs: number;
  slowSenderTimeoutMs: number;
  /** a CRLF keep-alive refreshes the idle timer at most this often (default 30 s) */
  keepaliveMinIntervalMs?: number;
  maxPendingWriteBytes: number;
}

export type StreamCloseReason =
  | 'per-source-cap'
  | 'refused'
  | 'evicted'
  | 'idle-timeout'
  | 'slow-sender'
  | 'framing-error'
  | 'write-backlog'
  // TLS only
  | 'handshake-failed'
  | 'handshake-timeout'
  | 'client-cert-missing'
  | 'client-cert-unverified';

export interface StreamOptions {
  limits: StreamLimits;
  parser: ParserLimits;
  log: Logger;
  /** false refuses the connection at accept (the source is banned) */
  admit?(ip: string): boolean;
  /** a connection the transport closed for one of its bounds; for counters and security events */
  onClose?(source: Endpoint, reason: StreamCloseReason, detail?: string): void;
  now?(): number;
}

type StreamTransportName = 'tcp' | 'tls';

/**
 * The connection to close so a newcomer from a source holding `mine` connections gets a slot:
 * the least recently active (first in `byActivity`) of the sources holding the most, when they
 * hold more than `mine`; undefined when the newcomer's source is itself among the heaviest.
 * `eligible` leaves out connections that must not be closed (an RPC call being answered).
 * Shared by the SIP stream transports and the RPC HTTP listener.
 */
export function pickVictim<T>(byActivity: Iterable<T>, perSource: ReadonlyMap<string, number>, mine: number, ipOf: (t: T) => string, eligible: (t: T) => boolean = () => true): T | undefined {
  let most = 0;
  for (const c of perSource.values()) if (c > most) most = c;
  if (most <= mine) return undefined;
  for (const t of byActivity) if (perSource.get(ipOf(t)) === most && eligible(t)) return t;
  return undefined;
}

/** The per-source cap actually applied: the configured one, but never more than half of all slots. */
export function effectivePerSourceCap(limits: Pick<StreamLimits, 'maxConnections' | 'maxConnectionsPerSource'>): number {
  return Math.max(1, Math.min(limits.maxConnectionsPerSource, Math.floor(limits.maxConnections / 2)));
}

interface Tracked {
  sock: net.Socket;
  source: Endpoint;
  acceptedAt: number;
}

export const DEFAULT_KEEPALIVE_MIN_INTERVAL_MS = 30_000;

/**
 * Admission and bookkeeping at accept: the ban check, the per-source cap, the total cap (by
 * closing the least recently active connection), the open sockets (closed at shutdown) in
 * order of last activity. `accept` is called with the socket the TCP accept produced.
 */
export class ConnectionTable {
  private readonly perSource = new Map<string, number>();
  /** open connections, least recently active first (touch() moves one to the end) */
  private readonly open = new Map<net.Socket, Tracked>();
  /** "ip|port" of a connection's peer → its writer, for requests sent to a peer on its own connection */
  private readonly writers = new Map<string, (data: Buffer) => void>();
  readonly closed: Partial<Record<StreamCloseReason, number>> = {};

  constructor(
    private readonly transport: StreamTransportName,
    private readonly opts: Pick<StreamOptions, 'limits' | 'admit' | 'onClose' | 'now'>,
  ) {}

  /** Count a close by the transport and tell the kernel. */
  report(source: Endpoint, reason: StreamCloseReason, detail?: string): void {
    this.closed[reason] = (this.closed[reason] ?? 0) + 1;
    this.opts.onClose?.(source, reason, detail);
  }

  /** The source endpoint when admitted; undefined when the socket was refused (and destroyed). */
  accept(sock: net.Socket): Endpoint | undefined {
    const ip = normaliseIp(sock.remoteAddress ?? '');
    const source: Endpoint = { ip, port: sock.remotePort ?? 0, transport: this.transport };
    const refuse = (reason: StreamCloseReason) => {
      this.report(source, reason);
      sock.destroy();
      return undefined;
    };
    if (ip === '' || (this.opts.admit && !this.opts.admit(ip))) return refuse('refused');
    const n = this.perSource.get(ip) ?? 0;
    if (n >= effectivePerSourceCap(this.opts.limits)) return refuse('per-source-cap');
    // Under pressure a connection of the source holding the most makes room, the least recently
    // active one of those first (issue 18: trickling connections held every slot and live
    // clients were refused). A newcomer whose source already holds as many as any other is
    // refused instead, so sources that keep reconnecting settle at equal shares.
    while (this.open.size >= this.opts.limits.maxConnections) {
      const victim = pickVictim(this.open.values(), this.perSource, n, (t) => t.source.ip);
      if (victim === undefined) return refuse('per-source-cap');
      this.forget(victim.sock, victim.source.ip);
      this.report(victim.source, 'evicted');
      victim.sock.destroy();
    }
    this.perSource.set(ip, n + 1);
    this.open.set(sock, { sock, source, acceptedAt: (this.opts.now ?? Date.now)() });
    sock.on('error', () => undefined); // a peer's reset: 'close' follows and forgets it (the owner's listeners report what matters)
    sock.once('close', () => this.forget(sock, ip));
    return source;
  }

  private forget(sock: net.Socket, ip: string): void {
    if (!this.open.delete(sock)) return;
    const left = (this.perSource.get(ip) ?? 1) - 1;
    if (left <= 0) this.perSource.delete(ip);
    else this.perSource.set(ip, left);
  }

  /** The connection did something that counts as activity: it is the last to be evicted now. */
  touch(sock: net.Socket): void {
    const t = this.open.get(sock);
    if (t === undefined) return;
    this.open.delete(sock);
    this.open.set(sock, t);
  }

  /** When the connection (the TCP socket accept() was given) was accepted. */
  acceptedAt(sock: net.Socket): number | undefined {
    return this.open.get(sock)?.acceptedAt;
  }

  /** Make a served connection reachable by sendTo until it closes. */
  register(sock: net.Socket, peer: Endpoint, write: (data: Buffer) => void): void {
    const key = `${peer.ip}|${peer.port}`;
    this.writers.set(key, write);
    sock.once('close', () => {
      if (this.writers.get(key) === write) this.writers.delete(key);
    });
  }

  /**
   * Send on the open connection from `to` (ip and port as the peer connected from), within the
   * connection's write bound. False when there is no such connection — a stream transport never
   * opens connections towards a client: behind NAT, only the client's own connection reaches it.
   */
  sendTo(to: { ip: string; port: number }, data: Buffer): boolean {
    const write = this.writers.get(`${normaliseIp(to.ip)}|${to.port}`);
    if (write === undefined) return false;
    write(data);
    return true;
  }

  counts(): { total: number; sources: number; writers: number } {
    return { total: this.open.size, sources: this.perSource.size, writers: this.writers.size };
  }

  destroyAll(): void {
    for (const s of [...this.open.keys()]) s.destroy();
  }
}

/**
 * Serve SIP on one admitted connection: messages cut by Content-Length go to `onMessage` with a
 * reply function that writes back on this connection (and `table.sendTo` reaches it too). `sock` is the plain socket (TCP) or the
 * TLSSocket after its handshake (TLS); `tlsPeer` is handed along with every message.
 * `accepted` is the socket the table accepted (TLS: the TCP socket under `sock`): its accept
 * time starts the first message's deadline, and activity moves it to the end of the eviction order.
 */
export function serveStream(
  sock: net.Socket,
  source: Endpoint,
  listening: Endpoint,
  onMessage: MessageHandler,
  opts: StreamOptions,
  extra: { table?: ConnectionTable; tlsPeer?: TlsPeer; accepted?: net.Socket } = {},
): void {
  // A server bound to every address (0.0.0.0, ::): the connection's own address is where its
  // messages arrived, and what the Via and Record-Route sent over it must name.
  const local: Endpoint = isUnspecified(listening.ip) && sock.localAddress !== undefined ? { ...listening, ip: normaliseIp(sock.localAddress) } : listening;
  const { tlsPeer, table } = extra;
  const accepted = extra.accepted ?? sock;
  const keepaliveEvery = keepaliveInterval(opts.limits);
  const { limits, log } = opts;
  const now = opts.now ?? Date.now;
  const kind = source.transport.toUpperCase();
  const framer = new StreamFramer(opts.parser);
  let closedBy: StreamCloseReason | undefined;
  /** when the message being received started; the accept until the first message is complete */
  let messageStart: number | undefined = table?.acceptedAt(accepted) ?? now();
  /** last complete message, or keep-alive that was allowed to count */
  let lastActive = now();
  let lastKeepaliveRefresh = 0;
  /** a complete message has arrived on this connection */
  let served = false;
  let timer: NodeJS.Timeout | undefined;
  let armedFor = Infinity;
  const closeListeners: Array<() => void> = [];
  const connection: StreamConnection = {
    get closed() {
      return sock.destroyed;
    },
    onClose(listener) {
      if (sock.destroyed) listener();
      else closeListeners.push(listener);
    },
  };
  const closeFor = (reason: StreamCloseReason, detail?: string) => {
    if (closedBy !== undefined) return;
    closedBy = reason;
    if (table) table.report(source, reason, detail);
    else opts.onClose?.(source, reason, detail);
    sock.destroy();
  };
  // While a message is being received only the slow-sender limit applies; between messages, the idle timeout too.
  const deadline = () => Math.min(framer.buffered > 0 ? Infinity : lastActive + limits.idleTimeoutMs, messageStart === undefined ? Infinity : messageStart + limits.slowSenderTimeoutMs);
  const onTimer = () => {
    timer = undefined;
    armedFor = Infinity;
    if (sock.destroyed) return;
    const t = now();
    if (messageStart !== undefined && t >= messageStart + limits.slowSenderTimeoutMs) {
      return closeFor('slow-sender', framer.buffered > 0 ? `${framer.buffered} bytes pending` : 'no complete message');
    }
    if (framer.buffered === 0 && t >= lastActive + limits.idleTimeoutMs) return closeFor('idle-timeout');
    arm();
  };
  /** Make sure the timer fires no later than the earliest deadline (it may fire earlier: then it re-arms). */
  const arm = () => {
    const d = deadline();
    if (d >= armedFor) return;
    if (timer !== undefined) clearTimeout(timer);
    armedFor = d;
    timer = setTimeout(onTimer, Math.max(0, d - now()) + 5);
  };
  const reply = (out: Buffer) => {
    if (sock.destroyed || !sock.writable) return;
    if (sock.writableLength + out.length > limits.maxPendingWriteBytes) return closeFor('write-backlog');
    sock.write(out);
  };
  const PONG = Buffer.from('\r\n', 'latin1');

  table?.register(sock, source, reply);
  arm();
  sock.on('data', (chunk: Buffer) => {
    let messages: Buffer[];
    const pings = framer.pings;
    try {
      messages = framer.push(chunk);
    } catch (e) {
      if (e instanceof SipParseError) return closeFor('framing-error', e.reason);
      log.error(`${kind} framing failed`, { error: e instanceof Error ? e.message : String(e) });
      return closeFor('framing-error', 'internal');
    }
    const t = now();
    if (messages.length > 0) {
      served = true;
      lastActive = t;
      table?.touch(accepted);
    }
    for (const data of messages) {
      if (sock.destroyed) return;
      try {
        onMessage({ data, source, local, reply, connection, ...(tlsPeer === undefined ? {} : { tlsPeer }) });
      } catch (e) {
        log.error(`${kind} message handler threw`, { error: e instanceof Error ? e.message : String(e) });
      }
    }
    if (sock.destroyed) return;
    // Bad bytes after complete messages: those were answered above; now the connection goes.
    if (framer.error !== undefined) return closeFor('framing-error', framer.error.reason);
    if (framer.pings > pings) {
      // RFC 5626 §4.4.1: one pong per ping (2 bytes for 4: nothing to amplify).
      for (let i = framer.pings - pings; i > 0; i--) reply(PONG);
      // A keep-alive counts as activity only on a connection that has carried a message, and
      // only once per interval.
      if (served && t - lastKeepaliveRefresh >= keepaliveEvery) {
        lastKeepaliveRefresh = t;
        lastActive = t;
        table?.touch(accepted);
      }
    }
    // The deadline of the message being received: restarted by every complete message.
    if (framer.buffered > 0) {
      if (messages.length > 0 || messageStart === undefined) messageStart = t;
    } else if (served) {
      messageStart = undefined;
    }
    arm();
  });
  sock.on('error', () => undefined); // a peer's reset or a write to a closed socket: 'close' follows and cleans up
  sock.on('close', () => {
    if (timer !== undefined) clearTimeout(timer);
    for (const l of closeListeners.splice(0)) l();
  });
}

function keepaliveInterval(l: StreamLimits): number {
  return l.keepaliveMinIntervalMs ?? DEFAULT_KEEPALIVE_MIN_INTERVAL_MS;
}

/** Bind a stream server (net.Server or tls.Server) to `addr`; the endpoint actually bound. */
export async function bindStreamServer(server: net.Server, addr: ListenAddress, log: Logger): Promise<Endpoint> {
  const transport = addr.transport as StreamTransportName;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new ConnectionError('SIP_LISTEN_FAILED', `cannot listen on ${transport}:${addr.host}:${addr.port}: ${e.code ?? e.message}`, { cause: e })));
    server.listen({ host: addr.host, port: addr.port, ipv6Only: net.isIPv6(addr.host), exclusive: true, backlog: 511, ...(addr.reusePort === true ? { reusePort: true } : {}) } as net.ListenOptions, () => resolve());
  });
  server.on('error', (e) => log.error(`${transport.toUpperCase()} server error`, { error: e.message }));
  const bound = server.address() as net.AddressInfo;
  return { ip: normaliseIp(bound.address), port: bound.port, transport };
}

/** Close a stream server and every connection it has; idempotent. */
export function streamCloser(server: net.Server, table: ConnectionTable): () => Promise<void> {
  let closed = false;
  return () =>
    new Promise<void>((resolve) => {
      if (closed) return resolve();
      closed = true;
      server.close(() => resolve());
      table.destroyAll();
    });
}
