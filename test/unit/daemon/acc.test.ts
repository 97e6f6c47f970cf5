// Accounting: the rows acc and acc_cdrs get (Kamailio's columns and the extra ones), batched
// writes, and a table made by Kamailio's own scripts (no extra columns) still written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ModuleRegistry } from '../../../src/daemon/kernel/module-registry.js';
import { createAccModule, type AccApi } from '../../../src/daemon/modules/acc/acc-module.js';
import { cdrRow, type CdrRecord } from '../../../src/daemon/modules/acc/records.js';
import { toDbDatetime } from '../../../src/daemon/modules/usrloc/location-db.js';
import { createTestDb } from '../../helpers/db.js';

const T0 = Date.UTC(2026, 0, 2, 10, 0, 0);
const call: CdrRecord = {
  callId: 'c1', fromTag: 'f', toTag: 't', srcUser: 'alice', srcDomain: 'example.com', srcIp: '10.0.0.5', dstOuser: '+4930123', dstUser: '+4930123', dstDomain: '10.0.0.2',
  setupTime: T0, answerTime: T0 + 2_000, endTime: T0 + 65_500, sipCode: 200, sipReason: 'OK', endReason: 'callee-bye',
};

test('CDR row: start_time is the answer (Kamailio), duration answer → end; an unanswered call has duration 0 and start = end', () => {
  const r = cdrRow(call, true);
  assert.deepEqual(r.slice(0, 3), [toDbDatetime((T0 + 2000) / 1000), toDbDatetime(Math.floor((T0 + 65_500) / 1000)), 63.5]);
  assert.deepEqual(r.slice(3), ['c1', 'f', 't', 'alice', 'example.com', '10.0.0.5', '+4930123', '+4930123', '10.0.0.2', toDbDatetime(T0 / 1000), '200', 'OK', 'callee-bye']);
  const missed = cdrRow({ ...call, answerTime: undefined, sipCode: 486, sipReason: 'Busy Here', endReason: 'failed' }, false);
  assert.deepEqual(missed, [toDbDatetime(Math.floor((T0 + 65_500) / 1000)), toDbDatetime(Math.floor((T0 + 65_500) / 1000)), 0]);
});

test('module: events and CDRs are queued and written in one batch; a Kamailio-made table gets Kamailio\'s columns only', async () => {
  const tdb = await createTestDb('sqlite');
  const db = await tdb.open();
  try {
    const mod = createAccModule({ db });
    const reg = new ModuleRegistry();
    reg.register(mod);
    await reg.initAll({ params: new Map([['acc', { flush_interval: 60_000 }]]) });
    const api = mod.api as AccApi;
    api.event({ ...call, method: 'INVITE', sipCode: 200, sipReason: 'OK', time: T0 + 2000 });
    api.cdr(call);
    assert.deepEqual(await reg.lookup('acc.stats')!.handler(undefined), { queued: 2, written: 0, failed_writes: 0, dropped: 0 });
    await api.flush();
    assert.deepEqual(await db.query('SELECT method, callid, sip_code, src_user, dst_ouser FROM acc'), [{ method: 'INVITE', callid: 'c1', sip_code: '200', src_user: 'alice', dst_ouser: '+4930123' }]);
    assert.deepEqual(await db.query('SELECT duration, src_user, sip_code, end_reason FROM acc_cdrs'), [{ duration: 63.5, src_user: 'alice', sip_code: '200', end_reason: 'callee-bye' }]);
    // shutdown writes what is queued
    api.cdr({ ...call, callId: 'c2' });
    await reg.destroyAll();
    assert.equal((await db.query('SELECT callid FROM acc_cdrs')).length, 2);

    // Kamailio's own acc_cdrs (v2, no extra columns)
    await db.exec('DROP TABLE acc_cdrs');
    await db.exec("CREATE TABLE acc_cdrs (id INTEGER PRIMARY KEY NOT NULL, start_time TIMESTAMP WITHOUT TIME ZONE DEFAULT '2000-01-01 00:00:00' NOT NULL, end_time TIMESTAMP WITHOUT TIME ZONE DEFAULT '2000-01-01 00:00:00' NOT NULL, duration REAL DEFAULT 0 NOT NULL)");
    const mod2 = createAccModule({ db });
    const reg2 = new ModuleRegistry();
    reg2.register(mod2);
    await reg2.initAll();
    (mod2.api as AccApi).cdr(call);
    await (mod2.api as AccApi).flush();
    assert.deepEqual(await db.query('SELECT duration FROM acc_cdrs'), [{ duration: 63.5 }]);
    await reg2.destroyAll();
    // no table at all: refused at start with a pointer to db init
    await db.exec('DROP TABLE acc_cdrs');
    const reg3 = new ModuleRegistry();
    reg3.register(createAccModule({ db }));
    await assert.rejects(reg3.initAll(), /acc_cdrs is missing/);
  } finally {
    await db.close();
    await tdb.drop();
  }
});
