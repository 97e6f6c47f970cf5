/**
 * A callee over one TCP connection it keeps open (a UA behind NAT: nothing reaches it except over
 * that connection): registers with digest, answers INVITE with 200 (Record-Route copied) and BYE
 * with 200, and keeps every request it got (cluster-calls.test.ts' TestUa does the same over UDP or
 * TCP). Used by the --workers tests (workers.test.ts, listen-any.test.ts): the kernel gives its
 * connection to one worker, which must then take every call for it. callTcpUa() makes one call to
 * it and checks what every such call must show.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { ok, scenario, sipp } from './calls-support.js';
import { Inbox, cseqOf, headers, isFinal, registerRequest, registerWithDigest, responseTo, streamFramer } from './sip-message.js';
import { freeSipPort, statusOf } from './sipd-process.js';

export class TcpUa {
  private readonly inbox: Inbox<string>;
  private sock!: net.Socket;
  private readonly tag = randomBytes(4).toString('hex');
  private cseq = 0;
  localPort = 0;
  constructor(readonly ip: string, readonly user: string, private readonly digest: { realm: string; password: string }) {
    this.inbox = new Inbox<string>(user);
  }

  /** the requests received, in order */
  get requests(): readonly string[] {
    return this.inbox.items;
  }

  get contact(): string {
    return `<sip:${this.user}@${this.ip}:${this.localPort};transport=tcp>`;
  }

  async open(port: number): Promise<void> {
    const c = net.connect({ host: '127.0.0.1', port, localAddress: this.ip });
    await new Promise<void>((resolve, reject) => {
      c.once('connect', () => resolve());
      c.once('error', reject);
    });
    c.on('error', () => undefined);
    c.on('data', streamFramer((text) => this.received(text)));
    this.sock = c;
    this.localPort = c.localPort!;
  }

  close(): void {
    this.sock?.destroy();
  }

  private received(text: string): void {
    const method = /^SIP\/2\.0 /.test(text) ? undefined : text.slice(0, text.indexOf(' '));
    if (method === 'INVITE') this.respond(text, true);
    else if (method === 'BYE') this.respond(text, false);
    this.inbox.add(text, method !== undefined);
  }

  private respond(req: string, answer: boolean): void {
    this.sock.write(responseTo(req, 200, 'OK', this.tag, answer ? this.contact : undefined));
  }

  wait(what: string, match: (m: string) => boolean, ms = 10_000): Promise<string> {
    return this.inbox.wait(what, match, ms);
  }

  /** REGISTER with digest over the connection; the final status. */
  async register(port: number): Promise<number | undefined> {
    const callId = `${randomBytes(8).toString('hex')}@tcp-ua-test`;
    const uri = `sip:127.0.0.1:${port}`;
    const reply = await registerWithDigest({
      user: this.user,
      password: this.digest.password,
      uri,
      request: (auth) => registerRequest({ uri, via: `TCP ${this.ip}:${this.localPort}`, user: this.user, realm: this.digest.realm, fromTag: randomBytes(4).toString('hex'), callId, cseq: ++this.cseq, contact: this.contact, expires: 300, auth }),
      exchange: (text) => {
        const r = this.inbox.next('REGISTER reply', (m) => isFinal(m) && cseqOf(m) === cseqOf(text), 5000);
        this.sock.write(text);
        return r;
      },
    });
    return statusOf(reply);
  }
}

/** What callTcpUa() gives back: the INVITE the UA got, its Via and Record-Route entries (one an entry). */
export interface TcpUaCall {
  invite: string;
  vias: string[];
  rr: string[];
}

/**
 * One call from `caller` (sipp's caller.xml from a fresh UDP port, 200 ms long) sent to sipd at
 * `remote` for `ua`'s user. Checks what every call for a TCP client must show: the UA got the
 * INVITE over its connection (the top Via is sipd's TCP side at `tcpPort`), then ACK and BYE; the
 * caller's call completed; no X-Sipd-Handoff header reached the UA (it stays between sipd's
 * workers and nodes). The caller checks the rest of the path (who handed the call over) in what it
 * returns. `what` names the call in every message; `log()` (sipd's log tail) is added to those of
 * a call that did not reach the UA or failed at the caller.
 */
export async function callTcpUa(ua: TcpUa, o: { remote: string; tcpPort: number; caller: { user: string; password: string }; what: string; log: () => string }): Promise<TcpUaCall> {
  const seen = ua.requests.length;
  const uac = sipp({ scenario: scenario('caller.xml', { USER: o.caller.user, HOLD: 200 }), remote: o.remote, localPort: await freeSipPort(), service: ua.user, user: o.caller.user, password: o.caller.password, timeoutMs: 20_000 });
  const invite = await ua.wait('INVITE', (m) => m.startsWith('INVITE ') && ua.requests.indexOf(m) >= seen, 10_000).catch(async (e: Error) => {
    // the caller's outcome first: its sipp run ends (and its process with it) before the test does
    await uac.done;
    return assert.fail(`${o.what}: ${e.message}${o.log()}`);
  });
  ok(await uac.done, `${o.what}, caller${o.log()}`);
  const callId = headers(invite, 'Call-ID')[0];
  await ua.wait('BYE', (m) => m.startsWith('BYE ') && headers(m, 'Call-ID')[0] === callId, 10_000);
  assert.ok(ua.requests.some((m) => m.startsWith('ACK ') && headers(m, 'Call-ID')[0] === callId), `${o.what}: ${ua.user} got the ACK`);
  assert.deepEqual(headers(invite, 'X-Sipd-Handoff'), [], `${o.what}: the hand-off header stays between sipd's workers and nodes`);
  const vias = headers(invite, 'Via').flatMap((v) => v.split(/\s*,\s*/));
  assert.match(vias[0]!, new RegExp(`^SIP/2\\.0/TCP 127\\.0\\.0\\.1:${o.tcpPort};`), `${o.what}: over ${ua.user}'s connection: ${vias.join(' | ')}`);
  return { invite, vias, rr: headers(invite, 'Record-Route').flatMap((v) => v.split(/\s*,\s*/)) };
}
