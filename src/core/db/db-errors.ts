/**
 * Driver errors that mean "this database lacks the schema sipctl expects" (a table or column
 * missing), on either engine. They are schema errors (exit 9, "run sipctl db init / db status"),
 * not bugs in sipctl (exit 1), whichever command met them first.
 */
import { SchemaError } from '../errors.js';

export function schemaErrorFrom(err: unknown): SchemaError | undefined {
  const e = err as { code?: string; errno?: number; message?: string; sqlMessage?: string } | undefined;
  if (!e || typeof e !== 'object') return undefined;
  const msg = e.sqlMessage ?? e.message ?? '';
  // MySQL/MariaDB: ER_NO_SUCH_TABLE 1146 "Table 'db.subscriber' doesn't exist"
  if (e.code === 'ER_NO_SUCH_TABLE' || e.errno === 1146) {
    const t = /Table '(?:[^'.]*\.)?([^']*)'/.exec(msg)?.[1];
    return new SchemaError('SCHEMA_MISSING', `the database has no table ${t ?? '(unknown)'}: it lacks the Kamailio schema`, 'run `sipctl db init`, then `sipctl db status`');
  }
  // ER_BAD_FIELD_ERROR 1054 "Unknown column 'callid' in 'field list'"
  if (e.code === 'ER_BAD_FIELD_ERROR' || e.errno === 1054) {
    return new SchemaError('SCHEMA_COLUMN_MISSING', `a table lacks a column sipctl needs: ${msg}`, 'see `sipctl db status`; the table may come from another Kamailio version');
  }
  if (typeof e.code === 'string' && e.code.startsWith('SQLITE_')) {
    const table = /no such table: (?:\w+\.)?(\w+)/.exec(msg)?.[1];
    if (table) return new SchemaError('SCHEMA_MISSING', `the database has no table ${table}: it lacks the Kamailio schema`, 'run `sipctl db init`, then `sipctl db status`');
    if (/no such column|has no column named/.test(msg)) {
      return new SchemaError('SCHEMA_COLUMN_MISSING', `a table lacks a column sipctl needs: ${msg}`, 'see `sipctl db status`; the table may come from another Kamailio version');
    }
  }
  return undefined;
}
