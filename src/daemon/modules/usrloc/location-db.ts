/**
 * The `location` table, column for column as Kamailio's usrloc writes it (see
 * test/fixtures/kamailio/recorded/db_location_rows.txt): received / path / instance / socket NULL
 * when unset, q -1 when the contact had none, methods NULL for "all methods", connection_id -1
 * for UDP, domain NULL without use_domain.
 *
 * Time columns: sipd writes 'YYYY-MM-DD HH:MM:SS' in local time on both engines, as Kamailio's
 * db_mysql does. It reads that form and also the number Kamailio's db_sqlite stores there (a
 * Julian day, UTC), so a location table written by Kamailio on SQLite loads correctly.
 */
import { isDbUnreachable, type Database, type Queryable, type SqlValue } from '../../../core/db/database.js';
import { statementChunks, statementSizes } from '../../../core/db/statement-sizes.js';
import type { ContactRecord } from '../../kernel/contracts.js';

/** The changes of one request to one AoR. */
export interface ContactChange {
  insert?: ContactRecord[];
  update?: ContactRecord[];
  /** ruids to delete */
  remove?: string[];
}

/** How LocationTable.writeBatchOrEach ended: every change not named here was written. */
export interface BatchOrEach {
  /** changes (by index) the database refused when written alone; nothing of them was written */
  refused: Map<number, unknown>;
  /** the database did not answer: the change at `from` and those after it may or may not be written */
  away?: { from: number; error: unknown };
}

/** most rows per multi-row INSERT/UPDATE (MySQL; a power of two: statement-sizes.ts): bounds the statement size (about 300 bytes a row) */
const ROWS_PER_STATEMENT = 256;
/** most ruids per DELETE … IN */
const REMOVE_PER_STATEMENT = 512;
/**
 * Updates of up to this many rows go as one statement padded to the next power of two rather than
 * the greedy ladder's several statements in a transaction (7 rows: one of 8, not 4 + 2 + 1 with
 * BEGIN and COMMIT). A statement and its round trip cost sipd about as much as five rows
 * (bench/usrloc-writer-bench.ts), so for small batches — what the group commit makes under load —
 * a few repeated rows are cheaper than more statements.
 */
const PAD_UPDATES_UP_TO = 16;

/** Kamailio's ALL_METHODS: the contact accepts every method (stored as NULL). */
export const ALL_METHODS = 0xffffffff;

/** Julian day of 1970-01-01T00:00:00Z. */
const UNIX_EPOCH_JD = 2440587.5;

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Epoch seconds → 'YYYY-MM-DD HH:MM:SS' in local time. */
export function toDbDatetime(epochSeconds: number): string {
  const d = new Date(epochSeconds * 1000);
  return `${pad(d.getFullYear(), 4)}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

const DATETIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?$/;
const NUMBER = /^-?\d+(?:\.\d+)?$/;

/**
 * A location time column → epoch seconds: a local 'YYYY-MM-DD HH:MM:SS', a Julian day number
 * (Kamailio db_sqlite), or a Date; undefined when it is none of those.
 */
export function fromDbDatetime(v: unknown): number | undefined {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? undefined : Math.floor(v.getTime() / 1000);
  if (typeof v === 'number' || typeof v === 'bigint') return julianToEpoch(Number(v));
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  if (NUMBER.test(s)) return julianToEpoch(Number(s));
  const m = DATETIME.exec(s);
  if (m === null) return undefined;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number);
  const t = new Date(y, mo - 1, d, h, mi, se).getTime();
  return Number.isNaN(t) ? undefined : Math.floor(t / 1000);
}

function julianToEpoch(jd: number): number | undefined {
  if (!Number.isFinite(jd)) return undefined;
  return Math.round((jd - UNIX_EPOCH_JD) * 86_400);
}

/** The columns sipd writes, in this order. `partition` is reserved in MySQL: every name is quoted. */
const COLUMNS = [
  'ruid', 'username', 'domain', 'contact', 'received', 'path', 'expires', 'q', 'callid', 'cseq', 'last_modified',
  'flags', 'cflags', 'user_agent', 'socket', 'methods', 'instance', 'reg_id', 'server_id', 'connection_id', 'keepalive', 'partition',
] as const;
/**
 * server_id, connection_id, keepalive, partition: the same for every row one node writes, so
 * literals in the statement rather than parameters (the database driver's work and garbage grow
 * with the parameters: 4 of 22 per row). VALUES takes them as literals; SET too. server_id is the
 * node's (sipd --cluster: ClusterApi.serverId, so a row tells which node wrote it; else 0, as
 * Kamailio's default).
 */
const constants = (serverId: number) => `${serverId}, -1, 0, 0`;
const constantSet = (serverId: number, prefix: string) => `${prefix}${q('server_id')} = ${serverId}, ${prefix}${q('connection_id')} = -1, ${prefix}${q('keepalive')} = 0, ${prefix}${q('partition')} = 0`;
/** the columns written from parameters: COLUMNS but the constants */
const PARAM_COLUMNS = COLUMNS.slice(0, COLUMNS.indexOf('server_id'));

const q = (c: string) => '`' + c + '`';

export interface LocationRow {
  id?: number;
  ruid: string;
  username: string;
  domain: string | null;
  contact: string;
  received: string | null;
  path: string | null;
  expires: unknown;
  q: number | string;
  callid: string;
  cseq: number | string;
  last_modified: unknown;
  flags: number | string;
  cflags: number | string;
  user_agent: string;
  socket: string | null;
  methods: number | string | null;
  instance: string | null;
  reg_id: number | string;
  server_id?: number | string | null;
}

/** Split an AoR into the username / domain columns. */
export function splitAor(aor: string, useDomain: boolean): { username: string; domain: string | null } {
  if (!useDomain) return { username: aor, domain: null };
  const at = aor.lastIndexOf('@');
  return at < 0 ? { username: aor, domain: null } : { username: aor.slice(0, at), domain: aor.slice(at + 1) };
}

/**
 * Kamailio's MySQL schema is latin1 and Kamailio stores a User-Agent's bytes as they come; through
 * a utf8mb4 connection a character latin1 cannot hold fails the whole INSERT ("Incorrect string
 * value") and the phone would not be registered. Such characters are stored as '?' instead.
 */
export function latin1Safe(s: string): string {
  // u: one '?' per character, not one per UTF-16 half of an emoji.
  return s.replace(/[^\x20-\x7e\xa0-\xff]/gu, '?');
}

function values(c: ContactRecord, useDomain: boolean): SqlValue[] {
  const { username, domain } = splitAor(c.aor, useDomain);
  return [
    c.ruid, username, domain, c.contact, c.received ?? null, c.path ?? null, toDbDatetime(c.expires), c.q, c.callId, c.cseq,
    toDbDatetime(c.lastModified), c.flags, c.cflags, latin1Safe(c.userAgent), c.socket || null, c.methods === ALL_METHODS ? null : c.methods,
    c.instance ?? null, c.regId,
  ];
}

export class LocationTable {
  /** statement texts by kind and row count (a bounded ladder: statement-sizes.ts), built once */
  private readonly sql = new Map<string, string>();

  private readonly constantValues: string;
  private readonly serverId: number;

  /** `serverId`: written in every row (the node's, in a cluster; 0 alone) */
  constructor(private readonly table: string, private readonly useDomain: boolean, serverId = 0) {
    if (!Number.isSafeInteger(serverId) || serverId < 0 || serverId > 0x7fffffff) throw new RangeError(`location server_id ${serverId} is not an INT`);
    this.serverId = serverId;
    this.constantValues = constants(serverId);
  }

  private constantSet(prefix: string): string {
    return constantSet(this.serverId, prefix);
  }

  private text(key: string, build: () => string): string {
    let t = this.sql.get(key);
    if (t === undefined) {
      t = build();
      this.sql.set(key, t);
    }
    return t;
  }

  async insert(db: Queryable, c: ContactRecord): Promise<void> {
    await db.execute(this.text('insert', () => `INSERT INTO ${q(this.table)} (${COLUMNS.map(q).join(', ')}) VALUES (${PARAM_COLUMNS.map(() => '?').join(', ')}, ${this.constantValues})`), values(c, this.useDomain));
  }

  async update(db: Queryable, c: ContactRecord): Promise<void> {
    const vals = values(c, this.useDomain);
    vals.push(vals[0]!); // ruid: from the first place to the WHERE
    const r = await db.execute(
      this.text('update', () => `UPDATE ${q(this.table)} SET ${PARAM_COLUMNS.filter((n) => n !== 'ruid').map((n) => `${q(n)} = ?`).join(', ')}, ${this.constantSet('')} WHERE ${q('ruid')} = ?`),
      vals.slice(1),
    );
    // The row may have been removed behind our back (e.g. by hand): write it again.
    if (r.affectedRows === 0) await this.insert(db, c);
  }

  /**
   * The changes of several requests, in as few statements as the engine allows: on MySQL one
   * DELETE … IN, one UPDATE joined with the new values, one multi-row INSERT (per 250 rows), in
   * one transaction only when that is more than one statement; on SQLite (in-process, where a
   * statement costs little but a commit is an fsync) one transaction with a statement per row.
   * All or nothing: when it throws, nothing of the batch was written.
   */
  async writeBatch(db: Database, changes: readonly ContactChange[]): Promise<void> {
    const ins: ContactRecord[] = [];
    const upd: ContactRecord[] = [];
    const rem: string[] = [];
    for (const c of changes) {
      if (c.insert) for (const r of c.insert) ins.push(r);
      if (c.update) for (const r of c.update) upd.push(r);
      if (c.remove) for (const r of c.remove) rem.push(r);
    }
    if (ins.length + upd.length + rem.length === 0) return;
    if (db.engine !== 'mysql') {
      await db.transaction(async (tx) => {
        if (rem.length > 0) await this.remove(tx, rem);
        for (const c of upd) await this.update(tx, c);
        for (const c of ins) await this.insert(tx, c);
      });
      return;
    }
    // Chunks of 2^k rows: a bounded set of statement texts, so of prepared statements (statement-sizes.ts).
    const updChunks = upd.length > 1 && upd.length <= PAD_UPDATES_UP_TO ? [upd] : statementChunks(upd, ROWS_PER_STATEMENT);
    const insChunks = statementChunks(ins, ROWS_PER_STATEMENT);
    const statements = statementSizes(rem.length, REMOVE_PER_STATEMENT).length + updChunks.length + insChunks.length;
    const work = async (q: Queryable) => {
      if (rem.length > 0) await this.remove(q, rem);
      for (const chunk of updChunks) await this.updateMany(q, chunk);
      for (const chunk of insChunks) await this.insertMany(q, chunk);
    };
    if (statements === 1) await work(db);
    else await db.transaction(work);
  }

  /**
   * writeBatch, and when the database refuses the batch (a constraint, a value it does not take)
   * each change again alone, so only a change the table does not take fails: one request's bad
   * row must not fail the others (write-through), nor hold the others back (write-back). When the
   * database does not answer (isDbUnreachable) it stops: the change being written and those after
   * it are not known written, and writing them one by one would only wait for the database again.
   */
  async writeBatchOrEach(db: Database, changes: readonly ContactChange[]): Promise<BatchOrEach> {
    const refused = new Map<number, unknown>();
    try {
      await this.writeBatch(db, changes);
      return { refused };
    } catch (e) {
      if (isDbUnreachable(e)) return { refused, away: { from: 0, error: e } };
      if (changes.length === 1) return { refused: refused.set(0, e) };
    }
    for (const [i, change] of changes.entries()) {
      try {
        await this.writeBatch(db, [change]);
      } catch (e) {
        if (isDbUnreachable(e)) return { refused, away: { from: i, error: e } };
        refused.set(i, e);
      }
    }
    return { refused };
  }

  /** MySQL: several rows in one INSERT. */
  private async insertMany(db: Queryable, rows: readonly ContactRecord[]): Promise<void> {
    const params: SqlValue[] = [];
    for (const c of rows) for (const v of values(c, this.useDomain)) params.push(v);
    const sql = this.text(`insert ${rows.length}`, () => {
      const one = `(${PARAM_COLUMNS.map(() => '?').join(', ')}, ${this.constantValues})`;
      return `INSERT INTO ${q(this.table)} (${COLUMNS.map(q).join(', ')}) VALUES ${rows.map(() => one).join(', ')}`;
    });
    await db.execute(sql, params);
  }

  /**
   * MySQL: several rows by ruid in one UPDATE, joined with the new values (a derived table of
   * SELECT … UNION ALL: an eq_ref lookup on ruid_idx per row). No INSERT … ON DUPLICATE KEY
   * UPDATE: InnoDB spends an auto-increment id on every row of it, and at thousands of
   * registrations a second the 32-bit id column would run out in weeks. A row that is gone (removed
   * by hand) is written again, as update() does. Rows that are not a power of two in number are
   * padded to one by repeating the last (PAD_UPDATES_UP_TO): a multi-table UPDATE updates each
   * matched row once, and the repeat carries the same values.
   */
  private async updateMany(db: Queryable, rows: readonly ContactRecord[]): Promise<void> {
    if (rows.length === 1) return this.update(db, rows[0]);
    let size = 1;
    while (size < rows.length) size *= 2;
    const params: SqlValue[] = [];
    for (const c of rows) for (const v of values(c, this.useDomain)) params.push(v);
    if (size > rows.length) {
      const last = values(rows[rows.length - 1], this.useDomain);
      for (let i = rows.length; i < size; i++) for (const v of last) params.push(v);
    }
    const sql = this.text(`update ${size}`, () => {
      const first = `SELECT ${PARAM_COLUMNS.map((c) => `? AS ${q(c)}`).join(', ')}`;
      const next = `SELECT ${PARAM_COLUMNS.map(() => '?').join(', ')}`;
      const set = `${PARAM_COLUMNS.filter((n) => n !== 'ruid').map((n) => `l.${q(n)} = v.${q(n)}`).join(', ')}, ${this.constantSet('l.')}`;
      const derived = Array.from({ length: size }, (_, i) => (i === 0 ? first : next)).join(' UNION ALL ');
      return `UPDATE ${q(this.table)} AS l JOIN (${derived}) AS v ON l.${q('ruid')} = v.${q('ruid')} SET ${set}`;
    });
    const r = await db.execute(sql, params);
    // mysql2 connects with CLIENT_FOUND_ROWS: affectedRows counts matched rows, changed or not.
    if (r.affectedRows >= rows.length) return;
    const ruids = rows.map((c) => c.ruid);
    const present = new Set<string>();
    for (const chunk of statementChunks(ruids, ROWS_PER_STATEMENT)) {
      for (const x of await db.query<{ ruid: string }>(`SELECT ${q('ruid')} FROM ${q(this.table)} WHERE ${q('ruid')} IN (${chunk.map(() => '?').join(', ')})`, chunk)) present.add(x.ruid);
    }
    const missing = new Map(rows.filter((c) => !present.has(c.ruid)).map((c) => [c.ruid, c]));
    for (const chunk of statementChunks([...missing.values()], ROWS_PER_STATEMENT)) await this.insertMany(db, chunk);
  }

  async remove(db: Queryable, ruids: readonly string[]): Promise<void> {
    for (const chunk of statementChunks(ruids, REMOVE_PER_STATEMENT)) {
      await db.execute(`DELETE FROM ${q(this.table)} WHERE ${q('ruid')} IN (${chunk.map(() => '?').join(', ')})`, chunk);
    }
  }

  /**
   * Every row, or (`othersThan`) the rows naming a node other than that server_id — neither it nor
   * 0 (in a cluster: the rows other nodes wrote).
   */
  async loadAll(db: Queryable, othersThan?: number): Promise<LocationRow[]> {
    const where = othersThan === undefined ? '' : ` WHERE ${q('server_id')} NOT IN (0, ?)`;
    return db.query<LocationRow>(
      `SELECT ${['id', 'ruid', 'username', 'domain', 'contact', 'received', 'path', 'expires', 'q', 'callid', 'cseq', 'last_modified', 'flags', 'cflags', 'user_agent', 'socket', 'methods', 'instance', 'reg_id', 'server_id'].map(q).join(', ')} FROM ${q(this.table)}${where} ORDER BY ${q('id')}`,
      othersThan === undefined ? [] : [othersThan],
    );
  }

  /**
   * The rows of nodes gone from the cluster (server_id neither 0 nor one of `live`) that expired
   * at or before `cutoff` (seconds; permanent rows never), deleted — each only as read (ruid,
   * server_id, CSeq and Call-ID unchanged), so a row its node wrote again meanwhile stays, and two
   * nodes sweeping at once delete each row once (the second finds it gone). Returns what went, as
   * AoR and ruid (their records in Redis go too).
   */
  async sweepGone(db: Database, live: readonly number[], cutoff: number, lowerCaseAor: boolean): Promise<Array<{ aor: string; ruid: string }>> {
    const ids = [0, ...live];
    const rows = await db.query<LocationRow & { server_id: number | string }>(
      `SELECT ${['ruid', 'username', 'domain', 'expires', 'callid', 'cseq', 'server_id'].map(q).join(', ')} FROM ${q(this.table)} WHERE ${q('server_id')} NOT IN (${ids.map(() => '?').join(', ')})`,
      ids,
    );
    const gone = rows.filter((r) => {
      const e = fromDbDatetime(r.expires);
      // Kamailio's 0 (1970-01-01) is a permanent contact
      return e !== undefined && e > 0 && e <= cutoff;
    });
    const out: Array<{ aor: string; ruid: string }> = [];
    for (const chunk of statementChunks(gone, ROWS_PER_STATEMENT)) {
      const where = chunk.map(() => `(${q('ruid')} = ? AND ${q('server_id')} = ? AND ${q('cseq')} = ? AND ${q('callid')} = ?)`).join(' OR ');
      await db.execute(`DELETE FROM ${q(this.table)} WHERE ${where}`, chunk.flatMap((r) => [r.ruid, Number(r.server_id), Number(r.cseq), r.callid]));
      for (const r of chunk) {
        let aor = this.useDomain && r.domain ? `${r.username}@${r.domain}` : r.username;
        if (lowerCaseAor) aor = aor.toLowerCase();
        out.push({ aor, ruid: r.ruid });
      }
    }
    return out;
  }

  /** A database row → ContactRecord, or a reason it cannot be used. */
  toRecord(row: LocationRow, lowerCaseAor: boolean): ContactRecord | string {
    if (typeof row.ruid !== 'string' || row.ruid === '') return 'empty ruid';
    if (typeof row.contact !== 'string' || row.contact === '') return 'empty contact';
    const expires = fromDbDatetime(row.expires);
    if (expires === undefined) return 'unreadable expires';
    const lastModified = fromDbDatetime(row.last_modified) ?? 0;
    let aor = this.useDomain && row.domain ? `${row.username}@${row.domain}` : row.username;
    if (lowerCaseAor) aor = aor.toLowerCase();
    const num = (v: unknown, dflt: number) => {
      const n = Number(v);
      return v === null || v === undefined || v === '' || !Number.isFinite(n) ? dflt : n;
    };
    const qv = num(row.q, -1);
    return {
      aor,
      contact: row.contact,
      // Kamailio's 0 (1970-01-01 in the column) is a permanent contact.
      expires: expires <= 0 ? 0 : expires,
      q: qv < 0 ? -1 : Math.min(1, Math.round(qv * 1000) / 1000),
      callId: row.callid ?? '',
      cseq: num(row.cseq, 0),
      userAgent: row.user_agent ?? '',
      received: row.received || undefined,
      path: row.path || undefined,
      socket: row.socket ?? '',
      ruid: row.ruid,
      instance: row.instance || undefined,
      regId: num(row.reg_id, 0),
      lastModified,
      flags: num(row.flags, 0),
      cflags: num(row.cflags, 0),
      methods: row.methods === null || row.methods === undefined ? ALL_METHODS : num(row.methods, ALL_METHODS) >>> 0,
    };
  }
}
