import { readFileSync } from 'node:fs';
import type { Pool, PoolConnection, QueryError, ResultSetHeader } from 'mysql2';
import { connectionFailed, type Database, type DbUrl, type ExecResult, type Queryable, type SqlValue } from './database.js';

const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOENT', 'ER_ACCESS_DENIED_ERROR', 'ER_BAD_DB_ERROR', 'PROTOCOL_CONNECTION_LOST', 'ER_DBACCESS_DENIED_ERROR', 'EACCES']);

type Runner = Pick<Pool | PoolConnection, 'query'>;

/**
 * One statement over mysql2's callback API. Its promise wrapper captures a stack trace for every
 * query (mysql2/lib/promise), which under load (sipd writing registrations) cost more CPU than
 * the query itself; a plain promise around the callback does not.
 */
function run<T>(runner: Runner, label: string, sql: string, params: SqlValue[]): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    runner.query(sql, params, (err: QueryError | null, rows: unknown) => {
      if (!err) resolve(rows as T);
      else reject(CONNECT_ERRORS.has(err.code ?? '') ? connectionFailed(label, err) : err);
    });
  });
}

/** A callback of mysql2 (err first) as a promise. */
function call(fn: (cb: (err: NodeJS.ErrnoException | QueryError | null) => void) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => fn((err) => (err ? reject(err) : resolve())));
}

function wrap(runner: Runner, label: string): Queryable {
  return {
    engine: 'mysql',
    // query() (not execute()) so multi-row VALUES lists of any length work; values are still escaped
    // by the driver as parameters, never concatenated by us.
    query<T>(sql: string, params: SqlValue[] = []): Promise<T[]> {
      return run<T[]>(runner, label, sql, params);
    },
    async execute(sql: string, params: SqlValue[] = []): Promise<ExecResult> {
      const res = await run<ResultSetHeader>(runner, label, sql, params);
      return { affectedRows: res.affectedRows, insertId: res.insertId };
    },
  };
}

export async function openMysql(u: DbUrl): Promise<Database> {
  const mysql = await import('mysql2');
  const label = `mysql://${u.user}@${u.socketPath ? 'unix:' + u.socketPath : `${u.host}:${u.port}`}/${u.database}`;
  const pool = mysql.createPool({
    host: u.host,
    port: u.port,
    user: u.user,
    password: u.password,
    database: u.database,
    socketPath: u.socketPath,
    ssl: u.ssl ? { ca: u.ssl.caFile ? readFileSync(u.ssl.caFile, 'utf8') : undefined, rejectUnauthorized: u.ssl.rejectUnauthorized } : undefined,
    connectionLimit: 4,
    multipleStatements: false,
    charset: 'utf8mb4',
    dateStrings: true,
    supportBigNumbers: true,
    connectTimeout: 5000,
  });
  // A per-session sql_mode (URL ?sql_mode=): first command on every new connection, so nothing runs before it.
  if (u.sqlMode !== undefined) {
    const mode = u.sqlMode;
    pool.on('connection', (conn) => {
      conn.execute('SET SESSION sql_mode = ?', [mode], (err) => {
        if (err) conn.destroy();
      });
    });
  }
  const connection = () =>
    new Promise<PoolConnection>((resolve, reject) => pool.getConnection((err, conn) => (err ? reject(err) : resolve(conn))));
  const end = () => call((cb) => pool.end(cb));
  // Connect once now so a wrong host/password is one clear error, before any work starts.
  try {
    (await connection()).release();
  } catch (e) {
    await end().catch(() => undefined);
    throw connectionFailed(label, e);
  }
  const q = wrap(pool, label);
  return {
    ...q,
    label,
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const conn = await connection();
      try {
        await call((cb) => conn.beginTransaction(cb));
        const result = await fn(wrap(conn, label));
        await call((cb) => conn.commit(cb));
        return result;
      } catch (e) {
        await call((cb) => conn.rollback(cb)).catch(() => undefined);
        throw e;
      } finally {
        conn.release();
      }
    },
    async exec(sql: string) {
      await call((cb) => pool.query(sql, (err: QueryError | null) => cb(err)));
    },
    async close() {
      await end();
    },
  };
}
