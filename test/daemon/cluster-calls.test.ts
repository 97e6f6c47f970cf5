// Calls across the nodes of a sipd cluster (issue 14): two sipd nodes (bin/sipd.js, built) on
// 127.0.0.1 and 127.0.0.2 sharing one private Redis (test/helpers/redis.ts) and one MariaDB.
//   - a call for a user registered through another node goes through that node: over the user's
//     TCP connection to it, and over UDP from that node's address (what the user's NAT accepts);
//   - any node ends a call another node set up (a BYE sent to it, `sipctl calls end --rpc`), and
//     the call has exactly one CDR (acc_cdrs on MariaDB).
// Callers are sipp (digest auth); the callee is a small SIP UA written here (UDP or TCP), which
// registers with digest, answers, and tells where each message came from.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { isolatedEnv, runSipctl } from '../helpers/cli.js';
import { until } from '../helpers/until.js';
import { ok, scenario, settle, sipp } from './calls-support.js';
import { clusterFixture, PASSWORD, REALM } from './cluster-fixture.js';
import { freeSipPort, statusOf, udpExchange, type SipdProcess } from './sipd-process.js';
import { Inbox, cseqOf, header, registerRequest, registerWithDigest, responseTo, streamFramer } from './sip-message.js';

const SECRET = randomBytes(24).toString('hex');

// ------------------------------------------------------------------ a small SIP UA

interface Msg {
  text: string;
  first: string;
  method?: string;
  status?: number;
  /** where it came from */
  from: { address: string; port: number };
  transport: 'udp' | 'tcp';
}

/**
 * A callee: registers `user` (digest) over UDP or over one TCP connection it keeps open; answers
 * INVITE with 200 (Record-Route copied), ACK silently, BYE with 200; keeps every message with its
 * source. It can also send a BYE of the call it answered to any address.
 */
class TestUa {
  private readonly inbox: Inbox<Msg>;
  private udp?: dgram.Socket;
  private tcp?: net.Socket;
  localPort = 0;
  private readonly tag = randomBytes(4).toString('hex');
  private cseq = 0;

  constructor(readonly o: { transport: 'udp' | 'tcp'; ip: string; user: string }) {
    this.inbox = new Inbox<Msg>(o.user);
  }

  /** every message received, in order */
  get messages(): readonly Msg[] {
    return this.inbox.items;
  }

  get contact(): string {
    return `<sip:${this.o.user}@${this.o.ip}:${this.localPort}${this.o.transport === 'tcp' ? ';transport=tcp' : ''}>`;
  }

  async open(proxy: { host: string; port: number }): Promise<void> {
    if (this.o.transport === 'udp') {
      const s = dgram.createSocket('udp4');
      await new Promise<void>((r) => s.bind({ address: this.o.ip, port: 0 }, () => r()));
      s.on('message', (data, rinfo) => this.received(data.toString('utf8'), { address: rinfo.address, port: rinfo.port }));
      this.udp = s;
      this.localPort = s.address().port;
      return;
    }
    const c = net.connect({ host: proxy.host, port: proxy.port, localAddress: this.o.ip });
    await new Promise<void>((resolve, reject) => {
      c.once('connect', () => resolve());
      c.once('error', reject);
    });
    c.on('error', () => undefined);
    c.on('data', streamFramer((text) => this.received(text, { address: c.remoteAddress ?? '', port: c.remotePort ?? 0 })));
    this.tcp = c;
    this.localPort = c.localPort!;
  }

  close(): void {
    this.udp?.close();
    this.udp = undefined;
    this.tcp?.destroy();
  }

  private send(text: string, to: { host: string; port: number }): void {
    if (this.tcp !== undefined) this.tcp.write(text);
    else this.udp?.send(text, to.port, to.host);
  }

  private received(text: string, from: Msg['from']): void {
    const first = text.slice(0, text.indexOf('\r\n'));
    const status = statusOf(text);
    const m: Msg = { text, first, from, transport: this.o.transport, ...(status !== undefined ? { status } : { method: first.split(' ')[0] }) };
    if (m.method === 'INVITE') this.respond(m, 200, 'OK', true);
    else if (m.method === 'BYE' || m.method === 'OPTIONS') this.respond(m, 200, 'OK', false);
    this.inbox.add(m);
  }

  private respond(req: Msg, status: number, reason: string, answer: boolean): void {
    this.send(responseTo(req.text, status, reason, this.tag, answer ? this.contact : undefined), { host: req.from.address, port: req.from.port });
  }

  wait(what: string, match: (m: Msg) => boolean, ms = 10_000): Promise<Msg> {
    return this.inbox.wait(what, match, ms);
  }

  /** REGISTER with digest through host:port; the final status. */
  async register(proxy: { host: string; port: number }): Promise<number | undefined> {
    const callId = `${randomBytes(8).toString('hex')}@cluster-calls`;
    const uri = `sip:${proxy.host}:${proxy.port}`;
    const reply = await registerWithDigest({
      user: this.o.user,
      password: PASSWORD,
      uri,
      request: (auth) => registerRequest({ uri, via: `${this.o.transport.toUpperCase()} ${this.o.ip}:${this.localPort}`, user: this.o.user, realm: REALM, fromTag: randomBytes(4).toString('hex'), callId, cseq: ++this.cseq, contact: this.contact, expires: 300, auth }),
      exchange: async (text) => {
        this.send(text, proxy);
        return (await this.wait('REGISTER reply', (m) => m.status !== undefined && m.status >= 200 && cseqOf(m.text) === cseqOf(text))).text;
      },
    });
    return statusOf(reply);
  }

  /** BYE of the call `invite` set up (this UA answered it), sent to `to` (no Route: straight there). */
  async bye(invite: Msg, to: { host: string; port: number }): Promise<number | undefined> {
    const target = /<([^>]+)>/.exec(header(invite.text, 'Contact') ?? '')?.[1] ?? '';
    const callId = header(invite.text, 'Call-ID')!;
    const to_ = header(invite.text, 'To')!;
    const lines = [
      `BYE ${target} SIP/2.0`,
      `Via: SIP/2.0/${this.o.transport.toUpperCase()} ${this.o.ip}:${this.localPort};branch=z9hG4bK-${randomBytes(6).toString('hex')};rport`,
      `From: ${/;tag=/i.test(to_) ? to_ : `${to_};tag=${this.tag}`}`,
      `To: ${header(invite.text, 'From')}`,
      `Call-ID: ${callId}`,
      'CSeq: 1 BYE',
      'Max-Forwards: 70',
      'Content-Length: 0',
      '',
      '',
    ];
    this.send(lines.join('\r\n'), to);
    const r = await this.wait('BYE reply', (m) => m.status !== undefined && m.status >= 200 && header(m.text, 'CSeq') === '1 BYE' && header(m.text, 'Call-ID') === callId, 8000);
    return r.status;
  }
}

// ------------------------------------------------------------------ the cluster

describe('calls across two sipd nodes (sipd --cluster): routed via the owning node, ended anywhere, one CDR', () => {
  const fx = clusterFixture({
    name: 'sipd-cluster-calls-',
    users: ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'],
    tools: ['sipp'],
    config: ({ ip, port, id, redisUrl }) => ({
      listen: [`udp:${ip}:${port}`, `tcp:${ip}:${port}`],
      // no Redis outage here: a slow reply on a loaded machine must not mark the cluster down (503s)
      cluster: { url: redisUrl, node_id: id, timeout_ms: 2000 },
      modules: {
        scanner: { user_agents: ['friendly-scanner', 'sipvicious', 'sipcli'] },
        'auth-db': { realm: REALM, secret: SECRET },
      },
    }),
  });
  let a: SipdProcess;
  let b: SipdProcess;
  const uas: TestUa[] = [];
  before(() => {
    [a, b] = fx.nodes as [SipdProcess, SipdProcess];
  });
  // bob's port, new for each call: a port sipp released between two calls could meanwhile be
  // handed to a test file running beside this one (freeSipPort only knows this process' ports)
  const bobPort = () => freeSipPort();

  /** the CDRs of one call (acc_cdrs), once the acc queues have been written */
  async function cdrs(callId: string, atLeast = 1): Promise<Array<{ end_reason: string; sip_code: string; src_user: string; dst_ouser: string }>> {
    const db = await fx.tdb.open();
    try {
      const read = () => db.query<{ end_reason: string; sip_code: string; src_user: string; dst_ouser: string }>('SELECT end_reason, sip_code, src_user, dst_ouser FROM acc_cdrs WHERE callid = ?', [callId]);
      await until('the CDR is written', async () => (await read()).length >= atLeast);
      // both nodes flush every 200 ms: a second row, if one were written, would be there by now
      await new Promise((r) => setTimeout(r, 800));
      return await read();
    } finally {
      await db.close();
    }
  }

  async function ua(transport: 'udp' | 'tcp', ip: string, user: string, through: { host: string; port: number }): Promise<TestUa> {
    const u = new TestUa({ transport, ip, user });
    uas.push(u);
    await u.open(through);
    assert.equal(await u.register(through), 200, `${user} registers through ${through.host}`);
    return u;
  }

  after(() => {
    for (const u of uas) u.close();
  });

  const A = () => ({ host: '127.0.0.1', port: a.sipPort });
  const B = () => ({ host: '127.0.0.2', port: b.sipPort });

  test('alice registers over TCP through A; bob calls her through B → the INVITE reaches her over her TCP connection to A, the call connects and ends; one CDR (B\'s)', async () => {
    const alice = await ua('tcp', '127.0.0.60', 'alice', A());
    const caller = sipp({ scenario: scenario('caller.xml', { USER: 'bob', HOLD: 500 }), remote: `127.0.0.2:${b.sipPort}`, localPort: await bobPort(), service: 'alice', user: 'bob', password: PASSWORD, timeoutMs: 20_000 });
    const invite = await alice.wait('INVITE', (m) => m.method === 'INVITE', 10_000);
    assert.equal(invite.transport, 'tcp');
    assert.deepEqual(invite.from, { address: '127.0.0.1', port: a.sipPort }, 'over the connection alice opened to A');
    assert.equal(header(invite.text, 'X-Sipd-Handoff'), undefined, 'the hand-off header stays between the nodes');
    ok(await caller.done, 'bob (caller, through B)');
    await alice.wait('BYE', (m) => m.method === 'BYE');
    const callId = header(invite.text, 'Call-ID')!;
    const rows = await cdrs(callId);
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.equal(rows[0]!.end_reason, 'caller-bye');
    assert.equal(rows[0]!.src_user, 'bob');
    assert.equal((await a.rpc<unknown[]>('dlg.list')).length, 0, 'A only relayed the call: nothing listed there');
    const stats = await a.rpc<{ transit: number }>('dialog.stats');
    assert.ok(stats.transit >= 1, 'A kept a transit record for the call');
  });

  test('carol registers over UDP through A (her NAT lets in only A); bob calls her through B → every message she gets comes from A', async () => {
    const carol = await ua('udp', '127.0.0.61', 'carol', A());
    const caller = sipp({ scenario: scenario('caller.xml', { USER: 'bob', HOLD: 500 }), remote: `127.0.0.2:${b.sipPort}`, localPort: await bobPort(), service: 'carol', user: 'bob', password: PASSWORD, timeoutMs: 20_000 });
    const invite = await carol.wait('INVITE', (m) => m.method === 'INVITE', 10_000);
    ok(await caller.done, 'bob (caller, through B)');
    await carol.wait('BYE', (m) => m.method === 'BYE');
    for (const m of carol.messages) assert.deepEqual(m.from, { address: '127.0.0.1', port: a.sipPort }, `${m.first} came from A`);
    assert.equal((await cdrs(header(invite.text, 'Call-ID')!)).length, 1);
    carol.close();
  });

  test('a call set up through A, the BYE sent to B → B forwards it to A, the call ends, exactly one CDR', async () => {
    const dave = await ua('udp', '127.0.0.62', 'dave', A());
    const caller = sipp({ scenario: scenario('caller-held.xml', { USER: 'bob' }), remote: `127.0.0.1:${a.sipPort}`, localPort: await bobPort(), service: 'dave', user: 'bob', password: PASSWORD, timeoutMs: 20_000 });
    const invite = await dave.wait('INVITE', (m) => m.method === 'INVITE', 10_000);
    await dave.wait('ACK', (m) => m.method === 'ACK');
    const callId = header(invite.text, 'Call-ID')!;
    assert.equal((await a.rpc<Array<{ 'call-id': string }>>('dlg.list')).filter((d) => d['call-id'] === callId).length, 1, 'A holds the call');
    assert.equal(await dave.bye(invite, B()), 200, 'the BYE sent to B is answered (by bob, through A)');
    ok(await caller.done, 'bob got the BYE');
    const rows = await cdrs(callId);
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.equal(rows[0]!.end_reason, 'callee-bye');
    await until('A ended the call', async () => (await a.rpc<Array<{ 'call-id': string }>>('dlg.list')).every((d) => d['call-id'] !== callId));
    dave.close();
  });

  test('a BYE for a call no node knows, sent to B → 404 (not relayed anywhere)', async () => {
    const erin = new TestUa({ transport: 'udp', ip: '127.0.0.63', user: 'erin' });
    uas.push(erin);
    await erin.open(B());
    const fake: Msg = {
      text: `INVITE sip:erin@127.0.0.63 SIP/2.0\r\nFrom: <sip:bob@${REALM}>;tag=x1\r\nTo: <sip:erin@${REALM}>;tag=y1\r\nCall-ID: nobody-knows-${randomBytes(4).toString('hex')}\r\nContact: <sip:bob@127.0.0.64:5060>\r\n\r\n`,
      first: 'INVITE', from: { address: '127.0.0.1', port: 0 }, transport: 'udp',
    };
    assert.equal(await erin.bye(fake, B()), 404);
    erin.close();
  });

  test('a hand-off header that no node signed → 403, nothing delivered (no way around authentication)', async () => {
    const carol = await ua('udp', '127.0.0.66', 'carol', A());
    const invite = (sig: string) => [
      `INVITE sip:carol@127.0.0.66:${carol.localPort} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.67:5999;branch=z9hG4bK-${randomBytes(6).toString('hex')};rport`,
      `From: <sip:mallory@${REALM}>;tag=m1`,
      `To: <sip:carol@${REALM}>`,
      `Call-ID: forged-${randomBytes(4).toString('hex')}`,
      'CSeq: 1 INVITE',
      'Contact: <sip:mallory@127.0.0.67:5999>',
      `X-Sipd-Handoff: node-b;aor=carol;ruid=x;t=${Date.now()};sig=${sig}`,
      'Max-Forwards: 70',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    assert.equal(statusOf(await udpExchange(a.sipPort, invite('0'.repeat(32)), { bindAddress: '127.0.0.67' })), 403);
    assert.equal(statusOf(await udpExchange(a.sipPort, invite(''), { bindAddress: '127.0.0.67' })), 403);
    await settle(300);
    assert.equal(carol.messages.filter((m) => m.method === 'INVITE').length, 0, 'carol got no INVITE');
    carol.close();
  });

  test('sipctl calls end ID --rpc <B> for a call set up through A → both sides get a BYE, one CDR', async () => {
    const frank = await ua('udp', '127.0.0.65', 'frank', A());
    const caller = sipp({ scenario: scenario('caller-held.xml', { USER: 'bob' }), remote: `127.0.0.1:${a.sipPort}`, localPort: await bobPort(), service: 'frank', user: 'bob', password: PASSWORD, timeoutMs: 20_000 });
    const invite = await frank.wait('INVITE', (m) => m.method === 'INVITE', 10_000);
    await frank.wait('ACK', (m) => m.method === 'ACK');
    const callId = header(invite.text, 'Call-ID')!;
    await settle(200);
    assert.equal((await b.rpc<unknown[]>('dlg.list')).length, 0, 'B does not hold the call');
    const r = await runSipctl(['calls', 'end', callId, '--rpc', b.rpcUrl, '--yes'], { env: isolatedEnv({ NO_COLOR: '1' }) });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ended/);
    await frank.wait('BYE', (m) => m.method === 'BYE');
    ok(await caller.done, 'bob got the BYE');
    const rows = await cdrs(callId);
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.equal(rows[0]!.end_reason, 'rpc');
    // a Call-ID no node holds: exit 3 (not found), through either node
    const gone = await runSipctl(['calls', 'end', callId, '--rpc', b.rpcUrl, '--yes'], { env: isolatedEnv({ NO_COLOR: '1' }) });
    assert.equal(gone.code, 3, gone.stderr);
    frank.close();
  });
});
