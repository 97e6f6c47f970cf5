// sipctl trusted add/rm/show through the built binary, on SQLite and MariaDB (no proxy needed).
// The running proxy's side is test/interop/issue12-kamailio.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isolatedEnv, runSipctl } from '../helpers/cli.js';
import { createTestDb, forEachEngine } from '../helpers/db.js';
import { closedPort } from '../unit/rpc/servers.js';

forEachEngine('sipctl trusted', (engine, track) => {
  test('add (kamctl order), show, conflict, bad pattern, dry run, rm needs --yes, rm, missing; --reload with the proxy down', async () => {
    const t = track(await createTestDb(engine));
    const env = isolatedEnv({ SIPCTL_DB: t.url, SIPCTL_DB_PASSWORD: t.password, SIPCTL_RPC: `http://127.0.0.1:${await closedPort()}/RPC` });
    const s = (...args: string[]) => runSipctl(args, { env });

    const add = await s('trusted', 'add', '192.0.2.20', 'udp', '^sip:.*@carrier\\.example$', 'carrier-a', '--priority', '5');
    assert.equal(add.code, 0, add.stderr);
    assert.equal(add.stdout, 'trusted 192.0.2.20 (udp) From ~ ^sip:.*@carrier\\.example$ tag carrier-a\n');
    assert.match(add.stderr, /sipctl trusted reload/);
    const show = await s('trusted', 'show');
    assert.equal(show.stdout, '1\t192.0.2.20\tudp\t^sip:.*@carrier\\.example$\t\tcarrier-a\t5\n');

    assert.equal((await s('trusted', 'add', '192.0.2.20', 'UDP', '^sip:.*@carrier\\.example$')).code, 4);
    const perl = await s('trusted', 'add', '192.0.2.21', 'any', '^sip:\\d+@');
    assert.equal(perl.code, 2);
    assert.match(perl.stderr, /^sipctl: from_pattern: "\\d" is not POSIX extended regular expression syntax/);
    assert.equal((await s('trusted', 'add', 'carrier.example')).code, 2);
    const dry = await s('trusted', 'add', '2001:DB8::20', '--dry-run', '--json');
    assert.deepEqual(JSON.parse(dry.stdout).entries, [{ srcIp: '2001:db8::20', proto: 'any', fromPattern: null, ruriPattern: null, tag: null, priority: 0 }]);

    // --reload with the proxy down: the row is written, the exit code says the reload failed
    const down = await s('trusted', 'add', '198.51.100.7', 'tls', '--reload');
    assert.equal(down.code, 5);
    assert.equal(JSON.parse((await s('trusted', 'show', '--src-ip', '198.51.100.7', '--json')).stdout).length, 1);

    assert.equal((await s('trusted', 'rm', '192.0.2.20')).code, 2);
    const rm = await s('trusted', 'rm', '192.0.2.20', '--yes');
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal(rm.stdout, 'removed 192.0.2.20 (udp) From ~ ^sip:.*@carrier\\.example$\n');
    assert.equal((await s('trusted', 'rm', '192.0.2.20', '--yes')).code, 3);
  });
});
