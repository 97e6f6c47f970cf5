// A sipd cluster node that was down while another node took its binding over drops its stale copy
// and its location row when it starts again (it loads the location table at start, db_mode 1, and
// missed the sipd:loc message that told the holder). Before, only a reconnection checked the copy
// against Redis: the restarted node kept the binding (and its row) until it expired, and also held
// the other node's binding, loaded from that node's row. And a node that was down while Redis lost
// its data gives the registrations it loaded back to Redis instead of taking their absence for
// removals (which dropped its location rows). Two sipd nodes on 127.0.0.1 (A) and 127.0.0.2 (B)
// over one private Redis and one MariaDB (cluster-fixture.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { Redis } from 'ioredis';
import { until } from '../helpers/until.js';
import { clusterFixture, clusterReady, clusterUa, digestNodeConfig } from './cluster-fixture.js';
import { startSipd, statusOf } from './sipd-process.js';

const SECRET = randomBytes(24).toString('hex');
const UA_IP = '127.0.0.44';

type Dump = { Domains: Array<{ Domain: { AoRs: Array<{ Info: { AoR: string; Contacts: Array<{ Contact: { Address: string; Ruid: string } }> } }> } }> };

describe('a node restarted after another took its binding over drops its copy and row at start', () => {
  const nodeConfig = digestNodeConfig(SECRET, { cluster: { timeout_ms: 10_000 }, modules: { usrloc: { db_mode: 1 } } });
  const fx = clusterFixture({ name: 'sipd-register-restart-', users: ['carol', 'dave'], config: nodeConfig });

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
  const rows = async (db: Awaited<ReturnType<typeof fx.tdb.open>>, user: string) =>
    (await db.query<{ ruid: string; contact: string }>('SELECT ruid, contact FROM location WHERE username = ? ORDER BY id', [user])).map((r) => `${r.ruid} ${r.contact}`);
  /** `body` with a Redis client, the database and a phone of `user` on UA_IP, all closed after it */
  const withPhone = async (user: string, body: (t: { redis: Redis; db: Awaited<ReturnType<typeof fx.tdb.open>>; uri: string; register: (node: 0 | 1) => Promise<string | undefined> }) => Promise<void>) => {
    const redis = new Redis(fx.redis.port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    const db = await fx.tdb.open().catch((e: unknown) => (redis.disconnect(), Promise.reject(e)));
    const sock = dgram.createSocket('udp4');
    try {
      await new Promise<void>((r) => sock.bind({ address: UA_IP, port: 0 }, () => r()));
      await body({ redis, db, ...phone(sock, user) });
    } finally {
      sock.close();
      redis.disconnect();
      await db.close();
    }
  };
  /** A started again with its node id, port and state directory */
  const restartA = async (stateDir: string, sipPort: number) => {
    const redisUrl = `redis://127.0.0.1:${fx.redis.port}/0`;
    fx.nodes[0] = await startSipd({ stateDir, dbUrl: fx.tdb.fullUrl, sipPort, config: nodeConfig({ ip: '127.0.0.1', port: sipPort, id: 'node-a', redisUrl }) });
    await clusterReady(fx.nodes[0], 2);
  };

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
});
