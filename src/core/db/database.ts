/**
 * One small interface over MySQL/MariaDB (mysql2) and SQLite (better-sqlite3).
 * Every statement takes `?` placeholders and a parameter array: no caller ever
 * builds SQL from user input. Drivers are imported lazily so `--help` stays fast.
 */
import { ConnectionError, UsageError } from '../errors.js';

export type Engine = 'mysql' | 'sqlite';
export type SqlValue = string | number | bigint | null | Buffer | Date;

export interface ExecResult {
  affectedRows: number;
  insertId?: number;
}

export interface Queryable {
  readonly engine: Engine;
  query<T = Record<string, unknown>>(sql: string, params?: SqlValue[]): Promise<T[]>;
  execute(sql: string, params?: SqlValue[]): Promise<ExecResult>;
}

export interface Database extends Queryable {
  /** Runs fn in one transaction: committed if it resolves, rolled back if it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Executes DDL (one statement at a time, no parameters). */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
  /** Where it points, password masked. */
  readonly label: string;
}

export interface DbUrl {
  engine: Engine;
  /** sqlite: file path */
  path?: string;
  host?: string;
  port?: number;
  user?: string;
  password?: string;
  database?: string;
  socketPath?: string;
  ssl?: false | { caFile?: string; rejectUnauthorized?: boolean };
  /** mysql: the session sql_mode set on every new connection (`?sql_mode=A,B`); server default otherwise */
  sqlMode?: string;
}

/** sql_mode values are comma-separated upper-case words; nothing else reaches the server. */
const SQL_MODE = /^[A-Z_]*(,[A-Z_]+)*$/;

/**
 * mysql://user[:pass]@host[:port]/db[?ssl=true&socket=/path&sql_mode=MODES]
 * sqlite:///absolute/path.db, sqlite:relative.db, sqlite::memory:
 */
export function parseDbUrl(url: string, password?: string): DbUrl {
  if (url.startsWith('sqlite:')) {
    let rest = url.slice('sqlite:'.length);
    if (rest.startsWith('//')) rest = rest.slice(2); // sqlite:///abs → /abs
    if (!rest) throw new UsageError('BAD_DB_URL', `database URL "${url}" has no file path`, 'use sqlite:///absolute/path.db or sqlite:relative.db');
    return { engine: 'sqlite', path: rest };
  }
  if (/^(mysql|mariadb):\/\//.test(url)) {
    let u: URL;
    try {
      u = new URL(url.replace(/^mariadb:/, 'mysql:'));
    } catch {
      throw new UsageError('BAD_DB_URL', 'database URL is not a valid mysql:// URL', 'use mysql://user@host:3306/kamailio');
    }
    const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
    if (!database) throw new UsageError('BAD_DB_URL', 'database URL names no database', 'use mysql://user@host:3306/kamailio');
    const sslParam = u.searchParams.get('ssl');
    const ca = u.searchParams.get('ssl-ca') ?? undefined;
    const sqlMode = u.searchParams.get('sql_mode') ?? undefined;
    if (sqlMode !== undefined && !SQL_MODE.test(sqlMode.toUpperCase())) {
      throw new UsageError('BAD_DB_URL', 'database URL option sql_mode is not a comma-separated list of mode names', 'e.g. ?sql_mode=NO_BACKSLASH_ESCAPES,ANSI_QUOTES');
    }
    return {
      engine: 'mysql',
      host: u.hostname || 'localhost',
      port: u.port ? Number(u.port) : 3306,
      user: decodeURIComponent(u.username || 'kamailio'),
      password: password ?? (u.password ? decodeURIComponent(u.password) : undefined),
      database,
      socketPath: u.searchParams.get('socket') ?? undefined,
      ssl: ca ? { caFile: ca, rejectUnauthorized: true } : sslParam === 'true' || sslParam === '1' ? { rejectUnauthorized: true } : false,
      sqlMode: sqlMode?.toUpperCase(),
    };
  }
  throw new UsageError('BAD_DB_URL', `unsupported database URL scheme in "${url.replace(/:[^/@]*@/, ':****@')}"`, 'use mysql://… or sqlite:…');
}

export async function openDatabase(url: string, opts: { password?: string; create?: boolean } = {}): Promise<Database> {
  const parsed = parseDbUrl(url, opts.password);
  if (parsed.engine === 'sqlite') {
    const { openSqlite } = await import('./sqlite.js');
    return openSqlite(parsed.path!, { create: opts.create ?? false });
  }
  const { openMysql } = await import('./mysql.js');
  return openMysql(parsed);
}

export function connectionFailed(label: string, err: unknown): ConnectionError {
  const e = err as NodeJS.ErrnoException & { sqlMessage?: string };
  const why = e.sqlMessage ?? e.code ?? e.message;
  return new ConnectionError('DB_UNREACHABLE', `cannot connect to database ${label}: ${why}`, {
    hint: 'check --db / SIPCTL_DB and that the server is running',
    cause: err,
  });
}

/**
 * Codes of a database that cannot be reached, dropped the connection or stayed locked (mysql2,
 * Node, SQLite): raw driver errors still carry them where the driver's own calls fail
 * (getConnection, BEGIN, COMMIT), which are not mapped to ConnectionError.
 */
const UNREACHABLE = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'ER_CON_COUNT_ERROR', 'ER_SERVER_SHUTDOWN', 'SQLITE_BUSY', 'SQLITE_LOCKED',
]);

/**
 * True when the database did not answer (unreachable, connection lost, locked), as opposed to
 * answering with a refusal of the statement (a constraint, a value): the same statement may work
 * once it is back, and what a lost COMMIT did is not known.
 */
export function isDbUnreachable(err: unknown): boolean {
  if (err instanceof ConnectionError) return true;
  const e = err as { code?: unknown; fatal?: unknown } | undefined;
  return e?.fatal === true || (typeof e?.code === 'string' && UNREACHABLE.has(e.code));
}

/** True when the error is a unique-key violation on either engine. */
export function isDuplicateKey(err: unknown): boolean {
  const e = err as { code?: string; errno?: number };
  return e?.code === 'ER_DUP_ENTRY' || e?.errno === 1062 || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
