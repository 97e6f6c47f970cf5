// The database URL's ?sql_mode= against a real MariaDB: a mode name the server does not know is one
// clear usage error when the database is opened. Before, the connection was closed without a word
// and the first statement failed with 'write after end'.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase } from '../../../src/core/db/database.js';
import { createTestDb } from '../../helpers/db.js';
import { isolatedEnv, runSipctl } from '../../helpers/cli.js';

test('sql_mode the server refuses: openDatabase and sipctl fail at once naming the mode (exit 2); a known mode is set', async () => {
  const bad = await createTestDb('mysql', { init: false, sqlMode: 'NO_SUCH_MODE' });
  try {
    await assert.rejects(openDatabase(bad.url, { password: bad.password }), (e: Error & { code?: string; category?: string }) => {
      assert.equal(e.code, 'BAD_DB_URL');
      assert.equal(e.category, 'usage');
      assert.match(e.message, /^the database server refused sql_mode=NO_SUCH_MODE: .*NO_SUCH_MODE/);
      return true;
    });
    const cli = await runSipctl(['db', 'status', '--db', bad.url], { env: isolatedEnv({ NO_COLOR: '1', SIPCTL_DB_PASSWORD: bad.password }) });
    assert.equal(cli.code, 2, cli.stderr);
    assert.equal(cli.stderr.trim().split('\n').length, 1, cli.stderr);
    assert.match(cli.stderr, /refused sql_mode=NO_SUCH_MODE/);
    assert.doesNotMatch(cli.stderr, /write after end/);
  } finally {
    await bad.drop();
  }

  const good = await createTestDb('mysql', { init: false, sqlMode: 'ANSI_QUOTES,NO_BACKSLASH_ESCAPES' });
  try {
    const db = await openDatabase(good.url, { password: good.password });
    try {
      const [row] = await db.query<{ m: string }>('SELECT @@SESSION.sql_mode AS m');
      assert.deepEqual(row!.m.split(',').filter((m) => m === 'ANSI_QUOTES' || m === 'NO_BACKSLASH_ESCAPES').sort(), ['ANSI_QUOTES', 'NO_BACKSLASH_ESCAPES']);
    } finally {
      await db.close();
    }
  } finally {
    await good.drop();
  }
});
