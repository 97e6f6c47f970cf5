/**
 * Kamailio's `myself`: is this host (and port) the proxy itself? True for every address sipd
 * listens on (all local interface addresses when it listens on 0.0.0.0 or ::) and for every
 * configured domain. With a port, the port must be one sipd listens on; without one, the host
 * alone decides (a SIP URI without a port means the default port, which a proxy on another port
 * still answers for in practice — Kamailio does the same unless told to be strict).
 */
import net from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Endpoint } from './contracts.js';
import { normaliseIp } from '../transport/transport.js';

export class Myself {
  private readonly hosts = new Set<string>();
  private readonly ports = new Set<number>();

  constructor(listening: readonly Endpoint[], domains: readonly string[], interfaces: () => string[] = localAddresses) {
    for (const e of listening) {
      this.ports.add(e.port);
      if (e.ip === '0.0.0.0' || e.ip === '::') {
        for (const a of interfaces()) if ((e.ip === '::') === net.isIPv6(a) || e.ip === '::') this.hosts.add(normaliseIp(a));
      } else this.hosts.add(normaliseIp(e.ip));
    }
    for (const d of domains) this.hosts.add(d.toLowerCase());
  }

  isMyself(host: string, port?: number): boolean {
    if (typeof host !== 'string' || host.length === 0 || host.length > 255) return false;
    // Most requests name the proxy exactly as it is listed: no normalising needed.
    if (this.hosts.has(host)) return port === undefined || this.ports.has(port);
    const h = net.isIP(host.replace(/^\[|\]$/g, '')) !== 0 ? normaliseIp(host) : host.toLowerCase().replace(/\.$/, '');
    if (!this.hosts.has(h)) return false;
    return port === undefined || this.ports.has(port);
  }

  /** every host name / address matched, for the log at start */
  list(): string[] {
    return [...this.hosts];
  }
}

/** every address of this machine's interfaces (os.networkInterfaces), without IPv6 zone ids */
export function localAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.push(a.address.split('%')[0]);
  return out;
}
