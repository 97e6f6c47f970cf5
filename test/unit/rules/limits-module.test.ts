// The limits module in process on a real SQLite database, with the kernel's clock injected: totals
// rebuilt from acc_cdrs at start (today's calls in the day, the month's in the month), the seconds
// a call's remaining budget pays for, refusals with their reasons, the day and month turning over,
// the '*' default, and the alerts the real alerts module records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ModuleRegistry } from '../../../src/daemon/kernel/module-registry.js';
import { createLimitsModule, type LimitsApi } from '../../../src/daemon/modules/limits/limits-module.js';
import { createAlertsModule } from '../../../src/daemon/modules/alerts/alerts-module.js';
import { toDbDatetime } from '../../../src/daemon/modules/usrloc/location-db.js';
import { addRate } from '../../../src/core/rate/rates.js';
import { setLimits } from '../../../src/core/limits/limits.js';
import { createTestDb } from '../../helpers/db.js';

test('limits: totals from the CDRs, budget seconds, refusals, day and month turning over', async () => {
  const tdb = await createTestDb('sqlite');
  const db = await tdb.open();
  const reg = new ModuleRegistry();
  try {
    const noon = Date.parse('2026-12-15T12:00:00Z');
    let clock = noon;
    await addRate(db, { prefix: '+49', price: '12.00', increment: 1 }); // 0.20 a second
    await addRate(db, { prefix: '+4930', price: '0.60', increment: 60 }); // 0.60 a minute, billed per minute
    await setLimits(db, 'alice', { costPerDay: 1, costPerMonth: 30 });
    await setLimits(db, '*', { callsPerDay: 3 });
    const cdr = (user: string, dialled: string, startMs: number, seconds: number) =>
      db.execute('INSERT INTO acc_cdrs (start_time, end_time, duration, callid, src_user, dst_ouser, sip_code, end_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [toDbDatetime(startMs / 1000), toDbDatetime((startMs + seconds * 1000) / 1000), seconds, `c${startMs}`, user, dialled, '200', 'caller-bye']);
    await cdr('alice', '+4989111', noon - 86_400_000, 100); // yesterday: 20.00, the month only
    await cdr('alice', '+4989111', noon - 3_600_000, 3); // today: 0.60
    await cdr('alice', '+4989111', Date.parse('2026-11-30T12:00:00Z'), 100); // last month: nothing
    const alerts = createAlertsModule();
    const limits = createLimitsModule({ db });
    reg.register(alerts);
    reg.register(limits);
    await reg.initAll({ now: () => clock });
    const api = limits.api as LimitsApi;
    const usage = () => limits.rpc['limits.usage'].handler(['alice']) as { used: { calls: number; costDay: number; costMonth: number } };
    const recent = () => (alerts.rpc['alerts.recent'].handler([50]) as { alerts: Array<{ type: string; key: string }> }).alerts.map((a) => `${a.type} ${a.key}`);

    assert.deepEqual(usage().used, { calls: 1, minutes: 0.05, costDay: 0.6, costMonth: 20.6, activeCalls: 0 });
    assert.equal(api.admit('alice', '+4989222'), undefined, '0.60 of 1.00');
    // answered now: 0.40 left at 0.20 a second pays 2 s
    const call = { callId: 'x1', user: 'alice', dialled: '+4989222', answerTime: clock };
    assert.equal(api.answered(call), 2);
    clock += 1000;
    assert.equal(usage().used.costDay, 0.8, 'the running call counts');
    assert.ok(recent().length === 0);
    assert.equal(api.admit('alice', '+4930111'), undefined);
    assert.ok(recent().includes('limit-threshold alice|cost/day'), `80 %: ${recent().join(', ')}`);
    clock += 1000;
    api.ended({ ...call, endTime: clock });
    assert.equal(usage().used.costDay, 1);
    assert.deepEqual(api.admit('alice', '+4930111'), { status: 403, reason: 'Daily cost limit reached' });
    assert.ok(recent().includes('cost-limit alice|cost/day'));
    // the default's calls per day: alice has her own row without calls_per_day, so the '*' value applies
    assert.equal(usage().used.calls, 2);
    // the next day: the day's totals start again, the month's go on
    clock = Date.parse('2026-12-16T00:00:01Z');
    assert.equal(api.admit('alice', '+4989222'), undefined);
    assert.deepEqual(usage().used, { calls: 0, minutes: 0, costDay: 0, costMonth: 21, activeCalls: 0 });
    // per-minute increments: 61 s pay two minutes
    api.answered({ callId: 'x2', user: 'bob', dialled: '+4930123', answerTime: clock });
    api.ended({ callId: 'x2', user: 'bob', dialled: '+4930123', answerTime: clock, endTime: clock + 61_000 });
    const bob = limits.rpc['limits.usage'].handler(['bob']) as { used: { calls: number; costDay: number } };
    assert.deepEqual([bob.used.calls, bob.used.costDay], [1, 1.2], "0.60 a minute: two minutes");
    api.ended({ callId: 'x3', user: 'bob', dialled: 'carol', answerTime: clock, endTime: clock + 5000 });
    assert.equal(api.admit('bob', 'carol'), undefined);
    api.ended({ callId: 'x5', user: 'bob', dialled: 'carol', answerTime: clock, endTime: clock + 5000 });
    assert.deepEqual(api.admit('bob', 'carol'), { status: 403, reason: 'Daily call limit reached' }, "'*': 3 calls a day");
    assert.ok(recent().includes('daily-limit bob|calls/day'));
    // the month's limit lowered below what the month's CDRs hold (20.60: a reload rebuilds the totals
    // from acc_cdrs, which the call above, made without the acc module, is not in)
    await setLimits(db, 'alice', { costPerMonth: 20.5 });
    await api.reload();
    assert.deepEqual(api.admit('alice', '+4989222'), { status: 403, reason: 'Monthly cost limit reached' });
    // a new month
    clock = Date.parse('2027-01-01T00:00:00Z');
    assert.equal(api.admit('alice', '+4989222'), undefined);
    // unrated numbers cost nothing and have no budget cut-off
    assert.equal(api.answered({ callId: 'x4', user: 'alice', dialled: '+33123', answerTime: clock }), undefined);
  } finally {
    await reg.destroyAll();
    await db.close();
    await tdb.drop();
  }
});
