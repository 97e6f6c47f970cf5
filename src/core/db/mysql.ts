import { readFileSync } from 'node:fs';
import type { Pool, PoolConnection, ResultSetHeader } from 'mysql2/promise';
import { connectionFailed, type Database, type DbUrl, type ExecResult, type Queryable, type SqlValue } from './database.js';

const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOENT', 'ER_ACCESS_DENIED_ERROR', 'ER_BAD_DB_ERROR', 'PROTOCOL_CONNECTION_LOST', 'ER_DBACCESS_DENIED_ERROR', 'EACCES']);

function wrap(runner: Pool | PoolConnection, label: string): Queryable {
  const guard = async <T>(p: Promise<T>): Promise<T> => {
    try {
      return await p;
    } catch (e) {
      if (CONNECT_ERRORS.has((e as { code?: string }).code ?? '')) throw connectionFailed(label, e);
      throw e;
    }
  };
  return {
    engine: 'mysql',
    async query<T>(sql: string, params: SqlValue[] = []): Promise<T[]> {
      // query() (not execute()) so multi-row VALUES lists of any length work; values are still escaped
      // by the driver as parameters, never concatenated by us.
      const [rows] = await guard(runner.query(sql, params));
      return rows as T[];
    },
    async execute(sql: string, params: SqlValue[] = []): Promise<ExecResult> {
      const [res] = await guard(runner.query<ResultSetHeader>(sql, params));
      return { affectedRows: res.affectedRows, insertId: res.insertId };
    },
  };
}

export async function openMysql(u: DbUrl): Promise<Database> {
  const mysql = await import('mysql2/promise');
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
  // Connect once now so a wrong host/password is one clear error, before any work starts.
  try {
    const c = await pool.getConnection();
    c.release();
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw connectionFailed(label, e);
  }
  const q = wrap(pool, label);
  return {
    ...q,
    label,
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const conn = await pool.getConnection();
      try {
        await conn.beginTransaction();
        const result = await fn(wrap(conn, label));
        await conn.commit();
        return result;
      } catch (e) {
        await conn.rollback().catch(() => undefined);
        throw e;
      } finally {
        conn.release();
      }
    },
    async exec(sql: string) {
      await pool.query(sql);
    },
    async close() {
      await pool.end();
    },
  };
}
