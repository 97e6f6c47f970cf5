// Enforces src/core/db/README.md (issue 16 part 1): no value ever becomes SQL text.
// - mysql2 is used only by src/core/db/mysql.ts, and there every statement with values goes
//   through execute() (server-side prepared statements); query() only runs DDL without values.
// - SQL text anywhere in src/ (a template literal or a `+` chain whose constant text looks like
//   SQL) interpolates only reviewed expressions: placeholder lists ("?, ?, ?"), upper-case
//   constants, table names checked by isPlainTableName/assertTableName, and WHERE clauses
//   assembled from constant fragments. A new interpolation fails this test until it is reviewed
//   and added below with the reason it is safe.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { REPO } from '../../helpers/cli.js';
import { scan, scanSource } from './sql-scan.js';

const SRC = join(REPO, 'src');
const MYSQL_DRIVER_FILE = 'src/core/db/mysql.ts';

/** Expressions that can only produce SQL we wrote: safe in any file. */
const GENERIC: Array<[RegExp, string]> = [
  [/^[A-Z][A-Z0-9_]*$/, 'a module constant (upper case) holding SQL text or column lists'],
  [/^[\w.]+\.map\(\(\) => ('\?'|one|'\([?, ]+\)')\)\.join\(', '\)$/, 'a list of ? placeholders'],
  [/^Array\.from\(\{ length: \w+ \}, \(\) => one\)\.join\(', '\)$/, 'a list of placeholder tuples'],
  [/^new Array\([\w.]+\)\.fill\([A-Z_]+\)\.join\(', '\)$/, 'a list of constant placeholder tuples'],
  [/^marks\([\w.]+\)$/, 'marks(n): n ? placeholders'],
  [/^usernameEquals\((db|q)\)$/, "usernameEquals(): one of two constant comparisons ('username = ?' with or without COLLATE NOCASE)"],
];

/** Reviewed interpolations, per file: expression → why it is safe. */
const REVIEWED: Record<string, Record<string, string>> = {
  'src/core/calls/calls.ts': {
    w: 'WHERE clause joined from constant fragments with ? placeholders',
    limit: 'an integer clamped to 1..1,000,000 by Math.max/Math.min',
    select: 'column names from the constant EXTRA list, filtered by the columns the table has',
    timeCol: "one of the constants 'setup_time' / 'start_time'",
  },
  'src/core/db/schema/schema.ts': { 't.name': 'a table name from the constant TABLES list' },
  'src/core/db/table-show.ts': {
    list: 'column names read from the database for a table of the constant TABLES list, each matching ^[A-Za-z_][A-Za-z0-9_]*$',
    table: 'a table name from the constant TABLES list',
    where: "' WHERE ' + 'COLUMN = ?' fragments, each COLUMN one of those checked column names",
    'columns[0]': 'the first of those checked column names',
    'limit + 1': 'an integer clamped to 1..1,000,000 by Math.max/Math.min',
  },
  'src/core/db/schema/tables.ts': {
    locationColumnsMysql: 'constant DDL column list',
    locationColumnsSqlite: 'constant DDL column list',
  },
  'src/core/sim/sim-records.ts': {
    where: 'constant fragments with ? placeholders',
    clause: 'listWhere(): constant fragments with ? placeholders',
    cond: 'listWhere() clause plus a constant fragment',
  },
  'src/core/subscribers/import.ts': { cond: 'repeated constant "(username = ? AND domain = ?)" fragments' },
  'src/core/subscribers/subscribers.ts': {
    clause: 'constant fragments with ? placeholders',
    page: "the constant ' LIMIT ? OFFSET ?' or ''",
  },
  'src/daemon/modules/acc/acc-module.ts': {
    table: 'acc/cdr table parameter, checked by assertTableName at init',
    "cols.join(', ')": 'constant column lists (ACC_BASE/CDR_BASE and extras)',
  },
  'src/daemon/modules/auth-db/credential-cache.ts': {
    table: 'auth_db table parameter, checked by assertTableName at init',
    cols: 'one of two constant column lists',
  },
  'src/daemon/modules/htable/htable-module.ts': { 't.def.dbtable': 'htable dbtable, checked by isPlainTableName when the definition is parsed' },
  'src/daemon/modules/mtree/mtree-module.ts': { table: 'mtree table parameter, checked by assertTableName at init' },
  // issue 13's rule modules: table names from their parameters, checked by assertTableName at init
  'src/daemon/modules/blocklist/blocklist-module.ts': { 'ctx.params.db_table': 'blocklist table parameter, checked by assertTableName at init' },
  'src/daemon/modules/country/country-module.ts': { 'p.db_table': 'country rules table parameter, checked by assertTableName at init', 'p.override_table': 'country override table parameter, checked by assertTableName at init' },
  'src/daemon/kernel/optional-table.ts': { table: 'the grp table name of groupsOfUsers, checked by assertTableName right above it' },
  'src/daemon/modules/timerule/timerule-module.ts': { 'ctx.params.db_table': 'time rules table parameter, checked by assertTableName at init' },
  'src/daemon/modules/uafilter/uafilter-module.ts': { 'ctx.params.db_table': 'User-Agent allow-list table parameter, checked by assertTableName at init' },
  'src/daemon/modules/limits/limits-module.ts': { 'p.rates_table': 'rate table parameter, checked by assertTableName at init', 'p.limits_table': 'limits table parameter, checked by assertTableName at init', 'p.cdrs_table': 'CDR table parameter, checked by assertTableName at init' },
  'src/daemon/modules/permissions/permissions-module.ts': { tableName: 'address table parameter, checked by assertTableName at init' },
  'src/daemon/modules/usrloc/location-db.ts': {
    'q(this.table)': 'usrloc table parameter (assertTableName at init), quoted',
    "q('ruid')": 'a constant column name, quoted',
    "q('id')": 'a constant column name, quoted',
    "COLUMNS.map(q).join(', ')": 'the constant COLUMNS list, quoted',
    "PARAM_COLUMNS.map((c) => `? AS ${q(c)}`).join(', ')": 'placeholders named after the constant PARAM_COLUMNS (COLUMNS up to the constants)',
    "['id', 'ruid', 'username', 'domain', 'contact', 'received', 'path', 'expires', 'q', 'callid', 'cseq', 'last_modified', 'flags', 'cflags', 'user_agent', 'socket', 'methods', 'instance', 'reg_id', 'server_id'].map(q).join(', ')": 'a constant column list, quoted',
    "['ruid', 'username', 'domain', 'expires', 'callid', 'cseq', 'server_id'].map(q).join(', ')": 'a constant column list, quoted',
    "q('server_id')": 'a constant column name, quoted',
    'this.constantValues': "constants(serverId): the literals -1, 0, 0 and the node's server_id, an integer 0..2^31-1 checked by Number.isSafeInteger in the constructor",
    where: "loadAll: '' or the constant ' WHERE `server_id` NOT IN (0, ?)'; sweepGone: the constant '(`ruid` = ? AND `server_id` = ? AND `cseq` = ? AND `callid` = ?)' joined by ' OR '",
  },
};

/** Files whose reviewed interpolations include a table name from configuration: they must validate it. */
const TABLE_NAME_FILES: Record<string, string> = {
  'src/daemon/modules/acc/acc-module.ts': 'assertTableName(',
  'src/daemon/modules/auth-db/auth-db-module.ts': 'assertTableName(',
  'src/daemon/modules/htable/htable.ts': 'isPlainTableName(',
  'src/daemon/modules/mtree/mtree-module.ts': 'assertTableName(',
  'src/daemon/modules/blocklist/blocklist-module.ts': 'assertTableName(',
  'src/daemon/modules/country/country-module.ts': 'assertTableName(',
  'src/daemon/kernel/optional-table.ts': 'assertTableName(',
  'src/daemon/modules/timerule/timerule-module.ts': 'assertTableName(',
  'src/daemon/modules/uafilter/uafilter-module.ts': 'assertTableName(',
  'src/daemon/modules/limits/limits-module.ts': 'assertTableName(',
  'src/daemon/modules/permissions/permissions-module.ts': 'assertTableName(',
  'src/daemon/modules/usrloc/usrloc-module.ts': 'assertTableName(',
};

const found = scan(REPO, SRC);

test('mysql2 is imported only by the driver file', () => {
  const users = found.imports.filter((i) => i.module === 'mysql2' || i.module.startsWith('mysql2/')).map((i) => i.file);
  assert.deepEqual([...new Set(users)], [MYSQL_DRIVER_FILE]);
});

test('the driver never sends values with query(): statements with values use execute()', () => {
  const calls = found.calls.filter((c) => c.file === MYSQL_DRIVER_FILE);
  assert.ok(calls.some((c) => c.callee.endsWith('.execute')), 'the driver runs statements with execute()');
  for (const c of calls.filter((x) => x.callee.endsWith('.query'))) {
    // query(sql, callback) only: no value array, no options object with values.
    const valueArgs = c.argKinds.slice(1).filter((k) => k !== ts.SyntaxKind.ArrowFunction && k !== ts.SyntaxKind.FunctionExpression);
    assert.equal(valueArgs.length, 0, `${c.file}:${c.line}: ${c.callee}(${c.args.join(', ')}) passes values to query()`);
  }
});

test('SQL text interpolates only reviewed expressions', () => {
  const unreviewed: string[] = [];
  for (const i of found.interpolations) {
    if (GENERIC.some(([re]) => re.test(i.expr))) continue;
    if (REVIEWED[i.file]?.[i.expr] !== undefined) continue;
    unreviewed.push(`${i.file}:${i.line}: \${${i.expr}}`);
  }
  assert.deepEqual(unreviewed, [], 'SQL built from a non-constant value: pass it as a ? parameter, or review it and add it to REVIEWED with the reason it is safe');
});

test('reviewed table names are validated where they come from', () => {
  for (const [file, check] of Object.entries(TABLE_NAME_FILES)) {
    assert.ok(readFileSync(join(REPO, file), 'utf8').includes(check), `${file} no longer calls ${check}`);
  }
});

test('the scanner catches what it is meant to catch', () => {
  // A self-check, so a broken scanner cannot pass the tests above by finding nothing.
  assert.ok(found.interpolations.length > 20, 'found the known SQL interpolations');
  const probe = scanSource('probe.ts', [
    'db.query(`SELECT * FROM t WHERE a = \'${name}\'`);',
    'db.execute("UPDATE t SET a = \'" + x + "\' WHERE id = 1");',
    'const sql = `DELETE FROM t WHERE id IN (${ids.join(",")})`;',
    'conn.query("SELECT 1 FROM t WHERE a = ?", [v]);',
  ].join('\n'));
  assert.deepEqual(probe.interpolations.map((i) => i.expr), ['name', 'x', 'ids.join(",")']);
  assert.deepEqual(probe.calls.map((c) => c.argKinds.length), [1, 1, 2]);
});
