// sipctl blocklist / country / timerule through the built binary on SQLite and MariaDB: what is
// written, the refusals (usage 2, not found 3, conflict 4) with nothing half-written, import with
// bad lines reported by number and --atomic, and a proxy that cannot reload (exit 5, the change
// stands). The running-sipd side is test/daemon/security-rules.test.ts and timerule-calls.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isolatedEnv, runSipctl } from '../helpers/cli.js';
import { createTestDb, forEachEngine } from '../helpers/db.js';
import { closedPort } from '../unit/rpc/servers.js';

forEachEngine('sipctl blocklist, country, timerule (database)', (engine, track) => {
  test('blocklist: add, duplicates, bad input, import with line numbers and --atomic, rm', async () => {
    const t = track(await createTestDb(engine));
    const env = isolatedEnv({ SIPCTL_DB: t.url, SIPCTL_DB_PASSWORD: t.password, NO_COLOR: '1' });
    const s = (...a: string[]) => runSipctl(a, { env });
    const dir = mkdtempSync(join(tmpdir(), 'blocklist-'));
    try {
      assert.equal((await s('blocklist', 'add', '10.1.2.3/8', '--reason', 'test', '--no-reload')).stdout, 'blocked 10.0.0.0/8 (test)\n');
      const dup = await s('blocklist', 'add', '10.0.0.0/8', '--no-reload');
      assert.equal(dup.code, 4, dup.stderr);
      assert.match(dup.stderr, /already in the blocklist/);
      for (const bad of ['example.com', '10.0.0.0/33', '']) assert.equal((await s('blocklist', 'add', bad, '--no-reload')).code, 2, bad);
      assert.equal((await s('blocklist', 'add', '192.0.2.9', '--expires', 'yesterday', '--no-reload')).code, 2);
      writeFileSync(join(dir, 'list.txt'), '# saved list\n192.0.2.1\n\n198.51.100.0/24 ; range\n10.0.0.0/8\nnot-an-ip\n2001:db8::/32 extra words\n');
      const atomic = await s('blocklist', 'import', join(dir, 'list.txt'), '--atomic', '--no-reload');
      assert.equal(atomic.code, 2, atomic.stderr);
      assert.match(atomic.stderr, /line 6: network: "not-an-ip"/);
      const none = await s('blocklist', 'show', '--json');
      assert.equal(JSON.parse(none.stdout).length, 1, '--atomic wrote nothing');
      const imp = await s('blocklist', 'import', join(dir, 'list.txt'), '--no-reload', '--json');
      assert.equal(imp.code, 0, imp.stderr);
      const doc = JSON.parse(imp.stdout);
      assert.equal(doc.added, 3);
      assert.equal(doc.duplicates, 1);
      assert.deepEqual(doc.problems.map((p: { line: number }) => p.line), [6]);
      const shown = JSON.parse((await s('blocklist', 'show', '--json')).stdout) as Array<{ network: string }>;
      assert.deepEqual(shown.map((r) => r.network).sort(), ['10.0.0.0/8', '192.0.2.1', '198.51.100.0/24', '2001:db8::/32']);
      const rm = await s('blocklist', 'rm', '198.51.100.7/24', '--yes', '--no-reload');
      assert.equal(rm.stdout, 'unblocked 198.51.100.0/24\n');
      assert.equal((await s('blocklist', 'rm', '198.51.100.0/24', '--yes', '--no-reload')).code, 3);
      assert.equal((await s('blocklist', 'rm', '192.0.2.1', '--no-reload')).code, 2, 'no terminal and no --yes');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('country: allow/block per scope, home countries, conflicts, overrides, rm', async () => {
    const t = track(await createTestDb(engine));
    const env = isolatedEnv({ SIPCTL_DB: t.url, SIPCTL_DB_PASSWORD: t.password, NO_COLOR: '1' });
    const s = (...a: string[]) => runSipctl(a, { env });
    assert.equal((await s('country', 'allow', 'de,AT', '--for', 'register', '--no-reload')).code, 0);
    assert.equal((await s('country', 'block', 'KP', '--no-reload')).code, 0);
    const conflict = await s('country', 'block', 'DE', '--for', 'register', '--no-reload');
    assert.equal(conflict.code, 4, conflict.stderr);
    assert.equal((await s('country', 'allow', 'FR', '--user', 'alice', '--no-reload')).code, 0);
    assert.equal((await s('country', 'block', 'FR', '--user', 'alice', '--no-reload')).code, 2, 'home countries are an allow list');
    for (const bad of ['DEU', 'D1', '']) assert.equal((await s('country', 'allow', bad, '--no-reload')).code, 2, bad);
    assert.equal((await s('country', 'allow', 'DE', '--for', 'nowhere', '--no-reload')).code, 2);
    assert.equal((await s('country', 'override', 'add', '127.0.0.2', 'fr', '--no-reload')).code, 0);
    assert.equal((await s('country', 'override', 'add', '127.0.0.2/32', 'DE', '--no-reload')).code, 0, 'the same network: replaced');
    const shown = JSON.parse((await s('country', 'show', '--json')).stdout);
    assert.deepEqual(shown, {
      rules: [
        { scope: 'carrier', username: '', action: 'block', country: 'KP' },
        { scope: 'home', username: 'alice', action: 'allow', country: 'FR' },
        { scope: 'register', username: '', action: 'allow', country: 'AT' },
        { scope: 'register', username: '', action: 'allow', country: 'DE' },
        { scope: 'register', username: '', action: 'block', country: 'KP' },
        { scope: 'subscriber', username: '', action: 'block', country: 'KP' },
      ],
      overrides: [{ network: '127.0.0.2', country: 'DE', note: '' }],
    });
    assert.equal((await s('country', 'rm', 'KP', '--yes', '--no-reload')).stdout.split('\n').filter(Boolean).length, 3);
    assert.equal((await s('country', 'rm', 'KP', '--yes', '--no-reload')).code, 3);
    assert.equal((await s('country', 'override', 'rm', '127.0.0.2', '--yes', '--no-reload')).code, 0);
    assert.equal((await s('country', 'override', 'rm', '127.0.0.2', '--yes', '--no-reload')).code, 3);
  });

  test('timerule: add (validated), show, check at a given time, rm; the proxy down: exit 5, the change stands', async () => {
    const t = track(await createTestDb(engine));
    const env = isolatedEnv({ SIPCTL_DB: t.url, SIPCTL_DB_PASSWORD: t.password, NO_COLOR: '1' });
    const s = (...a: string[]) => runSipctl(a, { env });
    const add = await s('timerule', 'add', 'International', '20240101T080000|PT10H|weekly|||MO,TU,WE,TH,FR', '--tz', 'Europe/Berlin', '--no-reload', '--json');
    assert.equal(add.code, 0, add.stderr);
    const rule = JSON.parse(add.stdout).rule;
    assert.equal(rule.class, 'international');
    for (const [cls, rec, tz] of [['premium', '20240101T000000|PT1H', 'UTC'], ['international', '20240101T000000|PT1H|hourly', 'UTC'], ['international', '20240101T000000|PT1H', 'Mars/Olympus']]) {
      const r = await s('timerule', 'add', cls, rec, '--tz', tz, '--no-reload');
      assert.equal(r.code, 2, `${cls} ${rec} ${tz}: ${r.stderr}`);
      assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, 'one clear line');
    }
    assert.equal(JSON.parse((await s('timerule', 'show', '--json')).stdout).length, 1, 'nothing half-written');
    const monday = JSON.parse((await s('timerule', 'check', '+4930123', '--at', '2026-12-07T09:00:00Z', '--json')).stdout);
    assert.equal(monday.allowed, true);
    const sunday = JSON.parse((await s('timerule', 'check', '0049301234', '--at', '2026-12-06T09:00:00Z', '--json')).stdout);
    assert.deepEqual([sunday.allowed, sunday.reply], [false, '403 Outside allowed hours']);
    assert.equal(JSON.parse((await s('timerule', 'check', '030123', '--at', '2026-12-06T09:00:00Z', '--json')).stdout).allowed, true, 'national: no rule applies');
    const down = isolatedEnv({ SIPCTL_DB: t.url, SIPCTL_DB_PASSWORD: t.password, SIPCTL_RPC: `http://127.0.0.1:${await closedPort()}/RPC` });
    const r = await runSipctl(['timerule', 'rm', String(rule.id), '--yes'], { env: down });
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /the database is changed, but the proxy did not reload it/);
    assert.deepEqual(JSON.parse((await s('timerule', 'show', '--json')).stdout), []);
    assert.equal((await s('timerule', 'rm', String(rule.id), '--yes', '--no-reload')).code, 3);
  });
});
