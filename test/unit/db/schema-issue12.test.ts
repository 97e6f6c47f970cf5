/**
 * Issue 12's tables (domain, domain_attrs, dispatcher, dialplan, grp, re_grp, dbaliases,
 * speed_dial, uacreg): `sipctl db init` makes each exactly as Kamailio 5.6's own create scripts
 * do (Debian installs them under /usr/share/kamailio), columns, indexes and version rows.
 */
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createTestDb, forEachEngine, type EngineName } from '../../helpers/db.js';
import type { Database } from '../../../src/core/db/database.js';

const KAMAILIO_SQL = '/usr/share/kamailio';
const MODULES = ['domain', 'dispatcher', 'dialplan', 'group', 'alias_db', 'speeddial', 'uac'];
const TABLES = ['domain', 'domain_attrs', 'dispatcher', 'dialplan', 'grp', 're_grp', 'dbaliases', 'speed_dial', 'uacreg'];

function statements(engine: EngineName, modules: string[]): string[] {
  const sub = engine === 'mysql' ? 'mysql' : 'db_sqlite';
  return modules.flatMap((m) => {
    const file = `${KAMAILIO_SQL}/${sub}/${m}-create.sql`;
    if (!existsSync(file)) throw new Error(`Kamailio's create script ${file} is missing: install the Debian package kamailio (scripts/install-deps.sh)`);
    return readFileSync(file, 'utf8').split(/;\s*$/m).map((s) => s.replace(/^\s*--.*$/gm, '').trim()).filter(Boolean);
  });
}

async function describeTable(db: Database, table: string): Promise<string[]> {
  if (db.engine === 'mysql') {
    const [row] = await db.query<Record<string, string>>(`SHOW CREATE TABLE \`${table}\``);
    return [row['Create Table'].replace(/ AUTO_INCREMENT=\d+/, '')];
  }
  const rows = await db.query<{ type: string; name: string; sql: string | null }>('SELECT type, name, sql FROM sqlite_master WHERE tbl_name = ? ORDER BY type, name', [table]);
  return rows.map((r) => `${r.type} ${r.name}: ${(r.sql ?? '').replace(/\s+/g, ' ')}`);
}

forEachEngine("issue-12 tables as Kamailio's scripts make them", (engine, track) => {
  let kam: Database;
  let ours: Database;
  before(async () => {
    kam = await track(await createTestDb(engine, { init: false })).open();
    for (const stmt of statements(engine, ['standard', ...MODULES])) await kam.exec(stmt);
    ours = await track(await createTestDb(engine)).open();
  });
  after(async () => {
    await kam?.close();
    await ours?.close();
  });

  test('same columns, keys and indexes', async () => {
    for (const t of TABLES) assert.deepEqual(await describeTable(ours, t), await describeTable(kam, t), t);
  });

  test('same version rows', async () => {
    const q = (db: Database) => db.query<{ table_name: string; table_version: number }>(`SELECT table_name, table_version FROM version WHERE table_name IN (${TABLES.map(() => '?').join(', ')}) ORDER BY table_name`, TABLES);
    const norm = (rows: Array<{ table_name: string; table_version: number }>) => rows.map((r) => [r.table_name, Number(r.table_version)]);
    const theirs = norm(await q(kam));
    assert.equal(theirs.length, TABLES.length);
    assert.deepEqual(norm(await q(ours)), theirs);
  });
});
