// An INVITE retransmitted (UDP, RFC 3261 §17.1.1 Timer A) while sipd is still admitting the first
// copy — digest check, registration lookup, calls-per-second pipes, the shared active-call count,
// all before the server transaction exists — is absorbed as that transaction would absorb it
// (§17.2.1), with a 100 Trying: the call is authenticated, counted and relayed once. A real
// sipd --cluster whose admission waits on a Redis held by CLIENT PAUSE WRITE; a raw UDP caller
// sends the authenticated INVITE and the same bytes again at 0.5, 1 and 2 s; the trunk (raw UDP,
// 127.0.0.2) answers 486.
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
import { busyTrunk, caller, redisCommand, udpPeer, type Peer } from './raw-sip.js';
import { assertBuilt, freeSipPort, makeDb, startSipd, statusOf, type SipdProcess } from './sipd-process.js';

const PASSWORD = 'Tr0ub4dor-Horse-77';
const REALM = 'sip.test';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('sipd: an INVITE retransmitted while the first copy is being admitted is absorbed, admitted and relayed once', () => {
  before(() => requireTools('redis-server'));
  let dir: string;
  let redis: RedisServer;
  let sipd: SipdProcess;
  let trunk: Peer & { invites: string[] };
  let phone: Peer;

  before(async () => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), 'sipd-inv-retrans-'));
    redis = await startRedis(dir);
    const dbUrl = await makeDb(dir);
    const db = await openDatabase(dbUrl);
    try {
      await addSubscriber(db, 'alice', REALM, PASSWORD, { hash: 'md5', storePlaintext: false });
    } finally {
      await db.close();
    }
    trunk = await busyTrunk('127.0.0.2');
    phone = await udpPeer('127.0.0.1');
    sipd = await startSipd({
      dbUrl,
      sipPort: await freeSipPort(),
      config: {
        cluster: { url: `redis://127.0.0.1:${redis.port}/0`, node_id: 'node-i', timeout_ms: 10_000 },
        modules: {
          'auth-db': { realm: REALM },
          country: { source: 'none' },
          proxy: { carrier_host: '127.0.0.2', carrier_port: trunk.port },
          // both admissions that wait on Redis in a cluster, and pipes counted over a minute
          dialog: { max_calls_per_user: 5 },
          pipelimit: { cps_total: 1000, cps_per_user: 100, timer_interval: 60 },
        },
      },
    });
  });

  after(async () => {
    if (redis !== undefined) await redisCommand(redis.port, 'CLIENT UNPAUSE').catch(() => undefined);
    if (sipd !== undefined && sipd.child.exitCode === null && sipd.child.signalCode === null) await sipd.stop();
    trunk?.close();
    phone?.close();
    await redis?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  test('copies at 0.5, 1 and 2 s while Redis writes wait 2.5 s: one INVITE reaches the trunk, one count in each pipe, 100 Trying to the copies', async () => {
    const alice = caller(phone, { host: '127.0.0.1', port: sipd.sipPort }, { user: 'alice', fromHost: '127.0.0.1', password: PASSWORD });
    const tx = await alice.prepare(`sip:+4930123456@127.0.0.1:${sipd.sipPort}`);
    const before = await sipd.rpc<{ relayed: number; absorbed_pending: number }>('proxy.stats');
    const linesBefore = sipd.lines().length;

    assert.equal(await redisCommand(redis.port, 'CLIENT PAUSE 2500 WRITE'), '+OK');
    alice.send(tx);
    let copies = 0;
    for (const wait of [500, 500, 1000]) {
      await sleep(wait);
      alice.send(tx); // the UA's Timer A retransmissions, byte for byte
      copies++;
    }
    const status = await alice.finish(tx);
    const statuses = tx.replies().map(statusOf);
    const trace = `replies ${JSON.stringify(statuses)}\n${sipd.output().slice(-3000)}`;
    assert.equal(status, 486, trace);
    assert.ok(!statuses.some((s) => s !== 100 && s !== 486), `only 100 Trying and the trunk's 486: ${trace}`);

    assert.equal(trunk.invites.length, 1, `one INVITE at the trunk:\n${trunk.invites.join('\n----\n')}`);
    const after = await sipd.rpc<{ relayed: number; absorbed_pending: number }>('proxy.stats');
    assert.equal(after.relayed - before.relayed, 1, 'relayed once');
    const pipes = await sipd.rpc<Array<{ name: string; counter: number }>>('pl.get_pipes');
    assert.equal(pipes.find((p) => p.name === 'cps')?.counter, 1, `one call through the overall pipe: ${JSON.stringify(pipes)}`);
    assert.equal(pipes.find((p) => p.name === 'cps:alice')?.counter, 1, `one call through alice's pipe: ${JSON.stringify(pipes)}`);
    // in a cluster the pipes are shared (Redis): one admission there too, one round trip
    assert.equal(await redisCommand(redis.port, 'ZCARD sipd:pl:cps'), ':1');
    assert.equal(await redisCommand(redis.port, 'ZCARD sipd:pl:cps:alice'), ':1');
    const pl = await sipd.rpc<{ shared: boolean; shared_checks: number }>('pipelimit.stats');
    assert.deepEqual([pl.shared, pl.shared_checks], [true, 1], JSON.stringify(pl));
    const dialogs = await sipd.rpc<{ created: number }>('dialog.stats');
    assert.equal(dialogs.created, 1, `one dialog: ${JSON.stringify(dialogs)}`);
    const events = sipd.lines().slice(linesBefore).filter((l) => l.event === 'auth-failed' || JSON.stringify(l).includes('replay'));
    assert.deepEqual(events, [], 'no replay / auth-failed event');
    // every copy was answered: a 100 Trying while pending (or from the transaction), never a refusal
    assert.ok(statuses.filter((s) => s === 100).length >= copies, trace);
    assert.ok(after.absorbed_pending - before.absorbed_pending >= 1, `copies absorbed while pending: ${JSON.stringify(after)}`);
  });

  test('a CANCEL while the INVITE waits on Redis: 200 for the CANCEL, 487 for the INVITE, nothing relayed, the active-call count given back', async () => {
    const alice = caller(phone, { host: '127.0.0.1', port: sipd.sipPort }, { user: 'alice', fromHost: '127.0.0.1', password: PASSWORD });
    const tx = await alice.prepare(`sip:+4930123456@127.0.0.1:${sipd.sipPort}`);
    const invitesBefore = trunk.invites.length;
    const failedBefore = (await sipd.rpc<{ failed: number }>('dialog.stats')).failed;
    assert.equal(await redisCommand(redis.port, 'CLIENT PAUSE 2000 WRITE'), '+OK');
    alice.send(tx);
    await sleep(300);
    const cancelled = alice.cancel(tx);
    const ok = await until('200 for the CANCEL', () => cancelled(), 5000);
    assert.equal(statusOf(ok), 200, ok);
    assert.equal(tx.final(), undefined, 'the INVITE is still being admitted (Redis paused) when the CANCEL is answered');
    assert.equal(await alice.finish(tx), 487, `${tx.replies().join('\n----\n')}\n${sipd.output().slice(-2000)}`);
    assert.equal(trunk.invites.length, invitesBefore, 'nothing reached the trunk');
    await until('the shared active-call count is given back', async () => (await redisCommand(redis.port, 'ZCARD sipd:calls:alice')) === ':0');
    const d = await sipd.rpc<{ failed: number; active: number }>('dialog.stats');
    assert.equal(d.failed, failedBefore + 1, JSON.stringify(d));
    assert.equal(d.active, 0, JSON.stringify(d));
  });
});
