/**
 * The IP blocklist (table sipd_blocklist) sipd's blocklist module loads: addresses and CIDR
 * networks whose traffic is dropped before parsing, each with a reason and an optional expiry.
 * `sipctl blocklist add|rm|show|import`; running proxies see a change after blocklist.reload.
 */
import type { Database } from '../db/database.js';
import { assertWritable } from '../db/schema/schema.js';
import { assertColumnText } from '../db/charset.js';
import { canonicalNetwork } from '../address/network.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import type { RpcClient } from '../rpc/client.js';

export interface BlocklistRow {
  network: string;
  reason: string;
  /** ISO time, or null = never */
  expires: string | null;
  expired: boolean;
  created: string | null;
}

const MAX_REASON = 255;

function checkReason(reason: string): string {
  if (reason.length > MAX_REASON) throw new ValidationError('reason', `longer than ${MAX_REASON} characters`);
  if (/[\x00-\x1f\x7f]/.test(reason)) throw new ValidationError('reason', 'holds control characters');
  return assertColumnText('reason', reason);
}

/**
 * An expiry: a duration from now ("90m", "12h", "7d", "2w") or an ISO 8601 date-time; seconds
 * since the epoch, 0 = never (no value, "never").
 */
export function parseExpiry(input: string | undefined, now = Date.now()): number {
  if (input === undefined || input === '' || input === 'never') return 0;
  const d = /^([0-9]{1,6})([smhdw])$/.exec(input.trim());
  if (d) return Math.floor(now / 1000) + Number(d[1]) * { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 }[d[2] as 's']!;
  const t = /^\d{4}-\d{2}-\d{2}/.test(input) ? Date.parse(input) : NaN;
  if (Number.isNaN(t)) throw new ValidationError('expires', `"${input.slice(0, 40)}" is neither a duration nor a date`, 'e.g. 12h, 7d, 2w, 2027-01-31 or 2027-01-31T18:00:00Z');
  if (t <= now) throw new ValidationError('expires', `${input} is in the past`);
  return Math.floor(t / 1000);
}

function rowOf(r: { network: string; reason: string; expires: number | string; created: number | string }, now: number): BlocklistRow {
  const exp = Number(r.expires) || 0;
  const cr = Number(r.created) || 0;
  return { network: String(r.network), reason: String(r.reason), expires: exp === 0 ? null : new Date(exp * 1000).toISOString(), expired: exp !== 0 && exp * 1000 <= now, created: cr === 0 ? null : new Date(cr * 1000).toISOString() };
}

export interface BlocklistChange {
  action: 'add' | 'rm';
  entries: BlocklistRow[];
  dryRun: boolean;
}

export async function addToBlocklist(db: Database, networkIn: string, opts: { reason?: string; expires?: string; dryRun?: boolean; now?: number } = {}): Promise<BlocklistChange> {
  const now = opts.now ?? Date.now();
  const network = canonicalNetwork(networkIn);
  const reason = checkReason(opts.reason ?? '');
  const expires = parseExpiry(opts.expires, now);
  await assertWritable(db, 'sipd_blocklist');
  const dup = await db.query<{ reason: string }>('SELECT reason FROM sipd_blocklist WHERE network = ?', [network]);
  if (dup.length > 0) throw new ConflictError('BLOCKLIST_EXISTS', `${network} is already in the blocklist${dup[0].reason ? ` (${dup[0].reason})` : ''}`, 'remove it first with `sipctl blocklist rm`');
  const created = Math.floor(now / 1000);
  if (!opts.dryRun) await db.execute('INSERT INTO sipd_blocklist (network, reason, expires, created) VALUES (?, ?, ?, ?)', [network, reason, expires, created]);
  return { action: 'add', entries: [rowOf({ network, reason, expires, created }, now)], dryRun: opts.dryRun === true };
}

export async function removeFromBlocklist(db: Database, networkIn: string, opts: { dryRun?: boolean } = {}): Promise<BlocklistChange> {
  const network = canonicalNetwork(networkIn);
  await assertWritable(db, 'sipd_blocklist');
  const rows = await db.query<{ network: string; reason: string; expires: number; created: number }>('SELECT network, reason, expires, created FROM sipd_blocklist WHERE network = ?', [network]);
  if (rows.length === 0) throw new NotFoundError('BLOCKLIST_NOT_FOUND', `${network} is not in the blocklist`, 'see `sipctl blocklist show`');
  if (!opts.dryRun) await db.execute('DELETE FROM sipd_blocklist WHERE network = ?', [network]);
  return { action: 'rm', entries: [rowOf(rows[0], Date.now())], dryRun: opts.dryRun === true };
}

export async function listBlocklist(db: Database, now = Date.now()): Promise<BlocklistRow[]> {
  const rows = await db.query<{ network: string; reason: string; expires: number; created: number }>('SELECT network, reason, expires, created FROM sipd_blocklist ORDER BY network');
  return rows.map((r) => rowOf(r, now));
}

export interface ImportProblem {
  line: number;
  text: string;
  error: string;
}

export interface BlocklistImport {
  added: number;
  /** already in the table, or twice in the file */
  duplicates: number;
  problems: ImportProblem[];
  dryRun: boolean;
  atomic: boolean;
}

/**
 * A plain list, one address or CIDR per line (e.g. a public VoIP blocklist saved to a file):
 * blank lines and comments (# or ;, also after an entry) ignored. Bad lines are reported with
 * their line numbers; with `atomic`, one bad line means nothing is written (exit 1), else the
 * good lines are added in one transaction.
 */
export async function importBlocklist(db: Database, text: string, opts: { reason?: string; expires?: string; atomic?: boolean; dryRun?: boolean; now?: number } = {}): Promise<BlocklistImport> {
  const now = opts.now ?? Date.now();
  const reason = checkReason(opts.reason ?? 'imported');
  const expires = parseExpiry(opts.expires, now);
  await assertWritable(db, 'sipd_blocklist');
  const existing = new Set((await db.query<{ network: string }>('SELECT network FROM sipd_blocklist')).map((r) => String(r.network)));
  const problems: ImportProblem[] = [];
  const todo: string[] = [];
  let duplicates = 0;
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const entry = raw.replace(/[#;].*$/, '').trim();
    if (entry === '') return;
    try {
      const n = canonicalNetwork(entry.split(/[\s,]+/)[0]!);
      if (existing.has(n)) duplicates++;
      else existing.add(n), todo.push(n);
    } catch (e) {
      problems.push({ line: i + 1, text: raw.slice(0, 80), error: e instanceof Error ? e.message : String(e) });
    }
  });
  const result = { added: 0, duplicates, problems, dryRun: opts.dryRun === true, atomic: opts.atomic === true };
  if (opts.atomic && problems.length > 0) {
    throw new ValidationError('file', `${problems.length} bad line${problems.length === 1 ? '' : 's'}, nothing imported (--atomic): line ${problems[0].line}: ${problems[0].error}`, 'fix the lines, or import without --atomic to add the good ones');
  }
  if (opts.dryRun) return { ...result, added: todo.length };
  const created = Math.floor(now / 1000);
  await db.transaction(async (tx) => {
    for (const n of todo) await tx.execute('INSERT INTO sipd_blocklist (network, reason, expires, created) VALUES (?, ?, ?, ?)', [n, reason, expires, created]);
  });
  return { ...result, added: todo.length };
}

export async function reloadBlocklist(c: RpcClient): Promise<{ message: string }> {
  await c.call('blocklist.reload');
  return { message: 'blocklist reloaded' };
}
