// A call whose owning node died (issue 14): two sipd nodes (bin/sipd.js, built) on 127.0.0.1 (A)
// and 127.0.0.2 (B) sharing one private Redis (test/helpers/redis.ts) and one MariaDB. Every call
// is set up through A, then A is killed with SIGKILL (its acc queue and its memory lost):
//   - the callee's BYE sent to B (its Route still names A) → B takes the call over, the caller
//     gets the BYE from B, the callee the 200; exactly one CDR (callee-bye;taken-over);
//   - `sipctl calls end` through B → both sides get a BYE from B; one CDR (rpc;taken-over);
//   - A restarted under the same node name gets the BYE of a call its former process set up →
//     it takes the call over itself; and writes no second CDR for any call taken over before;
//   - A only stalls (SIGSTOP) until it looks dead: B takes the call over on the BYE and writes the
//     CDR; A, resumed, ends its stale copy and writes none;
//   - nobody sends a BYE → after cluster.dialog_ttl_sec B ends the call (BYE both ways), one CDR
//     (owner-lost);
//   - Redis away when a call ends on its (live) owner: the CDR waits for Redis, then is written once;
//   - a call B set up and handed to A for its callee (A keeps a transit record), B killed:
//     `sipctl calls end` through A → A takes it over, both sides get a BYE from A, one CDR; and the
//     callee's BYE reaching A (its first Route) → A takes the call over instead of relaying to B.
// Both parties are a small UDP SIP UA (dialog-ua.ts: digest REGISTER and INVITE, answers INVITE and
// BYE, keeps every message with its source), so the test sees where each BYE came from. Redis,
// MariaDB and the nodes come from the cluster tests' fixture (cluster-fixture.ts).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isolatedEnv, runSipctl } from '../helpers/cli.js';
import { until } from '../helpers/until.js';
import { clusterFixture, REALM } from './cluster-fixture.js';
import { firstHop, Ua, type Addr, type Leg } from './dialog-ua.js';
import { cseqOf, header } from './sip-message.js';
import { startSipd, type SipdProcess } from './sipd-process.js';

const SECRET = randomBytes(24).toString('hex');
/** cluster.dialog_ttl_sec: long enough that no sweep ends a call before the test's BYE; the sweep test restarts both nodes with the minimum, 10 */
const TTL_SEC = 60;
const SWEEP_TTL_SEC = 10;

describe('a call whose owning node died is ended through another node, with one CDR (sipd --cluster)', () => {
  let ttl = TTL_SEC;
  let redisUrl = '';
  const nodeConfig = (ip: string, port: number, id: string) => ({
    listen: [`udp:${ip}:${port}`, `tcp:${ip}:${port}`],
    cluster: { url: redisUrl, node_id: id, timeout_ms: 300, dialog_ttl_sec: ttl },
    modules: {
      scanner: { user_agents: ['friendly-scanner', 'sipvicious', 'sipcli'] },
      'auth-db': { realm: REALM, secret: SECRET },
    },
  });
  const fx = clusterFixture({
    name: 'sipd-dead-owner-',
    users: ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan'],
    config: (n) => {
      redisUrl = n.redisUrl;
      return nodeConfig(n.ip, n.port, n.id);
    },
  });
  /** node-a, replaced when it is restarted (the fixture stops what fx.nodes holds) */
  const a = () => fx.nodes[0]!;
  const b = () => fx.nodes[1]!;
  let pa = 0;
  const uas: Ua[] = [];

  const A = (): Addr => ({ host: '127.0.0.1', port: pa });
  const B = (): Addr => ({ host: '127.0.0.2', port: b().sipPort });
  const running = (n: SipdProcess) => n.child.exitCode === null && n.child.signalCode === null;

  before(() => {
    pa = a().sipPort;
  });

  after(() => {
    for (const u of uas) u.close();
  });

  async function aliveOnB(): Promise<boolean | undefined> {
    const r = await b().rpc<{ nodes: Array<{ node: string; alive: boolean; pid: number }> }>('cluster.nodes');
    return r.nodes.find((n) => n.node === 'node-a')?.alive;
  }

  async function startA(): Promise<SipdProcess> {
    fx.nodes[0] = await startSipd({ dbUrl: fx.tdb.fullUrl, sipPort: pa, config: nodeConfig('127.0.0.1', pa, 'node-a') });
    const pid = a().child.pid;
    await until('B sees the new A', async () => {
      const r = await b().rpc<{ nodes: Array<{ node: string; alive: boolean; pid: number }> }>('cluster.nodes');
      return r.nodes.some((n) => n.node === 'node-a' && n.alive && n.pid === pid);
    });
    return a();
  }

  async function killA(): Promise<void> {
    const r = await a().stop('SIGKILL');
    assert.equal(r.signal, 'SIGKILL');
  }

  /** the CDRs of one call (acc_cdrs), once written; a second row, if one were written, would be there by then */
  async function cdrs(callId: string, atLeast = 1): Promise<Array<{ end_reason: string; src_user: string; dst_ouser: string; duration: number }>> {
    const db = await fx.tdb.open();
    try {
      const read = () => db.query<{ end_reason: string; src_user: string; dst_ouser: string; duration: number }>('SELECT end_reason, src_user, dst_ouser, duration FROM acc_cdrs WHERE callid = ?', [callId]);
      await until('the CDR is written', async () => (await read()).length >= atLeast, 10_000);
      // every node flushes its acc queue every 200 ms
      await new Promise((r) => setTimeout(r, 800));
      return await read();
    } finally {
      await db.close();
    }
  }

  async function ua(ip: string, user: string): Promise<Ua> {
    const u = new Ua(ip, user);
    uas.push(u);
    await u.open();
    return u;
  }

  /** the callee (registered through A) is called by bob through A; the call is up on A */
  async function callThroughA(alice: Ua, bob: Ua): Promise<{ caller: Leg; callee: Leg }> {
    assert.equal(await alice.register(A()), 200, `${alice.user} registers through A`);
    const caller = await bob.call(A(), alice.user);
    await alice.wait('ACK', (m) => m.method === 'ACK' && header(m.text, 'Call-ID') === caller.callId);
    assert.equal((await a().rpc<Array<{ 'call-id': string }>>('dlg.list')).filter((d) => d['call-id'] === caller.callId).length, 1, 'A holds the call');
    return { caller, callee: alice.answered.get(caller.callId)! };
  }

  const taken: string[] = [];

  test('A dies; the callee\'s BYE (Route still naming A) sent to B → B takes the call over: the caller gets the BYE from B, the callee the 200; one CDR, callee-bye;taken-over', async () => {
    const alice = await ua('127.0.0.70', 'alice');
    const bob = await ua('127.0.0.71', 'bob');
    const { caller, callee } = await callThroughA(alice, bob);
    assert.ok(callee.routes.some((r) => r.includes(`127.0.0.1:${pa}`)), `the callee's route set names A: ${callee.routes.join(', ')}`);
    await killA();
    await until('B sees A dead', async () => (await aliveOnB()) === false, 15_000);
    assert.equal(await alice.bye(callee, B()), 200, 'the BYE sent to B is answered 200 (by bob, through B)');
    const bye = bob.byes(caller.callId);
    assert.equal(bye.length, 1, 'bob got one BYE');
    assert.deepEqual(bye[0]!.from, { address: '127.0.0.2', port: b().sipPort }, 'from B');
    const rows = await cdrs(caller.callId);
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.equal(rows[0]!.end_reason, 'callee-bye;taken-over');
    assert.equal(rows[0]!.src_user, 'bob');
    assert.equal(rows[0]!.dst_ouser, 'alice');
    const stats = await b().rpc<{ taken_over: number }>('dialog.stats');
    assert.ok(stats.taken_over >= 1, JSON.stringify(stats));
    await until('B no longer lists the call', async () => (await b().rpc<Array<{ 'call-id': string }>>('dlg.list')).every((d) => d['call-id'] !== caller.callId));
    taken.push(caller.callId);
  });

  test('A dies; `sipctl calls end ID --rpc <B>` → B takes the call over and sends the BYE to both sides; one CDR, rpc;taken-over', async () => {
    if (!running(a())) await startA();
    const alice = await ua('127.0.0.72', 'carol');
    const bob = await ua('127.0.0.73', 'bob');
    const { caller } = await callThroughA(alice, bob);
    await killA();
    await until('B sees A dead', async () => (await aliveOnB()) === false, 15_000);
    const r = await runSipctl(['calls', 'end', caller.callId, '--rpc', b().rpcUrl, '--yes'], { env: isolatedEnv({ NO_COLOR: '1' }) });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ended/);
    for (const u of [alice, bob]) {
      const bye = await u.wait('BYE', (m) => m.method === 'BYE' && header(m.text, 'Call-ID') === caller.callId);
      assert.deepEqual(bye.from, { address: '127.0.0.2', port: b().sipPort }, `${u.user}'s BYE came from B`);
    }
    // each BYE's CSeq is above what its recipient last saw from the other side
    assert.ok(Number(cseqOf(bob.byes(caller.callId)[0]!.text).split(' ')[0]) >= 1);
    assert.ok(Number(cseqOf(alice.byes(caller.callId)[0]!.text).split(' ')[0]) > 2, 'alice last saw CSeq 2 from bob');
    const rows = await cdrs(caller.callId);
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.equal(rows[0]!.end_reason, 'rpc;taken-over');
    // ended: through either node it is now not found (exit 3)
    const gone = await runSipctl(['calls', 'end', caller.callId, '--rpc', b().rpcUrl, '--yes'], { env: isolatedEnv({ NO_COLOR: '1' }) });
    assert.equal(gone.code, 3, gone.stderr);
    taken.push(caller.callId);
  });

  test('A killed and restarted under the same name; the callee\'s BYE reaches the new A → it takes over the call its former process set up; no second CDR for the calls B took over', async () => {
    if (!running(a())) await startA();
    const alice = await ua('127.0.0.74', 'dave');
    const bob = await ua('127.0.0.75', 'bob');
    const { caller, callee } = await callThroughA(alice, bob);
    await killA();
    await startA();
    assert.equal(await alice.bye(callee, A()), 200, 'the BYE sent to the new A is answered 200');
    assert.equal(bob.byes(caller.callId).length, 1, 'bob got one BYE');
    const rows = await cdrs(caller.callId);
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.equal(rows[0]!.end_reason, 'callee-bye;taken-over');
    for (const id of taken) assert.equal((await cdrs(id)).length, 1, `still one CDR for ${id}`);
  });

  test('A stalls (SIGSTOP) long enough to look dead; B takes its call over on the callee\'s BYE and writes the CDR; A resumes and ends its stale copy of the call → A writes no CDR: still exactly one', async () => {
    if (!running(a())) await startA();
    const alice = await ua('127.0.0.78', 'frank');
    const bob = await ua('127.0.0.79', 'bob');
    const { caller, callee } = await callThroughA(alice, bob);
    a().child.kill('SIGSTOP');
    try {
      await until('B sees A dead', async () => (await aliveOnB()) === false, 15_000);
      assert.equal(await alice.bye(callee, B()), 200, 'the BYE sent to B is answered 200');
      assert.equal((await cdrs(caller.callId)).length, 1);
    } finally {
      a().child.kill('SIGCONT');
    }
    await until('B sees A alive again', async () => (await aliveOnB()) === true, 15_000);
    // A still holds the call it set up: ending it there (BYE both ways) releases nothing it owns
    const r = await a().rpc<{ ended: number }>('dialog.endCall', [caller.callId]);
    assert.equal(r.ended, 1, 'A ended its stale copy');
    await until('A found the call taken over', async () => (await a().rpc<{ cdr_left_to_taker: number }>('dialog.stats')).cdr_left_to_taker === 1);
    const rows = await cdrs(caller.callId);
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.equal(rows[0]!.end_reason, 'callee-bye;taken-over');
  });

  test(`A dies and nobody sends a BYE → after cluster.dialog_ttl_sec (${SWEEP_TTL_SEC} s here) B ends the call, BYE to both sides; one CDR, owner-lost`, async () => {
    // the deadline is the owner's: A writes it with its dialog_ttl_sec, B looks for overdue calls every 5 s
    ttl = SWEEP_TTL_SEC;
    if (running(a())) await a().stop();
    await startA();
    const alice = await ua('127.0.0.76', 'erin');
    const bob = await ua('127.0.0.77', 'bob');
    const { caller } = await callThroughA(alice, bob);
    await killA();
    for (const u of [alice, bob]) {
      const bye = await u.wait('BYE', (m) => m.method === 'BYE' && header(m.text, 'Call-ID') === caller.callId, (SWEEP_TTL_SEC + 20) * 1000);
      assert.deepEqual(bye.from, { address: '127.0.0.2', port: b().sipPort }, `${u.user}'s BYE came from B`);
    }
    const rows = await cdrs(caller.callId);
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.equal(rows[0]!.end_reason, 'owner-lost');
    const stats = await b().rpc<{ ended_owner_lost: number }>('dialog.stats');
    assert.equal(stats.ended_owner_lost, 1, JSON.stringify(stats));
  });

  test('Redis away when a recorded call ends on its owner: the CDR waits (the owner cannot tell whether another node took the call over), and is written once Redis answers', async () => {
    if (!running(a())) await startA();
    const grace = await ua('127.0.0.80', 'grace');
    const bob = await ua('127.0.0.81', 'bob');
    const { caller } = await callThroughA(grace, bob);
    await fx.redis.stop();
    try {
      await until('A notices Redis is away', async () => (await a().rpc<{ up: boolean }>('cluster.stats')).up === false);
      assert.equal(await bob.bye(caller, firstHop(caller)), 200, 'the call ends on A as usual');
      await until('A holds the CDR', async () => (await a().rpc<{ cdr_held: number }>('dialog.stats')).cdr_held === 1);
      const db = await fx.tdb.open();
      try {
        const rows = await db.query('SELECT id FROM acc_cdrs WHERE callid = ?', [caller.callId]);
        assert.equal(rows.length, 0, 'no CDR while Redis is away');
      } finally {
        await db.close();
      }
    } finally {
      await fx.redis.start();
    }
    await until('A wrote the held CDR', async () => (await a().rpc<{ cdr_held: number }>('dialog.stats')).cdr_held === 0, 20_000);
    const rows = await cdrs(caller.callId);
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.equal(rows[0]!.end_reason, 'caller-bye');
  });

  test('a call B set up for a user registered through A (A delivers it: a transit record); B dies; `sipctl calls end` through A → A takes the call over and ends it: the callee gets the BYE over her own path from A, the caller from A; one CDR, rpc;taken-over', async () => {
    if (!running(a())) await startA();
    const heidi = await ua('127.0.0.82', 'heidi');
    const bob = await ua('127.0.0.83', 'bob');
    assert.equal(await heidi.register(A()), 200, 'heidi registers through A');
    const caller = await bob.call(B(), 'heidi');
    const invite = await heidi.wait('INVITE', (m) => m.method === 'INVITE' && header(m.text, 'Call-ID') === caller.callId);
    assert.deepEqual(invite.from, { address: '127.0.0.1', port: pa }, 'B handed the call to A, which delivered it');
    await heidi.wait('ACK', (m) => m.method === 'ACK' && header(m.text, 'Call-ID') === caller.callId);
    const r0 = await b().stop('SIGKILL');
    assert.equal(r0.signal, 'SIGKILL');
    await until('A sees B dead', async () => {
      const r = await a().rpc<{ nodes: Array<{ node: string; alive: boolean }> }>('cluster.nodes');
      return r.nodes.find((n) => n.node === 'node-b')?.alive === false;
    }, 15_000);
    const r = await runSipctl(['calls', 'end', caller.callId, '--rpc', a().rpcUrl, '--yes'], { env: isolatedEnv({ NO_COLOR: '1' }) });
    assert.equal(r.code, 0, r.stderr);
    for (const u of [heidi, bob]) {
      const bye = await u.wait('BYE', (m) => m.method === 'BYE' && header(m.text, 'Call-ID') === caller.callId);
      assert.deepEqual(bye.from, { address: '127.0.0.1', port: pa }, `${u.user}'s BYE came from A`);
    }
    assert.equal(heidi.byes(caller.callId).length, 1, 'heidi got one BYE');
    const rows = await cdrs(caller.callId);
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.equal(rows[0]!.end_reason, 'rpc;taken-over');
  });

  test('a call B set up and handed to A for its callee, B dies; the callee\'s BYE reaches A (its first Route) → A takes the call over instead of relaying towards B: the caller gets the BYE from A, the callee the 200; one CDR, callee-bye;taken-over', async () => {
    if (!running(a())) await startA();
    if (!running(b())) {
      const pb = b().sipPort;
      fx.nodes[1] = await startSipd({ dbUrl: fx.tdb.fullUrl, sipPort: pb, config: nodeConfig('127.0.0.2', pb, 'node-b') });
      const pid = b().child.pid;
      await until('A sees the new B', async () => {
        const r = await a().rpc<{ nodes: Array<{ node: string; alive: boolean; pid: number }> }>('cluster.nodes');
        return r.nodes.some((n) => n.node === 'node-b' && n.alive && n.pid === pid);
      });
    }
    const ivan = await ua('127.0.0.84', 'ivan');
    const bob = await ua('127.0.0.85', 'bob');
    assert.equal(await ivan.register(A()), 200, 'ivan registers through A');
    const caller = await bob.call(B(), 'ivan');
    await ivan.wait('ACK', (m) => m.method === 'ACK' && header(m.text, 'Call-ID') === caller.callId);
    const callee = ivan.answered.get(caller.callId)!;
    assert.deepEqual(firstHop(callee), A(), `ivan's route set starts at A: ${callee.routes.join(', ')}`);
    assert.equal((await b().stop('SIGKILL')).signal, 'SIGKILL');
    await until('A sees B dead', async () => {
      const r = await a().rpc<{ nodes: Array<{ node: string; alive: boolean }> }>('cluster.nodes');
      return r.nodes.find((n) => n.node === 'node-b')?.alive === false;
    }, 15_000);
    assert.equal(await ivan.bye(callee, A()), 200, 'the BYE is answered 200 (by bob, through A)');
    const bye = bob.byes(caller.callId);
    assert.equal(bye.length, 1, 'bob got one BYE');
    assert.deepEqual(bye[0]!.from, { address: '127.0.0.1', port: pa }, 'from A');
    const rows = await cdrs(caller.callId);
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.equal(rows[0]!.end_reason, 'callee-bye;taken-over');
  });
});
