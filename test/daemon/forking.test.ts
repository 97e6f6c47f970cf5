// Parallel forking through the real sipd (bin/sipd.js): a user registered from two devices (two
// raw UDP UAs on their own ports) is called at both at once, as Kamailio's lookup() + t_relay()
// do. The first 200 wins and the other device is CANCELled; two busy devices give 486; a contact
// whose port closed without un-registering no longer takes the call; the caller's CANCEL reaches
// every device; the caller's active-call limit counts the forked call once; one CDR per call.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { addSubscriber } from '../../src/core/subscribers/subscribers.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { until } from '../helpers/until.js';
import { clusterFixture } from './cluster-fixture.js';
import { caller, udpPeer, type Peer } from './raw-sip.js';
import { header } from './sip-message.js';
import { assertBuilt, freeSipPort, startSipd, statusOf, type SipdProcess } from './sipd-process.js';
import { Device, PASSWORD, REALM, ackAndBye } from './forking-support.js';

describe('sipd forks a call to every contact of the callee (RFC 3261 §16.6–16.7)', () => {
  // MariaDB, like the cluster below: the test runs under Node 20 and 22 alike (the spawned sipd
  // loads no native SQLite binding)
  let tdb: TestDb;
  let sipd: SipdProcess;
  let phone: Peer;
  const devices: Device[] = [];
  const proxy = () => ({ host: '127.0.0.1', port: sipd.sipPort });
  const bob = () => caller(phone, proxy(), { user: 'bob', fromHost: '127.0.0.1', password: PASSWORD });
  const dialled = (user: string) => `sip:${user}@127.0.0.1:${sipd.sipPort}`;

  async function device(user: string, busy = false): Promise<Device> {
    const d = await Device.open(user, busy);
    devices.push(d);
    await d.register(sipd.sipPort);
    return d;
  }

  /** the CDRs of one Call-ID (acc writes in batches: waits for the first) */
  async function cdrs(callId: string): Promise<Array<{ sip_code: string; end_reason: string; dst_ouser: string }>> {
    const db = await tdb.open();
    try {
      const q = () => db.query<{ sip_code: string; end_reason: string; dst_ouser: string }>('SELECT sip_code, end_reason, dst_ouser FROM acc_cdrs WHERE callid = ?', [callId]);
      await until(`a CDR for ${callId}`, async () => (await q()).length > 0);
      await new Promise((r) => setTimeout(r, 300)); // a second one would come in the same or the next batch
      return await q();
    } finally {
      await db.close();
    }
  }

  before(async () => {
    assertBuilt();
    tdb = await createTestDb('mysql');
    const db = await tdb.open();
    try {
      for (const u of ['alice', 'bob', 'carol', 'dave', 'erin']) await addSubscriber(db, u, REALM, PASSWORD, { hash: 'md5', storePlaintext: false });
    } finally {
      await db.close();
    }
    phone = await udpPeer('127.0.0.1');
    sipd = await startSipd({
      dbUrl: tdb.fullUrl,
      sipPort: await freeSipPort(),
      config: { modules: { 'auth-db': { realm: REALM }, country: { source: 'none' }, dialog: { max_calls_per_user: 1 } } },
    });
  });

  after(async () => {
    if (sipd !== undefined && sipd.child.exitCode === null) await sipd.stop();
    for (const d of devices) d.close();
    phone?.close();
    await tdb?.drop();
  });

  test('both devices ring; one answers: bob gets its 200, the other is CANCELled (487); one dialog counted once against bob\'s limit of 1; one CDR', async () => {
    const desk = await device('alice');
    const soft = await device('alice');
    const b = bob();
    const tx = await b.prepare(dialled('alice'));
    b.send(tx);
    await until('the INVITE at both devices', () => desk.got('INVITE').length > 0 && soft.got('INVITE').length > 0);
    await until('both 180s at bob', () => tx.replies().filter((r) => statusOf(r) === 180).length === 2);
    soft.answer();
    const ok = await until('200 at bob', () => tx.replies().find((r) => statusOf(r) === 200));
    assert.ok(header(ok, 'To')!.includes(`tag=${soft.tag}`), ok);
    await until('CANCEL at the desk phone', () => desk.got('CANCEL').length > 0);
    await until('sipd ACKs the desk phone\'s 487', () => desk.got('ACK').length > 0);
    assert.equal(soft.got('CANCEL').length, 0, 'the device that answered is not cancelled');
    assert.ok(!tx.replies().some((r) => statusOf(r) === 487), 'the 487 goes no further');

    // one call, counted once: bob's next call meets his limit of 1
    assert.equal((await sipd.rpc<unknown[]>('dlg.list')).length, 1);
    assert.equal(await sipd.rpc('dlg.profile_get_size', ['caller', 'bob']), 1);
    const second = await b.prepare(dialled('alice'));
    b.send(second);
    assert.equal(await b.finish(second), 403);
    assert.match(second.final()!, /^SIP\/2\.0 403 No more active calls/);

    assert.equal(await ackAndBye(phone, proxy(), tx, ok), 200);
    await until('the BYE at the device that answered', () => soft.got('BYE').length === 1);
    assert.equal(desk.got('BYE').length, 0);
    await until('the call gone', async () => (await sipd.rpc<unknown[]>('dlg.list')).length === 0);
    assert.equal(await sipd.rpc('dlg.profile_get_size', ['caller', 'bob']), 0);
    const rows = await cdrs(header(tx.text, 'Call-ID')!);
    assert.deepEqual(rows.map((r) => `${r.sip_code} ${r.end_reason}`), ['200 caller-bye']);
  });

  test('both devices busy: bob gets 486 once both have answered; one CDR', async () => {
    const one = await device('carol', true);
    const two = await device('carol', true);
    const b = bob();
    const tx = await b.prepare(dialled('carol'));
    b.send(tx);
    assert.equal(await b.finish(tx), 486, tx.replies().join('\n----\n'));
    assert.equal(one.got('INVITE').length > 0 && two.got('INVITE').length > 0, true, 'both devices were called');
    const rows = await cdrs(header(tx.text, 'Call-ID')!);
    assert.deepEqual(rows.map((r) => `${r.sip_code} ${r.end_reason}`), ['486 failed']);
  });

  test('a device that moved to another port without un-registering: its old contact (the oldest) no longer takes the call', async () => {
    const old = await device('dave');
    const moved = await device('dave');
    old.close(); // the old port is gone; its binding stays until it expires
    const b = bob();
    const tx = await b.prepare(dialled('dave'));
    b.send(tx);
    await until('the INVITE at the new port', () => moved.got('INVITE').length > 0);
    moved.answer();
    const ok = await until('200 at bob', () => tx.replies().find((r) => statusOf(r) === 200), 5000);
    assert.equal(await ackAndBye(phone, proxy(), tx, ok), 200);
    const rows = await cdrs(header(tx.text, 'Call-ID')!);
    assert.deepEqual(rows.map((r) => `${r.sip_code} ${r.end_reason}`), ['200 caller-bye']);
  });

  test('bob CANCELs while both ring: both devices get CANCEL, bob gets 487; one CDR (cancelled)', async () => {
    const one = await device('erin');
    const two = await device('erin');
    const b = bob();
    const tx = await b.prepare(dialled('erin'));
    b.send(tx);
    await until('both 180s at bob', () => tx.replies().filter((r) => statusOf(r) === 180).length === 2);
    const cancelled = b.cancel(tx);
    assert.equal(statusOf(await until('200 to the CANCEL', cancelled)), 200);
    assert.equal(await b.finish(tx), 487);
    await until('CANCEL at both devices', () => one.got('CANCEL').length > 0 && two.got('CANCEL').length > 0);
    assert.equal(tx.replies().filter((r) => statusOf(r) === 487).length >= 1, true);
    const rows = await cdrs(header(tx.text, 'Call-ID')!);
    assert.deepEqual(rows.map((r) => `${r.sip_code} ${r.end_reason}`), ['487 cancelled']);
    assert.equal((await sipd.rpc<unknown[]>('dlg.list')).length, 0);
  });
});

describe('sipd --cluster forks each branch where its contact is: directly, or handed to the node that holds it', () => {
  const fx = clusterFixture({
    name: 'sipd-cluster-forking-',
    users: ['alice', 'bob', 'frank'],
    config: ({ ip, port, id, redisUrl }) => ({
      listen: [`udp:${ip}:${port}`],
      cluster: { url: redisUrl, node_id: id, timeout_ms: 2000 },
      modules: { scanner: { user_agents: ['friendly-scanner'] }, 'auth-db': { realm: REALM, secret: 'a-cluster-forking-secret-of-32-chars-or-more' } },
    }),
  });
  let phone: Peer;
  const devices: Device[] = [];
  const A = () => ({ host: '127.0.0.1', port: fx.nodes[0]!.sipPort });
  const B = () => ({ host: '127.0.0.2', port: fx.nodes[1]!.sipPort });
  before(async () => {
    phone = await udpPeer('127.0.0.1');
  });
  after(() => {
    for (const d of devices) d.close();
    phone?.close();
  });

  async function device(user: string, ip: string, through: { host: string; port: number }): Promise<Device> {
    const d = await Device.open(user, false, ip);
    devices.push(d);
    await d.register(through.port, through.host);
    return d;
  }

  async function cdrs(callId: string): Promise<string[]> {
    const db = await fx.tdb.open();
    try {
      const read = () => db.query<{ sip_code: string; end_reason: string }>('SELECT sip_code, end_reason FROM acc_cdrs WHERE callid = ?', [callId]);
      await until('the CDR is written', async () => (await read()).length > 0);
      await new Promise((r) => setTimeout(r, 800)); // a second row, if one were written, would be there by now
      return (await read()).map((r) => `${r.sip_code} ${r.end_reason}`);
    } finally {
      await db.close();
    }
  }

  /** bob calls `user` through A; both devices ring; `answering` answers; the other must be CANCELled; ACK and BYE; one CDR */
  async function forkedCall(user: string, answering: Device, other: Device): Promise<void> {
    const b = caller(phone, A(), { user: 'bob', fromHost: '127.0.0.1', password: PASSWORD });
    const tx = await b.prepare(`sip:${user}@127.0.0.1:${A().port}`);
    b.send(tx);
    await until('both 180s at bob', () => tx.replies().filter((r) => statusOf(r) === 180).length === 2, 10_000);
    answering.answer();
    const ok = await until('200 at bob', () => tx.replies().find((r) => statusOf(r) === 200));
    assert.ok(header(ok, 'To')!.includes(`tag=${answering.tag}`), ok);
    await until('CANCEL at the other device', () => other.got('CANCEL').length > 0);
    await until('its 487 ACKed', () => other.got('ACK').length > 0);
    assert.equal(await ackAndBye(phone, A(), tx, ok), 200);
    await until('the BYE at the device that answered', () => answering.got('BYE').length === 1);
    assert.deepEqual(await cdrs(header(tx.text, 'Call-ID')!), ['200 caller-bye']);
    assert.deepEqual(await fx.nodes[0]!.rpc<unknown[]>('dlg.list'), []);
  }

  test('alice\'s desk phone registered through A, her softphone through B; bob calls through A: the softphone\'s branch goes through B (every message it gets comes from B); it answers, the desk phone is CANCELled', async () => {
    const desk = await device('alice', '127.0.0.70', A());
    const soft = await device('alice', '127.0.0.71', B());
    await forkedCall('alice', soft, desk);
    for (const m of soft.sources) assert.equal(m.from, `127.0.0.2:${B().port}`, `${m.text.split('\r\n')[0]} came from B`);
    for (const m of desk.sources) assert.equal(m.from, `127.0.0.1:${A().port}`, `${m.text.split('\r\n')[0]} came from A`);
    assert.equal(header(soft.got('INVITE')[0]!, 'X-Sipd-Handoff'), undefined, 'the hand-off header stays between the nodes');
  });

  test('the same with the desk phone answering: the CANCEL of the softphone\'s branch goes through B', async () => {
    const desk = await device('frank', '127.0.0.72', A());
    const soft = await device('frank', '127.0.0.73', B());
    await forkedCall('frank', desk, soft);
    for (const m of soft.sources) assert.equal(m.from, `127.0.0.2:${B().port}`, `${m.text.split('\r\n')[0]} came from B`);
    assert.deepEqual(await fx.nodes[1]!.rpc<unknown[]>('dlg.list'), [], 'B only relayed the branch');
  });
});
