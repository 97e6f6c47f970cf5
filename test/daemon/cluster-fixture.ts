/**
 * The sipd cluster the process tests share (test/daemon/cluster*.test.ts,
 * register-retransmission.test.ts): a private Redis (test/helpers/redis.ts), one MariaDB database
 * with the test's subscribers, and sipd nodes (bin/sipd.js, built) on 127.0.0.1, 127.0.0.2, …
 * Called inside a describe(): it adds the before/after hooks and fills the fixture in `before`.
 *
 * Ready means the cluster is usable, not only that each sipd answers RPC: a node whose first
 * Redis round trips time out at start (a loaded machine) starts on local state and answers
 * REGISTER 503 until its next heartbeat, so `before` waits until every node reports the cluster
 * up and (with two nodes) both members alive. When a test fails, the nodes' warnings and errors
 * logged during it are printed as diagnostics under it (they are the only trace of a 503 or a
 * refused hand-off once the run is gone).
 */
import { after, afterEach, before, beforeEach, type TestContext } from 'node:test';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Database } from '../../src/core/db/database.js';
import { addSubscriber } from '../../src/core/subscribers/subscribers.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { requireTools } from '../helpers/require.js';
import { until } from '../helpers/until.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { registerRequest, registerWithDigest, udpFinalReply } from './sip-message.js';
import { assertBuilt, freeSipPort, startSipd, type SipdProcess } from './sipd-process.js';

export const PASSWORD = 'Tr0ub4dor-Horse-77';
export const REALM = 'sip.test';

export interface ClusterOptions {
  /** prefix of the temporary directory (Redis' files) */
  name: string;
  /** subscribers made in the database, each with PASSWORD in REALM */
  users: string[];
  /** how many sipd nodes: node-a on 127.0.0.1, node-b on 127.0.0.2 (default 2) */
  nodes?: number;
  /** the config of node i (0, 1, …) given its listen IP, SIP port, node id and the Redis URL */
  config(node: ClusterNode & { index: number }): Record<string, unknown>;
  /** tools the tests need besides redis-server (a missing one fails the suite) */
  tools?: string[];
  /** run first in `after`, before the nodes stop (e.g. undo a CLIENT PAUSE) */
  beforeStop?(fx: ClusterFixture): Promise<void>;
  /** how the nodes reach Redis: TCP on 127.0.0.1 (default), or its unix socket (unix://PATH) */
  redis?: 'tcp' | 'unix';
}

/** What ClusterOptions.config gets: node i's listen IP, SIP port, node id and the Redis URL. */
export interface ClusterNode {
  ip: string;
  port: number;
  id: string;
  redisUrl: string;
}

/**
 * The config of a node that registers users with digest (realm REALM, nonces signed with
 * `secret`) on UDP at its address, in the cluster; `cluster` and `modules` add to it (usrloc, a
 * timeout_ms).
 */
export function digestNodeConfig(secret: string, extra: { cluster?: Record<string, unknown>; modules?: Record<string, unknown> } = {}) {
  return (n: ClusterNode) => ({
    listen: [`udp:${n.ip}:${n.port}`],
    cluster: { url: n.redisUrl, node_id: n.id, ...extra.cluster },
    modules: { scanner: { user_agents: ['friendly-scanner'] }, 'auth-db': { realm: REALM, secret }, ...extra.modules },
  });
}

/**
 * A UA of `user` (password PASSWORD) on the bound UDP socket `sock`: one Call-ID (`…@tag`), CSeq
 * counting up. register() sends one REGISTER through node A (0, 127.0.0.1) or B (1, 127.0.0.2),
 * answered with digest (two CSeqs); `contact` undefined: a query (no Contact, no Expires).
 */
export function clusterUa(fx: ClusterFixture, sock: dgram.Socket, user: string, tag: string) {
  const { address: ip, port: local } = sock.address();
  const callId = `${randomBytes(8).toString('hex')}@${tag}`;
  let cseq = 0;
  return {
    /** the socket's contact URI (`line` gives a second one on the same socket) */
    uri: (line?: number) => `sip:${user}@${ip}:${local}${line === undefined ? '' : `;line=${line}`}`,
    register(node: 0 | 1, contact: string | undefined, expires: number): Promise<string | undefined> {
      const n = fx.nodes[node]!;
      const host = node === 0 ? '127.0.0.1' : '127.0.0.2';
      const uri = `sip:${host}:${n.sipPort}`;
      const request = (auth?: string) => {
        const text = registerRequest({ uri, via: `UDP ${ip}:${local}`, user, realm: REALM, fromTag: randomBytes(4).toString('hex'), callId, cseq: ++cseq, contact: contact ?? '', expires, auth });
        return contact === undefined ? text.replace(/^Contact: .*\r\n/m, '').replace(/^Expires: .*\r\n/m, '') : text;
      };
      return registerWithDigest({ user, password: PASSWORD, uri, request, exchange: (text) => udpFinalReply(sock, text, n.sipPort, host) });
    },
  };
}

/** What withClusterClients gives its body. */
export interface ClusterClients {
  /** a client of the fixture's Redis (the cluster store) */
  redis: Redis;
  /** the test database (the location table) */
  db: Database;
  /** UDP sockets bound on the test's UA address, each on a port of its own (for clusterUa) */
  socks: dgram.Socket[];
}

/**
 * `body` with what a test reads and registers through besides the nodes: a Redis client, the
 * database and `count` UDP sockets bound on `uaIp` — all closed after it, also when it fails or
 * when opening one of them fails.
 */
export async function withClusterClients<T>(fx: ClusterFixture, uaIp: string, count: number, body: (c: ClusterClients) => Promise<T>): Promise<T> {
  const redis = new Redis(fx.redis.port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1 });
  let db: Database | undefined;
  const socks: dgram.Socket[] = [];
  try {
    await redis.connect();
    db = await fx.tdb.open();
    for (let i = 0; i < count; i++) {
      const s = dgram.createSocket('udp4');
      socks.push(s);
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.bind({ address: uaIp, port: 0 }, () => (s.off('error', reject), resolve()));
      });
    }
    return await body({ redis, db, socks });
  } finally {
    for (const s of socks) s.close();
    redis.disconnect();
    await db?.close();
  }
}

export interface ClusterFixture {
  redis: RedisServer;
  tdb: TestDb;
  dir: string;
  nodes: SipdProcess[];
}

/** How long a node may take to report the cluster up after it answers RPC (first heartbeat: 2 s). */
const READY_MS = 20_000;

/** Waits until `n` reports the cluster up and `members` nodes alive (cluster.nodes reads Redis). */
export async function clusterReady(n: SipdProcess, members: number): Promise<void> {
  await until(`${n.rpcUrl}: cluster up with ${members} live member(s)`, async () => {
    const r = await n.rpc<{ up: boolean; nodes: Array<{ alive: boolean }> }>('cluster.nodes');
    return r.up && r.nodes.filter((x) => x.alive).length === members;
  }, READY_MS);
}

/**
 * Waits until `n` has read the membership again after the call (its own view, from which it
 * decides what a member's address may send: cluster.nodes reads Redis, this waits for the node).
 * A heartbeat counts one when it starts; two more mean one started and ended after this call.
 */
export async function membershipRead(n: SipdProcess): Promise<void> {
  const h0 = (await n.rpc<{ heartbeats: number }>('cluster.stats')).heartbeats;
  await until(`${n.rpcUrl}: a heartbeat read`, async () => (await n.rpc<{ heartbeats: number }>('cluster.stats')).heartbeats >= h0 + 2, READY_MS);
}

export function clusterFixture(o: ClusterOptions): ClusterFixture {
  const count = o.nodes ?? 2;
  const fx = { nodes: [] } as unknown as ClusterFixture;
  before(() => requireTools('redis-server', ...(o.tools ?? [])));
  before(async () => {
    assertBuilt();
    fx.dir = mkdtempSync(join(tmpdir(), o.name));
    fx.redis = await startRedis(fx.dir);
    fx.tdb = await createTestDb('mysql');
    const db = await fx.tdb.open();
    try {
      for (const u of o.users) await addSubscriber(db, u, REALM, PASSWORD, { hash: 'md5', storePlaintext: false });
    } finally {
      await db.close();
    }
    const ports: number[] = [];
    for (let i = 0; i < count; i++) ports.push(await freeSipPort());
    const redisUrl = o.redis === 'unix' ? `unix://${fx.redis.socketPath}?db=0` : `redis://127.0.0.1:${fx.redis.port}/0`;
    const started = await Promise.allSettled(
      ports.map((port, index) => startSipd({ dbUrl: fx.tdb.fullUrl, sipPort: port, config: o.config({ index, ip: `127.0.0.${index + 1}`, port, id: `node-${String.fromCharCode(97 + index)}`, redisUrl }) })),
    );
    // the nodes that did start are stopped in `after` also when another did not
    fx.nodes = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
    for (const n of fx.nodes) await clusterReady(n, count);
  });

  let mark: number[] = [];
  beforeEach(() => {
    mark = fx.nodes.map((n) => n.output().length);
  });
  afterEach((ctx) => {
    // TestContext.passed (Node 20.12, 21.7) is not in @types/node yet
    const t = ctx as TestContext & { passed?: boolean };
    if (t.passed !== false) return;
    fx.nodes.forEach((n, i) => {
      const said = n
        .output()
        .slice(mark[i] ?? 0)
        .split('\n')
        .filter((l) => /"level":"(warn|error|fatal)"/.test(l) || (l.trim() !== '' && !l.startsWith('{')));
      for (const l of said.slice(-20)) t.diagnostic(`node-${String.fromCharCode(97 + i)}: ${l.slice(0, 400)}`);
    });
  });

  after(async () => {
    if (fx.redis !== undefined) await o.beforeStop?.(fx);
    for (const n of fx.nodes) if (n.child.exitCode === null && n.child.signalCode === null) await n.stop();
    await fx.redis?.stop();
    await fx.tdb?.drop().catch((e) => console.error('drop failed', e));
    if (fx.dir !== undefined) rmSync(fx.dir, { recursive: true, force: true });
  });
  return fx;
}
