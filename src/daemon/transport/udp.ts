/**
 * SIP over UDP (RFC 3261 §18): one datagram is one message. The socket is bound to one address;
 * every datagram goes to the handler with its source, and the reply goes back to the source
 * address and port (symmetric response routing, RFC 3581 style — what Kamailio's force_rport
 * gives). A datagram larger than the parser's limit is refused by the parser, not here.
 * Requests the proxy forwards or originates leave from the same socket: the transport's `socket`
 * (SipSocket: its sendTo), which the kernel hands to modules as CoreApi.sipSockets from start.
 */
import dgram from 'node:dgram';
import dns from 'node:dns';
import net from 'node:net';
import { ConnectionError } from '../../core/errors.js';
import type { Endpoint, SipSocket } from '../kernel/contracts.js';
import type { Logger } from '../kernel/module.js';
import { isUnspecified } from '../../core/address/ip.js';
import { type Inbound, type ListenAddress, type MessageHandler, type SipTransport, normaliseIp } from './transport.js';

/**
 * The port of a response's top Via when it is a UDP Via naming `ip` (sipd --workers: another
 * worker's private port, see listenUdp); undefined for a request or any other Via. Reads the head
 * only, as text, without the parser: it runs before the message is handed to anyone. A socket
 * bound to every address (0.0.0.0, ::) takes any host: its Vias name the interface address
 * towards each destination (route-source.ts); the port must still be a sibling's private port.
 */
export function relayTarget(data: Buffer, ip: string): number | undefined {
  if (data.length < 12 || data.toString('latin1', 0, 8) !== 'SIP/2.0 ') return undefined;
  let end = data.indexOf('\r\n\r\n');
  if (end < 0 || end > 8192) end = Math.min(data.length, 8192);
  const m = /\r\n(?:via|v)[ \t]*:[ \t]*SIP[ \t]*\/[ \t]*2\.0[ \t]*\/[ \t]*UDP[ \t]+(\[[0-9A-Fa-f:.]+\]|[^\s;:,]+)[ \t]*:[ \t]*(\d{1,5})/i.exec(data.toString('latin1', 0, end));
  if (m === null) return undefined;
  const host = m[1]!.startsWith('[') ? normaliseIp(m[1]!) : m[1]!;
  return host === ip || isUnspecified(ip) ? Number(m[2]) : undefined;
}

/** A bound UDP address: its `socket` sends from it (and, with egress, names the private port). */
export interface UdpTransport extends SipTransport {
  /** sipd --workers: the private port (UdpOptions.egress), a local address too (myself) */
  readonly egress?: Endpoint;
}

/**
 * sipd --workers' response relay as a UDP transport uses it (workers.ts, WorkerRelay): a response
 * taken at the shared port for another worker goes to that worker's private port with a header in
 * front, which the private port checks and takes off.
 */
export interface UdpRelay {
  /** this process's private address, once bound */
  announce(ip: string, port: number): void;
  /** another worker's private address */
  sibling(ip: string, port: number): boolean;
  /** the header a relayed datagram carries (its original source); undefined while relaying is not set up */
  header(source: { ip: string; port: number }): Buffer | undefined;
  /** a relayed datagram's original source and message; undefined when it is not one */
  unwrap(data: Buffer): { ip: string; port: number; data: Buffer } | undefined;
}

export interface UdpOptions {
  /** SO_RCVBUF (config sip.udpReceiveBuffer); default 4 MiB, so a burst waits in the kernel rather than being lost */
  recvBufferSize?: number;
  log: Logger;
  /**
   * sipd --workers (a reusePort address): this worker's response relay, given by whoever builds
   * the transport. With it, also bind a private socket on the same IP (any free port) that this
   * process's forwarded requests name in Via and Record-Route. Their responses (to our Via) and the
   * dialog's in-dialog requests (to our Record-Route) then come back to this process, which holds
   * the transactions and dialogs, instead of to whichever worker the kernel's hash would pick. The
   * requests leave from the shared socket (NAT, issue 14); a response sent to the shared port
   * anyway is relayed with it to the worker its top Via names (workers.ts, WorkerRelay).
   */
  egress?: UdpRelay;
}

export async function listenUdp(addr: ListenAddress, onMessage: MessageHandler, opts: UdpOptions): Promise<UdpTransport> {
  const v6 = net.isIPv6(addr.host);
  // Replies go to the address a request came from, always an IP literal: dgram's default lookup
  // would still run it through dns.lookup and send one tick later; this one answers at once and
  // asks DNS only for a name.
  const lookup = (host: string, family: number, cb: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void => {
    const f = net.isIP(host);
    if (f !== 0) cb(null, host, f);
    else dns.lookup(host, family, cb);
  };
  // reusePort (sipd --workers, Node.js >= 22.12): several processes on one port, the kernel
  // choosing one per source address and port. Older Node ignores the option (checked in workers.ts).
  const socket = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: v6, reuseAddr: false, lookup: lookup as never, ...(addr.reusePort === true ? { reusePort: true } : {}) } as dgram.SocketOptions);
  await new Promise<void>((resolve, reject) => {
    socket.once('error', (e: NodeJS.ErrnoException) => reject(new ConnectionError('SIP_LISTEN_FAILED', `cannot listen on udp:${addr.host}:${addr.port}: ${e.code ?? e.message}`, { cause: e })));
    socket.bind({ address: addr.host, port: addr.port, exclusive: true }, () => resolve());
  });
  try {
    socket.setRecvBufferSize(opts.recvBufferSize ?? 4 * 1024 * 1024);
  } catch (e) {
    opts.log.debug('could not set the UDP receive buffer size', { error: (e as Error).message });
  }
  const bound = socket.address();
  const local: Endpoint = { ip: normaliseIp(bound.address), port: bound.port, transport: 'udp' };
  // Sends go without a callback (a callback costs a closure and a process.nextTick per datagram);
  // a failed send then arrives here, with syscall 'send', and is only worth a debug line: UDP
  // gives no delivery guarantee anyway and the client retransmits.
  socket.on('error', (e: NodeJS.ErrnoException) => {
    if (e.syscall === 'send') opts.log.debug('UDP send failed', { local: `${local.ip}:${local.port}`, error: e.message });
    else opts.log.error('UDP socket error', { local: `${local.ip}:${local.port}`, error: e.message });
  });
  // Once close() has begun, a reply that was still being worked on (a REGISTER waiting for the
  // database at SIGTERM) is dropped: dgram's send() on a closed socket throws
  // ERR_SOCKET_DGRAM_NOT_RUNNING synchronously, which would escape as an uncaught exception from
  // whatever callback finished the work, and the client retransmits to the next sipd anyway.
  let closed = false;
  const send = (out: Buffer, port: number, ip: string): void => {
    if (closed) {
      opts.log.debug('UDP send after close dropped', { local: `${local.ip}:${local.port}`, to: `${ip}:${port}` });
      return;
    }
    socket.send(out, port, ip);
  };
  // Requests a proxy forwards leave from this socket too (responses come back to our Via here).
  const sendTo = (to: { ip: string; port: number }, out: Buffer) => send(out, to.port, to.ip);
  const relay = opts.egress;
  // where relayed responses go and come from: the listen IP, or loopback for 0.0.0.0 / ::
  const relayIp = isUnspecified(local.ip) ? (v6 ? '::1' : '127.0.0.1') : local.ip;
  socket.on('message', (data, rinfo) => {
    // An IPv4 socket only ever reports dotted-quad sources, which normaliseIp returns unchanged.
    const source: Endpoint = { ip: v6 ? normaliseIp(rinfo.address) : rinfo.address, port: rinfo.port, transport: 'udp' };
    // sipd --workers: a response here came from a UA that answers to the source address rather
    // than to Via: when its top Via names another worker's private port, that worker holds the
    // transaction (no sibling is known before the primary sent the key, after egress is bound).
    if (relay !== undefined && data[0] === 0x53 /* S */) {
      const to = relayTarget(data, local.ip);
      if (to !== undefined && relay.sibling(local.ip, to)) {
        const head = relay.header(source);
        if (head !== undefined) return send(Buffer.concat([head, data]), to, relayIp);
      }
    }
    const inbound: Inbound = { data, source, local, reply: (out: Buffer) => send(out, rinfo.port, rinfo.address) };
    try {
      onMessage(inbound);
    } catch (e) {
      opts.log.error('UDP message handler threw', { error: e instanceof Error ? e.message : String(e) });
    }
  });
  let egress: SipTransport | undefined;
  if (relay !== undefined) {
    // sipd --workers (see workers.ts): Via and Record-Route name the private port, so responses
    // and in-dialog requests come back to this worker; requests still leave from the shared port
    // (sendTo), the address a phone behind NAT registered to and takes packets from. The private
    // socket's own listener hands its messages on (and catches what the handler throws).
    egress = await listenUdp({ transport: 'udp', host: addr.host, port: 0 }, (m) => {
      // a response another worker took at the shared port and relayed here (only from the shared
      // address, with the workers' key); anything else that starts with NUL is dropped
      if (m.data[0] === 0) {
        const r = m.source.ip === relayIp && m.source.port === local.port ? relay.unwrap(m.data) : undefined;
        if (r === undefined) return opts.log.debug('UDP datagram dropped: not a relayed response', { from: `${m.source.ip}:${m.source.port}` });
        return onMessage({ data: r.data, source: { ip: r.ip, port: r.port, transport: 'udp' }, local, reply: (out) => send(out, r.port, r.ip) });
      }
      onMessage(m);
    }, { ...opts, egress: undefined });
    relay.announce(egress.local.ip, egress.local.port);
  }
  const socket_: SipSocket = { local, advertised: egress?.local ?? local, sendTo };
  return {
    local,
    socket: socket_,
    ...(egress !== undefined ? { egress: egress.local } : {}),
    close: async () => {
      await egress?.close();
      await new Promise<void>((resolve) => {
        if (closed) return resolve();
        closed = true;
        socket.close(() => resolve());
      });
    },
  };
}
