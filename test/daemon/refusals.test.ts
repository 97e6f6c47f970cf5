// Issue 16 part 2, on the wire: a request sipd refuses before anyone is authenticated is answered
// at most once, statelessly (no 100 Trying, no retransmitted final reply), with a reply not much
// larger than the request — so a datagram with a forged source cannot be turned into a stream
// of datagrams at somebody else. Each case sends from its own 127.0.0.x address over a raw UDP
// socket and counts every datagram that comes back within a few seconds (INVITE server
// transactions retransmit a final reply after 0.5, 1.5 and 3.5 s).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../src/core/db/database.js';
import { addSubscriber } from '../../src/core/subscribers/subscribers.js';
import { assertBuilt, freeSipPort, makeDb, startSipd, statusOf, type SipdProcess } from './sipd-process.js';

const PASSWORD = 'Refusal-Test-Pass-42';
/** long enough to see Timer G's retransmissions at 0.5, 1.5 and 3.5 s */
const LISTEN_MS = 4000;

let dir: string;
let sipd: SipdProcess;

before(async () => {
  assertBuilt();
  dir = mkdtempSync(join(tmpdir(), 'sipd-refusals-'));
  const dbUrl = await makeDb(dir);
  const db = await openDatabase(dbUrl);
  try {
    await addSubscriber(db, 'alice', '127.0.0.1', PASSWORD, { hash: 'md5', storePlaintext: false });
    await db.execute("INSERT INTO mtree (tprefix, tvalue) VALUES ('+44', 'uk')");
  } finally {
    await db.close();
  }
  sipd = await startSipd({
    dbUrl,
    config: {
      modules: {
        scanner: { user_agents: ['friendly-scanner', 'sipvicious'] },
        // a trunk, so that a blocked prefix is what refuses the call
        proxy: { carrier_host: '127.0.0.2', carrier_port: await freeSipPort() },
      },
    },
  });
});
after(async () => {
  if (sipd !== undefined && sipd.child.exitCode === null) await sipd.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** A UDP socket on one loopback address that keeps every datagram it receives. */
class Probe {
  readonly got: Buffer[] = [];
  sentBytes = 0;
  private constructor(readonly ip: string, private readonly sock: dgram.Socket, readonly port: number) {
    sock.on('message', (m) => this.got.push(m));
  }

  static async open(ip: string): Promise<Probe> {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r, j) => {
      sock.once('error', j);
      sock.bind({ address: ip, port: 0 }, () => r());
    });
    return new Probe(ip, sock, sock.address().port);
  }

  send(data: string | Buffer): void {
    const b = Buffer.isBuffer(data) ? data : Buffer.from(data, 'latin1');
    this.sentBytes += b.length;
    this.sock.send(b, sipd.sipPort, '127.0.0.1');
  }

  /** the next datagram (waits up to `ms`) */
  async next(ms = 3000): Promise<string | undefined> {
    const start = this.got.length;
    const deadline = Date.now() + ms;
    while (this.got.length === start && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.got[start]?.toString('latin1');
  }

  close(): void {
    this.sock.close();
  }
}

let n = 0;
function request(p: Probe, o: { method?: string; ruri: string; from: string; to?: string; extra?: string[]; cseqMethod?: string }): string {
  n++;
  const method = o.method ?? 'INVITE';
  return [
    `${method} ${o.ruri} SIP/2.0`,
    `Via: SIP/2.0/UDP ${p.ip}:${p.port};branch=z9hG4bK-refusal-${n}-${process.pid};rport`,
    'Max-Forwards: 70',
    `From: <${o.from}>;tag=rf${n}`,
    `To: <${o.to ?? o.ruri}>`,
    `Call-ID: refusal-${n}-${process.pid}@${p.ip}`,
    `CSeq: 1 ${o.cseqMethod ?? method}`,
    `Contact: <sip:caller@${p.ip}:${p.port}>`,
    ...(o.extra ?? []),
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

/** Proxy-Authorization answering the challenge in `challenge` (a 407) for `ruri`. */
function credentials(challenge: string, ruri: string, password: string): string {
  const header = /^Proxy-Authenticate: (.*)$/im.exec(challenge)?.[1];
  assert.ok(header, `a 407 with Proxy-Authenticate: ${challenge}`);
  const param = (k: string) => new RegExp(`${k}="?([^",]*)"?`, 'i').exec(header)?.[1];
  const realm = param('realm') ?? '';
  const nonce = param('nonce') ?? '';
  const qop = param('qop');
  const ha1 = md5(`alice:${realm}:${password}`);
  const ha2 = md5(`INVITE:${ruri}`);
  if (qop === undefined) return `Proxy-Authorization: Digest username="alice", realm="${realm}", nonce="${nonce}", uri="${ruri}", response="${md5(`${ha1}:${nonce}:${ha2}`)}", algorithm=MD5`;
  const cnonce = 'a1b2c3d4';
  const nc = '00000001';
  const response = md5(`${ha1}:${nonce}:${nc}:${cnonce}:auth:${ha2}`);
  return `Proxy-Authorization: Digest username="alice", realm="${realm}", nonce="${nonce}", uri="${ruri}", response="${response}", algorithm=MD5, qop=auth, nc=${nc}, cnonce="${cnonce}"`;
}

interface Case {
  name: string;
  /** the status(es) the one reply may have, or undefined when the request is dropped */
  expect: number[] | undefined;
  /** sends the request(s) under test; returns what was sent under test (after any set-up exchange) */
  run(p: Probe, port: number): Promise<void>;
}

const me = (port: number) => `127.0.0.1:${port}`;
const cases: Case[] = [
  {
    name: 'not relaying (foreign domain to a foreign domain)',
    expect: [403],
    run: async (p) => p.send(request(p, { ruri: 'sip:bob@elsewhere.example', from: 'sip:eve@evil.example' })),
  },
  {
    name: 'unknown user (foreign domain to a local user who is not registered)',
    expect: [403],
    run: async (p, port) => p.send(request(p, { ruri: `sip:nobody@${me(port)}`, from: 'sip:eve@evil.example' })),
  },
  {
    name: 'blocked prefix (an authenticated subscriber dials +44…)',
    expect: [403],
    run: async (p, port) => {
      const ruri = `sip:+441234567@${me(port)}`;
      p.send(request(p, { ruri, from: 'sip:alice@127.0.0.1' }));
      const challenge = await p.next();
      assert.equal(statusOf(challenge), 407, challenge);
      p.got.length = 0;
      p.sentBytes = 0;
      p.send(request(p, { ruri, from: 'sip:alice@127.0.0.1', extra: [credentials(challenge!, ruri, PASSWORD)] }));
    },
  },
  {
    name: 'bad credentials (a wrong password)',
    // a fresh challenge (auth-db answers a failed digest with a new nonce), or 403 once locked out
    expect: [407, 403],
    run: async (p, port) => {
      const ruri = `sip:+4930123456@${me(port)}`;
      p.send(request(p, { ruri, from: 'sip:alice@127.0.0.1' }));
      const challenge = await p.next();
      assert.equal(statusOf(challenge), 407, challenge);
      p.got.length = 0;
      p.sentBytes = 0;
      p.send(request(p, { ruri, from: 'sip:alice@127.0.0.1', extra: [credentials(challenge!, ruri, 'not-the-password')] }));
    },
  },
  {
    name: 'no credentials (the first challenge)',
    expect: [407],
    run: async (p, port) => p.send(request(p, { ruri: `sip:+4930123456@${me(port)}`, from: 'sip:alice@127.0.0.1' })),
  },
  {
    name: 'REGISTER of an unknown user',
    expect: [401],
    run: async (p, port) => p.send(request(p, { method: 'REGISTER', ruri: `sip:${me(port)}`, from: 'sip:mallory@127.0.0.1', to: 'sip:mallory@127.0.0.1' })),
  },
  {
    name: 'banned source',
    expect: undefined,
    run: async (p, port) => {
      await sipd.rpc('htable.seti', ['ipban', p.ip, 1]);
      p.send(request(p, { ruri: `sip:nobody@${me(port)}`, from: 'sip:eve@evil.example' }));
    },
  },
  {
    name: 'scanner User-Agent',
    expect: undefined,
    run: async (p, port) => p.send(request(p, { ruri: `sip:100@${me(port)}`, from: 'sip:100@evil.example', extra: ['User-Agent: friendly-scanner'] })),
  },
  {
    name: 'sanity failure (CSeq method differs from the request method)',
    expect: [400],
    run: async (p, port) => p.send(request(p, { ruri: `sip:nobody@${me(port)}`, from: 'sip:eve@evil.example', cseqMethod: 'BYE' })),
  },
  {
    name: 'malformed request (Content-Length larger than the body)',
    expect: [400],
    run: async (p, port) => p.send(request(p, { ruri: `sip:nobody@${me(port)}`, from: 'sip:eve@evil.example' }).replace('Content-Length: 0', 'Content-Length: 50')),
  },
];

test('one refused request in → at most one reply out, no larger than needed, for every kind of refusal', async () => {
  const probes: Probe[] = [];
  try {
    // Each case from its own address, all at once: one listening period for all of them.
    for (let i = 0; i < cases.length; i++) probes.push(await Probe.open(`127.0.0.${30 + i}`));
    await Promise.all(cases.map((c, i) => c.run(probes[i], sipd.sipPort)));
    await new Promise((r) => setTimeout(r, LISTEN_MS));
    const failures: string[] = [];
    for (let i = 0; i < cases.length; i++) {
      const c = cases[i];
      const p = probes[i];
      const statuses = p.got.map((g) => statusOf(g.toString('latin1')));
      const out = p.got.reduce((s, g) => s + g.length, 0);
      const line = `${c.name}: ${p.sentBytes} bytes in → ${p.got.length} datagram(s), ${out} bytes out [${statuses.join(', ')}]`;
      if (c.expect === undefined ? p.got.length !== 0 : p.got.length !== 1 || !c.expect.includes(statuses[0]!)) failures.push(`${line}; expected ${c.expect === undefined ? 'none' : `one of ${c.expect.join('/')}`}`);
      // "not much larger": the reply copies the request's Via, From, To, Call-ID and CSeq and adds
      // a To tag, received/rport and Server; a challenge adds its nonce. 200 bytes cover those.
      else if (out > p.sentBytes + 200) failures.push(`${line}; the reply is more than 200 bytes larger than the request`);
      else console.log(`ok  ${line}`);
    }
    assert.deepEqual(failures, []);
  } finally {
    for (const p of probes) p.close();
  }
});

test('a source that keeps sending refused requests is rate-limited: replies stop before pike bans it', async () => {
  const p = await Probe.open('127.0.0.60');
  try {
    // 12 in quick succession: under pike's flood limit (16 per 2 s), so only the refusal limit can act
    for (let i = 0; i < 12; i++) p.send(request(p, { ruri: 'sip:bob@elsewhere.example', from: 'sip:eve@evil.example' }));
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(p.got.length >= 1, 'the first refusals are answered');
    assert.ok(p.got.length <= 8, `at most 8 refusals answered per sampling unit, got ${p.got.length}`);
    const stats = await sipd.rpc<Record<string, number>>('pike.stats');
    assert.ok((stats.refusals_suppressed ?? 0) >= 4, `pike counts the suppressed refusals: ${JSON.stringify(stats)}`);
  } finally {
    p.close();
  }
});
