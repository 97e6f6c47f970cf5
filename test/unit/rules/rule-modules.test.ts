// The country, blocklist and timerule modules in process, on a real SQLite database: decisions
// per scope, unknown countries, home countries (restrict / refuse / drop), blocklist expiry with
// the kernel's clock, reload swapping tables, and a database without the tables (kamdbctl-made).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ModuleRegistry } from '../../../src/daemon/kernel/module-registry.js';
import { createCountryModule, type CountryApi } from '../../../src/daemon/modules/country/country-module.js';
import { createBlocklistModule, type BlocklistApi } from '../../../src/daemon/modules/blocklist/blocklist-module.js';
import { createTimeruleModule, type TimeruleApi } from '../../../src/daemon/modules/timerule/timerule-module.js';
import { openDatabase } from '../../../src/core/db/database.js';
import { createTestDb } from '../../helpers/db.js';

test('country: block and allow lists per scope, unknown addresses, home countries, drop', async () => {
  const tdb = await createTestDb('sqlite');
  const db = await tdb.open();
  try {
    await db.execute("INSERT INTO sipd_country_override (network, country, note) VALUES ('10.0.0.0/8', 'DE', ''), ('10.1.0.0/16', 'FR', ''), ('2001:db8::/32', 'KP', '')");
    await db.execute("INSERT INTO sipd_country (scope, username, action, country) VALUES ('register', '', 'allow', 'DE'), ('subscriber', '', 'block', 'KP'), ('home', 'alice', 'allow', 'DE')");
    const start = async (params: Record<string, unknown>) => {
      const mod = createCountryModule({ db });
      const reg = new ModuleRegistry();
      reg.register(mod);
      await reg.initAll({ params: new Map([['country', { source: 'none', ...params }]]) });
      return { api: mod.api as CountryApi, reg };
    };
    const { api, reg } = await start({});
    assert.deepEqual(api.lookup('10.1.2.3'), { ip: '10.1.2.3', country: 'FR', source: 'override' }, 'longest network wins');
    assert.deepEqual(api.check('register', '10.2.0.1'), { action: 'continue' });
    assert.deepEqual(api.check('register', '10.1.0.1'), { action: 'reply', reply: { status: 403, reason: 'Originating country not allowed' } });
    assert.deepEqual(api.check('register', '192.0.2.1'), { action: 'continue' }, 'unknown: allowed by default');
    assert.deepEqual(api.check('subscriber', '2001:db8::5').action, 'reply');
    assert.deepEqual(api.check('subscriber', '10.1.0.1'), { action: 'continue' }, 'subscriber scope has only a block list');
    assert.deepEqual(api.check('carrier', '2001:db8::5'), { action: 'continue' }, 'no carrier rules');
    assert.equal(api.home('alice', '10.2.0.1'), 'home');
    assert.equal(api.home('alice', '10.1.0.1'), 'restricted');
    assert.equal(api.home('bob', '10.1.0.1'), 'home', 'no home countries: no restriction');
    await reg.destroyAll();
    const strict = await start({ unknown: 'refuse', home_policy: 'refuse', action: 'drop' });
    assert.deepEqual(strict.api.check('register', '192.0.2.1'), { action: 'drop', why: 'country' });
    assert.deepEqual(strict.api.home('alice', '10.1.0.1'), { action: 'drop', why: 'country' });
    await db.execute("DELETE FROM sipd_country WHERE scope = 'register'");
    await strict.api.reload();
    assert.deepEqual(strict.api.check('register', '10.1.0.1'), { action: 'continue' }, 'reload swapped the rules in');
    await strict.reg.destroyAll();
  } finally {
    await db.close();
    await tdb.drop();
  }
});

test('blocklist: longest match, expiry read with the kernel clock; timerule with an injected clock', async () => {
  const tdb = await createTestDb('sqlite');
  const db = await tdb.open();
  try {
    const now = Date.parse('2026-12-07T09:00:00Z');
    await db.execute('INSERT INTO sipd_blocklist (network, reason, expires, created) VALUES (?, ?, ?, ?), (?, ?, ?, ?)', ['198.51.100.0/24', 'range', 0, 0, '203.0.113.9', 'until 10:00', now / 1000 + 3600, 0]);
    await db.execute("INSERT INTO sipd_timerule (class, grp, timerec, tz, description) VALUES ('international', '', '20240101T080000|PT10H|weekly|||MO,TU,WE,TH,FR', 'UTC', '')");
    let clock = now;
    const bl = createBlocklistModule({ db });
    const tr = createTimeruleModule({ db });
    const reg = new ModuleRegistry();
    reg.register(bl);
    reg.register(tr);
    await reg.initAll({ now: () => clock });
    const b = bl.api as BlocklistApi;
    const t = tr.api as TimeruleApi;
    assert.equal(b.blocked('198.51.100.77')?.reason, 'range');
    assert.equal(b.blocked('203.0.113.9')?.reason, 'until 10:00');
    assert.equal(b.blocked('192.0.2.1'), undefined);
    assert.equal(t.check('alice', '+4930123'), undefined, 'Monday 09:00: inside');
    clock = now + 2 * 3600_000;
    assert.equal(b.blocked('203.0.113.9'), undefined, 'expired at 10:00');
    clock = Date.parse('2026-12-06T09:00:00Z');
    assert.deepEqual(t.check('alice', '+4930123'), { status: 403, reason: 'Outside allowed hours' }, 'Sunday');
    assert.equal(t.check('alice', '030123'), undefined, 'national: no rule');
    await reg.destroyAll();
  } finally {
    await db.close();
    await tdb.drop();
  }
});

test('a database without the sipd tables (made by kamdbctl): the modules start with no rules', async () => {
  const tdb = await createTestDb('sqlite');
  try {
    const db = await openDatabase(tdb.url);
    for (const t of ['sipd_blocklist', 'sipd_country', 'sipd_country_override', 'sipd_timerule']) await db.execute(`DROP TABLE ${t}`);
    const reg = new ModuleRegistry();
    const bl = createBlocklistModule({ db });
    const co = createCountryModule({ db });
    const tr = createTimeruleModule({ db });
    reg.register(bl);
    reg.register(co);
    reg.register(tr);
    await reg.initAll();
    assert.equal((bl.api as BlocklistApi).blocked('192.0.2.1'), undefined);
    assert.deepEqual((co.api as CountryApi).check('register', '192.0.2.1'), { action: 'continue' });
    assert.equal((tr.api as TimeruleApi).check('alice', '+4930'), undefined);
    await reg.destroyAll();
    await db.close();
  } finally {
    await tdb.drop();
  }
});
