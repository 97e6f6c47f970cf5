/**
 * A small UDP SIP UA for the cluster call tests (cluster-dead-owner.test.ts, cluster-fresh-node.test.ts):
 * digest REGISTER and INVITE (PASSWORD of the cluster fixture), answers INVITE (200, Record-Route
 * copied) and BYE (200), keeps every message with its source — so a test sees where each BYE came
 * from. The SIP text it sends and its waits come from sip-message.ts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { PASSWORD, REALM } from './cluster-fixture.js';
import { statusOf } from './sipd-process.js';
import { Inbox, cseqOf, digestCredentials, header, headers, registerRequest, registerWithDigest, responseTo } from './sip-message.js';

export interface Msg {
  text: string;
  method?: string;
  status?: number;
  from: { address: string; port: number };
}

export interface Addr {
  host: string;
  port: number;
}

/** One side of an established call, as this UA sends in-dialog requests (RFC 3261 §12). */
export interface Leg {
  callId: string;
  local: string;
  remote: string;
  /** Request-URI: the other side's Contact */
  target: string;
  routes: string[];
  cseq: number;
}

/** A UDP SIP UA: REGISTER and INVITE with digest; answers INVITE (200, Record-Route copied) and BYE (200). */
export class Ua {
  private readonly inbox: Inbox<Msg>;
  private sock?: dgram.Socket;
  port = 0;
  private readonly tag = randomBytes(4).toString('hex');
  private cseq = 0;
  /** the calls this UA answered, by Call-ID */
  readonly answered = new Map<string, Leg>();

  constructor(readonly ip: string, readonly user: string) {
    this.inbox = new Inbox<Msg>(user);
  }

  /** every message received, in order */
  get messages(): readonly Msg[] {
    return this.inbox.items;
  }

  get contact(): string {
    return `<sip:${this.user}@${this.ip}:${this.port}>`;
  }

  async open(): Promise<void> {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind({ address: this.ip, port: 0 }, () => r()));
    s.on('message', (data, rinfo) => this.received(data.toString('utf8'), { address: rinfo.address, port: rinfo.port }));
    this.sock = s;
    this.port = s.address().port;
  }

  close(): void {
    this.sock?.close();
    this.sock = undefined;
  }

  private send(text: string, to: Addr): void {
    this.sock?.send(text, to.port, to.host);
  }

  private received(text: string, from: Msg['from']): void {
    const status = /^SIP\/2\.0 (\d{3}) /.exec(text)?.[1];
    const m: Msg = { text, from, ...(status !== undefined ? { status: Number(status) } : { method: text.slice(0, text.indexOf(' ')) }) };
    if (m.method === 'INVITE') {
      const rr = headers(text, 'Record-Route');
      const contact = /<([^>]+)>/.exec(header(text, 'Contact') ?? '')?.[1] ?? '';
      // the callee's route set is the Record-Route as received, in order (§12.1.1)
      this.answered.set(header(text, 'Call-ID')!, { callId: header(text, 'Call-ID')!, local: `${header(text, 'To')!};tag=${this.tag}`, remote: header(text, 'From')!, target: contact, routes: rr, cseq: 0 });
      this.respond(m, 200, 'OK', true);
    } else if (m.method === 'BYE') this.respond(m, 200, 'OK', false);
    this.inbox.add(m);
  }

  private respond(req: Msg, status: number, reason: string, answer: boolean): void {
    this.send(responseTo(req.text, status, reason, this.tag, answer ? this.contact : undefined), { host: req.from.address, port: req.from.port });
  }

  wait(what: string, match: (m: Msg) => boolean, ms = 10_000): Promise<Msg> {
    return this.inbox.wait(what, match, ms);
  }

  private via(): string {
    return `Via: SIP/2.0/UDP ${this.ip}:${this.port};branch=z9hG4bK-${randomBytes(6).toString('hex')};rport`;
  }

  /** REGISTER with digest through `proxy`; the final status. */
  async register(proxy: Addr): Promise<number | undefined> {
    const callId = `${randomBytes(8).toString('hex')}@dead-owner`;
    const uri = `sip:${proxy.host}:${proxy.port}`;
    const fromTag = randomBytes(4).toString('hex');
    const reply = await registerWithDigest({
      user: this.user,
      password: PASSWORD,
      uri,
      request: (auth) => registerRequest({ uri, via: `UDP ${this.ip}:${this.port}`, user: this.user, realm: REALM, fromTag, callId, cseq: ++this.cseq, contact: this.contact, expires: 300, auth }),
      exchange: async (text) => {
        this.send(text, proxy);
        return (await this.wait('REGISTER reply', (m) => m.status !== undefined && m.status >= 200 && cseqOf(m.text) === cseqOf(text), 5000)).text;
      },
    });
    return statusOf(reply);
  }

  /** INVITE `callee` through `proxy` (407 answered with digest), ACK the 200: the caller's leg. */
  async call(proxy: Addr, callee: string): Promise<Leg> {
    const callId = `${randomBytes(8).toString('hex')}@dead-owner`;
    const uri = `sip:${callee}@${proxy.host}:${proxy.port}`;
    const from = `<sip:${this.user}@${proxy.host}>;tag=${randomBytes(4).toString('hex')}`;
    const to = `<sip:${callee}@${proxy.host}:${proxy.port}>`;
    const invite = (cseq: number, via: string, auth?: string) => [
      `INVITE ${uri} SIP/2.0`,
      via,
      `From: ${from}`,
      `To: ${to}`,
      `Call-ID: ${callId}`,
      `CSeq: ${cseq} INVITE`,
      `Contact: ${this.contact}`,
      'Max-Forwards: 70',
      ...(auth ? [`Proxy-Authorization: ${auth}`] : []),
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    const finalFor = (cseq: number) => (m: Msg) => m.status !== undefined && m.status >= 200 && header(m.text, 'Call-ID') === callId && cseqOf(m.text) === `${cseq} INVITE`;
    const via1 = this.via();
    this.send(invite(1, via1), proxy);
    const challenge = await this.wait('407', finalFor(1), 5000);
    assert.equal(challenge.status, 407, challenge.text);
    // the ACK of a non-2xx: same branch, hop by hop (§17.1.1.3)
    this.send([`ACK ${uri} SIP/2.0`, via1, `From: ${from}`, `To: ${header(challenge.text, 'To')}`, `Call-ID: ${callId}`, 'CSeq: 1 ACK', 'Max-Forwards: 70', 'Content-Length: 0', '', ''].join('\r\n'), proxy);
    this.send(invite(2, this.via(), digestCredentials(header(challenge.text, 'Proxy-Authenticate') ?? '', this.user, PASSWORD, 'INVITE', uri)), proxy);
    const ok = await this.wait('200 to the INVITE', finalFor(2), 10_000);
    assert.equal(ok.status, 200, ok.text);
    const leg: Leg = {
      callId,
      local: from,
      remote: header(ok.text, 'To')!,
      target: /<([^>]+)>/.exec(header(ok.text, 'Contact') ?? '')?.[1] ?? '',
      // the caller's route set is the Record-Route of the 2xx, reversed (§12.1.2)
      routes: headers(ok.text, 'Record-Route').reverse(),
      cseq: 2,
    };
    this.request('ACK', leg, 2, firstHop(leg));
    return leg;
  }

  private request(method: string, leg: Leg, cseq: number, to: Addr): void {
    this.send(inDialogRequest(method, leg, cseq, this.via()), to);
  }

  /** BYE of `leg`, its Route headers as they are (naming the node that set the call up), sent to `to`; the final status. */
  async bye(leg: Leg, to: Addr): Promise<number | undefined> {
    const cseq = ++leg.cseq;
    this.request('BYE', leg, cseq, to);
    const r = await this.wait('BYE reply', (m) => m.status !== undefined && m.status >= 200 && header(m.text, 'Call-ID') === leg.callId && cseqOf(m.text) === `${cseq} BYE`, 8000);
    return r.status;
  }

  byes(callId: string): Msg[] {
    return this.messages.filter((m) => m.method === 'BYE' && header(m.text, 'Call-ID') === callId);
  }
}

/** where the first Route entry (or the target) points */
/** An in-dialog request of `leg` without a body (its Route set as it is; `extra` header lines before Content-Length). */
export function inDialogRequest(method: string, leg: Leg, cseq: number, viaLine: string, extra: string[] = []): string {
  return [
    `${method} ${leg.target} SIP/2.0`,
    viaLine,
    ...leg.routes.map((r) => `Route: ${r}`),
    `From: ${leg.local}`,
    `To: ${leg.remote}`,
    `Call-ID: ${leg.callId}`,
    `CSeq: ${cseq} ${method}`,
    'Max-Forwards: 70',
    ...extra,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

export function firstHop(leg: Leg): Addr {
  const uri = leg.routes.length > 0 ? /<([^>]+)>/.exec(leg.routes[0]!)?.[1] ?? '' : leg.target;
  const m = /^sips?:(?:[^@]+@)?([^:;>]+)(?::(\d+))?/.exec(uri)!;
  return { host: m[1]!, port: Number(m[2] ?? 5060) };
}
