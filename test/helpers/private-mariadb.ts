/**
 * A private MariaDB server for tests that need a GLOBAL server setting (e.g. sql_mode) that must
 * not be changed on the shared server other tests use: mariadb-install-db into a temp dir, its own
 * socket and loopback port, started with the given options, killed and removed after (also when
 * the test fails: call stop() in an after hook; a process exit hook kills it too).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from '../../src/core/db/database.js';
import { createTestDb, type EngineName, type TestDb, type TestDbOptions } from './db.js';

const INSTALL_DB = ['/usr/bin/mariadb-install-db', '/usr/bin/mysql_install_db'];
const SERVER = ['/usr/sbin/mariadbd', '/usr/sbin/mysqld'];

export interface PrivateMariadb {
  socket: string;
  port: number;
  /** admin spec for test/helpers/db.ts: socket:/path (root, no password) */
  admin: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

export async function startPrivateMariadb(serverArgs: string[]): Promise<PrivateMariadb> {
  const install = INSTALL_DB.find(existsSync);
  const server = SERVER.find(existsSync);
  if (!install || !server) throw new Error(`MariaDB server binaries are missing (need one of ${INSTALL_DB.join(', ')} and ${SERVER.join(', ')}): install mariadb-server`);
  const dir = mkdtempSync(join(tmpdir(), 'sipctl-mariadb-'));
  const data = join(dir, 'data');
  const socket = join(dir, 'mysqld.sock');
  const port = await freePort();
  const user = process.getuid?.() === 0 ? ['--user=root'] : [];
  const init = spawnSync(install, [`--datadir=${data}`, '--auth-root-authentication-method=normal', '--skip-test-db', '--no-defaults', ...user], { encoding: 'utf8' });
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`mariadb-install-db failed: ${init.stderr || init.stdout}`);
  }
  const child: ChildProcess = spawn(server, [
    '--no-defaults', `--datadir=${data}`, `--socket=${socket}`, `--port=${port}`, '--bind-address=127.0.0.1',
    `--pid-file=${join(dir, 'mysqld.pid')}`, '--skip-log-bin', '--innodb-buffer-pool-size=16M', '--skip-name-resolve=0', ...user, ...serverArgs,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  // A watchdog outlives a test process that is killed (a test-runner timeout sends a signal, and
  // 'exit' handlers do not run then): when this process is gone it kills the server and removes its files.
  const watchdog = spawn('sh', ['-c', `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill -9 ${child.pid} 2>/dev/null; sleep 1; rm -rf '${dir}'`], { detached: true, stdio: 'ignore' });
  watchdog.unref();
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  let gone = false;
  const exited = new Promise<void>((r) => child.on('exit', () => { gone = true; r(); }));
  const kill = () => { if (!gone) child.kill('SIGKILL'); };
  process.once('exit', kill);
  const stop = async () => {
    if (!gone) {
      child.kill('SIGTERM');
      const t = setTimeout(kill, 10_000);
      await exited;
      clearTimeout(t);
    }
    process.removeListener('exit', kill);
    watchdog.kill();
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (gone) {
      await stop();
      throw new Error(`private mariadbd exited during start:\n${out.slice(-2000)}`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`private mariadbd did not start within 60 s:\n${out.slice(-2000)}`);
    }
    if (existsSync(socket)) {
      const ok = await new Promise<boolean>((r) => {
        const c = net.connect(socket, () => { c.destroy(); r(true); });
        c.on('error', () => r(false));
      });
      if (ok) break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { socket, port, admin: `socket:${socket}`, stop };
}

/** An SQL mode the injection suites run in: SQLite, MariaDB with a session sql_mode, or a private server with global flags. */
export interface SqlModeSpec {
  name: string;
  engine: EngineName;
  /** set per session (the DB URL's ?sql_mode=) */
  sqlMode?: string;
  /** a private mariadbd started with these arguments (e.g. --sql-mode=…), for global settings */
  globalArgs?: string[];
}

export interface SqlModeDb {
  t: TestDb;
  db: Database;
  server?: PrivateMariadb;
  /** closes the connection, drops the database and stops the private server; never throws */
  close(): Promise<void>;
}

/** A test database in `mode`, open; close() undoes all of it (call it from an after hook). */
export async function openSqlModeDb(mode: SqlModeSpec): Promise<SqlModeDb> {
  const opts: TestDbOptions = { sqlMode: mode.sqlMode };
  const server = mode.globalArgs ? await startPrivateMariadb(mode.globalArgs) : undefined;
  if (server) opts.server = { admin: server.admin, port: server.port };
  try {
    const t = await createTestDb(mode.engine, opts);
    const db = await t.open();
    return {
      t,
      db,
      server,
      async close() {
        await db.close().catch(() => undefined);
        await t.drop().catch((e) => console.error('drop failed', e));
        await server?.stop();
      },
    };
  } catch (e) {
    await server?.stop();
    throw e;
  }
}
