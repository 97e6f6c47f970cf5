// sipctl acl, alias and speeddial through the built binary, on SQLite and MariaDB. Kamailio's
// group, alias_db and speeddial modules start on a database made by `sipctl db init`
// (test/interop/issue12-kamailio.test.ts); they read these tables per request, so no reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isolatedEnv, runSipctl } from '../helpers/cli.js';
import { createTestDb, forEachEngine } from '../helpers/db.js';

forEachEngine('sipctl acl / alias / speeddial', (engine, track) => {
  test('grant, show, revoke; alias add, show, rm; speeddial add, show, rm; conflicts, bad input, --yes', async () => {
    const t = track(await createTestDb(engine));
    const env = isolatedEnv({ SIPCTL_DB: t.url, SIPCTL_DB_PASSWORD: t.password, SIPCTL_DOMAIN: 'sip.example.com' });
    const s = (...args: string[]) => runSipctl(args, { env });

    const g = await s('acl', 'grant', 'alice', 'int');
    assert.equal(g.code, 0, g.stderr);
    assert.equal(g.stdout, 'granted int to alice@sip.example.com\n');
    assert.equal((await s('acl', 'grant', 'alice@sip.example.com', 'int')).code, 4);
    assert.equal((await s('acl', 'grant', 'alice', 'two words')).code, 2);
    assert.match((await s('acl', 'show', 'alice')).stdout, /^alice@sip\.example\.com\tint\t\d{4}-/);
    assert.equal((await s('acl', 'revoke', 'alice', 'int')).code, 2, 'needs --yes without a terminal');
    assert.equal((await s('acl', 'revoke', 'alice', 'int', '--yes')).stdout, 'revoked int from alice@sip.example.com\n');
    assert.equal((await s('acl', 'revoke', 'alice', '--yes')).code, 3);

    const a = await s('alias', 'add', '4930123456', 'alice', '--json');
    assert.equal(a.code, 0, a.stderr);
    assert.deepEqual(JSON.parse(a.stdout).entries, [{ alias: '4930123456@sip.example.com', user: 'alice@sip.example.com' }]);
    assert.equal((await s('alias', 'add', '4930123456', 'bob')).code, 4);
    assert.equal((await s('alias', 'show', '--user', 'alice')).stdout, '4930123456@sip.example.com\talice@sip.example.com\n');
    assert.equal((await s('alias', 'rm', '4930123456', '--yes')).code, 0);
    assert.equal((await s('alias', 'rm', '4930123456', '--yes')).code, 3);

    const sd = await s('speeddial', 'add', 'alice', '11', 'sip:bob@sip.example.com', '--description', 'Bob');
    assert.equal(sd.code, 0, sd.stderr);
    assert.equal(sd.stdout, 'added speed dial 11 → sip:bob@sip.example.com for alice@sip.example.com\n');
    assert.equal((await s('speeddial', 'add', 'alice', '11', 'tel:+4930123')).code, 4);
    const bad = await s('speeddial', 'add', 'alice', '12', 'bob@example.com');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^sipctl: target: "bob@example\.com" is not a URI/);
    assert.equal((await s('speeddial', 'show', 'alice')).stdout, 'alice@sip.example.com\t11\tsip:bob@sip.example.com\tBob\n');
    assert.equal((await s('speeddial', 'rm', 'alice', '11', '--dry-run')).stdout, 'would remove speed dial 11 → sip:bob@sip.example.com for alice@sip.example.com\n');
    assert.equal((await s('speeddial', 'rm', 'alice', '11', '--yes')).code, 0);
    assert.equal((await s('speeddial', 'show', '--json')).stdout.trim(), '[]');
  });
});
