import type { HashAlgorithm } from '../config/config.js';
import { isDuplicateKey, type Database, type Queryable } from '../db/database.js';
import { assertWritable } from '../db/schema/schema.js';
import { ConflictError, NotFoundError, UsageError } from '../errors.js';
import { computeHa1, validatePassword } from './credentials.js';
import { decideStorage } from './storage.js';
import { validateDomain, validateUsername } from './identity.js';

export interface SubscriberRow {
  id: number;
  username: string;
  domain: string;
  password: string;
  ha1: string;
  ha1b: string;
}

/** What sipctl shows: the password is never returned; ha1/ha1b (password-equivalent for digest) only on request. */
export interface SubscriberView {
  id: number;
  username: string;
  domain: string;
  hasPlaintextPassword: boolean;
  ha1?: string;
  ha1b?: string;
}

export interface CredentialOptions {
  hash: HashAlgorithm;
  /** true/false: the caller chose; undefined: sipctl's default (ha1 only), decided against the table (storage.ts) */
  storePlaintext?: boolean;
  allowWeak?: boolean;
}

export interface SubscriberChange {
  action: 'add' | 'passwd' | 'rm';
  username: string;
  domain: string;
  dryRun: boolean;
  storedPlaintext?: boolean;
  hash?: HashAlgorithm;
  warnings?: string[];
}

export function toView(row: SubscriberRow, reveal = false): SubscriberView {
  const v: SubscriberView = { id: Number(row.id), username: row.username, domain: row.domain, hasPlaintextPassword: row.password !== '' };
  if (reveal) {
    v.ha1 = row.ha1;
    v.ha1b = row.ha1b;
  }
  return v;
}

function credentialColumns(username: string, domain: string, password: string, opts: CredentialOptions) {
  validatePassword(password, username, opts.allowWeak ?? false);
  const { ha1, ha1b } = computeHa1(username, domain, password, opts.hash);
  return { ha1, ha1b, password };
}

/**
 * Usernames compare case-insensitively on both engines, as Kamailio's MySQL schema does (latin1
 * _ci collation, and the unique key on username+domain): "Alice" and "alice" are one subscriber.
 * SQLite compares case-sensitively unless told: COLLATE NOCASE (ASCII folding, and usernames are
 * ASCII). See src/core/db/README.md.
 */
export function usernameEquals(db: Queryable): string {
  return db.engine === 'sqlite' ? 'username = ? COLLATE NOCASE' : 'username = ?';
}

async function findRow(db: Queryable, username: string, domain: string): Promise<SubscriberRow | undefined> {
  const rows = await db.query<SubscriberRow>(`SELECT id, username, domain, password, ha1, ha1b FROM subscriber WHERE ${usernameEquals(db)} AND domain = ?`, [username, domain]);
  return rows[0];
}

export async function addSubscriber(db: Database, username: string, domain: string, password: string, opts: CredentialOptions & { dryRun?: boolean }): Promise<SubscriberChange> {
  validateUsername(username);
  validateDomain(domain);
  const cols = credentialColumns(username, domain, password, opts);
  await assertWritable(db, 'subscriber');
  const exists = await findRow(db, username, domain);
  if (exists) throw new ConflictError('SUBSCRIBER_EXISTS', `subscriber ${username}@${domain} already exists`, 'use `sipctl passwd` to change its password');
  const storage = await decideStorage(db, opts.storePlaintext);
  if (!opts.dryRun) {
    try {
      await db.execute('INSERT INTO subscriber (username, domain, password, ha1, ha1b) VALUES (?, ?, ?, ?, ?)', [username, domain, storage.storePlaintext ? cols.password : '', cols.ha1, cols.ha1b]);
    } catch (e) {
      // Someone else added it between our check and our insert.
      if (isDuplicateKey(e)) throw new ConflictError('SUBSCRIBER_EXISTS', `subscriber ${username}@${domain} already exists`);
      throw e;
    }
  }
  return { action: 'add', username, domain, dryRun: !!opts.dryRun, storedPlaintext: storage.storePlaintext, hash: opts.hash, ...warnings(storage.warning) };
}

export async function changePassword(db: Database, username: string, domain: string, password: string, opts: CredentialOptions & { dryRun?: boolean }): Promise<SubscriberChange> {
  validateUsername(username);
  validateDomain(domain);
  credentialColumns(username, domain, password, opts);
  await assertWritable(db, 'subscriber');
  const row = await findRow(db, username, domain);
  if (!row) throw notFound(username, domain);
  // ha1 over the name as stored (a lookup may have differed in case): that is what the proxy digests.
  const cols = credentialColumns(row.username, row.domain, password, opts);
  // Unless told otherwise, the row keeps its storage mode: blanking a plaintext column would lock
  // the user out of a proxy with calculate_ha1 yes.
  const storage = await decideStorage(db, opts.storePlaintext, row.password ?? '');
  if (!opts.dryRun) {
    const r = await db.execute('UPDATE subscriber SET password = ?, ha1 = ?, ha1b = ? WHERE id = ?', [storage.storePlaintext ? cols.password : '', cols.ha1, cols.ha1b, row.id]);
    if (r.affectedRows === 0) throw notFound(username, domain);
  }
  return { action: 'passwd', username, domain, dryRun: !!opts.dryRun, storedPlaintext: storage.storePlaintext, hash: opts.hash, ...warnings(storage.warning) };
}

export async function removeSubscriber(db: Database, username: string, domain: string, opts: { dryRun?: boolean } = {}): Promise<SubscriberChange> {
  validateUsername(username);
  validateDomain(domain);
  await assertWritable(db, 'subscriber');
  const row = await findRow(db, username, domain);
  if (!row) throw notFound(username, domain);
  if (!opts.dryRun) {
    const r = await db.execute('DELETE FROM subscriber WHERE id = ?', [row.id]);
    if (r.affectedRows === 0) throw notFound(username, domain);
  }
  return { action: 'rm', username, domain, dryRun: !!opts.dryRun };
}

export async function getSubscriber(db: Database, username: string, domain: string, reveal = false): Promise<SubscriberView> {
  validateUsername(username);
  validateDomain(domain);
  const row = await findRow(db, username, domain);
  if (!row) throw notFound(username, domain);
  return toView(row, reveal);
}

export interface ListOptions {
  domain?: string;
  /** shell-style pattern on the username: * and ? wildcards */
  pattern?: string;
  limit?: number;
  offset?: number;
  reveal?: boolean;
}

/**
 * Turn a * / ? glob into a LIKE pattern, escaping LIKE's own wildcards with '!'. Not backslash:
 * MySQL also reads a backslash inside the ESCAPE '…' literal as a string escape.
 */
export const LIKE_ESCAPE = '!';
export function globToLike(glob: string): string {
  return glob.replace(/[!%_]/g, (c) => LIKE_ESCAPE + c).replace(/\*/g, '%').replace(/\?/g, '_');
}

export async function listSubscribers(db: Database, opts: ListOptions = {}): Promise<{ total: number; subscribers: SubscriberView[] }> {
  const where: string[] = [];
  const params: string[] = [];
  if (opts.domain) {
    where.push('domain = ?');
    params.push(validateDomain(opts.domain));
  }
  if (opts.pattern) {
    if (opts.pattern.length > 128) throw new UsageError('BAD_PATTERN', 'pattern is longer than 128 characters');
    where.push(`username LIKE ? ESCAPE '${LIKE_ESCAPE}'`);
    params.push(globToLike(opts.pattern));
  }
  const clause = where.length ? ' WHERE ' + where.join(' AND ') : '';
  // No limit given: every row (show prints them all); a page otherwise, and the caller says what it left out.
  const limit = opts.limit === undefined ? undefined : Math.max(0, Math.min(opts.limit, 1_000_000));
  const offset = Math.max(0, opts.offset ?? 0);
  const [{ n }] = await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM subscriber' + clause, params);
  const page = limit === undefined ? (offset ? ' LIMIT ? OFFSET ?' : '') : ' LIMIT ? OFFSET ?';
  const pageParams = page ? [limit ?? Number.MAX_SAFE_INTEGER, offset] : [];
  const rows = await db.query<SubscriberRow>(
    'SELECT id, username, domain, password, ha1, ha1b FROM subscriber' + clause + ' ORDER BY domain, username' + page,
    [...params, ...pageParams],
  );
  return { total: Number(n), subscribers: rows.map((r) => toView(r, opts.reveal)) };
}

function warnings(w: string | undefined): { warnings?: string[] } {
  return w ? { warnings: [w] } : {};
}

function notFound(username: string, domain: string): NotFoundError {
  return new NotFoundError('SUBSCRIBER_NOT_FOUND', `subscriber ${username}@${domain} does not exist`, 'see `sipctl subscriber list`');
}
