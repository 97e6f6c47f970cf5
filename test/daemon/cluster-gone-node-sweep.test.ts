// The location rows of a node gone for good (removed or renamed: it never starts again) are
// removed by a live node once they expired, with their records in Redis. Before, no node deleted
// them: each node holds only its own registrations in memory (another's rows, loaded at start,
// leave its memory), so the dead node's rows stayed in the table — and its expired records in
// `sipd:loc:<aor>` while the AoR had a live contact keeping the key — until some node restarted.
// Each row names its node (server_id, from the node id: cluster.nodes shows it); a row whose node
// was heard from within cluster.dialog_ttl_sec (15 s here), or that names none (0), is never
// touched — not only while it is alive (6 s): a node starved of CPU for a moment looked dead to
// the other and had its rows swept (seen once in CI). Two sipd nodes on 127.0.0.1 (A) and
// 127.0.0.2 (B) over one private Redis and one MariaDB (cluster-fixture.ts), usrloc's timer every
// second.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { toDbDatetime } from '../../src/daemon/modules/usrloc/location-db.js';
import { until } from '../helpers/until.js';
import { clusterFixture, clusterUa, digestNodeConfig, withClusterClients } from './cluster-fixture.js';
import { statusOf } from './sipd-process.js';

const SECRET = randomBytes(24).toString('hex');
const UA_IP = '127.0.0.45';

describe('the expired location rows of a node gone from the cluster are removed by a live node', () => {
  const fx = clusterFixture({
    name: 'sipd-gone-node-',
    users: ['erin'],
    config: digestNodeConfig(SECRET, { cluster: { dialog_ttl_sec: 15 }, modules: { usrloc: { db_mode: 1, timer_interval: 1 }, registrar: { min_expires: 1 } } }),
  });

  test('B registers a short binding and is killed for good → A removes B\'s expired row and record; rows of live nodes and of no node stay', () => withClusterClients(fx, UA_IP, 2, async ({ redis, db, socks }) => {
    const [a, b] = fx.nodes as [NonNullable<(typeof fx.nodes)[0]>, NonNullable<(typeof fx.nodes)[1]>];
    const sid = new Map((await a.rpc<{ nodes: Array<{ node: string; serverId: number }> }>('cluster.nodes')).nodes.map((n) => [n.node, n.serverId]));
    const [sidA, sidB] = [sid.get('node-a'), sid.get('node-b')];
    assert.ok(typeof sidA === 'number' && typeof sidB === 'number' && sidA > 0 && sidB > 0 && sidA !== sidB, `server ids ${sidA} ${sidB}`);

    // rows no node holds in memory, expired an hour ago: one naming B (alive for now), one A, one no node
    const hourAgo = toDbDatetime(Math.floor(Date.now() / 1000) - 3600);
    for (const [ruid, user, server] of [['t-live-b', 'zed-b', sidB], ['t-live-a', 'zed-a', sidA], ['t-nobody', 'zed-0', 0]] as const) {
      await db.execute("INSERT INTO location (ruid, username, contact, expires, callid, cseq, last_modified, user_agent, server_id) VALUES (?, ?, ?, ?, 'x@t', 1, ?, 'test', ?)", [ruid, user, `sip:${user}@192.0.2.1`, hourAgo, hourAgo, server]);
    }
    // several of A's timer runs (every second) while B is alive: B's row stays (its owner is alive)
    const h0 = (await a.rpc<{ heartbeats: number }>('cluster.stats')).heartbeats;
    await until('A: two heartbeats', async () => (await a.rpc<{ heartbeats: number }>('cluster.stats')).heartbeats >= h0 + 2, 20_000);
    const rowsOf = async () =>
      (await db.query<{ contact: string; server_id: number }>('SELECT contact, server_id FROM location')).map((r) => `${r.contact} ${Number(r.server_id)}`).sort();
    const zed = ['sip:zed-0@192.0.2.1 0', `sip:zed-a@192.0.2.1 ${sidA}`];
    assert.deepEqual(await rowsOf(), [...zed, `sip:zed-b@192.0.2.1 ${sidB}`].sort(), 'nothing removed while both nodes are alive');

    // A stalls for 7 s (SIGSTOP): not alive to B after 6 s, but heard from within dialog_ttl_sec,
    // so B — first by node id of the nodes it has heard from only without A — sweeps nothing of A's
    a.child.kill('SIGSTOP');
    try {
      await new Promise((r) => setTimeout(r, 7000));
    } finally {
      a.child.kill('SIGCONT');
    }
    assert.deepEqual(await rowsOf(), [...zed, `sip:zed-b@192.0.2.1 ${sidB}`].sort(), 'A stalled for 7 s: B removed none of its rows');

    // erin's phone through B for 4 s, her softphone through A for 300 s (it keeps the Redis key alive)
    const phone = clusterUa(fx, socks[0]!, 'erin', 'phone');
    const soft = clusterUa(fx, socks[1]!, 'erin', 'soft');
    assert.equal(statusOf(await phone.register(1, `<${phone.uri()}>`, 4)), 200, 'the phone through B');
    assert.equal(statusOf(await soft.register(0, `<${soft.uri()}>`, 300)), 200, 'the softphone through A');
    const mine = [`${soft.uri()} ${sidA}`, ...zed].sort();
    assert.deepEqual(await rowsOf(), [...mine, `${phone.uri()} ${sidB}`, `sip:zed-b@192.0.2.1 ${sidB}`].sort(), 'each row names the node that wrote it');

    // B killed (SIGKILL: no shutdown, its entry stays in sipd:nodes until it looks dead) and never started again
    const phoneRuid = Object.entries(await redis.hgetall('sipd:loc:erin')).find(([, v]) => (JSON.parse(v) as { contact: string }).contact === phone.uri())?.[0];
    assert.ok(phoneRuid !== undefined, 'the phone\'s record in Redis');
    assert.equal((await b.stop('SIGKILL')).signal, 'SIGKILL');
    // the phone's row before it expires (4 s) and B is gone (not heard from for 15 s): still there
    assert.ok((await rowsOf()).includes(`${phone.uri()} ${sidB}`), 'B\'s phone row not removed before it expired');
    await until('B\'s rows (expired) removed by A', async () => JSON.stringify(await rowsOf()) === JSON.stringify(mine), 40_000);
    const left = await redis.hgetall('sipd:loc:erin');
    assert.equal(left[phoneRuid], undefined, 'B\'s expired record gone from Redis');
    assert.deepEqual(Object.values(left).map((v) => (JSON.parse(v) as { contact: string }).contact), [soft.uri()], 'A\'s record stays');
    assert.match(a.output(), /expired registrations of nodes gone from the cluster removed/);
    // the softphone is still registered through A
    assert.deepEqual((await a.rpc<{ Contacts: Array<{ Contact: { Address: string } }> }>('ul.lookup', ['location', 'erin'])).Contacts.map((c) => c.Contact.Address), [soft.uri()]);
  }));
});
