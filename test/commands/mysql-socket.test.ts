/**
 * Issue 11 §2: a kamctlrc that works for kamctl works for sipctl. Against the real MariaDB, with a
 * user granted ONLY @'localhost' (as `kamdbctl create` makes kamailio@localhost): host localhost
 * connects over the unix socket like libmysqlclient, 127.0.0.1 means TCP and is denied with a hint
 * naming the cause, and ?socket= chooses the socket.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliFor, expectExit, jsonError, oneErrorLine } from './cli-support.js';
import { accessDeniedHint, mysqlTarget, socketFromMyCnf } from '../../src/core/db/mysql-socket.js';
import { ConnectionError } from '../../src/core/errors.js';

const ADMIN_SOCKET = '/run/mysqld/mysqld.sock';

describe('mysql:// host localhost = the unix socket (real MariaDB, user granted only @localhost)', () => {
  const cli = cliFor();
  const tag = `sipctl_sock_${process.pid}_${randomBytes(3).toString('hex')}`;
  const password = randomBytes(12).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'sipctl-sock-'));
  const admin = async () => (await import('mysql2/promise')).createConnection({ socketPath: ADMIN_SOCKET, user: 'root' });

  before(async () => {
    const a = await admin().catch((e) => {
      throw new Error(`missing test prerequisite: MariaDB as root over ${ADMIN_SOCKET} (${(e as Error).message})`);
    });
    try {
      await a.query(`CREATE DATABASE \`${tag}\` CHARACTER SET latin1`);
      await a.query('CREATE USER ?@? IDENTIFIED BY ?', [tag, 'localhost', password]);
      await a.query(`GRANT ALL PRIVILEGES ON \`${tag}\`.* TO ?@?`, [tag, 'localhost']);
    } finally {
      await a.end();
    }
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    const a = await admin();
    try {
      await a.query(`DROP DATABASE IF EXISTS \`${tag}\``);
      await a.query('DROP USER IF EXISTS ?@?', [tag, 'localhost']);
    } finally {
      await a.end();
    }
  });

  test('a kamctlrc with DBHOST=localhost works (db init, add, db status), as it does for kamctl', async () => {
    const rc = join(dir, 'kamctlrc');
    writeFileSync(rc, `DBENGINE=MYSQL\nDBHOST=localhost\nDBNAME=${tag}\nDBRWUSER="${tag}"\nDBRWPW="${password}"\nSIP_DOMAIN=sock.example\n`, { mode: 0o600 });
    expectExit(await cli.run(['db', 'init', '--kamctlrc', rc]), 0);
    expectExit(await cli.run(['add', 'alice', 'Socket-Passw0rd-1', '--kamctlrc', rc]), 0);
    const st = await cli.run(['db', 'status', '--json', '--kamctlrc', rc]);
    expectExit(st, 0);
    const doc = JSON.parse(st.stdout);
    assert.match(doc.database, /^mysql:\/\/sipctl_sock_\w+@unix:\/.*mysqld\.sock\//);
    assert.equal(doc.subscriberPasswords.rows, 1);
  });

  test('mysql://user@localhost/db and ?socket= connect over the socket', async () => {
    const env = { SIPCTL_DB_PASSWORD: password };
    expectExit(await cli.run(['show', 'alice@sock.example', '--db', `mysql://${tag}@localhost/${tag}`], { env }), 0);
    expectExit(await cli.run(['show', 'alice@sock.example', '--db', `mysql://${tag}@localhost:3306/${tag}`], { env }), 0);
    expectExit(await cli.run(['show', 'alice@sock.example', '--db', `mysql://${tag}@127.0.0.1/${tag}?socket=${ADMIN_SOCKET}`], { env }), 0);
  });

  test('127.0.0.1 means TCP: access denied, with a hint naming the likely cause', async () => {
    const r = await cli.run(['show', 'alice@sock.example', '--db', `mysql://${tag}@127.0.0.1/${tag}`], { env: { SIPCTL_DB_PASSWORD: password } });
    expectExit(r, 5);
    const line = oneErrorLine(r);
    assert.match(line, /Access denied/);
    assert.match(line, /granted only @'localhost'.*host localhost in the URL \(the unix socket\)/);
    assert.ok(!line.includes(password));
    const j = await cli.run(['show', 'alice@sock.example', '--db', `mysql://${tag}@127.0.0.1/${tag}`, '--json'], { env: { SIPCTL_DB_PASSWORD: password } });
    assert.match(jsonError(j).hint!, /@'localhost'/);
  });

  test('a wrong password over the socket: the hint says to check the password', async () => {
    const r = await cli.run(['show', 'alice@sock.example', '--db', `mysql://${tag}@localhost/${tag}`], { env: { SIPCTL_DB_PASSWORD: 'wrong' } });
    expectExit(r, 5);
    assert.match(oneErrorLine(r), /Access denied.*check the password/);
  });
});

describe('mysqlTarget and my.cnf (unit)', () => {
  test('?socket= wins; other hosts are TCP; localhost with no socket found is a clear connection error', () => {
    assert.deepEqual(mysqlTarget({ host: '127.0.0.1', port: 3306, socketPath: '/x.sock' }), { socketPath: '/x.sock' });
    assert.deepEqual(mysqlTarget({ host: '127.0.0.1', port: 3307 }), { host: '127.0.0.1', port: 3307 });
    assert.deepEqual(mysqlTarget({ host: 'localhost', port: 3306 }, [ADMIN_SOCKET]), { socketPath: ADMIN_SOCKET });
    assert.throws(() => mysqlTarget({ host: 'localhost', port: 3306 }, ['/nonexistent/mysqld.sock']), (e: unknown) => e instanceof ConnectionError && e.code === 'DB_NO_SOCKET' && /nonexistent.*/.test(e.message) && /127\.0\.0\.1/.test(e.hint ?? ''));
    assert.match(accessDeniedHint({ host: '127.0.0.1', port: 3306 }, 'kamailio'), /'kamailio'@'127\.0\.0\.1'.*@'localhost'/);
  });

  test("socket= from a [client] group of an option file, not from [mysqld]", () => {
    const d = mkdtempSync(join(tmpdir(), 'sipctl-cnf-'));
    try {
      const f = join(d, 'my.cnf');
      writeFileSync(f, '[mysqld]\nsocket = /srv/server-only.sock\n[client]\nport = 3306\nsocket = "/srv/client.sock"\n');
      assert.equal(socketFromMyCnf([join(d, 'absent.cnf'), f]), '/srv/client.sock');
      writeFileSync(f, '[mysqld]\nsocket=/srv/server-only.sock\n');
      assert.equal(socketFromMyCnf([f]), undefined);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
