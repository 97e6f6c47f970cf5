import type { Database, Queryable } from '../db/database.js';
import { assertWritable } from '../db/schema/schema.js';
import { assertColumnText } from '../db/charset.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { formatUri, parseUri } from '../sip/uri.js';
import { splitAor, validateUsername } from '../subscribers/identity.js';

/*
 * The speeddial module's `speed_dial` table (kamctl speeddial add/rm/show): a user's short
 * number (sd_username@sd_domain, the user's own domain as kamctl writes it) → new_uri, looked up
 * by sd_lookup() on every request (no reload).
 */

export interface SpeedDialEntry {
  user: string;
  short: string;
  target: string;
  description: string;
}

export interface SpeedDialRow extends SpeedDialEntry {
  id: number;
}

export interface SpeedDialChange {
  action: 'add' | 'rm';
  dryRun: boolean;
  entries: Array<SpeedDialEntry | SpeedDialRow>;
}

/** new_uri: a sip:, sips: or tel: URI (what sd_lookup() puts into the Request-URI), at most 255 characters. */
export function parseTarget(input: string): string {
  let uri;
  try {
    uri = parseUri(input.trim());
  } catch (e) {
    throw new ValidationError('target', `"${input}" is not a URI (${(e as Error).message.replace(/^bad URI [^:]*: /, '')})`, 'e.g. sip:bob@example.com or tel:+4930123456');
  }
  if (uri.kind === 'absolute') throw new ValidationError('target', `"${input}" is not a sip:, sips: or tel: URI`);
  const out = formatUri(uri);
  if (out.length > 255) throw new ValidationError('target', `is ${out.length} characters; the speed_dial table holds at most 255`);
  return assertColumnText('target', out);
}

function toRow(r: Record<string, unknown>): SpeedDialRow {
  return { id: Number(r.id), user: `${r.username}@${r.domain}`, short: String(r.sd_username), target: String(r.new_uri), description: String(r.description ?? '') };
}

const COLS = 'id, username, domain, sd_username, sd_domain, new_uri, description';

async function rowsOf(db: Queryable, username: string, domain: string, short?: string): Promise<SpeedDialRow[]> {
  if (short === undefined) return (await db.query<Record<string, unknown>>(`SELECT ${COLS} FROM speed_dial WHERE username = ? AND domain = ? ORDER BY sd_username, id`, [username, domain])).map(toRow);
  return (await db.query<Record<string, unknown>>(`SELECT ${COLS} FROM speed_dial WHERE username = ? AND domain = ? AND sd_username = ? ORDER BY id`, [username, domain, short])).map(toRow);
}

export async function addSpeedDial(db: Database, userIn: string, shortIn: string, targetIn: string, opts: { defaultDomain?: string; description?: string; dryRun?: boolean } = {}): Promise<SpeedDialChange> {
  const { username, domain } = splitAor(userIn, opts.defaultDomain);
  const short = validateUsername(shortIn.trim());
  const target = parseTarget(targetIn);
  const description = opts.description ?? '';
  if (description.length > 64 || /[\x00-\x1f\x7f]/.test(description)) throw new ValidationError('description', 'must be at most 64 characters without control characters');
  assertColumnText('description', description);
  await assertWritable(db, 'speed_dial');
  return db.transaction(async (tx) => {
    const dup = await rowsOf(tx, username, domain, short);
    if (dup.length > 0) throw new ConflictError('SPEEDDIAL_EXISTS', `${username}@${domain} already has ${short} → ${dup[0]!.target}`, 'remove it first with `sipctl speeddial rm`');
    if (!opts.dryRun) {
      await tx.execute('INSERT INTO speed_dial (username, domain, sd_username, sd_domain, new_uri, description) VALUES (?, ?, ?, ?, ?, ?)', [username, domain, short, domain, target, description]);
    }
    return { action: 'add', dryRun: !!opts.dryRun, entries: [{ user: `${username}@${domain}`, short, target, description }] };
  });
}

export async function removeSpeedDial(db: Database, userIn: string, shortIn: string, opts: { defaultDomain?: string; dryRun?: boolean } = {}): Promise<SpeedDialChange> {
  const { username, domain } = splitAor(userIn, opts.defaultDomain);
  const short = validateUsername(shortIn.trim());
  await assertWritable(db, 'speed_dial');
  return db.transaction(async (tx) => {
    const rows = await rowsOf(tx, username, domain, short);
    if (rows.length === 0) throw new NotFoundError('SPEEDDIAL_NOT_FOUND', `${username}@${domain} has no speed dial ${short}`, 'see `sipctl speeddial show`');
    if (!opts.dryRun) for (const r of rows) await tx.execute('DELETE FROM speed_dial WHERE id = ?', [r.id]);
    return { action: 'rm', dryRun: !!opts.dryRun, entries: rows };
  });
}

export async function listSpeedDial(db: Database, opts: { user?: string; defaultDomain?: string } = {}): Promise<SpeedDialRow[]> {
  if (opts.user !== undefined) {
    const { username, domain } = splitAor(opts.user, opts.defaultDomain);
    return rowsOf(db, username, domain);
  }
  return (await db.query<Record<string, unknown>>(`SELECT ${COLS} FROM speed_dial ORDER BY domain, username, sd_username, id`)).map(toRow);
}
