// sipd --workers 2: two processes on one address and port (reusePort, Node.js >= 22.12), each a
// cluster node over a private Redis, sharing one MariaDB database. REGISTERs from many sources
// spread over both workers; calls through the shared port connect whichever worker took them
// (responses and in-dialog requests come back to the worker that owns the transaction and the
// dialog: its private port is in Via and Record-Route). Requests to a UDP phone leave from the
// shared port, the only one a phone behind NAT takes packets from (issue 14); a phone answering to
// the source address reaches the shared port, and the worker that gets the response relays it to
// the worker its Via names. A TCP client's connection is held by one
// worker; a call for it that the other worker takes is handed to the holder's private port (a
// signed hand-off, as between machines) and reaches the client over its connection. Under Node
// 20, sipd refuses --workers 2 with one line naming the requirement; without --cluster it refuses
// too.
// scripts/test-node-versions.sh runs this file under Node 22 and 24.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addSubscriber } from '../../src/core/subscribers/subscribers.js';
import { createRpcClient } from '../../src/core/rpc/client.js';
import { supportsReusePort } from '../../src/daemon/workers.js';
import { relayTarget } from '../../src/daemon/transport/udp.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { requireTools } from '../helpers/require.js';
import { until } from '../helpers/until.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { ok, register, scenario, settle, sipp } from './calls-support.js';
import { SIPD, assertBuilt, freeSipPort, startSipd, statusOf, type SipdProcess } from './sipd-process.js';
import { Inbox, cseqOf, headers, isFinal, registerRequest, registerWithDigest, responseTo, udpRegister } from './sip-message.js';
import { TcpUa, callTcpUa } from './tcp-ua.js';
import { Device, ackAndBye } from './forking-support.js';
import { caller, udpPeer } from './raw-sip.js';

const PASSWORD = 'Tr0ub4dor-Horse-77';
const REALM = 'sip.test';
const SECRET = randomBytes(24).toString('hex');

/** REGISTER with digest from a fresh source port on srcIp: the final status. */
async function digestRegister(port: number, srcIp: string, user: string): Promise<number | undefined> {
  return statusOf(await digestRegisterReply(port, srcIp, user));
}

/** REGISTER with digest from a fresh source port on srcIp: the final reply (undefined: none in 3 s). */
function digestRegisterReply(port: number, srcIp: string, user: string): Promise<string | undefined> {
  return udpRegister({ host: '127.0.0.1', port, srcIp, user, password: PASSWORD, realm: REALM, expires: 120, callIdHost: 'workers-test' });
}

/**
 * The pids holding UDP sockets on `port` (ss, iproute2). A process of the same user that binds
 * the port with SO_REUSEPORT too joins the workers' group without an error and takes part of
 * the traffic: the test checks the port is held by this sipd's two workers and nothing else.
 */
function udpHolders(port: number): number[] {
  const r = spawnSync('ss', ['-H', '-uanp', `sport = :${port}`], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, `ss: ${r.stderr}`);
  return [...r.stdout.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
}

/** The parent pid of `pid` (Linux /proc). */
function parentOf(pid: number): number | undefined {
  try {
    return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
  } catch {
    return undefined;
  }
}

/**
 * A callee over UDP behind a NAT that lets in only what comes from the address:port it sent its
 * REGISTER to (port-restricted or symmetric): it registers with digest through the shared port,
 * answers INVITE with 200 (Record-Route copied) and BYE with 200, and keeps every request it got
 * with the address it came from. It answers either as RFC 3261 §18.2.2 says (to the top Via:
 * `received` or the source IP, the sent-by port — sipd's Via carries no rport) or, as some UAs
 * do, to the source address and port of the request.
 */
class UdpUa {
  private readonly inbox: Inbox<{ text: string; from: string }>;
  private readonly sock = dgram.createSocket('udp4');
  private readonly tag = randomBytes(4).toString('hex');
  localPort = 0;
  constructor(readonly ip: string, readonly user: string, readonly answer: 'via' | 'source') {
    this.inbox = new Inbox(user);
  }

  /** the requests received, in order, with the address each came from */
  get requests(): ReadonlyArray<{ text: string; from: string }> {
    return this.inbox.items;
  }

  async open(): Promise<void> {
    await new Promise<void>((r) => this.sock.bind({ address: this.ip, port: 0 }, () => r()));
    this.localPort = this.sock.address().port;
    this.sock.on('message', (d, rinfo) => {
      const text = d.toString('utf8');
      const request = !/^SIP\/2\.0 /.test(text);
      if (request) {
        const method = text.slice(0, text.indexOf(' '));
        if (method === 'INVITE') this.respond(text, rinfo, true);
        else if (method === 'BYE') this.respond(text, rinfo, false);
      }
      this.inbox.add({ text, from: `${rinfo.address}:${rinfo.port}` }, request);
    });
  }

  close(): void {
    try {
      this.sock.close();
    } catch {
      // already closed
    }
  }

  private respond(req: string, rinfo: dgram.RemoteInfo, answer: boolean): void {
    const vias = headers(req, 'Via');
    const data = responseTo(req, 200, 'OK', this.tag, answer ? `<sip:${this.user}@${this.ip}:${this.localPort}>` : undefined);
    if (this.answer === 'source') return void this.sock.send(data, rinfo.port, rinfo.address);
    // §18.2.2: received (else the sent-by host), port from rport when it has a value, else sent-by
    const top = vias[0]!.split(/\s*,\s*/)[0]!;
    const m = /^SIP\/2\.0\/UDP\s+([^;:\s]+)(?::(\d+))?/i.exec(top)!;
    const received = /;received=([^;\s]+)/i.exec(top)?.[1];
    const rport = /;rport=(\d+)/i.exec(top)?.[1];
    this.sock.send(data, Number(rport ?? m[2] ?? 5060), received ?? m[1]!);
  }

  async wait(what: string, match: (m: string) => boolean, ms = 10_000): Promise<string> {
    return (await this.inbox.wait(what, (r) => match(r.text), ms)).text;
  }

  /** REGISTER with digest from this socket to the shared port; the final status. */
  async register(port: number): Promise<number | undefined> {
    const uri = `sip:127.0.0.1:${port}`;
    const callId = `${randomBytes(8).toString('hex')}@workers-test`;
    let cseq = 0;
    const reply = await registerWithDigest({
      user: this.user,
      password: PASSWORD,
      uri,
      request: (auth) => registerRequest({ uri, via: `UDP ${this.ip}:${this.localPort}`, user: this.user, realm: REALM, fromTag: randomBytes(4).toString('hex'), callId, cseq: ++cseq, contact: `<sip:${this.user}@${this.ip}:${this.localPort}>`, expires: 300, auth }),
      exchange: (text) => {
        const r = this.wait('REGISTER reply', (m) => isFinal(m) && cseqOf(m) === cseqOf(text), 5000);
        this.sock.send(text, port, '127.0.0.1');
        return r;
      },
    });
    return statusOf(reply);
  }
}

describe('sipd --workers', () => {
  let dir: string;
  before(() => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), 'sipd-workers-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const refuse = (args: string[]) => spawnSync(process.execPath, [SIPD, '--state-dir', join(dir, 'refused'), '--listen', 'udp:127.0.0.1:0', ...args], {
    encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH, HOME: dir, SIPCTL_DB: `sqlite://${join(dir, 'none.db')}` },
  });

  test('relayTarget: the port of a response\'s top UDP Via naming the listen IP, nothing for a request or another address', () => {
    const res = (via: string) => Buffer.from(`SIP/2.0 200 OK\r\n${via}\r\nVia: SIP/2.0/UDP 10.0.0.9:5070;branch=z9hG4bK2\r\nCall-ID: x\r\n\r\n`, 'latin1');
    assert.equal(relayTarget(res('Via: SIP/2.0/UDP 127.0.0.1:40001;branch=z9hG4bK1'), '127.0.0.1'), 40001);
    assert.equal(relayTarget(res('v:SIP / 2.0 / udp 127.0.0.1 : 40002;branch=z9hG4bK1'), '127.0.0.1'), 40002);
    assert.equal(relayTarget(res('Via: SIP/2.0/UDP [::1]:40003;branch=z9hG4bK1'), '::1'), 40003);
    assert.equal(relayTarget(res('Via: SIP/2.0/UDP 127.0.0.2:40001;branch=z9hG4bK1'), '127.0.0.1'), undefined, 'another IP');
    assert.equal(relayTarget(res('Via: SIP/2.0/TCP 127.0.0.1:40001;branch=z9hG4bK1'), '127.0.0.1'), undefined, 'not UDP');
    assert.equal(relayTarget(res('Via: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1'), '127.0.0.1'), undefined, 'no port: not a private port');
    assert.equal(relayTarget(Buffer.from('INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:40001;branch=z9hG4bK1\r\n\r\n'), '127.0.0.1'), undefined, 'a request');
  });

  // Which tests exist depends on the Node.js running them (none is skipped): under Node 20 the
  // refusal; under 22.12+ the workers themselves (scripts/test-node-versions.sh runs those).
  if (supportsReusePort()) test('without --cluster: refused with one line naming the flag (exit 10, config)', () => {
    const r = refuse(['--workers', '2']);
    assert.equal(r.status, 10, r.stderr);
    assert.match(r.stderr, /^sipd: --workers 2 needs --cluster/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  });

  if (!supportsReusePort()) test('under Node.js < 22.12: refused with one line naming the requirement', () => {
    const r = refuse(['--workers', '2', '--cluster', 'redis://127.0.0.1:1/0']);
    assert.equal(r.status, 10, r.stderr);
    assert.match(r.stderr, /^sipd: --workers 2 needs Node\.js >= 22\.12 \(reusePort sockets\); this is Node\.js \d+\.\d+\.\d+/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  });

  if (supportsReusePort()) describe('two workers on one port (Node.js >= 22.12)', () => {
    let redis: RedisServer;
    let tdb: TestDb;
    let sipd: ChildProcess;
    let out = '';
    /** a TCP client (registered in the TCP test below) and another node, a single sipd on 127.0.0.2 */
    let dave: TcpUa | undefined;
    /** the private port of the worker holding dave's connection */
    let holderPort: number | undefined;
    let other: SipdProcess | undefined;
    let port: number;
    let rpcPort: number;
    const state = () => join(dir, 'w');
    const rpc = async <T>(worker: number, method: string, params?: unknown[]): Promise<T> => {
      const url = worker === 0 ? `http://127.0.0.1:${rpcPort}/RPC` : `unix:${join(state(), `worker-${worker}`, 'sipd.sock')}`;
      const c = createRpcClient(url, { timeoutMs: 5000 });
      try {
        return await c.call<T>(method, params);
      } finally {
        await c.close();
      }
    };

    before(async () => {
      requireTools('sipp', 'redis-server', 'ss');
      redis = await startRedis(dir);
      tdb = await createTestDb('mysql');
      const db = await tdb.open();
      try {
        for (const u of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina', 'hank']) await addSubscriber(db, u, REALM, PASSWORD, { hash: 'md5', storePlaintext: false });
      } finally {
        await db.close();
      }
      port = await freeSipPort();
      rpcPort = await freeSipPort();
      const cfg = join(dir, 'sipd.json');
      writeFileSync(cfg, JSON.stringify({
        listen: [`udp:127.0.0.1:${port}`, `tcp:127.0.0.1:${port}`],
        rpcListen: [`http://127.0.0.1:${rpcPort}/RPC`],
        cluster: { url: `redis://127.0.0.1:${redis.port}/0`, node_id: 'w' },
        workers: 2,
        modules: { 'auth-db': { realm: REALM, secret: SECRET }, scanner: { user_agents: ['friendly-scanner'] } },
      }));
      sipd = spawn(process.execPath, [SIPD, '--config', cfg, '--state-dir', state(), '--log-format', 'json'], {
        env: { PATH: process.env.PATH, HOME: dir, SIPCTL_DB: tdb.fullUrl, LANG: 'C.UTF-8' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      sipd.stdout!.on('data', (d) => (out += d));
      sipd.stderr!.on('data', (d) => (out += d));
      process.once('exit', () => sipd.kill('SIGKILL'));
      const deadline = Date.now() + 30_000;
      for (;;) {
        assert.equal(sipd.exitCode, null, `sipd exited:\n${out.slice(-3000)}`);
        assert.ok(Date.now() < deadline, `the two workers did not both join:\n${out.slice(-3000)}`);
        const n = await rpc<{ nodes: Array<{ node: string; alive: boolean }> }>(0, 'cluster.nodes').catch(() => undefined);
        if (n !== undefined) {
          // the primary starts worker 0 (the configured RPC endpoint, the runtime file: what
          // "sipd is ready" means to sipctl) only after worker 1 bound its sockets and is up
          assert.ok(await rpc(1, 'core.uptime').then(() => true, () => false), `worker 0 answered before worker 1 was up:\n${out.slice(-3000)}`);
          if (n.nodes.filter((x) => x.alive).map((x) => x.node).join() === 'w#0,w#1') break;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    });

    /** The shared SIP port is held by this sipd's two workers (one socket each), by no one else. */
    const assertOwnPort = () => {
      const holders = udpHolders(port);
      const foreign = holders.filter((p) => parentOf(p) !== sipd.pid);
      assert.equal(foreign.length, 0, `udp 127.0.0.1:${port} is also held by pid ${foreign.join(', ')}, not a worker of this sipd (pid ${sipd.pid}): its sockets share the workers' traffic`);
      // one socket each (their private ports are other ports)
      assert.equal(new Set(holders).size, 2, `udp 127.0.0.1:${port} holders: ${holders.join(', ')}`);
    };

    test('the shared port is held by the two workers only; a second sipd --workers on it is refused (one line, exit 5)', () => {
      assertOwnPort();
      const r = spawnSync(process.execPath, [SIPD, '--state-dir', join(dir, 'second'), '--listen', `udp:127.0.0.1:${port}`, '--workers', '2', '--cluster', `redis://127.0.0.1:${redis.port}/0`], {
        encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH, HOME: dir, SIPCTL_DB: tdb.fullUrl },
      });
      assert.equal(r.status, 5, r.stderr);
      assert.match(r.stderr, new RegExp(`^sipd: cannot listen on udp:127\\.0\\.0\\.1:${port}: EADDRINUSE`));
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assertOwnPort();
    });

    after(async () => {
      dave?.close();
      await other?.stop();
      if (sipd !== undefined && sipd.exitCode === null) {
        sipd.kill('SIGTERM');
        await new Promise((r) => sipd.once('exit', r));
      }
      await redis?.stop();
      await tdb?.drop().catch(() => undefined);
    });

    test('REGISTERs from many sources all succeed and spread over both workers', async () => {
      const statuses: Array<number | undefined> = [];
      // bob and carol, 8 each, so no AoR reaches registrar.max_contacts (10, on all workers together);
      // alice is left alone: the call test below needs her one live contact
      for (let i = 0; i < 16; i++) statuses.push(await digestRegister(port, `127.0.0.${10 + (i % 8)}`, i % 2 === 0 ? 'bob' : 'carol'));
      assert.deepEqual(statuses, Array(16).fill(200));
      const held = async (w: number) => {
        const d = await rpc<{ Domains: Array<{ Domain: { AoRs: Array<{ Info: { Contacts: unknown[] } }> } }> }>(w, 'ul.dump');
        return d.Domains[0]!.Domain.AoRs.reduce((n, a) => n + a.Info.Contacts.length, 0);
      };
      const [w0, w1] = [await held(0), await held(1)];
      console.log(`# REGISTERs taken: worker 0 ${w0}, worker 1 ${w1}`);
      assert.equal(w0 + w1, 16);
      assert.ok(w0 > 0 && w1 > 0, `both workers took some: ${w0} / ${w1}`);
    });

    test('registrar.max_contacts counts an AoR\'s contacts on all workers: 4 added on each worker, 2 registered (10), the next REGISTERs refused on either worker (503 Too many registered contacts)', async () => {
      // 4 contacts through each worker (ul.add: written like a REGISTER, to the worker's own copy and Redis)
      for (const w of [0, 1]) {
        for (let i = 0; i < 4; i++) await rpc(w, 'ul.add', ['location', 'erin', `sip:erin@192.0.2.${w * 10 + i + 1}:5060`, 300, 1, '0', 0, 0, 0]);
      }
      const statuses: Array<number | undefined> = [];
      for (let i = 0; i < 2; i++) statuses.push(await digestRegister(port, `127.0.0.${20 + i}`, 'erin'));
      assert.deepEqual(statuses, [200, 200], 'erin\'s 9th and 10th contacts');
      const held = async (w: number) => {
        const d = await rpc<{ Domains: Array<{ Domain: { AoRs: Array<{ Info: { AoR: string; Contacts: unknown[] } }> } }> }>(w, 'ul.dump');
        return d.Domains[0]!.Domain.AoRs.filter((a) => a.Info.AoR === 'erin').reduce((n, a) => n + a.Info.Contacts.length, 0);
      };
      const before = [await held(0), await held(1)];
      assert.equal(before[0]! + before[1]!, 10);
      // each worker alone holds fewer than 10: a count per worker would let the next ones in
      assert.ok(before[0]! < 10 && before[1]! < 10, `erin's contacts on worker 0 / 1: ${before.join(' / ')}`);
      // more attempts from fresh sources (and so, by the kernel's hash, on either worker): all refused
      for (let i = 0; i < 6; i++) {
        const reply = await digestRegisterReply(port, `127.0.0.${30 + i}`, 'erin');
        assert.equal(statusOf(reply), 503, reply);
        assert.match(reply!, /\r\nP-Registrar-Error: Too many registered contacts\r\n/i);
        // it lists erin's bindings on both workers (as the script that refused read them), not the answering worker's only
        const listed = headers(reply!, 'Contact').flatMap((v) => v.split(/,\s*(?=<)/));
        assert.equal(listed.length, 10, `the 503 lists: ${listed.join(' | ')}`);
      }
      assert.deepEqual([await held(0), await held(1)], before, 'nothing was added on either worker');
      // ul.rm on each worker removes its contacts from Redis too: erin registers again
      for (const w of [0, 1]) await rpc(w, 'ul.rm', ['location', 'erin']);
      assert.deepEqual([await held(0), await held(1)], [0, 0]);
      assert.equal(await digestRegister(port, '127.0.0.40', 'erin'), 200, 'no contacts of erin left on any worker (nor in Redis)');
    });

    test('calls through the shared port connect on either worker: responses and ACK/BYE reach the worker that owns the call', async () => {
      const alicePort = await freeSipPort();
      ok(await register({ proxyPort: port, user: 'alice', password: PASSWORD, localPort: alicePort }), 'REGISTER alice');
      const relayed = async () => Promise.all([0, 1].map(async (w) => (await rpc<{ relayed: number }>(w, 'proxy.stats')).relayed));
      // Which worker takes a call is the kernel's choice: SO_REUSEPORT hashes the caller's address
      // and port, so each call from a fresh source port lands on either worker with about even odds
      // (nothing promises a spread over a few sources). So every call is checked whichever worker
      // took it: its INVITE, ACK and BYE are all relayed by that one worker, the owner of its
      // transaction and dialog (the ACK and BYE follow Record-Route to the owner's private port; a
      // response or in-dialog request that reached the other worker would fail the call or show up
      // there). Calls go on until each worker has owned one: at even odds, 30 calls miss one of the
      // workers with probability 2^-29, so a miss means the kernel does not send it that traffic.
      const MAX_CALLS = 30;
      const owned = [0, 0];
      const log = () => `\nsipd's log (tail):\n${out.slice(-2500)}`;
      for (let call = 1; ; call++) {
        const before = await relayed();
        const uas = sipp({ scenario: scenario('callee.xml'), localIp: '127.0.0.1', localPort: alicePort, timeoutMs: 20_000 });
        await settle();
        const uac = sipp({ scenario: scenario('caller.xml', { USER: 'bob' }), remote: `127.0.0.1:${port}`, localPort: await freeSipPort(), service: 'alice', user: 'bob', password: PASSWORD, timeoutMs: 20_000 });
        const [c, a] = await Promise.all([uac.done, uas.done]);
        ok(c, `call ${call}, caller${log()}`);
        ok(a, `call ${call}, callee${log()}`);
        const d = (await relayed()).map((n, i) => n - before[i]!);
        const owner = d[0]! > 0 ? 0 : 1;
        assert.ok(d[owner]! >= 3 && d[1 - owner] === 0, `call ${call}: requests relayed by worker 0 / 1: ${d.join(' / ')} (INVITE, ACK and BYE all by the worker that took the call)${log()}`);
        owned[owner]!++;
        if (owned.every((n) => n > 0)) break;
        assert.ok(call < MAX_CALLS, `${call} calls and worker ${owned.indexOf(0)} took none: calls owned by worker 0 / 1: ${owned.join(' / ')}${log()}`);
      }
      console.log(`# calls owned by worker 0: ${owned[0]}, worker 1: ${owned[1]}`);
      assertOwnPort();
      // a worker that died and was restarted would have lost its calls' transactions: none did
      assert.doesNotMatch(out, /sipd: worker \d+ exited/, log());
    });

    // Issue 14: a phone behind a port-restricted or symmetric NAT takes packets only from the
    // address:port it registered to (the shared port). Every request a worker sends it must leave
    // from there, while the worker's private port stays in Via (and Record-Route), so a UA that
    // answers to Via answers the worker holding the transaction. A UA that answers to the source
    // address instead reaches the shared port, where the kernel's hash of the UA's (fixed) address
    // picks the same worker every time: the calls the other worker owns complete only because
    // that worker relays the responses to the private port their Via names.
    for (const [user, ip, answer] of [['frank', '127.0.0.71', 'via'], ['gina', '127.0.0.72', 'source']] as const) {
      test(`a UDP phone behind NAT (answers to ${answer === 'via' ? 'Via' : 'the source address'}): every request reaches it from the shared port, calls either worker takes complete`, async () => {
        const nodes = (await rpc<{ nodes: Array<{ node: string; hops: string[] }> }>(0, 'cluster.nodes')).nodes;
        const privatePort = new Map(nodes.map((n) => [Number(n.hops[0]?.split(':')[2]), n.node]));
        const ua = new UdpUa(ip, user, answer);
        await ua.open();
        try {
          assert.equal(await ua.register(port), 200, `${user} registers through the shared port`);
          const log = () => `\nsipd's log (tail):\n${out.slice(-2500)}`;
          // calls from fresh caller source ports until each worker has taken one (the kernel's hash)
          const MAX_CALLS = 30;
          const owners = new Map<string, number>();
          for (let call = 1; ; call++) {
            const seen = ua.requests.length;
            const uac = sipp({ scenario: scenario('caller.xml', { USER: 'bob', HOLD: 200 }), remote: `127.0.0.1:${port}`, localPort: await freeSipPort(), service: user, user: 'bob', password: PASSWORD, timeoutMs: 20_000 });
            const invite = await ua.wait('INVITE', (m) => m.startsWith('INVITE ') && ua.requests.findIndex((r) => r.text === m) >= seen, 10_000).catch((e: Error) => assert.fail(`call ${call}: ${e.message}${log()}`));
            ok(await uac.done, `call ${call}, caller (nothing but 200 to its INVITE and BYE: no 408)${log()}`);
            const callId = headers(invite, 'Call-ID')[0];
            await ua.wait('BYE', (m) => m.startsWith('BYE ') && headers(m, 'Call-ID')[0] === callId, 10_000);
            const mine = ua.requests.filter((r) => headers(r.text, 'Call-ID')[0] === callId);
            assert.deepEqual(mine.map((r) => r.text.slice(0, r.text.indexOf(' '))).filter((x, i, a) => a.indexOf(x) === i), ['INVITE', 'ACK', 'BYE'], `call ${call}: ${user} got INVITE, ACK and BYE`);
            for (const r of mine) assert.equal(r.from, `127.0.0.1:${port}`, `call ${call}: ${r.text.slice(0, r.text.indexOf(' '))} came from ${r.from}, not the shared port ${port}${log()}`);
            // the top Via names the private port of the worker that took the call
            const via = headers(invite, 'Via')[0]!.split(/\s*,\s*/)[0]!;
            const m = new RegExp(`^SIP/2\\.0/UDP 127\\.0\\.0\\.1:(\\d+);`).exec(via);
            assert.ok(m !== null && Number(m[1]) !== port, `call ${call}: top Via ${via}`);
            assert.doesNotMatch(via, /;rport/, 'sipd asks for no rport: a UA following RFC 3261 answers the Via port');
            const owner = privatePort.get(Number(m![1]));
            assert.ok(owner !== undefined, `call ${call}: Via port ${m![1]} is no worker's private port (${JSON.stringify(nodes)})`);
            owners.set(owner, (owners.get(owner) ?? 0) + 1);
            if (owners.size === 2) break;
            assert.ok(call < MAX_CALLS, `${call} calls, all taken by ${[...owners.keys()].join()}${log()}`);
          }
          console.log(`# ${user} (answers to ${answer}): calls taken ${[...owners].map(([w, n]) => `${w} ${n}`).join(', ')}`);
        } finally {
          ua.close();
        }
        assert.doesNotMatch(out, /sipd: worker \d+ exited/);
      });
    }

    test('a forked call on either worker: both devices ring, one answers, the other is CANCELled and its 487 ACKed; ACK and BYE reach the device that answered', async () => {
      // hank's two devices on addresses of their own: the kernel hashes each device's responses
      // to a worker, which is the call's owner or relays them to it
      const desk = await Device.open('hank', false, '127.0.0.81');
      const soft = await Device.open('hank', false, '127.0.0.82');
      const MAX_CALLS = 30;
      const owned = [0, 0];
      const log = () => `\nsipd's log (tail):\n${out.slice(-2500)}`;
      try {
        await desk.register(port);
        await soft.register(port);
        for (let call = 1; ; call++) {
          const phone = await udpPeer('127.0.0.1');
          try {
            const b = caller(phone, { host: '127.0.0.1', port }, { user: 'bob', fromHost: '127.0.0.1', password: PASSWORD });
            const [answering, other] = call % 2 === 1 ? [soft, desk] : [desk, soft];
            const seen = { invites: [desk.got('INVITE').length, soft.got('INVITE').length], cancels: other.got('CANCEL').length, acks: other.got('ACK').length, byes: answering.got('BYE').length };
            const tx = await b.prepare(`sip:hank@127.0.0.1:${port}`);
            b.send(tx);
            await until(`call ${call}: the INVITE at both devices${log()}`, () => desk.got('INVITE').length > seen.invites[0]! && soft.got('INVITE').length > seen.invites[1]!);
            await until(`call ${call}: both 180s at bob${log()}`, () => tx.replies().filter((r) => statusOf(r) === 180).length === 2);
            answering.answer();
            const okReply = await until(`call ${call}: 200 at bob${log()}`, () => tx.replies().find((r) => statusOf(r) === 200));
            await until(`call ${call}: CANCEL at the device that did not answer${log()}`, () => other.got('CANCEL').length > seen.cancels);
            await until(`call ${call}: its 487 ACKed by the owner${log()}`, () => other.got('ACK').length > seen.acks);
            const callId = headers(tx.text, 'Call-ID')[0]!;
            const holders = await Promise.all([0, 1].map(async (w) => (await rpc<Array<{ 'call-id': string }>>(w, 'dlg.list')).some((d) => d['call-id'] === callId)));
            assert.equal(holders.filter(Boolean).length, 1, `call ${call}: listed by worker 0 / 1: ${holders.join(' / ')}`);
            assert.equal(await ackAndBye(phone, { host: '127.0.0.1', port }, tx, okReply), 200, `call ${call}: BYE`);
            await until(`call ${call}: the BYE at the device that answered${log()}`, () => answering.got('BYE').length > seen.byes);
            owned[holders[0] ? 0 : 1]!++;
          } finally {
            phone.close();
          }
          if (owned[0]! > 0 && owned[1]! > 0) break;
          assert.ok(call < MAX_CALLS, `${call} forked calls and worker ${owned[0] === 0 ? 0 : 1} owned none${log()}`);
        }
        console.log(`# forked calls owned by worker 0 / 1: ${owned.join(' / ')}`);
        assert.doesNotMatch(out, /sipd: worker \d+ exited/);
      } finally {
        desk.close();
        soft.close();
      }
    });

    test('a TCP client registered through one worker: calls the other worker takes are handed to the holder\'s private port and reach the client over its connection; every call completes', async () => {
      // each worker's hand-off address: its private UDP port on the listen IP (not the shared port)
      const nodes = (await rpc<{ nodes: Array<{ node: string; hops: string[] }> }>(0, 'cluster.nodes')).nodes;
      const hop = new Map(nodes.map((n) => [n.node, n.hops]));
      for (const w of ['w#0', 'w#1']) {
        const h = hop.get(w) ?? [];
        assert.equal(h.length, 1, `${w} hand-off addresses: ${JSON.stringify(h)}`);
        assert.match(h[0]!, /^udp:127\.0\.0\.1:\d+$/, `${w}: on the listen IP`);
        assert.notEqual(h[0], `udp:127.0.0.1:${port}`, `${w}: its private port, not the shared one`);
      }
      const privatePort = (w: number) => Number(hop.get(`w#${w}`)![0]!.split(':')[2]);

      dave = new TcpUa('127.0.0.62', 'dave', { realm: REALM, password: PASSWORD });
      await dave.open(port);
      {
        assert.equal(await dave.register(port), 200, 'dave registers over TCP');
        // which worker took his connection (the kernel's choice): the one holding his contact
        const holds = async (w: number) => (await rpc<{ Domains: Array<{ Domain: { AoRs: Array<{ Info: { AoR: string } }> } }> }>(w, 'ul.dump')).Domains[0]!.Domain.AoRs.some((a) => a.Info.AoR === 'dave');
        const held = [await holds(0), await holds(1)];
        assert.equal(held.filter(Boolean).length, 1, `dave's contact on worker 0 / 1: ${held.join(' / ')}`);
        const holder = held[0] ? 0 : 1;
        const other = 1 - holder;
        holderPort = privatePort(holder);
        const log = () => `\nsipd's log (tail):\n${out.slice(-2500)}`;
        // Calls from fresh UDP source ports until each worker has taken one (the kernel's hash
        // picks the worker, as in the test above): one taken by the holder goes straight over the
        // connection; one taken by the other worker is handed to the holder's private port. Either
        // way dave gets the INVITE over his connection, and ACK and BYE reach him too.
        const MAX_CALLS = 30;
        const kinds = { direct: 0, handedOff: 0 };
        for (let call = 1; ; call++) {
          // The Via path tells who took the call: the holder's TCP Via on top, then (handed off)
          // the other worker's private port, then the caller.
          const { vias, rr } = await callTcpUa(dave, { remote: `127.0.0.1:${port}`, tcpPort: port, caller: { user: 'bob', password: PASSWORD }, what: `call ${call}`, log });
          if (vias.length === 3) {
            assert.match(vias[1]!, new RegExp(`^SIP/2\\.0/UDP 127\\.0\\.0\\.1:${privatePort(other)};`), `call ${call}: handed over by worker ${other}: ${vias.join(' | ')}`);
            // the holder took the hand-off at its private port (its double Record-Route: TCP side, UDP side)
            assert.match(rr[1] ?? '', new RegExp(`^<sip:127\\.0\\.0\\.1:${holderPort};`), `call ${call}: Record-Route ${rr.join(' | ')}`);
            kinds.handedOff++;
          } else {
            assert.equal(vias.length, 2, `call ${call}: Via ${vias.join(' | ')}`);
            kinds.direct++;
          }
          if (kinds.direct > 0 && kinds.handedOff > 0) break;
          assert.ok(call < MAX_CALLS, `${call} calls and ${kinds.direct === 0 ? `worker ${holder} (the holder)` : `worker ${other}`} took none: direct ${kinds.direct}, handed off ${kinds.handedOff}${log()}`);
        }
        console.log(`# calls for the TCP client: taken by its worker ${kinds.direct}, handed over by the other ${kinds.handedOff}`);
      }
      assert.doesNotMatch(out, /sipd: worker \d+ exited/);
    });

    test('a call for the TCP client through another node (a single sipd on 127.0.0.2) is handed to the private port of the worker holding the connection', async () => {
      assert.ok(dave !== undefined, 'the TCP test above registered dave');
      const xPort = await freeSipPort();
      other = await startSipd({
        dbUrl: tdb.fullUrl,
        sipPort: xPort,
        config: {
          listen: [`udp:127.0.0.2:${xPort}`],
          cluster: { url: `redis://127.0.0.1:${redis.port}/0`, node_id: 'x' },
          modules: { 'auth-db': { realm: REALM, secret: SECRET }, scanner: { user_agents: ['friendly-scanner'] } },
        },
      });
      // x hands a call to a node only once it has seen that node's heartbeat (every 2 s)
      await until('x sees both workers alive with their hand-off addresses', async () => {
        const n = await other!.rpc<{ nodes: Array<{ node: string; alive: boolean; hops: string[] }> }>('cluster.nodes');
        return ['w#0', 'w#1'].every((w) => n.nodes.some((x) => x.node === w && x.alive && x.hops.length === 1));
      }, 10_000);
      const log = () => `\nworkers' log (tail):\n${out.slice(-2000)}\nx's log (tail):\n${other!.output().slice(-1500)}`;
      // A hand-off sent to the shared port would reach whichever worker the kernel's hash of x's
      // address picks, half the time the one without dave's connection (480, as before).
      for (let call = 1; call <= 2; call++) {
        const { vias, rr } = await callTcpUa(dave, { remote: `127.0.0.2:${xPort}`, tcpPort: port, caller: { user: 'bob', password: PASSWORD }, what: `call ${call} through x`, log });
        assert.match(vias[1]!, new RegExp(`^SIP/2\\.0/UDP 127\\.0\\.0\\.2:${xPort};`), `call ${call}: handed over by x: ${vias.join(' | ')}`);
        assert.equal(vias.length, 3, vias.join(' | '));
        // the holder took the hand-off at its private port (its double Record-Route: TCP side, UDP side)
        assert.match(rr[1] ?? '', new RegExp(`^<sip:127\\.0\\.0\\.1:${holderPort};`), `call ${call}: Record-Route ${rr.join(' | ')}`);
      }
      assert.doesNotMatch(out, /sipd: worker \d+ exited/);
    });
  });
});
