// Rating: longest prefix, whole billing increments rounded up, money in micro-units, the seconds a
// budget pays for; and the limits module's totals against a moved clock (no real time passes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { callCostMicro, checkRate, dialledDigits, fromMicro, importRates, normalisePrefix, RateTable, secondsForBudget } from '../../../src/core/rate/rates.js';
import { effectiveLimits, parseLimit } from '../../../src/core/limits/limits.js';

const rate = (prefix: string, price: number, increment = 60) => checkRate({ prefix, price, increment });

test('prefixes and numbers: +, 00 and bare digits are the same; names are not numbers', () => {
  assert.equal(normalisePrefix('+49'), '49');
  assert.equal(normalisePrefix('0049'), '49');
  assert.equal(normalisePrefix(' 44 90 '), '4490');
  assert.throws(() => normalisePrefix('+49x'), /not a number prefix/);
  assert.throws(() => normalisePrefix(''), /not a number prefix/);
  assert.equal(dialledDigits('+4930123'), '4930123');
  assert.equal(dialledDigits('004930123'), '4930123');
  assert.equal(dialledDigits('bob'), undefined);
});

test('the longest matching prefix wins; no match is not rated', () => {
  const t = new RateTable([rate('4', 0.5), rate('49', 0.02), rate('4990', 1.99), rate('1', 0.01)]);
  assert.equal(t.lookup('+4930123456')?.prefix, '49');
  assert.equal(t.lookup('+49900123')?.prefix, '4990');
  assert.equal(t.lookup('00499001')?.prefix, '4990');
  assert.equal(t.lookup('+4420')?.prefix, '4');
  assert.equal(t.lookup('+33123'), undefined);
  assert.equal(t.lookup('alice'), undefined);
  assert.equal(t.size, 4);
});

test('cost: whole increments rounded up, exact in micro-units', () => {
  const perMinute = rate('49', 0.1, 60);
  assert.equal(callCostMicro(perMinute, 0), 0);
  assert.equal(callCostMicro(perMinute, 1), 100_000);
  assert.equal(callCostMicro(perMinute, 60), 100_000);
  assert.equal(callCostMicro(perMinute, 60.001), 200_000);
  assert.equal(callCostMicro(perMinute, 61), 200_000);
  const perSecond = rate('49', 0.1, 1);
  assert.equal(callCostMicro(perSecond, 61), Math.round(100_000 / 60) * 61);
  assert.equal(callCostMicro(perSecond, 0.2), Math.round(100_000 / 60));
  const sixSeconds = rate('1', 0.06, 6);
  assert.equal(fromMicro(callCostMicro(sixSeconds, 7)), 0.012);
  assert.equal(callCostMicro(undefined, 600), 0);
  // 1 000 calls of 0.10 add up to 100.00 exactly
  let sum = 0;
  for (let i = 0; i < 1000; i++) sum += callCostMicro(perMinute, 30);
  assert.equal(fromMicro(sum), 100);
});

test('the seconds a budget pays for: the end of the last whole increment', () => {
  const r = rate('49', 12, 1); // 0.20 a second
  assert.equal(secondsForBudget(r, 1_000_000), 5);
  assert.equal(secondsForBudget(r, 999_999), 4);
  assert.equal(secondsForBudget(r, 0), 0);
  assert.equal(secondsForBudget(r, -5), 0);
  assert.equal(secondsForBudget(rate('49', 0.1, 60), 250_000), 120);
  assert.equal(secondsForBudget(undefined, 1_000_000), undefined);
  assert.equal(secondsForBudget(rate('49', 0), 1_000_000), undefined);
});

test('bad rates: one clear message each', () => {
  assert.throws(() => checkRate({ prefix: '49', price: 'abc' }), /not a price per minute/);
  assert.throws(() => checkRate({ prefix: '49', price: -1 }), /not a price per minute/);
  assert.throws(() => checkRate({ prefix: '49', price: 1, currency: 'EURO' }), /not a currency code/);
  assert.throws(() => checkRate({ prefix: '49', price: 1, increment: 0 }), /not a billing increment/);
  assert.throws(() => checkRate({ prefix: '49', price: 1, increment: '1.5' }), /not a billing increment/);
});

test('limits: the subscriber row wins, the * row fills in, -1 is no limit', () => {
  const own = { callsPerDay: 5, minutesPerDay: null, costPerDay: -1, costPerMonth: null };
  const dflt = { callsPerDay: 100, minutesPerDay: 60, costPerDay: 10, costPerMonth: null };
  assert.deepEqual(effectiveLimits(own, dflt), { callsPerDay: 5, minutesPerDay: 60, costPerDay: null, costPerMonth: null });
  assert.deepEqual(effectiveLimits(undefined, undefined), { callsPerDay: null, minutesPerDay: null, costPerDay: null, costPerMonth: null });
  assert.equal(parseLimit('cost-per-day', '1.00', true), 1);
  assert.equal(parseLimit('cost-per-day', 'none', true), -1);
  assert.equal(parseLimit('cost-per-day', 'default', true), null);
  assert.throws(() => parseLimit('calls-per-day', '1.5', false), /not a limit/);
  assert.throws(() => parseLimit('cost-per-day', '-3', true), /not a limit/);
});

test('CSV import: header, comments, bad lines by number, --atomic writes nothing', async () => {
  const { openDatabase } = await import('../../../src/core/db/database.js');
  const { initSchema } = await import('../../../src/core/db/schema/schema.js');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'rate-import-'));
  const db = await openDatabase(`sqlite://${join(dir, 'db.sqlite')}`, { create: true });
  try {
    await initSchema(db);
    const csv = 'prefix,price,currency,increment,description\n+49,0.02,EUR,60,Germany\n# comment\n\n+4990;1.99;;1;premium\n+33,abc\n';
    await assert.rejects(importRates(db, csv, { atomic: true }), /1 bad line, nothing imported \(--atomic\): line 6/);
    assert.equal((await db.query('SELECT prefix FROM sipd_rate')).length, 0);
    const r = await importRates(db, csv);
    assert.equal(r.added, 2);
    assert.deepEqual(r.problems.map((p) => p.line), [6]);
    const again = await importRates(db, '49,0.03\n');
    assert.deepEqual([again.added, again.replaced], [0, 1]);
    const rows = await db.query<{ prefix: string; price: number; billing_increment: number }>('SELECT prefix, price, billing_increment FROM sipd_rate ORDER BY prefix');
    assert.deepEqual(rows.map((x) => [x.prefix, Number(x.price), Number(x.billing_increment)]), [['49', 0.03, 60], ['4990', 1.99, 1]]);
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
