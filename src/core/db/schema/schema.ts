import { SchemaError } from '../../errors.js';
import type { Database, Queryable } from '../database.js';
import { TABLES, tableDef, type TableDef } from './tables.js';

export interface TableStatus {
  table: string;
  owner: string;
  expectedVersion: number;
  /** null: no version row; undefined: table absent */
  version: number | null | undefined;
  rows: number | null;
  /** outdated: an older version of a sipctl table, or one lacking a column sipctl adds (TableDef.additions), that `db init` upgrades */
  state: 'ok' | 'missing' | 'unknown-version' | 'no-version-row' | 'outdated';
}

/** Can `db init` take this table from version `from` to the current one? */
function migratable(name: string, from: number): boolean {
  const t = tableDef(name);
  if (from >= t.version) return false;
  for (let v = from; v < t.version; v++) if (!t.migrations?.[v]) return false;
  return true;
}

async function existingTables(db: Queryable): Promise<Set<string>> {
  const rows = db.engine === 'mysql'
    ? await db.query<{ name: string }>('SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()')
    : await db.query<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'");
  return new Set(rows.map((r) => r.name));
}

/** Does `table` have `column`? (names from our own table definitions, never from input) */
async function hasColumn(db: Queryable, table: string, column: string): Promise<boolean> {
  const rows = db.engine === 'mysql'
    ? await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? AND column_name = ?', [table, column])
    : await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM pragma_table_info(?) WHERE name = ?', [table, column]);
  return Number(rows[0]?.n ?? 0) > 0;
}

/** The additions (TableDef.additions) a present table still lacks. */
async function missingAdditions(db: Queryable, name: string): Promise<NonNullable<TableDef['additions']>> {
  const out: NonNullable<TableDef['additions']> = [];
  for (const a of tableDef(name).additions ?? []) {
    if ((await hasColumn(db, name, a.requires)) && !(await hasColumn(db, name, a.column))) out.push(a);
  }
  return out;
}

async function versionRows(db: Queryable, present: Set<string>): Promise<Map<string, number>> {
  if (!present.has('version')) return new Map();
  const rows = await db.query<{ table_name: string; table_version: number }>('SELECT table_name, table_version FROM version');
  return new Map(rows.map((r) => [r.table_name, Number(r.table_version)]));
}

export interface InitResult {
  created: string[];
  existing: string[];
  /** sipctl tables upgraded in place (e.g. sim 1 → 2: the encryption-at-rest columns) */
  migrated: Array<{ table: string; from: number; to: number }>;
  /** columns sipctl adds to a table that keeps Kamailio's version (acc_cdrs.dialog_key) */
  added: Array<{ table: string; column: string }>;
  engine: string;
}

/**
 * Create every table sipctl knows that is missing, with its version row. Idempotent; on an
 * existing `kamdbctl create` database it only adds what is absent (e.g. `sim`). Refuses when
 * a present table has a version sipctl does not know, rather than guess.
 */
export async function initSchema(db: Database, opts: { dryRun?: boolean } = {}): Promise<InitResult> {
  const present = await existingTables(db);
  const versions = await versionRows(db, present);
  const created: string[] = [];
  const existing: string[] = [];
  const migrated: InitResult['migrated'] = [];
  const added: InitResult['added'] = [];
  const additions: Array<{ table: string; a: NonNullable<TableDef['additions']>[number] }> = [];
  for (const t of TABLES) {
    if (present.has(t.name)) {
      for (const a of await missingAdditions(db, t.name)) {
        added.push({ table: t.name, column: a.column });
        additions.push({ table: t.name, a });
      }
      const v = versions.get(t.name);
      if (v !== undefined && migratable(t.name, v)) {
        migrated.push({ table: t.name, from: v, to: t.version });
        existing.push(t.name);
        continue;
      }
      if (v !== undefined && v !== t.version) {
        throw new SchemaError('SCHEMA_VERSION_MISMATCH', `table ${t.name} has version ${v}, sipctl knows version ${t.version}`, 'migrate it with Kamailio\'s kamdbctl, or point sipctl at another database');
      }
      existing.push(t.name);
      continue;
    }
    created.push(t.name);
  }
  if (opts.dryRun) return { created, existing, migrated, added, engine: db.engine };
  // A migration step, then its version row, so an interrupted upgrade resumes where it stopped.
  // SQLite: both in one transaction (its DDL is transactional), so a step is done or not at all.
  // MySQL: DDL commits implicitly, so a step is one ALTER (atomic), and one that ran without its
  // version row (interrupted between the two) is recognised by its columns and not run again.
  for (const m of migrated) {
    const t = tableDef(m.table);
    for (let v = m.from; v < m.to; v++) {
      const step = t.migrations![v];
      const setVersion = () => db.execute('UPDATE version SET table_version = ? WHERE table_name = ?', [v + 1, m.table]);
      if (db.engine === 'sqlite') {
        await db.transaction(async () => {
          for (const stmt of step.ddl.sqlite) await db.exec(stmt);
          await setVersion();
        });
        continue;
      }
      let done = true;
      for (const c of step.adds) if (!(await hasColumn(db, m.table, c))) done = false;
      if (!done) for (const stmt of step.ddl.mysql) await db.exec(stmt);
      await setVersion();
    }
  }
  // All or nothing, so an interrupted init finds the column there with its index, or neither:
  // one ALTER on MySQL (each DDL statement is atomic), a transaction on SQLite (its DDL is
  // transactional; exec runs on the transaction's one connection).
  for (const { a } of additions) {
    if (db.engine === 'sqlite') {
      await db.transaction(async () => {
        for (const stmt of a.ddl.sqlite) await db.exec(stmt);
      });
    } else for (const stmt of a.ddl.mysql) await db.exec(stmt);
  }
  // DDL is not transactional on MySQL; create one table at a time, then its version row,
  // so an interrupted init can simply be run again.
  for (const name of created) {
    for (const stmt of tableDef(name).ddl[db.engine]) await db.exec(stmt);
  }
  const now = await versionRows(db, await existingTables(db));
  for (const t of TABLES) {
    if (!now.has(t.name)) await db.execute('INSERT INTO version (table_name, table_version) VALUES (?, ?)', [t.name, t.version]);
  }
  return { created, existing, migrated, added, engine: db.engine };
}

export async function schemaStatus(db: Database): Promise<TableStatus[]> {
  const present = await existingTables(db);
  const versions = await versionRows(db, present);
  const out: TableStatus[] = [];
  for (const t of TABLES) {
    if (!present.has(t.name)) {
      out.push({ table: t.name, owner: t.owner, expectedVersion: t.version, version: undefined, rows: null, state: 'missing' });
      continue;
    }
    // The table name comes from our own constant list, never from input.
    const [{ n }] = await db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${t.name}`);
    const v = versions.get(t.name);
    out.push({
      table: t.name,
      owner: t.owner,
      expectedVersion: t.version,
      version: v ?? null,
      rows: Number(n),
      state: v === undefined ? 'no-version-row' : v === t.version ? ((await missingAdditions(db, t.name)).length > 0 ? 'outdated' : 'ok') : migratable(t.name, v) ? 'outdated' : 'unknown-version',
    });
  }
  return out;
}

/**
 * Before writing to a table: it must exist and carry the version sipctl knows.
 * Checked once per process per table.
 */
const checked = new WeakMap<object, Set<string>>();
export async function assertWritable(db: Database, table: string): Promise<void> {
  let seen = checked.get(db);
  if (!seen) checked.set(db, (seen = new Set()));
  if (seen.has(table)) return;
  const t = tableDef(table);
  let rows: Array<{ table_version: number }>;
  try {
    rows = await db.query<{ table_version: number }>('SELECT table_version FROM version WHERE table_name = ?', [table]);
  } catch (e) {
    throw new SchemaError('SCHEMA_MISSING', `database ${db.label} has no Kamailio schema (no version table)`, 'run `sipctl db init` first');
  }
  if (rows.length === 0) throw new SchemaError('SCHEMA_MISSING', `table ${table} is not set up in ${db.label}`, 'run `sipctl db init`');
  const v = Number(rows[0].table_version);
  if (v !== t.version) {
    if (migratable(table, v)) throw new SchemaError('SCHEMA_OUTDATED', `table ${table} has version ${v}; this sipctl uses version ${t.version}`, 'run `sipctl db init` to upgrade it (it only adds columns)');
    throw new SchemaError('SCHEMA_VERSION_MISMATCH', `refusing to write: table ${table} has version ${v}, sipctl knows version ${t.version}`, 'check `sipctl db status`; migrate with Kamailio\'s tools first');
  }
  seen.add(table);
}
