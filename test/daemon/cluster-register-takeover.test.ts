// A binding is the AoR and the contact URI, whichever node of a sipd cluster a REGISTER went
// through (RFC 3261 §10.3; Kamailio usrloc's default matching): a refresh through another node
// replaces it (that node now holds the UA's NAT binding: the record names it), an un-REGISTER
// through another node removes it everywhere, and `Contact: *` through another node removes the
// AoR's bindings on every node (issue 14). Before: the refresh made a second binding on B, and the
// un-REGISTER and `*` through B left A's bindings (and A's location rows) until they expired.
// Two sipd nodes on 127.0.0.1 (A) and 127.0.0.2 (B) over one private Redis and one MariaDB
// (cluster-fixture.ts, usrloc db_mode 1: each node writes the rows of the bindings it holds).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { Redis } from 'ioredis';
import { until } from '../helpers/until.js';
import { clusterFixture, clusterUa, digestNodeConfig, type ClusterFixture } from './cluster-fixture.js';
import { statusOf } from './sipd-process.js';

const SECRET = randomBytes(24).toString('hex');
const UA_IP = '127.0.0.43';
const nodeConfig = (usrloc: Record<string, unknown>) => digestNodeConfig(SECRET, { modules: { usrloc } });

type Dump = { Domains: Array<{ Domain: { AoRs: Array<{ Info: { AoR: string; Contacts: Array<{ Contact: { Address: string; Ruid: string; CSeq: number } }> } }> } }> };

/**
 * dave's UA (one UDP socket, one Call-ID, CSeq counting up), a Redis client and the database,
 * with what the test reads: each node's copy (ul.dump), the cluster store, the location rows.
 */
async function openUa(fx: ClusterFixture, tag: string) {
  const redis = new Redis(fx.redis.port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  const db = await fx.tdb.open().catch((e: unknown) => (redis.disconnect(), Promise.reject(e)));
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind({ address: UA_IP, port: 0 }, () => r()));
  const ua = clusterUa(fx, sock, 'dave', tag);
  return {
    redis,
    /** the UA's contact URI (`line` gives a second one on the same socket) */
    uri: ua.uri,
    /** one REGISTER (answered with digest: two CSeqs) of `contact` through `node` (0: A, 1: B) */
    register: (node: 0 | 1, contact: string, expires: number) => ua.register(node, contact, expires),
    /** the contacts node A (0) or B (1) holds for dave */
    async held(node: 0 | 1) {
      const d = await fx.nodes[node]!.rpc<Dump>('ul.dump');
      return d.Domains[0]!.Domain.AoRs.filter((a) => a.Info.AoR === 'dave').flatMap((a) => a.Info.Contacts.map((c) => c.Contact));
    },
    /** dave's bindings in the cluster store: [ruid, {contact, node}] */
    async inRedis() {
      return Object.entries(await redis.hgetall('sipd:loc:dave')).map(([ruid, v]) => {
        const o = JSON.parse(v) as { contact: string; node: string };
        return [ruid, { contact: o.contact, node: o.node }];
      });
    },
    /** dave's location rows: "ruid contact" */
    async rows() {
      return (await db.query<{ ruid: string; contact: string }>("SELECT ruid, contact FROM location WHERE username = 'dave' ORDER BY contact")).map((r) => `${r.ruid} ${r.contact}`);
    },
    async close() {
      sock.close();
      redis.disconnect();
      await db.close();
    },
  };
}

describe('a binding belongs to the AoR and contact URI, not to the node a REGISTER went through', () => {
  const fx = clusterFixture({
    name: 'sipd-register-takeover-',
    users: ['dave'],
    config: nodeConfig({}),
  });

  test('refresh through B → one binding, held by B (its row only); un-REGISTER through B → none anywhere; two through A, Contact: * through B → none anywhere', async () => {
    const ua = await openUa(fx, 'register-takeover');
    const one = ua.uri();
    const two = ua.uri(2);
    /** both nodes' copies once A has heard what B did (pub/sub: ms) */
    const settled = (what: string, a: number, b: number) => until(`${what}: A holds ${a}, B ${b}`, async () => (await ua.held(0)).length === a && (await ua.held(1)).length === b, 10_000);
    const rowsAre = (what: string, want: string[]) => until(what, async () => JSON.stringify(await ua.rows()) === JSON.stringify(want), 10_000);
    try {
      // 1. registered through A: A holds it, A's row
      assert.equal(statusOf(await ua.register(0, `<${one}>`, 300)), 200, 'REGISTER through A');
      const [a1] = await ua.held(0);
      assert.equal(a1?.Address, one);
      assert.deepEqual(await ua.rows(), [`${a1!.Ruid} ${one}`]);

      // 2. the UA refreshes through B (DNS SRV picked the other node): one binding, B's
      assert.equal(statusOf(await ua.register(1, `<${one}>`, 300)), 200, 'refresh through B');
      await settled('after the refresh through B', 0, 1);
      const [b1] = await ua.held(1);
      assert.equal(b1?.Address, one);
      assert.notEqual(b1!.Ruid, a1!.Ruid, 'B holds it under its own ruid (its own row)');
      assert.deepEqual(await ua.inRedis(), [[b1!.Ruid, { contact: one, node: 'node-b' }]], 'one binding in the cluster store, naming B');
      await rowsAre('the location table holds B\'s row only', [`${b1!.Ruid} ${one}`]);

      // 3. un-REGISTER through B: gone everywhere (B held it: the plain case) ...
      assert.equal(statusOf(await ua.register(1, `<${one}>`, 0)), 200, 'un-REGISTER through B');
      await settled('after the un-REGISTER through B', 0, 0);
      assert.equal(await ua.redis.exists('sipd:loc:dave'), 0);
      assert.deepEqual(await ua.rows(), []);

      // ... and through B for a binding A holds: the gap this closes
      assert.equal(statusOf(await ua.register(0, `<${one}>`, 300)), 200, 'REGISTER through A again');
      assert.equal((await ua.held(0)).length, 1);
      assert.equal(statusOf(await ua.register(1, `<${one}>`, 0)), 200, 'un-REGISTER through B of A\'s binding');
      await settled('after the un-REGISTER through B of A\'s binding', 0, 0);
      assert.equal(await ua.redis.exists('sipd:loc:dave'), 0, 'nothing in the cluster store');
      await rowsAre('no location row', []);

      // 4. two contacts through A, then Contact: * through B: none anywhere
      assert.equal(statusOf(await ua.register(0, `<${one}>, <${two}>`, 300)), 200, 'two contacts through A');
      assert.equal((await ua.held(0)).length, 2);
      assert.equal((await ua.rows()).length, 2);
      assert.equal(statusOf(await ua.register(1, '*', 0)), 200, 'Contact: * through B');
      await settled('after Contact: * through B', 0, 0);
      assert.equal(await ua.redis.exists('sipd:loc:dave'), 0, 'nothing in the cluster store');
      await rowsAre('no location row', []);
    } finally {
      await ua.close();
    }
  });

  test('RFC 5626 outbound: the same +sip.instance and reg-id through B from a new Contact replaces A\'s binding; un-REGISTERing the flow through A from yet another Contact removes B\'s', async () => {
    const ua = await openUa(fx, 'register-takeover-flow');
    const flow = ';+sip.instance="<urn:uuid:00000000-0000-1000-8000-00000000d0fe>";reg-id=1';
    const settled = (what: string, a: number, b: number) => until(`${what}: A holds ${a}, B ${b}`, async () => (await ua.held(0)).length === a && (await ua.held(1)).length === b, 10_000);
    try {
      assert.equal(statusOf(await ua.register(0, `<${ua.uri(1)};ob>${flow}`, 300)), 200, 'REGISTER through A');
      assert.equal((await ua.held(0)).length, 1);
      // the phone came back from another network: another Contact, the same flow, through B
      const moved = `${ua.uri(2)};ob`;
      assert.equal(statusOf(await ua.register(1, `<${moved}>${flow}`, 300)), 200, 'REGISTER of the same flow through B');
      await settled('after the same flow through B', 0, 1);
      const [b1] = await ua.held(1);
      assert.equal(b1?.Address, moved);
      assert.deepEqual(await ua.inRedis(), [[b1!.Ruid, { contact: moved, node: 'node-b' }]], 'one binding in the cluster store: the flow\'s new Contact, B\'s');
      await until('one location row, B\'s', async () => JSON.stringify(await ua.rows()) === JSON.stringify([`${b1!.Ruid} ${moved}`]), 10_000);
      // Expires 0 for the flow, from a third Contact, through A: B's binding of the flow goes
      assert.equal(statusOf(await ua.register(0, `<${ua.uri(3)};ob>${flow}`, 0)), 200, 'un-REGISTER of the flow through A');
      await settled('after the flow\'s un-REGISTER through A', 0, 0);
      assert.equal(await ua.redis.exists('sipd:loc:dave'), 0, 'nothing in the cluster store');
      await until('no location row', async () => (await ua.rows()).length === 0, 10_000);
    } finally {
      await ua.close();
    }
  });

  test('a node that missed the takeover message (its subscriber away, Redis keeping its data) drops the binding when it reconnects', async () => {
    const ua = await openUa(fx, 'register-takeover-missed');
    const one = ua.uri();
    let locked = false;
    try {
      assert.equal(statusOf(await ua.register(0, `<${one}>`, 300)), 200, 'REGISTER through A');
      const [a1] = await ua.held(0);
      assert.ok(a1 !== undefined);
      const logged = fx.nodes[0]!.output().length;
      // The subscribers cannot come back while Redis asks for a password (connections already open
      // keep working: the nodes' command connections, this test's), so no node hears sipd:loc.
      await ua.redis.config('SET', 'requirepass', randomBytes(12).toString('hex'));
      locked = true;
      await ua.redis.client('KILL', 'TYPE', 'pubsub');
      assert.equal(statusOf(await ua.register(1, `<${one}>`, 300)), 200, 'refresh through B while no subscriber listens');
      const [b1] = await ua.held(1);
      assert.equal(b1?.Address, one);
      assert.deepEqual(await ua.inRedis(), [[b1!.Ruid, { contact: one, node: 'node-b' }]], 'the cluster store has B\'s binding only');
      assert.deepEqual((await ua.held(0)).map((c) => c.Ruid), [a1.Ruid], 'A did not hear it');
      await ua.redis.config('SET', 'requirepass', '');
      locked = false;
      await until('A reconnected and dropped its copy', async () => (await ua.held(0)).length === 0, 20_000);
      assert.match(fx.nodes[0]!.output().slice(logged), /contacts gone from the cluster store while Redis was away dropped/);
      assert.deepEqual((await ua.held(1)).map((c) => c.Ruid), [b1!.Ruid], 'B keeps its binding');
      await until('A\'s row gone, B\'s there', async () => JSON.stringify(await ua.rows()) === JSON.stringify([`${b1!.Ruid} ${one}`]), 10_000);
    } finally {
      if (locked) await ua.redis.config('SET', 'requirepass', '').catch(() => undefined);
      await ua.close();
    }
  });
});

describe('the same with usrloc db_mode 2 (write-back): each node\'s timer writes its own rows', () => {
  const fx = clusterFixture({ name: 'sipd-register-takeover-wb-', users: ['dave'], config: nodeConfig({ db_mode: 2, timer_interval: 3600 }) });

  test('refresh through B: A\'s row goes with A\'s next write-back, B\'s comes with B\'s', async () => {
    const ua = await openUa(fx, 'register-takeover-wb');
    const one = ua.uri();
    try {
      assert.equal(statusOf(await ua.register(0, `<${one}>`, 300)), 200, 'REGISTER through A');
      await fx.nodes[0]!.rpc('ul.flush');
      const [a1] = await ua.held(0);
      assert.deepEqual(await ua.rows(), [`${a1!.Ruid} ${one}`]);
      assert.equal(statusOf(await ua.register(1, `<${one}>`, 300)), 200, 'refresh through B');
      await until('A dropped its copy', async () => (await ua.held(0)).length === 0, 10_000);
      const [b1] = await ua.held(1);
      for (const n of fx.nodes) await n.rpc('ul.flush');
      assert.deepEqual(await ua.rows(), [`${b1!.Ruid} ${one}`], 'one row, B\'s');
      assert.equal(statusOf(await ua.register(1, '*', 0)), 200, 'Contact: * through B');
      for (const n of fx.nodes) await n.rpc('ul.flush');
      assert.deepEqual(await ua.rows(), []);
    } finally {
      await ua.close();
    }
  });
});
