import type { Database, Queryable } from '../db/database.js';
import { assertWritable } from '../db/schema/schema.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { splitAor } from '../subscribers/identity.js';
import { sqlNow } from '../domain/domains.js';

/*
 * The group module's `grp` table (kamctl acl grant/revoke/show): which groups a user is in, for
 * is_user_in() in the config. Kamailio reads it on every check, so no reload is needed.
 */

export interface AclEntry {
  username: string;
  domain: string;
  grp: string;
}

export interface AclRow extends AclEntry {
  id: number;
  lastModified: string;
}

export interface AclChange {
  action: 'grant' | 'revoke';
  dryRun: boolean;
  entries: Array<AclEntry | AclRow>;
}

/** Group names as kamctl's ACL_GROUPS use them (local, ld, int, voicemail, free-pstn): printable, no spaces, at most 64. */
export function parseGroup(input: string): string {
  const g = input.trim();
  if (g === '' || g.length > 64) throw new ValidationError('group', `"${input}" must be 1 to 64 characters`);
  if (!/^[\x21-\x7e]+$/.test(g)) throw new ValidationError('group', `"${input}" must be printable ASCII without spaces`, 'e.g. local, ld, int, voicemail, free-pstn');
  return g;
}

function toRow(r: Record<string, unknown>): AclRow {
  const lm = r.last_modified;
  return { id: Number(r.id), username: String(r.username), domain: String(r.domain), grp: String(r.grp), lastModified: lm instanceof Date ? sqlNow(lm) : String(lm) };
}

async function rowsOf(db: Queryable, username: string, domain: string): Promise<AclRow[]> {
  return (await db.query<Record<string, unknown>>('SELECT id, username, domain, grp, last_modified FROM grp WHERE username = ? AND domain = ? ORDER BY grp, id', [username, domain])).map(toRow);
}

export async function grant(db: Database, user: string, groupIn: string, opts: { defaultDomain?: string; dryRun?: boolean; now?: Date } = {}): Promise<AclChange> {
  const { username, domain } = splitAor(user, opts.defaultDomain);
  const grp = parseGroup(groupIn);
  await assertWritable(db, 'grp');
  return db.transaction(async (tx) => {
    if ((await rowsOf(tx, username, domain)).some((r) => r.grp === grp)) throw new ConflictError('ACL_EXISTS', `${username}@${domain} is already in group ${grp}`);
    if (!opts.dryRun) await tx.execute('INSERT INTO grp (username, domain, grp, last_modified) VALUES (?, ?, ?, ?)', [username, domain, grp, sqlNow(opts.now)]);
    return { action: 'grant', dryRun: !!opts.dryRun, entries: [{ username, domain, grp }] };
  });
}

/** Take a user out of one group, or out of every group when none is given. */
export async function revoke(db: Database, user: string, groupIn: string | undefined, opts: { defaultDomain?: string; dryRun?: boolean } = {}): Promise<AclChange> {
  const { username, domain } = splitAor(user, opts.defaultDomain);
  const grp = groupIn === undefined ? undefined : parseGroup(groupIn);
  await assertWritable(db, 'grp');
  return db.transaction(async (tx) => {
    const rows = (await rowsOf(tx, username, domain)).filter((r) => grp === undefined || r.grp === grp);
    if (rows.length === 0) throw new NotFoundError('ACL_NOT_FOUND', `${username}@${domain} is not in ${grp === undefined ? 'any group' : `group ${grp}`}`, 'see `sipctl acl show`');
    if (!opts.dryRun) for (const r of rows) await tx.execute('DELETE FROM grp WHERE id = ?', [r.id]);
    return { action: 'revoke', dryRun: !!opts.dryRun, entries: rows };
  });
}

export async function listAcl(db: Database, opts: { user?: string; defaultDomain?: string } = {}): Promise<AclRow[]> {
  if (opts.user !== undefined) {
    const { username, domain } = splitAor(opts.user, opts.defaultDomain);
    return rowsOf(db, username, domain);
  }
  return (await db.query<Record<string, unknown>>('SELECT id, username, domain, grp, last_modified FROM grp ORDER BY domain, username, grp, id')).map(toRow);
}
