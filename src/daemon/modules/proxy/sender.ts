/**
 * Where a forwarded message leaves from and how it gets there.
 *
 * UDP: requests leave from a listening socket (responses come back to the Via we put on, on that
 * same socket): the kernel's sockets (CoreApi.sipSockets), known from start — a node that has
 * received nothing yet still sends the BYEs of a call it takes over or ends on dialog.endCall.
 * The socket the request that caused it arrived on is preferred, else one on the same IP, else
 * the first of the destination's address family in --listen order.
 * sipd --workers: `local` (Via, Record-Route) is the worker's private port (SipSocket.advertised),
 * but the datagram leaves from the shared port's socket — a phone behind NAT takes packets only
 * from the address it registered to (transport/udp.ts relays a response sent to the shared port
 * to the worker its Via names).
 * A socket bound to every address (0.0.0.0, ::): `local` names the interface address the kernel
 * sends to the destination from (transport/route-source.ts, Kamailio's mhomed), per message —
 * the source address the datagram carries, and one the other side can answer and route to.
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
import type { Endpoint, SipSocket } from '../../kernel/contracts.js';
import { isUnspecified } from '../../../core/address/ip.js';
import { routeSource } from '../../transport/route-source.js';
import type { Inbound, StreamConnection } from '../../transport/transport.js';

type SendTo = (to: { ip: string; port: number }, data: Buffer) => void;

interface UdpWay {
  /** for Via / Record-Route (SipSocket.advertised) */
  local: Endpoint;
  sendTo: SendTo;
  v6: boolean;
}

/** The kernel's UDP sockets, indexed for path(): by bound and advertised address, and in order. */
interface UdpIndex {
  from: readonly SipSocket[];
  byKey: Map<string, UdpWay>;
  all: UdpWay[];
}

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
  private udpIndex: UdpIndex | undefined;
  private readonly streams = new Map<string, StreamEntry>();

  /** `sockets`: the kernel's (CoreApi.sipSockets), read on every send: empty before they are bound and after shutdown */
  constructor(private readonly sockets: () => readonly SipSocket[], private readonly maxStreams = DEFAULT_MAX_STREAMS) {}

  /** The UDP sockets, indexed again only when the kernel's list changed (it is set once at start). */
  private udp(): UdpIndex {
    const list = this.sockets();
    if (this.udpIndex?.from === list) return this.udpIndex;
    const byKey = new Map<string, UdpWay>();
    const all: UdpWay[] = [];
    for (const s of list) {
      if (s.local.transport !== 'udp' || s.sendTo === undefined) continue;
      const way: UdpWay = { local: s.advertised, sendTo: s.sendTo, v6: net.isIPv6(s.local.ip) };
      all.push(way);
      // a request may have arrived on the shared port or on a --workers private port: both lead here
      for (const k of [key(s.local), key(s.advertised)]) if (!byKey.has(k)) byKey.set(k, way);
    }
    this.udpIndex = { from: list, byKey, all };
    return this.udpIndex;
  }

  /** Remember the connection (TCP/TLS) a message arrived on; UDP sockets are the kernel's. */
  learn(m: Inbound): void {
    if (m.source.transport === 'udp') return;
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
      const udp = this.udp();
      let pick: UdpWay | undefined;
      if (prefer !== undefined) {
        const p = prefer.transport === 'udp' ? udp.byKey.get(key(prefer)) : undefined;
        if (p !== undefined && p.v6 === v6) pick = p;
        // a request that came over TCP/TLS (or another port): a UDP socket on the same IP
        else for (const u of udp.all) if (u.v6 === v6 && u.local.ip === prefer.ip) { pick = u; break; }
      }
      if (pick === undefined) for (const u of udp.all) if (u.v6 === v6) { pick = u; break; }
      if (pick === undefined) return undefined;
      const { local, sendTo } = pick;
      return { local: this.named(local, dest.ip), reliable: false, send: (d) => (sendTo({ ip: dest.ip, port: dest.port }, d), true) };
    }
    const c = this.streams.get(key(dest));
    if (c === undefined) return undefined;
    return { local: c.local, reliable: true, send: (d) => (c.reply(d), true) };
  }

  /**
   * The address a message between `local` and `peer` names as ours (Via, Record-Route): `local`
   * itself, or for a socket bound to every address (0.0.0.0, ::) the interface address the kernel
   * sends to `peer` from (the bound address when it finds no route).
   */
  named(local: Endpoint, peer: string): Endpoint {
    if (!isUnspecified(local.ip)) return local;
    const ip = routeSource(peer);
    return ip === undefined ? local : { ...local, ip };
  }

  /** The UDP addresses requests leave from, as Via / Record-Route name them (one per UDP listen address). */
  locals(): Endpoint[] {
    return this.udp().all.map((u) => u.local);
  }

  /** Stream connections remembered (open ones only, unless a transport gave no close notice). */
  streamCount(): number {
    return this.streams.size;
  }
}
