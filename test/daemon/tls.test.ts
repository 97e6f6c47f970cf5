// The real sipd (bin/sipd.js, built) with SIP over TLS: a node:tls client and sipsak (GnuTLS)
// REGISTER with digest auth over TLS; openssl s_client with a client certificate; client
// certificates required and verified; the CN = From user policy; bad and garbage handshakes.
//
// sipp: the sipp in Debian bookworm (3.6.1) is built without OpenSSL ("To use a TLS transport you
// must compile SIPp with OpenSSL"), so the real TLS clients here are sipsak, openssl s_client and
// node:tls. sipsak 0.9.8.1 loses the reply after a TLS 1.3 session ticket, so its sipd offers at
// most TLS 1.2 (tls.maxVersion).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import tls from 'node:tls';
import { openDatabase } from '../../src/core/db/database.js';
import { parseAuth } from '../../src/core/sip/headers.js';
import { addSubscriber } from '../../src/core/subscribers/subscribers.js';
import { createSelfSigned, type SelfSignedResult } from '../../src/core/tls/selfsigned.js';
import { computeHa1, computeResponse, type DigestAlgorithm } from '../../src/daemon/modules/auth/digest.js';
import { SIPD, assertBuilt, freeSipPort, makeDb, options, startSipd, statusOf, udpExchange, type SipdProcess } from './sipd-process.js';
import { requireSipsakTls, requireTools } from '../helpers/require.js';

const PASSWORD = { alice: 'Tr0ub4dor-Horse-77', bob: 'Correct-Battery-Staple-9' } as const;

const dir = mkdtempSync(join(tmpdir(), 'sipd-tls-proc-'));
let dbUrl: string;
let server: SelfSignedResult;
let alice: SelfSignedResult;
let bob: SelfSignedResult;
let mallory: SelfSignedResult; // CN=alice, but from no CA sipd trusts
let clientsCa: string; // alice's and bob's self-signed certificates: the CAs sipd trusts for clients

before(async () => {
  assertBuilt();
  requireTools('openssl');
  dbUrl = await makeDb(dir);
  const db = await openDatabase(dbUrl);
  try {
    for (const [user, pw] of Object.entries(PASSWORD)) await addSubscriber(db, user, '127.0.0.1', pw, { hash: 'md5', storePlaintext: false });
  } finally {
    await db.close();
  }
  [server, alice, bob, mallory] = await Promise.all([
    createSelfSigned({ outDir: join(dir, 'server') }),
    createSelfSigned({ cn: 'alice', outDir: join(dir, 'alice') }),
    createSelfSigned({ cn: 'bob', outDir: join(dir, 'bob') }),
    createSelfSigned({ cn: 'alice', outDir: join(dir, 'mallory') }),
  ]);
  clientsCa = join(dir, 'clients-ca.pem');
  writeFileSync(clientsCa, readFileSync(alice.cert, 'utf8') + readFileSync(bob.cert, 'utf8'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function startTlsSipd(tlsKeys: Record<string, unknown> = {}): Promise<SipdProcess & { tlsPort: number }> {
  const sipPort = await freeSipPort();
  const tlsPort = await freeSipPort();
  const s = await startSipd({
    dbUrl,
    sipPort,
    config: {
      listen: [`udp:127.0.0.1:${sipPort}`, `tls:127.0.0.1:${tlsPort}`],
      tls: { certFile: server.cert, keyFile: server.key, ...tlsKeys },
      logLevel: 'debug',
    },
  });
  return Object.assign(s, { tlsPort });
}

// ---------------------------------------------------------------- SIP over a byte stream

/** Messages cut by Content-Length from a stream (a TLS socket, or openssl s_client's stdout). */
function messageReader(stream: Readable) {
  let buf = '';
  let ended = false;
  const waiting: Array<() => void> = [];
  const wake = () => waiting.splice(0).forEach((w) => w());
  stream.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    wake();
  });
  stream.on('close', () => {
    ended = true;
    wake();
  });
  stream.on('end', () => {
    ended = true;
    wake();
  });
  const take = (): string | undefined => {
    const start = buf.indexOf('SIP/2.0 ');
    if (start === -1) return undefined;
    const headEnd = buf.indexOf('\r\n\r\n', start);
    if (headEnd === -1) return undefined;
    const cl = Number(/\r\nContent-Length:\s*(\d+)/i.exec(buf.slice(start, headEnd))?.[1] ?? 0);
    const end = headEnd + 4 + cl;
    if (buf.length < end) return undefined;
    const msg = buf.slice(start, end);
    buf = buf.slice(end);
    return msg;
  };
  return {
    /** the next whole message; undefined when the stream closed or nothing came within timeoutMs */
    async next(timeoutMs = 5000): Promise<string | undefined> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = take();
        if (m !== undefined) return m;
        if (ended || Date.now() >= deadline) return undefined;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
          waiting.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
    },
    get ended() {
      return ended;
    },
  };
}

function header(msg: string, name: string): string[] {
  const head = msg.split('\r\n\r\n', 1)[0];
  return head
    .split('\r\n')
    .slice(1)
    .filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`))
    .map((l) => l.slice(l.indexOf(':') + 1).trim());
}

let seq = 0;
function registerRequest(o: { user: string; from?: string; port: number; via: string; callId: string; cseq: number; authorization?: string }): string {
  const from = o.from ?? o.user;
  return [
    'REGISTER sip:127.0.0.1 SIP/2.0',
    `Via: SIP/2.0/TLS ${o.via};branch=z9hG4bK-tls${++seq}-${Date.now()};rport`,
    `From: <sip:${from}@127.0.0.1>;tag=t${seq}`,
    `To: <sip:${from}@127.0.0.1>`,
    `Call-ID: ${o.callId}`,
    `CSeq: ${o.cseq} REGISTER`,
    'Max-Forwards: 70',
    // not the source address: the registrar records where it really came from (Received …;transport=tls)
    `Contact: <sip:${from}@127.0.0.1:5999;transport=tls>`,
    'Expires: 60',
    ...(o.authorization ? [`Authorization: ${o.authorization}`] : []),
    'User-Agent: sipd-tls-test',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

function digest(challenge401: string, user: string, password: string): string {
  const ch = header(challenge401, 'WWW-Authenticate').map((v) => parseAuth(v, 'www-authenticate')).find((a) => a.scheme.toLowerCase() === 'digest');
  assert.ok(ch, `no Digest challenge in\n${challenge401}`);
  const realm = ch.params.get('realm')!;
  const nonce = ch.params.get('nonce')!;
  const algorithm: DigestAlgorithm = (ch.params.get('algorithm') ?? 'MD5').toUpperCase() === 'SHA-256' ? 'SHA-256' : 'MD5';
  const qop = (ch.params.get('qop') ?? '').split(',').map((s) => s.trim()).includes('auth') ? 'auth' : undefined;
  const cnonce = randomBytes(8).toString('hex');
  const nc = '00000001';
  const uri = 'sip:127.0.0.1';
  const response = computeResponse({ algorithm, ha1: computeHa1(algorithm, user, realm, password), nonce, method: 'REGISTER', uri, qop, nc, cnonce });
  const parts = [`username="${user}"`, `realm="${realm}"`, `nonce="${nonce}"`, `uri="${uri}"`, `response="${response}"`, `algorithm=${algorithm}`];
  if (qop) parts.push('qop=auth', `nc=${nc}`, `cnonce="${cnonce}"`);
  const opaque = ch.params.get('opaque');
  if (opaque !== undefined) parts.push(`opaque="${opaque}"`);
  return `Digest ${parts.join(', ')}`;
}

/**
 * REGISTER → 401 → REGISTER with digest credentials, on one connection (`send` writes to it,
 * `reader` reads from it). Returns both replies.
 */
async function registerWithDigest(send: (s: string) => void, reader: ReturnType<typeof messageReader>, o: { user: string; from?: string; password: string; port: number; via: string }) {
  const callId = `tls-${randomBytes(6).toString('hex')}@test`;
  send(registerRequest({ ...o, callId, cseq: 1 }));
  const first = await reader.next();
  if (statusOf(first) !== 401) return { first, second: undefined };
  send(registerRequest({ ...o, callId, cseq: 2, authorization: digest(first!, o.user, o.password) }));
  return { first, second: await reader.next() };
}

function tlsConnect(port: number, client?: SelfSignedResult, extra: tls.ConnectionOptions & Pick<net.TcpNetConnectOpts, 'localAddress'> = {}): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      ca: readFileSync(server.cert),
      ...(client ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}),
      ...extra,
    }, () => resolve(s));
    s.once('error', reject);
  });
}

const securityEvents = (s: SipdProcess, event: string) => s.lines().filter((l) => l.msg === 'security event' && l.event === event);
const until = async (cond: () => boolean, what: string, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    assert.ok(Date.now() < end, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

// ---------------------------------------------------------------- tests

describe('sipd over TLS, no client certificates', () => {
  let sipd: SipdProcess & { tlsPort: number };
  before(async () => {
    sipd = await startTlsSipd({ handshakeTimeoutSec: 1 });
  });
  after(async () => {
    if (sipd?.child.exitCode === null) await sipd.stop('SIGKILL');
  });

  test('node:tls: OPTIONS → 200 and REGISTER with digest → 200 on one TLS 1.3 connection; the binding is tls', async () => {
    const s = await tlsConnect(sipd.tlsPort);
    try {
      assert.equal(s.authorized, true, 'sipd presents the configured certificate');
      assert.equal(s.getProtocol(), 'TLSv1.3');
      const reader = messageReader(s);
      s.write(options(sipd.tlsPort, { transport: 'TCP' }).replace('SIP/2.0/TCP', 'SIP/2.0/TLS'));
      const opt = await reader.next();
      assert.equal(statusOf(opt), 200, opt);
      const via = `127.0.0.1:${s.localPort}`;
      const { first, second } = await registerWithDigest((x) => s.write(x), reader, { user: 'alice', password: PASSWORD.alice, port: sipd.tlsPort, via });
      assert.equal(statusOf(first), 401, first);
      assert.equal(statusOf(second), 200, second);
      assert.match(header(second!, 'Via')[0], new RegExp(`^SIP/2.0/TLS 127\\.0\\.0\\.1:${s.localPort};branch=.*;rport=${s.localPort}`));
    } finally {
      s.destroy();
    }
    const dump = await sipd.rpc<{ Domains: Array<{ Domain: { AoRs: Array<{ Info: { AoR: string; Contacts: Array<{ Contact: { Socket: string; Received: string } }> } }> } }> }>('ul.dump');
    const aor = dump.Domains[0].Domain.AoRs.find((a) => a.Info.AoR === 'alice');
    assert.ok(aor, JSON.stringify(dump));
    assert.equal(aor.Info.Contacts[0].Contact.Socket, `tls:127.0.0.1:${sipd.tlsPort}`);
    assert.match(aor.Info.Contacts[0].Contact.Received, /^sip:127\.0\.0\.1:\d+;transport=tls$/);
  });

  test('garbage, plain SIP, stalled and half handshakes — hundreds of them — leave sipd serving TLS and UDP', async () => {
    const clientHelloStart = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);
    const junk = [
      Buffer.from(options(sipd.tlsPort, { transport: 'TCP' })), // SIP without TLS
      randomBytes(2048), // noise
      Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff, ...randomBytes(64)]), // a record announcing 64 KiB, then junk
      Buffer.concat([Buffer.from([0x16, 0x03, 0x03, 0x00, 0x30]), randomBytes(0x30)]), // a handshake record of garbage
      clientHelloStart, // a ClientHello that never finishes (handshake timeout: 1 s)
      Buffer.alloc(0), // connects and says nothing
    ];
    const one = (data: Buffer) =>
      new Promise<string>((resolve) => {
        const s = net.createConnection({ host: '127.0.0.1', port: sipd.tlsPort }, () => {
          if (data.length > 0) s.write(data);
        });
        let got = '';
        s.setTimeout(5000, () => s.destroy());
        s.on('data', (d) => (got += d.toString('latin1')));
        s.on('error', () => undefined);
        s.on('close', () => resolve(got));
      });
    // within the per-source cap (32): batches of 24
    let n = 0;
    for (let round = 0; round < 10; round++) {
      const got = await Promise.all(Array.from({ length: 24 }, (_, i) => one(junk[(round + i) % junk.length])));
      n += got.length;
      for (const g of got) assert.ok(!g.includes('SIP/2.0'), 'no SIP answer without a handshake');
    }
    assert.equal(n, 240);
    assert.equal(sipd.child.exitCode, null, 'still running');
    // still serving, over TLS and over UDP
    const s = await tlsConnect(sipd.tlsPort);
    const reader = messageReader(s);
    s.write(options(sipd.tlsPort, { transport: 'TCP' }).replace('SIP/2.0/TCP', 'SIP/2.0/TLS'));
    assert.equal(statusOf(await reader.next()), 200);
    s.destroy();
    assert.equal(statusOf(await udpExchange(sipd.sipPort, options(sipd.sipPort))), 200);
    // what the log says: each failure at debug with its reason; nothing at error
    const closedLines = sipd.lines().filter((l) => l.msg === 'TLS connection closed');
    assert.ok(closedLines.some((l) => l.reason === 'handshake-failed'), 'handshake failures logged');
    assert.ok(closedLines.some((l) => l.reason === 'handshake-timeout'), 'handshake timeouts logged');
    assert.deepEqual(sipd.lines().filter((l) => l.level === 'error'), []);
    assert.ok(await sipd.rpc('core.uptime'));
  });

  test('SIGTERM with TLS connections open: exits 0', async () => {
    const s = await tlsConnect(sipd.tlsPort);
    s.on('error', () => undefined);
    const closed = new Promise<void>((r) => s.once('close', () => r()));
    assert.deepEqual(await sipd.stop('SIGTERM'), { code: 0, signal: null }, sipd.output());
    await closed;
  });
});

describe('sipsak (GnuTLS) over TLS', () => {
  before(requireSipsakTls);
  let sipd: SipdProcess & { tlsPort: number };
  before(async () => {
    sipd = await startTlsSipd({ maxVersion: 'TLSv1.2' });
  });
  after(async () => {
    if (sipd?.child.exitCode === null) await sipd.stop();
  });

  test('sipsak --transport=tls REGISTERs with digest auth through sipd and gets 200; a wrong password does not', async () => {
    const run = (password: string) =>
      spawnSync('sipsak', [
        '-vv', '--transport=tls', `--tls-ca-cert=${server.cert}`,
        '-i', '-U', '-C', 'sip:bob@127.0.0.1:5998', '-s', 'sip:bob@127.0.0.1', '-p', `127.0.0.1:${sipd.tlsPort}`,
        '--auth-username', 'bob', '-a', password, '-x', '60',
      ], { encoding: 'utf8', timeout: 15_000, killSignal: 'SIGKILL' });
    const good = run(PASSWORD.bob);
    assert.equal(good.status, 0, good.stdout + good.stderr);
    assert.match(good.stdout, /completed successful/i);
    const dump = await sipd.rpc<{ Domains: Array<{ Domain: { AoRs: Array<{ Info: { AoR: string; Contacts: Array<{ Contact: { Socket: string; 'User-Agent': string } }> } }> } }> }>('ul.dump');
    const aor = dump.Domains[0].Domain.AoRs.find((a) => a.Info.AoR === 'bob');
    assert.ok(aor, JSON.stringify(dump));
    assert.equal(aor.Info.Contacts[0].Contact.Socket, `tls:127.0.0.1:${sipd.tlsPort}`);
    assert.match(aor.Info.Contacts[0].Contact['User-Agent'], /^sipsak/);
    const bad = run('wrong-password');
    assert.notEqual(bad.status, 0, bad.stdout);
    await until(() => securityEvents(sipd, 'auth-failed').some((e) => e.user === 'bob'), 'the auth-failed event for bob');
  });
});

describe('client certificates required and verified, CN must match the From user', () => {
  let sipd: SipdProcess & { tlsPort: number };
  before(async () => {
    sipd = await startTlsSipd({ caFile: clientsCa, requireClientCert: true, verifyClientCert: true, cnMustMatchFromUser: true });
  });
  after(async () => {
    if (sipd?.child.exitCode === null) await sipd.stop();
  });

  /** Connect, send one REGISTER, and what came back before the connection closed (or 3 s). */
  async function tryRegister(localAddress: string, client?: SelfSignedResult): Promise<{ handshake: boolean; reply?: string }> {
    let s: tls.TLSSocket;
    try {
      s = await tlsConnect(sipd.tlsPort, client, { localAddress });
    } catch {
      return { handshake: false };
    }
    s.on('error', () => undefined);
    const reader = messageReader(s);
    s.write(registerRequest({ user: 'alice', port: sipd.tlsPort, via: `127.0.0.1:${s.localPort}`, callId: `x-${randomBytes(4).toString('hex')}`, cseq: 1 }));
    const reply = await reader.next(3000);
    s.destroy();
    return { handshake: true, ...(reply !== undefined ? { reply } : {}) };
  }

  test('no client certificate, or one from no trusted CA: disconnected before any SIP, with a tls-refused event', async () => {
    // (from two addresses: security events are rate-limited per event and source)
    const none = await tryRegister('127.0.0.4');
    assert.equal(none.reply, undefined, 'no SIP reply without a certificate');
    const untrusted = await tryRegister('127.0.0.5', mallory);
    assert.equal(untrusted.reply, undefined, 'no SIP reply for an untrusted certificate, whatever its CN');
    await until(() => securityEvents(sipd, 'tls-refused').length >= 2, 'two tls-refused events');
    const details = securityEvents(sipd, 'tls-refused').map((e) => String(e.detail));
    assert.ok(details.some((d) => d === 'client-cert-missing'), details.join('\n'));
    assert.ok(details.some((d) => /^client-cert-unverified: .*subject CN=alice/.test(d)), details.join('\n'));
    assert.equal(securityEvents(sipd, 'auth-failed').length, 0);
  });

  test('openssl s_client with alice\'s certificate: REGISTER as alice → 401 → digest → 200', async () => {
    const child = spawn('openssl', [
      's_client', '-connect', `127.0.0.1:${sipd.tlsPort}`, '-servername', 'localhost',
      '-CAfile', server.cert, '-verify_return_error', '-cert', alice.cert, '-key', alice.key, '-quiet',
    ], { stdio: ['pipe', 'pipe', 'pipe'] });
    const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    try {
      const reader = messageReader(child.stdout);
      // the local port is not known to s_client's user: the Via host:port is only a label, rport finds the way back
      const { first, second } = await registerWithDigest((x) => child.stdin.write(x), reader, { user: 'alice', password: PASSWORD.alice, port: sipd.tlsPort, via: '127.0.0.1:5997' });
      assert.equal(statusOf(first), 401, `${first}\n${err}`);
      assert.equal(statusOf(second), 200, `${second}\n${err}`);
    } finally {
      clearTimeout(kill);
      child.kill('SIGKILL');
    }
  });

  test('alice\'s certificate with From bob → 403 "Certificate does not match" before authentication; bob\'s own certificate → 401', async () => {
    const s = await tlsConnect(sipd.tlsPort, alice, { localAddress: '127.0.0.6' });
    const reader = messageReader(s);
    const via = `127.0.0.6:${s.localPort}`;
    const before = securityEvents(sipd, 'auth-failed').length;
    // bob's correct password does not help: the certificate says alice
    const { first } = await registerWithDigest((x) => s.write(x), reader, { user: 'bob', password: PASSWORD.bob, port: sipd.tlsPort, via });
    assert.equal(statusOf(first), 403, first);
    assert.match(first!, /^SIP\/2\.0 403 Certificate does not match\r\n/);
    assert.equal(header(first!, 'WWW-Authenticate').length, 0, 'no digest challenge');
    // the connection stays usable for alice herself
    const { second } = await registerWithDigest((x) => s.write(x), reader, { user: 'alice', password: PASSWORD.alice, port: sipd.tlsPort, via });
    assert.equal(statusOf(second), 200, second);
    s.destroy();
    const refused = securityEvents(sipd, 'tls-refused').find((e) => e.user === 'bob');
    assert.ok(refused, sipd.output());
    assert.equal(refused.method, 'REGISTER');
    assert.equal(refused.detail, 'certificate CN "alice" is not the From user');
    assert.equal(securityEvents(sipd, 'auth-failed').length, before, 'authentication was never reached');

    const b = await tlsConnect(sipd.tlsPort, bob);
    const rb = messageReader(b);
    b.write(registerRequest({ user: 'bob', port: sipd.tlsPort, via: `127.0.0.1:${b.localPort}`, callId: 'bob-1@test', cseq: 1 }));
    assert.equal(statusOf(await rb.next()), 401, 'a matching certificate goes on to authentication');
    b.destroy();
  });
});

describe('start-up refusals for TLS', () => {
  const run = (args: string[]) =>
    spawnSync(process.execPath, [SIPD, ...args], { encoding: 'utf8', timeout: 15_000, env: { PATH: process.env.PATH, HOME: dir, SIPCTL_DB: dbUrl } });

  test('tls: without a certificate, a key that is not the certificate\'s, a missing file: exit 10 naming the problem', async () => {
    const port = await freeSipPort();
    const base = ['--state-dir', join(dir, 'refusals'), '--rpc-listen', 'http://127.0.0.1:0/RPC', '--log-format', 'text', '--listen', `tls:127.0.0.1:${port}`];
    const noCert = run([...base, '--check-config']);
    assert.equal(noCert.status, 10, noCert.stderr);
    assert.match(noCert.stderr, /a tls: listen address needs tls\.certFile and tls\.keyFile/);
    const cfg = (tlsKeys: Record<string, unknown>) => {
      const p = join(dir, `tls-${randomBytes(3).toString('hex')}.json`);
      writeFileSync(p, JSON.stringify({ tls: tlsKeys }));
      return p;
    };
    const wrongKey = run([...base, '--config', cfg({ certFile: server.cert, keyFile: alice.key }), '--check-config']);
    assert.equal(wrongKey.status, 10, wrongKey.stderr);
    assert.match(wrongKey.stderr, /the key does not belong to the certificate/);
    const missing = run([...base, '--config', cfg({ certFile: join(dir, 'nope.pem'), keyFile: server.key }), '--check-config']);
    assert.equal(missing.status, 10, missing.stderr);
    assert.match(missing.stderr, /tls\.certFile: cannot read .*nope\.pem: ENOENT/);
    const ok = run([...base, '--config', cfg({ certFile: server.cert, keyFile: server.key }), '--check-config']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(`configuration OK: tls:127\\.0\\.0\\.1:${port}`));
  });
});
