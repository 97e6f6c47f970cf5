import type { Database, Queryable } from '../db/database.js';
import { assertWritable } from '../db/schema/schema.js';
import { assertColumnText } from '../db/charset.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { parseIp } from '../address/ip.js';
import { reloadWaitingOut, reloadWarnings } from '../proxy/reload.js';
import type { RpcClient } from '../rpc/client.js';
import type { OpContext, OpResult } from '../proxy/ops.js';

/*
 * The permissions module's `trusted` table: peers whose requests allow_trusted() accepts without
 * authentication, by source IP, transport and optionally a From / Request-URI pattern. The
 * running proxy sees changes after `permissions.trustedReload` (with db_mode 1, the caching
 * mode; in db_mode 0 it reads the table on every request).
 */

/** Transports as the permissions module spells them in the proto column (trusted.c). */
export const TRUSTED_PROTOS = ['any', 'udp', 'tcp', 'tls', 'sctp', 'ws', 'wss', 'none'] as const;
export type TrustedProto = (typeof TRUSTED_PROTOS)[number];

export interface TrustedEntry {
  srcIp: string;
  proto: TrustedProto;
  fromPattern: string | null;
  ruriPattern: string | null;
  tag: string | null;
  priority: number;
}

export interface TrustedRow extends TrustedEntry {
  id: number;
}

export interface TrustedInput {
  srcIp: string;
  proto?: string;
  fromPattern?: string;
  ruriPattern?: string;
  tag?: string;
  priority?: string | number;
}

export interface TrustedChange {
  action: 'add' | 'rm';
  dryRun: boolean;
  entries: Array<TrustedEntry | TrustedRow>;
  id?: number;
}

const PATTERN_MAX = 64; // from_pattern, ruri_pattern VARCHAR(64)
const TAG_MAX = 64;

/**
 * A pattern the permissions module compiles with POSIX regcomp(REG_EXTENDED|REG_ICASE|REG_NOSUB).
 * It must compile as a JS RegExp too, and constructs that ERE does not have (or reads
 * differently) are refused rather than stored to silently never match: Perl classes (\d \w \s
 * \b …), lookaround and other (?…) groups, lazy quantifiers (*? +? ??), and backreferences.
 */
export function checkEre(field: string, pattern: string, max = PATTERN_MAX): string {
  if (pattern.length > max) throw new ValidationError(field, `is ${pattern.length} characters; the column holds at most ${max}`);
  if (/[\x00-\x1f\x7f]/.test(pattern)) throw new ValidationError(field, 'must not contain control characters');
  const perl = /\\[dDwWsSbBAZzQEpPkK1-9]|\(\?|[*+?}]\?/.exec(pattern);
  if (perl) throw new ValidationError(field, `"${perl[0]}" is not POSIX extended regular expression syntax (Kamailio compiles this pattern with regcomp)`, 'use [0-9] for \\d, [[:alnum:]_] for \\w, [[:space:]] for \\s; no lookaround or lazy quantifiers');
  try {
    new RegExp(pattern.replace(/\[\[:(alnum|alpha|digit|space|upper|lower|punct|xdigit|blank|cntrl|graph|print):\]\]/g, '[a]').replace(/\[:(alnum|alpha|digit|space|upper|lower|punct|xdigit|blank|cntrl|graph|print):\]/g, 'a'));
  } catch (e) {
    throw new ValidationError(field, `"${pattern}" is not a valid regular expression (${(e as Error).message.replace(/^Invalid regular expression: \/.*\/: /, '')})`);
  }
  return assertColumnText(field, pattern);
}

export function parseProto(input: string | undefined): TrustedProto {
  const p = (input ?? 'any').trim().toLowerCase();
  if (!(TRUSTED_PROTOS as readonly string[]).includes(p)) throw new ValidationError('proto', `"${input}" is not one of ${TRUSTED_PROTOS.join(', ')}`);
  return p as TrustedProto;
}

function parsePriority(v: string | number | undefined): number {
  if (v === undefined || v === '') return 0;
  const s = String(v).trim();
  const n = /^-?\d+$/.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(n) || n < -2147483648 || n > 2147483647) throw new ValidationError('priority', `"${v}" is not an integer (INT)`, 'higher priority entries are checked first');
  return n;
}

export function validateTrusted(input: TrustedInput): TrustedEntry {
  const srcIp = parseIp(input.srcIp, 'src_ip').text;
  const proto = parseProto(input.proto);
  const fromPattern = input.fromPattern ? checkEre('from_pattern', input.fromPattern) : null;
  const ruriPattern = input.ruriPattern ? checkEre('ruri_pattern', input.ruriPattern) : null;
  let tag: string | null = null;
  if (input.tag !== undefined && input.tag !== '') {
    if (input.tag.length > TAG_MAX) throw new ValidationError('tag', `is ${input.tag.length} characters; the trusted table holds at most ${TAG_MAX}`);
    if (/[\x00-\x1f\x7f]/.test(input.tag)) throw new ValidationError('tag', 'must not contain control characters');
    tag = assertColumnText('tag', input.tag);
  }
  return { srcIp, proto, fromPattern, ruriPattern, tag, priority: parsePriority(input.priority) };
}

function toRow(r: Record<string, unknown>): TrustedRow {
  const s = (v: unknown) => (v === null || v === undefined ? null : String(v));
  return { id: Number(r.id), srcIp: String(r.src_ip), proto: String(r.proto) as TrustedProto, fromPattern: s(r.from_pattern), ruriPattern: s(r.ruri_pattern), tag: s(r.tag), priority: Number(r.priority) };
}

async function rowsOf(db: Queryable, srcIp: string): Promise<TrustedRow[]> {
  const rows = await db.query<Record<string, unknown>>('SELECT id, src_ip, proto, from_pattern, ruri_pattern, tag, priority FROM trusted WHERE src_ip = ? ORDER BY id', [srcIp]);
  return rows.map(toRow);
}

/** Add one peer; the same source, transport and patterns twice is a conflict (exit 4). */
export async function addTrusted(db: Database, input: TrustedInput, opts: { dryRun?: boolean } = {}): Promise<TrustedChange> {
  const e = validateTrusted(input);
  await assertWritable(db, 'trusted');
  return db.transaction(async (tx) => {
    const dup = (await rowsOf(tx, e.srcIp)).find((r) => r.proto.toLowerCase() === e.proto && r.fromPattern === e.fromPattern && r.ruriPattern === e.ruriPattern);
    if (dup) throw new ConflictError('TRUSTED_EXISTS', `${e.srcIp} (${e.proto}) with these patterns is already trusted (id ${dup.id})`, 'remove it first with `sipctl trusted rm`');
    if (opts.dryRun) return { action: 'add', dryRun: true, entries: [e] };
    const res = await tx.execute('INSERT INTO trusted (src_ip, proto, from_pattern, ruri_pattern, tag, priority) VALUES (?, ?, ?, ?, ?, ?)', [e.srcIp, e.proto, e.fromPattern, e.ruriPattern, e.tag, e.priority]);
    return { action: 'add', dryRun: false, entries: [e], id: res.insertId };
  });
}

/** Remove every entry of a source IP, or only those of one transport / with one From pattern. */
export async function removeTrusted(db: Database, srcIpIn: string, opts: { proto?: string; fromPattern?: string; dryRun?: boolean } = {}): Promise<TrustedChange> {
  const srcIp = parseIp(srcIpIn, 'src_ip').text;
  const proto = opts.proto === undefined ? undefined : parseProto(opts.proto);
  await assertWritable(db, 'trusted');
  return db.transaction(async (tx) => {
    const rows = (await rowsOf(tx, srcIp)).filter((r) => (proto === undefined || r.proto.toLowerCase() === proto) && (opts.fromPattern === undefined || r.fromPattern === opts.fromPattern));
    if (rows.length === 0) throw new NotFoundError('TRUSTED_NOT_FOUND', `no trusted entry for ${srcIp}${proto ? ` (${proto})` : ''}`, 'see `sipctl trusted show`');
    if (!opts.dryRun) for (const r of rows) await tx.execute('DELETE FROM trusted WHERE id = ?', [r.id]);
    return { action: 'rm', dryRun: !!opts.dryRun, entries: rows };
  });
}

export async function listTrusted(db: Database, opts: { srcIp?: string } = {}): Promise<TrustedRow[]> {
  if (opts.srcIp !== undefined) return rowsOf(db, parseIp(opts.srcIp, 'src_ip').text);
  const rows = await db.query<Record<string, unknown>>('SELECT id, src_ip, proto, from_pattern, ruri_pattern, tag, priority FROM trusted ORDER BY id');
  return rows.map(toRow);
}

// ---------------------------------------------------------------- the running proxy

export interface LoadedTrusted {
  srcIp: string;
  proto: TrustedProto | string;
  fromPattern: string | null;
  ruriPattern: string | null;
  tag: string | null;
  priority: number;
}

/** trusted.c's proto numbers in trustedDump (PROTO_* of Kamailio core). */
const PROTO_BY_NUMBER: Record<number, TrustedProto> = { 0: 'any', 1: 'udp', 2: 'tcp', 3: 'tls', 4: 'sctp', 5: 'ws', 6: 'wss', [-1]: 'none' };

type DumpItem = { ip: string; proto: number; pattern: string; ruri_pattern: string; tag: string; priority: number };

/**
 * permissions.trustedDump. Kamailio 5.6's jsonrpcs writes the table as ONE object with the keys
 * "table" and "item" repeated once per entry; a JSON parser keeps only the last pair, so over
 * JSON-RPC (sipctl, kamcli, any JSON client) only one entry of several can be seen — kamcmd's
 * binrpc shows them all. Accepts the array form too (one struct per entry), should a version
 * send that.
 */
export async function loadedTrusted(c: RpcClient): Promise<LoadedTrusted[]> {
  const r = await c.call<unknown>('permissions.trustedDump');
  const items: DumpItem[] = [];
  const collect = (v: unknown) => {
    if (v && typeof v === 'object' && 'item' in (v as object)) {
      const it = (v as { item: DumpItem | DumpItem[] }).item;
      for (const x of Array.isArray(it) ? it : [it]) items.push(x);
    }
  };
  if (Array.isArray(r)) r.forEach(collect);
  else collect(r);
  const nul = (s: string | undefined) => (s === undefined || s === 'NULL' || s === '' ? null : s);
  return items.map((i) => ({ srcIp: i.ip, proto: PROTO_BY_NUMBER[i.proto] ?? String(i.proto), fromPattern: nul(i.pattern), ruriPattern: nul(i.ruri_pattern), tag: nul(i.tag), priority: Number(i.priority) }));
}

export interface TrustedReload {
  message: string;
  retries: number;
  dryRun?: boolean;
}

export async function reloadTrusted(c: RpcClient, budgetMs: number): Promise<TrustedReload> {
  const { reply, retries } = await reloadWaitingOut(c, 'permissions.trustedReload', budgetMs);
  return { message: String(reply), retries };
}

export async function trustedDump(ctx: OpContext): Promise<OpResult<LoadedTrusted[]>> {
  return { command: 'trusted dump', view: 'raw', write: false, outcomes: await ctx.nodes.each((c) => loadedTrusted(c)), warnings: [] };
}

export async function trustedReload(ctx: OpContext): Promise<OpResult<TrustedReload>> {
  const outcomes = await ctx.nodes.each(async (c): Promise<TrustedReload> => {
    if (ctx.dryRun) {
      await c.call('permissions.trustedDump'); // the module is there and answers
      return { message: 'would reload the trusted table', retries: 0, dryRun: true };
    }
    return reloadTrusted(c, ctx.reloadBudgetMs);
  });
  return { command: 'trusted reload', view: 'reload', write: true, outcomes, warnings: reloadWarnings(outcomes, ctx.nodes.multi) };
}
