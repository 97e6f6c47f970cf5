/**
 * Blocked destination prefixes: the `mtree` table (Kamailio's mtree schema v1, tprefix → tvalue)
 * that sipd's mtree module loads into its prefix tree (tree "blocked"). Calls of subscribers to
 * the carrier whose dialled number starts with a blocked prefix (longest match) are refused with
 * 403 "Destination blocked". The running proxies see a change after `mtree.reload`.
 */
import type { Database } from '../db/database.js';
import { assertWritable } from '../db/schema/schema.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import type { RpcClient } from '../rpc/client.js';
import { assertColumnText } from '../db/charset.js';

export interface BlockedPrefix {
  prefix: string;
  /** free text (Kamailio's tvalue), e.g. "UK premium" */
  note: string;
}

export interface BlockChange {
  action: 'add' | 'rm';
  entries: BlockedPrefix[];
  dryRun: boolean;
}

/** Kamailio's mtree columns: tprefix VARCHAR(32), tvalue VARCHAR(128). */
const MAX_PREFIX = 32;
const MAX_NOTE = 128;

/**
 * A prefix as stored: visual separators (space, "-", ".", "(", ")") dropped, then digits, "+",
 * "*" or "#" only. "+44" and "0044" are different prefixes: block both when both are dialled.
 */
export function normalisePrefix(input: string): string {
  const p = input.replace(/[-.() ]/g, '');
  if (p === '') throw new ValidationError('prefix', 'is empty', 'e.g. +44 or 0044 or +4490');
  if (p.length > MAX_PREFIX) throw new ValidationError('prefix', `longer than ${MAX_PREFIX} characters`);
  if (!/^[0-9+*#]+$/.test(p)) throw new ValidationError('prefix', `"${input}" holds characters other than digits, +, * and #`, 'a dialled-number prefix, e.g. +44 or 1900');
  if (p.indexOf('+', 1) !== -1) throw new ValidationError('prefix', '"+" may only come first');
  return p;
}

function checkNote(note: string): string {
  if (note.length > MAX_NOTE) throw new ValidationError('note', `longer than ${MAX_NOTE} characters`);
  if (/[\x00-\x1f\x7f]/.test(note)) throw new ValidationError('note', 'holds control characters');
  return assertColumnText('note', note);
}

export async function addBlocked(db: Database, prefixIn: string, noteIn = 'blocked', opts: { dryRun?: boolean } = {}): Promise<BlockChange> {
  const prefix = normalisePrefix(prefixIn);
  const note = checkNote(noteIn === '' ? 'blocked' : noteIn);
  await assertWritable(db, 'mtree');
  const dup = await db.query<{ tvalue: string }>('SELECT tvalue FROM mtree WHERE tprefix = ?', [prefix]);
  if (dup.length > 0) throw new ConflictError('PREFIX_EXISTS', `${prefix} is already blocked (${dup[0].tvalue})`, 'remove it first with `sipctl block rm`');
  if (!opts.dryRun) await db.execute('INSERT INTO mtree (tprefix, tvalue) VALUES (?, ?)', [prefix, note]);
  return { action: 'add', entries: [{ prefix, note }], dryRun: opts.dryRun === true };
}

export async function removeBlocked(db: Database, prefixIn: string, opts: { dryRun?: boolean } = {}): Promise<BlockChange> {
  const prefix = normalisePrefix(prefixIn);
  await assertWritable(db, 'mtree');
  const rows = await db.query<{ tvalue: string }>('SELECT tvalue FROM mtree WHERE tprefix = ?', [prefix]);
  if (rows.length === 0) throw new NotFoundError('PREFIX_NOT_FOUND', `${prefix} is not blocked`, 'see `sipctl block list`');
  if (!opts.dryRun) await db.execute('DELETE FROM mtree WHERE tprefix = ?', [prefix]);
  return { action: 'rm', entries: [{ prefix, note: String(rows[0].tvalue) }], dryRun: opts.dryRun === true };
}

/** Every blocked prefix, in prefix order; with `match`, only those a number starting with it would hit or that start with it. */
export async function listBlocked(db: Database, opts: { match?: string } = {}): Promise<BlockedPrefix[]> {
  const rows = await db.query<{ tprefix: string; tvalue: string }>('SELECT tprefix, tvalue FROM mtree ORDER BY tprefix');
  const out = rows.map((r) => ({ prefix: String(r.tprefix), note: String(r.tvalue) }));
  if (opts.match === undefined) return out;
  const m = opts.match.replace(/[-.() ]/g, '');
  return out.filter((r) => m.startsWith(r.prefix) || r.prefix.startsWith(m));
}

/** The longest blocked prefix of `number` in a list (what the proxy matches). */
export function longestMatch(list: readonly BlockedPrefix[], number: string): BlockedPrefix | undefined {
  const n = number.replace(/[-.() ]/g, '');
  let best: BlockedPrefix | undefined;
  for (const r of list) if (n.startsWith(r.prefix) && (best === undefined || r.prefix.length > best.prefix.length)) best = r;
  return best;
}

export interface BlockReload {
  message: string;
}

/** mtree.reload on one proxy (Kamailio answers with nothing; sipd too). */
export async function reloadBlocked(c: RpcClient): Promise<BlockReload> {
  await c.call('mtree.reload');
  return { message: 'blocked prefixes reloaded' };
}
