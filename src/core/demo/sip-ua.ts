/**
 * A minimal SIP user agent over UDP, for the demo (and tests) when no SIP tool is installed:
 * REGISTER with digest authentication (RFC 3261 §22, qop=auth, MD5 or SHA-256 — the HA1 and
 * response come from sipd's own digest code), and a bounded OPTIONS burst to show pike's flood
 * ban. Loopback only: every address it binds or sends to must be in 127.0.0.0/8 or ::1, so the
 * demo can never flood anything but the local proxy.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { ValidationError } from '../errors.js';
import { parseAuth } from '../sip/headers.js';
import { computeHa1, computeResponse, type DigestAlgorithm } from '../../daemon/modules/auth/digest.js';

export const DEMO_USER_AGENT = 'sipctl-demo-ua/0.1';

/** 127.0.0.0/8 or ::1 (also IPv4-mapped). */
export function isLoopback(ip: string): boolean {
  const v = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  if (net.isIPv4(v)) return v.startsWith('127.');
  return v === '::1';
}

function assertLoopback(what: string, ip: string): void {
  if (!isLoopback(ip)) throw new ValidationError(what, `${ip} is not a loopback address (the demo UA only talks to 127.0.0.0/8 and ::1)`);
}

export interface SipResponse {
  status: number;
  reason: string;
  /** header lines as [name, value], in order */
  headers: Array<[string, string]>;
  raw: string;
}

export function parseResponse(text: string): SipResponse | undefined {
  const head = text.split('\r\n\r\n', 1)[0] ?? '';
  const lines = head.split('\r\n');
  const m = /^SIP\/2\.0 (\d{3}) ?(.*)$/.exec(lines[0] ?? '');
  if (!m) return undefined;
  const headers: Array<[string, string]> = [];
  for (const line of lines.slice(1)) {
    if (/^[ \t]/.test(line) && headers.length > 0) {
      headers[headers.length - 1]![1] += ' ' + line.trim();
      continue;
    }
    const c = line.indexOf(':');
    if (c > 0) headers.push([line.slice(0, c).trim(), line.slice(c + 1).trim()]);
  }
  return { status: Number(m[1]), reason: m[2] ?? '', headers, raw: text };
}

function header(r: SipResponse, name: string): string[] {
  const n = name.toLowerCase();
  return r.headers.filter(([k]) => k.toLowerCase() === n).map(([, v]) => v);
}

/** One UDP socket bound to a loopback address; requests are matched to replies by Call-ID and CSeq. */
class UdpClient {
  private readonly sock: dgram.Socket;
  private waiters: Array<{ match: (r: SipResponse) => boolean; resolve: (r: SipResponse) => void }> = [];
  /** every datagram received, replies to nothing in particular included */
  received = 0;

  private constructor(sock: dgram.Socket) {
    this.sock = sock;
    sock.on('message', (m) => {
      this.received++;
      const r = parseResponse(m.toString('utf8'));
      if (r === undefined || r.status < 200) return; // provisional replies: keep waiting
      const i = this.waiters.findIndex((w) => w.match(r));
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(r);
    });
  }

  static async open(localAddress: string, port = 0): Promise<UdpClient> {
    const sock = dgram.createSocket(net.isIPv6(localAddress) ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind({ address: localAddress, port }, () => {
        sock.off('error', reject);
        resolve();
      });
    });
    sock.on('error', () => undefined);
    return new UdpClient(sock);
  }

  get port(): number {
    return this.sock.address().port;
  }

  send(data: string, host: string, port: number): void {
    this.sock.send(data, port, host);
  }

  /**
   * Send `data` and retransmit it (RFC 3261 timer A: 500 ms, doubling) until a final reply
   * matching Call-ID and CSeq arrives or `timeoutMs` passes (undefined).
   */
  async transaction(data: string, host: string, port: number, callId: string, cseq: number, timeoutMs: number): Promise<SipResponse | undefined> {
    return new Promise((resolve) => {
      let interval = 500;
      let timer: NodeJS.Timeout;
      const waiter = {
        match: (r: SipResponse) => header(r, 'call-id')[0] === callId && Number.parseInt(header(r, 'cseq')[0] ?? '', 10) === cseq,
        resolve: (r: SipResponse | undefined) => {
          clearTimeout(timer);
          clearTimeout(deadline);
          this.waiters = this.waiters.filter((w) => w !== waiter);
          resolve(r);
        },
      };
      const deadline = setTimeout(() => waiter.resolve(undefined), timeoutMs);
      const fire = () => {
        this.send(data, host, port);
        timer = setTimeout(fire, interval);
        interval = Math.min(interval * 2, 4000);
      };
      this.waiters.push(waiter);
      fire();
    });
  }

  close(): void {
    this.sock.close();
  }
}

const hostPart = (ip: string) => (net.isIPv6(ip) ? `[${ip}]` : ip);
const token = () => randomBytes(6).toString('hex');

export interface RegisterOptions {
  /** the proxy: where the REGISTER is sent */
  proxyHost: string;
  proxyPort: number;
  user: string;
  password: string;
  /** the SIP domain (Request-URI, From, To); the subscriber's domain */
  domain: string;
  /** address to send from (default 127.0.0.1) */
  localAddress?: string;
  /** port to send from (default: any free one) */
  localPort?: number;
  /** Contact port (default: the socket's own port) */
  contactPort?: number;
  /** seconds; 0 removes the binding (default 60) */
  expires?: number;
  /** default DEMO_USER_AGENT; null sends none */
  userAgent?: string | null;
  /** ms per transaction (default 4000) */
  timeoutMs?: number;
}

export interface RegisterResult {
  ok: boolean;
  /** final status (0 when no reply came) */
  status: number;
  reason: string;
  /** what happened, one line per request, for people */
  log: string[];
  contact: string;
  /** the Contact header values of the final reply */
  bindings: string[];
}

/**
 * REGISTER → 401 → REGISTER with credentials → final reply. The digest uri is the Request-URI
 * (what the proxy compares it with).
 */
export async function register(o: RegisterOptions): Promise<RegisterResult> {
  const local = o.localAddress ?? '127.0.0.1';
  assertLoopback('local address', local);
  assertLoopback('proxy address', o.proxyHost);
  const timeoutMs = o.timeoutMs ?? 4000;
  const client = await UdpClient.open(local, o.localPort);
  const log: string[] = [];
  try {
    const contact = `sip:${o.user}@${hostPart(local)}:${o.contactPort ?? client.port}`;
    const ruri = `sip:${o.domain}`;
    const callId = `${token()}@${hostPart(local)}`;
    const fromTag = token();
    const expires = o.expires ?? 60;
    const ua = o.userAgent === undefined ? DEMO_USER_AGENT : o.userAgent;
    const build = (cseq: number, authorization?: string) =>
      [
        `REGISTER ${ruri} SIP/2.0`,
        `Via: SIP/2.0/UDP ${hostPart(local)}:${client.port};branch=z9hG4bK${token()};rport`,
        'Max-Forwards: 70',
        `From: <sip:${o.user}@${o.domain}>;tag=${fromTag}`,
        `To: <sip:${o.user}@${o.domain}>`,
        `Call-ID: ${callId}`,
        `CSeq: ${cseq} REGISTER`,
        `Contact: <${contact}>`,
        `Expires: ${expires}`,
        ...(authorization ? [`Authorization: ${authorization}`] : []),
        ...(ua !== null ? [`User-Agent: ${ua}`] : []),
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
    const done = (r: SipResponse | undefined): RegisterResult => ({
      ok: r?.status === 200,
      status: r?.status ?? 0,
      reason: r?.reason ?? 'no reply',
      log,
      contact,
      bindings: r ? header(r, 'contact') : [],
    });

    const first = await client.transaction(build(1), o.proxyHost, o.proxyPort, callId, 1, timeoutMs);
    log.push(`REGISTER ${ruri} (no credentials) → ${first ? `${first.status} ${first.reason}` : 'no reply'}`);
    if (first?.status !== 401) return done(first);
    const challenge = header(first, 'www-authenticate')
      .map((v) => parseAuth(v, 'www-authenticate'))
      .filter((a) => a.scheme.toLowerCase() === 'digest')
      // the strongest algorithm offered that we know
      .sort((a, b) => (a.params.get('algorithm') === 'SHA-256' ? -1 : 0) - (b.params.get('algorithm') === 'SHA-256' ? -1 : 0))[0];
    const realm = challenge?.params.get('realm');
    const nonce = challenge?.params.get('nonce');
    if (!challenge || realm === undefined || nonce === undefined) {
      log.push('401 without a usable Digest challenge');
      return done(first);
    }
    const algorithm: DigestAlgorithm = (challenge.params.get('algorithm') ?? 'MD5').toUpperCase() === 'SHA-256' ? 'SHA-256' : 'MD5';
    const qop = (challenge.params.get('qop') ?? '').split(',').map((s) => s.trim()).includes('auth') ? 'auth' : undefined;
    const cnonce = token();
    const nc = '00000001';
    const ha1 = computeHa1(algorithm, o.user, realm, o.password);
    const response = computeResponse({ algorithm, ha1, nonce, method: 'REGISTER', uri: ruri, qop, nc, cnonce });
    const q = (s: string) => `"${s.replace(/["\\]/g, (c) => `\\${c}`)}"`;
    const parts = [`username=${q(o.user)}`, `realm=${q(realm)}`, `nonce=${q(nonce)}`, `uri=${q(ruri)}`, `response=${q(response)}`, `algorithm=${algorithm}`];
    if (qop) parts.push(`qop=auth`, `nc=${nc}`, `cnonce=${q(cnonce)}`);
    const opaque = challenge.params.get('opaque');
    if (opaque !== undefined) parts.push(`opaque=${q(opaque)}`);
    const second = await client.transaction(build(2, `Digest ${parts.join(', ')}`), o.proxyHost, o.proxyPort, callId, 2, timeoutMs);
    log.push(`REGISTER ${ruri} (digest ${algorithm} for ${o.user}, realm ${realm}) → ${second ? `${second.status} ${second.reason}` : 'no reply'}`);
    return done(second);
  } finally {
    client.close();
  }
}

export interface FloodOptions {
  proxyHost: string;
  proxyPort: number;
  /** address the flood comes from (loopback, e.g. 127.0.0.2) */
  localAddress: string;
  /** requests to send; at most 5000 (default 200) */
  count?: number;
  /** spread over this many ms; at most 10000 (default 500) */
  durationMs?: number;
  /** how long to keep listening for replies after the last request (default 300 ms) */
  settleMs?: number;
}

export interface FloodResult {
  sent: number;
  /** replies received: the ones the proxy answered before it banned the source */
  replies: number;
  elapsedMs: number;
}

/** A bounded burst of OPTIONS from one loopback address: enough to trip pike, never more than asked. */
export async function flood(o: FloodOptions): Promise<FloodResult> {
  assertLoopback('local address', o.localAddress);
  assertLoopback('proxy address', o.proxyHost);
  const count = Math.min(Math.max(1, o.count ?? 200), 5000);
  const durationMs = Math.min(Math.max(0, o.durationMs ?? 500), 10_000);
  const client = await UdpClient.open(o.localAddress);
  const t0 = Date.now();
  try {
    const batches = Math.max(1, Math.ceil(durationMs / 10));
    const perBatch = Math.ceil(count / batches);
    let sent = 0;
    const tag = token();
    while (sent < count) {
      for (let i = 0; i < perBatch && sent < count; i++, sent++) {
        client.send(
          [
            `OPTIONS sip:${hostPart(o.proxyHost)}:${o.proxyPort} SIP/2.0`,
            `Via: SIP/2.0/UDP ${hostPart(o.localAddress)}:${client.port};branch=z9hG4bK${tag}${sent};rport`,
            'Max-Forwards: 70',
            `From: <sip:flood@${hostPart(o.localAddress)}>;tag=${tag}`,
            `To: <sip:${hostPart(o.proxyHost)}:${o.proxyPort}>`,
            `Call-ID: flood-${tag}-${sent}`,
            `CSeq: ${sent + 1} OPTIONS`,
            `User-Agent: ${DEMO_USER_AGENT}`,
            'Content-Length: 0',
            '',
            '',
          ].join('\r\n'),
          o.proxyHost,
          o.proxyPort,
        );
      }
      if (sent < count) await new Promise((r) => setTimeout(r, 10));
    }
    await new Promise((r) => setTimeout(r, o.settleMs ?? 300));
    return { sent, replies: client.received, elapsedMs: Date.now() - t0 };
  } finally {
    client.close();
  }
}
