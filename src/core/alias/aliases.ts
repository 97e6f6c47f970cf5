import type { Database, Queryable } from '../db/database.js';
import { assertWritable } from '../db/schema/schema.js';
import { ConflictError, NotFoundError } from '../errors.js';
import { splitAor } from '../subscribers/identity.js';

/*
 * The alias_db module's `dbaliases` table (kamctl alias_db add/rm/show): alias_username@
 * alias_domain → username@domain, looked up by alias_db_lookup() on every request (no reload).
 */

export interface AliasEntry {
  alias: string;
  user: string;
}

export interface AliasRow extends AliasEntry {
  id: number;
}

export interface AliasChange {
  action: 'add' | 'rm';
  dryRun: boolean;
  entries: Array<AliasEntry | AliasRow>;
}

function toRow(r: Record<string, unknown>): AliasRow {
  return { id: Number(r.id), alias: `${r.alias_username}@${r.alias_domain}`, user: `${r.username}@${r.domain}` };
}

const COLS = 'id, alias_username, alias_domain, username, domain';

async function byAlias(db: Queryable, username: string, domain: string): Promise<AliasRow[]> {
  return (await db.query<Record<string, unknown>>(`SELECT ${COLS} FROM dbaliases WHERE alias_username = ? AND alias_domain = ? ORDER BY id`, [username, domain])).map(toRow);
}

/** One alias points at one user: an alias that exists already is a conflict (exit 4). */
export async function addAlias(db: Database, aliasIn: string, userIn: string, opts: { defaultDomain?: string; dryRun?: boolean } = {}): Promise<AliasChange> {
  const a = splitAor(aliasIn, opts.defaultDomain);
  const u = splitAor(userIn, opts.defaultDomain);
  await assertWritable(db, 'dbaliases');
  return db.transaction(async (tx) => {
    const dup = await byAlias(tx, a.username, a.domain);
    if (dup.length > 0) throw new ConflictError('ALIAS_EXISTS', `${a.username}@${a.domain} is already an alias of ${dup[0]!.user}`, 'remove it first with `sipctl alias rm`');
    if (!opts.dryRun) await tx.execute('INSERT INTO dbaliases (alias_username, alias_domain, username, domain) VALUES (?, ?, ?, ?)', [a.username, a.domain, u.username, u.domain]);
    return { action: 'add', dryRun: !!opts.dryRun, entries: [{ alias: `${a.username}@${a.domain}`, user: `${u.username}@${u.domain}` }] };
  });
}

export async function removeAlias(db: Database, aliasIn: string, opts: { defaultDomain?: string; dryRun?: boolean } = {}): Promise<AliasChange> {
  const a = splitAor(aliasIn, opts.defaultDomain);
  await assertWritable(db, 'dbaliases');
  return db.transaction(async (tx) => {
    const rows = await byAlias(tx, a.username, a.domain);
    if (rows.length === 0) throw new NotFoundError('ALIAS_NOT_FOUND', `${a.username}@${a.domain} is not an alias`, 'see `sipctl alias show`');
    if (!opts.dryRun) for (const r of rows) await tx.execute('DELETE FROM dbaliases WHERE id = ?', [r.id]);
    return { action: 'rm', dryRun: !!opts.dryRun, entries: rows };
  });
}

/** Every alias, or those of one alias (ALIAS) or pointing at one user (--user). */
export async function listAliases(db: Database, opts: { alias?: string; user?: string; defaultDomain?: string } = {}): Promise<AliasRow[]> {
  if (opts.alias !== undefined) {
    const a = splitAor(opts.alias, opts.defaultDomain);
    return byAlias(db, a.username, a.domain);
  }
  if (opts.user !== undefined) {
    const u = splitAor(opts.user, opts.defaultDomain);
    return (await db.query<Record<string, unknown>>(`SELECT ${COLS} FROM dbaliases WHERE username = ? AND domain = ? ORDER BY alias_domain, alias_username, id`, [u.username, u.domain])).map(toRow);
  }
  return (await db.query<Record<string, unknown>>(`SELECT ${COLS} FROM dbaliases ORDER BY alias_domain, alias_username, id`)).map(toRow);
}
