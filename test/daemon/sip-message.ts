/**
 * SIP text for the process tests' own UAs (dialog-ua.ts' Ua, cluster-calls' TestUa, tcp-ua.ts'
 * TcpUa, workers' UdpUa, raw-sip.ts' caller, the one-shot REGISTERs of cluster and workers): header
 * values, a UA's response, digest credentials, a REGISTER answered with digest, and the waits for
 * what a UA has not received yet — one copy each.
 */
import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { statusOf } from './sipd-process.js';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

/** Every value of the header `name` (case-insensitive, exact name: no compact forms) in the head of `text`. */
export function headers(text: string, name: string): string[] {
  const head = text.split('\r\n\r\n')[0]!;
  const out: string[] = [];
  for (const line of head.split('\r\n').slice(1)) {
    const i = line.indexOf(':');
    if (i > 0 && line.slice(0, i).trim().toLowerCase() === name.toLowerCase()) out.push(line.slice(i + 1).trim());
  }
  return out;
}
export const header = (text: string, name: string) => headers(text, name)[0];
export const cseqOf = (text: string) => header(text, 'CSeq') ?? '';

/** a final response (2xx-6xx) */
export const isFinal = (text: string) => /^SIP\/2\.0 [2-6]\d\d /.test(text);

/**
 * A UA's response to the request `req`: its Vias, From, Call-ID and CSeq, its To with `tag` added
 * when it has none. With `answerContact` (a 200 that sets up a dialog) the Record-Route is copied
 * and the Contact given; without, neither (a BYE's 200).
 */
export function responseTo(req: string, status: number, reason: string, tag: string, answerContact?: string): string {
  const to = header(req, 'To')!;
  return [
    `SIP/2.0 ${status} ${reason}`,
    ...headers(req, 'Via').map((v) => `Via: ${v}`),
    ...(answerContact !== undefined ? headers(req, 'Record-Route').map((v) => `Record-Route: ${v}`) : []),
    `From: ${header(req, 'From')}`,
    `To: ${/;tag=/i.test(to) ? to : `${to};tag=${tag}`}`,
    `Call-ID: ${header(req, 'Call-ID')}`,
    `CSeq: ${header(req, 'CSeq')}`,
    ...(answerContact !== undefined ? [`Contact: ${answerContact}`] : []),
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/**
 * The credentials that answer `challenge` (a WWW-Authenticate or Proxy-Authenticate value: Digest
 * with realm and nonce) for `method` on `uri`: MD5, qop=auth, nc 1, a fresh cnonce.
 */
export function digestCredentials(challenge: string, user: string, password: string, method: string, uri: string): string {
  const h = /Digest (.*)/i.exec(challenge)![1]!;
  const param = (n: string) => new RegExp(`${n}="?([^",]+)"?`, 'i').exec(h)?.[1];
  const nonce = param('nonce')!;
  const realm = param('realm')!;
  const cnonce = randomBytes(4).toString('hex');
  const response = md5(`${md5(`${user}:${realm}:${password}`)}:${nonce}:00000001:${cnonce}:auth:${md5(`${method}:${uri}`)}`);
  return `Digest username="${user}", realm="${realm}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="${cnonce}"`;
}

/** A REGISTER of `user`@`realm` to `uri` from `via` ('UDP ip:port'), a fresh branch; `auth` as its Authorization. */
export function registerRequest(o: { uri: string; via: string; user: string; realm: string; fromTag: string; callId: string; cseq: number; contact: string; expires: number; auth?: string }): string {
  return [
    `REGISTER ${o.uri} SIP/2.0`,
    `Via: SIP/2.0/${o.via};branch=z9hG4bK-${randomBytes(6).toString('hex')};rport`,
    `From: <sip:${o.user}@${o.realm}>;tag=${o.fromTag}`,
    `To: <sip:${o.user}@${o.realm}>`,
    `Call-ID: ${o.callId}`,
    `CSeq: ${o.cseq} REGISTER`,
    `Contact: ${o.contact}`,
    `Expires: ${o.expires}`,
    'Max-Forwards: 70',
    ...(o.auth ? [`Authorization: ${o.auth}`] : []),
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/**
 * A REGISTER answered with digest: `request()` sent over `exchange` (which resolves with its final
 * response, undefined when none came), and on a 401 `request(credentials)`. The last final response.
 */
export async function registerWithDigest(o: { user: string; password: string; uri: string; request(auth?: string): string; exchange(text: string): Promise<string | undefined> }): Promise<string | undefined> {
  const first = await o.exchange(o.request());
  if (first === undefined || statusOf(first) !== 401) return first;
  return o.exchange(o.request(digestCredentials(header(first, 'WWW-Authenticate') ?? '', o.user, o.password, 'REGISTER', o.uri)));
}

/**
 * Sends `data` from `sock` to `host`:`port` and resolves with the first final response that comes
 * back (provisional ones are skipped), or undefined when none came within `ms`.
 */
export function udpFinalReply(sock: dgram.Socket, data: string, port: number, host: string, ms = 3000): Promise<string | undefined> {
  return new Promise<string | undefined>((resolve) => {
    const t = setTimeout(() => (sock.off('message', on), resolve(undefined)), ms);
    const on = (m: Buffer) => {
      const text = m.toString('utf8');
      if (/^SIP\/2\.0 1\d\d /.test(text)) return; // provisional: wait for the final one
      clearTimeout(t);
      sock.off('message', on);
      resolve(text);
    };
    sock.on('message', on);
    sock.send(data, port, host);
  });
}

/**
 * REGISTER `user` with digest from a fresh UDP socket on `srcIp` to `host`:`port` (Contact: that
 * socket; a new Call-ID, a fresh From tag per request): the final response, undefined when none
 * came within 3 s.
 */
export async function udpRegister(o: { host: string; port: number; srcIp: string; user: string; password: string; realm: string; expires: number; callIdHost: string }): Promise<string | undefined> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind({ address: o.srcIp, port: 0 }, () => r()));
  const local = sock.address().port;
  const uri = `sip:${o.host}:${o.port}`;
  const callId = `${randomBytes(8).toString('hex')}@${o.callIdHost}`;
  let cseq = 0;
  const request = (auth?: string) => registerRequest({ uri, via: `UDP ${o.srcIp}:${local}`, user: o.user, realm: o.realm, fromTag: randomBytes(4).toString('hex'), callId, cseq: ++cseq, contact: `<sip:${o.user}@${o.srcIp}:${local}>`, expires: o.expires, auth });
  const exchange = (data: string) => udpFinalReply(sock, data, o.port, o.host);
  try {
    return await registerWithDigest({ user: o.user, password: o.password, uri, request, exchange });
  } finally {
    sock.close();
  }
}

/**
 * Frames SIP messages out of a stream (TCP): each complete message (head and Content-Length body)
 * goes to `onMessage` as text; CRLF keep-alives between messages are skipped.
 */
export function streamFramer(onMessage: (text: string) => void): (chunk: Buffer) => void {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      while (buf.length >= 2 && buf[0] === 0x0d && buf[1] === 0x0a) buf = buf.subarray(2);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const len = Number(/\r\n(?:content-length|l)\s*:\s*(\d+)/i.exec(buf.subarray(0, end).toString('utf8'))?.[1] ?? 0);
      if (buf.length < end + 4 + len) return;
      const text = buf.subarray(0, end + 4 + len).toString('utf8');
      buf = buf.subarray(end + 4 + len);
      onMessage(text);
    }
  };
}

/**
 * What a test UA received (`items`: those it keeps), and the waits for what it has not received
 * yet, each failing after its time with `<who>: no <what> within <ms> ms`.
 */
export class Inbox<T> {
  readonly items: T[] = [];
  private waits: Array<{ match: (m: T) => boolean; resolve: (m: T) => void }> = [];
  constructor(private readonly who: string) {}

  /** `m` arrived: kept unless `keep` is false, and handed to every wait it matches */
  add(m: T, keep = true): void {
    if (keep) this.items.push(m);
    for (const w of [...this.waits]) {
      if (w.match(m)) {
        this.waits.splice(this.waits.indexOf(w), 1);
        w.resolve(m);
      }
    }
  }

  /** the first kept item that matches, else the next to arrive */
  wait(what: string, match: (m: T) => boolean, ms = 10_000): Promise<T> {
    const had = this.items.find(match);
    return had !== undefined ? Promise.resolve(had) : this.next(what, match, ms);
  }

  /** the next item to arrive that matches (not one already kept) */
  next(what: string, match: (m: T) => boolean, ms = 10_000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${this.who}: no ${what} within ${ms} ms`)), ms);
      this.waits.push({ match, resolve: (m) => (clearTimeout(t), resolve(m)) });
    });
  }
}
