// cluster.url unix:///PATH?db=DB: nodes on the machine that runs Redis (the `--workers` of one
// sipd, or several sipd side by side) reach it over its unix socket, which costs both sides a quarter
// to a third less CPU per request than TCP on loopback (bench/RESULTS.md). Two sipd nodes, A on
// 127.0.0.1 and B on 127.0.0.2, reach a private Redis only by its socket (cluster-fixture.ts,
// redis: 'unix'); what one node writes the other reads: a REGISTER through A is listed by B's
// ul.lookup (it answers from Redis), and each lists the other alive in cluster.nodes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { clusterFixture, digestNodeConfig, PASSWORD, REALM } from './cluster-fixture.js';
import { udpRegister } from './sip-message.js';
import { statusOf } from './sipd-process.js';

const SECRET = randomBytes(24).toString('hex');

type Lookup = { AoR: string; Contacts: Array<{ Contact: { Address: string } }> };

describe('sipd --cluster unix:///PATH: the nodes share Redis over its unix socket', () => {
  const fx = clusterFixture({ name: 'sipd-unix-', users: ['alice'], config: digestNodeConfig(SECRET), redis: 'unix' });

  test('the nodes run on the socket URL; a REGISTER through A is in Redis and listed by B; each sees the other alive', async () => {
    for (const n of fx.nodes) assert.equal((await n.rpc<{ up: boolean }>('cluster.stats')).up, true, 'connected to Redis');
    const r = await udpRegister({ host: '127.0.0.1', port: fx.nodes[0]!.sipPort, srcIp: '127.0.0.61', user: 'alice', password: PASSWORD, realm: REALM, expires: 300, callIdHost: 'unix' });
    assert.equal(statusOf(r), 200, 'REGISTER through A');
    const redis = new Redis({ path: fx.redis.socketPath, lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      assert.equal(Object.keys(await redis.hgetall('sipd:loc:alice')).length, 1, 'A wrote the binding to Redis');
      // every client of this Redis came by its socket: each node's command and subscriber connections, and this one
      const clients = String(await redis.call('CLIENT', 'LIST')).trim().split('\n');
      assert.equal(clients.filter((l) => l.includes(` addr=${fx.redis.socketPath}:`)).length, 5, clients.join('\n'));
      assert.equal(clients.length, 5, clients.join('\n'));
    } finally {
      redis.disconnect();
    }
    const viaB = await fx.nodes[1]!.rpc<Lookup>('ul.lookup', ['location', 'alice']);
    assert.equal(viaB.Contacts.length, 1, 'B reads it from Redis');
    assert.match(viaB.Contacts[0]!.Contact.Address, /^sip:alice@127\.0\.0\.61:\d+/);
    for (const n of fx.nodes) {
      const nodes = (await n.rpc<{ nodes: Array<{ node: string; alive: boolean }> }>('cluster.nodes')).nodes;
      assert.deepEqual(nodes.map((x) => [x.node, x.alive]), [['node-a', true], ['node-b', true]]);
    }
  });
});
