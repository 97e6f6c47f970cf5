/**
 * Where a forwarded message leaves from and how it gets there.
 *
 * UDP: requests leave from a listening socket (responses come back to the Via we put on, on that
 * same socket); the sockets are learnt from the datagrams they deliver (each carries `sendTo`).
 * sipd --workers: `local` (Via, Record-Route) is the worker's private port, but `sendTo` is the
 * shared port's socket — a phone behind NAT takes packets only from the address it registered to
 * (transport/udp.ts relays a response sent to the shared port to the worker its Via names).
 * TCP / TLS: a message to a peer goes over the connection that peer opened to sipd (the one its
 * REGISTER or INVITE came in on — RFC 5626-style connection reuse, what Kamailio does by
 * default). sipd opens no outbound stream connections: a stream destination without a connection
 * is unreachable (the caller gets 480 / 503).
 *
 * The stream table holds open connections only: an entry is removed when its connection closes
 * (an entry keeps the connection's socket, framer and timers reachable — 70,000 short TCP
 * connections once held 340 MB of dead sockets here, issue 18). `maxStreams` is a second bound
 * (least recently used forgotten) for a transport that gives no close notice.
 */
import net from 'node:net';
import type { Endpoint } from '../../kernel/contracts.js';
import type { Inbound, StreamConnection } from '../../transport/transport.js';

type SendTo = (to: { ip: string; port: number }, data: Buffer) => void;

export interface Outbound {
  /** the local socket the message leaves from (for Via / Record-Route) */
  local: Endpoint;
  reliable: boolean;
  send(data: Buffer): boolean;
}

interface StreamEntry {
  local: Endpoint;
  reply: (d: Buffer) => void;
  conn: StreamConnection | undefined;
}

const key = (e: Endpoint) => `${e.transport}:${e.ip}:${e.port}`;

export const DEFAULT_MAX_STREAMS = 65_536;

export class SipSender {
  private readonly udp = new Map<string, { local: Endpoint; sendTo: SendTo }>();
  private readonly streams = new Map<string, StreamEntry>();

  constructor(private readonly maxStreams = DEFAULT_MAX_STREAMS) {}

  /** Remember the socket (UDP) or connection (TCP/TLS) a message arrived on. */
  learn(m: Inbound): void {
    if (m.source.transport === 'udp') {
      const { sendTo, egress } = m as Inbound & { sendTo?: SendTo; egress?: Endpoint };
      const k = key(m.local);
      // sipd --workers: Via / Record-Route name the worker's private port (egress); sendTo is the shared socket
      if (sendTo !== undefined && !this.udp.has(k)) this.udp.set(k, { local: egress ?? m.local, sendTo });
      return;
    }
    const conn = m.connection;
    if (conn?.closed) return;
    const k = key(m.source);
    const had = this.streams.get(k);
    // Same connection: only move it to the recent end (one close listener per connection, not per message).
    const entry = had !== undefined && had.conn === conn && conn !== undefined ? had : { local: m.local, reply: m.reply, conn };
    this.streams.delete(k);
    this.streams.set(k, entry);
    if (entry !== had && conn !== undefined) {
      conn.onClose(() => {
        if (this.streams.get(k) === entry) this.streams.delete(k);
      });
    }
    if (this.streams.size > this.maxStreams) this.streams.delete(this.streams.keys().next().value as string);
  }

  /** The way to `dest`, leaving from `prefer` when it can; undefined when nothing reaches it. */
  path(dest: Endpoint, prefer?: Endpoint): Outbound | undefined {
    if (dest.transport === 'udp') {
      const v6 = net.isIPv6(dest.ip);
      let pick: { local: Endpoint; sendTo: SendTo } | undefined;
      if (prefer !== undefined && prefer.transport === 'udp') {
        const p = this.udp.get(key(prefer));
        if (p !== undefined && net.isIPv6(p.local.ip) === v6) pick = p;
      }
      if (pick === undefined) for (const u of this.udp.values()) if (net.isIPv6(u.local.ip) === v6) { pick = u; break; }
      if (pick === undefined) return undefined;
      const { local, sendTo } = pick;
      return { local, reliable: false, send: (d) => (sendTo({ ip: dest.ip, port: dest.port }, d), true) };
    }
    const c = this.streams.get(key(dest));
    if (c === undefined) return undefined;
    return { local: c.local, reliable: true, send: (d) => (c.reply(d), true) };
  }

  /** UDP sockets known (one per listen address that has received something). */
  locals(): Endpoint[] {
    return [...this.udp.values()].map((u) => u.local);
  }

  /** Stream connections remembered (open ones only, unless a transport gave no close notice). */
  streamCount(): number {
    return this.streams.size;
  }
}
