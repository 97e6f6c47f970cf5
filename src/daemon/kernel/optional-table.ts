/**
 * sipd's own rule tables (sipd_blocklist, sipd_country, sipd_timerule, …) are created by
 * `sipctl db init`. A database made by Kamailio's kamdbctl, or by an older sipctl, lacks them:
 * that is "no rules yet", not a reason for sipd not to start. The module logs once that the
 * table is missing and runs with an empty rule set until a reload finds it.
 */
import type { Database } from '../../core/db/database.js';
import { schemaErrorFrom } from '../../core/db/db-errors.js';
import type { Logger } from './module.js';

const warned = new WeakMap<Logger, Set<string>>();

export async function rowsOfOptionalTable<T>(db: Database, sql: string, table: string, log: Logger, params?: Array<string | number>): Promise<T[]> {
  try {
    return await db.query<T>(sql, params);
  } catch (e) {
    if (schemaErrorFrom(e)?.code !== 'SCHEMA_MISSING') throw e;
    let seen = warned.get(log);
    if (seen === undefined) warned.set(log, (seen = new Set()));
    if (!seen.has(table)) {
      seen.add(table);
      log.warn(`table ${table} does not exist: no rules from it (create it with \`sipctl db init\`)`, { table });
    }
    return [];
  }
}
