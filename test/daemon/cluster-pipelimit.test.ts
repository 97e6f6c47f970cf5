// Calls per second across the nodes of a cluster (issue 14): two sipd nodes (127.0.0.1 and
// 127.0.0.2) sharing one private Redis and one MariaDB, with a pipe of 60 calls per 60 s
// (pipelimit cps_total 1, timer_interval 60). A local caller (raw UDP, digest) sends 35
// authenticated INVITEs to each node at once; the trunk (127.0.0.3) answers every call it gets
// with 486. Each node alone would let all its 35 through (70 in all); shared, 60 pass in all, the
// other 10 get pipelimit's 503 — with one Redis round trip per call. Redis stopped: node A
// (cluster.admission closed) answers 503, node B (open) falls back to its own pipe; Redis started
// again: shared once more, no operator action.
//
// Counts that do not depend on the machine's speed (at load 16-20 this test once found 15 INVITEs
// at the trunk for 10 admitted calls): the trunk's INVITEs are counted by Call-ID, since sipd
// retransmits an INVITE the trunk (this process) has not answered within 500 ms (Timer A); the
// admissions only have to fall within one window, and 60 s is the longest pipelimit allows (the
// burst took 0.8-2.9 s at load 15, where 10 s left a margin of 3); a node counts Redis as down
// only after 10 s without a reply (at 500 ms a reply late on a loaded machine would turn node A's
// calls into cluster-down 503s and node B's into admissions by its own pipe).
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
/** the pipe: 1 call per second over WINDOW_S seconds, so WINDOW_S calls a window */
const WINDOW_S = 60;
/** calls sent through each node at once */
const PER_NODE = 35;
/** a number for the trunk, on a host that is not sipd's (no registration lookup) */
const DIALLED = 'sip:+4930123456@carrier.invalid';

interface PlStats {
  refused: number;
  shared: boolean;
  shared_checks: number;
  shared_refused: number;
  refused_cluster_down: number;
}

/** Redis' clock (TIME, as the pipe's script reads it) in ms. */
async function redisMs(port: number): Promise<number> {
  return Number((await redisCommand(port, `EVAL "local t = redis.call('TIME') return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)" 0`)).slice(1));
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
      cluster: { url: redisUrl, node_id: id, timeout_ms: 10_000, admission: index === 0 ? 'closed' : 'open' },
      modules: {
        scanner: { user_agents: ['friendly-scanner', 'sipvicious', 'sipcli'] },
        'auth-db': { realm: REALM, secret: SECRET },
        country: { source: 'none' },
        // one caller sends 140 requests to each node in a burst: not a flood here
        pike: { reqs_density_per_unit: 100_000, refusals_per_unit: 0 },
        proxy: { carrier_host: '127.0.0.3', carrier_port: trunk.port },
        pipelimit: { cps_total: 1, timer_interval: WINDOW_S },
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

  test(`${PER_NODE} calls through each node at once, ${WINDOW_S} per window allowed: ${WINDOW_S} pass in all (not ${WINDOW_S} per node), one Redis round trip per call`, async (t) => {
    const total = 2 * PER_NODE;
    const viaA = callerVia(a, '127.0.0.1');
    const viaB = callerVia(b, '127.0.0.2');
    // the digest rounds first, so the authenticated INVITEs can go out together
    const txs: Array<{ via: typeof viaA; tx: Awaited<ReturnType<typeof viaA.prepare>> }> = [];
    for (let i = 0; i < PER_NODE; i++) {
      txs.push({ via: viaA, tx: await viaA.prepare(DIALLED) });
      txs.push({ via: viaB, tx: await viaB.prepare(DIALLED) });
    }
    const started = await redisMs(redis.port);
    const before = await commandStats(redis.port);
    for (const { via, tx } of txs) via.send(tx);
    const finals = await Promise.all(txs.map(({ via, tx }) => via.finish(tx, 60_000)));
    const after = await commandStats(redis.port);
    // for a failure's message: how long the burst took on the clock the window is measured by
    const took = `${((await redisMs(redis.port)) - started) / 1000} s`;

    const admitted = finals.filter((s) => s === 486).length;
    const refused = txs.filter(({ tx }) => tx.final() !== undefined && /^SIP\/2\.0 503 Server Unavailable/.test(tx.final()!));
    assert.equal(admitted + refused.length, total, `every call admitted (486 from the trunk) or refused by the pipe (503): ${JSON.stringify(finals)}`);
    assert.equal(admitted, WINDOW_S, `${WINDOW_S} calls in the window across both nodes (each node alone would admit all ${PER_NODE}); the burst took ${took}: ${JSON.stringify(finals)}`);
    assert.equal(new Set(trunk.invites.map((m) => header(m, 'call-id'))).size, WINDOW_S, 'the trunk got the admitted calls only');
    for (const r of refused) assert.equal(header(r.tx.final()!, 'retry-after'), '5');

    const [sa, sb] = await Promise.all([a.rpc<PlStats>('pipelimit.stats'), b.rpc<PlStats>('pipelimit.stats')]);
    assert.ok(sa.shared && sb.shared, JSON.stringify({ sa, sb }));
    // one round trip per call that meets a pipe, admitted or not
    assert.equal(sa.shared_checks + sb.shared_checks, total, JSON.stringify({ sa, sb }));
    assert.equal(sa.shared_refused + sb.shared_refused, total - WINDOW_S, JSON.stringify({ sa, sb }));
    assert.equal(await redisCommand(redis.port, 'ZCARD sipd:pl:cps'), `:${WINDOW_S}`);

    // the figure for the README: round trips and Redis-side time per call (commandstats counts a
    // script's own commands too: TIME, ZREMRANGEBYSCORE, ZCARD per call, ZADD and PEXPIRE per admission)
    const evals = (after.get('eval')?.calls ?? 0) - (before.get('eval')?.calls ?? 0);
    const usec = (after.get('eval')?.usec ?? 0) - (before.get('eval')?.usec ?? 0);
    const inside = [...after].filter(([k]) => ['time', 'zremrangebyscore', 'zcard', 'zadd', 'pexpire'].includes(k)).map(([k, v]) => `${k} ${v.calls - (before.get(k)?.calls ?? 0)}`).filter((x) => !x.endsWith(' 0'));
    t.diagnostic(`Redis during the ${total} calls (${took}): ${evals} EVAL round trips, ${(usec / Math.max(1, evals)).toFixed(1)} µs each inside Redis; in them: ${inside.join(', ')}`);
  });

  test('Redis stopped: node A (admission closed) answers 503, node B (open) falls back to its own pipe; Redis back: shared again', async () => {
    await redis.stop();
    try {
      await until('both nodes see Redis away', async () => {
        const s = await Promise.all([a.rpc<{ up: boolean }>('cluster.stats'), b.rpc<{ up: boolean }>('cluster.stats')]);
        return s.every((x) => !x.up);
      });
      // B's own pipe counted only B's admissions of the burst, at most PER_NODE (< WINDOW_S): its next call fits
      const local = (await b.rpc<Array<{ name: string; counter: number }>>('pl.get_pipes')).find((p) => p.name === 'cps');
      assert.ok((local?.counter ?? 0) < WINDOW_S, JSON.stringify(local));

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
