// A sipd cluster node that was down while another node took its binding over drops its stale copy
// and its location row when it starts again (it loads the location table at start, db_mode 1, and
// missed the sipd:loc message that told the holder). Before, only a reconnection checked the copy
// against Redis: the restarted node kept the binding (and its row) until it expired, and also held
// the other node's binding, loaded from that node's row. Two sipd nodes on 127.0.0.1 (A) and
// 127.0.0.2 (B) over one private Redis and one MariaDB (cluster-fixture.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { Redis } from 'ioredis';
import { until } from '../helpers/until.js';
import { clusterFixture, clusterReady, REALM, PASSWORD } from './cluster-fixture.js';
import { registerRequest, registerWithDigest, udpFinalReply } from './sip-message.js';
import { startSipd, statusOf } from './sipd-process.js';

const SECRET = randomBytes(24).toString('hex');
const UA_IP = '127.0.0.44';

type Dump = { Domains: Array<{ Domain: { AoRs: Array<{ Info: { AoR: string; Contacts: Array<{ Contact: { Address: string; Ruid: string } }> } }> } }> };

describe('a node restarted after another took its binding over drops its copy and row at start', () => {
  const nodeConfig = (n: { ip: string; port: number; id: string; redisUrl: string }) => ({
    listen: [`udp:${n.ip}:${n.port}`],
    cluster: { url: n.redisUrl, node_id: n.id, timeout_ms: 10_000 },
    modules: { scanner: { user_agents: ['friendly-scanner'] }, 'auth-db': { realm: REALM, secret: SECRET }, usrloc: { db_mode: 1 } },
  });
  const fx = clusterFixture({ name: 'sipd-register-restart-', users: ['carol'], config: nodeConfig });

  test('carol through A, A stopped, the same contact through B, A started again → A holds nothing of carol, only B\'s row is left', async () => {
    const redis = new Redis(fx.redis.port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    const db = await fx.tdb.open().catch((e: unknown) => (redis.disconnect(), Promise.reject(e)));
    const sock = dgram.createSocket('udp4');
    try {
      await new Promise<void>((r) => sock.bind({ address: UA_IP, port: 0 }, () => r()));
      const local = sock.address().port;
      const uri = `sip:carol@${UA_IP}:${local}`;
      const callId = `${randomBytes(8).toString('hex')}@restart`;
      let cseq = 0;
      const register = (node: 0 | 1) => {
        const n = fx.nodes[node]!;
        const host = node === 0 ? '127.0.0.1' : '127.0.0.2';
        const ruri = `sip:${host}:${n.sipPort}`;
        const request = (auth?: string) => registerRequest({ uri: ruri, via: `UDP ${UA_IP}:${local}`, user: 'carol', realm: REALM, fromTag: randomBytes(4).toString('hex'), callId, cseq: ++cseq, contact: `<${uri}>`, expires: 300, auth });
        return registerWithDigest({ user: 'carol', password: PASSWORD, uri: ruri, request, exchange: (text) => udpFinalReply(sock, text, n.sipPort, host) });
      };
      const held = async (node: 0 | 1) => {
        const d = await fx.nodes[node]!.rpc<Dump>('ul.dump');
        return d.Domains[0]!.Domain.AoRs.filter((a) => a.Info.AoR === 'carol').flatMap((a) => a.Info.Contacts.map((c) => `${c.Contact.Ruid} ${c.Contact.Address}`));
      };
      const rows = async () => (await db.query<{ ruid: string; contact: string }>("SELECT ruid, contact FROM location WHERE username = 'carol' ORDER BY id")).map((r) => `${r.ruid} ${r.contact}`);

      // 1. registered through A: A's copy and A's row
      assert.equal(statusOf(await register(0)), 200, 'REGISTER through A');
      const [a1] = await held(0);
      assert.ok(a1 !== undefined && a1.endsWith(uri));
      assert.deepEqual(await rows(), [a1]);

      // 2. A stops (SIGTERM); the phone registers the same contact through B meanwhile
      const a = fx.nodes[0]!;
      assert.equal((await a.stop()).code, 0, 'A stopped cleanly');
      assert.equal(statusOf(await register(1)), 200, 'the same contact through B while A is down');
      const [b1] = await held(1);
      assert.ok(b1 !== undefined && b1.endsWith(uri) && b1 !== a1);
      assert.deepEqual(Object.keys(await redis.hgetall('sipd:loc:carol')), [b1.split(' ')[0]], 'the cluster store has B\'s binding only');
      assert.deepEqual(await rows(), [a1, b1], 'A\'s row is left behind (A was down to hear it)');

      // 3. A starts again (same node id, port and state directory) and loads the table
      const redisUrl = `redis://127.0.0.1:${fx.redis.port}/0`;
      fx.nodes[0] = await startSipd({ stateDir: a.stateDir, dbUrl: fx.tdb.fullUrl, sipPort: a.sipPort, config: nodeConfig({ ip: '127.0.0.1', port: a.sipPort, id: 'node-a', redisUrl }) });
      await clusterReady(fx.nodes[0], 2);
      assert.deepEqual(await held(0), [], 'A holds nothing of carol: neither its old binding nor B\'s (loaded from B\'s row)');
      assert.match(fx.nodes[0].output(), /contacts gone from the cluster store while this node was down dropped/);
      await until('A\'s row gone, B\'s left', async () => JSON.stringify(await rows()) === JSON.stringify([b1]), 10_000);
      assert.deepEqual(await held(1), [b1], 'B keeps its binding');
      assert.deepEqual(Object.keys(await redis.hgetall('sipd:loc:carol')), [b1.split(' ')[0]], 'the cluster store unchanged');
    } finally {
      sock.close();
      redis.disconnect();
      await db.close();
    }
  });
});
