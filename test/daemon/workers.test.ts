// sipd --workers 2: two processes on one address and port (reusePort, Node.js >= 22.12), each a
// cluster node over a private Redis, sharing one MariaDB database. REGISTERs from many sources
// spread over both workers; calls through the shared port connect whichever worker took them
// (responses and in-dialog requests come back to the worker that owns the transaction and the
// dialog: its private port is in Via and Record-Route). Under Node 20, sipd refuses --workers 2
// with one line naming the requirement; without --cluster it refuses too.
// scripts/test-node-versions.sh runs this file under Node 22 and 24.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addSubscriber } from '../../src/core/subscribers/subscribers.js';
import { createRpcClient } from '../../src/core/rpc/client.js';
import { supportsReusePort } from '../../src/daemon/workers.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { requireTools } from '../helpers/require.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { register, scenario, settle, sipp, type SippRun } from './calls-support.js';
import { SIPD, assertBuilt, freeSipPort, statusOf } from './sipd-process.js';

const PASSWORD = 'Tr0ub4dor-Horse-77';
const REALM = 'sip.test';
const md5 = (s: string) => createHash('md5').update(s).digest('hex');

/** REGISTER with digest from a fresh source port on srcIp: the final status. */
async function digestRegister(port: number, srcIp: string, user: string): Promise<number | undefined> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind({ address: srcIp, port: 0 }, () => r()));
  const local = sock.address().port;
  const uri = `sip:127.0.0.1:${port}`;
  const callId = `${randomBytes(8).toString('hex')}@workers-test`;
  const msg = (cseq: number, auth?: string) => [
    `REGISTER ${uri} SIP/2.0`,
    `Via: SIP/2.0/UDP ${srcIp}:${local};branch=z9hG4bK-${randomBytes(6).toString('hex')};rport`,
    `From: <sip:${user}@${REALM}>;tag=${randomBytes(4).toString('hex')}`,
    `To: <sip:${user}@${REALM}>`,
    `Call-ID: ${callId}`,
    `CSeq: ${cseq} REGISTER`,
    `Contact: <sip:${user}@${srcIp}:${local}>`,
    'Expires: 120',
    'Max-Forwards: 70',
    ...(auth ? [`Authorization: ${auth}`] : []),
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  const exchange = (data: string) => new Promise<string | undefined>((resolve) => {
    const t = setTimeout(() => resolve(undefined), 3000);
    const on = (m: Buffer) => {
      const text = m.toString('utf8');
      if (/^SIP\/2\.0 1\d\d /.test(text)) return;
      clearTimeout(t);
      sock.off('message', on);
      resolve(text);
    };
    sock.on('message', on);
    sock.send(data, port, '127.0.0.1');
  });
  try {
    const first = await exchange(msg(1));
    if (statusOf(first) !== 401) return statusOf(first);
    const h = /WWW-Authenticate: *Digest (.*)/i.exec(first!)![1]!;
    const nonce = /nonce="([^"]+)"/.exec(h)![1]!;
    const cnonce = randomBytes(4).toString('hex');
    const response = md5(`${md5(`${user}:${REALM}:${PASSWORD}`)}:${nonce}:00000001:${cnonce}:auth:${md5(`REGISTER:${uri}`)}`);
    return statusOf(await exchange(msg(2, `Digest username="${user}", realm="${REALM}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="${cnonce}"`)));
  } finally {
    sock.close();
  }
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

function ok(r: SippRun, what: string): void {
  assert.equal(r.timedOut, false, `${what}: sipp timed out\n${r.output.slice(-1500)}`);
  assert.equal(r.code, 0, `${what}: sipp exit ${r.code}\n${r.output.slice(-2500)}`);
  assert.equal(r.successful, 1, `${what}: ${r.output.slice(-1500)}`);
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
        for (const u of ['alice', 'bob', 'carol']) await addSubscriber(db, u, REALM, PASSWORD, { hash: 'md5', storePlaintext: false });
      } finally {
        await db.close();
      }
      port = await freeSipPort();
      rpcPort = await freeSipPort();
      const cfg = join(dir, 'sipd.json');
      writeFileSync(cfg, JSON.stringify({
        listen: [`udp:127.0.0.1:${port}`],
        rpcListen: [`http://127.0.0.1:${rpcPort}/RPC`],
        cluster: { url: `redis://127.0.0.1:${redis.port}/0`, node_id: 'w' },
        workers: 2,
        modules: { 'auth-db': { realm: REALM, secret: randomBytes(24).toString('hex') }, scanner: { user_agents: ['friendly-scanner'] } },
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
      if (sipd !== undefined && sipd.exitCode === null) {
        sipd.kill('SIGTERM');
        await new Promise((r) => sipd.once('exit', r));
      }
      await redis?.stop();
      await tdb?.drop().catch(() => undefined);
    });

    test('REGISTERs from many sources all succeed and spread over both workers', async () => {
      const statuses: Array<number | undefined> = [];
      // bob and carol, 8 each, so no AoR reaches registrar.max_contacts (10, counted per node);
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
  });
});
