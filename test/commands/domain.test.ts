// sipctl domain add/rm/show through the built binary, on SQLite and MariaDB (no proxy needed),
// and --reload with the proxy down: the database change stands, the exit code says the reload
// did not happen. The running proxy's side is test/interop/issue12-kamailio.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isolatedEnv, runSipctl } from '../helpers/cli.js';
import { createTestDb, forEachEngine } from '../helpers/db.js';
import { closedPort } from '../unit/rpc/servers.js';

forEachEngine('sipctl domain', (engine, track) => {
  test('add, show, conflict, bad input, dry run, rm needs --yes, rm, rm of missing', async () => {
    const t = track(await createTestDb(engine));
    const env = isolatedEnv({ SIPCTL_DB: t.url, SIPCTL_DB_PASSWORD: t.password });
    const s = (...args: string[]) => runSipctl(args, { env });

    const add = await s('domain', 'add', 'SIP.example.com', '--did', 'ex');
    assert.equal(add.code, 0, add.stderr);
    assert.equal(add.stdout, 'added domain sip.example.com (did ex)\n');
    assert.match(add.stderr, /sipctl domain reload/);
    const json = await s('domain', 'add', '192.0.2.10', '--json');
    assert.deepEqual(JSON.parse(json.stdout).entries, [{ domain: '192.0.2.10', did: null }]);

    const show = await s('domain', 'show', '--json');
    assert.deepEqual(JSON.parse(show.stdout).map((r: { domain: string; did: string | null }) => [r.domain, r.did]), [['192.0.2.10', null], ['sip.example.com', 'ex']]);
    assert.match((await s('domain', 'show')).stdout, /^\d+\t192\.0\.2\.10\t\t\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\n\d+\tsip\.example\.com\tex\t/);

    const dup = await s('domain', 'add', 'sip.EXAMPLE.com');
    assert.equal(dup.code, 4);
    assert.match(dup.stderr, /already in the domain table/);
    const bad = await s('domain', 'add', 'sip:example.com');
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr.split('\n')[0], 'sipctl: domain: "sip:example.com" is not a hostname or an IP address (e.g. sip.example.com or 192.0.2.10; no scheme, user or port)');
    const dry = await s('domain', 'add', 'example.net', '--dry-run');
    assert.equal(dry.stdout, 'would add domain example.net\n');

    const noYes = await s('domain', 'rm', 'sip.example.com');
    assert.equal(noYes.code, 2);
    assert.match(noYes.stderr, /--yes/);
    const rm = await s('domain', 'rm', 'sip.example.com', '--yes');
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal(rm.stdout, 'removed domain sip.example.com\n');
    const missing = await s('domain', 'rm', 'sip.example.com', '--yes');
    assert.equal(missing.code, 3);
    assert.deepEqual(JSON.parse((await s('domain', 'show', '--json')).stdout).map((r: { domain: string }) => r.domain), ['192.0.2.10']);
  });

  test('--reload with the proxy down: written, then exit 5', async () => {
    const t = track(await createTestDb(engine));
    const env = isolatedEnv({ SIPCTL_DB: t.url, SIPCTL_DB_PASSWORD: t.password, SIPCTL_RPC: `http://127.0.0.1:${await closedPort()}/RPC` });
    const r = await runSipctl(['domain', 'add', 'example.org', '--reload'], { env });
    assert.equal(r.code, 5);
    assert.equal(r.stdout, 'added domain example.org\n');
    const show = await runSipctl(['domain', 'show', '--json'], { env });
    assert.deepEqual(JSON.parse(show.stdout).map((x: { domain: string }) => x.domain), ['example.org']);
  });
});
