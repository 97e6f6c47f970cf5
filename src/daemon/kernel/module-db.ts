/**
 * The database plumbing the SQL-backed modules (permissions, mtree, auth-db, acc, usrloc) share.
 * Each module still owns its connection and its tables; only these rules live here, once.
 */
import type { Database } from '../../core/db/database.js';
import { ConfigError } from '../../core/errors.js';

/** How a module gets its database: a shared connection, or a factory for one of its own. */
export type ModuleDbDependency = Database | (() => Promise<Database>);

/** A module's open database, and whether the module opened it (and so must close it). */
export interface ModuleDb {
  db: Database;
  owned: boolean;
}

const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** A plain SQL identifier of at most 64 characters: safe to put into SQL text as a table name. */
export function isPlainTableName(value: string): boolean {
  return TABLE_NAME.test(value);
}

/**
 * Table names come from module parameters and are put into SQL text, so only a plain
 * identifier is accepted. `param` is the module-qualified name, e.g. "usrloc.table".
 */
export function assertTableName(param: string, value: string): void {
  if (!isPlainTableName(value)) throw new ConfigError('MODULE_PARAM_INVALID', `${param}: not a plain table name`);
}

/** Open the dependency: a factory gives the module a connection it owns; a shared one is borrowed. */
export async function openModuleDb(dep: ModuleDbDependency): Promise<ModuleDb> {
  return typeof dep === 'function' ? { db: await dep(), owned: true } : { db: dep, owned: false };
}

/** For destroy(): close the connection only if the module opened it; a shared one stays open for its owner. */
export async function closeModuleDb(db: Database | undefined, owned: boolean): Promise<void> {
  if (owned && db !== undefined) await db.close();
}
