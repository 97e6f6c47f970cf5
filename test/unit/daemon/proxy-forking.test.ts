// Parallel forking (RFC 3261 §16.6–16.7, §16.10): a call to a user registered from several
// devices goes to every contact at once; the response context relays provisionals and every 2xx,
// cancels the other branches on the first 2xx or a 6xx, and otherwise sends the best final
// response once every branch has one. One dialog and one CDR per call, whatever the branches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SipResponse } from '../../../src/core/sip/message.js';
import { asRequest, asResponse, authedInvite, credentials, harness, newCall, request, respond, statuses, type Harness } from './proxy-harness.js';

const ALICE = '10.0.0.5:5070';
const DESK = '10.0.0.9:5062';
const SOFT = '10.0.0.10:5064';

async function cdrs(h: Harness): Promise<Array<{ sip_code: string; end_reason: string }>> {
  await h.registry.api<{ flush(): Promise<void> }>('acc')!.flush();
  return h.db.query<{ sip_code: string; end_reason: string }>('SELECT sip_code, end_reason FROM acc_cdrs');
}

/** bob registered from his desk phone and his softphone; alice's authenticated INVITE to bob, and the INVITE each device got */
async function forked(h: Harness, users = ['bob', 'bob']) {
  await h.register('bob', `sip:${users[0]}@${DESK}`);
  await h.register('bob', `sip:${users[1]}@${SOFT}`);
  const r = await authedInvite(h);
  const desk = h.to(DESK, r.since).map(asRequest);
  const soft = h.to(SOFT, r.since).map(asRequest);
  assert.deepEqual(desk.map((m) => m.method), ['INVITE'], 'the desk phone got the INVITE');
  assert.deepEqual(soft.map((m) => m.method), ['INVITE'], 'the softphone got the INVITE');
  return { ...r, desk: desk[0]!, soft: soft[0]! };
}

test('forked to every contact at once; provisionals of both relayed; the first 200 relayed, the other branch CANCELled (its 487 absorbed); one dialog, one CDR', async () => {
  const h = await harness();
  try {
    // the devices' contacts with user parts of their own: the CDR names the one that answered
    const { call, since, desk, soft } = await forked(h, ['bob-desk', 'bob-soft']);
    assert.equal(desk.rawUri, `sip:bob-desk@${DESK}`);
    assert.equal(soft.rawUri, `sip:bob-soft@${SOFT}`);
    assert.notEqual(desk.via[0]!.branch, soft.via[0]!.branch, 'one client transaction (branch) each');
    assert.deepEqual(statuses(h.to(ALICE, since)), [100], 'one 100 Trying, nothing else yet');

    h.send(respond(desk, 180, 'Ringing', { toTag: 'desk' }), DESK);
    h.send(respond(soft, 180, 'Ringing', { toTag: 'soft' }), SOFT);
    assert.deepEqual(statuses(h.to(ALICE, since)), [100, 180, 180]);

    const m = h.wire.length;
    h.send(respond(soft, 200, 'OK', { toTag: 'soft', contact: `<sip:bob-soft@${SOFT}>` }), SOFT);
    assert.deepEqual(statuses(h.to(ALICE, m)), [200]);
    assert.equal(asResponse(h.to(ALICE, m)[0]!).to?.tag, 'soft');
    const cancel = h.to(DESK, m).map(asRequest);
    assert.deepEqual(cancel.map((r) => r.method), ['CANCEL'], 'the ringing desk phone is cancelled');
    assert.equal(cancel[0]!.via[0]!.branch, desk.via[0]!.branch);
    h.send(respond(cancel[0]!, 200, 'OK'), DESK);
    h.send(respond(desk, 487, 'Request Terminated', { toTag: 'desk' }), DESK);
    assert.deepEqual(statuses(h.to(ALICE, m)), [200], 'the 487 goes no further');
    assert.deepEqual(h.to(DESK, m).map((s) => asRequest(s).method), ['CANCEL', 'ACK'], 'sipd ACKs the 487 itself');

    const dlgs = await h.rpc<Array<{ state: number; callee: { tag: string } }>>('dlg.list');
    assert.equal(dlgs.length, 1, 'one call');
    assert.equal(dlgs[0]!.callee.tag, 'soft', 'made by the answered branch');
    assert.equal(await h.rpc('dlg.profile_get_size', ['caller', 'alice']), 1, 'counted once');

    // ACK and BYE reach the device that answered
    const m2 = h.wire.length;
    h.send(request(call, { method: 'ACK', uri: `sip:bob-soft@${SOFT}`, toTag: 'soft', branch: 'z9hG4bK-ack', route: ['<sip:127.0.0.1:5060;lr>'] }));
    call.cseq = 3;
    h.send(request(call, { method: 'BYE', uri: `sip:bob-soft@${SOFT}`, toTag: 'soft', branch: 'z9hG4bK-bye', route: ['<sip:127.0.0.1:5060;lr>'] }));
    await h.settle();
    const toSoft = h.to(SOFT, m2).map(asRequest);
    assert.deepEqual(toSoft.map((r) => r.method), ['ACK', 'BYE']);
    assert.equal(h.to(DESK, m2).length, 0);
    h.send(respond(toSoft[1]!, 200, 'OK'), SOFT);
    assert.deepEqual(await h.rpc('dlg.list'), []);
    assert.equal(await h.rpc('dlg.profile_get_size', ['caller', 'alice']), 0);
    assert.deepEqual(await cdrs(h), [{ sip_code: '200', end_reason: 'caller-bye' }]);
    const [row] = await h.db.query<{ dst_ouser: string; dst_user: string }>('SELECT dst_ouser, dst_user FROM acc_cdrs');
    assert.deepEqual(row, { dst_ouser: 'bob', dst_user: 'bob-soft' }, 'dialled bob, answered at the softphone');
  } finally {
    await h.close();
  }
});

test('no branch answers: nothing upstream until every branch has its final, then the best one (4xx before 5xx; a 503 never as such); one CDR', async () => {
  const h = await harness();
  try {
    const { since, desk, soft } = await forked(h);
    h.send(respond(desk, 503, 'Service Unavailable', { toTag: 'desk' }), DESK);
    assert.deepEqual(statuses(h.to(ALICE, since)), [100], 'one branch still pending: nothing yet');
    h.send(respond(soft, 486, 'Busy Here', { toTag: 'soft' }), SOFT);
    assert.deepEqual(statuses(h.to(ALICE, since)), [100, 486]);
    assert.deepEqual(await h.rpc('dlg.list'), []);
    assert.deepEqual(await cdrs(h), [{ sip_code: '486', end_reason: 'failed' }]);
  } finally {
    await h.close();
  }
});

test('a 6xx cancels the other branches and is the answer; challenges of several branches reach the caller together', async () => {
  const h = await harness();
  try {
    const { since, desk, soft } = await forked(h);
    h.send(respond(desk, 180, 'Ringing', { toTag: 'desk' }), DESK);
    const m = h.wire.length;
    h.send(respond(soft, 603, 'Decline', { toTag: 'soft' }), SOFT);
    assert.deepEqual(h.to(DESK, m).map((s) => asRequest(s).method), ['CANCEL']);
    h.send(respond(desk, 487, 'Request Terminated', { toTag: 'desk' }), DESK);
    assert.deepEqual(statuses(h.to(ALICE, since)), [100, 180, 603]);
  } finally {
    await h.close();
  }
  const h2 = await harness();
  try {
    const { since, desk, soft } = await forked(h2);
    h2.send(respond(desk, 401, 'Unauthorized', { toTag: 'desk', headers: ['WWW-Authenticate: Digest realm="desk", nonce="1"'] }), DESK);
    h2.send(respond(soft, 407, 'Proxy Authentication Required', { toTag: 'soft', headers: ['Proxy-Authenticate: Digest realm="soft", nonce="2"'] }), SOFT);
    const out = h2.to(ALICE, since).map(asResponse);
    assert.deepEqual(out.map((r) => r.status), [100, 401]);
    const auth = out[1]!.headers.filter((f) => f.key === 'www-authenticate' || f.key === 'proxy-authenticate').map((f) => f.value);
    assert.deepEqual(auth, ['Digest realm="desk", nonce="1"', 'Digest realm="soft", nonce="2"']);
  } finally {
    await h2.close();
  }
});

test('a contact that never answers (moved without un-registering) does not hold the call: the other device answers; alone it times out as 408, behind a real answer', async () => {
  const h = await harness();
  try {
    const { soft } = await forked(h);
    // the desk phone's contact is dead: no response at all
    const m = h.wire.length;
    h.send(respond(soft, 200, 'OK', { toTag: 'soft', contact: `<sip:bob@${SOFT}>` }), SOFT);
    assert.deepEqual(statuses(h.to(ALICE, m)), [200]);
    assert.equal(h.to(DESK, m).filter((s) => s.msg.type === 'request' && asRequest(s).method === 'CANCEL').length, 0, 'no CANCEL before a provisional (§9.1)');
    assert.equal((await h.rpc<Array<{ state: number }>>('dlg.list')).length, 1);
  } finally {
    await h.close();
  }
  const h2 = await harness();
  try {
    const { since, soft } = await forked(h2);
    h2.send(respond(soft, 486, 'Busy Here', { toTag: 'soft' }), SOFT);
    assert.deepEqual(statuses(h2.to(ALICE, since)), [100], 'waits for the silent branch');
    h2.timers.advance(33_000); // Timer B of the desk phone's branch
    const up = statuses(h2.to(ALICE, since));
    assert.deepEqual(up.slice(0, 2), [100, 486], 'the real 486, not the 408 sipd stands in for');
    assert.ok(up.slice(2).every((s) => s === 486), `only the 486 (Timer G resends it until the ACK): ${up.join(' ')}`);
    assert.deepEqual(await cdrs(h2), [{ sip_code: '486', end_reason: 'failed' }]);
  } finally {
    await h2.close();
  }
});

test('the caller CANCELs while both ring: every branch CANCELled, their 487 → one 487 upstream, one CDR (cancelled)', async () => {
  const h = await harness();
  try {
    const { call, since, uri, desk, soft } = await forked(h);
    h.send(respond(desk, 180, 'Ringing', { toTag: 'desk' }), DESK);
    h.send(respond(soft, 180, 'Ringing', { toTag: 'soft' }), SOFT);
    const m = h.wire.length;
    h.send(request(call, { uri, method: 'CANCEL' }));
    await h.settle();
    assert.deepEqual(statuses(h.to(ALICE, m)), [200]);
    const cd = h.to(DESK, m).map(asRequest);
    const cs = h.to(SOFT, m).map(asRequest);
    assert.deepEqual([cd.map((r) => r.method), cs.map((r) => r.method)], [['CANCEL'], ['CANCEL']]);
    h.send(respond(desk, 487, 'Request Terminated', { toTag: 'desk' }), DESK);
    assert.deepEqual(statuses(h.to(ALICE, m)), [200], 'waits for the other branch');
    h.send(respond(soft, 487, 'Request Terminated', { toTag: 'soft' }), SOFT);
    assert.deepEqual(statuses(h.to(ALICE, since)), [100, 180, 180, 200, 487], 'the 200 answers the CANCEL');
    assert.deepEqual(await cdrs(h), [{ sip_code: '487', end_reason: 'cancelled' }]);
  } finally {
    await h.close();
  }
});

test('both devices answer: both 200s go upstream (§16.7 item 5); the second one\'s ACK and BYE reach that device and do not end the call', async () => {
  const h = await harness();
  try {
    const { call, since, desk, soft } = await forked(h);
    h.send(respond(desk, 200, 'OK', { toTag: 'desk', contact: `<sip:bob@${DESK}>` }), DESK);
    h.send(respond(soft, 200, 'OK', { toTag: 'soft', contact: `<sip:bob@${SOFT}>` }), SOFT);
    assert.deepEqual(statuses(h.to(ALICE, since)), [100, 200, 200]);
    const m = h.wire.length;
    // the caller keeps the first, ACKs and BYEs the second (RFC 3261 §13.2.2.4)
    h.send(request(call, { method: 'ACK', uri: `sip:bob@${SOFT}`, toTag: 'soft', branch: 'z9hG4bK-ack2', route: ['<sip:127.0.0.1:5060;lr>'] }));
    call.cseq = 3;
    h.send(request(call, { method: 'BYE', uri: `sip:bob@${SOFT}`, toTag: 'soft', branch: 'z9hG4bK-bye2', route: ['<sip:127.0.0.1:5060;lr>'] }));
    await h.settle();
    const toSoft = h.to(SOFT, m).map(asRequest);
    assert.deepEqual(toSoft.map((r) => r.method), ['ACK', 'BYE']);
    assert.equal(h.to(DESK, m).length, 0);
    h.send(respond(toSoft[1]!, 200, 'OK'), SOFT);
    const dlgs = await h.rpc<Array<{ callee: { tag: string } }>>('dlg.list');
    assert.equal(dlgs.length, 1, 'the call (with the desk phone) goes on');
    assert.equal(dlgs[0]!.callee.tag, 'desk');
  } finally {
    await h.close();
  }
});

test('both devices answer, the second behind NAT: its ACK and BYE go where its 200 came from, not to the private address in its Contact', async () => {
  const h = await harness();
  try {
    const { call, desk, soft } = await forked(h);
    const PRIVATE = '192.168.1.20:5064';
    h.send(respond(desk, 200, 'OK', { toTag: 'desk', contact: `<sip:bob@${DESK}>` }), DESK);
    // the softphone's 200 comes from its NAT's public address (SOFT), its Contact names its LAN address
    h.send(respond(soft, 200, 'OK', { toTag: 'soft', contact: `<sip:bob@${PRIVATE}>` }), SOFT);
    const m = h.wire.length;
    h.send(request(call, { method: 'ACK', uri: `sip:bob@${PRIVATE}`, toTag: 'soft', branch: 'z9hG4bK-ack2', route: ['<sip:127.0.0.1:5060;lr>'] }));
    call.cseq = 3;
    h.send(request(call, { method: 'BYE', uri: `sip:bob@${PRIVATE}`, toTag: 'soft', branch: 'z9hG4bK-bye2', route: ['<sip:127.0.0.1:5060;lr>'] }));
    await h.settle();
    assert.deepEqual(h.to(SOFT, m).map((s) => asRequest(s).method), ['ACK', 'BYE'], 'through the NAT binding its 200 came from');
    assert.equal(h.to(PRIVATE, m).length, 0, 'nothing to the private address');
    assert.equal(h.to(DESK, m).length, 0, 'nothing to the device that has the call');
    const dlgs = await h.rpc<Array<{ callee: { tag: string } }>>('dlg.list');
    assert.equal(dlgs.length, 1, 'the call (with the desk phone) goes on');
  } finally {
    await h.close();
  }
});

test('max_branches caps the contacts called', async () => {
  const h = await harness({ modules: { proxy: { max_branches: 2 } } });
  try {
    await h.register('bob', `sip:bob@${DESK}`);
    await h.register('bob', `sip:bob@${SOFT}`);
    await h.register('bob', 'sip:bob@10.0.0.11:5066');
    const { since } = await authedInvite(h);
    const invites = h.wire.slice(since).filter((s) => s.msg.type === 'request' && asRequest(s).method === 'INVITE');
    assert.equal(invites.length, 2);
  } finally {
    await h.close();
  }
});

test('a MESSAGE to a user with two devices goes to both; the 200 of one is the answer (once), whatever the other says', async () => {
  const h = await harness();
  try {
    await h.register('bob', `sip:bob@${DESK}`);
    await h.register('bob', `sip:bob@${SOFT}`);
    const uri = 'sip:bob@127.0.0.1';
    const call = newCall();
    const start = h.wire.length;
    h.send(request(call, { method: 'MESSAGE', uri, body: 'hi' }));
    await h.settle();
    const ch = asResponse(h.to(ALICE, start)[0]!);
    assert.equal(ch.status, 407);
    call.cseq = 2;
    call.branch = `${call.branch}-2`;
    const since = h.wire.length;
    h.send(request(call, { method: 'MESSAGE', uri, body: 'hi', headers: [credentials(ch as SipResponse, 'alice', 'MESSAGE', uri)] }));
    await h.settle();
    const desk = h.to(DESK, since).map(asRequest);
    const soft = h.to(SOFT, since).map(asRequest);
    assert.deepEqual([desk.map((r) => r.method), soft.map((r) => r.method)], [['MESSAGE'], ['MESSAGE']]);
    h.send(respond(desk[0]!, 480, 'Temporarily Unavailable', { toTag: 'desk' }), DESK);
    assert.deepEqual(statuses(h.to(ALICE, since)), [], 'waits for the other device');
    h.send(respond(soft[0]!, 200, 'OK', { toTag: 'soft' }), SOFT);
    assert.deepEqual(statuses(h.to(ALICE, since)), [200]);
    assert.deepEqual(await h.rpc('dlg.list'), [], 'no dialog for a MESSAGE');
  } finally {
    await h.close();
  }
});
