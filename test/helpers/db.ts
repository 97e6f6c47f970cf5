/**
 * Real databases for tests: a fresh SQLite file, and a fresh MariaDB/MySQL database with its own
 * user (password-protected, like a deployment). Each is dropped after the test, also on failure.
 * MariaDB admin access: SIPCTL_TEST_MYSQL_ADMIN (default: root over the local unix socket).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe } from 'node:test';
import { openDatabase, type Database } from '../../src/core/db/database.js';
import { initSchema } from '../../src/core/db/schema/schema.js';

export type EngineName = 'sqlite' | 'mysql';
export const ENGINES: EngineName[] = ['sqlite', 'mysql'];

export interface TestDb {
  engine: EngineName;
  /** URL without password (the password is in `password`, as sipctl's SIPCTL_DB_PASSWORD). */
  url: string;
  password?: string;
  /** URL with the password embedded, for tools that want one string. */
  fullUrl: string;
  open(): Promise<Database>;
  drop(): Promise<void>;
}

const ADMIN = process.env.SIPCTL_TEST_MYSQL_ADMIN ?? 'socket:/run/mysqld/mysqld.sock';

async function adminConnection(spec = ADMIN) {
  const mysql = await import('mysql2/promise');
  if (spec.startsWith('socket:')) return mysql.createConnection({ socketPath: spec.slice(7), user: 'root' });
  return mysql.createConnection(spec);
}

export interface TestDbOptions {
  init?: boolean;
  /** another MariaDB server (e.g. test/helpers/private-mariadb.ts): its admin spec and TCP port */
  server?: { admin: string; port: number };
  /** session sql_mode for every connection sipctl opens (the URL's ?sql_mode=) */
  sqlMode?: string;
}

export async function createTestDb(engine: EngineName, opts: TestDbOptions = {}): Promise<TestDb> {
  const tag = `sipctl_t_${process.pid}_${randomBytes(3).toString('hex')}`;
  let t: TestDb;
  if (engine === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'sipctl-test-'));
    const url = `sqlite://${join(dir, 'test.db')}`;
    t = {
      engine,
      url,
      fullUrl: url,
      open: () => openDatabase(url, { create: true }),
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  } else {
    const password = randomBytes(12).toString('hex');
    const adminSpec = opts.server?.admin ?? ADMIN;
    const port = opts.server?.port ?? 3306;
    const query = opts.sqlMode !== undefined ? `?sql_mode=${opts.sqlMode}` : '';
    const admin = await adminConnection(adminSpec);
    try {
      await admin.query(`CREATE DATABASE \`${tag}\` CHARACTER SET latin1`);
      await admin.query('CREATE USER ?@? IDENTIFIED BY ?', [tag, 'localhost', password]);
      await admin.query('CREATE USER ?@? IDENTIFIED BY ?', [tag, '127.0.0.1', password]);
      await admin.query(`GRANT ALL PRIVILEGES ON \`${tag}\`.* TO ?@?`, [tag, 'localhost']);
      await admin.query(`GRANT ALL PRIVILEGES ON \`${tag}\`.* TO ?@?`, [tag, '127.0.0.1']);
    } finally {
      await admin.end();
    }
    const url = `mysql://${tag}@127.0.0.1:${port}/${tag}${query}`;
    t = {
      engine,
      url,
      password,
      fullUrl: `mysql://${tag}:${password}@127.0.0.1:${port}/${tag}${query}`,
      open: () => openDatabase(url, { password }),
      drop: async () => {
        const a = await adminConnection(adminSpec);
        try {
          await a.query(`DROP DATABASE IF EXISTS \`${tag}\``);
          await a.query('DROP USER IF EXISTS ?@?', [tag, 'localhost']);
          await a.query('DROP USER IF EXISTS ?@?', [tag, '127.0.0.1']);
        } finally {
          await a.end();
        }
      },
    };
  }
  if (opts.init !== false) {
    const db = await t.open();
    try {
      await initSchema(db);
    } finally {
      await db.close();
    }
  }
  return t;
}

/** Runs `body` once per engine inside describe blocks; databases made there are dropped at the end. */
export function forEachEngine(title: string, body: (engine: EngineName, track: (t: TestDb) => TestDb) => void): void {
  for (const engine of ENGINES) {
    describe(`${title} [${engine}]`, () => {
      const made: TestDb[] = [];
      after(async () => {
        for (const t of made) await t.drop().catch((e) => console.error(`cleanup of ${t.url} failed:`, e));
      });
      body(engine, (t) => {
        made.push(t);
        return t;
      });
    });
  }
}
