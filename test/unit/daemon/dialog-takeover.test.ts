// The state a call's owner writes into its cluster record so another node can take the call over
// (src/daemon/modules/dialog/takeover.ts), and the CDR's end_reason of a taken-over call.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Dialog, DLG_CONFIRMED } from '../../../src/daemon/modules/dialog/dialog.js';
import { dialogState, parseDialogState } from '../../../src/daemon/modules/dialog/takeover.js';
import { cdrRow, endReasonText, CDR_BASE, CDR_EXTRA } from '../../../src/daemon/modules/acc/records.js';

const parties = { callId: 'c1@x', fromTag: 'ft', toTag: '', srcUser: 'bob', srcDomain: 'sip.test', srcIp: '10.0.0.9', dstOuser: 'alice', dstUser: 'alice', dstDomain: '10.0.0.5' };

function answered(): Dialog {
  const d = new Dialog(7, 1, 'c1@x', 'sip:bob@sip.test', 'sip:alice@sip.test', 'bob', { ...parties }, {
    tag: 'ft', contact: 'sip:bob@10.0.0.9:5062', cseq: 2, routeSet: ['<sip:edge.example;lr>'], socket: { transport: 'udp', ip: '127.0.0.1', port: 5060 }, reach: { transport: 'udp', ip: '10.0.0.9', port: 5062 }, header: '<sip:bob@sip.test>;tag=ft',
  }, 3600, 1_800_000_000_000);
  Object.assign(d.callee, { tag: 'tt', contact: 'sip:alice@10.0.0.5:5070;transport=tcp', cseq: 0, routeSet: [], reach: { transport: 'tcp', ip: '10.0.0.5', port: 40123 }, header: '<sip:alice@sip.test>;tag=tt' });
  d.state = DLG_CONFIRMED;
  d.startTs = 1_800_000_003_000;
  d.sipCode = 200;
  d.sipReason = 'OK';
  d.parties.toTag = 'tt';
  return d;
}

test('the state survives JSON (as Redis keeps it): legs, route sets, CSeq, times, CDR fields; a TCP leg\'s source port is not carried (another node cannot use it)', () => {
  const back = parseDialogState(JSON.parse(JSON.stringify(dialogState(answered()))));
  assert.ok(back !== undefined);
  assert.deepEqual(back.caller, { tag: 'ft', contact: 'sip:bob@10.0.0.9:5062', cseq: 2, routeSet: ['<sip:edge.example;lr>'], reach: { transport: 'udp', ip: '10.0.0.9', port: 5062 }, header: '<sip:bob@sip.test>;tag=ft' });
  assert.deepEqual(back.callee, { tag: 'tt', contact: 'sip:alice@10.0.0.5:5070;transport=tcp', cseq: 0, routeSet: [], header: '<sip:alice@sip.test>;tag=tt' });
  assert.equal(back.startTs, 1_800_000_003_000);
  assert.equal(back.initTs, 1_800_000_000_000);
  assert.equal(back.lifetime, 3600);
  assert.equal(back.profileUser, 'bob');
  assert.deepEqual(back.parties, { ...parties, toTag: 'tt' });
});

test('a record that passed through Redis\' cjson (an empty list written as {}) still parses; IPv6 reach keeps its brackets apart', () => {
  const st = dialogState(answered()) as unknown as Record<string, Record<string, unknown>>;
  st.callee.routeSet = {};
  st.caller.reach = 'udp:[2001:db8::9]:5062';
  const back = parseDialogState(st);
  assert.deepEqual(back?.callee.routeSet, []);
  assert.deepEqual(back?.caller.reach, { transport: 'udp', ip: '2001:db8::9', port: 5062 });
});

test('unusable state is refused, not guessed: another version, a leg without a tag, a leg with neither contact nor address', () => {
  const good = () => JSON.parse(JSON.stringify(dialogState(answered()))) as Record<string, Record<string, unknown>>;
  assert.equal(parseDialogState(undefined), undefined);
  assert.equal(parseDialogState({ ...good(), v: 2 }), undefined);
  const noTag = good();
  noTag.caller.tag = '';
  assert.equal(parseDialogState(noTag), undefined);
  const unreachable = good();
  unreachable.callee.contact = '';
  assert.equal(parseDialogState(unreachable), undefined);
});

test('end_reason of a taken-over call: the reason and ;taken-over (within the 32-character column); owner-lost alone', () => {
  assert.equal(endReasonText({ endReason: 'callee-bye', takenOver: true }), 'callee-bye;taken-over');
  assert.equal(endReasonText({ endReason: 'max-duration', takenOver: true }), 'max-duration;taken-over');
  assert.ok(endReasonText({ endReason: 'max-duration', takenOver: true }).length <= 32);
  assert.equal(endReasonText({ endReason: 'owner-lost', takenOver: true }), 'owner-lost');
  assert.equal(endReasonText({ endReason: 'caller-bye' }), 'caller-bye');
  const row = cdrRow({ ...parties, toTag: 'tt', setupTime: 0, answerTime: 1000, endTime: 5000, sipCode: 200, sipReason: 'OK', endReason: 'rpc', takenOver: true }, true);
  assert.equal(row[[...CDR_BASE, ...CDR_EXTRA].indexOf('end_reason')], 'rpc;taken-over');
});
