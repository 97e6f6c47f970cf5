/**
 * Issue 18, part 1: what sipd holds per connection is given back when the connection closes.
 * The real sipd process (dist/), real sockets: thousands of short TCP connections (each sends
 * one OPTIONS, reads the 200, closes) must leave the proxy's stream-sender table, the
 * transport's connection counts and sipd's open file descriptors (/proc/PID/fd) where they were
 * before; and the caches stay within their bounds while mutated datagrams arrive.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { makeDb, options, startSipd, type SipdProcess } from './sipd-process.js';

const CONNECTIONS = Number(process.env.SIPD_ENDURANCE_CONNECTIONS ?? 5000);
const dir = mkdtempSync(join(tmpdir(), 'sipd-endurance-'));
let sipd: SipdProcess;

before(async () => {
  sipd = await startSipd({ dbUrl: await makeDb(dir) });
});
after(async () => {
  await sipd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** stats.get_statistics sipd: as a map */
async function gauges(p: SipdProcess): Promise<Map<string, number>> {
  const lines = await p.rpc<string[]>('stats.get_statistics', ['sipd:']);
  const m = new Map<string, number>();
  for (const l of lines) {
    const x = /^(\S+) = (-?\d+)/.exec(l);
    if (x) m.set(x[1], Number(x[2]));
  }
  return m;
}

/** One connection: OPTIONS, wait for the reply, close. */
function shortConnection(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.createConnection({ host: '127.0.0.1', port });
    let got = '';
    const done = () => {
      s.destroy();
      resolve(got);
    };
    const timer = setTimeout(done, 5000);
    s.on('connect', () => s.write(options(port, { transport: 'TCP' })));
    s.on('data', (d) => {
      got += d.toString('latin1');
      if (got.includes('\r\n\r\n')) {
        clearTimeout(timer);
        done();
      }
    });
    s.on('error', () => {
      clearTimeout(timer);
      resolve(got);
    });
  });
}

async function waitFor<T>(what: string, read: () => Promise<T> | T, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  let v = await read();
  while (!ok(v)) {
    if (Date.now() > end) assert.fail(`${what}: still ${JSON.stringify(v)} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
    v = await read();
  }
  return v;
}

test(`${CONNECTIONS} short TCP connections: sender table, connection counts and fds back to baseline`, async () => {
  const pid = sipd.child.pid!;
  const base = await gauges(sipd);
  assert.equal(base.get('sipd:stream_senders'), 0);
  const fd0 = fdCount(pid);
  let answered = 0;
  // 20 at a time: under the per-source cap (32), so none is refused for that.
  for (let i = 0; i < CONNECTIONS; i += 20) {
    const got = await Promise.all(Array.from({ length: Math.min(20, CONNECTIONS - i) }, () => shortConnection(sipd.sipPort)));
    answered += got.filter((g) => g.startsWith('SIP/2.0 200')).length;
  }
  assert.equal(answered, CONNECTIONS, 'every OPTIONS answered 200');
  const g = await waitFor('sipd: gauges after the connections closed', () => gauges(sipd), (m) => m.get('sipd:tcp_connections') === 0 && m.get('sipd:stream_senders') === 0);
  assert.equal(g.get('sipd:tcp_sources'), 0);
  assert.equal(g.get('sipd:tcp_writers'), 0);
  await waitFor('open fds of sipd', () => fdCount(pid), (n) => n <= fd0);
});

test('mutated datagrams: the reply cache and the security log stay within their bounds', async () => {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind({ address: '127.0.0.1', port: 0 }, () => r()));
  const base = Buffer.from(options(sipd.sipPort).replace('OPTIONS sip:', 'REGISTER sip:').replace(/CSeq: (\d+) OPTIONS/, 'CSeq: $1 REGISTER'), 'latin1');
  let max = 0;
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 250; i++) {
      const d = Buffer.from(base);
      for (let k = 0; k < 3; k++) d[Math.floor(Math.random() * d.length)] = Math.floor(Math.random() * 256);
      sock.send(d, sipd.sipPort, '127.0.0.1');
    }
    await new Promise((r) => setTimeout(r, 20));
    const g = await gauges(sipd);
    max = Math.max(max, g.get('sipd:reply_cache_entries') ?? 0);
    assert.ok((g.get('sipd:reply_cache_entries') ?? 0) <= 32_768, 'reply cache within its bound');
    assert.ok((g.get('sipd:security_log_sources') ?? 0) <= 10_000, 'security log within its bound');
  }
  sock.close();
  // still serving
  const r = await shortConnection(sipd.sipPort);
  assert.match(r, /^SIP\/2\.0 200/);
});

test('configured bounds (limits.*) are honoured and visible as sipd: gauges; a per-source cap applied lower than configured is logged', async () => {
  const d = mkdtempSync(join(tmpdir(), 'sipd-bounds-'));
  const p = await startSipd({ dbUrl: await makeDb(d), config: { limits: { replyCacheEntries: 1024, securityLogSources: 16 }, tcp: { maxConnections: 8, maxConnectionsPerSource: 32 }, modules: { pike: { max_entries: 16 } } } });
  const socks: dgram.Socket[] = [];
  try {
    assert.match(p.output(), /tcp\.maxConnectionsPerSource 32 is more than half of tcp\.maxConnections \(8\); 4 is applied/);
    // 1,500 different REGISTERs within the 32 s retransmission window: each is answered 401 and remembered, up to the bound.
    const sock = dgram.createSocket('udp4');
    socks.push(sock);
    await new Promise<void>((r) => sock.bind({ address: '127.0.0.1', port: 0 }, () => r()));
    sock.setRecvBufferSize(4 * 1024 * 1024);
    let answers = 0;
    const statuses = new Map<string, number>();
    sock.on('message', (b) => {
      answers++;
      const st = b.toString('latin1', 0, 12);
      statuses.set(st, (statuses.get(st) ?? 0) + 1);
    });
    const reg = options(p.sipPort).replace('OPTIONS sip:', 'REGISTER sip:').replace(/CSeq: (\d+) OPTIONS/, 'CSeq: $1 REGISTER');
    for (let i = 0; i < 1500; i++) {
      sock.send(reg.replace(/Call-ID: ([^\r]+)/, `Call-ID: bound-${i}-$1`), p.sipPort, '127.0.0.1');
      if (i % 50 === 49) await new Promise((r) => setTimeout(r, 10));
    }
    // Not every answer need arrive (a loaded machine may drop datagrams to this socket); well over the bound is enough.
    await waitFor('answers to the REGISTERs', () => answers, (n) => n >= 1200, 25_000);
    const g = await gauges(p);
    assert.equal(g.get('sipd:reply_cache_entries'), 1024, `the reply cache holds exactly its configured bound (answers: ${JSON.stringify([...statuses])})`);
    // parse failures from 40 source addresses: the security log tracks at most 16 (event, source) pairs
    for (let i = 2; i < 42; i++) {
      const s = dgram.createSocket('udp4');
      socks.push(s);
      await new Promise<void>((r) => s.bind({ address: `127.0.0.${i}`, port: 0 }, () => r()));
      s.send(Buffer.from('REGISTER sip:x SIP/2.0\r\nVia: garbage\r\n\r\n'), p.sipPort, '127.0.0.1');
    }
    await new Promise((r) => setTimeout(r, 500));
    const s2 = await gauges(p);
    assert.ok((s2.get('sipd:security_log_sources') ?? 0) > 0, 'the security log saw the failures');
    assert.ok((s2.get('sipd:security_log_sources') ?? 0) <= 16, `security log within its configured bound: ${s2.get('sipd:security_log_sources')}`);
    // pike counted each of the 40 sources; it tracks at most its max_entries (16)
    assert.ok((s2.get('sipd:pike_sources') ?? 0) > 0 && (s2.get('sipd:pike_sources') ?? 0) <= 16, `pike within its configured bound: ${s2.get('sipd:pike_sources')}`);
    assert.ok((s2.get('sipd:pike_refusal_sources') ?? 0) <= 16, 'pike refusal budget within its bound');
    for (const k of ['sipd:htable_entries', 'sipd:acc_queue', 'sipd:requests_in_flight', 'sipd:nonce_replay_entries', 'sipd:heap_total_kb']) assert.ok(s2.has(k), `${k} is a gauge`);
  } finally {
    for (const s of socks) s.close();
    await p.stop();
    rmSync(d, { recursive: true, force: true });
  }
});
