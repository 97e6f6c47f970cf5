// sipctl address add/rm/show through the built binary, on SQLite and MariaDB (no proxy needed),
// and --reload when the proxy is down: the database change stands, the exit code says the
// reload did not happen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isolatedEnv, runSipctl } from '../helpers/cli.js';
import { createTestDb, forEachEngine } from '../helpers/db.js';
import { closedPort } from '../unit/rpc/servers.js';


forEachEngine('sipctl address', (engine, track) => {
  test('add (kamctl order), show, conflict, dry run, rm, rm of missing', async () => {
    const t = track(await createTestDb(engine));
    const env = isolatedEnv({ SIPCTL_DB: t.url, SIPCTL_DB_PASSWORD: t.password });
    const s = (...args: string[]) => runSipctl(args, { env });

    const add = await s('address', 'add', '200', '10.0.1.102', '32', '5060', 'Carrier IP address');
    assert.equal(add.code, 0, add.stderr);
    assert.equal(add.stdout, 'added 10.0.1.102/32 port 5060 to group 200 (Carrier IP address)\n');
    assert.match(add.stderr, /address reload/);
    const v6 = await s('address', 'add', '7', '2001:DB8::1', '--json');
    assert.deepEqual(JSON.parse(v6.stdout).entries, [{ grp: 7, ip: '2001:db8::1', mask: 128, port: 0, tag: null }]);

    const show = await s('address', 'show');
    assert.equal(show.stdout, '2\t7\t2001:db8::1\t128\t0\t\n1\t200\t10.0.1.102\t32\t5060\tCarrier IP address\n');
    assert.equal((await s('address', 'show', '--group', '7', '--json')).stdout.includes('2001:db8::1'), true);

    const dup = await s('address', 'add', '7', '2001:db8:0::1');
    assert.equal(dup.code, 4);
    const dry = await s('address', 'add', '8', '192.0.2.1', '--dry-run');
    assert.equal(dry.stdout, 'would add 192.0.2.1/32 port any to group 8\n');
    assert.equal((await s('address', 'show', '--group', '8')).stdout, '');

    const noYes = await s('address', 'rm', '7', '2001:db8::1');
    assert.equal(noYes.code, 2);
    assert.match(noYes.stderr, /--yes/);
    const rm = await s('address', 'rm', '7', '2001:db8::1', '--yes');
    assert.equal(rm.code, 0, rm.stderr);
    const missing = await s('address', 'rm', '7', '2001:db8::1');
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /group 7 has no entry for 2001:db8::1/);
    assert.equal((await s('address', 'add', '7', '10.0.0.0/8')).code, 2);
  });

  test('--reload with the proxy down: written, then exit 5 naming the proxy', async () => {
    const t = track(await createTestDb(engine));
    const url = `http://127.0.0.1:${await closedPort()}/RPC`;
    const env = isolatedEnv({ SIPCTL_DB: t.url, SIPCTL_DB_PASSWORD: t.password, SIPCTL_RPC: url });
    const r = await runSipctl(['address', 'add', '1', '198.51.100.0', '24', '--reload'], { env });
    assert.equal(r.code, 5);
    assert.match(r.stderr, /cannot reach http:\/\/127\.0\.0\.1:\d+\/RPC/);
    const show = await runSipctl(['address', 'show', '--json'], { env });
    assert.equal(JSON.parse(show.stdout).length, 1);
  });
});
