// sipctl ping (kamctl ping, sipsak -s): SIP OPTIONS from the CLI against a real sipd over UDP,
// TCP and TLS, and a real Kamailio 5.6 (lab config) over UDP and TCP; a dead port (ICMP port
// unreachable / TCP refused: exit 5), a socket that never answers (exit 7 after --timeout), a
// bad URI (exit 2) — each one clear line on stderr.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isolatedEnv, runSipctl } from '../helpers/cli.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { findFreePort, kamailioMissing, startKamailio, type KamailioInstance } from '../helpers/kamailio.js';
import { requireComponent } from '../helpers/require.js';
import { freeSipPort, makeDb, startSipd, type SipdProcess } from '../daemon/sipd-process.js';
import { createSelfSigned, type SelfSignedResult } from '../../src/core/tls/selfsigned.js';

const env = isolatedEnv();
const ping = (...args: string[]) => runSipctl(['ping', ...args], { env, timeoutMs: 60_000 });
const REPLY = /^200 OK from 127\.0\.0\.1:\d+: seq=(\d+) time=\d+\.\d{3} ms/;

describe('sipctl ping against sipd (UDP, TCP, TLS)', () => {
  let dir: string;
  let sipd: SipdProcess;
  let tlsPort: number;
  let cert: SelfSignedResult;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sipctl-ping-'));
    cert = await createSelfSigned({ cn: 'localhost', san: ['127.0.0.1'], outDir: join(dir, 'tls') });
    const sipPort = await freeSipPort();
    tlsPort = await freeSipPort();
    sipd = await startSipd({
      dbUrl: await makeDb(dir),
      sipPort,
      config: { listen: [`udp:127.0.0.1:${sipPort}`, `tcp:127.0.0.1:${sipPort}`, `tls:127.0.0.1:${tlsPort}`], tls: { certFile: cert.cert, keyFile: cert.key } },
    });
  });
  after(async () => {
    await sipd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('UDP, --count 3: three replies with their round trip, then ping(8)\'s summary; exit 0', async () => {
    const r = await ping(`sip:127.0.0.1:${sipd.sipPort}`, '--count', '3', '--interval', '0.2');
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines[0], `OPTIONS sip:127.0.0.1:${sipd.sipPort} (127.0.0.1:${sipd.sipPort}) over UDP`);
    assert.deepEqual(lines.slice(1, 4).map((l) => REPLY.exec(l)?.[1]), ['1', '2', '3'], r.stdout);
    assert.match(lines[1]!, /\(sipd \d+\.\d+\.\d+\)$/, 'the Server header');
    assert.equal(lines[4], `--- sip:127.0.0.1:${sipd.sipPort} ping statistics ---`);
    assert.match(lines[5]!, /^3 sent, 3 received, 0% loss; rtt min\/avg\/max = [\d.]+\/[\d.]+\/[\d.]+ ms$/);
    assert.equal(r.stderr, '');
  });

  test('TCP from the URI\'s transport parameter, --json: replies, summary, the target', async () => {
    const r = await ping(`127.0.0.1:${sipd.sipPort};transport=tcp`, '-c', '2', '-i', '0.1', '--json');
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.deepEqual(doc.target, { uri: `sip:127.0.0.1:${sipd.sipPort};transport=tcp`, host: '127.0.0.1', port: sipd.sipPort, transport: 'tcp', address: '127.0.0.1' });
    assert.deepEqual(doc.replies.map((x: { seq: number; status: number }) => [x.seq, x.status]), [[1, 200], [2, 200]]);
    assert.equal(doc.sent, 2);
    assert.equal(doc.received, 2);
    assert.equal(doc.lossPercent, 0);
    assert.ok(doc.minMs > 0 && doc.minMs <= doc.avgMs && doc.avgMs <= doc.maxMs, r.stdout);
  });

  test('TLS (sips:), the certificate verified against --ca-file; without it, refused', async () => {
    const ok = await ping(`sips:127.0.0.1:${tlsPort}`, '--ca-file', cert.cert);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /over TLS\n200 OK from 127\.0\.0\.1:\d+: seq=1/);
    const untrusted = await ping(`sips:127.0.0.1:${tlsPort}`);
    assert.equal(untrusted.code, 5, untrusted.stderr);
    assert.match(untrusted.stderr, /^sipctl: cannot connect to 127\.0\.0\.1:\d+ over TLS: .*\n$/);
  });
});

describe('sipctl ping: nobody there', () => {
  test('UDP to a closed port: port unreachable, exit 5, one line', async () => {
    const port = await findFreePort('127.0.0.1', { udp: true });
    const r = await ping(`sip:127.0.0.1:${port}`, '--timeout', '3s');
    assert.equal(r.code, 5, r.stderr);
    assert.equal(r.stderr, `sipctl: no reply from sip:127.0.0.1:${port} (127.0.0.1:${port}, UDP): port unreachable: nothing listens there\n`);
  });

  test('TCP to a closed port: connection refused, exit 5', async () => {
    const port = await findFreePort('127.0.0.1');
    const r = await ping(`sip:127.0.0.1:${port}`, '--transport', 'tcp');
    assert.equal(r.code, 5, r.stderr);
    assert.equal(r.stderr, `sipctl: cannot connect to 127.0.0.1:${port} over TCP: ECONNREFUSED (nothing listens there)\n`);
  });

  test('a UDP socket that never answers: retransmitted, then exit 7 after --timeout; --count 2 reports 100% loss', async () => {
    const sock = dgram.createSocket('udp4');
    let got = 0;
    sock.on('message', () => got++);
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    try {
      const port = sock.address().port;
      const r = await ping(`sip:127.0.0.1:${port}`, '--timeout', '1600', '--count', '2', '--interval', '0.1');
      assert.equal(r.code, 7, r.stderr);
      assert.match(r.stdout, /no reply for seq=1 within 1600 ms\nno reply for seq=2 within 1600 ms\n/);
      assert.match(r.stdout, /2 sent, 0 received, 100% loss\n$/);
      assert.match(r.stderr, /^sipctl: no reply from sip:127\.0\.0\.1:\d+ \(127\.0\.0\.1:\d+, UDP\): timed out after 1600 ms \(.*\)\n$/);
      assert.ok(got >= 4, `timer A retransmits (500 ms, 1 s): ${got} datagrams for 2 requests`);
    } finally {
      sock.close();
    }
  });

  test('a bad URI or flag: usage error, exit 2, nothing sent', async () => {
    const r = await ping('sip:');
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^sipctl: "sip:" is not a SIP URI/);
    const t = await ping('sip:127.0.0.1', '--transport', 'sctp');
    assert.equal(t.code, 2);
    const i = await ping('sip:127.0.0.1', '--interval', 'soon');
    assert.equal(i.code, 2);
    assert.match(i.stderr, /--interval: "soon" is not a number of seconds/);
  });
});

describe('sipctl ping against Kamailio 5.6 (lab config)', () => {
  let t: TestDb;
  let k: KamailioInstance;
  before(async () => {
    requireComponent(kamailioMissing());
    t = await createTestDb('sqlite');
    k = await startKamailio({ dbUrl: t.fullUrl });
  });
  after(async () => {
    await k?.stop();
    await t?.drop();
  });

  test('UDP and TCP: Kamailio answers "200 Keepalive" (route REQINIT), Server header shown', async () => {
    const udp = await ping(`sip:127.0.0.1:${k.sipPort}`, '-c', '2', '-i', '0.1');
    assert.equal(udp.code, 0, udp.stderr);
    assert.match(udp.stdout, /^200 Keepalive from 127\.0\.0\.1:\d+: seq=1 time=[\d.]+ ms \(kamailio \(5\.6\.\d+/m);
    assert.match(udp.stdout, /2 sent, 2 received, 0% loss/);
    const tcp = await ping(`sip:127.0.0.1:${k.sipPort};transport=tcp`, '--json');
    assert.equal(tcp.code, 0, tcp.stderr);
    const doc = JSON.parse(tcp.stdout);
    assert.equal(doc.replies[0].status, 200);
    assert.equal(doc.target.transport, 'tcp');
  });
});
