// A sipd listening on every address (0.0.0.0, the first-day config): what its Via and
// Record-Route name must be the interface address each message leaves from, never 0.0.0.0
// (issue 14). routeSource() is checked against the kernel's own answer (`ip route get`, iproute2)
// for loopback, for an address reached over the default route, and for IPv6; then the proxy's
// sender over a real UDP socket bound to 0.0.0.0 (the datagram arrives from the address it names),
// and a TCP connection to a server on 0.0.0.0 (its messages carry the connection's own address).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import type { Endpoint, SipSocket } from '../../../src/daemon/kernel/contracts.js';
import { SipSender } from '../../../src/daemon/modules/proxy/sender.js';
import { isUnspecified } from '../../../src/core/address/ip.js';
import { routeSource } from '../../../src/daemon/transport/route-source.js';
import { listenTcp } from '../../../src/daemon/transport/tcp.js';
import type { Inbound } from '../../../src/daemon/transport/transport.js';
import { listenUdp } from '../../../src/daemon/transport/udp.js';
import { requireTools } from '../../helpers/require.js';

const log = { debug() {}, info() {}, warn() {}, error() {} };

/** the source address the kernel picks for `ip` (`ip route get`); undefined when it has no route */
function kernelSource(ip: string): string | undefined {
  const r = spawnSync('ip', [net.isIPv6(ip) ? '-6' : '-4', 'route', 'get', ip], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) return undefined;
  return /\bsrc (\S+)/.exec(r.stdout)?.[1];
}

test('routeSource: the address the kernel sends from, as `ip route get` says (loopback, the default route, IPv6); undefined for a name', () => {
  requireTools('ip');
  // 198.51.100.7 (TEST-NET-2) is reached over the default route when there is one
  for (const dest of ['127.0.0.1', '127.0.0.9', '198.51.100.7', '::1']) {
    const want = kernelSource(dest);
    assert.equal(routeSource(dest), want, `${dest}: ip route get says src ${want}`);
  }
  // the same answer twice in a row: the probe socket is connected and disconnected each time
  assert.equal(routeSource('127.0.0.1'), '127.0.0.1');
  assert.equal(routeSource('127.0.0.1'), '127.0.0.1');
  assert.equal(routeSource('sip.example.com'), undefined);
  assert.ok(isUnspecified('0.0.0.0') && isUnspecified('::') && !isUnspecified('127.0.0.1'));
});

test('the proxy\'s sender on a UDP socket bound to 0.0.0.0 names the interface address towards each destination, and the datagram arrives from it', async () => {
  const t = await listenUdp({ transport: 'udp', host: '0.0.0.0', port: 0 }, () => undefined, { log });
  const peer = dgram.createSocket('udp4');
  try {
    assert.equal(t.local.ip, '0.0.0.0');
    const sender = new SipSender(() => [t.socket]);
    await new Promise<void>((r) => peer.bind({ address: '127.0.0.1', port: 0 }, () => r()));
    const to: Endpoint = { ip: '127.0.0.1', port: peer.address().port, transport: 'udp' };
    const out = sender.path(to)!;
    assert.deepEqual(out.local, { ip: '127.0.0.1', port: t.local.port, transport: 'udp' }, 'Via / Record-Route name the loopback address, not 0.0.0.0');
    const got = new Promise<dgram.RemoteInfo>((resolve) => peer.once('message', (_d, rinfo) => resolve(rinfo)));
    out.send(Buffer.from('OPTIONS sip:x SIP/2.0\r\n\r\n'));
    const rinfo = await got;
    assert.deepEqual({ ip: rinfo.address, port: rinfo.port }, { ip: out.local.ip, port: out.local.port }, 'the datagram carries the address it names');
    // towards the rest of the world: the address of the interface the route goes out of
    const far = kernelSource('198.51.100.7');
    if (far !== undefined) assert.equal(sender.path({ ip: '198.51.100.7', port: 5060, transport: 'udp' })!.local.ip, far);
    // named(): the side a request came in on; a specific address is named as it is
    assert.equal(sender.named(t.local, '127.0.0.1').ip, '127.0.0.1');
    const specific: SipSocket = { local: { ip: '127.0.0.1', port: 5060, transport: 'udp' }, advertised: { ip: '127.0.0.1', port: 5060, transport: 'udp' } };
    assert.equal(sender.named(specific.local, '198.51.100.7'), specific.local);
  } finally {
    peer.close();
    await t.close();
  }
});

test('TCP on 0.0.0.0: a message carries the connection\'s own local address (what Via and Record-Route towards that peer name)', async () => {
  const got: Inbound[] = [];
  const t = await listenTcp({ transport: 'tcp', host: '0.0.0.0', port: 0 }, (m) => void got.push(m), {
    limits: { maxConnections: 10, maxConnectionsPerSource: 4, idleTimeoutMs: 5000, slowSenderTimeoutMs: 5000, maxPendingWriteBytes: 65536 },
    parser: { maxMessageSize: 2048, maxHeaders: 20, maxLineLength: 512 },
    log,
    admit: () => true,
    onClose: () => undefined,
  });
  const c = net.connect({ host: '127.0.0.1', port: t.local.port, localAddress: '127.0.0.1' });
  try {
    await new Promise<void>((resolve, reject) => c.once('connect', resolve).once('error', reject));
    c.write('OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK-1\r\nCall-ID: 1\r\nContent-Length: 0\r\n\r\n');
    for (let i = 0; i < 100 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(got.length, 1);
    assert.deepEqual(got[0]!.local, { ip: '127.0.0.1', port: t.local.port, transport: 'tcp' });
  } finally {
    c.destroy();
    await t.close();
  }
});
