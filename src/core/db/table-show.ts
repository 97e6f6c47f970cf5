import type { Database } from './database.js';
import { TABLES } from './schema/tables.js';
import { SchemaError, UsageError } from '../errors.js';

/*
 * `sipctl db show TABLE [--where col=value]` (kamcli db show): read-only rows of a table sipctl
 * knows. The table name must be one of TABLES and every column one the table really has (read
 * from the database), so identifiers in the SQL come from those lists, values only as `?`.
 * Secrets are masked unless asked for.
 */

/** Password-equivalent columns: shown as ******** unless --reveal. */
export const SECRET_COLUMNS: Record<string, string[]> = {
  subscriber: ['password', 'ha1', 'ha1b'],
  sim: ['ki', 'opc'],
  uacreg: ['auth_password', 'auth_ha1'],
};

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface TableRows {
  table: string;
  columns: string[];
  rows: Array<Record<string, string | number | null>>;
  /** More rows matched than --limit. */
  truncated: boolean;
  masked: string[];
}

async function tableColumns(db: Database, table: string): Promise<string[]> {
  const rows = db.engine === 'mysql'
    ? await db.query<{ name: string }>('SELECT column_name AS name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position', [table])
    : await db.query<{ name: string }>('SELECT name FROM pragma_table_info(?) ORDER BY cid', [table]);
  return rows.map((r) => String(r.name)).filter((n) => IDENT.test(n));
}

function cell(v: unknown): string | number | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v.toISOString().slice(0, 19).replace('T', ' ');
  if (Buffer.isBuffer(v)) return v.toString('hex');
  if (typeof v === 'bigint') return Number(v);
  return typeof v === 'number' ? v : String(v);
}

export async function showTable(db: Database, tableIn: string, opts: { where?: string[]; limit?: number; reveal?: boolean } = {}): Promise<TableRows> {
  const def = TABLES.find((t) => t.name === tableIn.trim());
  if (!def) throw new UsageError('UNKNOWN_TABLE', `"${tableIn}" is not a table sipctl knows`, `one of: ${TABLES.map((t) => t.name).join(', ')}`);
  const table = def.name;
  const columns = await tableColumns(db, table);
  if (columns.length === 0) throw new SchemaError('SCHEMA_MISSING', `table ${table} does not exist in ${db.label}`, 'run `sipctl db init`');
  const conds: string[] = [];
  const params: Array<string | number> = [];
  for (const w of opts.where ?? []) {
    const eq = w.indexOf('=');
    const name = eq > 0 ? w.slice(0, eq).trim() : '';
    const col = columns.find((c) => c.toLowerCase() === name.toLowerCase());
    if (!col) throw new UsageError('BAD_WHERE', `--where "${w}": ${eq > 0 ? `${table} has no column "${name}"` : 'expected COLUMN=VALUE'}`, `columns: ${columns.join(', ')}`);
    if ((SECRET_COLUMNS[table] ?? []).includes(col)) throw new UsageError('BAD_WHERE', `--where on ${col} would reveal a secret by probing`, 'select by another column');
    conds.push(`${col} = ?`);
    params.push(w.slice(eq + 1));
  }
  const limit = Math.max(1, Math.min(opts.limit ?? 1000, 1_000_000));
  const where = conds.length ? ` WHERE ${conds.join(' AND ')}` : '';
  const list = columns.join(', ');
  const raw = await db.query<Record<string, unknown>>(`SELECT ${list} FROM ${table}${where} ORDER BY ${columns[0]} LIMIT ${limit + 1}`, params);
  const masked = opts.reveal ? [] : (SECRET_COLUMNS[table] ?? []).filter((c) => columns.includes(c));
  const rows = raw.slice(0, limit).map((r) => {
    const out: Record<string, string | number | null> = {};
    for (const c of columns) out[c] = masked.includes(c) && r[c] !== '' && r[c] !== null ? '********' : cell(r[c]);
    return out;
  });
  return { table, columns, rows, truncated: raw.length > limit, masked };
}
