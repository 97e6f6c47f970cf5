// A user's devices for forking tests (forking.test.ts; workers.test.ts under --workers): raw UDP
// UAs that REGISTER with digest and answer as a phone does, and the caller's ACK and BYE of the
// 2xx that won, sent through sipd along the Record-Route.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { until } from '../helpers/until.js';
import { udpPeer, type InviteTx, type Peer } from './raw-sip.js';
import { cseqOf, header, headers, registerRequest, registerWithDigest, responseTo } from './sip-message.js';
import { statusOf } from './sipd-process.js';

export const PASSWORD = 'Tr0ub4dor-Horse-77';
export const REALM = 'sip.test';

const method = (t: string) => (statusOf(t) === undefined ? t.slice(0, t.indexOf(' ')) : undefined);

/**
 * One device of a user: a UDP UA on 127.0.0.1 that REGISTERs with digest, answers an INVITE with
 * 180 (or `busy`: 486), a CANCEL with 200 and 487, a BYE with 200, and answers 200 when told to.
 */
export class Device {
  readonly tag = randomBytes(4).toString('hex');
  private constructor(readonly peer: Peer, readonly user: string, private readonly busy: boolean) {}

  static async open(user: string, busy = false, ip = '127.0.0.1'): Promise<Device> {
    let dev: Device | undefined;
    const peer = await udpPeer(ip, 0, (text, from, p) => dev?.received(text, from, p));
    dev = new Device(peer, user, busy);
    return dev;
  }

  get contact(): string {
    return `<sip:${this.user}@${this.peer.address}:${this.peer.port}>`;
  }

  /** every message received and where it came from */
  readonly sources: Array<{ text: string; from: string }> = [];

  /** requests of `m` received (retransmissions included) */
  got(m: string): string[] {
    return this.peer.got.filter((t) => method(t) === m);
  }

  private received(text: string, from: { address: string; port: number }, p: Peer): void {
    this.sources.push({ text, from: `${from.address}:${from.port}` });
    const m = method(text);
    const reply = (req: string, status: number, reason: string) => p.send(responseTo(req, status, reason, this.tag), from.port, from.address);
    if (m === 'INVITE') reply(text, this.busy ? 486 : 180, this.busy ? 'Busy Here' : 'Ringing');
    else if (m === 'CANCEL') {
      reply(text, 200, 'OK');
      const inv = this.got('INVITE').find((i) => header(i, 'Via') === header(text, 'Via'));
      if (inv !== undefined) reply(inv, 487, 'Request Terminated');
    } else if (m === 'BYE') reply(text, 200, 'OK');
  }

  /** 200 OK to the INVITE received (its Record-Route copied, this device's Contact) */
  answer(): void {
    const inv = this.sources.filter((x) => method(x.text) === 'INVITE').at(-1)!;
    const [host, port] = [inv.from.slice(0, inv.from.lastIndexOf(':')), Number(inv.from.slice(inv.from.lastIndexOf(':') + 1))];
    this.peer.send(responseTo(inv.text, 200, 'OK', this.tag, this.contact), port, host);
  }

  async register(sipdPort: number, host = '127.0.0.1'): Promise<void> {
    const uri = `sip:${host}:${sipdPort}`;
    const callId = `${randomBytes(8).toString('hex')}@forking`;
    let cseq = 0;
    const reply = await registerWithDigest({
      user: this.user,
      password: PASSWORD,
      uri,
      request: (auth) => registerRequest({ uri, via: `UDP 127.0.0.1:${this.peer.port}`, user: this.user, realm: REALM, fromTag: this.tag, callId, cseq: ++cseq, contact: this.contact, expires: 300, auth }),
      exchange: async (text) => {
        this.peer.send(text, sipdPort, host);
        return until('REGISTER reply', () => this.peer.got.find((g) => (statusOf(g) ?? 0) >= 200 && header(g, 'Call-ID') === callId && cseqOf(g) === cseqOf(text)), 5000);
      },
    });
    assert.equal(statusOf(reply), 200, reply);
  }

  private closed = false;

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.peer.close();
  }
}

/** ACK of the 2xx and BYE through sipd (the Record-Route reversed as Route, §12.1.2); the BYE's final status */
export async function ackAndBye(phone: Peer, proxy: { host: string; port: number }, tx: InviteTx, ok: string): Promise<number | undefined> {
  const routes = headers(ok, 'Record-Route').reverse();
  const target = /<([^>]+)>/.exec(header(ok, 'Contact') ?? '')?.[1] ?? '';
  const req = (m: string, cseq: number, branch: string) =>
    [
      `${m} ${target} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${phone.port};branch=${branch};rport`,
      ...routes.map((r) => `Route: ${r}`),
      'Max-Forwards: 70',
      `From: ${header(tx.text, 'From')}`,
      `To: ${header(ok, 'To')}`,
      `Call-ID: ${header(tx.text, 'Call-ID')}`,
      `CSeq: ${cseq} ${m}`,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
  phone.send(req('ACK', tx.cseq, `z9hG4bK-${randomBytes(6).toString('hex')}`), proxy.port, proxy.host);
  const branch = `z9hG4bK-${randomBytes(6).toString('hex')}`;
  phone.send(req('BYE', tx.cseq + 1, branch), proxy.port, proxy.host);
  return statusOf(await until('200 to the BYE', () => phone.got.find((g) => (statusOf(g) ?? 0) >= 200 && header(g, 'Via')?.includes(branch))));
}

