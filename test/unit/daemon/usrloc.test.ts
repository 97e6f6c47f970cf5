/**
 * The usrloc module against real databases: ul.dump / ul.lookup / ul.rm compared with the
 * replies Kamailio 5.6 gave in the reference lab, write-through to `location` and loading it
 * back (also rows as Kamailio writes them, on MariaDB and on SQLite), what a refused batch and a
 * database gone away do to a batch of changes, and the expiry timer.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Database } from '../../../src/core/db/database.js';
import { flattenUlDump, type UlDumpResult } from '../../../src/core/rpc/methods.js';
import type { ContactRecord } from '../../../src/daemon/kernel/contracts.js';
import { ModuleRegistry } from '../../../src/daemon/kernel/module-registry.js';
import { RpcFault } from '../../../src/daemon/kernel/rpc-fault.js';
import type { Logger } from '../../../src/daemon/kernel/module.js';
import { ALL_METHODS, fromDbDatetime, LocationTable, toDbDatetime } from '../../../src/daemon/modules/usrloc/location-db.js';
import { createUsrlocModule, type UsrlocModuleApi } from '../../../src/daemon/modules/usrloc/usrloc-module.js';
import { createStatsModule } from '../../../src/daemon/modules/stats/stats-module.js';
import { createTestDb, forEachEngine } from '../../helpers/db.js';
import { LAB_RECORDED } from '../../helpers/kamailio.js';

/** The JSON-RPC reply Kamailio sent for section "### [n] title" of jsonrpc_http.txt. */
function recorded(title: string): { result?: unknown; error?: { code: number; message: string } } {
  const text = readFileSync(path.join(LAB_RECORDED, 'jsonrpc_http.txt'), 'utf8');
  const start = text.indexOf(`] ${title}\n`);
  assert.ok(start > 0, `section ${title} not recorded`);
  const headers = text.indexOf('--- response', start);
  return JSON.parse(text.slice(text.indexOf('\n\n', headers), text.indexOf('--- curl exit', start)));
}

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** The lab's three registrations (sipsak), as ul.dump printed them: last modified 1795238853, 3600 s. */
const LAB_LAST_MODIFIED = 1795238853;
function labContacts(): ContactRecord[] {
  const base = { expires: LAB_LAST_MODIFIED + 3600, q: -1, cseq: 2, userAgent: 'sipsak 0.9.8.1', socket: 'udp:127.0.0.1:5060', regId: 0, lastModified: LAB_LAST_MODIFIED, flags: 0, cflags: 0, methods: ALL_METHODS };
  return [
    { ...base, aor: '61312341234', contact: 'sip:61312341234@127.0.0.1:5091', callId: '1975970015@127.0.0.1', ruid: 'uloc-6b012baf-2255-1' },
    { ...base, aor: '1001', contact: 'sip:1001@127.0.0.1:5092', callId: '1810593541@127.0.0.1', ruid: 'uloc-6b012baf-224d-1' },
    { ...base, aor: '1002', contact: 'sip:1002@127.0.0.1:5093', callId: '38360799@127.0.0.1', ruid: 'uloc-6b012baf-224c-1' },
  ];
}

interface Started {
  api: UsrlocModuleApi;
  reg: ModuleRegistry;
  clock: { ms: number };
  call(method: string, p?: unknown[]): Promise<unknown>;
}

async function start(db: Database | undefined, params: Record<string, unknown> = {}, clock = { ms: Date.now() }, log: Logger = quiet): Promise<Started> {
  const mod = createUsrlocModule({ db });
  const reg = new ModuleRegistry();
  reg.register(mod);
  await reg.initAll({ params: new Map([['usrloc', params]]), log, now: () => clock.ms });
  return { api: mod.api!, reg, clock, call: async (method, p) => reg.lookup(method)!.handler(p) };
}

async function save(api: UsrlocModuleApi, contacts: ContactRecord[]): Promise<void> {
  for (const c of contacts) await api.withLock(c.aor, () => api.commit(c.aor, { insert: [c] }));
}

/** A Kamailio fault: RpcFault with Kamailio's code and message, passed to the caller as they are. */
function rpcError(code: number, message: string) {
  return (e: unknown) => {
    assert.ok(e instanceof RpcFault, String(e));
    assert.deepEqual([e.code, e.message], [code, message]);
    return true;
  };
}

describe('location time columns', () => {
  test('written as local "YYYY-MM-DD HH:MM:SS"; read from that, from a Julian day (Kamailio db_sqlite) and from a Date', () => {
    const t = 1795242453;
    assert.match(toDbDatetime(t), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    assert.equal(fromDbDatetime(toDbDatetime(t)), t);
    assert.equal(fromDbDatetime(2440587.5), 0);
    assert.equal(fromDbDatetime(t / 86400 + 2440587.5), t);
    assert.equal(fromDbDatetime(String(t / 86400 + 2440587.5)), t);
    assert.equal(fromDbDatetime(new Date(t * 1000)), t);
    for (const bad of ['', 'soon', null, undefined, {}]) assert.equal(fromDbDatetime(bad), undefined);
  });
});

describe('usrloc RPC shapes against the recorded Kamailio replies (memory only)', () => {
  test('ul.dump equals Kamailio\'s reply key for key and value for value, AoR order included', async () => {
    const s = await start(undefined, { db_mode: 0 }, { ms: (LAB_LAST_MODIFIED + 650) * 1000 });
    try {
      await save(s.api, labContacts());
      const want = recorded('ul.dump').result;
      const got = await s.call('ul.dump');
      assert.deepEqual(got, want);
      assert.equal(JSON.stringify(got), JSON.stringify(want), 'same key order too');
      assert.deepEqual(await s.call('ul.dump', ['bogus']), want, 'an unknown argument is a full dump, as Kamailio');
      const rows = flattenUlDump(got as UlDumpResult);
      assert.deepEqual(rows.map((r) => [r.aor, r.contact, r.expires, r.received, r.q, r.socket]), [
        ['1002', 'sip:1002@127.0.0.1:5093', 2950, null, null, 'udp:127.0.0.1:5060'],
        ['1001', 'sip:1001@127.0.0.1:5092', 2950, null, null, 'udp:127.0.0.1:5060'],
        ['61312341234', 'sip:61312341234@127.0.0.1:5091', 2950, null, null, 'udp:127.0.0.1:5060'],
      ]);
      assert.equal(JSON.stringify(await s.call('ul.dump', ['brief'])), JSON.stringify(recorded('ul.dump brief').result));
    } finally {
      await s.reg.destroyAll();
    }
  });

  test('ul.lookup location 1001 equals Kamailio\'s reply; an unknown AoR is Kamailio\'s fault', async () => {
    const s = await start(undefined, { db_mode: 0 }, { ms: (LAB_LAST_MODIFIED + 670) * 1000 });
    try {
      await save(s.api, labContacts());
      assert.equal(JSON.stringify(await s.call('ul.lookup', ['location', '1001'])), JSON.stringify(recorded('ul.lookup location 1001').result));
      assert.deepEqual(await s.call('ul.lookup', ['location', '1001@127.0.0.1']), await s.call('ul.lookup', ['location', '1001']), 'without use_domain the domain is stripped');
      const err = recorded('ERR ul.lookup unknown AoR').error!;
      await assert.rejects(s.call('ul.lookup', ['location', 'nobody']), rpcError(err.code, err.message));
      await assert.rejects(s.call('ul.lookup', ['location']), rpcError(500, 'Not enough parameters (table and AOR to lookup)'));
      await assert.rejects(s.call('ul.lookup', ['nosuch', '1001']), rpcError(500, 'Domain not found'));
    } finally {
      await s.reg.destroyAll();
    }
  });

  test('expired contacts: "expired" in ul.dump until the timer runs, "AOR has no contacts" for ul.lookup; Q and permanent contacts', async () => {
    const s = await start(undefined, { db_mode: 0 }, { ms: 1_000_000_000_000 });
    const now = 1_000_000_000;
    try {
      const c = labContacts()[1];
      await save(s.api, [{ ...c, expires: now + 10, q: 0.5 }, { ...c, contact: 'sip:1001@192.0.2.1', ruid: 'r-perm', expires: 0, callId: 'x' }]);
      await save(s.api, [{ ...c, aor: 'gone', expires: now - 1, ruid: 'r-gone' }]);
      const dump = (await s.call('ul.dump')) as UlDumpResult;
      const rows = flattenUlDump(dump);
      assert.deepEqual(rows.map((r) => [r.aor, r.expires, r.q]).sort(), [['1001', 'permanent', null], ['1001', 10, 0.5], ['gone', 'expired', null]].sort());
      await assert.rejects(s.call('ul.lookup', ['location', 'gone']), rpcError(500, 'AOR has no contacts'));
      assert.deepEqual(s.api.lookup('gone'), []);
      assert.equal(s.api.lookup('1001').length, 2);
    } finally {
      await s.reg.destroyAll();
    }
  });

  test('use_domain: AoRs are user@domain, ul.lookup without a domain is refused; AoRs are lower-cased', async () => {
    const s = await start(undefined, { db_mode: 0, use_domain: true });
    try {
      assert.equal(s.api.aorOf('Alice', 'Example.COM'), 'alice@example.com');
      await save(s.api, [{ ...labContacts()[0], aor: 'alice@example.com', expires: Math.floor(s.clock.ms / 1000) + 60 }]);
      await assert.rejects(s.call('ul.lookup', ['location', 'alice']), rpcError(500, 'Domain missing in AOR'));
      assert.equal(((await s.call('ul.lookup', ['location', 'ALICE@example.com'])) as { AoR: string }).AoR, 'alice@example.com');
    } finally {
      await s.reg.destroyAll();
    }
  });

  test('db_mode 1 without a database is a configuration error; table must be an identifier', async () => {
    await assert.rejects(start(undefined), /needs a database/);
    await assert.rejects(start(undefined, { db_mode: 0, table: 'location; --' }), /not a plain table name/);
  });

  test('work on one AoR is serialised; gauges reach the stats module', async () => {
    const stats = createStatsModule();
    const mod = createUsrlocModule();
    const reg = new ModuleRegistry();
    reg.register(stats);
    reg.register(mod);
    await reg.initAll({ params: new Map([['usrloc', { db_mode: 0 }]]), log: quiet });
    try {
      const api = mod.api!;
      const order: string[] = [];
      const slow = api.withLock('a', async () => {
        order.push('slow start');
        await new Promise((r) => setTimeout(r, 20));
        order.push('slow end');
      });
      const fast = api.withLock('a', async () => {
        order.push('fast');
      });
      const other = api.withLock('b', async () => {
        order.push('other aor');
      });
      await Promise.all([slow, fast, other]);
      assert.deepEqual(order, ['slow start', 'other aor', 'slow end', 'fast']);
      await save(api, [{ ...labContacts()[0], expires: Math.floor(Date.now() / 1000) + 60 }]);
      assert.deepEqual(reg.lookup('stats.get_statistics')!.handler(['usrloc:']), ['usrloc:location_expires = 0', 'usrloc:registered_users = 1', 'usrloc:location_users = 1', 'usrloc:location_contacts = 1']);
      await save(api, [{ ...labContacts()[1], expires: Math.floor(Date.now() / 1000) - 1 }]);
      assert.equal(await api.sweep(), 1);
      assert.deepEqual(reg.lookup('stats.get_statistics')!.handler(['usrloc:']), ['usrloc:location_expires = 1', 'usrloc:registered_users = 1', 'usrloc:location_users = 1', 'usrloc:location_contacts = 1'], "Kamailio's names");
    } finally {
      await reg.destroyAll();
    }
  });
});

forEachEngine('usrloc write-through', (engine, track) => {
  let db: Database;
  before(async () => {
    db = await track(await createTestDb(engine)).open();
  });
  after(async () => {
    await db?.close();
  });

  test('contacts are written as Kamailio writes them, and a new instance on the same database has them', async () => {
    await db.execute('DELETE FROM location');
    const clock = { ms: (LAB_LAST_MODIFIED + 650) * 1000 };
    const a = await start(db, {}, clock);
    const contacts = labContacts();
    contacts[0] = { ...contacts[0], received: 'sip:198.51.100.7:40000', path: '<sip:edge.example.com;lr>', q: 0.5, methods: 1 | 8 | 512, userAgent: 'Phone/1.0', instance: '<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>', regId: 1 };
    await save(a.api, contacts);
    const before = await a.call('ul.dump');
    await a.reg.destroyAll();

    const [row] = await db.query<Record<string, unknown>>('SELECT * FROM location WHERE ruid = ?', ['uloc-6b012baf-224d-1']);
    assert.equal(row.username, '1001');
    assert.equal(row.domain, null);
    assert.equal(row.contact, 'sip:1001@127.0.0.1:5092');
    assert.equal(row.received, null);
    assert.equal(row.path, null);
    assert.equal(Number(row.q), -1);
    assert.equal(row.callid, '1810593541@127.0.0.1');
    assert.equal(Number(row.cseq), 2);
    assert.equal(row.methods, null, 'all methods are stored as NULL');
    assert.equal(row.instance, null);
    assert.equal(Number(row.connection_id), -1);
    assert.equal(row.socket, 'udp:127.0.0.1:5060');
    assert.equal(row.expires, toDbDatetime(LAB_LAST_MODIFIED + 3600));
    assert.equal(row.last_modified, toDbDatetime(LAB_LAST_MODIFIED));
    const [nat] = await db.query<Record<string, unknown>>('SELECT * FROM location WHERE ruid = ?', ['uloc-6b012baf-2255-1']);
    assert.deepEqual([nat.received, nat.path, Number(nat.q), Number(nat.methods), nat.user_agent, nat.instance, Number(nat.reg_id)], ['sip:198.51.100.7:40000', '<sip:edge.example.com;lr>', 0.5, 521, 'Phone/1.0', '<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>', 1]);

    const b = await start(db, {}, clock);
    try {
      assert.deepEqual(await b.call('ul.dump'), before, 'after a restart the same registrations, field for field');
      assert.equal(b.api.count(), 3);
    } finally {
      await b.reg.destroyAll();
    }
  });

  test('updates and removals are written through; a database refusal leaves memory unchanged', async () => {
    await db.execute('DELETE FROM location');
    const s = await start(db, {}, { ms: 1_000_000_000_000 });
    try {
      const now = 1_000_000_000;
      const c: ContactRecord = { ...labContacts()[1], expires: now + 60, lastModified: now };
      await save(s.api, [c]);
      await s.api.withLock(c.aor, () => s.api.commit(c.aor, { update: [{ ...c, expires: now + 120, cseq: 3 }] }));
      const [row] = await db.query<{ expires: unknown; cseq: number }>('SELECT expires, cseq FROM location WHERE ruid = ?', [c.ruid]);
      assert.deepEqual([fromDbDatetime(row.expires), Number(row.cseq)], [now + 120, 3]);

      // a second contact carrying an existing ruid violates location's unique key
      const clash: ContactRecord = { ...c, contact: 'sip:1001@192.0.2.2', ruid: c.ruid };
      await assert.rejects(s.api.withLock(c.aor, () => s.api.commit(c.aor, { insert: [clash] })));
      assert.deepEqual(s.api.get(c.aor).map((x) => x.contact), [c.contact], 'memory unchanged');

      assert.equal(await s.api.removeAor(c.aor), 1);
      assert.deepEqual(await db.query('SELECT ruid FROM location'), []);
    } finally {
      await s.reg.destroyAll();
    }
  });

  test('group commit: changes asked for together share a batch, each answered only once committed; a bad one fails alone', async () => {
    await db.execute('DELETE FROM location');
    const s = await start(db, {}, { ms: 1_000_000_000_000 });
    try {
      const now = 1_000_000_000;
      const base: ContactRecord = { ...labContacts()[1], expires: now + 60, lastModified: now };
      const mk = (i: number): ContactRecord => ({ ...base, aor: `u${i}`, contact: `sip:u${i}@192.0.2.1`, ruid: `uloc-batch-${i}`, callId: `c${i}` });
      const count = async () => Number((await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM location'))[0].n);
      // 40 REGISTERs at once: every commit resolves only when its row is there
      await Promise.all(Array.from({ length: 40 }, (_, i) => s.api.withLock(`u${i}`, async () => {
        await s.api.commit(`u${i}`, { insert: [mk(i)] });
        assert.equal((await db.query('SELECT ruid FROM location WHERE ruid = ?', [`uloc-batch-${i}`])).length, 1, 'committed before the caller goes on');
      })));
      assert.equal(await count(), 40);

      // 40 refreshes at once, one of them for a row removed by hand (written again), one bad (a clash on ruid)
      await db.execute("DELETE FROM location WHERE ruid = 'uloc-batch-7'");
      const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => s.api.withLock(`u${i}`, () =>
        i === 3
          ? s.api.commit('u3', { insert: [{ ...mk(3), contact: 'sip:u3@192.0.2.99', ruid: 'uloc-batch-5' }] })
          : s.api.commit(`u${i}`, { update: [{ ...mk(i), cseq: 9, expires: now + 120 }] }))));
      assert.deepEqual(results.map((r, i) => [i, r.status]).filter(([, st]) => st !== 'fulfilled'), [[3, 'rejected']], 'only the bad change failed');
      assert.deepEqual(s.api.get('u3').map((c) => c.contact), ['sip:u3@192.0.2.1'], 'its AoR unchanged in memory');
      const rows = await db.query<{ ruid: string; cseq: number; expires: unknown }>('SELECT ruid, cseq, expires FROM location ORDER BY ruid');
      assert.equal(rows.length, 40, 'the row removed by hand is back');
      for (const r of rows) assert.deepEqual([Number(r.cseq), fromDbDatetime(r.expires)], r.ruid === 'uloc-batch-3' ? [2, now + 60] : [9, now + 120], r.ruid);
      // Refreshes are UPDATEs, never INSERT … ON DUPLICATE KEY UPDATE, which spends an id per row.
      const [{ id: lastId }] = await db.query<{ id: number }>('SELECT MAX(id) AS id FROM location');
      await Promise.all(Array.from({ length: 40 }, (_, i) => s.api.withLock(`u${i}`, async () => {
        if (i !== 3) await s.api.commit(`u${i}`, { update: [{ ...mk(i), cseq: 10 }] });
      })));
      await s.api.withLock('u99', () => s.api.commit('u99', { insert: [mk(99)] }));
      const [{ id }] = await db.query<{ id: number }>("SELECT id FROM location WHERE ruid = 'uloc-batch-99'");
      assert.equal(Number(id), Number(lastId) + 1, 'no ids spent on 39 refreshes');
      // removals of many AoRs share batches too
      await Promise.all([...Array.from({ length: 40 }, (_, i) => s.api.removeAor(`u${i}`)), s.api.removeAor('u99')]);
      assert.equal(await count(), 0);
      assert.equal(s.api.count(), 0);
    } finally {
      await s.reg.destroyAll();
    }
  });

  test('group commit: a small batch of refreshes (5: one UPDATE padded to 8 rows on MySQL) writes each row once, a row removed by hand again', async () => {
    await db.execute('DELETE FROM location');
    const s = await start(db, {}, { ms: 1_000_000_000_000 });
    try {
      const now = 1_000_000_000;
      const base: ContactRecord = { ...labContacts()[1], expires: now + 60, lastModified: now };
      const mk = (i: number): ContactRecord => ({ ...base, aor: `p${i}`, contact: `sip:p${i}@192.0.2.1`, ruid: `uloc-pad-${i}`, callId: `c${i}` });
      await Promise.all(Array.from({ length: 5 }, (_, i) => s.api.withLock(`p${i}`, () => s.api.commit(`p${i}`, { insert: [mk(i)] }))));
      await db.execute("DELETE FROM location WHERE ruid = 'uloc-pad-2'");
      const [{ id: lastId }] = await db.query<{ id: number }>('SELECT MAX(id) AS id FROM location');
      await Promise.all(Array.from({ length: 5 }, (_, i) => s.api.withLock(`p${i}`, () => s.api.commit(`p${i}`, { update: [{ ...mk(i), cseq: 20 + i, expires: now + 100 + i }] }))));
      const rows = await db.query<{ id: number; ruid: string; cseq: number; expires: unknown }>('SELECT id, ruid, cseq, expires FROM location ORDER BY ruid');
      assert.deepEqual(rows.map((r) => [r.ruid, Number(r.cseq), fromDbDatetime(r.expires)]), Array.from({ length: 5 }, (_, i) => [`uloc-pad-${i}`, 20 + i, now + 100 + i]));
      assert.deepEqual(rows.filter((r) => Number(r.id) > Number(lastId)).map((r) => r.ruid), ['uloc-pad-2'], 'only the row removed by hand is inserted again');
    } finally {
      await s.reg.destroyAll();
    }
  });

  test('writeBatchOrEach (group commit and write-back): a refused batch goes change by change, only the bad one refused; the database going away stops it there', async () => {
    await db.execute('DELETE FROM location');
    const table = new LocationTable('location', false);
    const now = 1_000_000_000;
    const base: ContactRecord = { ...labContacts()[1], expires: now + 60, lastModified: now };
    const mk = (i: number, ruid = `uloc-each-${i}`): ContactRecord => ({ ...base, aor: `e${i}`, contact: `sip:e${i}@192.0.2.1`, ruid, callId: `c${i}` });
    const ruids = async () => (await db.query<{ ruid: string }>('SELECT ruid FROM location ORDER BY ruid')).map((r) => r.ruid);
    await table.writeBatch(db, [{ insert: [mk(0)] }]);
    // e1 takes e0's ruid (a unique key): the batch is refused, then each change alone
    const refusedOne = await table.writeBatchOrEach(db, [{ insert: [mk(2)] }, { insert: [mk(1, 'uloc-each-0')] }, { insert: [mk(3)] }]);
    assert.deepEqual([[...refusedOne.refused.keys()], refusedOne.away], [[1], undefined]);
    assert.deepEqual(await ruids(), ['uloc-each-0', 'uloc-each-2', 'uloc-each-3']);

    // a database whose writes fail as an unreachable server's once `budget` of them went through
    let budget = 0;
    let writes = 0;
    const fading = new Proxy(db, {
      get(target, prop, recv) {
        if (prop !== 'execute' && prop !== 'transaction') return Reflect.get(target, prop, recv);
        return (...args: unknown[]) => {
          writes++;
          if (budget-- <= 0) return Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3306'), { code: 'ECONNREFUSED' }));
          return (Reflect.get(target, prop, recv) as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        };
      },
    });
    // refused as a batch, e4 written alone, then the database is away: e5 (the bad one) and e6 are not known written
    budget = 2;
    const away = await table.writeBatchOrEach(fading, [{ insert: [mk(4)] }, { insert: [mk(5, 'uloc-each-0')] }, { insert: [mk(6)] }]);
    assert.deepEqual([away.refused.size, away.away?.from, (away.away?.error as { code?: string }).code, writes], [0, 1, 'ECONNREFUSED', 3], 'nothing tried after the database went away');
    assert.deepEqual(await ruids(), ['uloc-each-0', 'uloc-each-2', 'uloc-each-3', 'uloc-each-4']);
    // away from the start: the batch only, no change tried alone
    writes = 0;
    const gone = await table.writeBatchOrEach(fading, [{ insert: [mk(7)] }, { insert: [mk(8)] }]);
    assert.deepEqual([gone.refused.size, gone.away?.from, writes], [0, 0, 1]);
  });

  test('server_id: each cluster node writes its own; sweepGone deletes the expired rows of nodes not live, each once — never a live node\'s, one naming no node (0), a permanent one, or one written again meanwhile', async () => {
    await db.execute('DELETE FROM location');
    const now = 1_000_000_000;
    const base: ContactRecord = { ...labContacts()[1], lastModified: now - 100 };
    const mk = (i: number, expires: number): ContactRecord => ({ ...base, aor: `G${i}`, contact: `sip:g${i}@192.0.2.1`, ruid: `uloc-gone-${i}`, callId: `c${i}`, expires });
    const gone = new LocationTable('location', false, 7); // a node that is no longer a member
    const live = new LocationTable('location', false, 9); // a live node
    const single = new LocationTable('location', false); // a single sipd (or Kamailio): 0
    await gone.writeBatch(db, [{ insert: [mk(1, now - 10), mk(2, now + 60), mk(3, 0), mk(6, now - 10)] }]);
    await live.writeBatch(db, [{ insert: [mk(4, now - 10)] }]);
    await single.writeBatch(db, [{ insert: [mk(5, now - 10)] }]);
    const rows = async () => (await db.query<{ ruid: string; server_id: number }>('SELECT ruid, server_id FROM location ORDER BY ruid')).map((r) => `${r.ruid.slice(10)}:${Number(r.server_id)}`);
    assert.deepEqual(await rows(), ['1:7', '2:7', '3:7', '4:9', '5:0', '6:7'], 'each row names the node that wrote it');

    assert.deepEqual(await live.sweepGone(db, [9], now - 20, false), [], 'nothing expired by the cutoff');
    // the gone node's row 6 written again (a newer CSeq) between the sweep's read and its delete
    const racing = new Proxy(db, {
      get(target, prop, recv) {
        if (prop !== 'query') return Reflect.get(target, prop, recv);
        return async (...args: unknown[]) => {
          const out = await (Reflect.get(target, prop, recv) as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          await target.execute('UPDATE location SET cseq = cseq + 1 WHERE ruid = ?', ['uloc-gone-6']);
          return out;
        };
      },
    });
    assert.deepEqual(await live.sweepGone(racing, [9], now, true), [{ aor: 'g1', ruid: 'uloc-gone-1' }, { aor: 'g6', ruid: 'uloc-gone-6' }], 'what was read as expired (AoRs lower-cased)');
    assert.deepEqual(await rows(), ['2:7', '3:7', '4:9', '5:0', '6:7'], 'row 1 gone; row 6, written again meanwhile, stays');
    assert.deepEqual(await live.sweepGone(db, [9], now - 5, false), [{ aor: 'G6', ruid: 'uloc-gone-6' }]);
    // another node sweeping the same: nothing left
    assert.deepEqual(await gone.sweepGone(db, [9], now, false), []);
    // node 9 no longer live, 7 back: 9's expired row goes; 7's valid and permanent rows never did
    assert.deepEqual(await gone.sweepGone(db, [7], now, false), [{ aor: 'G4', ruid: 'uloc-gone-4' }]);
    assert.deepEqual(await rows(), ['2:7', '3:7', '5:0']);
    // a refresh through another node writes that node's server_id
    await live.writeBatch(db, [{ update: [mk(2, now + 120)] }]);
    assert.deepEqual(await rows(), ['2:9', '3:7', '5:0']);
  });

  test('ul.rm deletes the AoR and its rows; unknown AoRs are no error, as in Kamailio', async () => {
    await db.execute('DELETE FROM location');
    const s = await start(db, {}, { ms: (LAB_LAST_MODIFIED + 10) * 1000 });
    try {
      await save(s.api, labContacts());
      assert.deepEqual(await s.call('ul.rm', ['location', '1001']), {});
      assert.deepEqual((await db.query<{ username: string }>('SELECT username FROM location ORDER BY username')).map((r) => r.username), ['1002', '61312341234']);
      await assert.rejects(s.call('ul.lookup', ['location', '1001']), rpcError(500, 'AOR not found in location table'));
      assert.deepEqual(await s.call('ul.rm', ['location', 'nobody']), {});
      await assert.rejects(s.call('ul.rm', ['location']), rpcError(500, 'Not enough parameters (table and AOR to lookup)'));
    } finally {
      await s.reg.destroyAll();
    }
  });

  test('rows written by Kamailio load: datetime text, and on SQLite a Julian-day number; expired rows go at start', async () => {
    await db.execute('DELETE FROM location');
    const now = 1_800_000_000;
    const insert = (ruid: string, user: string, expires: string | number) =>
      db.execute(
        "INSERT INTO location (ruid, username, domain, contact, received, path, expires, q, callid, cseq, last_modified, flags, cflags, user_agent, socket, methods, instance, reg_id, server_id, connection_id, keepalive, `partition`) VALUES (?, ?, NULL, ?, NULL, NULL, ?, -1.00, ?, 2, ?, 0, 0, 'SIPp-lab', 'udp:127.0.0.1:5060', NULL, NULL, 0, 0, -1, 0, 0)",
        [ruid, user, `sip:${user}@127.0.0.1:5070`, expires, `${ruid}@127.0.0.1`, toDbDatetime(now - 100)],
      );
    await insert('uloc-text', 'sipp0001', toDbDatetime(now + 3000));
    await insert('uloc-old', 'sipp0002', toDbDatetime(now - 5));
    if (engine === 'sqlite') await insert('uloc-julian', 'sipp0003', (now + 1200) / 86400 + 2440587.5);
    const s = await start(db, {}, { ms: now * 1000 });
    try {
      const rows = flattenUlDump((await s.call('ul.dump')) as UlDumpResult);
      const want: Array<[string, unknown]> = [['sipp0001', 3000]];
      if (engine === 'sqlite') want.push(['sipp0003', 1200]);
      assert.deepEqual(rows.map((r) => [r.aor, r.expires]).sort(), want.sort());
      assert.equal(rows[0].userAgent, 'SIPp-lab');
      assert.deepEqual((await db.query<{ ruid: string }>("SELECT ruid FROM location WHERE ruid = 'uloc-old'")), [], 'the expired row was deleted at start');
    } finally {
      await s.reg.destroyAll();
    }
  });

  test('the timer removes expired contacts from memory and from the table', async (t) => {
    await db.execute('DELETE FROM location');
    t.mock.timers.enable({ apis: ['setInterval'] });
    const clock = { ms: 1_000_000_000_000 };
    const s = await start(db, { timer_interval: 60 }, clock);
    try {
      const now = 1_000_000_000;
      const c = labContacts();
      await save(s.api, [{ ...c[0], expires: now + 30 }, { ...c[1], expires: now + 90 }, { ...c[2], expires: now + 3600 }]);
      clock.ms += 61_000;
      t.mock.timers.tick(60_000);
      const count = async () => Number((await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM location'))[0].n);
      // the sweep writes the table first and memory right after: wait for both
      for (let i = 0; i < 500 && ((await count()) !== 2 || s.api.count() !== 2); i++) await new Promise((r) => setImmediate(r));
      assert.equal(await count(), 2);
      assert.deepEqual(s.api.get('61312341234'), []);
      clock.ms += 60_000;
      assert.equal(await s.api.sweep(), 1);
      assert.equal(await count(), 1);
      assert.equal(s.api.count(), 1);
    } finally {
      await s.reg.destroyAll();
      t.mock.timers.reset();
    }
  });
});
