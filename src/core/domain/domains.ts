import { isIPv6 } from 'node:net';
import type { Database, Queryable } from '../db/database.js';
import { assertWritable } from '../db/schema/schema.js';
import { assertColumnText } from '../db/charset.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { parseIp } from '../address/ip.js';
import { validateHost } from '../sip/uri.js';
import type { RpcClient } from '../rpc/client.js';
import type { OpContext, OpResult } from '../proxy/ops.js';
import { reloadWaitingOut, reloadWarnings } from '../proxy/reload.js';

/*
 * The domain module's `domain` table (kamctl domain add/rm/show): the SIP domains the proxy
 * treats as its own (is_domain_local(), is_from_local(), `myself` with register_myself). The
 * running proxy sees changes after `domain.reload` (module parameter db_mode is always on).
 */

export interface DomainEntry {
  domain: string;
  /** Domain id; Kamailio uses the domain itself when it is NULL. */
  did: string | null;
}

export interface DomainRow extends DomainEntry {
  id: number;
  lastModified: string;
}

export interface DomainChange {
  action: 'add' | 'rm';
  dryRun: boolean;
  entries: Array<DomainEntry | DomainRow>;
  id?: number;
}

const DOMAIN_MAX = 64; // domain VARCHAR(64)
const DID_MAX = 64;    // did VARCHAR(64)

/**
 * A domain as the proxy compares it with a request's host: a hostname (RFC 3261 `hostname`,
 * folded to lower case as the domain module compares case-insensitively), or an IP address in
 * canonical text; IPv6 in brackets, the form Kamailio gives for the host of a URI.
 */
export function parseDomain(input: string): string {
  const s = input.trim();
  let out: string;
  if (isIPv6(s.replace(/^\[(.*)\]$/, '$1'))) {
    const ip = parseIp(s, 'domain');
    out = ip.family === 6 ? `[${ip.text}]` : ip.text;
  } else if (validateHost(s) === 'ipv4') {
    out = parseIp(s, 'domain').text;
  } else if (validateHost(s) === 'domain') {
    out = s.toLowerCase().replace(/\.$/, '');
  } else {
    throw new ValidationError('domain', `"${input}" is not a hostname or an IP address`, 'e.g. sip.example.com or 192.0.2.10; no scheme, user or port');
  }
  if (out.length > DOMAIN_MAX) throw new ValidationError('domain', `is ${out.length} characters; the domain table holds at most ${DOMAIN_MAX}`);
  return out;
}

export function parseDid(input: string | undefined): string | null {
  if (input === undefined || input === '') return null;
  if (input.length > DID_MAX) throw new ValidationError('did', `is ${input.length} characters; the domain table holds at most ${DID_MAX}`);
  // printable, no spaces: it is matched against domain_attrs.did and used in config as a key
  if (!/^[\x21-\x7e]+$/.test(input)) throw new ValidationError('did', 'must be printable ASCII without spaces', 'e.g. --did example or --did 42');
  return assertColumnText('did', input);
}

/** Kamailio's DATETIME text, in UTC (kamctl writes NOW()). */
export function sqlNow(now = new Date()): string {
  return now.toISOString().slice(0, 19).replace('T', ' ');
}

function toRow(r: Record<string, unknown>): DomainRow {
  const lm = r.last_modified;
  return {
    id: Number(r.id),
    domain: String(r.domain),
    did: r.did === null || r.did === undefined ? null : String(r.did),
    lastModified: lm instanceof Date ? sqlNow(lm) : String(lm),
  };
}

async function findDomain(db: Queryable, domain: string): Promise<DomainRow[]> {
  // LOWER(): MariaDB's latin1 collation is case-insensitive already, SQLite's is not
  const rows = await db.query<Record<string, unknown>>('SELECT id, domain, did, last_modified FROM domain WHERE LOWER(domain) = ? ORDER BY id', [domain.toLowerCase()]);
  return rows.map(toRow);
}

/** Add one domain; an existing one (any case) is a conflict (exit 4). */
export async function addDomain(db: Database, input: { domain: string; did?: string }, opts: { dryRun?: boolean; now?: Date } = {}): Promise<DomainChange> {
  const entry: DomainEntry = { domain: parseDomain(input.domain), did: parseDid(input.did) };
  await assertWritable(db, 'domain');
  return db.transaction(async (tx) => {
    const dup = await findDomain(tx, entry.domain);
    if (dup.length > 0) throw new ConflictError('DOMAIN_EXISTS', `domain ${entry.domain} is already in the domain table (id ${dup[0]!.id})`, 'see `sipctl domain show`');
    if (opts.dryRun) return { action: 'add', dryRun: true, entries: [entry] };
    const res = await tx.execute('INSERT INTO domain (domain, did, last_modified) VALUES (?, ?, ?)', [entry.domain, entry.did, sqlNow(opts.now)]);
    return { action: 'add', dryRun: false, entries: [entry], id: res.insertId };
  });
}

/** Remove a domain; absent is not-found (exit 3). Its domain_attrs stay (another domain may share the did). */
export async function removeDomain(db: Database, domainIn: string, opts: { dryRun?: boolean } = {}): Promise<DomainChange> {
  const domain = parseDomain(domainIn);
  await assertWritable(db, 'domain');
  return db.transaction(async (tx) => {
    const rows = await findDomain(tx, domain);
    if (rows.length === 0) throw new NotFoundError('DOMAIN_NOT_FOUND', `domain ${domain} is not in the domain table`, 'see `sipctl domain show`');
    if (!opts.dryRun) for (const r of rows) await tx.execute('DELETE FROM domain WHERE id = ?', [r.id]);
    return { action: 'rm', dryRun: !!opts.dryRun, entries: rows };
  });
}

export async function listDomains(db: Database): Promise<DomainRow[]> {
  const rows = await db.query<Record<string, unknown>>('SELECT id, domain, did, last_modified FROM domain ORDER BY id');
  // sorted here: the engines' collations order '[' and letters differently
  return rows.map(toRow).sort((a, b) => (a.domain < b.domain ? -1 : a.domain > b.domain ? 1 : a.id - b.id));
}

// ---------------------------------------------------------------- the running proxy

/** What the proxy has loaded: each domain with its did and the names of its attributes. */
export interface LoadedDomain {
  domain: string;
  did: string;
  attrs: string[];
}

interface DomainDumpReply {
  domains?: Array<{ domain: string; did: string }>;
  attributes?: Array<{ did: string; attrs?: string[] }>;
}

/** domain.dump, flattened; Kamailio 5.6 answers {domains: [{domain, did}], attributes: [{did, attrs}]}. */
export async function loadedDomains(c: RpcClient): Promise<LoadedDomain[]> {
  const r = (await c.call<DomainDumpReply>('domain.dump')) ?? {};
  const attrs = new Map<string, string[]>();
  for (const a of r.attributes ?? []) attrs.set(a.did, a.attrs ?? []);
  return (r.domains ?? []).map((d) => ({ domain: d.domain, did: d.did, attrs: attrs.get(d.did) ?? [] })).sort((a, b) => a.domain.localeCompare(b.domain));
}

export interface DomainReload {
  message: string;
  retries?: number;
  dryRun?: boolean;
}

export function domainDump(ctx: OpContext): Promise<OpResult<LoadedDomain[]>> {
  return ctx.nodes.each((c) => loadedDomains(c)).then((outcomes) => ({ command: 'domain dump', view: 'raw' as const, write: false, outcomes, warnings: [] }));
}

/** domain.reload on every node (its reply is empty: the message is ours). */
export async function domainReload(ctx: OpContext): Promise<OpResult<DomainReload>> {
  const outcomes = await ctx.nodes.each(async (c): Promise<DomainReload> => {
    if (ctx.dryRun) return { message: `would reload the domain table (${(await loadedDomains(c)).length} domain(s) loaded now)`, dryRun: true };
    // waits out an "ongoing reload" refusal the way the other table reloads do
    const { retries } = await reloadWaitingOut(c, 'domain.reload', ctx.reloadBudgetMs);
    return { message: 'domain table reloaded', retries };
  });
  return { command: 'domain reload', view: 'reload', write: true, outcomes, warnings: reloadWarnings(outcomes, ctx.nodes.multi) };
}
