// RFC 4475 ("SIP Torture Test Messages") against the real sipd over UDP: each message from its
// own loopback address (so no source reaches pike's limits), every datagram back counted. The
// expected answer of each is in test/fixtures/sip/rfc4475/expected.json with the RFC's own
// expectation beside it; where sipd answers differently, `note` says why.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, assertBuilt, makeDb, options, startSipd, statusOf, type SipdProcess } from './sipd-process.js';

const DIR = join(REPO, 'test', 'fixtures', 'sip', 'rfc4475');

interface Expectation {
  section: string;
  /** what RFC 4475 expects of a proxy / registrar, in words */
  rfc: string;
  /** the status sipd answers with, or null when nothing may be sent back */
  status: number | null;
  /** the reason phrase must match this (case-insensitive), when given */
  reason?: string;
  note?: string;
}

const expected = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as Record<string, Expectation>;

let dir: string;
let sipd: SipdProcess;

before(async () => {
  assertBuilt();
  dir = mkdtempSync(join(tmpdir(), 'sipd-rfc4475-'));
  // example.com is ours, so the REGISTERs of the corpus reach the registrar (and auth-db)
  sipd = await startSipd({ dbUrl: await makeDb(dir), config: { domain: ['example.com'] } });
});
after(async () => {
  if (sipd !== undefined && sipd.child.exitCode === null) await sipd.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

test('every RFC 4475 message gets the expected answer over UDP, and at most one', async () => {
  const names = Object.keys(expected).sort();
  assert.equal(names.length, 49, 'all 49 messages of RFC 4475 have an expectation');
  const socks: dgram.Socket[] = [];
  const got = new Map<string, Buffer[]>();
  try {
    for (let i = 0; i < names.length; i++) {
      const s = dgram.createSocket('udp4');
      await new Promise<void>((r) => s.bind({ address: `127.0.1.${10 + i}`, port: 0 }, () => r()));
      const list: Buffer[] = [];
      got.set(names[i], list);
      s.on('message', (m) => list.push(m));
      socks.push(s);
      s.send(readFileSync(join(DIR, `${names[i]}.sip`)), sipd.sipPort, '127.0.0.1');
    }
    await new Promise((r) => setTimeout(r, 2000));
  } finally {
    for (const s of socks) s.close();
  }
  const wrong: string[] = [];
  const lines: string[] = [];
  for (const name of names) {
    const e = expected[name];
    const replies = got.get(name)!.map((b) => b.toString('latin1'));
    const statuses = replies.map((r) => statusOf(r));
    const first = replies[0]?.split('\r\n')[0] ?? '(nothing)';
    lines.push(`${name.padEnd(10)} ${first}`);
    if (e.status === null ? replies.length !== 0 : replies.length !== 1 || statuses[0] !== e.status) wrong.push(`${name}: expected ${e.status ?? 'nothing'}, got ${replies.length} repl${replies.length === 1 ? 'y' : 'ies'}: ${first}`);
    else if (e.reason !== undefined && !new RegExp(e.reason, 'i').test(first)) wrong.push(`${name}: reason ${JSON.stringify(first)} does not match /${e.reason}/`);
  }
  console.log(lines.join('\n'));
  assert.deepEqual(wrong, []);
  // still alive and answering
  assert.equal(typeof (await sipd.rpc('core.uptime')), 'object');
});

test('over TCP, a complete valid request followed by garbage on the same connection is answered, then the connection closed', async () => {
  const ok = options(sipd.sipPort, { transport: 'TCP' });
  // in one write (one segment: the framer sees both at once), and in two
  for (const parts of [[ok + 'GARBAGE-NOT-SIP\r\n\r\n'], [ok, 'GARBAGE-NOT-SIP\r\n\r\n']]) {
    const got = await new Promise<{ text: string; closed: boolean }>((resolve) => {
      const s = net.createConnection({ host: '127.0.0.1', port: sipd.sipPort });
      let text = '';
      const timer = setTimeout(() => {
        s.destroy();
        resolve({ text, closed: false });
      }, 5000);
      s.on('connect', async () => {
        for (const p of parts) {
          s.write(p);
          await new Promise((r) => setTimeout(r, 100));
        }
      });
      s.on('data', (d) => (text += d));
      s.on('error', () => undefined);
      s.on('close', () => {
        clearTimeout(timer);
        resolve({ text, closed: true });
      });
    });
    assert.equal(statusOf(got.text), 200, `${parts.length} write(s): the OPTIONS is answered: ${JSON.stringify(got.text.slice(0, 60))}`);
    assert.equal(got.closed, true, 'then the connection is closed (no resynchronising after bad bytes)');
  }
});

test('IPv6 reference errors (RFC 5118 §4) get 400 naming the header; valid IPv6 references are answered normally', async () => {
  const reg = (uri: string, extra: Record<string, string> = {}) =>
    [
      `REGISTER ${uri} SIP/2.0`,
      extra.via ?? 'Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111',
      'Max-Forwards: 70',
      'From: <sip:user@example.com>;tag=268923',
      'To: <sip:user@example.com>',
      `Call-ID: ipv6-${Object.keys(extra).join('-')}-${uri.length}@example.com`,
      'CSeq: 2 REGISTER',
      extra.contact ?? 'Contact: <sip:user@[2001:db8::10]>',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
  const cases: Array<[string, string, number, RegExp]> = [
    // §4.2 ipv6-bad: an IPv6 reference without brackets
    ['R-URI without brackets', reg('sip:[2001:db8::10]'.replace('[2001:db8::10]', '2001:db8::10')), 400, /Bad Request-URI/],
    ['Via: no closing bracket', reg('sip:example.com', { via: 'Via: SIP/2.0/UDP [2001:db8::9:1;branch=z9hG4bKas3-111' }), 400, /Bad Via header/],
    ['Contact: not an IPv6 address', reg('sip:example.com', { contact: 'Contact: <sip:user@[2001:db8::g]>' }), 400, /Contact/],
    ['Contact: port inside the brackets is not a port', reg('sip:example.com', { contact: 'Contact: <sip:user@[2001:db8::10]:5070:5070>' }), 400, /Contact/],
    // §4.1 ipv6-good and §4.3 port-ambiguous: valid (the registrar challenges them)
    ['valid: bracketed IPv6 everywhere', reg('sip:example.com'), 401, /Unauthorized/],
    ['valid: [2001:db8::10:5070] is an address, not a port', reg('sip:example.com', { contact: 'Contact: <sip:user@[2001:db8::10:5070]>' }), 401, /Unauthorized/],
  ];
  const socks: dgram.Socket[] = [];
  const got: Buffer[][] = [];
  try {
    for (let i = 0; i < cases.length; i++) {
      const s = dgram.createSocket('udp4');
      await new Promise<void>((r) => s.bind({ address: `127.0.2.${10 + i}`, port: 0 }, () => r()));
      const list: Buffer[] = [];
      got.push(list);
      s.on('message', (m) => list.push(m));
      socks.push(s);
      s.send(cases[i][1], sipd.sipPort, '127.0.0.1');
    }
    await new Promise((r) => setTimeout(r, 1500));
  } finally {
    for (const s of socks) s.close();
  }
  const wrong: string[] = [];
  cases.forEach(([name, , status, reason], i) => {
    const first = got[i][0]?.toString('latin1').split('\r\n')[0] ?? '(nothing)';
    if (got[i].length !== 1 || statusOf(first) !== status || !reason.test(first)) wrong.push(`${name}: ${got[i].length} repl(ies), ${first}`);
  });
  assert.deepEqual(wrong, []);
});
