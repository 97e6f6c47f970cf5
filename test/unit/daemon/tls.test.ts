// SIP over TLS: the transport (framing and bounds shared with TCP, client certificates, bad
// handshakes, certificate reload), the TLS config keys, and the CN = From user policy in the
// pipeline. Certificates are made with `sipctl tls selfsigned`'s code (openssl).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { parseMessage } from '../../../src/core/sip/parser.js';
import type { SipRequest, SipResponse } from '../../../src/core/sip/message.js';
import { createSelfSigned, type SelfSignedResult } from '../../../src/core/tls/selfsigned.js';
import { loadSipdConfig } from '../../../src/daemon/config/sipd-config.js';
import type { AuthApi, CoreApi, Endpoint, RequestContext, SecurityEvent, TlsPeer } from '../../../src/daemon/kernel/contracts.js';
import { defineModule } from '../../../src/daemon/kernel/module.js';
import { ModuleRegistry } from '../../../src/daemon/kernel/module-registry.js';
import { Myself } from '../../../src/daemon/kernel/myself.js';
import { Pipeline } from '../../../src/daemon/kernel/pipeline.js';
import type { StreamCloseReason, StreamLimits } from '../../../src/daemon/transport/stream.js';
import { listenTls, loadTlsCredentials, type TlsSettings, type TlsTransport } from '../../../src/daemon/transport/tls.js';
import { CERT_MISMATCH_REASON, certificateMismatch, cnMustMatchFromUser } from '../../../src/daemon/transport/tls-policy.js';
import { parseListen } from '../../../src/daemon/transport/transport.js';
import { requireTools } from '../../helpers/require.js';

const log = { debug() {}, info() {}, warn() {}, error() {} };
const dir = mkdtempSync(join(tmpdir(), 'sipd-tls-unit-'));
let server: SelfSignedResult; // CN=localhost
let alice: SelfSignedResult; // client certificate, and the CA that verifies it
let mallory: SelfSignedResult; // CN=alice too, but nobody's CA
let server2: SelfSignedResult; // for the reload test

before(async () => {
  requireTools('openssl');
  [server, alice, mallory, server2] = await Promise.all([
    createSelfSigned({ outDir: join(dir, 'server') }),
    createSelfSigned({ cn: 'alice', outDir: join(dir, 'alice') }),
    createSelfSigned({ cn: 'alice', outDir: join(dir, 'mallory') }),
    createSelfSigned({ cn: 'localhost', outDir: join(dir, 'server2'), keyType: 'rsa' }),
  ]);
});
after(() => rmSync(dir, { recursive: true, force: true }));

function sipMessage(n: number, body = '', from = 'alice'): string {
  return `OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1;branch=z9hG4bK-${n}\r\nFrom: <sip:${from}@127.0.0.1>;tag=${n}\r\nCall-ID: ${n}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

interface Harness {
  t: TlsTransport;
  port: number;
  got: Array<{ text: string; source: Endpoint; tlsPeer?: TlsPeer }>;
  closes: Array<{ reason: StreamCloseReason; detail?: string; ip: string }>;
}

async function tlsServer(o: { limits?: Partial<StreamLimits>; tls?: Partial<Omit<TlsSettings, 'credentials'>>; ca?: string; admit?: (ip: string) => boolean } = {}): Promise<Harness> {
  const got: Harness['got'] = [];
  const closes: Harness['closes'] = [];
  const credentials = loadTlsCredentials({ certFile: server.cert, keyFile: server.key, ...(o.ca ? { caFile: o.ca } : {}) });
  const t = await listenTls({ transport: 'tls', host: '127.0.0.1', port: 0 }, (m) => {
    got.push({ text: m.data.toString(), source: m.source, ...(m.tlsPeer ? { tlsPeer: m.tlsPeer } : {}) });
    m.reply(Buffer.from(`ok ${got.length}\n`));
  }, {
    limits: { maxConnections: 100, maxConnectionsPerSource: 4, idleTimeoutMs: 5000, slowSenderTimeoutMs: 5000, maxPendingWriteBytes: 65536, ...o.limits },
    parser: { maxMessageSize: 2048, maxHeaders: 20, maxLineLength: 512 },
    log,
    admit: o.admit,
    onClose: (s, reason, detail) => closes.push({ reason, detail, ip: s.ip }),
    tls: { credentials, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3', requestClientCert: false, requireClientCert: false, verifyClientCert: false, handshakeTimeoutMs: 2000, ...o.tls },
  });
  return { t, port: t.local.port, got, closes };
}

function connect(port: number, o: { cert?: SelfSignedResult; localAddress?: string; ca?: string } = {}): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      port,
      host: '127.0.0.1',
      servername: 'localhost',
      ca: readFileSync(o.ca ?? server.cert),
      ...(o.cert ? { cert: readFileSync(o.cert.cert), key: readFileSync(o.cert.key) } : {}),
      ...(o.localAddress ? { localAddress: o.localAddress } : {}),
    }, () => resolve(s));
    s.on('error', reject);
  });
}

const closed = (s: net.Socket) => new Promise<void>((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));
const until = async (cond: () => boolean, ms = 4000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
};

test('parseListen: tls:IP[:PORT], 5061 by default', () => {
  assert.deepEqual(parseListen('tls:127.0.0.1'), { transport: 'tls', host: '127.0.0.1', port: 5061 });
  assert.deepEqual(parseListen('TLS:[::1]:5071'), { transport: 'tls', host: '::1', port: 5071 });
  assert.deepEqual(parseListen('tcp:127.0.0.1'), { transport: 'tcp', host: '127.0.0.1', port: 5060 });
  assert.throws(() => parseListen('tls:localhost:5061'), /listen/);
});

test('TLS: Content-Length framing over the encrypted stream, replies on the same connection, no peer without a client certificate', async () => {
  const h = await tlsServer();
  const s = await connect(h.port);
  assert.equal(s.authorized, true, 'the client verified the server certificate (CN/SAN localhost, 127.0.0.1)');
  let replies = '';
  s.on('data', (c) => (replies += c));
  s.write(sipMessage(1) + '\r\n\r\n' + sipMessage(2, 'body-2'));
  for (const b of Buffer.from(sipMessage(3, 'x'.repeat(50)))) s.write(Buffer.from([b]));
  await until(() => h.got.length === 3);
  assert.deepEqual(h.got.map((g) => g.text), [sipMessage(1), sipMessage(2, 'body-2'), sipMessage(3, 'x'.repeat(50))]);
  assert.equal(h.got[0].source.transport, 'tls');
  assert.equal(h.got[0].source.ip, '127.0.0.1');
  assert.equal(h.got[0].tlsPeer, undefined);
  // the double CRLF is an RFC 5626 ping: one CRLF back
  await until(() => replies === 'ok 1\nok 2\n\r\nok 3\n');
  assert.deepEqual(h.t.connections(), { total: 1, sources: 1, writers: 1 });
  // a request towards the client goes on its own connection (the proxy's way to reach a UA registered over TLS)
  const clientPort = s.localPort!;
  assert.equal(h.t.sendTo({ ip: '127.0.0.1', port: clientPort }, Buffer.from('INVITE\n')), true);
  await until(() => replies.endsWith('INVITE\n'));
  assert.equal(h.t.sendTo({ ip: '127.0.0.1', port: 1 }, Buffer.from('x')), false, 'never a new connection towards a client');
  s.destroy();
  await until(() => h.t.sendTo({ ip: '127.0.0.1', port: clientPort }, Buffer.from('x')) === false);
  await until(() => h.t.connections().total === 0);
  await h.t.close();
});

test('TLS: a verified client certificate reaches every message as tlsPeer', async () => {
  const h = await tlsServer({ ca: alice.cert, tls: { requireClientCert: true, verifyClientCert: true } });
  const s = await connect(h.port, { cert: alice });
  s.write(sipMessage(1));
  await until(() => h.got.length === 1);
  assert.deepEqual(h.got[0].tlsPeer, { subjectCN: 'alice', subject: 'CN=alice', verified: true, fingerprint256: alice.fingerprint256 });
  s.destroy();
  await h.t.close();
});

test('TLS: client certificate required — none, or one not from the CA, is refused after the handshake; nothing reaches SIP', async () => {
  const h = await tlsServer({ ca: alice.cert, tls: { requireClientCert: true, verifyClientCert: true } });
  for (const cert of [undefined, mallory]) {
    // TLS 1.3: the client's handshake completes before the server has looked at its certificate,
    // so the refusal shows as the connection closing (or a TLS alert).
    const s = await connect(h.port, cert ? { cert } : {}).catch(() => undefined);
    if (s !== undefined) {
      s.on('error', () => undefined);
      s.write(sipMessage(1));
      await closed(s);
    }
  }
  await until(() => h.closes.length === 2);
  assert.deepEqual(h.closes.map((c) => c.reason), ['client-cert-missing', 'client-cert-unverified']);
  assert.match(h.closes[1].detail!, /subject CN=alice/);
  assert.equal(h.got.length, 0);
  await until(() => h.t.connections().total === 0);

  // verify without require: no certificate is fine (no tlsPeer), a bad one is not
  const v = await tlsServer({ ca: alice.cert, tls: { verifyClientCert: true } });
  const none = await connect(v.port);
  none.write(sipMessage(1));
  await until(() => v.got.length === 1);
  assert.equal(v.got[0].tlsPeer, undefined);
  none.destroy();
  const bad = await connect(v.port, { cert: mallory }).catch(() => undefined);
  if (bad) {
    bad.on('error', () => undefined);
    await closed(bad);
  }
  await until(() => v.closes.some((c) => c.reason === 'client-cert-unverified'));
  // request only: an unverified certificate is passed on, marked unverified
  const r = await tlsServer({ tls: { requestClientCert: true } });
  const m = await connect(r.port, { cert: mallory });
  m.write(sipMessage(1));
  await until(() => r.got.length === 1);
  assert.equal(r.got[0].tlsPeer?.verified, false);
  assert.equal(r.got[0].tlsPeer?.subjectCN, 'alice');
  m.destroy();
  await Promise.all([h.t.close(), v.t.close(), r.t.close()]);
});

test('TLS: garbage, plain SIP, a stalled and a half handshake close the connection; the listener keeps serving', async () => {
  const h = await tlsServer({ tls: { handshakeTimeoutMs: 300 } });
  const raw = (data?: Buffer | string) =>
    new Promise<string>((resolve) => {
      const s = net.createConnection({ host: '127.0.0.1', port: h.port }, () => {
        if (data !== undefined) s.write(data);
      });
      let got = '';
      s.on('data', (d) => (got += d.toString('latin1')));
      s.on('error', () => undefined);
      s.on('close', () => resolve(got));
    });
  const clientHelloStart = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);
  const results = await Promise.all([
    raw(sipMessage(1)), // SIP without TLS
    raw(Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 131 + 7) & 0xff))), // noise
    raw(Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff, ...Array(32).fill(0x41)])), // a record header announcing 64 KiB, then junk
    raw(), // connects and says nothing
    raw(clientHelloStart), // starts a ClientHello and stalls
  ]);
  for (const r of results) assert.ok(!r.includes('SIP/2.0'), 'no SIP answer to a failed handshake');
  await until(() => h.closes.length === 5);
  const reasons = h.closes.map((c) => c.reason).sort();
  assert.deepEqual(reasons.filter((r) => r === 'handshake-timeout').length, 2, JSON.stringify(h.closes));
  assert.deepEqual(reasons.filter((r) => r === 'handshake-failed').length, 3, JSON.stringify(h.closes));
  await until(() => h.t.connections().total === 0);
  assert.equal(h.got.length, 0);
  // a real client is still served
  const s = await connect(h.port);
  s.write(sipMessage(9));
  await until(() => h.got.length === 1);
  s.destroy();
  await h.t.close();
});

test('TLS: the TCP bounds apply — per-source cap and bans at accept (before any handshake), idle and slow-sender timeouts, framing errors', async () => {
  const h = await tlsServer({ limits: { maxConnectionsPerSource: 2, idleTimeoutMs: 300, slowSenderTimeoutMs: 200 }, admit: (ip) => ip !== '127.0.0.9' });
  const a = await connect(h.port);
  const b = await connect(h.port);
  const third = await connect(h.port).catch((e: Error) => e);
  if (!(third instanceof Error)) {
    third.on('error', () => undefined);
    await closed(third);
  }
  assert.equal(h.closes[0]?.reason, 'per-source-cap');
  const banned = await connect(h.port, { localAddress: '127.0.0.9' }).catch((e: Error) => e);
  assert.ok(banned instanceof Error, 'a banned source gets no handshake');
  assert.equal(h.closes.at(-1)?.reason, 'refused');
  assert.equal(h.closes.at(-1)?.ip, '127.0.0.9');
  // a and b say nothing: closed when their first message is not complete within the slow-sender limit
  await Promise.all([closed(a), closed(b)]);
  assert.equal(h.closes.filter((c) => c.reason === 'slow-sender').length, 2);
  // slow sender: half a message, then silence shorter than the idle timeout
  const slow = await connect(h.port);
  slow.on('error', () => undefined);
  slow.write(sipMessage(1).slice(0, 40));
  await closed(slow);
  assert.equal(h.closes.at(-1)?.reason, 'slow-sender');
  // framing error: a message without Content-Length
  const f = await connect(h.port);
  f.on('error', () => undefined);
  f.write('OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TLS h;branch=z9hG4bK-1\r\n\r\n');
  await closed(f);
  assert.deepEqual([h.closes.at(-1)?.reason, h.closes.at(-1)?.detail], ['framing-error', 'missing-content-length']);
  assert.equal(h.got.length, 0);
  await until(() => h.t.connections().total === 0);
  await h.t.close();
});

test('TLS: minVersion / maxVersion bound what is negotiated', async () => {
  const dflt = await tlsServer();
  const s13 = await connect(dflt.port);
  assert.equal(s13.getProtocol(), 'TLSv1.3');
  s13.destroy();
  const only12 = await tlsServer({ tls: { maxVersion: 'TLSv1.2' } });
  const s12 = await connect(only12.port);
  assert.equal(s12.getProtocol(), 'TLSv1.2');
  s12.destroy();
  const only13 = await tlsServer({ tls: { minVersion: 'TLSv1.3' } });
  const old = await new Promise<Error | tls.TLSSocket>((resolve) => {
    const c = tls.connect({ port: only13.port, host: '127.0.0.1', servername: 'localhost', ca: readFileSync(server.cert), maxVersion: 'TLSv1.2' }, () => resolve(c));
    c.on('error', resolve);
  });
  assert.ok(old instanceof Error, 'a TLS 1.2 client is refused when minVersion is TLSv1.3');
  await until(() => only13.closes.some((c) => c.reason === 'handshake-failed'));
  await Promise.all([dflt.t.close(), only12.t.close(), only13.t.close()]);
});

test('TLS: setCredentials serves a new certificate to new connections (SIGHUP rotation); bad files are ConfigErrors', async () => {
  const h = await tlsServer();
  const before = await connect(h.port);
  assert.equal(before.getPeerX509Certificate()?.fingerprint256, server.fingerprint256);
  h.t.setCredentials(loadTlsCredentials({ certFile: server2.cert, keyFile: server2.key }));
  const afterRotation = await connect(h.port, { ca: server2.cert });
  assert.equal(afterRotation.getPeerX509Certificate()?.fingerprint256, server2.fingerprint256);
  before.destroy();
  afterRotation.destroy();
  await h.t.close();

  assert.throws(() => loadTlsCredentials({ certFile: server.cert }), /needs tls.certFile and tls.keyFile/);
  assert.throws(() => loadTlsCredentials({ certFile: join(dir, 'nope.pem'), keyFile: server.key }), /tls.certFile: cannot read .*ENOENT/);
  assert.throws(() => loadTlsCredentials({ certFile: server.cert, keyFile: server2.key }), (e: Error & { code?: string }) => e.code === 'TLS_BAD_KEY');
  const junk = join(dir, 'junk.pem');
  writeFileSync(junk, 'not a certificate\n');
  assert.throws(() => loadTlsCredentials({ certFile: junk, keyFile: server.key }), (e: Error & { code?: string }) => e.code === 'TLS_BAD_CERT');
  assert.throws(() => loadTlsCredentials({ certFile: server.cert, keyFile: server.key, caFile: junk }), (e: Error & { code?: string }) => e.code === 'TLS_BAD_CERT');
  const warnings: string[] = [];
  writeFileSync(join(dir, 'open-key.pem'), readFileSync(server.key), { mode: 0o644 });
  loadTlsCredentials({ certFile: server.cert, keyFile: join(dir, 'open-key.pem') }, (msg) => warnings.push(msg));
  assert.deepEqual(warnings, ['the TLS key file can be read by group or others; chmod 600 it']);
});

test('config: tls.* keys, defaults, validation, and what only makes sense together', () => {
  const env = { HOME: dir, XDG_CONFIG_HOME: join(dir, '.config') } as NodeJS.ProcessEnv;
  const write = (name: string, content: unknown) => {
    const p = join(dir, name);
    writeFileSync(p, JSON.stringify(content));
    return p;
  };
  const { config: d } = loadSipdConfig({}, env, dir);
  assert.deepEqual(d.tls, { requireClientCert: false, verifyClientCert: false, cnMustMatchFromUser: false, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3', handshakeTimeoutSec: 10 });
  const ok = loadSipdConfig({ config: write('tls-ok.json', { listen: ['tls:127.0.0.1'], tls: { certFile: 'c.pem', keyFile: '/k.pem', caFile: 'ca.pem', verifyClientCert: true, cnMustMatchFromUser: true, minVersion: 'TLSv1.3' } }) }, env, dir).config;
  assert.deepEqual(ok.tls, { certFile: join(dir, 'c.pem'), keyFile: '/k.pem', caFile: join(dir, 'ca.pem'), requireClientCert: false, verifyClientCert: true, cnMustMatchFromUser: true, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', handshakeTimeoutSec: 10 });
  // --listen tls: on the command line needs the file's certificate
  assert.throws(() => loadSipdConfig({ listen: ['tls:127.0.0.1:5061'] }, env, dir), /needs tls.certFile and tls.keyFile/);
  const bad: Array<[unknown, RegExp]> = [
    [{ tls: { certFile: 1 } }, /tls.certFile must be a file path/],
    [{ tls: { requireClientCert: 'yes' } }, /tls.requireClientCert must be true or false/],
    [{ tls: { minVersion: 'TLSv1' } }, /tls.minVersion must be one of TLSv1.2, TLSv1.3/],
    [{ tls: { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.2' } }, /tls.minVersion is newer than tls.maxVersion/],
    [{ tls: { handshakeTimeoutSec: 0 } }, /tls.handshakeTimeoutSec must be an integer 1–300/],
    [{ tls: { verifyCert: true } }, /unknown key "tls.verifyCert"/],
    [{ tls: { verifyClientCert: true } }, /tls.verifyClientCert needs tls.caFile/],
    [{ tls: { caFile: 'ca.pem', cnMustMatchFromUser: true } }, /cnMustMatchFromUser needs tls.verifyClientCert/],
    [{ tls: [] }, /tls must be an object/],
  ];
  for (const [content, re] of bad) assert.throws(() => loadSipdConfig({ config: write('tls-bad.json', content) }, env, dir), re, JSON.stringify(content));
});

// ---------------------------------------------------------------- CN policy

function request(from: string, transport: 'tls' | 'tcp', tlsPeer?: TlsPeer): RequestContext {
  const raw = `REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 10.0.0.5:5070;branch=z9hG4bK-1\r\nFrom: <${from}>;tag=1\r\nTo: <${from}>\r\nCall-ID: c1\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n`;
  return {
    msg: parseMessage(Buffer.from(raw)) as SipRequest,
    source: { ip: '10.0.0.5', port: 5070, transport },
    local: { ip: '127.0.0.1', port: 5061, transport },
    receivedAt: 0,
    ...(tlsPeer ? { tlsPeer } : {}),
    isMyself: () => true,
  };
}

test('certificateMismatch: a verified certificate whose single CN is the (unescaped) From user; TLS only', () => {
  const peer = (cn: string | undefined, verified = true): TlsPeer => ({ ...(cn !== undefined ? { subjectCN: cn } : {}), subject: cn ? `CN=${cn}` : '', verified, fingerprint256: 'AA' });
  assert.equal(certificateMismatch(request('sip:alice@example.com', 'tls', peer('alice'))), undefined);
  assert.equal(certificateMismatch(request('sip:%61lice@example.com', 'tls', peer('alice'))), undefined);
  assert.equal(certificateMismatch(request('sip:alice@example.com', 'tcp')), undefined, 'not TLS: not this policy');
  assert.match(certificateMismatch(request('sip:bob@example.com', 'tls', peer('alice')))!, /CN "alice" is not the From user/);
  assert.match(certificateMismatch(request('sip:Alice@example.com', 'tls', peer('alice')))!, /not the From user/);
  assert.equal(certificateMismatch(request('sip:alice@example.com', 'tls')), 'no client certificate');
  assert.equal(certificateMismatch(request('sip:alice@example.com', 'tls', peer('alice', false))), 'client certificate not verified');
  assert.equal(certificateMismatch(request('sip:example.com', 'tls', peer('alice'))), 'no From user');
  assert.equal(certificateMismatch(request('sip:alice@example.com', 'tls', peer(undefined))), 'certificate has no single subject CN');
});

test('pipeline: with the policy on, a TLS REGISTER whose certificate is not the From user gets 403 before auth-db is asked', async () => {
  const events: SecurityEvent[] = [];
  const myself = new Myself([{ ip: '127.0.0.1', port: 5061, transport: 'tls' }], []);
  const core: CoreApi = { database: () => Promise.reject(new Error('no')), securityEvent: (e) => events.push(e), isMyself: (h, p) => myself.isMyself(h, p), domains: () => [], stateDir: '/x', sipSockets: () => [], onSipSocketsBound: () => undefined };
  let authAsked = 0;
  const auth: AuthApi = {
    authenticate: async () => {
      authAsked++;
      return { ok: false, reply: { status: 401, reason: 'Unauthorized' } };
    },
    reloadCredentials: async () => undefined,
  };
  const reg = new ModuleRegistry();
  reg.register(defineModule({ name: 'core', params: {}, init() {}, destroy() {}, rpc: {}, api: core }));
  reg.register(defineModule({ name: 'auth-db', params: {}, init() {}, destroy() {}, rpc: {}, api: auth }));
  reg.register(defineModule({ name: 'registrar', params: {}, init() {}, destroy() {}, rpc: {}, api: { save: async () => ({ status: 200, reason: 'OK' }) } }));
  await reg.initAll({ params: new Map() });
  const p = new Pipeline({ registry: reg, myself, log, security: (e) => events.push(e), parser: {}, server: 'sipd test', certificatePolicy: cnMustMatchFromUser((e) => events.push(e)) });
  const replies: Buffer[] = [];
  const send = (from: string, tlsPeer?: TlsPeer) => {
    const raw = `REGISTER sip:127.0.0.1:5061 SIP/2.0\r\nVia: SIP/2.0/TLS 10.0.0.5:5070;branch=z9hG4bK-${replies.length}\r\nFrom: <sip:${from}@127.0.0.1>;tag=1\r\nTo: <sip:${from}@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 1 REGISTER\r\nMax-Forwards: 70\r\nContact: <sip:${from}@10.0.0.5:5070;transport=tls>\r\nContent-Length: 0\r\n\r\n`;
    p.handle({ data: Buffer.from(raw), source: { ip: '10.0.0.5', port: 5070, transport: 'tls' }, local: { ip: '127.0.0.1', port: 5061, transport: 'tls' }, reply: (b) => replies.push(b), ...(tlsPeer ? { tlsPeer } : {}) });
  };
  const alicePeer: TlsPeer = { subjectCN: 'alice', subject: 'CN=alice', verified: true, fingerprint256: 'AA' };
  send('bob', alicePeer);
  await until(() => replies.length === 1);
  const r = parseMessage(replies[0]) as SipResponse;
  assert.deepEqual([r.status, r.reason], [403, CERT_MISMATCH_REASON]);
  assert.equal(authAsked, 0);
  assert.deepEqual(events.map((e) => [e.event, e.user, e.detail]), [['tls-refused', 'bob', 'certificate CN "alice" is not the From user']]);
  send('alice');
  await until(() => replies.length === 2);
  assert.equal((parseMessage(replies[1]) as SipResponse).status, 403, 'no certificate at all');
  send('alice', alicePeer);
  await until(() => replies.length === 3);
  assert.equal((parseMessage(replies[2]) as SipResponse).status, 401, 'a match goes on to authentication');
  assert.equal(authAsked, 1);
});
