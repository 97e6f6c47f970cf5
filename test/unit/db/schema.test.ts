/**
 * The Kamailio 5.x schema: db init creates what Kamailio's kamdbctl creates (checked against the
 * real `SHOW CREATE TABLE` output and against databases built with Kamailio's own scripts).
 */
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createTestDb, forEachEngine, type EngineName } from '../../helpers/db.js';
import type { Database } from '../../../src/core/db/database.js';
import { initSchema, schemaStatus } from '../../../src/core/db/schema/schema.js';
import { TABLES } from '../../../src/core/db/schema/tables.js';
import { SchemaError } from '../../../src/core/errors.js';
import { addSubscriber, getSubscriber } from '../../../src/core/subscribers/subscribers.js';

const EXPECTED_VERSIONS: Record<string, number> = {
  version: 1,
  subscriber: 7,
  address: 6,
  trusted: 6,
  location: 9,
  location_attrs: 1,
  htable: 2,
  acc: 5,
  acc_cdrs: 2,
  mtree: 1,
  // issue 12 (test/unit/db/schema-issue12.test.ts compares them with Kamailio's own scripts)
  domain: 2,
  domain_attrs: 1,
  dispatcher: 4,
  dialplan: 2,
  grp: 2,
  re_grp: 1,
  dbaliases: 1,
  speed_dial: 2,
  uacreg: 5,
  // issue 13: sipd's rule tables
  sipd_blocklist: 1,
  sipd_country: 1,
  sipd_country_override: 1,
  sipd_timerule: 1,
  sipd_rate: 1,
  sipd_limits: 1,
  sipd_ua_allow: 1,
  sim: 2,
};
const ISSUE12_TABLES = ['domain', 'domain_attrs', 'dispatcher', 'dialplan', 'grp', 're_grp', 'dbaliases', 'speed_dial', 'uacreg'];
const ISSUE13_TABLES = ['sipd_blocklist', 'sipd_country', 'sipd_country_override', 'sipd_timerule', 'sipd_rate', 'sipd_limits', 'sipd_ua_allow'];
const ALL = Object.keys(EXPECTED_VERSIONS).sort();
const KAMAILIO_TABLES = ['version', 'subscriber', 'address', 'trusted', 'location', 'location_attrs', 'htable'];
const SCHEMA_TXT = fileURLToPath(new URL('../../fixtures/kamailio/recorded/db_schema.txt', import.meta.url));
const KAMAILIO_SQL = '/usr/share/kamailio';
/** The modules kamdbctl would load for the lab: standard (version), auth_db, permissions, registrar, usrloc, htable. */
const KAMAILIO_MODULES = ['standard', 'auth_db', 'permissions', 'registrar', 'usrloc', 'htable'];

async function tables(db: Database): Promise<string[]> {
  const rows = db.engine === 'mysql'
    ? await db.query<{ name: string }>('SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()')
    : await db.query<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'");
  return rows.map((r) => r.name).sort();
}
async function versions(db: Database): Promise<Record<string, number>> {
  const rows = await db.query<{ table_name: string; table_version: number }>('SELECT table_name, table_version FROM version ORDER BY table_name');
  return Object.fromEntries(rows.map((r) => [r.table_name, Number(r.table_version)]));
}
async function showCreate(db: Database, table: string): Promise<string> {
  const [row] = await db.query<Record<string, string>>(`SHOW CREATE TABLE \`${table}\``);
  return row['Create Table'].replace(/ AUTO_INCREMENT=\d+/, '');
}
async function sqliteSchema(db: Database, table: string): Promise<string[]> {
  const rows = await db.query<{ type: string; name: string; sql: string | null }>('SELECT type, name, sql FROM sqlite_master WHERE tbl_name = ? ORDER BY type, name', [table]);
  return rows.map((r) => `${r.type} ${r.name}: ${(r.sql ?? '').replace(/\s+/g, ' ')}`);
}

/** `SHOW CREATE TABLE` texts recorded from a real `kamdbctl create` (Kamailio 5.6, MariaDB). */
function recordedShowCreate(): Map<string, string> {
  const text = readFileSync(SCHEMA_TXT, 'utf8');
  const out = new Map<string, string>();
  for (const section of text.split(/^===== /m)) {
    const m = /^SHOW CREATE TABLE (\w+)\n[\s\S]*?Create Table: ([\s\S]*?)\n*$/.exec(section);
    if (m) out.set(m[1], m[2].replace(/ AUTO_INCREMENT=\d+/, ''));
  }
  return out;
}

/** Kamailio's own create scripts, one statement at a time (statements end with `;` at end of line). */
function kamailioStatements(engine: EngineName, modules: string[]): string[] {
  const sub = engine === 'mysql' ? 'mysql' : 'db_sqlite';
  return modules.flatMap((m) =>
    readFileSync(`${KAMAILIO_SQL}/${sub}/${m}-create.sql`, 'utf8')
      .split(/;\s*$/m)
      .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
      .filter(Boolean),
  );
}

test('the recorded kamdbctl output holds the five tables compared below', () => {
  assert.deepEqual([...recordedShowCreate().keys()].sort(), ['address', 'htable', 'location', 'subscriber', 'version']);
});

test("sipctl's table list is the one documented (names and versions)", () => {
  assert.deepEqual(Object.fromEntries(TABLES.map((t) => [t.name, t.version])), EXPECTED_VERSIONS);
});

forEachEngine('initSchema', (engine, track) => {
  let db: Database;
  before(async () => {
    db = await track(await createTestDb(engine, { init: false })).open();
  });
  after(async () => db?.close());

  test('dry run on an empty database reports everything and creates nothing', async () => {
    const r = await initSchema(db, { dryRun: true });
    assert.deepEqual([...r.created].sort(), ALL);
    assert.deepEqual(r.existing, []);
    assert.deepEqual(await tables(db), []);
  });

  test('creates every table with its version row', async () => {
    const r = await initSchema(db);
    assert.equal(r.engine, engine);
    assert.deepEqual([...r.created].sort(), ALL);
    assert.deepEqual(r.existing, []);
    assert.deepEqual(await tables(db), ALL);
    assert.deepEqual(await versions(db), EXPECTED_VERSIONS);
  });

  test('is idempotent: a second run creates nothing and adds no version rows', async () => {
    const r = await initSchema(db);
    assert.deepEqual(r.created, []);
    assert.deepEqual([...r.existing].sort(), ALL);
    const [{ n }] = await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM version');
    assert.equal(Number(n), ALL.length);
    assert.deepEqual(await versions(db), EXPECTED_VERSIONS);
  });

  test('schemaStatus reports versions, states and row counts', async () => {
    await addSubscriber(db, 'alice', 'example.com', 'Str0ng-passw0rd', { hash: 'md5', storePlaintext: false });
    await addSubscriber(db, 'bob', 'example.com', 'Str0ng-passw0rd', { hash: 'md5', storePlaintext: false });
    await db.execute("INSERT INTO htable (key_name, key_value) VALUES ('k', 'v')");
    const st = await schemaStatus(db);
    assert.deepEqual(st.map((s) => s.table).sort(), ALL);
    for (const s of st) {
      assert.equal(s.state, 'ok', s.table);
      assert.equal(s.version, EXPECTED_VERSIONS[s.table]);
      assert.equal(s.expectedVersion, EXPECTED_VERSIONS[s.table]);
    }
    const rows = Object.fromEntries(st.map((s) => [s.table, s.rows]));
    assert.equal(rows.subscriber, 2);
    assert.equal(rows.htable, 1);
    assert.equal(rows.version, ALL.length);
    assert.equal(rows.location, 0);
    assert.equal(st.find((s) => s.table === 'subscriber')!.owner, 'auth_db');
    assert.equal(st.find((s) => s.table === 'sim')!.owner, 'sipctl');
  });

  test('schemaStatus sees a changed version, a missing version row and a missing table; init recreates the table', async () => {
    await db.execute("UPDATE version SET table_version = 6 WHERE table_name = 'subscriber'");
    await db.execute("DELETE FROM version WHERE table_name = 'trusted'");
    await db.exec('DROP TABLE htable');
    await db.execute("DELETE FROM version WHERE table_name = 'htable'");
    const st = Object.fromEntries((await schemaStatus(db)).map((s) => [s.table, s]));
    assert.equal(st.subscriber.state, 'unknown-version');
    assert.equal(st.subscriber.version, 6);
    assert.equal(st.trusted.state, 'no-version-row');
    assert.equal(st.trusted.version, null);
    assert.equal(st.htable.state, 'missing');
    assert.equal(st.htable.version, undefined);
    assert.equal(st.htable.rows, null);

    // a table of an unknown version stops init before it changes anything
    await assert.rejects(initSchema(db), (e: unknown) => e instanceof SchemaError && e.code === 'SCHEMA_VERSION_MISMATCH' && /subscriber/.test(e.message));
    assert.ok(!(await tables(db)).includes('htable'));

    await db.execute("UPDATE version SET table_version = 7 WHERE table_name = 'subscriber'");
    const r = await initSchema(db);
    assert.deepEqual(r.created, ['htable']);
    assert.deepEqual(await versions(db), EXPECTED_VERSIONS, 'missing version rows are restored');
    assert.equal((await getSubscriber(db, 'alice', 'example.com')).username, 'alice', 'data kept');
  });
});

forEachEngine('compatibility with a database made by Kamailio\'s own scripts', (engine, track) => {
  let kam: Database;
  let ours: Database;
  before(async () => {
    kam = await track(await createTestDb(engine, { init: false })).open();
    for (const stmt of kamailioStatements(engine, KAMAILIO_MODULES)) await kam.exec(stmt);
    ours = await track(await createTestDb(engine)).open();
  });
  after(async () => {
    await kam?.close();
    await ours?.close();
  });

  test('the Kamailio database has what kamdbctl puts there', async () => {
    const v = await versions(kam);
    assert.deepEqual(v, { address: 6, aliases: 8, htable: 2, location: 9, location_attrs: 1, subscriber: 7, trusted: 6, version: 1 });
  });

  test('every Kamailio table sipctl creates is identical to the one Kamailio creates', async () => {
    for (const t of KAMAILIO_TABLES) {
      if (engine === 'mysql') assert.equal(await showCreate(ours, t), await showCreate(kam, t), t);
      else assert.deepEqual(await sqliteSchema(ours, t), await sqliteSchema(kam, t), t);
    }
  });

  test('initSchema only adds what is missing (acc, acc_cdrs, mtree, sim), keeps foreign tables, and addSubscriber works', async () => {
    const before1 = await versions(kam);
    const r = await initSchema(kam);
    const added = ['acc', 'acc_cdrs', 'mtree', ...ISSUE12_TABLES, ...ISSUE13_TABLES, 'sim'];
    assert.deepEqual(r.created, added);
    assert.deepEqual([...r.existing].sort(), ALL.filter((t) => !added.includes(t)));
    assert.deepEqual(await versions(kam), { ...before1, ...Object.fromEntries(added.map((t) => [t, EXPECTED_VERSIONS[t]])) });
    assert.ok((await tables(kam)).includes('aliases'), 'a table sipctl does not know is left alone');
    for (const s of await schemaStatus(kam)) assert.equal(s.state, 'ok', s.table);

    await addSubscriber(kam, '61312341234', '127.0.0.1', 'supersecretpassword', { hash: 'md5', storePlaintext: false });
    const got = await getSubscriber(kam, '61312341234', '127.0.0.1', true);
    assert.equal(got.ha1, '4a7cadd345e02b65cd9e2230bdd9128a');
    assert.equal(got.ha1b, '7c65f3b58133f64fa6111dda9c3398a0');
    assert.deepEqual((await initSchema(kam)).created, [], 'and a second init is a no-op');
  });

  if (engine === 'mysql') {
    test('SHOW CREATE TABLE equals the recorded kamdbctl output (AUTO_INCREMENT=N ignored)', async () => {
      const recorded = recordedShowCreate();
      assert.equal(recorded.size, 5);
      for (const [table, text] of recorded) assert.equal(await showCreate(ours, table), text, table);
    });
  }
});
