/**
 * Issue 18, part 2: slow senders cannot exhaust sipd's connections. The real sipd process, real
 * sockets, attacks scaled to CI (the limits set small through the config file):
 *
 * - SIP over TCP: 20 sources (127.0.0.10–29) each keep 8 connections open, half sending only
 *   CRLF keep-alives, half trickling a request a byte at a time, reconnecting whenever sipd
 *   closes one — 160 wanted against 48 slots. Meanwhile a legitimate client from 127.0.0.1 opens
 *   a fresh connection for each REGISTER with digest, one after another: every one must succeed.
 * - JSON-RPC over HTTP: 10 sources each keep 6 connections trickling a request byte by byte,
 *   reconnecting when closed (60 wanted against 16 slots) while a client from 127.0.0.1 calls
 *   core.uptime again and again: every call must succeed.
 * File descriptors of sipd (/proc/PID/fd) are counted before, during and after each attack and
 * must come back to the baseline.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openDatabase } from '../../src/core/db/database.js';
import { parseAuth } from '../../src/core/sip/headers.js';
import { addSubscriber } from '../../src/core/subscribers/subscribers.js';
import { computeHa1, computeResponse } from '../../src/daemon/modules/auth/digest.js';
import { makeDb, startSipd, type SipdProcess } from '../daemon/sipd-process.js';

const dir = mkdtempSync(join(tmpdir(), 'sipd-slow-'));
const USER = 'alice';
const PASSWORD = 'Slow-senders-9x';
let sipd: SipdProcess;

before(async () => {
  const dbUrl = await makeDb(dir);
  const db = await openDatabase(dbUrl);
  try {
    await addSubscriber(db, USER, '127.0.0.1', PASSWORD, { hash: 'md5', storePlaintext: false });
  } finally {
    await db.close();
  }
  sipd = await startSipd({
    dbUrl,
    config: {
      tcp: { maxConnections: 48, maxConnectionsPerSource: 8, idleTimeoutSec: 30, slowSenderTimeoutSec: 2, keepaliveMinIntervalSec: 30 },
      rpc: { maxConnections: 16, maxConnectionsPerSource: 4, timeoutSec: 2 },
    },
  });
});
after(async () => {
  await sipd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const fds = () => readdirSync(`/proc/${sipd.child.pid}/fd`).length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function gauges(): Promise<Map<string, number>> {
  const m = new Map<string, number>();
  for (const l of await sipd.rpc<string[]>('stats.get_statistics', ['sipd:'])) {
    const x = /^(\S+) = (-?\d+)/.exec(l);
    if (x) m.set(x[1], Number(x[2]));
  }
  return m;
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/**
 * An attacker: keeps `n` connections from `source` to `port` open, each doing `behave` (started
 * on connect, given the socket), reconnecting whenever one closes, until stopped.
 */
function attacker(source: string, port: number, n: number, behave: (s: net.Socket) => NodeJS.Timeout) {
  let stopped = false;
  const open = new Set<net.Socket>();
  const one = () => {
    if (stopped) return;
    const s = net.createConnection({ host: '127.0.0.1', port, localAddress: source });
    open.add(s);
    let timer: NodeJS.Timeout | undefined;
    s.on('connect', () => (timer = behave(s)));
    s.on('data', () => undefined);
    s.on('error', () => undefined);
    s.on('close', () => {
      if (timer) clearInterval(timer);
      open.delete(s);
      // a refused or closed connection is tried again after a short pause, as a bot would
      if (!stopped) setTimeout(one, 200);
    });
  };
  for (let i = 0; i < n; i++) one();
  return {
    stop() {
      stopped = true;
      for (const s of open) s.destroy();
    },
  };
}

const crlfTrickle = (s: net.Socket) => setInterval(() => s.write('\r\n\r\n'), 500);
function byteTrickle(text: string) {
  return (s: net.Socket) => {
    let i = 0;
    return setInterval(() => {
      if (i < text.length - 1) s.write(text.slice(i, ++i));
    }, 300);
  };
}

// ---------------------------------------------------------------- a legitimate TCP client

let seq = 0;
function register(port: number, localPort: number, callId: string, cseq: number, authorization?: string): string {
  return [
    'REGISTER sip:127.0.0.1 SIP/2.0',
    `Via: SIP/2.0/TCP 127.0.0.1:${localPort};branch=z9hG4bK-slow${++seq}-${Date.now()};rport`,
    `From: <sip:${USER}@127.0.0.1>;tag=s${seq}`,
    `To: <sip:${USER}@127.0.0.1>`,
    `Call-ID: ${callId}`,
    `CSeq: ${cseq} REGISTER`,
    'Max-Forwards: 70',
    // one Contact for every REGISTER: each refreshes the same binding (usrloc keeps at most 10 per user)
    `Contact: <sip:${USER}@127.0.0.1:5999;transport=tcp>`,
    'Expires: 60',
    ...(authorization ? [`Authorization: ${authorization}`] : []),
    'User-Agent: slow-senders-test',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

function digest(challenge: string): string {
  const line = challenge.split('\r\n').find((l) => /^WWW-Authenticate:/i.test(l));
  assert.ok(line, `no challenge in ${challenge.slice(0, 200)}`);
  const ch = parseAuth(line.slice(line.indexOf(':') + 1).trim(), 'www-authenticate');
  const realm = ch.params.get('realm')!;
  const nonce = ch.params.get('nonce')!;
  const qop = (ch.params.get('qop') ?? '').includes('auth') ? 'auth' : undefined;
  const cnonce = randomBytes(8).toString('hex');
  const uri = 'sip:127.0.0.1';
  const response = computeResponse({ algorithm: 'MD5', ha1: computeHa1('MD5', USER, realm, PASSWORD), nonce, method: 'REGISTER', uri, qop, nc: '00000001', cnonce });
  const parts = [`username="${USER}"`, `realm="${realm}"`, `nonce="${nonce}"`, `uri="${uri}"`, `response="${response}"`, 'algorithm=MD5'];
  if (qop) parts.push('qop=auth', 'nc=00000001', `cnonce="${cnonce}"`);
  const opaque = ch.params.get('opaque');
  if (opaque !== undefined) parts.push(`opaque="${opaque}"`);
  return `Digest ${parts.join(', ')}`;
}

/** A fresh connection from 127.0.0.1: REGISTER → 401 → REGISTER with credentials; the final status (0: none). */
function legitimateRegister(port: number): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createConnection({ host: '127.0.0.1', port, localAddress: '127.0.0.1' });
    const callId = `slow-${randomBytes(6).toString('hex')}@test`;
    let buf = '';
    let step = 0;
    const done = (status: number) => {
      clearTimeout(timer);
      s.destroy();
      resolve(status);
    };
    const timer = setTimeout(() => done(0), 5000);
    s.on('connect', () => s.write(register(port, s.localPort!, callId, 1)));
    s.on('data', (d) => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      const msg = buf.slice(0, end + 4);
      buf = buf.slice(end + 4);
      const status = Number(/^SIP\/2\.0 (\d{3})/.exec(msg)?.[1] ?? 0);
      if (step === 0 && status === 401) {
        step = 1;
        s.write(register(port, s.localPort!, callId, 2, digest(msg)));
      } else if (status >= 200) done(status);
    });
    s.on('error', () => done(0));
    s.on('close', () => done(0));
  });
}

// ---------------------------------------------------------------- tests

test('SIP over TCP: 20 sources trickling CRLFs and bytes on 160 connections; a legitimate TCP REGISTER with digest succeeds throughout; fds back to baseline', async () => {
  const port = sipd.sipPort;
  const fd0 = fds();
  // RFC 5626 §4.4.1: a double-CRLF ping is answered with a single CRLF
  const ping = net.createConnection({ host: '127.0.0.1', port });
  const pong = await new Promise<string>((resolve) => {
    let got = '';
    ping.on('connect', () => ping.write('\r\n\r\n'));
    ping.on('data', (d) => {
      got += d.toString('latin1');
      if (got.length >= 2) resolve(got);
    });
    setTimeout(() => resolve(got), 2000);
  });
  ping.destroy();
  assert.equal(pong, '\r\n', 'pong');

  const trickled = 'OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-x\r\n';
  const attackers = Array.from({ length: 20 }, (_, i) => [
    attacker(`127.0.0.${10 + i}`, port, 4, crlfTrickle),
    attacker(`127.0.0.${10 + i}`, port, 4, byteTrickle(trickled)),
  ]).flat();
  try {
    await until('the attack to fill the slots', async () => ((await gauges()).get('sipd:tcp_connections') ?? 0) >= 40);
    const results: number[] = [];
    let fdMax = 0;
    const end = Date.now() + 8000; // four slow-sender limits: every trickling connection is cut at least once
    while (Date.now() < end) {
      results.push(await legitimateRegister(port));
      fdMax = Math.max(fdMax, fds());
      await sleep(100);
    }
    const g = await gauges();
    process.stderr.write(`# SIP attack: fds before ${fd0}, during max ${fdMax}; REGISTERs ${results.filter((r) => r === 200).length}/${results.length} (${results.join(' ')}); closed slow-sender ${g.get('sipd:tcp_closed_slow_sender') ?? 0}, evicted ${g.get('sipd:tcp_closed_evicted') ?? 0}, per-source cap ${g.get('sipd:tcp_closed_per_source_cap') ?? 0}\n`);
    assert.ok(results.length >= 5, `only ${results.length} REGISTERs tried`);
    assert.deepEqual(results.filter((r) => r !== 200), [], 'every legitimate REGISTER got its 200');
    assert.ok((g.get('sipd:tcp_connections') ?? 0) <= 48, 'never more than tcp.maxConnections');
    assert.ok(fdMax <= fd0 + 48 + 8, `fds during the attack: ${fdMax} (baseline ${fd0})`);
    const cut = ['slow_sender', 'evicted', 'per_source_cap'].reduce((a, k) => a + (g.get(`sipd:tcp_closed_${k}`) ?? 0), 0);
    assert.ok(cut > 0, 'trickling connections are closed (slow-sender limit) or make room (evicted, refused at the per-source cap)');
  } finally {
    for (const a of attackers) a.stop();
  }
  await until('connections gone', async () => (await gauges()).get('sipd:tcp_connections') === 0);
  await until('fds back to baseline', () => fds() <= fd0);
  process.stderr.write(`# SIP attack: fds after ${fds()}\n`);
});

test('RPC over HTTP: 10 sources trickling requests on 60 connections; legitimate RPC calls succeed throughout; fds back to baseline', async () => {
  const url = new URL(sipd.rpcUrl);
  const port = Number(url.port);
  const fd0 = fds();
  const body = '{"jsonrpc":"2.0","method":"core.uptime","id":1}';
  const request = `POST ${url.pathname} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  const attackers = Array.from({ length: 10 }, (_, i) => attacker(`127.0.0.${40 + i}`, port, 6, byteTrickle(request)));
  try {
    await until('the attack to fill the RPC slots', async () => ((await gauges()).get('sipd:rpc_connections') ?? 0) >= 12);
    let ok = 0;
    let tried = 0;
    let fdMax = 0;
    const end = Date.now() + 6000; // three request deadlines
    while (Date.now() < end) {
      tried++;
      try {
        const res = await fetch(sipd.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(3000) });
        const j = (await res.json()) as { result?: { uptime?: number } };
        if (res.status === 200 && typeof j.result?.uptime === 'number') ok++;
      } catch (e) {
        if (tried - ok <= 2) process.stderr.write(`# RPC call failed: ${String((e as Error).cause ?? e)}\n`);
      }
      fdMax = Math.max(fdMax, fds());
      await sleep(100);
    }
    process.stderr.write(`# RPC attack: fds before ${fd0}, during max ${fdMax}; calls ${ok}/${tried}\n`);
    assert.ok(tried >= 10, `only ${tried} calls tried`);
    assert.equal(ok, tried, 'every legitimate RPC call answered');
  } finally {
    for (const a of attackers) a.stop();
  }
  await until('fds back to baseline', () => fds() <= fd0 + 1);
  process.stderr.write(`# RPC attack: fds after ${fds()}\n`);
});
