/**
 * SIP over TCP (RFC 3261 §18.3): messages on a connection are cut by Content-Length, which is
 * required there; a connection may carry any number of messages, and replies go back on it.
 *
 * Bounds, so a peer cannot hold memory or sockets for free:
 * - per connection, at most one message is buffered, never more than the parser's
 *   maxMessageSize (StreamFramer refuses anything larger and the connection is closed);
 * - idle timeout: a connection with no bytes for `idleTimeoutMs` is closed;
 * - slow-sender timeout: once a message has started, it must be complete within
 *   `slowSenderTimeoutMs` (a slowloris trickle is cut off);
 * - at most `maxConnectionsPerSource` connections per source IP and `maxConnections` in all;
 * - a peer that does not read its replies (more than `maxPendingWriteBytes` queued) is dropped;
 * - a source the kernel refuses (`admit` — e.g. banned in ipban) is closed at accept.
 * A framing error (no Content-Length, oversized, bad bytes) closes the connection: there is no
 * way to find the next message boundary after it.
 */
import net from 'node:net';
import { ConnectionError } from '../../core/errors.js';
import type { ParserLimits } from '../../core/sip/message.js';
import { SipParseError } from '../../core/sip/sip-parse-error.js';
import { StreamFramer } from '../../core/sip/stream-framer.js';
import type { Endpoint } from '../kernel/contracts.js';
import type { Logger } from '../kernel/module.js';
import { type ListenAddress, type MessageHandler, type SipTransport, normaliseIp } from './transport.js';

export interface TcpLimits {
  maxConnections: number;
  maxConnectionsPerSource: number;
  idleTimeoutMs: number;
  slowSenderTimeoutMs: number;
  maxPendingWriteBytes: number;
}

export const DEFAULT_TCP_LIMITS: Readonly<TcpLimits> = Object.freeze({
  maxConnections: 2048,
  maxConnectionsPerSource: 32,
  idleTimeoutMs: 120_000,
  slowSenderTimeoutMs: 10_000,
  maxPendingWriteBytes: 256 * 1024,
});

export type TcpCloseReason = 'per-source-cap' | 'refused' | 'idle-timeout' | 'slow-sender' | 'framing-error' | 'write-backlog';

export interface TcpOptions {
  limits: TcpLimits;
  parser: ParserLimits;
  log: Logger;
  /** false refuses the connection at accept (the source is banned) */
  admit?(ip: string): boolean;
  /** a connection the transport closed for one of its bounds; for counters and security events */
  onClose?(source: Endpoint, reason: TcpCloseReason, detail?: string): void;
}

export interface TcpTransport extends SipTransport {
  /** open connections, and per source (for tests and status) */
  connections(): { total: number; sources: number };
}

export async function listenTcp(addr: ListenAddress, onMessage: MessageHandler, opts: TcpOptions): Promise<TcpTransport> {
  const { limits, log } = opts;
  const perSource = new Map<string, number>();
  const open = new Set<net.Socket>();
  let local: Endpoint = { ip: addr.host, port: addr.port, transport: 'tcp' };

  const server = net.createServer({ noDelay: true }, (sock) => {
    const ip = normaliseIp(sock.remoteAddress ?? '');
    const source: Endpoint = { ip, port: sock.remotePort ?? 0, transport: 'tcp' };
    const refuse = (reason: TcpCloseReason) => {
      opts.onClose?.(source, reason);
      sock.destroy();
    };
    if (ip === '' || (opts.admit && !opts.admit(ip))) return refuse('refused');
    const n = perSource.get(ip) ?? 0;
    if (n >= limits.maxConnectionsPerSource) return refuse('per-source-cap');
    perSource.set(ip, n + 1);
    open.add(sock);

    const framer = new StreamFramer(opts.parser);
    let slowTimer: NodeJS.Timeout | undefined;
    let closedBy: TcpCloseReason | undefined;
    const closeFor = (reason: TcpCloseReason, detail?: string) => {
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

    sock.setTimeout(limits.idleTimeoutMs, () => closeFor('idle-timeout'));
    sock.on('data', (chunk: Buffer) => {
      let messages: Buffer[];
      try {
        messages = framer.push(chunk);
      } catch (e) {
        if (e instanceof SipParseError) return closeFor('framing-error', e.reason);
        log.error('TCP framing failed', { error: e instanceof Error ? e.message : String(e) });
        return closeFor('framing-error', 'internal');
      }
      for (const data of messages) {
        if (sock.destroyed) return;
        try {
          onMessage({ data, source, local, reply });
        } catch (e) {
          log.error('TCP message handler threw', { error: e instanceof Error ? e.message : String(e) });
        }
      }
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
      open.delete(sock);
      const left = (perSource.get(ip) ?? 1) - 1;
      if (left <= 0) perSource.delete(ip);
      else perSource.set(ip, left);
    });
  });
  server.maxConnections = limits.maxConnections;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new ConnectionError('SIP_LISTEN_FAILED', `cannot listen on tcp:${addr.host}:${addr.port}: ${e.code ?? e.message}`, { cause: e })));
    server.listen({ host: addr.host, port: addr.port, ipv6Only: net.isIPv6(addr.host), exclusive: true, backlog: 511 }, () => resolve());
  });
  server.on('error', (e) => log.error('TCP server error', { error: e.message }));
  const bound = server.address() as net.AddressInfo;
  local = { ip: normaliseIp(bound.address), port: bound.port, transport: 'tcp' };
  let closed = false;
  return {
    local,
    connections: () => ({ total: open.size, sources: perSource.size }),
    close: () =>
      new Promise<void>((resolve) => {
        if (closed) return resolve();
        closed = true;
        server.close(() => resolve());
        for (const s of open) s.destroy();
      }),
  };
}
