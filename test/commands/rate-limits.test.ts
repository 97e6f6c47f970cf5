// sipctl rate / limits through the built binary on SQLite and MariaDB: what is written (prices as
// given, DECIMAL on MariaDB), the refusals (usage 2, not found 3) with nothing half-written, CSV
// import with bad lines reported by number and --atomic, limits that keep the values not given.
// The running-sipd side is test/daemon/limits-calls.test.ts and test/unit/rules/limits-module.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isolatedEnv, runSipctl } from '../helpers/cli.js';
import { createTestDb, forEachEngine } from '../helpers/db.js';

forEachEngine('sipctl rate and limits (database)', (engine, track) => {
  test('rate: add, replace, bad input, import with line numbers and --atomic, rm', async () => {
    const t = track(await createTestDb(engine));
    const env = isolatedEnv({ SIPCTL_DB: t.url, SIPCTL_DB_PASSWORD: t.password, NO_COLOR: '1' });
    const s = (...a: string[]) => runSipctl(a, { env });
    const dir = mkdtempSync(join(tmpdir(), 'rate-'));
    try {
      assert.equal((await s('rate', 'add', '+49', '0.02', '--no-reload')).stdout, 'added +49: 0.02 EUR/min, billed per 60 s\n');
      assert.equal((await s('rate', 'add', '0049', '0.025', '--increment', '1', '--no-reload')).stdout, 'replaced +49: 0.025 EUR/min, billed per 1 s\n');
      for (const [args, what] of [[['+49x', '1'], /not a number prefix/], [['+49', 'abc'], /not a price per minute/], [['+49', '-1'], /not a price per minute/], [['+49', '1', '--currency', 'EURO'], /not a currency code/], [['+49', '1', '--increment', '0'], /not a billing increment/]] as const) {
        const r = await s('rate', 'add', ...args, '--no-reload');
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, what);
        assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
      }
      writeFileSync(join(dir, 'rates.csv'), 'prefix,price,currency,increment,description\n+44,0.05,GBP,60,UK\n\n# comment\n+4490;1.99;;1;premium\n+33,abc\n');
      const atomic = await s('rate', 'import', join(dir, 'rates.csv'), '--atomic', '--no-reload');
      assert.equal(atomic.code, 2, atomic.stderr);
      assert.match(atomic.stderr, /line 6: .*not a price per minute/);
      assert.equal(JSON.parse((await s('rate', 'show', '--json')).stdout).length, 1, '--atomic wrote nothing');
      const imp = await s('rate', 'import', join(dir, 'rates.csv'), '--no-reload', '--json');
      assert.equal(imp.code, 0, imp.stderr);
      const doc = JSON.parse(imp.stdout);
      assert.deepEqual([doc.added, doc.replaced, doc.problems.map((p: { line: number }) => p.line)], [2, 0, [6]]);
      const shown = JSON.parse((await s('rate', 'show', '--json')).stdout);
      assert.deepEqual(shown, [
        { prefix: '44', price: 0.05, currency: 'GBP', increment: 60, description: 'UK' },
        { prefix: '4490', price: 1.99, currency: 'EUR', increment: 1, description: 'premium' },
        { prefix: '49', price: 0.025, currency: 'EUR', increment: 1, description: '' },
      ]);
      assert.equal((await s('rate', 'rm', '+4490', '--no-reload')).code, 2, 'no terminal and no --yes');
      assert.equal((await s('rate', 'rm', '+4490', '--yes', '--no-reload')).stdout, 'removed the rate of +4490\n');
      assert.equal((await s('rate', 'rm', '+4490', '--yes', '--no-reload')).code, 3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('limits: set keeps the values not given, none and default, bad input', async () => {
    const t = track(await createTestDb(engine));
    const env = isolatedEnv({ SIPCTL_DB: t.url, SIPCTL_DB_PASSWORD: t.password, NO_COLOR: '1' });
    const s = (...a: string[]) => runSipctl(a, { env });
    assert.equal((await s('limits', 'set', 'alice', '--cost-per-day', '1.00', '--no-reload')).stdout, 'set alice: calls/day default, minutes/day default, cost/day 1, cost/month default\n');
    const r = await s('limits', 'set', 'alice', '--calls-per-day', '20', '--cost-per-month', 'none', '--no-reload', '--json');
    assert.deepEqual(JSON.parse(r.stdout).limits, { user: 'alice', callsPerDay: 20, minutesPerDay: null, costPerDay: 1, costPerMonth: -1 });
    assert.equal((await s('limits', 'set', '*', '--minutes-per-day', '600', '--no-reload')).code, 0);
    for (const args of [['alice'], ['alice', '--calls-per-day', '1.5'], ['alice', '--cost-per-day', '-1.00'], ['al ice', '--calls-per-day', '1'], ['alice@example.com', '--calls-per-day', '1']]) {
      const bad = await s('limits', 'set', ...args, '--no-reload');
      assert.equal(bad.code, 2, `${args.join(' ')}: ${bad.stderr}`);
    }
    const again = await s('limits', 'set', 'alice', '--calls-per-day', 'default', '--no-reload', '--json');
    assert.deepEqual(JSON.parse(again.stdout).limits, { user: 'alice', callsPerDay: null, minutesPerDay: null, costPerDay: 1, costPerMonth: -1 });
  });
});
