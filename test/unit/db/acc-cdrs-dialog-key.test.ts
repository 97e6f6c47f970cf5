// acc_cdrs.dialog_key (issue 14, exactly-once CDRs): the unique key that lets sipd write an
// answered call's CDR twice (a node that died after its batch committed, and the node that
// claimed the call's tombstone) and keep one row — on SQLite and on MariaDB:
//   - the acc module's insert skips a second CDR of the same answered dialog (in the same batch,
//     in a later one, from another node's module) and nothing else: unanswered attempts that
//     share Call-ID and From tag (a 407, a 486, the answered INVITE after them) all stay;
//   - `sipctl db init` adds the column to an acc_cdrs an earlier sipctl made (rows kept, with
//     rows that look alike: they get NULL), all or nothing, and leaves a table made by
//     Kamailio's scripts alone; `db status` says outdated until then.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Database } from '../../../src/core/db/database.js';
import { initSchema, schemaStatus } from '../../../src/core/db/schema/schema.js';
import { ModuleRegistry } from '../../../src/daemon/kernel/module-registry.js';
import { createAccModule, type AccApi } from '../../../src/daemon/modules/acc/acc-module.js';
import { dialogKey, type CdrRecord } from '../../../src/daemon/modules/acc/records.js';
import { createTestDb, forEachEngine } from '../../helpers/db.js';

const T0 = Date.UTC(2026, 0, 2, 10, 0, 0);
const answered: CdrRecord = {
  callId: 'k1@10.0.0.5', fromTag: 'f1', toTag: 't1', srcUser: 'alice', srcDomain: 'example.com', srcIp: '10.0.0.5', dstOuser: '100', dstUser: '100', dstDomain: '10.0.0.2',
  setupTime: T0, answerTime: T0 + 2_000, endTime: T0 + 30_000, sipCode: 200, sipReason: 'OK', endReason: 'caller-bye',
};
/** the same Call-ID and From tag, never answered: a challenge, a busy callee */
const challenged: CdrRecord = { ...answered, toTag: '', answerTime: undefined, endTime: T0 + 100, sipCode: 407, sipReason: 'Proxy Authentication Required', endReason: 'rejected' };
const busy: CdrRecord = { ...challenged, endTime: T0 + 900, sipCode: 486, sipReason: 'Busy Here', endReason: 'failed' };

async function accOn(db: Database): Promise<{ api: AccApi; reg: ModuleRegistry }> {
  const mod = createAccModule({ db });
  const reg = new ModuleRegistry();
  reg.register(mod);
  await reg.initAll({ params: new Map([['acc', { flush_interval: 60_000 }]]) });
  return { api: mod.api as AccApi, reg };
}

const rowsOf = (db: Database, callId: string) => db.query<{ sip_code: string; end_reason: string; dialog_key: string | null }>('SELECT sip_code, end_reason, dialog_key FROM acc_cdrs WHERE callid = ? ORDER BY id', [callId]);

test('dialogKey: answered calls only, from the whole Call-ID and both tags', () => {
  assert.equal(dialogKey(challenged), null);
  assert.match(dialogKey(answered)!, /^[0-9a-f]{64}$/);
  assert.notEqual(dialogKey(answered), dialogKey({ ...answered, toTag: 't2' }));
  // the columns clip Call-ID at 255 characters; the key does not
  const long = 'x'.repeat(255);
  assert.notEqual(dialogKey({ ...answered, callId: `${long}a` }), dialogKey({ ...answered, callId: `${long}b` }));
});

forEachEngine('acc_cdrs dialog_key', (engine, track) => {
  test('a second CDR of the same answered call is skipped — same batch, next batch, another node — and no unanswered attempt is', async () => {
    const db = await track(await createTestDb(engine)).open();
    try {
      const a = await accOn(db);
      const written: CdrRecord[][] = [];
      a.api.onCdrs((cdrs, outcome) => void (outcome === 'written' && written.push([...cdrs])));
      a.api.cdr(challenged);
      a.api.cdr(busy);
      a.api.cdr(answered);
      a.api.cdr({ ...answered });
      await a.api.flush();
      a.api.cdr({ ...answered });
      await a.api.flush();
      // another node's module (the one that claimed the tombstone) writes the same CDR again
      const b = await accOn(db);
      b.api.cdr({ ...answered });
      await b.api.flush();
      const rows = await rowsOf(db, answered.callId);
      assert.deepEqual(rows.map((r) => [r.sip_code, r.end_reason, r.dialog_key]), [
        ['407', 'rejected', null],
        ['486', 'failed', null],
        ['200', 'caller-bye', dialogKey(answered)],
      ]);
      // the listener hears of every CDR once its batch committed, the skipped ones included
      assert.deepEqual(written.map((w) => w.length), [4, 1]);
      // a CDR of another answered call with the same Call-ID and From tag but another To tag stays
      b.api.cdr({ ...answered, toTag: 't2' });
      await b.api.flush();
      assert.equal((await rowsOf(db, answered.callId)).length, 4);
      await a.reg.destroyAll();
      await b.reg.destroyAll();
    } finally {
      await db.close();
    }
  });

  test('flush() covers what was queued while a batch was being written (shutdown awaits it)', async () => {
    const db = await track(await createTestDb(engine)).open();
    try {
      // a database whose transactions wait for the test: the first batch is held mid-write
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let held = true;
      const slow: Database = {
        ...db,
        engine: db.engine,
        label: db.label,
        query: (sql, params) => db.query(sql, params),
        execute: (sql, params) => db.execute(sql, params),
        exec: (sql) => db.exec(sql),
        close: async () => undefined,
        transaction: async (fn) => {
          if (held) await gate;
          return db.transaction(fn);
        },
      };
      const { api, reg } = await accOn(slow);
      api.cdr({ ...answered, callId: 'first' });
      const first = api.flush();
      api.cdr({ ...answered, callId: 'second' });
      const second = api.flush();
      held = false;
      release();
      await second;
      assert.deepEqual((await db.query<{ callid: string }>("SELECT callid FROM acc_cdrs WHERE callid IN ('first', 'second') ORDER BY callid")).map((r) => r.callid), ['first', 'second']);
      await first;
      await reg.destroyAll();
    } finally {
      await db.close();
    }
  });

  test('db init adds dialog_key to an acc_cdrs an earlier sipctl made (rows kept, NULL), all or nothing; a Kamailio-made acc_cdrs is left alone', async () => {
    const db = await track(await createTestDb(engine)).open();
    try {
      // an acc_cdrs as sipctl made it before: no dialog_key; two rows of one call (a double write)
      if (engine === 'sqlite') await db.exec('DROP INDEX acc_cdrs_dialog_key_idx');
      await db.exec('ALTER TABLE acc_cdrs DROP COLUMN dialog_key');
      for (let i = 0; i < 2; i++) await db.execute("INSERT INTO acc_cdrs (start_time, end_time, duration, callid, from_tag, to_tag, sip_code) VALUES ('2026-01-02 10:00:02', '2026-01-02 10:00:30', 28, 'old', 'f', 't', '200')");
      assert.equal((await schemaStatus(db)).find((s) => s.table === 'acc_cdrs')!.state, 'outdated');
      // sipd on it: written without the key (with a warning), not refused
      const before = await accOn(db);
      before.api.cdr(answered);
      await before.api.flush();
      await before.reg.destroyAll();

      const dry = await initSchema(db, { dryRun: true });
      assert.deepEqual(dry.added, [{ table: 'acc_cdrs', column: 'dialog_key' }]);
      assert.equal((await schemaStatus(db)).find((s) => s.table === 'acc_cdrs')!.state, 'outdated', 'a dry run changes nothing');
      const r = await initSchema(db);
      assert.deepEqual(r.added, [{ table: 'acc_cdrs', column: 'dialog_key' }]);
      assert.deepEqual(r.created, []);
      assert.equal((await schemaStatus(db)).find((s) => s.table === 'acc_cdrs')!.state, 'ok');
      assert.deepEqual((await db.query<{ n: number }>("SELECT COUNT(*) AS n FROM acc_cdrs WHERE callid = 'old' AND dialog_key IS NULL")).map((x) => Number(x.n)), [2]);
      assert.deepEqual((await initSchema(db)).added, [], 'a second init changes nothing');
      const after = await accOn(db);
      after.api.cdr(answered); // its key-less row from before stays; this one is keyed
      after.api.cdr(answered);
      await after.api.flush();
      await after.reg.destroyAll();
      assert.deepEqual((await rowsOf(db, answered.callId)).map((x) => x.dialog_key), [null, dialogKey(answered)]);

      // Kamailio's own acc_cdrs (id, start_time, end_time, duration): not sipctl's to change
      await db.exec('DROP TABLE acc_cdrs');
      await db.exec(engine === 'mysql'
        ? "CREATE TABLE acc_cdrs (id INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL, start_time DATETIME DEFAULT '2000-01-01 00:00:00' NOT NULL, end_time DATETIME DEFAULT '2000-01-01 00:00:00' NOT NULL, duration FLOAT(10,3) DEFAULT 0 NOT NULL)"
        : "CREATE TABLE acc_cdrs (id INTEGER PRIMARY KEY NOT NULL, start_time TIMESTAMP WITHOUT TIME ZONE DEFAULT '2000-01-01 00:00:00' NOT NULL, end_time TIMESTAMP WITHOUT TIME ZONE DEFAULT '2000-01-01 00:00:00' NOT NULL, duration REAL DEFAULT 0 NOT NULL)");
      assert.deepEqual((await initSchema(db)).added, []);
      assert.equal((await schemaStatus(db)).find((s) => s.table === 'acc_cdrs')!.state, 'ok');
    } finally {
      await db.close();
    }
  });
});
