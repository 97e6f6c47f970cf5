/**
 * The local address the kernel sends from to reach an IP: its routing table's choice, the source
 * address of a datagram sent from a socket bound to every address (0.0.0.0, ::). A proxy listening
 * there must name that address in the Via and Record-Route it sends, never 0.0.0.0 (nobody can
 * answer or route to it). Kamailio's mhomed does the same: connect() a UDP socket to the
 * destination and read getsockname(); no packet is sent.
 *
 * Synchronous, so the proxy's send path stays as it is: one probe socket per address family, whose
 * lookup answers IP literals at once, so dgram's connect() reaches the kernel before it returns
 * (Node.js 20-24; where it would not, routeSource() answers undefined and the caller keeps the
 * bound address). A lookup (connect, getsockname, disconnect, and dgram's bookkeeping) costs
 * about 14 µs of CPU, so answers are kept for CACHE_MS per destination — a call's INVITE, ACK and
 * responses pay one — and a route that changes (a VPN, a new default route) is followed within that.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { isUnspecified } from '../../core/address/ip.js';
import { normaliseIp } from './transport.js';

const probes = new Map<4 | 6, dgram.Socket>();

function probe(family: 4 | 6): dgram.Socket {
  let s = probes.get(family);
  if (s !== undefined) return s;
  const lookup = (host: string, _f: number, cb: (err: NodeJS.ErrnoException | null, address: string, family: number) => void) => cb(null, host, family);
  s = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', ipv6Only: family === 6, lookup: lookup as never });
  // a failed connect (no route) is reported here on the next tick; routeSource() has answered undefined already
  s.on('error', () => undefined);
  s.bind({ address: family === 6 ? '::' : '0.0.0.0', port: 0, exclusive: true });
  s.unref();
  probes.set(family, s);
  return s;
}

const CACHE_MS = 5000;
/** bound on the destinations remembered (a NATed phone population has many): beyond it the cache starts again */
const CACHE_MAX = 16_384;
const cache = new Map<string, { source: string | undefined; until: number }>();

/** The local address datagrams to `ip` leave from; undefined when there is no route (or `ip` is no IP literal). */
export function routeSource(ip: string, now: number = Date.now()): string | undefined {
  const hit = cache.get(ip);
  if (hit !== undefined && hit.until > now) return hit.source;
  const source = lookup(ip);
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(ip, { source, until: now + CACHE_MS });
  return source;
}

function lookup(ip: string): string | undefined {
  const family = net.isIPv4(ip) ? 4 : net.isIPv6(ip) ? 6 : 0;
  if (family === 0) return undefined;
  const s = probe(family);
  try {
    s.connect(9, ip);
  } catch {
    return undefined; // still connected from an earlier call that did not complete at once
  }
  try {
    s.remoteAddress(); // throws unless connected: no route, or a connect() that did not complete at once
  } catch {
    return undefined;
  }
  const a = normaliseIp(s.address().address);
  s.disconnect();
  return isUnspecified(a) ? undefined : a;
}
