import { readFileSync } from 'node:fs';
import { ConnectionError, UsageError } from '../errors.js';
import { accessDeniedHint, mysqlTarget } from './mysql-socket.js';
import type { Pool, PoolConnection, QueryError, ResultSetHeader } from 'mysql2';
import { mapValueError } from './charset.js';
import { connectionFailed, type Database, type DbUrl, type ExecResult, type Queryable, type SqlValue } from './database.js';

/**
 * A login refused. MariaDB answers an account that does not exist for this host with the plugin of
 * some existing account, picked by a hash of the user name (no user enumeration, sql_acl.cc
 * find_mpvio_user): 1045 "... (using password: YES)" mostly, 1698 when that account's plugin is
 * unix_socket, as root@localhost's is on Debian — the same mistake, so the same hint.
 */
const ACCESS_DENIED = new Set(['ER_ACCESS_DENIED_ERROR', 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR']);
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOENT', ...ACCESS_DENIED, 'ER_BAD_DB_ERROR', 'PROTOCOL_CONNECTION_LOST', 'ER_DBACCESS_DENIED_ERROR', 'EACCES']);

type Runner = Pick<Pool | PoolConnection, 'execute'>;
type Typed = typeof import('mysql2')['TypedParameter'];

/**
 * Every statement with values is a server-side prepared statement (mysql2 execute(): COM_STMT_PREPARE
 * + COM_STMT_EXECUTE). Values travel in the binary protocol and are never part of the SQL text, so
 * no sql_mode (NO_BACKSLASH_ESCAPES, ANSI_QUOTES, …) can change what they mean. query() would
 * interpolate them on the client with backslash escapes, which NO_BACKSLASH_ESCAPES does not honour
 * (issue 16): see README.md beside this file.
 *
 * The binary protocol wants typed values: integers go as BIGINT (so LIMIT ? and integer columns take
 * them; a JS number would go as DOUBLE), undefined as NULL.
 */
export function bindParams(params: readonly unknown[], typed: Typed): unknown[] {
  return params.map((p) => {
    if (p === undefined || p === null) return null;
    if (typeof p === 'number') return Number.isSafeInteger(p) ? typed.LONGLONG(p) : p;
    if (typeof p === 'bigint') return typed.LONGLONG(p);
    if (typeof p === 'boolean') return typed.TINY(p ? 1 : 0);
    return p;
  });
}

/**
 * One statement over mysql2's callback API. Its promise wrapper captures a stack trace for every
 * query (mysql2/lib/promise), which under load (sipd writing registrations) cost more CPU than
 * the query itself; a plain promise around the callback does not.
 */
function run<T>(runner: Runner, typed: Typed, label: string, sql: string, params: readonly unknown[]): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    runner.execute(sql, bindParams(params, typed) as never, (err: QueryError | null, rows: unknown) => {
      if (!err) resolve(rows as T);
      else reject(CONNECT_ERRORS.has(err.code ?? '') ? connectionFailed(label, err) : mapValueError(err));
    });
  });
}

/** A callback of mysql2 (err first) as a promise. */
function call(fn: (cb: (err: NodeJS.ErrnoException | QueryError | null) => void) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => fn((err) => (err ? reject(err) : resolve())));
}

function wrap(runner: Runner, typed: Typed, label: string): Queryable {
  return {
    engine: 'mysql',
    query<T>(sql: string, params: SqlValue[] = []): Promise<T[]> {
      return run<T[]>(runner, typed, label, sql, params);
    },
    async execute(sql: string, params: SqlValue[] = []): Promise<ExecResult> {
      const res = await run<ResultSetHeader>(runner, typed, label, sql, params);
      return { affectedRows: res.affectedRows, insertId: res.insertId };
    },
  };
}

export async function openMysql(u: DbUrl): Promise<Database> {
  // mysql2 is CommonJS: its module.exports is the default export, in Node and in the CLI bundle alike
  // (esbuild's split chunk for it has nothing but a default export).
  const { default: mysql } = await import('mysql2');
  // host localhost = the unix socket, as libmysqlclient (and so kamctl) does it: mysql-socket.ts
  const target = mysqlTarget(u);
  const label = `mysql://${u.user}@${target.socketPath ? 'unix:' + target.socketPath : `${u.host}:${u.port}`}/${u.database}`;
  const pool = mysql.createPool({
    host: target.host,
    port: target.port,
    user: u.user,
    password: u.password,
    database: u.database,
    socketPath: target.socketPath,
    ssl: u.ssl ? { ca: u.ssl.caFile ? readFileSync(u.ssl.caFile, 'utf8') : undefined, rejectUnauthorized: u.ssl.rejectUnauthorized } : undefined,
    connectionLimit: 4,
    multipleStatements: false,
    // Prepared statements are cached per connection (LRU). The server caps them for ALL clients
    // (max_prepared_stmt_count, 16382 by default): 4 connections x 256 stays far below.
    maxPreparedStatements: 256,
    charset: 'utf8mb4',
    dateStrings: true,
    supportBigNumbers: true,
    connectTimeout: 5000,
  });
  // A per-session sql_mode (URL ?sql_mode=): first command on every new connection, so nothing runs
  // before it. A connection without its mode must not be used: it is closed. The server's refusal
  // (a mode name it does not know) is kept for the check below, which reports it: the caller's
  // command would only see the closed connection ('write after end').
  let modeRefused: Error | undefined;
  if (u.sqlMode !== undefined) {
    const mode = u.sqlMode;
    pool.on('connection', (conn) => {
      conn.execute('SET SESSION sql_mode = ?', [mode], (err) => {
        if (!err) return;
        // Only the first connection's refusal is reported (below). A later one is not mapped to
        // the same error (its statement, which ran on the pool, cannot be told from the others):
        // the same server accepted this mode on the first connection, so only another server
        // behind the same address (a failover to another version) could refuse it; the statement
        // then fails on the closed connection.
        modeRefused ??= err;
        conn.destroy();
      });
    });
  }
  const connection = () =>
    new Promise<PoolConnection>((resolve, reject) => pool.getConnection((err, conn) => (err ? reject(err) : resolve(conn))));
  const end = () => call((cb) => pool.end(cb));
  // Connect once now so a wrong host/password (or sql_mode) is one clear error, before any work starts.
  try {
    const first = await connection();
    // the SET runs before this on the new connection: once this is answered, its outcome is known
    if (u.sqlMode !== undefined) await call((cb) => first.query('DO 1', (err: QueryError | null) => cb(err))).catch((e: unknown) => { if (modeRefused === undefined) throw e; });
    if (modeRefused !== undefined) throw modeRefused;
    first.release();
  } catch (e) {
    // the pool holds no usable connection (its first one failed): ending it only stops it, and
    // the first one's error is the one the operator needs
    await end().catch(() => undefined);
    if (modeRefused !== undefined) {
      throw new UsageError('BAD_DB_URL', `the database server refused sql_mode=${u.sqlMode}: ${oneLineOf(modeRefused.message)}`, 'check the mode names in the database URL option sql_mode');
    }
    const err = connectionFailed(label, e);
    const denied = ACCESS_DENIED.has((e as { code?: string }).code ?? '');
    throw denied ? new ConnectionError(err.code, err.message, { hint: accessDeniedHint(target, u.user), cause: e }) : err;
  }
  // A getter on the CommonJS exports: ESM sees it only on the default export (which `mysql` is).
  const typed = mysql.TypedParameter;
  const q = wrap(pool, typed, label);
  return {
    ...q,
    label,
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const conn = await connection();
      let reusable = true;
      try {
        await call((cb) => conn.beginTransaction(cb));
        const result = await fn(wrap(conn, typed, label));
        await call((cb) => conn.commit(cb));
        return result;
      } catch (e) {
        // The transaction's own error is what the caller must see. A connection whose ROLLBACK
        // failed may still be inside the transaction, holding its locks, and the next user of
        // the pool would write into it: it is closed instead, which makes the server roll back.
        await call((cb) => conn.rollback(cb)).catch(() => (reusable = false));
        throw e;
      } finally {
        if (reusable) conn.release();
        else conn.destroy();
      }
    },
    async exec(sql: string) {
      // DDL only, never with values: many DDL statements cannot be prepared, and there is nothing to escape.
      await call((cb) => pool.query(sql, (err: QueryError | null) => cb(err)));
    },
    async close() {
      await end();
    },
  };
}

/** A server message as one line (MariaDB's are one already; a long one is cut). */
function oneLineOf(message: string): string {
  return message.replace(/\s+/g, ' ').trim().slice(0, 200);
}
