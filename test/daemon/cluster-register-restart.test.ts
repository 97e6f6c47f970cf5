// A sipd cluster node that was down while another node took its binding over drops its stale copy
// and its location row when it starts again (it loads the location table at start, db_mode 1, and
// missed the sipd:loc message that told the holder). Before, only a reconnection checked the copy
// against Redis: the restarted node kept the binding (and its row) until it expired, and also held
// the other node's binding, loaded from that node's row. And a node that was down while Redis lost
// its data gives the registrations it loaded back to Redis instead of taking their absence for
// removals (which dropped its location rows). Each binding goes back under the node it registered
// through — before, a node gave back every row it had loaded under its own name, so calls for
// another node's users went through the wrong node — also when Redis loses its data with every
// node connected (FLUSHALL: the heartbeat reads sipd:epoch); a node that is down has its rows
// given back without an owner (called directly, as a dead node's), until it starts again and
// gives them back itself. Two sipd nodes on 127.0.0.1 (A) and 127.0.0.2 (B)
// over one private Redis and one MariaDB (cluster-fixture.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { Redis } from 'ioredis';
import { until } from '../helpers/until.js';
import { clusterFixture, clusterReady, clusterUa, digestNodeConfig, withClusterClients, type ClusterClients } from './cluster-fixture.js';
import { startSipd, statusOf } from './sipd-process.js';

const SECRET = randomBytes(24).toString('hex');
const UA_IP = '127.0.0.44';

type Dump = { Domains: Array<{ Domain: { AoRs: Array<{ Info: { AoR: string; Contacts: Array<{ Contact: { Address: string; Ruid: string } }> } }> } }> };

describe('a node restarted after another took its binding over drops its copy and row at start', () => {
  const nodeConfig = digestNodeConfig(SECRET, { cluster: { timeout_ms: 10_000 }, modules: { usrloc: { db_mode: 1 } } });
  const fx = clusterFixture({ name: 'sipd-register-restart-', users: ['carol', 'dave', 'bob'], config: nodeConfig });

  /** A phone of `user` on UA_IP: REGISTERs through A (0) or B (1), one Call-ID, CSeq counting up. */
  const phone = (sock: dgram.Socket, user: string) => {
    const ua = clusterUa(fx, sock, user, 'restart');
    const uri = ua.uri();
    return { uri, register: (node: 0 | 1) => ua.register(node, `<${uri}>`, 300) };
  };
  /** `ruid address` of each contact node A (0) or B (1) holds for `user` */
  const held = async (node: 0 | 1, user: string) => {
    const d = await fx.nodes[node]!.rpc<Dump>('ul.dump');
    return d.Domains[0]!.Domain.AoRs.filter((a) => a.Info.AoR === user).flatMap((a) => a.Info.Contacts.map((c) => `${c.Contact.Ruid} ${c.Contact.Address}`));
  };
  const rows = async (db: ClusterClients['db'], user: string) =>
    (await db.query<{ ruid: string; contact: string }>('SELECT ruid, contact FROM location WHERE username = ? ORDER BY id', [user])).map((r) => `${r.ruid} ${r.contact}`);
  /** `body` with a Redis client, the database and a phone of `user` on UA_IP, all closed after it */
  const withPhone = (user: string, body: (t: Omit<ClusterClients, 'socks'> & ReturnType<typeof phone>) => Promise<void>) =>
    withClusterClients(fx, UA_IP, 1, ({ redis, db, socks }) => body({ redis, db, ...phone(socks[0]!, user) }));
  /** A (0) or B (1) started again with its node id, port and state directory */
  const restart = async (node: 0 | 1, stateDir: string, sipPort: number, members = 2) => {
    const redisUrl = `redis://127.0.0.1:${fx.redis.port}/0`;
    fx.nodes[node] = await startSipd({ stateDir, dbUrl: fx.tdb.fullUrl, sipPort, config: nodeConfig({ ip: `127.0.0.${node + 1}`, port: sipPort, id: node === 0 ? 'node-a' : 'node-b', redisUrl }) });
    await clusterReady(fx.nodes[node], members);
  };
  const restartA = (stateDir: string, sipPort: number) => restart(0, stateDir, sipPort);
  /** `contact URI → node (hop)` of every record Redis has for `user`; `-` for a record naming no node */
  const owners = async (redis: Redis, user: string) =>
    Object.values(await redis.hgetall(`sipd:loc:${user}`))
      .map((v) => JSON.parse(v) as { contact: string; node?: string; hop?: string })
      .map((c) => `${c.contact} ${c.node ?? '-'}${c.hop === undefined ? '' : ` (${c.hop})`}`)
      .sort()
      .join(', ');

  test('carol through A, A stopped, the same contact through B, A started again → A holds nothing of carol, only B\'s row is left', () => withPhone('carol', async ({ redis, db, uri, register }) => {

      // 1. registered through A: A's copy and A's row
      assert.equal(statusOf(await register(0)), 200, 'REGISTER through A');
      const [a1] = await held(0, 'carol');
      assert.ok(a1 !== undefined && a1.endsWith(uri));
      assert.deepEqual(await rows(db, 'carol'), [a1]);

      // 2. A stops (SIGTERM); the phone registers the same contact through B meanwhile
      const a = fx.nodes[0]!;
      assert.equal((await a.stop()).code, 0, 'A stopped cleanly');
      assert.equal(statusOf(await register(1)), 200, 'the same contact through B while A is down');
      const [b1] = await held(1, 'carol');
      assert.ok(b1 !== undefined && b1.endsWith(uri) && b1 !== a1);
      assert.deepEqual(Object.keys(await redis.hgetall('sipd:loc:carol')), [b1.split(' ')[0]], 'the cluster store has B\'s binding only');
      assert.deepEqual(await rows(db, 'carol'), [a1, b1], 'A\'s row is left behind (A was down to hear it)');

      // 3. A starts again (same node id, port and state directory) and loads the table
      await restartA(a.stateDir, a.sipPort);
      assert.deepEqual(await held(0, 'carol'), [], 'A holds nothing of carol: neither its old binding nor B\'s (loaded from B\'s row)');
      assert.match(fx.nodes[0].output(), /contacts gone from the cluster store while this node was down dropped/);
      await until('A\'s row gone, B\'s left', async () => JSON.stringify(await rows(db, 'carol')) === JSON.stringify([b1]), 10_000);
      assert.deepEqual(await held(1, 'carol'), [b1], 'B keeps its binding');
      assert.deepEqual(Object.keys(await redis.hgetall('sipd:loc:carol')), [b1.split(' ')[0]], 'the cluster store unchanged');
  }));
  test('Redis lost its data while A was down → A gives the registrations it loaded back, rows kept', () => withPhone('dave', async ({ redis, db, uri, register }) => {
      // Both ways A can learn it: another node set a new generation first (A compares it with the
      // one in its state directory), or A's own connection sets the first one (Redis holds nothing).
      for (const how of ['another node set a new generation', 'A sets the first generation']) {
        assert.equal(statusOf(await register(0)), 200, `${how}: REGISTER through A`);
        const mine = await held(0, 'dave');
        assert.equal(mine.length, 1);
        assert.ok(mine[0]!.endsWith(uri));
        const a = fx.nodes[0]!;
        assert.equal((await a.stop()).code, 0, `${how}: A stopped cleanly`);
        await redis.flushall();
        if (how === 'another node set a new generation') await redis.set('sipd:epoch', randomBytes(16).toString('hex'));
        await restartA(a.stateDir, a.sipPort);
        assert.deepEqual(await held(0, 'dave'), mine, `${how}: A keeps dave's binding`);
        assert.deepEqual(await rows(db, 'dave'), mine, `${how}: and its row`);
        await until(`${how}: dave's binding back in Redis`, async () => Object.keys(await redis.hgetall('sipd:loc:dave')).join() === mine[0]!.split(' ')[0], 10_000);
        assert.doesNotMatch(fx.nodes[0].output(), /contacts gone from the cluster store while this node was down dropped/);
      }
  }));
  test('Redis lost its data: each binding goes back under the node it registered through — A down, both up, B down', () => withClusterClients(fx, UA_IP, 2, async ({ redis, db, socks }) => {
    // bob's desk phone registers through B, his softphone through A
    const desk = clusterUa(fx, socks[0]!, 'bob', 'desk');
    const soft = clusterUa(fx, socks[1]!, 'bob', 'soft');
    assert.equal(statusOf(await desk.register(1, `<${desk.uri()}>`, 300)), 200, 'the desk phone through B');
    assert.equal(statusOf(await soft.register(0, `<${soft.uri()}>`, 300)), 200, 'the softphone through A');
    const hopA = `127.0.0.1:${fx.nodes[0]!.sipPort}`;
    const hopB = `127.0.0.2:${fx.nodes[1]!.sipPort}`;
    const right = [`${desk.uri()} node-b (${hopB})`, `${soft.uri()} node-a (${hopA})`].sort().join(', ');
    assert.equal(await owners(redis, 'bob'), right, 'each contact names the node it registered through');
    const bobRows = await rows(db, 'bob');
    assert.equal(bobRows.length, 2);
    const [deskRuid] = (await held(1, 'bob')).map((h) => h.split(' ')[0]);

    // 1. A down while Redis loses its data; A starts again, having loaded both rows
    const a = fx.nodes[0]!;
    assert.equal((await a.stop()).code, 0, 'A stopped cleanly');
    await redis.flushall();
    await restartA(a.stateDir, a.sipPort);
    await until('A down: each contact back under its node', async () => (await owners(redis, 'bob')) === right, 15_000);
    assert.deepEqual((await held(0, 'bob')).map((h) => h.split(' ')[1]), [soft.uri()], 'A holds its own contact only, not B\'s (loaded from B\'s row)');
    assert.deepEqual(await held(1, 'bob'), [`${deskRuid} ${desk.uri()}`], 'B keeps its contact');
    assert.deepEqual(await rows(db, 'bob'), bobRows, 'both rows kept');
    // B noticed with its connection up (no reconnection): its heartbeat read a new sipd:epoch
    assert.match(fx.nodes[1]!.output(), /Redis lost its data \(sipd:epoch changed\)/);
    // and A's give-back of B's row (no owner, only where B's is not) did not overwrite B's
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(await owners(redis, 'bob'), right, 'still each under its node');

    // 2. both up: FLUSHALL, each node's heartbeat notices
    await redis.flushall();
    await until('both up: each contact back under its node', async () => (await owners(redis, 'bob')) === right, 15_000);

    // 3. B down: A gives B's row back without an owner (a contact of a node not alive is called
    //    directly); B, started again, gives it back under its name
    const b = fx.nodes[1]!;
    assert.equal((await b.stop()).code, 0, 'B stopped cleanly');
    await redis.flushall();
    const unowned = [`${desk.uri()} -`, `${soft.uri()} node-a (${hopA})`].sort().join(', ');
    await until('B down: A\'s contact under A, B\'s without an owner', async () => (await owners(redis, 'bob')) === unowned, 15_000);
    assert.deepEqual((await held(0, 'bob')).map((h) => h.split(' ')[1]), [soft.uri()], 'A still holds only its own');
    await restart(1, b.stateDir, b.sipPort);
    await until('B back: its contact under its name again', async () => (await owners(redis, 'bob')) === right, 15_000);
    assert.deepEqual(await held(1, 'bob'), [`${deskRuid} ${desk.uri()}`], 'B holds its contact again');
    assert.deepEqual(await rows(db, 'bob'), bobRows, 'both rows kept throughout');
  }));
});
