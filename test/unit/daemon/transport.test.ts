import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import type { Endpoint } from '../../../src/daemon/kernel/contracts.js';
import { listenTcp, type TcpCloseReason, type TcpLimits } from '../../../src/daemon/transport/tcp.js';
import { type Inbound, formatListen, normaliseIp, parseListen } from '../../../src/daemon/transport/transport.js';
import { listenUdp, type UdpRelay } from '../../../src/daemon/transport/udp.js';

const log = { debug() {}, info() {}, warn() {}, error() {} };

function sipMessage(n: number, body = ''): string {
  return `OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK-${n}\r\nCall-ID: ${n}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

test('parseListen / formatListen / normaliseIp', () => {
  assert.deepEqual(parseListen('udp:127.0.0.1:5060'), { transport: 'udp', host: '127.0.0.1', port: 5060 });
  assert.deepEqual(parseListen('TCP:[::1]:5062'), { transport: 'tcp', host: '::1', port: 5062 });
  assert.deepEqual(parseListen('udp:10.0.0.1'), { transport: 'udp', host: '10.0.0.1', port: 5060 });
  assert.deepEqual(parseListen('udp:[0:0:0:0:0:0:0:1]:0'), { transport: 'udp', host: '::1', port: 0 });
  for (const bad of ['udp:localhost:5060', 'sctp:127.0.0.1:5061', 'udp:::1:5060', 'udp:127.0.0.1:99999', 'udp:[127.0.0.1]:5060', 'udp:1.2.3:5060', 'udp:127.0.0.1:50a']) {
    assert.throws(() => parseListen(bad), /listen/, bad);
  }
  assert.equal(formatListen({ transport: 'udp', host: '::1', port: 5 }), 'udp:[::1]:5');
  assert.equal(normaliseIp('::ffff:127.0.0.2'), '127.0.0.2');
  assert.equal(normaliseIp('[::1]'), '::1');
  assert.equal(normaliseIp('2001:DB8:0:0::1'), '2001:db8::1');
});

test('UDP: each datagram is one message; the reply goes back to the source (IPv4 and IPv6)', async () => {
  for (const host of ['127.0.0.1', '::1']) {
    const got: Inbound[] = [];
    const t = await listenUdp({ transport: 'udp', host, port: 0 }, (m) => {
      got.push(m);
      m.reply(Buffer.from(`echo ${m.data.toString()}`));
    }, { log });
    assert.equal(t.local.ip, host);
    assert.ok(t.local.port > 0);
    const c = dgram.createSocket(host === '::1' ? 'udp6' : 'udp4');
    const reply = new Promise<string>((resolve) => c.once('message', (b) => resolve(b.toString())));
    c.send('hello', t.local.port, host);
    assert.equal(await reply, 'echo hello');
    assert.equal(got[0].source.ip, host);
    assert.equal(got[0].source.transport, 'udp');
    c.close();
    await t.close();
  }
});

interface TcpHarness {
  port: number;
  got: Array<{ text: string; source: Endpoint }>;
  closes: Array<{ reason: TcpCloseReason; detail?: string }>;
  close(): Promise<void>;
  connections(): { total: number; sources: number; writers: number };
}

async function tcp(limits: Partial<TcpLimits> = {}, admit?: (ip: string) => boolean, host = '127.0.0.1'): Promise<TcpHarness> {
  const got: TcpHarness['got'] = [];
  const closes: TcpHarness['closes'] = [];
  const t = await listenTcp({ transport: 'tcp', host, port: 0 }, (m) => {
    got.push({ text: m.data.toString(), source: m.source });
    m.reply(Buffer.from(`ok ${got.length}\n`));
  }, {
    limits: { maxConnections: 100, maxConnectionsPerSource: 4, idleTimeoutMs: 5000, slowSenderTimeoutMs: 5000, maxPendingWriteBytes: 65536, ...limits },
    parser: { maxMessageSize: 2048, maxHeaders: 20, maxLineLength: 512 },
    log,
    admit,
    onClose: (_s, reason, detail) => closes.push({ reason, detail }),
  });
  return { port: t.local.port, got, closes, close: () => t.close(), connections: () => t.connections() };
}

function connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection({ port, host, ...(localAddress ? { localAddress } : {}) }, () => resolve(s));
    s.on('error', reject);
  });
}

const closed = (s: net.Socket) => new Promise<void>((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));
const until = async (cond: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
};

test('UDP: a reply finished after close() is dropped, not thrown (graceful shutdown with a REGISTER still in flight)', async () => {
  const got: Inbound[] = [];
  const t = await listenUdp({ transport: 'udp', host: '127.0.0.1', port: 0 }, (m) => got.push(m), { log });
  const c = dgram.createSocket('udp4');
  try {
    c.send('OPTIONS sip:x SIP/2.0\r\n\r\n', t.local.port, '127.0.0.1');
    for (let i = 0; i < 500 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(got.length, 1);
    await t.close();
    // dgram throws ERR_SOCKET_DGRAM_NOT_RUNNING from send() on a closed socket; the transport must not
    assert.doesNotThrow(() => got[0].reply(Buffer.from('SIP/2.0 200 OK\r\n\r\n')));
    // nor a request sent from the socket (the proxy's, CoreApi.sipSockets)
    assert.doesNotThrow(() => t.socket.sendTo!({ ip: '127.0.0.1', port: 9 }, Buffer.from('x')));
  } finally {
    c.close();
    await t.close();
  }
});

test('UDP with a worker relay (sipd --workers): a private port named in Via; a response for a sibling relayed there; a relayed one delivered with its source; one path to the handler', async () => {
  // a relay as the transport uses it (workers.ts' WorkerRelay has the primary's key; this one a fixed tag)
  const sibling = dgram.createSocket('udp4');
  await new Promise<void>((r) => sibling.bind({ address: '127.0.0.1', port: 0 }, () => r()));
  const siblingPort = sibling.address().port;
  const announced: string[] = [];
  const relay: UdpRelay = {
    announce: (ip, port) => void announced.push(`${ip}:${port}`),
    sibling: (ip, port) => ip === '127.0.0.1' && port === siblingPort,
    header: (source) => Buffer.from(`\0relay ${source.ip} ${source.port}\n`, 'latin1'),
    unwrap(data) {
      const m = /^\0relay (\S+) (\d+)\n/.exec(data.toString('latin1', 0, Math.min(data.length, 64)));
      return m === null ? undefined : { ip: m[1]!, port: Number(m[2]), data: data.subarray(Buffer.byteLength(m[0], 'latin1')) };
    },
  };
  const got: Inbound[] = [];
  const errors: string[] = [];
  const t = await listenUdp({ transport: 'udp', host: '127.0.0.1', port: 0 }, (m) => {
    got.push(m);
    if (m.data.toString().startsWith('THROW')) throw new Error('handler threw');
  }, { log: { ...log, error: (msg: string) => void errors.push(msg) }, egress: relay });
  const c = dgram.createSocket('udp4');
  await new Promise<void>((r) => c.bind({ address: '127.0.0.1', port: 0 }, () => r()));
  const relayed: Buffer[] = [];
  sibling.on('message', (b) => relayed.push(b));
  const response = (port: number) => `SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-1\r\nContent-Length: 0\r\n\r\n`;
  try {
    const priv = t.egress!;
    assert.ok(priv.port > 0 && priv.port !== t.local.port, 'a private port on the same IP');
    assert.deepEqual(announced, [`127.0.0.1:${priv.port}`]);
    assert.deepEqual(t.socket.advertised, priv, 'Via and Record-Route name the private port');
    assert.equal(t.socket.local, t.local, 'requests leave from the shared port');
    // a request at the shared port, and a response for this worker (its Via: the private port): delivered
    c.send('OPTIONS sip:x SIP/2.0\r\n\r\n', t.local.port, '127.0.0.1');
    c.send(response(priv.port), t.local.port, '127.0.0.1');
    await until(() => got.length === 2);
    assert.deepEqual(got.map((m) => [m.local.port, m.source.port]), [[t.local.port, c.address().port], [t.local.port, c.address().port]]);
    // a response whose Via names the sibling's private port: relayed there with its source, not delivered
    c.send(response(siblingPort), t.local.port, '127.0.0.1');
    await until(() => relayed.length === 1);
    assert.equal(relayed[0]!.toString('latin1'), `\0relay 127.0.0.1 ${c.address().port}\n${response(siblingPort)}`);
    // at the private port: a relayed response from the shared address is delivered with its original source
    t.socket.sendTo!({ ip: '127.0.0.1', port: priv.port }, Buffer.from(`\0relay 127.0.0.9 5099\n${response(priv.port)}`, 'latin1'));
    await until(() => got.length === 3);
    assert.deepEqual([got[2]!.source, got[2]!.local.port, got[2]!.data.toString()], [{ ip: '127.0.0.9', port: 5099, transport: 'udp' }, t.local.port, response(priv.port)]);
    // ... not from anyone else; a plain message there is delivered as arriving at the private port
    c.send(Buffer.from(`\0relay 127.0.0.9 5099\n${response(priv.port)}`, 'latin1'), priv.port, '127.0.0.1');
    c.send('OPTIONS sip:y SIP/2.0\r\n\r\n', priv.port, '127.0.0.1');
    await until(() => got.length === 4);
    assert.deepEqual([got[3]!.local.port, got[3]!.data.toString()], [priv.port, 'OPTIONS sip:y SIP/2.0\r\n\r\n']);
    // a handler that throws costs that message only, on either port
    c.send('THROW 1', t.local.port, '127.0.0.1');
    c.send('THROW 2', priv.port, '127.0.0.1');
    await until(() => errors.length === 2);
    assert.deepEqual(errors, ['UDP message handler threw', 'UDP message handler threw']);
  } finally {
    c.close();
    sibling.close();
    await t.close();
  }
});

test('TCP: framing by Content-Length, several messages per connection, any segmentation; replies on the connection', async () => {
  const h = await tcp();
  const s = await connect(h.port);
  let replies = '';
  s.on('data', (c) => (replies += c));
  // three messages in one write, with CRLF keep-alives between
  s.write(sipMessage(1) + '\r\n\r\n' + sipMessage(2, 'body-2') + sipMessage(3));
  // one message byte by byte
  for (const b of Buffer.from(sipMessage(4, 'x'.repeat(100)))) s.write(Buffer.from([b]));
  await until(() => h.got.length === 4);
  assert.deepEqual(h.got.map((g) => g.text), [sipMessage(1), sipMessage(2, 'body-2'), sipMessage(3), sipMessage(4, 'x'.repeat(100))]);
  assert.equal(h.got[0].source.transport, 'tcp');
  // the double CRLF between 1 and 2 is an RFC 5626 ping: answered with one CRLF (after the replies of that read)
  await until(() => replies === 'ok 1\nok 2\nok 3\n\r\nok 4\n');
  s.destroy();
  await h.close();
});

test('TCP: a message without Content-Length, or over the buffer cap, closes the connection', async () => {
  const h = await tcp();
  const a = await connect(h.port);
  a.write('OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK-1\r\n\r\n');
  await closed(a);
  const b = await connect(h.port);
  b.on('error', () => undefined);
  b.write(sipMessage(1, 'x'.repeat(3000))); // over maxMessageSize 2048
  await closed(b);
  const c = await connect(h.port);
  c.on('error', () => undefined);
  c.write('X'.repeat(1000)); // a line longer than maxLineLength (512), no end of headers
  await closed(c);
  assert.deepEqual(h.closes.map((x) => [x.reason, x.detail]), [['framing-error', 'missing-content-length'], ['framing-error', 'too-large'], ['framing-error', 'line-too-long']]);
  assert.equal(h.got.length, 0);
  await until(() => h.connections().total === 0);
  await h.close();
});

test('TCP: idle timeout and slow-sender timeout', async () => {
  const h = await tcp({ idleTimeoutMs: 150, slowSenderTimeoutMs: 250 });
  const idle = await connect(h.port);
  await closed(idle);
  assert.deepEqual(h.closes.map((c) => c.reason), ['idle-timeout'], 'closed by the idle timeout, not for another reason');
  // a slowloris: a byte every 50 ms keeps the idle timer happy but never finishes a message
  const slow = await connect(h.port);
  slow.on('error', () => undefined);
  const msg = Buffer.from(sipMessage(1));
  let i = 0;
  const drip = setInterval(() => {
    if (!slow.destroyed && i < msg.length - 1) slow.write(msg.subarray(i, ++i));
  }, 50);
  await closed(slow);
  clearInterval(drip);
  assert.deepEqual(h.closes.map((c) => c.reason), ['idle-timeout', 'slow-sender']);
  assert.equal(h.got.length, 0);
  await h.close();
  // a complete message in time resets the slow-sender clock (an idle timeout well above the
  // gaps, so a loaded machine stretching a 100 ms sleep does not close it for being idle)
  const h2 = await tcp({ idleTimeoutMs: 2000, slowSenderTimeoutMs: 250 });
  const ok = await connect(h2.port);
  for (let n = 0; n < 4; n++) {
    ok.write(sipMessage(n));
    await new Promise((r) => setTimeout(r, 100));
  }
  await until(() => h2.got.length === 4);
  ok.destroy();
  await h2.close();
});

test('TCP: per-source connection cap; refused sources are closed at accept; IPv6', async () => {
  const h = await tcp({ maxConnectionsPerSource: 3 }, (ip) => ip !== '127.0.0.9');
  const socks = await Promise.all([1, 2, 3].map(() => connect(h.port)));
  await until(() => h.connections().total === 3);
  const fourth = await connect(h.port);
  await closed(fourth);
  assert.deepEqual(h.closes.map((c) => c.reason), ['per-source-cap']);
  // another source is still welcome
  const other = await connect(h.port, '127.0.0.1', '127.0.0.2');
  other.write(sipMessage(9));
  await until(() => h.got.length === 1);
  assert.equal(h.got[0].source.ip, '127.0.0.2');
  assert.deepEqual(h.connections(), { total: 4, sources: 2, writers: 4 });
  const banned = await connect(h.port, '127.0.0.1', '127.0.0.9');
  await closed(banned);
  assert.equal(h.closes.at(-1)?.reason, 'refused');
  for (const s of [...socks, other]) s.destroy();
  await until(() => h.connections().total === 0);
  await h.close();

  const h6 = await tcp({}, undefined, '::1');
  const s6 = await connect(h6.port, '::1');
  s6.write(sipMessage(6));
  await until(() => h6.got.length === 1);
  assert.equal(h6.got[0].source.ip, '::1');
  s6.destroy();
  await h6.close();
});

test('TCP: a peer that never reads its replies is dropped (bounded write queue)', async () => {
  const h = await tcp({ maxPendingWriteBytes: 1 });
  const s = await connect(h.port);
  s.pause();
  s.write(sipMessage(1) + sipMessage(2));
  await closed(s);
  assert.ok(h.closes.some((c) => c.reason === 'write-backlog'));
  await h.close();
});

test('TCP: a double-CRLF ping gets one CRLF pong (RFC 5626 §4.4.1), also when its halves come in separate reads', async () => {
  const h = await tcp();
  const s = await connect(h.port);
  let got = '';
  s.on('data', (c) => (got += c.toString('latin1')));
  s.write(sipMessage(1));
  await until(() => got === 'ok 1\n');
  s.write('\r\n\r\n');
  await until(() => got === 'ok 1\n\r\n');
  s.write('\r\n');
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(got, 'ok 1\n\r\n', 'a single CRLF is not a ping');
  s.write('\r\n');
  await until(() => got === 'ok 1\n\r\n\r\n');
  s.destroy();
  await h.close();
});

test('TCP: a connection that only sends CRLFs is closed at the slow-sender limit; keep-alives refresh the idle timer at most once per interval', async () => {
  const h = await tcp({ idleTimeoutMs: 400, slowSenderTimeoutMs: 250, keepaliveMinIntervalMs: 10_000 });
  // never a message: CRLF every 50 ms does not keep it open
  const crlf = await connect(h.port);
  crlf.on('error', () => undefined);
  const drip = setInterval(() => !crlf.destroyed && crlf.write('\r\n\r\n'), 50);
  await closed(crlf);
  clearInterval(drip);
  assert.deepEqual(h.closes.map((c) => [c.reason, c.detail]), [['slow-sender', 'no complete message']]);
  // after a message, pings every 50 ms refresh the idle timer once (interval 10 s), so it closes
  // one idle timeout after that refresh, not never
  const ka = await connect(h.port);
  ka.on('error', () => undefined);
  ka.write(sipMessage(1));
  await until(() => h.got.length === 1);
  const drip2 = setInterval(() => !ka.destroyed && ka.write('\r\n\r\n'), 50);
  await closed(ka);
  clearInterval(drip2);
  assert.equal(h.closes.at(-1)?.reason, 'idle-timeout');
  await h.close();
});

test('TCP: with every slot taken, a new connection closes the least recently active one; the per-source cap is at most half the slots', async () => {
  const h = await tcp({ maxConnections: 4, maxConnectionsPerSource: 100 });
  const a = await connect(h.port, '127.0.0.1', '127.0.0.2');
  const b = await connect(h.port, '127.0.0.1', '127.0.0.2');
  const third = await connect(h.port, '127.0.0.1', '127.0.0.2');
  await closed(third);
  assert.equal(h.closes.at(-1)?.reason, 'per-source-cap', 'one source gets at most 2 of 4 slots');
  const c = await connect(h.port, '127.0.0.1', '127.0.0.3');
  const d = await connect(h.port, '127.0.0.1', '127.0.0.3');
  for (const s of [a, b, c, d]) s.on('error', () => undefined);
  // a is active now (a complete message); b is the least recently active
  a.write(sipMessage(1));
  await until(() => h.got.length === 1);
  await until(() => h.connections().total === 4);
  const e = await connect(h.port, '127.0.0.1', '127.0.0.4');
  await closed(b);
  assert.equal(h.closes.at(-1)?.reason, 'evicted');
  e.write(sipMessage(2));
  await until(() => h.got.length === 2);
  assert.equal(h.got[1].source.ip, '127.0.0.4');
  for (const s of [a, c, d, e]) s.destroy();
  await until(() => h.connections().total === 0);
  await h.close();
});

test('UDP: the socket gets the receive buffer it is given, 4 MiB by default, as the kernel reports it', async () => {
  // `ss` (iproute2) shows the kernel's accounting, twice the SO_RCVBUF asked for: skmem rbN
  const rb = async (port: number): Promise<number> => {
    const { execFileSync } = await import('node:child_process');
    const out = execFileSync('ss', ['-uamnH', `sport = :${port}`], { encoding: 'utf8' });
    const m = /rb(\d+)/.exec(out);
    assert.ok(m, `ss shows the socket on port ${port}: ${out}`);
    return Number(m[1]);
  };
  const def = await listenUdp({ transport: 'udp', host: '127.0.0.1', port: 0 }, () => undefined, { log });
  const small = await listenUdp({ transport: 'udp', host: '127.0.0.1', port: 0 }, () => undefined, { log, recvBufferSize: 262_144 });
  try {
    // the kernel caps SO_RCVBUF at net.core.rmem_max (4 MiB on the test machine)
    const { readFileSync } = await import('node:fs');
    const max = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
    assert.equal(await rb(def.local.port), 2 * Math.min(4_194_304, max));
    assert.equal(await rb(small.local.port), 2 * Math.min(262_144, max));
  } finally {
    await def.close();
    await small.close();
  }
});
