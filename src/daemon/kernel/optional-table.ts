/**
 * sipd's own rule tables (sipd_blocklist, sipd_country, sipd_timerule, …) are created by
 * `sipctl db init`. A database made by Kamailio's kamdbctl, or by an older sipctl, lacks them:
 * that is "no rules yet", not a reason for sipd not to start. The module logs once that the
 * table is missing and runs with an empty rule set until a reload finds it.
 */
import type { Database } from '../../core/db/database.js';
import { schemaErrorFrom } from '../../core/db/db-errors.js';
import { assertTableName } from './module-db.js';
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

/**
 * Kamailio's grp table as user → groups, for the rule modules that scope rules by group
 * (timerule, uafilter). `param` names the module parameter the table name came from.
 */
export async function groupsOfUsers(db: Database, table: string, param: string, log: Logger): Promise<Map<string, Set<string>>> {
  assertTableName(param, table);
  const groups = new Map<string, Set<string>>();
  for (const x of await rowsOfOptionalTable<{ username: string; grp: string }>(db, `SELECT username, grp FROM ${table}`, table, log)) {
    const u = String(x.username);
    let s = groups.get(u);
    if (s === undefined) groups.set(u, (s = new Set()));
    s.add(String(x.grp));
  }
  return groups;
}
