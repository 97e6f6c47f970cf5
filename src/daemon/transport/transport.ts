/**
 * The SIP transport interface (habit 10: two methods): a transport delivers each whole message
 * (a datagram, or one message cut from a stream by Content-Length) to the kernel's handler with
 * where it came from and a way to answer on the same path; the kernel can `close` it.
 */
import net from 'node:net';
import { ConfigError } from '../../core/errors.js';
import type { Endpoint, SipSocket, SipTransportName, TlsPeer } from '../kernel/contracts.js';

export interface Inbound {
  data: Buffer;
  source: Endpoint;
  local: Endpoint;
  /** send bytes back to the source on the path the message came in (UDP: to source ip:port; TCP: the same connection) */
  reply(data: Buffer): void;
  /** TLS only: the client certificate the connection presented (absent when it sent none) */
  tlsPeer?: TlsPeer;
  /** TCP/TLS only: the connection the message came in on, so what remembers it can forget it when it closes */
  connection?: StreamConnection;
}

/** One open stream connection, as modules that keep a reference to it (the proxy's sender table) see it. */
export interface StreamConnection {
  readonly closed: boolean;
  /** `listener` runs once, when the connection closes (at once when it already has) */
  onClose(listener: () => void): void;
}

export type MessageHandler = (m: Inbound) => void;

export interface SipTransport {
  /** the address actually bound (port resolved when 0 was asked for) */
  readonly local: Endpoint;
  /** the socket as modules see it (CoreApi.sipSockets): what requests sent from it name, and (UDP) how to send */
  readonly socket: SipSocket;
  /** stop receiving and release the socket; pending replies are dropped */
  close(): Promise<void>;
}

export interface ListenAddress {
  transport: SipTransportName;
  /** IP literal, IPv6 without brackets */
  host: string;
  port: number;
  /** bind with SO_REUSEPORT (sipd --workers; Node.js >= 22.12) */
  reusePort?: boolean;
}

/**
 * Parse a --listen value: `udp:IP[:PORT]`, `tcp:IP[:PORT]` or `tls:IP[:PORT]`, IPv6 in brackets
 * (`udp:[::1]:5060`). The host must be an IP literal: sipd resolves no names at start-up.
 * The port defaults to 5060 (5061 for tls, RFC 3261 §19.1.2); port 0 asks the kernel for a free port.
 */
export function parseListen(text: string): ListenAddress {
  const t = text.trim();
  const m = /^(udp|tcp|tls):(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+))(?::([0-9]{1,5}))?$/i.exec(t);
  if (!m) {
    throw new ConfigError('LISTEN_INVALID', `listen ${JSON.stringify(t.slice(0, 80))}: expected udp:IP:PORT, tcp:IP:PORT or tls:IP:PORT (IPv6 in brackets)`, 'e.g. udp:127.0.0.1:5060, tcp:[::1]:5060, tls:127.0.0.1:5061');
  }
  const host = m[2] ?? m[3];
  if (net.isIP(host) === 0 || (m[2] !== undefined && !net.isIPv6(host))) {
    throw new ConfigError('LISTEN_INVALID', `listen ${JSON.stringify(t)}: ${host} is not an IP address`);
  }
  const transport = m[1].toLowerCase() as SipTransportName;
  const port = m[4] === undefined ? (transport === 'tls' ? 5061 : 5060) : Number(m[4]);
  if (port > 65535) throw new ConfigError('LISTEN_INVALID', `listen ${JSON.stringify(t)}: port out of range`);
  return { transport, host: normaliseIp(host), port };
}

export function formatListen(a: { transport: string; host: string; port: number }): string {
  return `${a.transport}:${net.isIPv6(a.host) ? `[${a.host}]` : a.host}:${a.port}`;
}

/** Canonical textual IP: IPv4-mapped IPv6 (::ffff:1.2.3.4) becomes the IPv4 form; IPv6 lower-case, compressed. */
export function normaliseIp(ip: string): string {
  if (ip.indexOf(':') === -1 && ip.charCodeAt(0) !== 0x5b) return ip; // IPv4 or a name: nothing to normalise
  const bare = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped) return mapped[1];
  if (net.isIPv6(bare)) {
    try {
      return new URL(`http://[${bare}]/`).hostname.slice(1, -1);
    } catch {
      return bare.toLowerCase();
    }
  }
  return bare;
}
