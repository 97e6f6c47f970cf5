// The dialog module through the proxy: active calls per subscriber (profiles), per-user limits,
// ending a call over RPC (dlg.end_dlg: BYE both ways), the maximum call duration, dlg.list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SipRequest } from '../../../src/core/sip/message.js';
import { asRequest, asResponse, authedInvite, harness, respond, statuses, type Harness } from './proxy-harness.js';

const ALICE = '10.0.0.5:5070';
const BOB = '10.0.0.9:5062';

async function answeredCall(h: Harness) {
  const r = await authedInvite(h);
  const inv = asRequest(h.to(BOB, r.since)[0]);
  h.send(respond(inv, 200, 'OK', { contact: `<sip:bob@${BOB}>`, toTag: `t-${r.call.fromTag}` }), BOB);
  return { ...r, inv, toTag: `t-${r.call.fromTag}` };
}

test('active calls per subscriber: the next call is refused with 403 No more active calls until one ends; limits per user over RPC', async () => {
  const h = await harness({ modules: { dialog: { max_calls_per_user: 1 } } });
  try {
    await h.register('bob', `sip:bob@${BOB}`);
    const first = await answeredCall(h);
    assert.equal(await h.rpc('dlg.profile_get_size', ['caller', 'alice']), 1);
    const second = await authedInvite(h);
    assert.deepEqual(h.to(ALICE, second.since).map(asResponse).map((r) => [r.status, r.reason]), [[403, 'No more active calls']]);
    assert.equal(h.to(BOB, second.since).length, 0);
    // raise alice's limit at run time
    assert.deepEqual(await h.rpc('dialog.setUserLimit', ['alice', 2]), { user: 'alice', limit: 2, active: 1 });
    const third = await authedInvite(h);
    assert.equal(asRequest(h.to(BOB, third.since)[0]).method, 'INVITE');
    assert.equal(await h.rpc('dlg.profile_get_size', ['caller', 'alice']), 2);
    const limits = await h.rpc<{ default: number; users: Array<{ user: string; limit: number; source: string; active: number }> }>('dialog.userLimits');
    assert.equal(limits.default, 1);
    assert.deepEqual(limits.users.find((u) => u.user === 'alice'), { user: 'alice', limit: 2, source: 'rpc', active: 2 });
    // 0 = no calls at all
    await h.rpc('dialog.setUserLimit', ['alice', 0]);
    const fourth = await authedInvite(h);
    assert.deepEqual(statuses(h.to(ALICE, fourth.since)), [403], 'refused before relaying: one stateless reply');
    await h.rpc('dialog.setUserLimit', ['alice', 'default']);
    // the first call ends: the profile count goes down
    const m = h.wire.length;
    h.send([
      `BYE sip:bob@${BOB} SIP/2.0`,
      'Via: SIP/2.0/UDP 10.0.0.5:5070;branch=z9hG4bK-bye-limit',
      'Route: <sip:127.0.0.1:5060;lr>',
      `From: <sip:alice@127.0.0.1>;tag=${first.call.fromTag}`,
      `To: <sip:bob@127.0.0.1>;tag=${first.toTag}`,
      `Call-ID: ${first.call.callId}`,
      'CSeq: 9 BYE',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'));
    await h.settle();
    assert.equal(asRequest(h.to(BOB, m)[0]).method, 'BYE');
    assert.equal(await h.rpc('dlg.profile_get_size', ['caller', 'alice']), 1);
    await assert.rejects(async () => h.rpc('dlg.profile_get_size', ['callee']), /Profile not found/);
  } finally {
    await h.close();
  }
});

test('dlg.end_dlg: BYE to both sides (tags and From/To as each side expects, CSeq above the last), the call gone, CDR ended by rpc', async () => {
  const h = await harness();
  try {
    await h.register('bob', `sip:bob@${BOB}`);
    const c = await answeredCall(h);
    const [d] = await h.rpc<Array<{ h_entry: number; h_id: number; caller: { contact: string; cseq: string }; callee: { contact: string } }>>('dlg.list');
    assert.equal(d.caller.contact, 'sip:alice@10.0.0.5:5070');
    assert.equal(d.callee.contact, `sip:bob@${BOB}`);
    const m = h.wire.length;
    assert.equal(await h.rpc('dlg.end_dlg', [d.h_entry, d.h_id]), null);
    await h.settle();
    const toBob = h.to(BOB, m).map(asRequest);
    const toAlice = h.to(ALICE, m).map(asRequest);
    assert.deepEqual([toBob.map((r) => r.method), toAlice.map((r) => r.method)], [['BYE'], ['BYE']]);
    const [b, a] = [toBob[0], toAlice[0]];
    assert.equal(b.rawUri, `sip:bob@${BOB}`);
    assert.equal(b.from?.tag, c.call.fromTag);
    assert.equal(b.to?.tag, c.toTag);
    assert.equal(b.cseq?.seq, 3, 'one above the caller\'s INVITE CSeq (2)');
    assert.equal(a.rawUri, 'sip:alice@10.0.0.5:5070');
    assert.equal(a.from?.tag, c.toTag);
    assert.equal(a.to?.tag, c.call.fromTag);
    h.send(respond(b as SipRequest, 200, 'OK'), BOB);
    h.send(respond(a as SipRequest, 200, 'OK'), ALICE);
    assert.deepEqual(await h.rpc('dlg.list'), []);
    await assert.rejects(async () => h.rpc('dlg.end_dlg', [d.h_entry, d.h_id]), /Dialog not found/);
    await (h.registry.api<{ flush(): Promise<void> }>('acc'))!.flush();
    assert.deepEqual(await h.db.query('SELECT end_reason FROM acc_cdrs'), [{ end_reason: 'rpc' }]);
  } finally {
    await h.close();
  }
});

test('maximum call duration (default_timeout): BYE to both sides when it passes, CDR ended by max-duration', async () => {
  const h = await harness({ modules: { dialog: { default_timeout: 1 } } });
  try {
    await h.register('bob', `sip:bob@${BOB}`);
    await answeredCall(h);
    const m = h.wire.length;
    const [d] = await h.rpc<Array<{ lifetime: number; timeout: number; start_ts: number }>>('dlg.list');
    assert.equal(d.lifetime, 1);
    assert.equal(d.timeout, d.start_ts + 1);
    await new Promise((r) => setTimeout(r, 1300));
    assert.deepEqual(h.to(BOB, m).map((s) => asRequest(s).method), ['BYE']);
    assert.deepEqual(h.to(ALICE, m).map((s) => asRequest(s).method), ['BYE']);
    assert.deepEqual(await h.rpc('dlg.list'), []);
    await (h.registry.api<{ flush(): Promise<void> }>('acc'))!.flush();
    const [cdr] = await h.db.query<{ end_reason: string; duration: number }>('SELECT end_reason, duration FROM acc_cdrs');
    assert.equal(cdr.end_reason, 'max-duration');
    assert.ok(cdr.duration >= 1, `not cut before the 1 s lifetime: ${cdr.duration}`);
    assert.equal(((await h.rpc('dialog.stats')) as { ended_by_timeout: number }).ended_by_timeout, 1);
  } finally {
    await h.close();
  }
});
