/**
 * SIP over TCP (RFC 3261 §18.3): messages on a connection are cut by Content-Length, which is
 * required there; a connection may carry any number of messages, and replies go back on it.
 * The framing and every bound (per-source and total connection caps, idle and slow-sender
 * timeouts, write backlog, the ban check at accept) live in stream.ts, shared with SIP over TLS.
 */
import net from 'node:net';
import { ConnectionTable, bindStreamServer, serveStream, streamCloser, type StreamCloseReason, type StreamLimits, type StreamOptions } from './stream.js';
import type { ListenAddress, MessageHandler, SipTransport } from './transport.js';

export type TcpLimits = StreamLimits;

export const DEFAULT_TCP_LIMITS: Readonly<TcpLimits> = Object.freeze({
  maxConnections: 2048,
  maxConnectionsPerSource: 32,
  idleTimeoutMs: 120_000,
  slowSenderTimeoutMs: 10_000,
  keepaliveMinIntervalMs: 30_000,
  maxPendingWriteBytes: 256 * 1024,
});

/** Why a stream connection was closed by the transport (TCP, and TLS's handshake reasons). */
export type TcpCloseReason = StreamCloseReason;

export type TcpOptions = StreamOptions;

export interface TcpTransport extends SipTransport {
  /** open connections, and per source (for tests and status) */
  connections(): { total: number; sources: number; writers: number };
  /** send on the open connection from `to` (e.g. a request to a client registered over it); false when there is none */
  sendTo(to: { ip: string; port: number }, data: Buffer): boolean;
}

export async function listenTcp(addr: ListenAddress, onMessage: MessageHandler, opts: TcpOptions): Promise<TcpTransport> {
  const table = new ConnectionTable('tcp', opts);
  let local = { ip: addr.host, port: addr.port, transport: 'tcp' as const };
  const server = net.createServer({ noDelay: true }, (sock) => {
    const source = table.accept(sock);
    if (source !== undefined) serveStream(sock, source, local, onMessage, opts, { table });
  });
  // No server.maxConnections: Node would refuse new connections silently at the cap; the table
  // admits them by closing the least recently active one instead.
  const bound = await bindStreamServer(server, addr, opts.log);
  local = { ...bound, transport: 'tcp' };
  return {
    local,
    // no sendTo: a stream peer is reached only over the connection it opened (sendTo below)
    socket: { local, advertised: local },
    connections: () => table.counts(),
    sendTo: (to, data) => table.sendTo(to, data),
    close: streamCloser(server, table),
  };
}
