/**
 * The CLI bundle's mysql2 is patched for start-up (scripts/bundle.mjs, lazyMysqlTables: its SHA-1
 * login without node:crypto, the greeting's cesu8 without iconv-lite, long and iconv-lite loaded on
 * first use, a smaller parser cache). Against a real MariaDB, the bundled copy must log in and read
 * exactly what mysql2 itself reads: 64-bit integers beyond 2^53 (long), text in a character set only
 * iconv-lite decodes (cp1251 and big5 columns over a connection in that character set), and a wrong
 * password must be refused the same way.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { assertFreshBuild } from '../helpers/build.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

type Mysql = typeof import('mysql2');

async function bundledMysql2(): Promise<Mysql> {
  assertFreshBuild();
  const dir = join(ROOT, 'dist', 'chunks');
  const file = readdirSync(dir).find((f) => /^mysql2-[A-Z0-9]+\.js$/.test(f));
  assert.ok(file, `no mysql2 chunk in ${dir}`);
  const m = (await import(pathToFileURL(join(dir, file)).href)) as { default: Mysql | (() => Mysql) };
  // esbuild's chunk for a CommonJS package exports its module.exports, or the function that makes it
  return typeof m.default === 'function' && !('createPool' in m.default) ? (m.default as () => Mysql)() : (m.default as Mysql);
}

describe('the bundled mysql2 (CLI) against MariaDB, beside mysql2 itself', () => {
  let t: TestDb;
  let bundled: Mysql;
  let original: Mysql;
  before(async () => {
    t = await createTestDb('mysql');
    bundled = await bundledMysql2();
    original = (await import('mysql2')).default;
    assert.notEqual(bundled, original, 'the bundle has its own copy');
  });
  after(async () => {
    await t?.drop();
  });

  const run = (mysql: Mysql, opts: { password?: string; charset?: string }, sql: string, params: unknown[] = []) =>
    new Promise<{ rows?: unknown; error?: { code?: string; errno?: number; message: string } }>((done) => {
      const u = new URL(t.url);
      const c = mysql.createConnection({
        host: u.hostname,
        port: Number(u.port),
        user: decodeURIComponent(u.username),
        password: opts.password ?? t.password,
        database: u.pathname.slice(1),
        charset: opts.charset ?? 'utf8mb4',
        supportBigNumbers: true,
        dateStrings: true,
      });
      c.execute(sql, params as never, (err, rows) => {
        c.destroy();
        done(err ? { error: { code: err.code, errno: err.errno, message: err.message } } : { rows });
      });
    });
  const same = async (opts: { password?: string; charset?: string }, sql: string, params: unknown[] = []) => {
    const want = await run(original, opts, sql, params);
    const got = await run(bundled, opts, sql, params);
    assert.deepEqual(got, want, sql);
    return got;
  };

  test('logs in (mysql_native_password) and reads 64-bit integers as mysql2 does', async () => {
    const r = await same({}, 'SELECT CAST(? AS SIGNED) AS a, CAST(? AS UNSIGNED) AS b, 9007199254740993 AS c, 42 AS d', ['-9223372036854775807', '18446744073709551615']);
    assert.deepEqual(r.rows, [{ a: '-9223372036854775807', b: '18446744073709551615', c: '9007199254740993', d: 42 }]);
  });

  test('decodes text of character sets only iconv-lite knows, as mysql2 does', async () => {
    // The value travels in the connection's character set (iconv-lite encodes it) and comes back in it.
    const r = await same({ charset: 'cp1251' }, 'SELECT CONVERT(? USING cp1251) AS t', ['Привет, мир']);
    assert.deepEqual(r.rows, [{ t: 'Привет, мир' }]);
    const r2 = await same({ charset: 'big5' }, 'SELECT CONVERT(? USING big5) AS t', ['中文字']);
    assert.deepEqual(r2.rows, [{ t: '中文字' }]);
  });

  test('a wrong password is refused the same way', async () => {
    const r = await same({ password: 'not-the-password' }, 'SELECT 1');
    assert.equal(r.error?.code, 'ER_ACCESS_DENIED_ERROR');
  });
});
