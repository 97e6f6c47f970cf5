// sipctl dispatcher add/rm/show through the built binary, on SQLite and MariaDB (no proxy needed).
// The running proxy's side (dump, reload, set-state) is test/interop/issue12-kamailio.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isolatedEnv, runSipctl } from '../helpers/cli.js';
import { createTestDb, forEachEngine } from '../helpers/db.js';
import { closedPort } from '../unit/rpc/servers.js';

forEachEngine('sipctl dispatcher', (engine, track) => {
  test('add, show, conflict, bad URI, dry run, rm needs --yes, rm, missing; --reload with the proxy down', async () => {
    const t = track(await createTestDb(engine));
    const env = isolatedEnv({ SIPCTL_DB: t.url, SIPCTL_DB_PASSWORD: t.password, SIPCTL_RPC: `http://127.0.0.1:${await closedPort()}/RPC` });
    const s = (...args: string[]) => runSipctl(args, { env });

    const add = await s('dispatcher', 'add', '1', 'sip:192.0.2.30:5060', '--attrs', 'weight=50;duid=gw1', '--description', 'gateway A');
    assert.equal(add.code, 0, add.stderr);
    assert.equal(add.stdout, 'added sip:192.0.2.30:5060 to dispatcher set 1\n');
    assert.match(add.stderr, /sipctl dispatcher reload/);
    assert.equal((await s('dispatcher', 'show')).stdout, '1\t1\tsip:192.0.2.30:5060\t0\t0\tweight=50;duid=gw1\tgateway A\n');
    assert.equal((await s('dispatcher', 'add', '1', 'SIP:192.0.2.30:5060')).code, 4);
    const bad = await s('dispatcher', 'add', '1', '192.0.2.30');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^sipctl: uri: "192\.0\.2\.30" is not a SIP URI/);
    assert.equal((await s('dispatcher', 'add', '1', 'sip:192.0.2.31', '--attrs', 'weight=500')).code, 2);
    const dry = await s('dispatcher', 'add', '2', 'sip:[2001:db8::30]', '--dry-run');
    assert.equal(dry.stdout, 'would add sip:[2001:db8::30] to dispatcher set 2\n');
    assert.deepEqual(JSON.parse((await s('dispatcher', 'show', '2', '--json')).stdout), []);

    const down = await s('dispatcher', 'add', '2', 'sip:gw2.example.com;transport=tcp', '--reload');
    assert.equal(down.code, 5);
    assert.equal(JSON.parse((await s('dispatcher', 'show', '2', '--json')).stdout).length, 1);

    assert.equal((await s('dispatcher', 'rm', '1', 'sip:192.0.2.30:5060')).code, 2);
    const rm = await s('dispatcher', 'rm', '1', 'sip:192.0.2.30:5060', '--yes');
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal(rm.stdout, 'removed sip:192.0.2.30:5060 from dispatcher set 1\n');
    assert.equal((await s('dispatcher', 'rm', '1', 'sip:192.0.2.30:5060', '--yes')).code, 3);
    assert.equal((await s('dispatcher', 'set-state', 'sleeping', '1', 'sip:192.0.2.30')).code, 2);
  });
});
