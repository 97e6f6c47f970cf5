import { closeSync, existsSync, fchmodSync, mkdirSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type BetterSqlite3 from 'better-sqlite3';
import { ConnectionError } from '../errors.js';
import { connectionFailed, type Database, type ExecResult, type Queryable, type SqlValue } from './database.js';

type Db = BetterSqlite3.Database;

function bind(params: SqlValue[] = []): unknown[] {
  // better-sqlite3 takes no Date or boolean: store dates as Kamailio does (YYYY-MM-DD HH:MM:SS).
  return params.map((p) => (p instanceof Date ? p.toISOString().slice(0, 19).replace('T', ' ') : p));
}

function makeQueryable(db: Db): Queryable {
  // Prepared statements are cached: bulk imports prepare once, run many times.
  const cache = new Map<string, BetterSqlite3.Statement>();
  const prep = (sql: string) => {
    let st = cache.get(sql);
    if (!st) {
      st = db.prepare(sql);
      cache.set(sql, st);
    }
    return st;
  };
  return {
    engine: 'sqlite',
    async query<T>(sql: string, params?: SqlValue[]): Promise<T[]> {
      return prep(sql).all(...bind(params)) as T[];
    },
    async execute(sql: string, params?: SqlValue[]): Promise<ExecResult> {
      const r = prep(sql).run(...bind(params));
      return { affectedRows: r.changes, insertId: Number(r.lastInsertRowid) };
    },
  };
}

let addonPath: string | null | undefined;

/**
 * The .node file better-sqlite3's own loader (the `bindings` package: it reads a stack trace for
 * the package root, then tries build/, build/Debug/ and build/Release/ by require()) would find,
 * passed as its `nativeBinding` so that search runs no more: undefined leaves the search to
 * better-sqlite3. Taken only when the better-sqlite3 that was loaded is the one this module
 * resolves (test/helpers/native-abi.mjs points the import elsewhere under other Node versions) and
 * only build/Release/ holds the addon (bindings would take build/ or build/Debug/ first).
 */
function sqliteAddon(): string | undefined {
  if (addonPath === undefined) {
    addonPath = null;
    try {
      const main = fileURLToPath(import.meta.resolve('better-sqlite3'));
      if (createRequire(import.meta.url).cache[main]) {
        const build = join(dirname(main), '..', 'build');
        const file = join(build, 'Release', 'better_sqlite3.node');
        if (existsSync(file) && !existsSync(join(build, 'better_sqlite3.node')) && !existsSync(join(build, 'Debug', 'better_sqlite3.node'))) addonPath = file;
      }
    } catch {
      // better-sqlite3's own search decides.
    }
  }
  return addonPath ?? undefined;
}

export async function openSqlite(path: string, opts: { create: boolean }): Promise<Database> {
  const full = path === ':memory:' ? path : resolve(path);
  if (full !== ':memory:' && !existsSync(full)) {
    if (!opts.create) {
      // Not exit 3: that means "no such subscriber/record", and scripts test for it.
      throw new ConnectionError('DB_NOT_FOUND', `SQLite database ${full} does not exist`, { hint: 'create it with `sipctl db init`, or check --db / SIPCTL_DB' });
    }
    mkdirSync(dirname(full), { recursive: true, mode: 0o700 });
    // It will hold ha1, Ki and OPc: create it 0600 whatever the umask (fchmod, since open's mode is
    // masked). SQLite gives its -wal and -shm files the database file's mode, so they follow.
    let fd: number | undefined;
    try {
      fd = openSync(full, 'wx', 0o600);
      fchmodSync(fd, 0o600);
    } catch (e) {
      // Someone created it between our check and now: theirs to keep, as it is.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw connectionFailed(full, e);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
  const { default: Sqlite } = await import('better-sqlite3');
  let db: Db;
  try {
    const nativeBinding = sqliteAddon();
    db = nativeBinding ? new Sqlite(full, { nativeBinding }) : new Sqlite(full);
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
  } catch (e) {
    throw connectionFailed(full, e);
  }
  const q = makeQueryable(db);
  let depth = 0;
  return {
    ...q,
    label: `sqlite://${full}`,
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      // better-sqlite3's own transaction() is synchronous; ours awaits, so drive BEGIN/COMMIT by hand.
      if (depth > 0) return fn(q);
      depth++;
      db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(q);
        db.exec('COMMIT');
        return result;
      } catch (e) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw e;
      } finally {
        depth--;
      }
    },
    async exec(sql: string) {
      db.exec(sql);
    },
    async close() {
      db.close();
    },
  };
}
