// sipd listening on every address (udp:0.0.0.0 — an operator's first-day config, and Debian's
// habit), alone and as --workers 2 (issue 14): the Via and Record-Route it sends name the
// interface address each message leaves from (here the loopback address, 127.0.0.1), never
// 0.0.0.0, which no UA can answer or route to. Calls through it complete: sipp caller and callee
// (which answers to the source address, so with --workers a response that reached the wrong
// worker is relayed), every message they exchanged traced. With TCP on 0.0.0.0 too, a TCP client's
// connection is held by one worker: calls the other worker takes are handed to the holder at its
// private port on loopback (the workers' hand-off address when they listen on every address) and
// reach the client over its connection. The single sipd runs under every Node version; the two
// workers need 22.12+ (scripts/test-node-versions.sh runs this file there), and under older Node
// the file checks that sipd refuses --workers 2 on 0.0.0.0 instead (no test is skipped).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addSubscriber } from '../../src/core/subscribers/subscribers.js';
import { createRpcClient } from '../../src/core/rpc/client.js';
import { supportsReusePort } from '../../src/daemon/workers.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { requireTools } from '../helpers/require.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { ok, register, scenario, settle, sipp } from './calls-support.js';
import { TcpUa, callTcpUa } from './tcp-ua.js';
import { SIPD, assertBuilt, freeSipPort } from './sipd-process.js';

const PASSWORD = 'Tr0ub4dor-Horse-77';
const REALM = 'sip.test';
const SECRET = randomBytes(24).toString('hex');

/** The INVITE the callee got, from sipp's message trace. */
function receivedInvite(trace: string): string {
  const m = /message received[^\n]*\n+(INVITE [\s\S]*?\r?\n\r?\n)/.exec(trace);
  assert.ok(m !== null, `no INVITE in the callee's trace:\n${trace.slice(0, 2000)}`);
  return m[1]!;
}

const values = (text: string, name: string) => text.split(/\r?\n/).filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`)).flatMap((l) => l.slice(name.length + 1).split(',').map((v) => v.trim()));

describe('sipd on 0.0.0.0: Via and Record-Route name the address each message leaves from', () => {
  let dir: string;
  let tdb: TestDb;
  let redis: RedisServer | undefined;
  let sipd: ChildProcess | undefined;
  let out = '';
  /** the RPC endpoint of the sipd start() started last (worker 0's, with --workers) */
  let rpcUrl = '';

  before(async () => {
    requireTools('sipp', 'redis-server');
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), 'sipd-listen-any-'));
    tdb = await createTestDb('mysql');
    const db = await tdb.open();
    try {
      for (const u of ['alice', 'bob', 'dave']) await addSubscriber(db, u, REALM, PASSWORD, { hash: 'md5', storePlaintext: false });
    } finally {
      await db.close();
    }
  });

  /** every sipd start() started and stop() has not stopped yet (two nodes in the cluster.address test) */
  const running: ChildProcess[] = [];
  const stop = async () => {
    for (const p of running.splice(0)) {
      if (p.exitCode !== null || p.signalCode !== null) continue;
      p.kill('SIGTERM');
      await new Promise((r) => p.once('exit', r));
    }
    sipd = undefined;
  };

  after(async () => {
    await stop();
    await redis?.stop();
    await tdb?.drop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  /** no registrations left of the tests before (their rows would be loaded at start and called) */
  const emptyLocation = async () => {
    const db = await tdb.open();
    try {
      await db.execute('DELETE FROM location');
    } finally {
      await db.close();
    }
  };

  /** sipd on udp:0.0.0.0:port (and tcp:0.0.0.0:port with `tcp`; its RPC over HTTP on 127.0.0.1), with `extra` config; resolves once `ready` says so */
  async function start(name: string, extra: Record<string, unknown>, ready: (rpc: <T>(method: string) => Promise<T>) => Promise<boolean>, tcp = false): Promise<number> {
    const port = await freeSipPort();
    const rpcPort = await freeSipPort();
    const cfg = join(dir, `${name}.json`);
    rpcUrl = `http://127.0.0.1:${rpcPort}/RPC`;
    writeFileSync(cfg, JSON.stringify({
      listen: [`udp:0.0.0.0:${port}`, ...(tcp ? [`tcp:0.0.0.0:${port}`] : [])],
      rpcListen: [`http://127.0.0.1:${rpcPort}/RPC`],
      modules: { 'auth-db': { realm: REALM, secret: SECRET }, scanner: { user_agents: ['friendly-scanner'] } },
      ...extra,
    }));
    out = '';
    sipd = spawn(process.execPath, [SIPD, '--config', cfg, '--state-dir', join(dir, name), '--log-format', 'json'], {
      env: { PATH: process.env.PATH, HOME: dir, SIPCTL_DB: tdb.fullUrl, LANG: 'C.UTF-8' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    sipd.stdout!.on('data', (d) => (out += d));
    sipd.stderr!.on('data', (d) => (out += d));
    const child = sipd;
    running.push(child);
    process.once('exit', () => child.kill('SIGKILL'));
    const rpc = async <T>(method: string): Promise<T> => {
      const c = createRpcClient(`http://127.0.0.1:${rpcPort}/RPC`, { timeoutMs: 5000 });
      try {
        return await c.call<T>(method);
      } finally {
        await c.close();
      }
    };
    const deadline = Date.now() + 30_000;
    for (;;) {
      assert.equal(child.exitCode, null, `sipd exited:\n${out.slice(-3000)}`);
      assert.ok(Date.now() < deadline, `sipd did not become ready:\n${out.slice(-3000)}`);
      if (await ready(rpc).catch(() => false)) return port;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /**
   * alice registered (sipp, from 127.0.0.1), then calls from bob through 127.0.0.1:port until
   * `enough` says so: each call completes, and neither side saw 0.0.0.0 in anything sipd sent;
   * the callee's INVITE names 127.0.0.1 in sipd's Via and every Record-Route entry. Returns
   * the port in the top Via of each call's INVITE.
   */
  async function calls(port: number, enough: (viaPorts: number[]) => Promise<boolean>): Promise<number[]> {
    const alicePort = await freeSipPort();
    ok(await register({ proxyPort: port, user: 'alice', password: PASSWORD, localPort: alicePort }), 'REGISTER alice');
    const viaPorts: number[] = [];
    const log = () => `\nsipd's log (tail):\n${out.slice(-2500)}`;
    for (let call = 1; ; call++) {
      const uas = sipp({ scenario: scenario('callee.xml'), localIp: '127.0.0.1', localPort: alicePort, timeoutMs: 20_000, traceMessages: true });
      await settle();
      const uac = sipp({ scenario: scenario('caller.xml', { USER: 'bob' }), remote: `127.0.0.1:${port}`, localPort: await freeSipPort(), service: 'alice', user: 'bob', password: PASSWORD, timeoutMs: 20_000, traceMessages: true });
      const [c, a] = await Promise.all([uac.done, uas.done]);
      ok(c, `call ${call}, caller${log()}`);
      ok(a, `call ${call}, callee${log()}`);
      assert.doesNotMatch(a.messages!, /0\.0\.0\.0/, `call ${call}: the callee saw 0.0.0.0:\n${a.messages!.slice(0, 3000)}`);
      assert.doesNotMatch(c.messages!, /0\.0\.0\.0/, `call ${call}: the caller saw 0.0.0.0:\n${c.messages!.slice(0, 3000)}`);
      const invite = receivedInvite(a.messages!);
      const via = /^SIP\/2\.0\/UDP 127\.0\.0\.1:(\d+);/.exec(values(invite, 'Via')[0] ?? '');
      assert.ok(via !== null, `call ${call}: sipd's Via ${values(invite, 'Via')[0]}`);
      const rr = values(invite, 'Record-Route');
      assert.ok(rr.length > 0 && rr.every((v) => v.startsWith('<sip:127.0.0.1:')), `call ${call}: Record-Route ${rr.join(' | ')}`);
      viaPorts.push(Number(via[1]));
      if (await enough(viaPorts)) return viaPorts;
      assert.ok(call < 30, `${call} calls: ${viaPorts.join(', ')}${log()}`);
    }
  }

  test('a single sipd: the call completes; Via and Record-Route name 127.0.0.1 and the SIP port', async () => {
    const port = await start('single', {}, async (rpc) => (await rpc('core.uptime')) !== undefined);
    try {
      const vias = await calls(port, async () => true);
      assert.deepEqual(vias, [port]);
    } finally {
      await stop();
    }
  });

  if (supportsReusePort()) test('sipd --workers 2: calls either worker takes complete; Via names 127.0.0.1 and the worker\'s private port', async () => {
    // The single sipd's registration of alice (a sipp port closed since) is a valid row until it
    // expires: a cluster on a new Redis gives the rows it loads back (cluster README), and sipd
    // forks each call to it too (a branch nobody answers, which the caller's CANCEL or Timer B
    // ends). Not what this test is about: it starts with no registrations.
    await emptyLocation();
    redis = await startRedis(dir);
    const port = await start('workers', { cluster: { url: `redis://127.0.0.1:${redis.port}/0`, node_id: 'w' }, workers: 2 }, async (rpc) =>
      (await rpc<{ nodes: Array<{ node: string; alive: boolean }> }>('cluster.nodes')).nodes.filter((x) => x.alive).map((x) => x.node).join() === 'w#0,w#1');
    try {
      // which worker takes a call is the kernel's choice (a hash of the caller's address and port):
      // calls from fresh source ports until two private ports showed up in Via
      const vias = await calls(port, async (v) => new Set(v).size === 2);
      assert.ok(!vias.includes(port), `Via names the workers' private ports, not the shared one: ${vias.join(', ')}`);
      assert.doesNotMatch(out, /sipd: worker \d+ exited/);
    } finally {
      await stop();
    }
  });

  if (supportsReusePort()) test('sipd --workers 2 on udp and tcp 0.0.0.0: a TCP client registered through one worker gets every call, those the other worker takes handed to the holder on loopback', async () => {
    await emptyLocation();
    // a Redis of its own: nothing left of the test above (its workers' registrations, nodes)
    await redis?.stop();
    redis = await startRedis(join(dir, 'tcp'));
    const name = 'workers-tcp';
    const port = await start(name, { cluster: { url: `redis://127.0.0.1:${redis.port}/0`, node_id: 'wt' }, workers: 2 }, async (rpc) =>
      (await rpc<{ nodes: Array<{ node: string; alive: boolean }> }>('cluster.nodes')).nodes.filter((x) => x.alive).map((x) => x.node).join() === 'wt#0,wt#1', true);
    /** worker 0 answers on the configured HTTP endpoint; worker 1 on its own unix socket (workers.ts) */
    const rpcOf = async <T>(w: number, method: string): Promise<T> => {
      const url = w === 0 ? rpcUrl : `unix:${join(dir, name, 'worker-1', 'sipd.sock')}`;
      const c = createRpcClient(url, { timeoutMs: 5000 });
      try {
        return await c.call<T>(method);
      } finally {
        await c.close();
      }
    };
    let dave: TcpUa | undefined;
    try {
      // Listening on every address, a worker has no address another machine could hand calls to
      // (hops: its private port on 0.0.0.0, which hopOf never picks); the workers of one machine
      // reach each other on loopback at the same private port (localHops).
      const nodes = (await rpcOf<{ nodes: Array<{ node: string; hops: string[]; localHops?: string[] }> }>(0, 'cluster.nodes')).nodes;
      const local = new Map(nodes.map((n) => [n.node, n.localHops ?? []]));
      for (const w of ['wt#0', 'wt#1']) {
        const h = local.get(w)!;
        assert.equal(h.length, 1, `${w} local hand-off addresses: ${JSON.stringify(nodes)}`);
        assert.match(h[0]!, /^udp:127\.0\.0\.1:\d+$/, `${w}: on loopback`);
        assert.notEqual(h[0], `udp:127.0.0.1:${port}`, `${w}: its private port, not the shared one`);
      }
      const privatePort = (w: number) => Number(local.get(`wt#${w}`)![0]!.split(':')[2]);

      dave = new TcpUa('127.0.0.62', 'dave', { realm: REALM, password: PASSWORD });
      await dave.open(port);
      assert.equal(await dave.register(port), 200, 'dave registers over TCP');
      // which worker took his connection (the kernel's choice): the one holding his contact
      const holds = async (w: number) => (await rpcOf<{ Domains: Array<{ Domain: { AoRs: Array<{ Info: { AoR: string } }> } }> }>(w, 'ul.dump')).Domains[0]?.Domain.AoRs.some((a) => a.Info.AoR === 'dave') ?? false;
      const held = [await holds(0), await holds(1)];
      assert.equal(held.filter(Boolean).length, 1, `dave's contact on worker 0 / 1: ${held.join(' / ')}`);
      const holder = held[0] ? 0 : 1;
      const other = 1 - holder;
      const relayed = async () => Promise.all([0, 1].map(async (w) => (await rpcOf<{ relayed: number }>(w, 'proxy.stats')).relayed));
      const log = () => `\nsipd's log (tail):\n${out.slice(-2500)}`;
      // Calls from bob over UDP, each from a fresh source port (the kernel's hash picks the worker),
      // until each worker has taken one: taken by the holder, the INVITE goes straight over dave's
      // connection; taken by the other worker, it is handed to the holder's private port on
      // loopback. Before loopback hand-offs, those calls went out to dave directly from the other
      // worker, which has no connection to him: 480, the caller's call failed.
      const MAX_CALLS = 30;
      const kinds = { direct: 0, handedOff: 0 };
      for (let call = 1; ; call++) {
        const before = await relayed();
        // the Via path tells who took the call: the holder's TCP Via on top, then (handed off)
        // the other worker's private port on loopback, then the caller
        const { vias, rr } = await callTcpUa(dave, { remote: `127.0.0.1:${port}`, tcpPort: port, caller: { user: 'bob', password: PASSWORD }, what: `call ${call}`, log });
        const d = (await relayed()).map((n, i) => n - before[i]!);
        if (vias.length === 3) {
          assert.match(vias[1]!, new RegExp(`^SIP/2\\.0/UDP 127\\.0\\.0\\.1:${privatePort(other)};`), `call ${call}: handed over by worker ${other}: ${vias.join(' | ')}`);
          // the holder took the hand-off at its private port (its double Record-Route: TCP side, UDP side)
          assert.match(rr[1] ?? '', new RegExp(`^<sip:127\\.0\\.0\\.1:${privatePort(holder)};`), `call ${call}: Record-Route ${rr.join(' | ')}`);
          // both workers relayed it (the one that took it, and the holder)
          assert.ok(d[0]! > 0 && d[1]! > 0, `call ${call}: requests relayed by worker 0 / 1: ${d.join(' / ')}`);
          kinds.handedOff++;
        } else {
          assert.equal(vias.length, 2, `call ${call}: Via ${vias.join(' | ')}`);
          assert.ok(d[holder]! > 0 && d[other] === 0, `call ${call}: requests relayed by worker 0 / 1: ${d.join(' / ')} (all by the holder)`);
          kinds.direct++;
        }
        if (kinds.direct > 0 && kinds.handedOff > 0) break;
        assert.ok(call < MAX_CALLS, `${call} calls and ${kinds.direct === 0 ? `worker ${holder} (the holder)` : `worker ${other}`} took none: direct ${kinds.direct}, handed off ${kinds.handedOff}${log()}`);
      }
      console.log(`# calls for the TCP client on 0.0.0.0: taken by its worker ${kinds.direct}, handed over by the other ${kinds.handedOff}`);
      assert.doesNotMatch(out, /sipd: worker \d+ exited/);
    } finally {
      dave?.close();
      await stop();
    }
  });

  test('two nodes on udp:0.0.0.0 with cluster.address: a call through B for a TCP client registered through A is handed to A at that address', async () => {
    await emptyLocation();
    await redis?.stop();
    redis = await startRedis(join(dir, 'address'));
    const url = `redis://127.0.0.1:${redis.port}/0`;
    const nodes = async (rpc: <T>(method: string) => Promise<T>) => (await rpc<{ nodes: Array<{ node: string; alive: boolean; hops: string[] }> }>('cluster.nodes')).nodes;
    const portA = await start('address-a', { cluster: { url, node_id: 'a', address: '127.0.0.1' } }, async (rpc) => (await nodes(rpc)).some((n) => n.node === 'a' && n.alive), true);
    let seenByB: Array<{ node: string; alive: boolean; hops: string[] }> = [];
    const portB = await start('address-b', { cluster: { url, node_id: 'b', address: '127.0.0.1' } }, async (rpc) => {
      seenByB = await nodes(rpc);
      return seenByB.some((n) => n.node === 'a' && n.alive);
    });
    let dave: TcpUa | undefined;
    try {
      // listening on every address, A's hand-off address is its SIP port on cluster.address
      // (without it: none, and B would call dave's TCP contact directly, which no connection reaches)
      assert.deepEqual(seenByB.find((n) => n.node === 'a')?.hops, [`udp:127.0.0.1:${portA}`], JSON.stringify(seenByB));
      dave = new TcpUa('127.0.0.63', 'dave', { realm: REALM, password: PASSWORD });
      await dave.open(portA);
      assert.equal(await dave.register(portA), 200, 'dave registers over TCP through A');
      // (start() resets `out` and every node started appends to it: A's lines and B's)
      const log = () => `\nthe nodes' logs (tail):\n${out.slice(-4000)}`;
      const { vias } = await callTcpUa(dave, { remote: `127.0.0.1:${portB}`, tcpPort: portA, caller: { user: 'bob', password: PASSWORD }, what: 'call through B', log });
      assert.equal(vias.length, 3, `A over dave's connection, then B, then the caller: ${vias.join(' | ')}`);
      assert.match(vias[1]!, new RegExp(`^SIP/2\\.0/UDP 127\\.0\\.0\\.1:${portB};`), `handed over by B: ${vias.join(' | ')}`);
      assert.doesNotMatch(out, /cluster\.address/, 'no warning: 127.0.0.1 is an address of this machine, and both nodes listen on 0.0.0.0');
    } finally {
      dave?.close();
      await stop();
    }
  });

  if (!supportsReusePort()) test('under Node.js < 22.12: --workers 2 on 0.0.0.0 refused with one line naming the requirement', () => {
    const r = spawnSync(process.execPath, [SIPD, '--state-dir', join(dir, 'refused'), '--listen', 'udp:0.0.0.0:0', '--listen', 'tcp:0.0.0.0:0', '--workers', '2', '--cluster', 'redis://127.0.0.1:1/0'], {
      encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH, HOME: dir, SIPCTL_DB: tdb.fullUrl },
    });
    assert.equal(r.status, 10, r.stderr);
    assert.match(r.stderr, /^sipd: --workers 2 needs Node\.js >= 22\.12 \(reusePort sockets\)/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  });
});
