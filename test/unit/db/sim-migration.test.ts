// sim table version 1 → 2 (issue 16 part 4): `db init` adds key_id and keys_enc to a table made
// by an earlier sipctl, keeps its rows (plain), and sipctl refuses to write to it until then.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initSchema, schemaStatus, assertWritable } from '../../../src/core/db/schema/schema.js';
import { SchemaError } from '../../../src/core/errors.js';
import { getSim, nextVector } from '../../../src/core/sim/sim-records.js';
import { simStorage } from '../../../src/core/sim/sim-at-rest.js';
import type { Database } from '../../../src/core/db/database.js';
import { createTestDb, forEachEngine } from '../../helpers/db.js';

/** The sim table as sipctl created it at version 1 (before issue 16). */
const SIM_V1 = {
  mysql: `CREATE TABLE \`sim\` (
    \`id\` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL, \`imsi\` VARCHAR(15) NOT NULL, \`iccid\` VARCHAR(20) DEFAULT NULL,
    \`msisdn\` VARCHAR(16) DEFAULT NULL, \`ki\` CHAR(32) NOT NULL, \`opc\` CHAR(32) NOT NULL, \`amf\` CHAR(4) DEFAULT '8000' NOT NULL,
    \`sqn\` CHAR(12) DEFAULT '000000000000' NOT NULL, \`batch\` VARCHAR(64) DEFAULT NULL, \`vendor\` VARCHAR(64) DEFAULT NULL,
    \`created_at\` DATETIME NOT NULL, \`updated_at\` DATETIME NOT NULL,
    CONSTRAINT sim_imsi_idx UNIQUE (\`imsi\`), CONSTRAINT sim_iccid_idx UNIQUE (\`iccid\`), CONSTRAINT sim_ki_idx UNIQUE (\`ki\`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1`,
  sqlite: `CREATE TABLE sim (
    id INTEGER PRIMARY KEY NOT NULL, imsi VARCHAR(15) NOT NULL, iccid VARCHAR(20) DEFAULT NULL, msisdn VARCHAR(16) DEFAULT NULL,
    ki CHAR(32) NOT NULL, opc CHAR(32) NOT NULL, amf CHAR(4) DEFAULT '8000' NOT NULL, sqn CHAR(12) DEFAULT '000000000000' NOT NULL,
    batch VARCHAR(64) DEFAULT NULL, vendor VARCHAR(64) DEFAULT NULL,
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    CONSTRAINT sim_imsi_idx UNIQUE (imsi), CONSTRAINT sim_iccid_idx UNIQUE (iccid), CONSTRAINT sim_ki_idx UNIQUE (ki)
)`,
};

/** Make `db`'s sim table the version-1 table, with one row. */
async function simV1(db: Database, engine: 'mysql' | 'sqlite'): Promise<void> {
  await db.exec(engine === 'mysql' ? 'DROP TABLE `sim`' : 'DROP TABLE sim');
  await db.exec(SIM_V1[engine]);
  await db.execute('UPDATE version SET table_version = ? WHERE table_name = ?', [1, 'sim']);
  await db.execute("INSERT INTO sim (imsi, ki, opc, created_at, updated_at) VALUES ('001010000000001', '465b5ce8b199b49faa5f0a2ee238a6bc', 'cd63cb71954a9f4e48a5994e37a02baf', '2026-01-01 00:00:00', '2026-01-01 00:00:00')");
}

const simColumns = async (db: Database, engine: 'mysql' | 'sqlite') => (engine === 'mysql'
  ? await db.query<{ name: string }>("SELECT column_name AS name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'sim' AND column_name IN ('key_id', 'keys_enc')")
  : await db.query<{ name: string }>("SELECT name FROM pragma_table_info('sim') WHERE name IN ('key_id', 'keys_enc')")).map((r) => r.name).sort();
const simVersion = async (db: Database) => Number((await db.query<{ v: number }>("SELECT table_version AS v FROM version WHERE table_name = 'sim'"))[0].v);

forEachEngine('sim table migration 1 → 2', (engine, track) => {
  test('an interrupted migration leaves the table as it was (SQLite) or is recognised as done (MySQL: DDL commits), and db init run again finishes it', async () => {
    const t = track(await createTestDb(engine));
    const db = await t.open();
    try {
      // (1) the step's last DDL statement fails (SQLite: the second ALTER; MySQL: its one ALTER)
      await simV1(db, engine);
      let failed = 0;
      const ddlFails: Database = { ...db, exec: async (sql) => { if (/keys_enc/.test(sql)) { failed++; throw new Error('interrupted'); } return db.exec(sql); } };
      await assert.rejects(initSchema(ddlFails), /interrupted/);
      assert.equal(failed, 1);
      assert.deepEqual(await simColumns(db, engine), [], 'no column of the failed step is left');
      assert.equal(await simVersion(db), 1);
      assert.deepEqual((await initSchema(db)).migrated, [{ table: 'sim', from: 1, to: 2 }]);
      assert.deepEqual(await simColumns(db, engine), ['key_id', 'keys_enc']);
      assert.equal(await simVersion(db), 2);

      // (2) interrupted after the DDL, before the version row
      await simV1(db, engine);
      const versionFails: Database = { ...db, execute: async (sql, params) => { if (/^UPDATE version/.test(sql)) throw new Error('interrupted'); return db.execute(sql, params); } };
      await assert.rejects(initSchema(versionFails), /interrupted/);
      assert.equal(await simVersion(db), 1);
      // SQLite rolled the ALTERs back with it; MySQL's ALTER had committed
      assert.deepEqual(await simColumns(db, engine), engine === 'sqlite' ? [] : ['key_id', 'keys_enc']);
      assert.deepEqual((await initSchema(db)).migrated, [{ table: 'sim', from: 1, to: 2 }]);
      assert.deepEqual(await simColumns(db, engine), ['key_id', 'keys_enc']);
      assert.equal(await simVersion(db), 2);
      assert.equal((await schemaStatus(db)).find((s) => s.table === 'sim')!.state, 'ok');
      assert.equal((await getSim(db, '001010000000001', { reveal: true })).ki, '465b5ce8b199b49faa5f0a2ee238a6bc');
    } finally {
      await db.close();
    }
  });

  test('db init upgrades a version-1 sim table in place; rows stay and stay plain', async () => {
    const t = track(await createTestDb(engine));
    const db = await t.open();
    try {
      // Make it look like a pre-issue-16 database.
      await db.exec(engine === 'mysql' ? 'DROP TABLE `sim`' : 'DROP TABLE sim');
      await db.exec(SIM_V1[engine]);
      await db.execute('UPDATE version SET table_version = ? WHERE table_name = ?', [1, 'sim']);
      await db.execute("INSERT INTO sim (imsi, ki, opc, created_at, updated_at) VALUES ('001010000000001', '465b5ce8b199b49faa5f0a2ee238a6bc', 'cd63cb71954a9f4e48a5994e37a02baf', '2026-01-01 00:00:00', '2026-01-01 00:00:00')");

      const st = (await schemaStatus(db)).find((s) => s.table === 'sim')!;
      assert.equal(st.state, 'outdated');
      await assert.rejects(assertWritable(db, 'sim'), (e) => e instanceof SchemaError && e.code === 'SCHEMA_OUTDATED' && /db init/.test(e.hint ?? ''));
      await assert.rejects(getSim(db, '001010000000001'), (e) => e instanceof SchemaError && e.code === 'SCHEMA_OUTDATED');

      const dry = await initSchema(db, { dryRun: true });
      assert.deepEqual(dry.migrated, [{ table: 'sim', from: 1, to: 2 }]);
      const r = await initSchema(db);
      assert.deepEqual(r.migrated, [{ table: 'sim', from: 1, to: 2 }]);
      assert.deepEqual(r.created, []);
      assert.equal((await schemaStatus(db)).find((s) => s.table === 'sim')!.state, 'ok');
      assert.deepEqual((await initSchema(db)).migrated, [], 'a second init changes nothing');
      assert.deepEqual(await simStorage(db), { mode: 'plain', rows: 1, plain: 1, encrypted: {} });
      assert.equal((await getSim(db, '001010000000001', { reveal: true })).ki, '465b5ce8b199b49faa5f0a2ee238a6bc');
      assert.equal((await nextVector(db, '001010000000001')).sqn, '000000000020');
    } finally {
      await db.close();
    }
  });
});
