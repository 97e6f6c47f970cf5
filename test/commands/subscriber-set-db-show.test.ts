// sipctl subscriber set (allow-listed columns) and sipctl db show (read-only, secrets masked)
// through the built binary, on SQLite and MariaDB.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isolatedEnv, runSipctl } from '../helpers/cli.js';
import { createTestDb, forEachEngine } from '../helpers/db.js';

forEachEngine('sipctl subscriber set / db show', (engine, track) => {
  test('subscriber set: missing column is exit 9, allow-list, refused columns, not found, dry run, set', async () => {
    const t = track(await createTestDb(engine));
    const env = isolatedEnv({ SIPCTL_DB: t.url, SIPCTL_DB_PASSWORD: t.password, SIPCTL_DOMAIN: 'sip.example.com' });
    const s = (...args: string[]) => runSipctl(args, { env });
    const add = await runSipctl(['add', 'alice', '--password-stdin'], { env, input: 'Str0ng-enough-pw1\n' });
    assert.equal(add.code, 0, add.stderr);

    const missing = await s('subscriber', 'set', 'alice', 'email_address', 'alice@example.com');
    assert.equal(missing.code, 9, missing.stderr);
    assert.match(missing.stderr, /has no email_address column/);
    const db = await t.open();
    try {
      await db.exec("ALTER TABLE subscriber ADD email_address VARCHAR(128) DEFAULT '' NOT NULL");
    } finally {
      await db.close();
    }
    const pw = await s('subscriber', 'set', 'alice', 'ha1', 'x');
    assert.equal(pw.code, 2);
    assert.match(pw.stderr, /sipctl passwd/);
    assert.equal((await s('subscriber', 'set', 'alice', 'nickname', 'x')).code, 2);
    assert.equal((await s('subscriber', 'set', 'alice', 'email_address', 'not-an-address')).code, 2);
    assert.equal((await s('subscriber', 'set', 'nobody', 'email_address', 'a@example.com')).code, 3);
    const dry = await s('subscriber', 'set', 'alice', 'email_address', 'alice@example.com', '--dry-run');
    assert.equal(dry.stdout, 'would set email_address of alice@sip.example.com to "alice@example.com" (was "")\n');
    const set = await s('subscriber', 'set', 'ALICE@sip.example.com', 'email_address', 'alice@example.com', '--json');
    assert.equal(set.code, 0, set.stderr);
    assert.equal(JSON.parse(set.stdout).value, 'alice@example.com');

    const shown = await s('db', 'show', 'subscriber', '--json');
    assert.equal(shown.code, 0, shown.stderr);
    const r = JSON.parse(shown.stdout);
    assert.deepEqual(r.masked, ['password', 'ha1', 'ha1b']);
    assert.equal(r.rows.length, 1);
    assert.equal(r.rows[0].username, 'alice');
    assert.equal(r.rows[0].ha1, '********');
    assert.equal(r.rows[0].email_address, 'alice@example.com');
    assert.doesNotMatch(shown.stdout, /[0-9a-f]{32}/, 'no hash in the output');
    assert.match(JSON.parse((await s('db', 'show', 'subscriber', '--reveal', '--json')).stdout).rows[0].ha1, /^[0-9a-f]{32}$/);
  });

  test('db show: known tables only, --where on real columns, values as data, not on secrets; --limit', async () => {
    const t = track(await createTestDb(engine));
    const env = isolatedEnv({ SIPCTL_DB: t.url, SIPCTL_DB_PASSWORD: t.password });
    const s = (...args: string[]) => runSipctl(args, { env });
    assert.equal((await s('dispatcher', 'add', '1', 'sip:192.0.2.30')).code, 0);
    assert.equal((await s('dispatcher', 'add', '2', 'sip:192.0.2.31')).code, 0);
    const one = await s('db', 'show', 'dispatcher', '--where', 'setid=2');
    assert.equal(one.code, 0, one.stderr);
    assert.equal(one.stdout, '2\t2\tsip:192.0.2.31\t0\t0\t\t\n');
    // a value is data: never the OR clause (MariaDB may cast the string to 2, SQLite matches nothing)
    assert.doesNotMatch((await s('db', 'show', 'dispatcher', '--where', "setid=2' OR '1'='1")).stdout, /192\.0\.2\.30/);
    assert.equal((await s('db', 'show', 'users')).code, 2);
    const badCol = await s('db', 'show', 'dispatcher', '--where', 'nope=1');
    assert.equal(badCol.code, 2);
    assert.match(badCol.stderr, /dispatcher has no column "nope"/);
    assert.equal((await s('db', 'show', 'subscriber', '--where', 'ha1=abc')).code, 2);
    const lim = await s('db', 'show', 'dispatcher', '--limit', '1');
    assert.equal(lim.stdout.split('\n').filter(Boolean).length, 1);
    assert.match(lim.stderr, /more rows matched/);
  });
});
