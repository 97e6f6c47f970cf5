// A cluster node stopped cleanly (SIGTERM: a rolling upgrade, `systemctl restart sipd`) is no
// worse than one that crashed. Before, its shutdown deleted its entry from `sipd:nodes`, so the
// other nodes no longer knew it ("alive: not known", not false) and kept handing calls for the
// users registered through it to its address, where nothing answers; a killed node's heartbeat
// ages out and its users are called directly. Now the entry stays, marked stopped, and the stop is
// announced on sipd:cmd: the other nodes count it not alive at once (calls made directly), `cluster.nodes` and
// `sipctl nodes` show it stopped with its last-seen time, and its location rows are swept once
// expired, as a killed node's — not before. Started again, its heartbeat replaces the mark and
// calls are handed to it again.
// Two sipd nodes (bin/sipd.js, built) on 127.0.0.1 (A) and 127.0.0.2 (B) over a private Redis
// and one MariaDB (cluster-fixture.ts), usrloc writing through (db_mode 1) with its timer every
// second; the UAs are dialog-ua.ts' (they keep every message with its source).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isolatedEnv, runSipctl } from '../helpers/cli.js';
import { until } from '../helpers/until.js';
import { clusterFixture, clusterUa, digestNodeConfig, membershipRead, withClusterClients } from './cluster-fixture.js';
import { Ua, type Addr } from './dialog-ua.js';
import { header } from './sip-message.js';
import { startSipd, statusOf } from './sipd-process.js';

const SECRET = randomBytes(24).toString('hex');
// dialog_ttl_sec 10: a node not heard from for that long is gone, and its expired rows are swept
const config = digestNodeConfig(SECRET, { cluster: { dialog_ttl_sec: 10 }, modules: { usrloc: { db_mode: 1, timer_interval: 1 }, registrar: { min_expires: 1 } } });

interface Member {
  node: string;
  alive: boolean;
  stopped: boolean;
  pid: number;
  serverId: number;
  lastSeen: string;
}

describe('a cluster node stopped cleanly counts as not alive, as a killed one does (sipd --cluster)', () => {
  const fx = clusterFixture({ name: 'sipd-stopped-node-', users: ['alice', 'bob', 'carol'], config });
  const a = () => fx.nodes[0]!;
  const b = () => fx.nodes[1]!;
  const uas: Ua[] = [];

  after(() => {
    for (const u of uas) u.close();
  });

  const A = (): Addr => ({ host: '127.0.0.1', port: a().sipPort });
  const B = (): Addr => ({ host: '127.0.0.2', port: b().sipPort });
  const memberB = async (): Promise<Member | undefined> => (await a().rpc<{ nodes: Member[] }>('cluster.nodes')).nodes.find((n) => n.node === 'node-b');

  async function ua(ip: string, user: string): Promise<Ua> {
    const u = new Ua(ip, user);
    uas.push(u);
    await u.open();
    return u;
  }

  /** alice calls bob through A; where bob's INVITE came from */
  async function callBob(alice: Ua, bob: Ua): Promise<{ address: string; port: number }> {
    const leg = await alice.call(A(), 'bob');
    const invite = await bob.wait('INVITE', (m) => m.method === 'INVITE' && header(m.text, 'Call-ID') === leg.callId);
    await bob.wait('ACK', (m) => m.method === 'ACK' && header(m.text, 'Call-ID') === leg.callId);
    assert.equal(await alice.bye(leg, A()), 200, 'the call ends');
    return invite.from;
  }

  test('B stopped with SIGTERM → A calls bob (registered through B) directly; `sipctl nodes` shows B stopped; B\'s unexpired rows stay, its expired ones are swept; B started again → calls handed via B', async () => {
    // carol's UDP socket on 127.0.0.92 (clusterUa), a Redis client and the database
    await withClusterClients(fx, '127.0.0.92', 1, async ({ redis, db, socks }) => {
      const alice = await ua('127.0.0.90', 'alice');
      const bob = await ua('127.0.0.91', 'bob');
      assert.equal(await bob.register(B()), 200, 'bob registers through B (300 s)');

      // both alive: the call is handed to B, which delivers it from its address
      assert.deepEqual(await callBob(alice, bob), { address: '127.0.0.2', port: b().sipPort }, 'handed to B while B is alive');

      // carol's short binding through B just before B stops: it expires while B is down, so A
      // sweeps it as a killed node's (B's own timer would have removed it, had B still run)
      const carol = clusterUa(fx, socks[0]!, 'carol', 'stopped');
      assert.equal(statusOf(await carol.register(1, `<${carol.uri()}>`, 10)), 200, 'carol registers through B (10 s)');
      const sidB = (await memberB())!.serverId;
      const rowsOfB = async () => (await db.query<{ username: string }>('SELECT username FROM location WHERE server_id = ?', [sidB])).map((x) => x.username).sort();
      const pidB = b().child.pid;
      const stopped = await b().stop('SIGTERM');
      assert.equal(stopped.code, 0, `B exits cleanly: ${JSON.stringify(stopped)}`);
      assert.deepEqual(await rowsOfB(), ['bob', 'carol'], 'B stopped before carol\'s binding expired (else this test proves nothing about the sweep)');
      // B announced its stop on sipd:cmd: A knows at once, not at its next heartbeat (up to 2 s, in
      // which it would still hand bob's calls to B's address)
      await until('A heard B stop', async () => (await a().rpc<{ stops_heard: number }>('cluster.stats')).stops_heard === 1, 2000);
      assert.deepEqual(await callBob(alice, bob), { address: '127.0.0.1', port: a().sipPort }, 'called directly by A as soon as B stopped');
      // sipd:nodes keeps B, marked stopped: A knows it is not alive (before: the entry was deleted)
      const m = await memberB();
      assert.ok(m !== undefined, 'B still listed after a clean stop');
      assert.equal(m.alive, false);
      assert.equal(m.stopped, true);
      assert.equal(m.pid, pidB);
      assert.ok(Date.now() - Date.parse(m.lastSeen) < 30_000, `last seen when it stopped: ${m.lastSeen}`);
      assert.equal(JSON.parse((await redis.hget('sipd:nodes', 'node-b'))!).stopped, true);
      await membershipRead(a());

      // a call through A for bob reaches bob directly from A (before: handed to B's dead address, failed)
      assert.deepEqual(await callBob(alice, bob), { address: '127.0.0.1', port: a().sipPort }, 'called directly by A while B is stopped');

      // sipctl nodes through A: B stopped, with its server_id
      const r = await runSipctl(['nodes', '--rpc', a().rpcUrl], { env: isolatedEnv({ NO_COLOR: '1' }) });
      assert.equal(r.code, 0, r.stderr);
      const row = r.stdout.split('\n').find((l) => l.startsWith('node-b\t'));
      assert.ok(row !== undefined, r.stdout);
      assert.equal(row.split('\t')[1], 'stopped', row);
      assert.ok(row.split('\t').includes(String(sidB)), `server_id ${sidB} in ${row}`);
      assert.match(r.stdout, /^node-a\talive\t/m);

      // A's sweep (usrloc timer every second) treats B as a killed node: carol's row goes once
      // expired, bob's (300 s) stays
      await until('carol\'s expired row swept by A', async () => JSON.stringify(await rowsOfB()) === JSON.stringify(['bob']), 30_000);
      assert.match(a().output(), /expired registrations of nodes gone from the cluster removed/);
      const hb = (await a().rpc<{ heartbeats: number }>('cluster.stats')).heartbeats;
      await until('A: two more heartbeats and timer runs', async () => (await a().rpc<{ heartbeats: number }>('cluster.stats')).heartbeats >= hb + 2, 20_000);
      assert.deepEqual(await rowsOfB(), ['bob'], 'bob\'s row (not expired) is not swept while B is stopped');

      // B started again (same state directory): alive, and bob's calls are handed to it again
      const pb = b().sipPort;
      fx.nodes[1] = await startSipd({ dbUrl: fx.tdb.fullUrl, sipPort: pb, stateDir: b().stateDir, config: config({ ip: '127.0.0.2', port: pb, id: 'node-b', redisUrl: `redis://127.0.0.1:${fx.redis.port}/0` }) });
      const pid = b().child.pid;
      await until('A sees the new B alive', async () => {
        const n = await memberB();
        return n?.alive === true && n.stopped === false && n.pid === pid;
      });
      await membershipRead(a());
      assert.deepEqual(await callBob(alice, bob), { address: '127.0.0.2', port: pb }, 'handed to B again');
      const again = await runSipctl(['nodes', '--rpc', a().rpcUrl], { env: isolatedEnv({ NO_COLOR: '1' }) });
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /^node-b\talive\t/m);
    });
  });
});
