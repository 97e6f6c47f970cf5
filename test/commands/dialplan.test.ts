// sipctl dialplan add/rm/show through the built binary, on SQLite and MariaDB (no proxy needed).
// The running proxy's side (dump, reload, translate) is test/interop/issue12-kamailio.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isolatedEnv, runSipctl } from '../helpers/cli.js';
import { createTestDb, forEachEngine } from '../helpers/db.js';

forEachEngine('sipctl dialplan', (engine, track) => {
  test('add, show, conflict, refused PCRE-only pattern, dry run, rm needs --yes, rm, missing', async () => {
    const t = track(await createTestDb(engine));
    const env = isolatedEnv({ SIPCTL_DB: t.url, SIPCTL_DB_PASSWORD: t.password });
    const s = (...args: string[]) => runSipctl(args, { env });

    const add = await s('dialplan', 'add', '1', '^00([1-9][0-9]+)$', '+\\1', '--attrs', 'intl');
    assert.equal(add.code, 0, add.stderr);
    assert.equal(add.stdout, 'added to dialplan 1 (priority 0): regexp "^00([1-9][0-9]+)$" → "+\\1"\n');
    assert.match(add.stderr, /sipctl dialplan reload/);
    assert.equal((await s('dialplan', 'show')).stdout, '1\t1\t0\tregexp\t^00([1-9][0-9]+)$\t^00([1-9][0-9]+)$\t+\\1\tintl\n');
    assert.equal((await s('dialplan', 'add', '1', '^00([1-9][0-9]+)$', 'x')).code, 4);
    const pcre = await s('dialplan', 'add', '1', '^\\d++$', 'x');
    assert.equal(pcre.code, 2);
    assert.match(pcre.stderr, /^sipctl: match_exp: "\+\+" \(possessive quantifier\) is outside what sipctl can check/);
    const backref = await s('dialplan', 'add', '1', '^0[1-9]+$', '+49\\1');
    assert.equal(backref.code, 2);
    assert.match(backref.stderr, /repl_exp: uses \\1 but subst_exp has 0 group/);
    const dry = await s('dialplan', 'add', '2', '911', '112', '--match-op', 'equal', '--dry-run');
    assert.equal(dry.stdout, 'would add to dialplan 2 (priority 0): equal "911" → "112"\n');
    assert.equal((await s('dialplan', 'show', '2')).stdout, '');

    assert.equal((await s('dialplan', 'rm', '1')).code, 2);
    const rm = await s('dialplan', 'rm', '1', '^00([1-9][0-9]+)$', '--yes');
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal(rm.stdout, 'removed from dialplan 1: regexp "^00([1-9][0-9]+)$"\n');
    assert.equal((await s('dialplan', 'rm', '1', '--yes')).code, 3);
  });
});
