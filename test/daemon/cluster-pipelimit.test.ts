// Calls per second across the nodes of a cluster (issue 14): two sipd nodes (127.0.0.1 and
// 127.0.0.2) sharing one private Redis and one MariaDB, with a pipe of 10 calls per 10 s
// (pipelimit cps_total 1, timer_interval 10). A local caller (raw UDP, digest) sends 15
// authenticated INVITEs to each node at once; the trunk (127.0.0.3) answers every call it gets
// with 486. Each node alone would let 10 through (20 in all); shared, 10 pass in all, the rest get
// pipelimit's 503 — with one Redis round trip per call. Redis stopped: node A
// (cluster.admission closed) answers 503, node B (open) falls back to its own pipe; Redis started
// again: shared once more, no operator action.
//
// The one assumption about time: the 30 admissions happen within the 10 s window (they are sent
// at once; each is one Lua script on a local Redis).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { RedisServer } from '../helpers/redis.js';
import { until } from '../helpers/until.js';
import { clusterFixture, PASSWORD, REALM } from './cluster-fixture.js';
import { busyTrunk, caller, redisCommand, udpPeer, type Peer } from './raw-sip.js';
import { header } from './sip-message.js';
import type { SipdProcess } from './sipd-process.js';

const SECRET = randomBytes(24).toString('hex');
/** a number for the trunk, on a host that is not sipd's (no registration lookup) */
const DIALLED = 'sip:+4930123456@carrier.invalid';

interface PlStats {
  refused: number;
  shared: boolean;
  shared_checks: number;
  shared_refused: number;
  refused_cluster_down: number;
}

/** calls and total time per Redis command (INFO commandstats) */
async function commandStats(port: number): Promise<Map<string, { calls: number; usec: number }>> {
  const info = await redisCommand(port, 'INFO commandstats');
  const out = new Map<string, { calls: number; usec: number }>();
  for (const m of info.matchAll(/^cmdstat_([a-z|]+):calls=(\d+),usec=(\d+)/gm)) out.set(m[1]!, { calls: Number(m[2]), usec: Number(m[3]) });
  return out;
}

describe('calls per second shared by two sipd nodes (sipd --cluster, pipelimit)', () => {
  let redis: RedisServer;
  let a: SipdProcess;
  let b: SipdProcess;
  let trunk: Peer & { invites: string[] };
  let phone: Peer;

  // the trunk first: the nodes' config names its port (this hook runs before the fixture's)
  before(async () => {
    trunk = await busyTrunk('127.0.0.3');
    phone = await udpPeer('127.0.0.1');
  });
  const fx = clusterFixture({
    name: 'sipd-cluster-pl-',
    users: ['alice'],
    config: ({ index, ip, port, id, redisUrl }) => ({
      listen: [`udp:${ip}:${port}`, `tcp:${ip}:${port}`],
      cluster: { url: redisUrl, node_id: id, timeout_ms: 500, admission: index === 0 ? 'closed' : 'open' },
      modules: {
        scanner: { user_agents: ['friendly-scanner', 'sipvicious', 'sipcli'] },
        'auth-db': { realm: REALM, secret: SECRET },
        country: { source: 'none' },
        // one caller sends 60 requests to each node in a burst: not a flood here
        pike: { reqs_density_per_unit: 100_000, refusals_per_unit: 0 },
        proxy: { carrier_host: '127.0.0.3', carrier_port: trunk.port },
        pipelimit: { cps_total: 1, timer_interval: 10 },
      },
    }),
  });
  before(() => {
    [a, b] = fx.nodes as [SipdProcess, SipdProcess];
    redis = fx.redis;
  });
  after(() => {
    trunk?.close();
    phone?.close();
  });

  const callerVia = (node: SipdProcess, ip: string) => caller(phone, { host: ip, port: node.sipPort }, { user: 'alice', fromHost: ip, password: PASSWORD });

  test('15 calls through each node at once, 10 per window allowed: 10 pass in all (not 10 per node), one Redis round trip per call', async (t) => {
    const viaA = callerVia(a, '127.0.0.1');
    const viaB = callerVia(b, '127.0.0.2');
    // the digest rounds first, so the 30 authenticated INVITEs can go out together
    const txs: Array<{ via: typeof viaA; tx: Awaited<ReturnType<typeof viaA.prepare>> }> = [];
    for (let i = 0; i < 15; i++) {
      txs.push({ via: viaA, tx: await viaA.prepare(DIALLED) });
      txs.push({ via: viaB, tx: await viaB.prepare(DIALLED) });
    }
    const before = await commandStats(redis.port);
    for (const { via, tx } of txs) via.send(tx);
    const finals = await Promise.all(txs.map(({ via, tx }) => via.finish(tx)));
    const after = await commandStats(redis.port);

    const admitted = finals.filter((s) => s === 486).length;
    const refused = txs.filter(({ tx }) => tx.final() !== undefined && /^SIP\/2\.0 503 Server Unavailable/.test(tx.final()!));
    assert.equal(admitted + refused.length, 30, `every call admitted (486 from the trunk) or refused by the pipe (503): ${JSON.stringify(finals)}`);
    assert.equal(admitted, 10, `10 calls in the window across both nodes (each node alone would admit 10): ${JSON.stringify(finals)}`);
    assert.equal(trunk.invites.length, 10, 'the trunk got the admitted calls only');
    for (const r of refused) assert.equal(header(r.tx.final()!, 'retry-after'), '5');

    const [sa, sb] = await Promise.all([a.rpc<PlStats>('pipelimit.stats'), b.rpc<PlStats>('pipelimit.stats')]);
    assert.ok(sa.shared && sb.shared, JSON.stringify({ sa, sb }));
    // one round trip per call that meets a pipe, admitted or not
    assert.equal(sa.shared_checks + sb.shared_checks, 30, JSON.stringify({ sa, sb }));
    assert.equal(sa.shared_refused + sb.shared_refused, 20, JSON.stringify({ sa, sb }));
    assert.equal(await redisCommand(redis.port, 'ZCARD sipd:pl:cps'), ':10');

    // the figure for the README: round trips and Redis-side time per call (commandstats counts a
    // script's own commands too: TIME, ZREMRANGEBYSCORE, ZCARD per call, ZADD and PEXPIRE per admission)
    const evals = (after.get('eval')?.calls ?? 0) - (before.get('eval')?.calls ?? 0);
    const usec = (after.get('eval')?.usec ?? 0) - (before.get('eval')?.usec ?? 0);
    const inside = [...after].filter(([k]) => ['time', 'zremrangebyscore', 'zcard', 'zadd', 'pexpire'].includes(k)).map(([k, v]) => `${k} ${v.calls - (before.get(k)?.calls ?? 0)}`).filter((x) => !x.endsWith(' 0'));
    t.diagnostic(`Redis during the 30 calls: ${evals} EVAL round trips, ${(usec / Math.max(1, evals)).toFixed(1)} µs each inside Redis; in them: ${inside.join(', ')}`);
  });

  test('Redis stopped: node A (admission closed) answers 503, node B (open) falls back to its own pipe; Redis back: shared again', async () => {
    await redis.stop();
    try {
      await until('both nodes see Redis away', async () => {
        const s = await Promise.all([a.rpc<{ up: boolean }>('cluster.stats'), b.rpc<{ up: boolean }>('cluster.stats')]);
        return s.every((x) => !x.up);
      });
      // B's own pipe: wait for its 10 s interval to roll over (pl.get_pipes shows 0 then)
      await until('node B local pipe empty', async () => (await b.rpc<Array<{ name: string; counter: number }>>('pl.get_pipes')).find((p) => p.name === 'cps')?.counter === 0, 15_000);

      const viaA = callerVia(a, '127.0.0.1');
      const txA = await viaA.prepare(DIALLED);
      viaA.send(txA);
      assert.equal(await viaA.finish(txA), 503);
      assert.match(txA.final()!, /^SIP\/2\.0 503 Service Unavailable/, 'the cluster-down refusal, not the pipe');
      assert.equal((await a.rpc<PlStats>('pipelimit.stats')).refused_cluster_down, 1);

      const viaB = callerVia(b, '127.0.0.2');
      const txB = await viaB.prepare(DIALLED);
      viaB.send(txB);
      assert.equal(await viaB.finish(txB), 486, `admitted by node B's own pipe: ${txB.final()}`);
      assert.equal((await b.rpc<PlStats>('pipelimit.stats')).refused_cluster_down, 0);
    } finally {
      await redis.start();
    }
    await until('both nodes back on Redis', async () => {
      const s = await Promise.all([a.rpc<{ up: boolean }>('cluster.stats'), b.rpc<{ up: boolean }>('cluster.stats')]);
      return s.every((x) => x.up);
    }, 20_000);
    const before = (await a.rpc<PlStats>('pipelimit.stats')).shared_checks;
    const viaA = callerVia(a, '127.0.0.1');
    const tx = await viaA.prepare(DIALLED);
    viaA.send(tx);
    assert.equal(await viaA.finish(tx), 486, 'admitted through the shared pipe again');
    assert.equal((await a.rpc<PlStats>('pipelimit.stats')).shared_checks, before + 1);
    assert.equal(await redisCommand(redis.port, 'ZCARD sipd:pl:cps'), ':1');
  });
});
