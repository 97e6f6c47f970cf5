// The modules that refuse or end calls raise alerts through the alerts module's API: the
// active-calls limit (dialog) is one call-limit alert per user and window, however many calls
// it refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { asRequest, asResponse, authedInvite, harness, respond } from './proxy-harness.js';

const ALICE = '10.0.0.5:5070';
const BOB = '10.0.0.9:5062';

test('dialog: calls over the active-calls limit are one call-limit alert for the user', async () => {
  const h = await harness({ alerts: true, modules: { dialog: { max_calls_per_user: 1 } } });
  try {
    await h.register('bob', `sip:bob@${BOB}`);
    const r = await authedInvite(h);
    const inv = asRequest(h.to(BOB, r.since)[0]);
    h.send(respond(inv, 200, 'OK', { contact: `<sip:bob@${BOB}>`, toTag: 't-1' }), BOB);
    for (let i = 0; i < 3; i++) {
      const next = await authedInvite(h);
      assert.deepEqual(h.to(ALICE, next.since).map(asResponse).map((x) => x.status), [403]);
    }
    const { alerts } = await h.rpc<{ alerts: Array<{ type: string; key: string; details: Record<string, unknown> }> }>('alerts.recent', [10]);
    const limits = alerts.filter((a) => a.type === 'call-limit');
    assert.equal(limits.length, 1, JSON.stringify(alerts));
    assert.equal(limits[0]!.key, 'alice');
    assert.equal(limits[0]!.details.limit, 1);
  } finally {
    await h.close();
  }
});

test('dialog: reaching 80 % of the active-calls limit is one limit-threshold alert, before the limit refuses', async () => {
  const h = await harness({ alerts: true, modules: { dialog: { max_calls_per_user: 5 } } });
  try {
    await h.register('bob', `sip:bob@${BOB}`);
    for (let i = 0; i < 4; i++) {
      const r = await authedInvite(h);
      assert.equal(asRequest(h.to(BOB, r.since)[0]).method, 'INVITE', `call ${i + 1} relayed`);
    }
    const { alerts } = await h.rpc<{ alerts: Array<{ type: string; key: string; details: Record<string, unknown> }> }>('alerts.recent', [10]);
    const t = alerts.filter((a) => a.type === 'limit-threshold');
    assert.equal(t.length, 1, JSON.stringify(alerts));
    assert.equal(t[0]!.key, 'alice|calls');
    assert.equal(t[0]!.details.active, 4);
    assert.equal(alerts.filter((a) => a.type === 'call-limit').length, 0, 'not refused yet');
  } finally {
    await h.close();
  }
});
