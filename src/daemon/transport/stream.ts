/**
 * What SIP over TCP and SIP over TLS share (RFC 3261 §18.3): connection admission and counting,
 * framing by Content-Length, the timers, the bounded write queue, and binding/closing the
 * listening socket. tcp.ts hands plain sockets here; tls.ts hands the decrypted TLSSocket once
 * its handshake (and client-certificate check) is done, so both obey the same bounds:
 *
 * - per connection, at most one message is buffered, never more than the parser's
 *   maxMessageSize (StreamFramer refuses anything larger and the connection is closed);
 * - idle timeout: a connection with no bytes for `idleTimeoutMs` is closed;
 * - slow-sender timeout: once a message has started, it must be complete within
 *   `slowSenderTimeoutMs` (a slowloris trickle is cut off);
 * - at most `maxConnectionsPerSource` connections per source IP and `maxConnections` in all
 *   (for TLS counted from the TCP accept, so handshakes in progress count too);
 * - a peer that does not read its replies (more than `maxPendingWriteBytes` queued) is dropped;
 * - a source the kernel refuses (`admit` — e.g. banned in ipban) is closed at accept, before a
 *   TLS handshake costs anything.
 * A framing error (no Content-Length, oversized, bad bytes) closes the connection: there is no
 * way to find the next message boundary after it.
 */
import net from 'node:net';
import { ConnectionError } from '../../core/errors.js';
import type { ParserLimits } from '../../core/sip/message.js';
import { SipParseError } from '../../core/sip/sip-parse-error.js';
import { StreamFramer } from '../../core/sip/stream-framer.js';
import type { Endpoint, TlsPeer } from '../kernel/contracts.js';
import type { Logger } from '../kernel/module.js';
import { type ListenAddress, type MessageHandler, normaliseIp } from './transport.js';

export interface StreamLimits {
  maxConnections: number;
  maxConnectionsPerSource: number;
  idleTimeoutMs: number;
  slowSenderTimeoutMs: number;
  maxPendingWriteBytes: number;
}

export type StreamCloseReason =
  | 'per-source-cap'
  | 'refused'
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
}

type StreamTransportName = 'tcp' | 'tls';

/**
 * Admission and bookkeeping at accept: the ban check, the per-source cap, the set of open
 * sockets (closed at shutdown). `accept` is called with the socket the TCP accept produced.
 */
export class ConnectionTable {
  private readonly perSource = new Map<string, number>();
  private readonly open = new Set<net.Socket>();
  /** "ip|port" of a connection's peer → its writer, for requests sent to a peer on its own connection */
  private readonly writers = new Map<string, (data: Buffer) => void>();

  constructor(
    private readonly transport: StreamTransportName,
    private readonly opts: Pick<StreamOptions, 'limits' | 'admit' | 'onClose'>,
  ) {}

  /** The source endpoint when admitted; undefined when the socket was refused (and destroyed). */
  accept(sock: net.Socket): Endpoint | undefined {
    const ip = normaliseIp(sock.remoteAddress ?? '');
    const source: Endpoint = { ip, port: sock.remotePort ?? 0, transport: this.transport };
    const refuse = (reason: StreamCloseReason) => {
      this.opts.onClose?.(source, reason);
      sock.destroy();
      return undefined;
    };
    if (ip === '' || (this.opts.admit && !this.opts.admit(ip))) return refuse('refused');
    const n = this.perSource.get(ip) ?? 0;
    if (n >= this.opts.limits.maxConnectionsPerSource) return refuse('per-source-cap');
    this.perSource.set(ip, n + 1);
    this.open.add(sock);
    sock.on('error', () => undefined);
    sock.once('close', () => {
      this.open.delete(sock);
      const left = (this.perSource.get(ip) ?? 1) - 1;
      if (left <= 0) this.perSource.delete(ip);
      else this.perSource.set(ip, left);
    });
    return source;
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

  counts(): { total: number; sources: number } {
    return { total: this.open.size, sources: this.perSource.size };
  }

  destroyAll(): void {
    for (const s of this.open) s.destroy();
  }
}

/**
 * Serve SIP on one admitted connection: messages cut by Content-Length go to `onMessage` with a
 * reply function that writes back on this connection (and `table.sendTo` reaches it too). `sock` is the plain socket (TCP) or the
 * TLSSocket after its handshake (TLS); `tlsPeer` is handed along with every message.
 */
export function serveStream(
  sock: net.Socket,
  source: Endpoint,
  local: Endpoint,
  onMessage: MessageHandler,
  opts: StreamOptions,
  extra: { table?: ConnectionTable; tlsPeer?: TlsPeer } = {},
): void {
  const { tlsPeer } = extra;
  const { limits, log } = opts;
  const kind = source.transport.toUpperCase();
  const framer = new StreamFramer(opts.parser);
  let slowTimer: NodeJS.Timeout | undefined;
  let closedBy: StreamCloseReason | undefined;
  const closeFor = (reason: StreamCloseReason, detail?: string) => {
    if (closedBy !== undefined) return;
    closedBy = reason;
    opts.onClose?.(source, reason, detail);
    sock.destroy();
  };
  const reply = (out: Buffer) => {
    if (sock.destroyed || !sock.writable) return;
    if (sock.writableLength + out.length > limits.maxPendingWriteBytes) return closeFor('write-backlog');
    sock.write(out);
  };

  extra.table?.register(sock, source, reply);
  sock.setTimeout(limits.idleTimeoutMs, () => closeFor('idle-timeout'));
  sock.on('data', (chunk: Buffer) => {
    let messages: Buffer[];
    try {
      messages = framer.push(chunk);
    } catch (e) {
      if (e instanceof SipParseError) return closeFor('framing-error', e.reason);
      log.error(`${kind} framing failed`, { error: e instanceof Error ? e.message : String(e) });
      return closeFor('framing-error', 'internal');
    }
    for (const data of messages) {
      if (sock.destroyed) return;
      try {
        onMessage(tlsPeer === undefined ? { data, source, local, reply } : { data, source, local, reply, tlsPeer });
      } catch (e) {
        log.error(`${kind} message handler threw`, { error: e instanceof Error ? e.message : String(e) });
      }
    }
    if (sock.destroyed) return;
    // Bad bytes after complete messages: those were answered above; now the connection goes.
    if (framer.error !== undefined) return closeFor('framing-error', framer.error.reason);
    // A message has started: it must be complete within slowSenderTimeoutMs.
    if (framer.buffered > 0) {
      slowTimer ??= setTimeout(() => closeFor('slow-sender', `${framer.buffered} bytes pending`), limits.slowSenderTimeoutMs);
    } else if (slowTimer !== undefined) {
      clearTimeout(slowTimer);
      slowTimer = undefined;
    }
  });
  sock.on('error', () => undefined);
  sock.on('close', () => {
    if (slowTimer !== undefined) clearTimeout(slowTimer);
  });
}

/** Bind a stream server (net.Server or tls.Server) to `addr`; the endpoint actually bound. */
export async function bindStreamServer(server: net.Server, addr: ListenAddress, log: Logger): Promise<Endpoint> {
  const transport = addr.transport as StreamTransportName;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new ConnectionError('SIP_LISTEN_FAILED', `cannot listen on ${transport}:${addr.host}:${addr.port}: ${e.code ?? e.message}`, { cause: e })));
    server.listen({ host: addr.host, port: addr.port, ipv6Only: net.isIPv6(addr.host), exclusive: true, backlog: 511 }, () => resolve());
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
