/**
 * usrloc db_mode 2 (write-back, Kamailio's): changes of one contact coalesce until the flush
 * (insert → update → delete sequences), a flush writes them through LocationTable.writeBatch, a
 * failed flush keeps them and writes them when the database is back (newer changes winning), a
 * row the table refuses holds back only itself, the pending set is bounded; and the module: the
 * REGISTER's commit does not wait for the database, the timer and destroy() write, ul.dump shows
 * Kamailio's CS_NEW / CS_DIRTY, ul.flush writes now. Real SQLite and MariaDB.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Database, Queryable } from '../../../src/core/db/database.js';
import type { ContactRecord } from '../../../src/daemon/kernel/contracts.js';
import { ModuleRegistry } from '../../../src/daemon/kernel/module-registry.js';
import type { Logger } from '../../../src/daemon/kernel/module.js';
import { ALL_METHODS, fromDbDatetime, LocationTable } from '../../../src/daemon/modules/usrloc/location-db.js';
import { coalesce, LocationWriteBack, WriteBackFullError, type PendingWrite } from '../../../src/daemon/modules/usrloc/location-write-back.js';
import { createUsrlocModule, type UsrlocModuleApi } from '../../../src/daemon/modules/usrloc/usrloc-module.js';
import { createTestDb, forEachEngine } from '../../helpers/db.js';

const NOW = 1_800_000_000;
function contact(i: number, over: Partial<ContactRecord> = {}): ContactRecord {
  return {
    aor: `wb${i}`, contact: `sip:wb${i}@192.0.2.1:5060`, expires: NOW + 3600, q: -1, callId: `call-${i}@192.0.2.1`, cseq: 1, userAgent: 'WB-Test/1.0',
    socket: 'udp:127.0.0.1:5060', ruid: `uloc-wb-${i}`, regId: 0, lastModified: NOW, flags: 0, cflags: 0, methods: ALL_METHODS, ...over,
  };
}

type Row = { ruid: string; cseq: number; expires: unknown; contact: string };
async function rows(db: Queryable): Promise<Array<[string, number, number | undefined]>> {
  return (await db.query<Row>('SELECT ruid, cseq, expires FROM location ORDER BY ruid')).map((r) => [r.ruid, Number(r.cseq), fromDbDatetime(r.expires)]);
}

describe('write-back: coalescing one contact\'s changes (the last state wins)', () => {
  const a = contact(1);
  const b = contact(1, { cseq: 2 });
  const ins = (rec: ContactRecord): PendingWrite => ({ op: 'insert', rec });
  const upd = (rec: ContactRecord): PendingWrite => ({ op: 'update', rec });
  const del: PendingWrite = { op: 'delete', ruid: a.ruid };
  test('insert → update is one insert of the newest values; insert → delete is nothing', () => {
    assert.deepEqual(coalesce(ins(a), upd(b)), ins(b));
    assert.equal(coalesce(ins(a), del), undefined);
    assert.equal(coalesce(coalesce(ins(a), upd(b)), del), undefined, 'insert → update → delete: nothing');
  });
  test('update → update is the newest update; update → delete is a delete; delete → insert rewrites the row', () => {
    assert.deepEqual(coalesce(upd(a), upd(b)), upd(b));
    assert.deepEqual(coalesce(upd(a), del), del);
    assert.deepEqual(coalesce(del, ins(b)), upd(b), 'the row is still there: an update (which writes it if gone)');
    assert.deepEqual(coalesce(undefined, del), del);
  });
});

/** A Database whose writes fail as an unreachable server's do while `down` (reads pass). */
function unreachableWhile(db: Database, state: { down: boolean }): Database {
  const refuse = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3306'), { code: 'ECONNREFUSED', fatal: true });
  return new Proxy(db, {
    get(target, prop, recv) {
      if (prop === 'execute' || prop === 'transaction') {
        return (...args: unknown[]) => (state.down ? Promise.reject(refuse()) : (Reflect.get(target, prop, recv) as (...a: unknown[]) => Promise<unknown>).apply(target, args));
      }
      return Reflect.get(target, prop, recv);
    },
  });
}

forEachEngine('usrloc write-back', (engine, track) => {
  let db: Database;
  before(async () => {
    db = await track(await createTestDb(engine)).open();
  });
  after(async () => {
    await db?.close();
  });
  const table = () => new LocationTable('location', false);

  test('insert → update → delete sequences: one write per contact at the flush, the newest state', async () => {
    await db.execute('DELETE FROM location');
    const wb = new LocationWriteBack(table(), db);
    // already in the table: wb3 (to be updated, then deleted), wb4 (deleted, then inserted again)
    await table().writeBatch(db, [{ insert: [contact(3), contact(4)] }]);
    wb.add({ insert: [contact(1)] });
    wb.add({ update: [contact(1, { cseq: 2 })] });
    wb.add({ update: [contact(1, { cseq: 3, expires: NOW + 7200 })] }); // wb1: insert → update → update
    wb.add({ insert: [contact(2)] });
    wb.add({ remove: [contact(2).ruid] }); // wb2: insert → delete
    wb.add({ update: [contact(3, { cseq: 5 })] });
    wb.add({ remove: [contact(3).ruid] }); // wb3: update → delete
    wb.add({ remove: [contact(4).ruid] });
    wb.add({ insert: [contact(4, { cseq: 9 })] }); // wb4: delete → insert
    assert.equal(wb.size, 3, 'wb2 left nothing to write');
    assert.deepEqual([wb.stateOf('uloc-wb-1'), wb.stateOf('uloc-wb-4'), wb.stateOf('uloc-wb-9')], ['CS_NEW', 'CS_DIRTY', 'CS_SYNC']);
    assert.deepEqual(await rows(db), [['uloc-wb-3', 1, NOW + 3600], ['uloc-wb-4', 1, NOW + 3600]], 'nothing written before the flush');

    assert.deepEqual(await wb.flush(), { written: 3, kept: 0 });
    assert.deepEqual(await rows(db), [['uloc-wb-1', 3, NOW + 7200], ['uloc-wb-4', 9, NOW + 3600]]);
    assert.equal(wb.size, 0);
    assert.equal(wb.stateOf('uloc-wb-1'), 'CS_SYNC');
    assert.deepEqual(await wb.flush(), { written: 0, kept: 0 }, 'nothing pending: nothing written');
  });

  test('a flush while the database is unreachable keeps every change; the next one writes them, newer changes winning', async () => {
    await db.execute('DELETE FROM location');
    const state = { down: false };
    const wb = new LocationWriteBack(table(), unreachableWhile(db, state), { maxBatch: 4 });
    await table().writeBatch(db, [{ insert: [contact(20)] }]);
    for (let i = 1; i <= 10; i++) wb.add({ insert: [contact(i)] });
    wb.add({ update: [contact(20, { cseq: 7 })] });
    state.down = true;
    const failed = await wb.flush();
    assert.deepEqual([failed.written, failed.kept], [0, 11]);
    assert.equal((failed.error as { code?: string }).code, 'ECONNREFUSED');
    assert.equal(wb.size, 11);
    // meanwhile: wb1 refreshed, wb2 un-registered, wb21 new
    wb.add({ update: [contact(1, { cseq: 2 })] });
    wb.add({ remove: [contact(2).ruid] });
    wb.add({ insert: [contact(21)] });
    // 12: wb1–wb10 (wb2 now a delete: its insert may have happened), wb20, wb21
    assert.equal((await wb.flush()).kept, 12, 'still down: still kept');
    state.down = false;
    assert.deepEqual(await wb.flush(), { written: 12, kept: 0 });
    const want: Array<[string, number, number]> = [
      ['uloc-wb-1', 2, NOW + 3600], ...[3, 4, 5, 6, 7, 8, 9, 10].map((i): [string, number, number] => [`uloc-wb-${i}`, 1, NOW + 3600]),
      ['uloc-wb-20', 7, NOW + 3600], ['uloc-wb-21', 1, NOW + 3600],
    ];
    assert.deepEqual(await rows(db), want.sort((x, y) => x[0].localeCompare(y[0])));
  });

  test('a batch whose outcome is unknown: its inserts are retried as updates, so a row already there does not block the flush', async () => {
    await db.execute('DELETE FROM location');
    const state = { down: false };
    const real = table();
    // the commit happens, then the answer is lost (as when the connection drops during COMMIT)
    const lossy = Object.assign(Object.create(real) as LocationTable, {
      async writeBatch(d: Database, changes: Parameters<LocationTable['writeBatch']>[1]) {
        await real.writeBatch(d, changes);
        if (state.down) throw Object.assign(new Error('Connection lost: The server closed the connection.'), { code: 'PROTOCOL_CONNECTION_LOST', fatal: true });
      },
    });
    const wb = new LocationWriteBack(lossy, db);
    wb.add({ insert: [contact(1), contact(2)] });
    state.down = true;
    assert.equal((await wb.flush()).kept, 2);
    state.down = false;
    wb.add({ update: [contact(2, { cseq: 4 })] });
    assert.deepEqual(await wb.flush(), { written: 2, kept: 0 });
    assert.deepEqual(await rows(db), [['uloc-wb-1', 1, NOW + 3600], ['uloc-wb-2', 4, NOW + 3600]]);
  });

  test('a change the table refuses holds back only itself, and is retried alone at each later flush', async () => {
    await db.execute('DELETE FROM location');
    const wb = new LocationWriteBack(table(), db);
    // a contact longer than the column (VARCHAR(512)): MariaDB refuses it in strict mode; SQLite
    // takes any length, so there a ruid clash with a row written behind usrloc's back is the refusal
    const bad = engine === 'mysql' ? contact(5, { contact: `sip:${'x'.repeat(600)}@192.0.2.1` }) : contact(5, { ruid: 'uloc-wb-taken' });
    if (engine === 'sqlite') await db.execute("INSERT INTO location (ruid, username, contact) VALUES ('uloc-wb-taken', 'someone', 'sip:someone@192.0.2.9')");
    for (const i of [1, 2, 3, 4]) wb.add({ insert: [contact(i)] });
    wb.add({ insert: [bad] });
    const r = await wb.flush();
    assert.deepEqual([r.written, r.kept], [4, 1]);
    assert.equal(wb.size, 1);
    wb.add({ insert: [contact(6)] });
    const again = await wb.flush();
    assert.deepEqual([again.written, again.kept], [1, 1], 'the good change goes, the refused one stays');
    // the contact is un-registered before it was ever written: nothing left to write
    wb.add({ remove: [bad.ruid] });
    assert.equal(wb.size, 0);
    assert.deepEqual(await wb.flush(), { written: 0, kept: 0 });
    assert.deepEqual((await rows(db)).map((x) => x[0]).filter((x) => x !== 'uloc-wb-taken'), ['uloc-wb-1', 'uloc-wb-2', 'uloc-wb-3', 'uloc-wb-4', 'uloc-wb-6']);
  });

  test('the pending set is bounded: past half a flush is asked for; at the bound new contacts are refused, pending ones still change', async () => {
    const asked: number[] = [];
    const wb = new LocationWriteBack(table(), db, { maxPending: 4, onBacklog: () => asked.push(wb.size) });
    wb.add({ insert: [contact(1)] });
    assert.deepEqual(asked, []);
    wb.add({ insert: [contact(2)] });
    assert.deepEqual(asked, [2]);
    wb.add({ insert: [contact(3), contact(4)] });
    assert.throws(() => wb.add({ insert: [contact(5)] }), WriteBackFullError);
    assert.throws(() => wb.add({ update: [contact(1, { cseq: 2 })], insert: [contact(6)] }), WriteBackFullError, 'all or nothing');
    assert.equal(wb.stateOf(contact(1).ruid), 'CS_NEW', 'the refused change left wb1 as it was');
    wb.add({ update: [contact(1, { cseq: 2 })] });
    wb.add({ remove: [contact(4).ruid] });
    wb.add({ insert: [contact(5)] });
  });

  describe('the module with db_mode 2', () => {
    const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
    async function start(d: Database, params: Record<string, unknown>, log: Logger = quiet) {
      const mod = createUsrlocModule({ db: d });
      const reg = new ModuleRegistry();
      reg.register(mod);
      await reg.initAll({ params: new Map([['usrloc', { db_mode: 2, ...params }]]), log, now: () => NOW * 1000 });
      const api = mod.api as UsrlocModuleApi;
      return { api, reg, call: async (m: string, p?: unknown[]) => reg.lookup(m)!.handler(p) };
    }
    const commit = (api: UsrlocModuleApi, aor: string, change: Parameters<UsrlocModuleApi['commit']>[1]) => api.withLock(aor, () => api.commit(aor, change));

    test('commits do not wait for the database; ul.dump says CS_NEW / CS_DIRTY until written; ul.flush and destroy() write; a restart loads the rows', async () => {
      await db.execute('DELETE FROM location');
      const s = await start(db, { timer_interval: 3600 });
      let destroyed = false;
      try {
        await commit(s.api, 'wb1', { insert: [contact(1)] });
        await commit(s.api, 'wb2', { insert: [contact(2)] });
        assert.deepEqual(s.api.lookup('wb1').map((c) => c.ruid), ['uloc-wb-1'], 'in memory at once');
        assert.deepEqual(await rows(db), [], 'not in the table before the timer');
        const states = async () => {
          const d = (await s.call('ul.dump')) as { Domains: Array<{ Domain: { AoRs: Array<{ Info: { AoR: string; Contacts: Array<{ Contact: { State: string } }> } }> } }> };
          return Object.fromEntries(d.Domains[0]!.Domain.AoRs.map((a) => [a.Info.AoR, a.Info.Contacts.map((c) => c.Contact.State)]));
        };
        assert.deepEqual(await states(), { wb1: ['CS_NEW'], wb2: ['CS_NEW'] });
        assert.deepEqual(await s.call('ul.flush'), {});
        assert.deepEqual((await rows(db)).map((r) => r[0]), ['uloc-wb-1', 'uloc-wb-2']);
        assert.deepEqual(await states(), { wb1: ['CS_SYNC'], wb2: ['CS_SYNC'] });
        await commit(s.api, 'wb1', { update: [contact(1, { cseq: 2 })] });
        assert.deepEqual(await states(), { wb1: ['CS_DIRTY'], wb2: ['CS_SYNC'] });
        await commit(s.api, 'wb2', { remove: ['uloc-wb-2'] });
        await commit(s.api, 'wb3', { insert: [contact(3)] });
        await s.reg.destroyAll();
        destroyed = true;
        assert.deepEqual(await rows(db), [['uloc-wb-1', 2, NOW + 3600], ['uloc-wb-3', 1, NOW + 3600]], 'destroy wrote what changed since');
      } finally {
        if (!destroyed) await s.reg.destroyAll();
      }
      const b = await start(db, { timer_interval: 3600 });
      try {
        assert.deepEqual(b.api.lookup('wb1').map((c) => c.cseq), [2]);
        assert.equal(b.api.count(), 2);
      } finally {
        await b.reg.destroyAll();
      }
    });

    test('the timer writes every timer_interval; a failed write is logged once, kept, and written when the database is back', async (t) => {
      await db.execute('DELETE FROM location');
      t.mock.timers.enable({ apis: ['setInterval'] });
      const state = { down: false };
      const logged: Array<[string, string]> = [];
      const log: Logger = { debug() {}, info: (m) => void logged.push(['info', m]), warn: (m) => void logged.push(['warn', m]), error: (m) => void logged.push(['error', m]) };
      const s = await start(unreachableWhile(db, state), { timer_interval: 5 }, log);
      try {
        const settle = async (want: () => Promise<boolean>) => {
          for (let i = 0; i < 500 && !(await want()); i++) await new Promise((r) => setImmediate(r));
        };
        await commit(s.api, 'wb1', { insert: [contact(1)] });
        t.mock.timers.tick(5000);
        await settle(async () => (await rows(db)).length === 1);
        assert.deepEqual((await rows(db)).map((r) => r[0]), ['uloc-wb-1']);

        state.down = true;
        await commit(s.api, 'wb2', { insert: [contact(2)] });
        for (let i = 0; i < 3; i++) {
          t.mock.timers.tick(5000);
          await settle(async () => logged.some(([, m]) => m.startsWith('usrloc: writing registrations to the database failed')));
        }
        await assert.rejects(s.call('ul.flush'), (e: Error) => e.message === 'Operation failed');
        assert.equal(logged.filter(([, m]) => m.startsWith('usrloc: writing registrations to the database failed')).length, 1, 'logged once per failure streak');
        assert.deepEqual((await rows(db)).map((r) => r[0]), ['uloc-wb-1']);
        assert.deepEqual(s.api.lookup('wb2').length, 1, 'the registration stands in memory');

        state.down = false;
        t.mock.timers.tick(5000);
        await settle(async () => (await rows(db)).length === 2);
        assert.deepEqual((await rows(db)).map((r) => r[0]), ['uloc-wb-1', 'uloc-wb-2']);
        await settle(async () => logged.some(([, m]) => m === 'usrloc: registrations written to the database again'));
        assert.ok(logged.some(([, m]) => m === 'usrloc: registrations written to the database again'));
      } finally {
        await s.reg.destroyAll();
        t.mock.timers.reset();
      }
    });
  });
});

describe('usrloc db_mode 2 needs a database', () => {
  test('without one it is a configuration error naming the mode', async () => {
    const mod = createUsrlocModule({});
    const reg = new ModuleRegistry();
    reg.register(mod);
    await assert.rejects(reg.initAll({ params: new Map([['usrloc', { db_mode: 2 }]]), log: { debug() {}, info() {}, warn() {}, error() {} }, now: () => Date.now() }), /usrloc\.db_mode=2 needs a database/);
  });
});

