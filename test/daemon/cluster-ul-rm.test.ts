// ul.rm and ul.rm_contact (sipctl ul rm) in a sipd cluster remove the user, or the contact,
// wherever it is held — as `sipctl unban` lifts a ban everywhere (issue 14). Before, they acted
// only on the node they were sent to: the user stayed registered, and callable, through the other
// nodes' bindings in Redis, and those nodes kept their location rows until the bindings expired.
// ul.lookup (sipctl ul show, and the look-up sipctl ul rm makes first) answers from the cluster
// store too: before, B said `not registered` of a user registered, and callable, through A.
// Two sipd nodes on 127.0.0.1 (A) and 127.0.0.2 (B) over one private Redis and one MariaDB
// (cluster-fixture.ts, usrloc db_mode 1: each node writes the rows of the bindings it holds).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { isolatedEnv, runSipctl } from '../helpers/cli.js';
import { until } from '../helpers/until.js';
import { clusterFixture, digestNodeConfig, clusterReady, PASSWORD, REALM } from './cluster-fixture.js';
import { udpRegister } from './sip-message.js';
import { statusOf } from './sipd-process.js';

const SECRET = randomBytes(24).toString('hex');
const UA_IP = '127.0.0.44';

type Lookup = { AoR: string; Contacts: Array<{ Contact: Record<string, string | number> }> };
type Dump = { Domains: Array<{ Domain: { AoRs: Array<{ Info: { AoR: string; Contacts: Array<{ Contact: { Address: string; Ruid: string } }> } }> } }> };

describe('ul.lookup, ul.rm and ul.rm_contact reach a registration on every node of a cluster', () => {
  const fx = clusterFixture({
    name: 'sipd-ul-rm-',
    users: ['alice'],
    config: digestNodeConfig(SECRET),
  });

  /** alice REGISTERs from a fresh UA socket through A (0) or B (1): the contact URI it registered */
  async function register(node: 0 | 1): Promise<string> {
    const n = fx.nodes[node]!;
    const before = new Set(await held(node));
    const r = await udpRegister({ host: `127.0.0.${node + 1}`, port: n.sipPort, srcIp: UA_IP, user: 'alice', password: PASSWORD, realm: REALM, expires: 300, callIdHost: 'ul-rm' });
    assert.equal(statusOf(r), 200, `REGISTER through ${node === 0 ? 'A' : 'B'}`);
    const added = (await held(node)).filter((u) => !before.has(u));
    assert.equal(added.length, 1);
    return added[0]!;
  }
  /** the contact URIs node A (0) or B (1) holds for alice */
  async function held(node: 0 | 1): Promise<string[]> {
    const d = await fx.nodes[node]!.rpc<Dump>('ul.dump');
    return d.Domains[0]!.Domain.AoRs.filter((a) => a.Info.AoR === 'alice').flatMap((a) => a.Info.Contacts.map((c) => c.Contact.Address)).sort();
  }
  /** the RPC's fault as [code, message], or 'ok' */
  async function outcome(node: 0 | 1, method: string, params: unknown[]): Promise<'ok' | [number, string]> {
    try {
      await fx.nodes[node]!.rpc(method, params);
      return 'ok';
    } catch (e) {
      const d = (e as { details?: { rpcCode?: number; rpcMessage?: string } }).details;
      if (d?.rpcCode === undefined) throw e;
      return [d.rpcCode, d.rpcMessage ?? ''];
    }
  }

  async function open() {
    const redis = new Redis(fx.redis.port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    const db = await fx.tdb.open().catch((e: unknown) => (redis.disconnect(), Promise.reject(e)));
    /** alice's contact URIs in the cluster store, with the node each names */
    const inRedis = async () =>
      Object.values(await redis.hgetall('sipd:loc:alice'))
        .map((v) => JSON.parse(v) as { contact: string; node: string })
        .map((o) => `${o.node} ${o.contact}`)
        .sort();
    /** alice's location rows (contacts) */
    const rows = async () => (await db.query<{ contact: string }>("SELECT contact FROM location WHERE username = 'alice'")).map((r) => r.contact).sort();
    return {
      redis,
      rows,
      /** A's copy is `a`, B's is `b`, and so are the cluster store (naming each node) and the location rows */
      async everywhere(what: string, a: string[], b: string[]) {
        const want = JSON.stringify([a, b, [...a.map((u) => `node-a ${u}`), ...b.map((u) => `node-b ${u}`)].sort(), [...a, ...b].sort()]);
        let last = '';
        await until(
          `${what}: A holds ${JSON.stringify(a)}, B ${JSON.stringify(b)}, the same in Redis and the location table`,
          async () => (last = JSON.stringify([await held(0), await held(1), await inRedis(), await rows()])) === want,
          10_000,
        ).catch((e: unknown) => Promise.reject(new Error(`${(e as Error).message}; last [A, B, Redis, rows]: ${last}`)));
      },
      async close() {
        redis.disconnect();
        await db.close();
      },
    };
  }

  test('ul.rm through B removes A\'s binding too; ul.rm_contact through A removes the contact B holds, the other stays', async () => {
    const s = await open();
    try {
      const one = await register(0);
      const two = await register(1);
      await s.everywhere('registered through A and through B', [one], [two]);

      assert.equal(await outcome(1, 'ul.rm', ['location', 'alice']), 'ok');
      await s.everywhere('after ul.rm through B', [], []);
      assert.equal(await s.redis.exists('sipd:loc:alice'), 0, 'no key left in Redis');

      // B holds nothing of alice now: ul.rm through it still reaches A's binding
      const three = await register(0);
      await s.everywhere('registered through A only', [three], []);
      assert.equal(await outcome(1, 'ul.rm', ['location', 'alice']), 'ok');
      await s.everywhere('after ul.rm through B, which held none of alice\'s', [], []);

      const four = await register(0);
      const five = await register(1);
      await s.everywhere('registered through A and through B again', [four], [five]);
      assert.equal(await outcome(0, 'ul.rm_contact', ['location', 'alice', five]), 'ok');
      await s.everywhere('after ul.rm_contact through A of B\'s contact', [four], []);

      // Kamailio's faults, over every node's bindings
      assert.deepEqual(await outcome(1, 'ul.rm_contact', ['location', 'alice', five]), [404, 'Contact not found'], 'a contact no node holds');
      assert.deepEqual(await outcome(1, 'ul.rm_contact', ['location', 'nobody', four]), [404, 'AOR not found'], 'an AoR no node holds');
      assert.equal(await outcome(1, 'ul.rm_contact', ['location', 'alice', four]), 'ok', 'B holds no alice: A\'s contact found in Redis');
      await s.everywhere('after ul.rm_contact through B of A\'s contact', [], []);
      assert.equal(await outcome(0, 'ul.rm', ['location', 'nobody']), 'ok', 'ul.rm of an AoR no node holds: {} as Kamailio');
    } finally {
      await s.close();
    }
  });

  test('ul.lookup through B lists the contact alice registered through A, as A wrote it; sipctl ul show and ul rm through B find it', async () => {
    const s = await open();
    try {
      const one = await register(0);
      await s.everywhere('registered through A only', [one], []);
      const viaA = await fx.nodes[0]!.rpc<Lookup>('ul.lookup', ['location', 'alice']);
      const viaB = await fx.nodes[1]!.rpc<Lookup>('ul.lookup', ['location', 'alice']);
      assert.equal(viaB.AoR, 'alice');
      assert.deepEqual(viaB.Contacts.map((c) => c.Contact.Address), [one], 'B lists A\'s contact');
      const a = viaA.Contacts[0]!.Contact;
      const b = viaB.Contacts[0]!.Contact;
      assert.deepEqual(Object.keys(b), Object.keys(a), 'Kamailio\'s keys, in its order');
      // the record A wrote (its socket, Call-ID, ruid, …); whether A's row is written only A knows
      const { State: stateA, Expires: expA, ...restA } = a;
      const { State: stateB, Expires: expB, ...restB } = b;
      assert.deepEqual(restB, restA);
      assert.equal(stateA, 'CS_SYNC');
      assert.equal(stateB, 'CS_UNKNOWN');
      assert.ok(typeof expA === 'number' && typeof expB === 'number' && Math.abs(expA - expB) <= 1, `Expires ${expA} / ${expB}`);
      assert.match(String(b.Socket), new RegExp(`^udp:127\\.0\\.0\\.1:${fx.nodes[0]!.sipPort}$`), 'A\'s socket');
      assert.deepEqual(await held(1), [], 'ul.dump stays per node: B holds none of alice');

      const env = isolatedEnv({ NO_COLOR: '1' });
      const show = await runSipctl(['ul', 'show', 'alice', '--rpc', fx.nodes[1]!.rpcUrl], { env });
      assert.equal(show.code, 0, show.stderr);
      assert.ok(show.stdout.includes(one), `sipctl ul show through B lists ${one}: ${show.stdout}`);
      const rm = await runSipctl(['ul', 'rm', 'alice', '--yes', '--rpc', fx.nodes[1]!.rpcUrl], { env });
      assert.equal(rm.code, 0, rm.stderr);
      await s.everywhere('after sipctl ul rm through B', [], []);
      for (const node of [0, 1] as const) assert.deepEqual(await outcome(node, 'ul.lookup', ['location', 'alice']), [500, 'AOR not found in location table']);
      const gone = await runSipctl(['ul', 'rm', 'alice', '--yes', '--rpc', fx.nodes[1]!.rpcUrl], { env });
      assert.equal(gone.code, 3, `nothing left to remove: not registered. ${gone.stderr}`);
    } finally {
      // alice goes also when an assertion failed, so the next test starts from nothing
      await fx.nodes[0]!.rpc('ul.rm', ['location', 'alice']).catch(() => undefined);
      await s.close();
    }
  });

  test('sipctl ul rm (the built CLI) through B removes alice on both nodes', async () => {
    const s = await open();
    try {
      const one = await register(0);
      const two = await register(1);
      await s.everywhere('registered through A and through B', [one], [two]);
      const env = isolatedEnv({ NO_COLOR: '1' });
      const r = await runSipctl(['ul', 'rm', 'alice', '--yes', '--rpc', fx.nodes[1]!.rpcUrl], { env });
      assert.equal(r.code, 0, r.stderr);
      await s.everywhere('after sipctl ul rm through B', [], []);
    } finally {
      await s.close();
    }
  });

  test('sipctl ul show alice --node all (the built CLI): each binding once, naming the nodes that listed it; --json keeps each node\'s answer', async () => {
    const s = await open();
    const dir = mkdtempSync(join(tmpdir(), 'sipctl-ul-show-'));
    try {
      const one = await register(0);
      const two = await register(1);
      await s.everywhere('registered through A and through B', [one], [two]);
      const cfg = join(dir, 'config.json');
      writeFileSync(cfg, JSON.stringify({ nodes: { a: fx.nodes[0]!.rpcUrl, b: fx.nodes[1]!.rpcUrl } }), { mode: 0o600 });
      const env = isolatedEnv({ NO_COLOR: '1', SIPCTL_CONFIG: cfg });

      // piped: tab-separated NODE, AOR, CONTACT, …; every node lists both bindings (read from Redis)
      const text = await runSipctl(['ul', 'show', 'alice', '--node', 'all'], { env });
      assert.equal(text.code, 0, text.stderr);
      const rows = text.stdout.trim().split('\n').map((l) => l.split('\t').slice(0, 3));
      assert.deepEqual(rows.map(([node, aor, contact]) => [node, aor, contact]).sort(), [['a,b', 'alice', one], ['a,b', 'alice', two]].sort(), `one row per binding, each listed by a and b: ${text.stdout}`);

      // --json: the envelope as before, one answer per node, the same bindings (same ruid) in each
      const json = await runSipctl(['ul', 'show', 'alice', '--node', 'all', '--json'], { env });
      assert.equal(json.code, 0, json.stderr);
      const doc = JSON.parse(json.stdout) as { nodes: Array<{ node: string; ok: boolean; result: { aor: string; contacts: Array<{ contact: string; ruid: string }> } }>; warnings: string[] };
      assert.deepEqual(Object.keys(doc).sort(), ['nodes', 'warnings']);
      assert.deepEqual(doc.nodes.map((n) => [n.node, n.ok, n.result.aor]), [['a', true, 'alice'], ['b', true, 'alice']]);
      const bindings = (i: number) => doc.nodes[i]!.result.contacts.map((c) => `${c.ruid} ${c.contact}`).sort();
      assert.deepEqual(bindings(0).map((b) => b.split(' ')[1]).sort(), [one, two].sort());
      assert.deepEqual(bindings(1), bindings(0), 'both nodes answer with the same bindings, the same ruids');
    } finally {
      await fx.nodes[0]!.rpc('ul.rm', ['location', 'alice']).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
      await s.close();
    }
  });

  test('Redis away: ul.rm and ul.rm_contact fail (503 Cluster store unreachable) and remove nothing; Redis back: they work again', async () => {
    const s = await open();
    let stopped = false;
    try {
      const one = await register(0);
      await s.everywhere('registered through A', [one], []);
      s.redis.disconnect();
      await fx.redis.stop();
      stopped = true;
      await until('both nodes see Redis down', async () => {
        for (const n of fx.nodes) if ((await n.rpc<{ up: boolean }>('cluster.stats')).up) return false;
        return true;
      }, 20_000);
      assert.deepEqual(await outcome(1, 'ul.rm', ['location', 'alice']), [503, 'Cluster store unreachable']);
      assert.deepEqual(await outcome(0, 'ul.rm', ['location', 'alice']), [503, 'Cluster store unreachable'], 'also on the node holding the binding: not removed here alone');
      assert.deepEqual(await outcome(0, 'ul.rm_contact', ['location', 'alice', one]), [503, 'Cluster store unreachable']);
      assert.deepEqual(await outcome(1, 'ul.rm_contact', ['location', 'alice', one]), [503, 'Cluster store unreachable']);
      // ul.lookup: a fault, not the node's own copy (A would list alice, B would say not registered)
      assert.deepEqual(await outcome(0, 'ul.lookup', ['location', 'alice']), [503, 'Cluster store unreachable']);
      assert.deepEqual(await outcome(1, 'ul.lookup', ['location', 'alice']), [503, 'Cluster store unreachable']);
      const env = isolatedEnv({ NO_COLOR: '1' });
      for (const [what, args] of [
        ['sipctl ul rm through A', ['ul', 'rm', 'alice', '--yes', '--rpc', fx.nodes[0]!.rpcUrl]],
        ['sipctl ul rm through B', ['ul', 'rm', 'alice', '--yes', '--rpc', fx.nodes[1]!.rpcUrl]],
        ['sipctl ul show through B', ['ul', 'show', 'alice', '--rpc', fx.nodes[1]!.rpcUrl]],
      ] as const) {
        const cli = await runSipctl([...args], { env });
        assert.ok(cli.code !== 0 && cli.code !== 3, `${what} fails, and not as 'not registered' (exit ${cli.code}): ${cli.stderr}`);
        assert.match(cli.stderr, /Cluster store unreachable/, what);
        assert.equal(cli.stderr.trim().split('\n').length, 1, `${what}: one line: ${cli.stderr}`);
        assert.equal(cli.stdout, '', what);
      }
      assert.deepEqual(await held(0), [one], 'A keeps its binding');
      assert.deepEqual(await s.rows(), [one], 'and its row');

      await fx.redis.start();
      stopped = false;
      for (const n of fx.nodes) await clusterReady(n, fx.nodes.length);
      await s.redis.connect();
      // Redis came back empty: A gave its binding back
      await s.everywhere('Redis back', [one], []);
      assert.equal(await outcome(1, 'ul.rm', ['location', 'alice']), 'ok');
      await s.everywhere('after ul.rm through B, Redis back', [], []);
    } finally {
      if (stopped) await fx.redis.start().catch(() => undefined);
      await s.close();
    }
  });
});
