// A call refused after the active-call admission counted it (sipd:calls:<user> in Redis, the
// dialog module's admitShared) gives its place back at once, instead of holding it until
// cluster.dialog_ttl_sec (issue 14): 503 at proxy.max_transactions when the table filled during
// the admission's Redis round trip, and the next hop unreachable before a branch exists. Real
// sipd processes (with and without --cluster), a real Redis, raw UDP callers (test/daemon/raw-sip.ts)
// and a slow trunk that answers INVITEs with 100 Trying only, so each call keeps its server
// transaction open. The 503 at max_transactions writes the call's CDR like every other refusal
// (acc_cdrs: 503, rejected).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../src/core/db/database.js';
import { addSubscriber } from '../../src/core/subscribers/subscribers.js';
import { requireTools } from '../helpers/require.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { until } from '../helpers/until.js';
import { answeringTrunk, caller, redisCommand, udpPeer, type Peer } from './raw-sip.js';
import { header } from './sip-message.js';
import { assertBuilt, freeSipPort, makeDb, startSipd, statusOf, type SipdProcess } from './sipd-process.js';

const PASSWORD = 'Tr0ub4dor-Horse-77';
const REALM = 'sip.test';
/** proxy.max_transactions' smallest allowed value */
const MAX_TX = 10;

async function subscribers(dir: string, users: string[]): Promise<string> {
  const dbUrl = await makeDb(dir);
  const db = await openDatabase(dbUrl);
  try {
    for (const u of users) await addSubscriber(db, u, REALM, PASSWORD, { hash: 'md5', storePlaintext: false });
  } finally {
    await db.close();
  }
  return dbUrl;
}

const alive = (p: SipdProcess) => p.child.exitCode === null && p.child.signalCode === null;
const zcard = async (redis: RedisServer, user: string) => Number((await redisCommand(redis.port, `ZCARD sipd:calls:${user}`)).slice(1));

describe('sipd --cluster: a call refused after the shared active-call admission gives its place back', () => {
  before(() => requireTools('redis-server'));
  let dir: string;
  let redis: RedisServer;
  let sipd: SipdProcess;
  let trunk: Peer & { invites: string[] };
  let phone: Peer;
  let phoneBob: Peer;

  before(async () => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), 'sipd-late-refusal-'));
    redis = await startRedis(dir);
    const dbUrl = await subscribers(dir, ['alice', 'bob']);
    trunk = await answeringTrunk('127.0.0.2', '100 Trying');
    phone = await udpPeer('127.0.0.1');
    phoneBob = await udpPeer('127.0.0.1');
    sipd = await startSipd({
      dbUrl,
      sipPort: await freeSipPort(),
      config: {
        cluster: { url: `redis://127.0.0.1:${redis.port}/0`, node_id: 'node-l', timeout_ms: 10_000 },
        modules: {
          'auth-db': { realm: REALM },
          country: { source: 'none' },
          proxy: { carrier_host: '127.0.0.2', carrier_port: trunk.port, max_transactions: MAX_TX },
          // alice's calls are counted in Redis; bob has no limit (his admission waits on nothing)
          dialog: { max_calls_per_user: 50, user_limits: 'bob=-1' },
        },
      },
    });
    await until('the cluster is up', async () => (await sipd.rpc<{ up: boolean }>('cluster.nodes')).up === true, 15_000);
  });

  after(async () => {
    if (redis !== undefined) await redisCommand(redis.port, 'CLIENT UNPAUSE').catch(() => undefined);
    if (sipd !== undefined && alive(sipd)) await sipd.stop();
    trunk?.close();
    phone?.close();
    phoneBob?.close();
    await redis?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  test('503 at max_transactions when the table filled during the admission: alice\'s count is back at once; a call while full is never counted', async () => {
    const target = `sip:+4930123456@127.0.0.1:${sipd.sipPort}`;
    const alice = caller(phone, { host: '127.0.0.1', port: sipd.sipPort }, { user: 'alice', fromHost: '127.0.0.1', password: PASSWORD });
    const bob = caller(phoneBob, { host: '127.0.0.1', port: sipd.sipPort }, { user: 'bob', fromHost: '127.0.0.1', password: PASSWORD });
    // MAX_TX - 1 calls of alice, each held open by the trunk's 100 Trying
    for (let i = 0; i < MAX_TX - 1; i++) {
      const tx = await alice.prepare(target);
      alice.send(tx);
      await until(`call ${i + 1} at the trunk`, () => trunk.invites.length === i + 1);
    }
    assert.equal(await zcard(redis, 'alice'), MAX_TX - 1);
    assert.equal((await sipd.rpc<{ server_transactions: number }>('proxy.stats')).server_transactions, MAX_TX - 1);

    // alice's next call waits in the shared admission (Redis writes paused); meanwhile bob's call,
    // which waits on nothing, takes the last server transaction. Both dial the number at the
    // trunk's host (not sipd's): no registration lookup, whose Redis read would queue behind the
    // paused script on sipd's connection.
    const direct = 'sip:+4930123456@127.0.0.2';
    const late = await alice.prepare(direct);
    const bobTx = await bob.prepare(direct);
    assert.equal(await redisCommand(redis.port, 'CLIENT PAUSE 1500 WRITE'), '+OK');
    alice.send(late);
    // sipd's connection is held by the pause (the admission's script, or a write queued before it)
    await until('a sipd command waiting on the paused Redis', async () => /^blocked_clients:[1-9]/m.test(await redisCommand(redis.port, 'INFO clients')));
    bob.send(bobTx);
    await until('bob\'s call at the trunk', () => trunk.invites.some((t) => header(t, 'call-id') === header(bobTx.text, 'call-id'))).catch((e: Error) => {
      throw new Error(`${e.message}; bob got ${JSON.stringify(bobTx.replies().map(statusOf))}, alice ${JSON.stringify(late.replies().map(statusOf))}\n${sipd.output().slice(-3000)}`);
    });
    const status = await alice.finish(late);
    assert.equal(status, 503, `${late.replies().join('\n----\n')}\n${sipd.output().slice(-2000)}`);
    assert.ok(!trunk.invites.some((t) => header(t, 'call-id') === header(late.text, 'call-id')), 'the refused call never reached the trunk');
    // before: MAX_TX until cluster.dialog_ttl_sec ran out
    await until('alice\'s shared count back to her open calls', async () => (await zcard(redis, 'alice')) === MAX_TX - 1);
    const member = `node-l|${header(late.text, 'call-id')}|`;
    const members = (await redisCommand(redis.port, 'ZRANGE sipd:calls:alice 0 -1')).toString();
    assert.ok(!members.includes(member), members);

    // full now: the next call is refused before the limits count it anywhere
    const full = await alice.prepare(target);
    alice.send(full);
    assert.equal(await alice.finish(full), 503);
    assert.equal(await zcard(redis, 'alice'), MAX_TX - 1);
    const d = await sipd.rpc<{ active: number }>('dialog.stats');
    assert.equal(d.active, MAX_TX, JSON.stringify(d)); // alice's open calls and bob's
    assert.equal(await sipd.rpc<number>('dlg.profile_get_size', ['caller', 'alice']), MAX_TX - 1);
  });
});

describe('sipd --cluster: a call whose next hop cannot be reached (no branch made) gives its place back', () => {
  before(() => requireTools('redis-server'));
  let dir: string;
  let redis: RedisServer;
  let sipd: SipdProcess;
  let phone: Peer;

  before(async () => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), 'sipd-late-refusal-hop-'));
    redis = await startRedis(dir);
    const dbUrl = await subscribers(dir, ['alice']);
    phone = await udpPeer('127.0.0.1');
    sipd = await startSipd({
      dbUrl,
      sipPort: await freeSipPort(),
      config: {
        cluster: { url: `redis://127.0.0.1:${redis.port}/0`, node_id: 'node-h', timeout_ms: 10_000 },
        modules: {
          'auth-db': { realm: REALM },
          country: { source: 'none' },
          // a TCP trunk needs a connection the carrier opened: there is none, so no path to it
          proxy: { carrier_host: '127.0.0.2', carrier_port: 5999, carrier_transport: 'tcp' },
          dialog: { max_calls_per_user: 5 },
        },
      },
    });
    await until('the cluster is up', async () => (await sipd.rpc<{ up: boolean }>('cluster.nodes')).up === true, 15_000);
  });

  after(async () => {
    if (sipd !== undefined && alive(sipd)) await sipd.stop();
    phone?.close();
    await redis?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  test('503 from the unreachable trunk, sipd:calls:alice empty again', async () => {
    const alice = caller(phone, { host: '127.0.0.1', port: sipd.sipPort }, { user: 'alice', fromHost: '127.0.0.1', password: PASSWORD });
    for (let i = 0; i < 2; i++) {
      const tx = await alice.prepare(`sip:+4930123456@127.0.0.1:${sipd.sipPort}`);
      alice.send(tx);
      assert.equal(await alice.finish(tx), 503, tx.replies().join('\n----\n'));
      // before: one more member for each such call until cluster.dialog_ttl_sec
      await until(`call ${i + 1}: alice's shared count empty again`, async () => (await zcard(redis, 'alice')) === 0);
    }
    assert.equal(await sipd.rpc<number>('dlg.profile_get_size', ['caller', 'alice']), 0);
  });
});

describe('sipd alone: 503 at max_transactions leaves the local active-call count as it was', () => {
  let dir: string;
  let dbUrl: string;
  let sipd: SipdProcess;
  let trunk: Peer & { invites: string[] };
  let phone: Peer;

  before(async () => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), 'sipd-late-refusal-local-'));
    dbUrl = await subscribers(dir, ['alice']);
    trunk = await answeringTrunk('127.0.0.2', '100 Trying');
    phone = await udpPeer('127.0.0.1');
    sipd = await startSipd({
      dbUrl,
      sipPort: await freeSipPort(),
      config: {
        modules: {
          'auth-db': { realm: REALM },
          country: { source: 'none' },
          proxy: { carrier_host: '127.0.0.2', carrier_port: trunk.port, max_transactions: MAX_TX },
          dialog: { max_calls_per_user: 50 },
        },
      },
    });
  });

  after(async () => {
    if (sipd !== undefined && alive(sipd)) await sipd.stop();
    trunk?.close();
    phone?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  test('MAX_TX open calls, the next one 503: alice\'s count stays MAX_TX', async () => {
    const target = `sip:+4930123456@127.0.0.1:${sipd.sipPort}`;
    const alice = caller(phone, { host: '127.0.0.1', port: sipd.sipPort }, { user: 'alice', fromHost: '127.0.0.1', password: PASSWORD });
    for (let i = 0; i < MAX_TX; i++) {
      const tx = await alice.prepare(target);
      alice.send(tx);
      await until(`call ${i + 1} at the trunk`, () => trunk.invites.length === i + 1);
    }
    const refused = await alice.prepare(target);
    alice.send(refused);
    assert.equal(await alice.finish(refused), 503);
    assert.equal(await sipd.rpc<number>('dlg.profile_get_size', ['caller', 'alice']), MAX_TX);
    assert.equal((await sipd.rpc<{ active: number }>('dialog.stats')).active, MAX_TX);
    assert.equal(statusOf(refused.final()), 503);
    // its CDR, like any refusal of a new call (before: none for this one)
    const db = await openDatabase(dbUrl);
    try {
      const read = () => db.query<{ sip_code: string | number; end_reason: string }>('SELECT sip_code, end_reason FROM acc_cdrs WHERE callid = ?', [header(refused.text, 'call-id')]);
      await until('the refused call\'s CDR', async () => (await read()).length > 0, 5000);
      assert.deepEqual((await read()).map((r) => [Number(r.sip_code), r.end_reason]), [[503, 'rejected']]);
    } finally {
      await db.close();
    }
  });
});
