/**
 * SIP OPTIONS "ping" (kamctl ping, sipsak -s): send OPTIONS to a URI over UDP, TCP or TLS, time
 * the final reply, and summarise several like ping(8). Replies are parsed by the project's SIP
 * parser (and, on streams, framed by its StreamFramer); a reply counts when its Call-ID and CSeq
 * match the request. UDP retransmits per RFC 3261 timer A (500 ms, doubling) until the timeout.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { ConnectionError, UsageError } from '../errors.js';
import { parseMessage } from './parser.js';
import { StreamFramer } from './stream-framer.js';
import { parseUri, type SipUri } from './uri.js';

export type PingTransport = 'udp' | 'tcp' | 'tls';

export interface PingTarget {
  /** the Request-URI sent */
  uri: string;
  host: string;
  /** resolved address */
  address: string;
  port: number;
  transport: PingTransport;
}

export interface PingReply {
  seq: number;
  status: number;
  reason: string;
  rttMs: number;
  /** Server or User-Agent of the reply, if any */
  server?: string;
}

export interface PingSummary {
  sent: number;
  received: number;
  /** percent, 0-100 */
  lossPercent: number;
  minMs: number | null;
  avgMs: number | null;
  maxMs: number | null;
}

export const PING_USER_AGENT = 'sipctl-ping';

/**
 * "sip:host[:port][;transport=tcp]", "sips:host" (TLS) or a bare "host[:port]"; `transport`
 * overrides the URI's. Default port 5060, 5061 for TLS.
 */
export function parsePingUri(input: string, transport?: PingTransport): Omit<PingTarget, 'address'> {
  const text = /^sips?:/i.test(input) ? input : `sip:${input}`;
  let uri: SipUri;
  try {
    const u = parseUri(text);
    if (u.kind !== 'sip') throw new Error('not a SIP URI');
    uri = u;
  } catch (e) {
    throw new UsageError('BAD_URI', `"${input}" is not a SIP URI: ${(e as Error).message}`, 'e.g. sip:proxy.example.com, sip:10.0.0.1:5080;transport=tcp or sips:proxy.example.com');
  }
  const param = uri.params.get('transport')?.toLowerCase();
  let t: PingTransport = transport ?? (uri.scheme === 'sips' ? 'tls' : param === 'tcp' ? 'tcp' : param === 'tls' ? 'tls' : 'udp');
  if (!transport && param && !['udp', 'tcp', 'tls'].includes(param)) throw new UsageError('BAD_TRANSPORT', `transport=${param} is not supported (udp, tcp, tls)`);
  if (uri.scheme === 'sips' && t !== 'tls') t = 'tls';
  const port = uri.port ?? (t === 'tls' ? 5061 : 5060);
  const hostText = uri.hostType === 'ipv6' ? `[${uri.host}]` : uri.host;
  const scheme = t === 'tls' && uri.scheme === 'sips' ? 'sips' : 'sip';
  const userPart = uri.user ? `${uri.user}@` : '';
  const tp = t === 'udp' || scheme === 'sips' ? '' : `;transport=${t}`;
  return { uri: `${scheme}:${userPart}${hostText}:${port}${tp}`, host: uri.host, port, transport: t };
}

export async function resolveTarget(t: Omit<PingTarget, 'address'>): Promise<PingTarget> {
  if (net.isIP(t.host)) return { ...t, address: t.host };
  try {
    const { address } = await lookup(t.host);
    return { ...t, address };
  } catch (e) {
    throw new ConnectionError('HOST_NOT_FOUND', `cannot resolve ${t.host}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** ping(8)'s summary of a run. */
export function summarize(sent: number, rtts: number[]): PingSummary {
  const received = rtts.length;
  const r = (n: number) => Math.round(n * 1000) / 1000;
  return {
    sent,
    received,
    lossPercent: sent === 0 ? 0 : r(((sent - received) / sent) * 100),
    minMs: received ? r(Math.min(...rtts)) : null,
    avgMs: received ? r(rtts.reduce((a, b) => a + b, 0) / received) : null,
    maxMs: received ? r(Math.max(...rtts)) : null,
  };
}

const hostPart = (ip: string) => (net.isIPv6(ip) ? `[${ip}]` : ip);

/** One OPTIONS request's text. */
export function optionsRequest(o: { uri: string; transport: PingTransport; localAddress: string; localPort: number; callId: string; tag: string; branch: string; cseq: number }): string {
  const viaTransport = o.transport.toUpperCase();
  return [
    `OPTIONS ${o.uri} SIP/2.0`,
    `Via: SIP/2.0/${viaTransport} ${hostPart(o.localAddress)}:${o.localPort};branch=z9hG4bK${o.branch};rport`,
    'Max-Forwards: 70',
    `From: <sip:ping@${hostPart(o.localAddress)}>;tag=${o.tag}`,
    `To: <${o.uri}>`,
    `Call-ID: ${o.callId}`,
    `CSeq: ${o.cseq} OPTIONS`,
    `User-Agent: ${PING_USER_AGENT}`,
    'Accept: application/sdp',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

interface Waiter {
  callId: string;
  cseq: number;
  resolve: (r: { status: number; reason: string; server?: string } | undefined) => void;
}

/**
 * One connection (UDP socket, TCP or TLS stream) to the target, kept for every ping of a run, as
 * sipsak and a phone's keep-alive do.
 */
export class OptionsPinger {
  private readonly target: PingTarget;
  private readonly timeoutMs: number;
  private readonly tlsOpts: { caFile?: string; insecure?: boolean };
  private udp?: dgram.Socket;
  private stream?: net.Socket;
  private waiters: Waiter[] = [];
  private local = { address: '0.0.0.0', port: 0 };
  /** why the last ping got no answer, when the network said so (ICMP port unreachable, reset) */
  lastErrno?: string;
  private readonly tag = randomBytes(5).toString('hex');
  private readonly callBase = randomBytes(8).toString('hex');

  constructor(target: PingTarget, opts: { timeoutMs: number; caFile?: string; insecure?: boolean }) {
    this.target = target;
    this.timeoutMs = opts.timeoutMs;
    this.tlsOpts = { caFile: opts.caFile, insecure: opts.insecure };
  }

  private deliver(buf: Buffer): void {
    let msg;
    try {
      msg = parseMessage(buf);
    } catch {
      return; // not SIP: not a reply to us
    }
    if (msg.type !== 'response' || msg.status < 200) return;
    const i = this.waiters.findIndex((w) => w.callId === msg.callId && w.cseq === msg.cseq?.seq);
    if (i < 0) return;
    const server = msg.headers.find((h) => /^(server|user-agent)$/i.test(h.name))?.value;
    this.waiters.splice(i, 1)[0]!.resolve({ status: msg.status, reason: msg.reason, ...(server ? { server } : {}) });
  }

  private fail(): void {
    for (const w of this.waiters.splice(0)) w.resolve(undefined);
  }

  async open(): Promise<void> {
    const t = this.target;
    const family = net.isIPv6(t.address) ? 6 : 4;
    if (t.transport === 'udp') {
      const sock = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
      await new Promise<void>((resolve, reject) => {
        sock.once('error', reject);
        sock.connect(t.port, t.address, () => {
          sock.off('error', reject);
          resolve();
        });
      });
      // ICMP port unreachable on a connected socket: nobody listens there, no answer will come.
      sock.on('error', (e: NodeJS.ErrnoException) => {
        this.lastErrno = e.code;
        this.fail();
      });
      sock.on('message', (m) => this.deliver(m));
      this.udp = sock;
      const a = sock.address();
      this.local = { address: a.address, port: a.port };
      return;
    }
    const framer = new StreamFramer();
    const s = await new Promise<net.Socket>((resolve, reject) => {
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new ConnectionError('SIP_TIMEOUT', `no ${t.transport.toUpperCase()} connection to ${hostPart(t.address)}:${t.port} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      const onErr = (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new ConnectionError('SIP_UNREACHABLE', `cannot connect to ${hostPart(t.address)}:${t.port} over ${t.transport.toUpperCase()}: ${e.code ?? e.message}${e.code === 'ECONNREFUSED' ? ' (nothing listens there)' : ''}`, { cause: e }));
      };
      const sock: net.Socket =
        t.transport === 'tls'
          ? tls.connect({
              host: t.address,
              port: t.port,
              servername: net.isIP(t.host) ? undefined : t.host,
              ca: this.tlsOpts.caFile ? readFileSync(this.tlsOpts.caFile) : undefined,
              rejectUnauthorized: !this.tlsOpts.insecure,
            }, () => {
              clearTimeout(timer);
              sock.off('error', onErr);
              resolve(sock);
            })
          : net.connect({ host: t.address, port: t.port }, () => {
              clearTimeout(timer);
              sock.off('error', onErr);
              resolve(sock);
            });
      sock.once('error', onErr);
    });
    s.on('data', (d: Buffer) => {
      try {
        for (const m of framer.push(d)) this.deliver(m);
      } catch {
        s.destroy();
      }
    });
    s.on('error', (e: NodeJS.ErrnoException) => {
      this.lastErrno = e.code;
      this.fail();
    });
    s.on('close', () => {
      this.lastErrno ??= 'connection closed';
      this.fail();
    });
    this.stream = s;
    this.local = { address: s.localAddress ?? '0.0.0.0', port: s.localPort ?? 0 };
  }

  /** Send OPTIONS number `seq` (from 1); resolves with the final reply, or undefined after the timeout. */
  async ping(seq: number): Promise<PingReply | undefined> {
    const callId = `${this.callBase}-${seq}@sipctl`;
    const data = optionsRequest({ uri: this.target.uri, transport: this.target.transport, localAddress: this.local.address, localPort: this.local.port, callId, tag: this.tag, branch: randomBytes(6).toString('hex'), cseq: seq });
    const t0 = performance.now();
    const r = await new Promise<{ status: number; reason: string; server?: string } | undefined>((resolve) => {
      let retrans: NodeJS.Timeout | undefined;
      let interval = 500;
      const done = (v: { status: number; reason: string; server?: string } | undefined) => {
        clearTimeout(deadline);
        if (retrans) clearTimeout(retrans);
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(v);
      };
      const waiter: Waiter = { callId, cseq: seq, resolve: done };
      const deadline = setTimeout(() => done(undefined), this.timeoutMs);
      this.waiters.push(waiter);
      if (this.udp) {
        const fire = () => {
          this.udp?.send(data);
          retrans = setTimeout(fire, interval);
          interval = Math.min(interval * 2, 4000);
        };
        fire();
      } else if (this.stream && !this.stream.destroyed) {
        this.stream.write(data);
      } else done(undefined);
    });
    if (!r) return undefined;
    return { seq, ...r, rttMs: Math.round((performance.now() - t0) * 1000) / 1000 };
  }

  close(): void {
    this.fail();
    this.udp?.close();
    this.stream?.destroy();
  }
}
