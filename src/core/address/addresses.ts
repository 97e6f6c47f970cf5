import type { Database, Queryable } from '../db/database.js';
import { assertWritable } from '../db/schema/schema.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { parseIp } from './ip.js';
import { assertColumnText } from '../db/charset.js';

/*
 * The permissions module's `address` table (kamctl address add/rm/show). The running proxy only
 * sees changes after `permissions.addressReload` (see ../proxy/permissions.ts).
 */

/** One row as sipctl writes it: ip in canonical text, mask and port explicit. */
export interface AddressEntry {
  grp: number;
  ip: string;
  mask: number;
  /** 0 = any port. */
  port: number;
  tag: string | null;
}

export interface AddressRow extends AddressEntry {
  id: number;
}

export interface AddressInput {
  grp: string | number;
  ip: string;
  mask?: string | number;
  port?: string | number;
  tag?: string;
}

export interface AddressChange {
  action: 'add' | 'rm';
  dryRun: boolean;
  /** add: the entry written; rm: the rows removed. */
  entries: Array<AddressEntry | AddressRow>;
  id?: number;
}

const GRP_MAX = 4294967295; // grp INT(11) UNSIGNED; Kamailio reads it as unsigned int
const TAG_MAX = 64;         // tag VARCHAR(64)

function intIn(value: string | number, field: string, min: number, max: number, hint?: string): number {
  const s = String(value).trim();
  const n = /^\d+$/.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new ValidationError(field, `"${value}" is not an integer from ${min} to ${max}`, hint);
  return n;
}

export function parseGroup(value: string | number): number {
  return intIn(value, 'group', 0, GRP_MAX, 'the group is the number the config passes to allow_source_address()');
}

/**
 * Check every field before anything is written. Defaults as kamctl: mask 32 for IPv4 and 128
 * for IPv6 (one host), port 0 (any).
 */
export function validateAddress(input: AddressInput): AddressEntry {
  const grp = parseGroup(input.grp);
  const ip = parseIp(input.ip);
  const mask = input.mask === undefined || input.mask === '' ? ip.bits : intIn(input.mask, 'mask', 0, ip.bits, `IPv${ip.family} masks go from 0 to ${ip.bits}`);
  const port = input.port === undefined || input.port === '' ? 0 : intIn(input.port, 'port', 0, 65535, '0 means any port');
  let tag: string | null = null;
  if (input.tag !== undefined && input.tag !== '') {
    if (input.tag.length > TAG_MAX) throw new ValidationError('tag', `is ${input.tag.length} characters; the address table holds at most ${TAG_MAX}`);
    if (/[\x00-\x1f\x7f]/.test(input.tag)) throw new ValidationError('tag', 'must not contain control characters');
    tag = assertColumnText('tag', input.tag);
  }
  return { grp, ip: ip.text, mask, port, tag };
}

/** Stored ip_addr in canonical form, or as stored when it does not parse (a row written by hand). */
function canonical(ip: string): string {
  try {
    return parseIp(ip).text;
  } catch {
    return ip;
  }
}

function toRow(r: Record<string, unknown>): AddressRow {
  return { id: Number(r.id), grp: Number(r.grp), ip: String(r.ip_addr), mask: Number(r.mask), port: Number(r.port), tag: r.tag === null || r.tag === undefined ? null : String(r.tag) };
}

async function rowsOfGroup(db: Queryable, grp: number): Promise<AddressRow[]> {
  const rows = await db.query<Record<string, unknown>>('SELECT id, grp, ip_addr, mask, port, tag FROM address WHERE grp = ? ORDER BY id', [grp]);
  return rows.map(toRow);
}

/** Add one entry; the same (group, ip, mask, port) twice is a conflict (exit 4). */
export async function addAddress(db: Database, input: AddressInput, opts: { dryRun?: boolean } = {}): Promise<AddressChange> {
  const entry = validateAddress(input);
  await assertWritable(db, 'address');
  return db.transaction(async (tx) => {
    const dup = (await rowsOfGroup(tx, entry.grp)).find((r) => canonical(r.ip) === entry.ip && r.mask === entry.mask && r.port === entry.port);
    if (dup) {
      throw new ConflictError('ADDRESS_EXISTS', `group ${entry.grp} already has ${entry.ip}/${entry.mask} port ${entry.port} (id ${dup.id})`, 'remove it first with `sipctl address rm`, or use another port or mask');
    }
    if (opts.dryRun) return { action: 'add', dryRun: true, entries: [entry] };
    const res = await tx.execute('INSERT INTO address (grp, ip_addr, mask, port, tag) VALUES (?, ?, ?, ?, ?)', [entry.grp, entry.ip, entry.mask, entry.port, entry.tag]);
    return { action: 'add', dryRun: false, entries: [entry], id: res.insertId };
  });
}

/**
 * Remove the entries of `grp` for `ip` (every mask and port, as kamctl does), or only the one
 * with the given mask/port. Nothing matching is not-found (exit 3).
 */
export async function removeAddress(db: Database, grpIn: string | number, ipIn: string, opts: { mask?: string | number; port?: string | number; dryRun?: boolean } = {}): Promise<AddressChange> {
  const grp = parseGroup(grpIn);
  const ip = parseIp(ipIn);
  const mask = opts.mask === undefined ? undefined : intIn(opts.mask, 'mask', 0, ip.bits);
  const port = opts.port === undefined ? undefined : intIn(opts.port, 'port', 0, 65535);
  await assertWritable(db, 'address');
  return db.transaction(async (tx) => {
    const rows = (await rowsOfGroup(tx, grp)).filter((r) => canonical(r.ip) === ip.text && (mask === undefined || r.mask === mask) && (port === undefined || r.port === port));
    if (rows.length === 0) {
      const narrowed = `${mask !== undefined ? ` mask ${mask}` : ''}${port !== undefined ? ` port ${port}` : ''}`;
      throw new NotFoundError('ADDRESS_NOT_FOUND', `group ${grp} has no entry for ${ip.text}${narrowed}`, 'see `sipctl address show`');
    }
    if (!opts.dryRun) {
      for (const r of rows) await tx.execute('DELETE FROM address WHERE id = ?', [r.id]);
    }
    return { action: 'rm', dryRun: !!opts.dryRun, entries: rows };
  });
}

/** The table's rows (optionally of one group), by group then id. */
export async function listAddresses(db: Database, opts: { group?: string | number } = {}): Promise<AddressRow[]> {
  if (opts.group !== undefined) return rowsOfGroup(db, parseGroup(opts.group));
  const rows = await db.query<Record<string, unknown>>('SELECT id, grp, ip_addr, mask, port, tag FROM address ORDER BY grp, id');
  return rows.map(toRow);
}
