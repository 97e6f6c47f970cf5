/**
 * A callee over one TCP connection it keeps open (a UA behind NAT: nothing reaches it except over
 * that connection): registers with digest, answers INVITE with 200 (Record-Route copied) and BYE
 * with 200, and keeps every request it got (cluster-calls.test.ts' TestUa does the same over UDP or
 * TCP). Used by the --workers tests (workers.test.ts, listen-any.test.ts): the kernel gives its
 * connection to one worker, which must then take every call for it.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { Inbox, cseqOf, isFinal, registerRequest, registerWithDigest, responseTo, streamFramer } from './sip-message.js';
import { statusOf } from './sipd-process.js';

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
