// sipd as a transaction-stateful proxy, in one process with the real modules: relaying with Via
// and Record-Route, retransmissions absorbed, CANCEL, non-2xx ACK, Timer B/C, who may call what
// (carrier, authenticated subscriber, guest; not an open relay), in-dialog matching, loops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SipRequest } from '../../../src/core/sip/message.js';
import { parseMessage } from '../../../src/core/sip/parser.js';
import { loopHash, proxyBranch } from '../../../src/daemon/transaction/branch.js';
import { asRequest, asResponse, authedInvite, harness, newCall, request, respond, statuses } from './proxy-harness.js';

const ALICE = '10.0.0.5:5070';
const BOB = '10.0.0.9:5062';

test('a call between two registered subscribers: 407, then INVITE relayed with Via and Record-Route, 180/200 back, ACK and BYE through the dialog', async () => {
  const h = await harness();
  try {
    await h.register('bob', `sip:bob@${BOB}`);
    // the first INVITE is challenged statelessly: no 100, no transaction
    const call0 = newCall();
    h.send(request(call0));
    await h.settle();
    assert.deepEqual(statuses(h.to(ALICE)), [407]);
    assert.equal(h.to(BOB).length, 0);

    const { call, since } = await authedInvite(h);
    assert.deepEqual(statuses(h.to(ALICE, since)), [100], '100 Trying at once');
    const out = h.to(BOB, since);
    assert.equal(out.length, 1);
    const inv = asRequest(out[0]);
    assert.equal(inv.method, 'INVITE');
    assert.equal(inv.rawUri, `sip:bob@${BOB}`, 'Request-URI = the registered contact');
    assert.equal(inv.via.length, 2);
    assert.equal(inv.via[0].host, '127.0.0.1');
    assert.equal(inv.via[0].port, 5060);
    assert.match(inv.via[0].branch!, /^z9hG4bK[0-9a-f]{16}\./);
    assert.equal(inv.via[1].branch, call.branch);
    assert.deepEqual(inv.headers.filter((f) => f.key === 'record-route').map((f) => f.value), ['<sip:127.0.0.1:5060;lr>']);
    assert.equal(inv.maxForwards, 69);
    assert.equal(inv.proxyAuthorization.length, 0, 'our credentials are not passed on');

    // 180 and 200 go back with our Via removed and the caller's Via as it was (received/rport)
    h.send(respond(inv, 180, 'Ringing', { contact: `<sip:bob@${BOB}>` }), BOB);
    h.send(respond(inv, 200, 'OK', { contact: `<sip:bob@${BOB}>` }), BOB);
    const back = h.to(ALICE, since).map(asResponse);
    assert.deepEqual(back.map((r) => r.status), [100, 180, 200]);
    const ok = back[2];
    assert.equal(ok.via.length, 1);
    assert.equal(ok.via[0].branch, call.branch);
    assert.equal(ok.via[0].received, '10.0.0.5');
    assert.equal(ok.via[0].rport, 5070);
    assert.deepEqual(ok.headers.filter((f) => f.key === 'record-route').map((f) => f.value), ['<sip:127.0.0.1:5060;lr>']);
    assert.equal(ok.to?.tag, 'callee1');

    const dlgs = await h.rpc<Array<{ state: number; 'call-id': string; caller: { tag: string }; callee: { tag: string }; profiles: unknown[] }>>('dlg.list');
    assert.equal(dlgs.length, 1);
    assert.equal(dlgs[0]['call-id'], call.callId);
    assert.equal(dlgs[0].state, 3, 'confirmed, waiting for the ACK');
    assert.deepEqual(dlgs[0].profiles, [{ caller: 'alice' }]);

    // ACK (new branch, Route to us): forwarded statelessly to bob
    const mark = h.wire.length;
    h.send(request(call, { method: 'ACK', uri: `sip:bob@${BOB}`, toTag: 'callee1', branch: 'z9hG4bK-ack', route: ['<sip:127.0.0.1:5060;lr>'] }));
    await h.settle();
    const ack = h.to(BOB, mark).map(asRequest);
    assert.deepEqual(ack.map((r) => r.method), ['ACK']);
    assert.equal(ack[0].headers.filter((f) => f.key === 'route').length, 0, 'our Route entry taken off');
    assert.equal((await h.rpc<Array<{ state: number }>>('dlg.list'))[0].state, 4);

    // BYE from alice: relayed, 200 back, dialog gone
    call.cseq = 3;
    const m2 = h.wire.length;
    h.send(request(call, { method: 'BYE', uri: `sip:bob@${BOB}`, toTag: 'callee1', branch: 'z9hG4bK-bye', route: ['<sip:127.0.0.1:5060;lr>'] }));
    await h.settle();
    const bye = asRequest(h.to(BOB, m2)[0]);
    assert.equal(bye.method, 'BYE');
    h.send(respond(bye, 200, 'OK'), BOB);
    assert.deepEqual(statuses(h.to(ALICE, m2)), [200]);
    assert.deepEqual(await h.rpc('dlg.list'), []);

    // the CDR: caller, callee, answered, ended by the caller
    await (h.registry.api<{ flush(): Promise<void> }>('acc'))!.flush();
    const [cdr] = await h.db.query<Record<string, unknown>>('SELECT * FROM acc_cdrs');
    assert.equal(cdr.callid, call.callId);
    assert.equal(cdr.src_user, 'alice');
    assert.equal(cdr.src_ip, '10.0.0.5');
    assert.equal(cdr.dst_ouser, 'bob');
    assert.equal(cdr.sip_code, '200');
    assert.equal(cdr.end_reason, 'caller-bye');
    const acc = await h.db.query<{ method: string; sip_code: string }>('SELECT method, sip_code FROM acc ORDER BY id');
    assert.deepEqual(acc.map((r) => [r.method, r.sip_code]), [['INVITE', '200'], ['BYE', '200']]);
  } finally {
    await h.close();
  }
});

test('retransmissions: a retransmitted INVITE is absorbed (last provisional resent), a retransmitted 200 passes (Accepted)', async () => {
  const h = await harness();
  try {
    await h.register('bob', `sip:bob@${BOB}`);
    const { call, since, uri } = await authedInvite(h);
    const inv = asRequest(h.to(BOB, since)[0]);
    h.send(respond(inv, 180, 'Ringing'), BOB);
    const m = h.wire.length;
    h.send(request(call, { uri, headers: ['X-Retransmission: yes'] }));
    await h.settle();
    assert.deepEqual(statuses(h.to(ALICE, m)), [180], 'the last provisional, sent again');
    assert.equal(h.to(BOB, m).length, 0, 'not relayed again');
    h.send(respond(inv, 200, 'OK', { contact: `<sip:bob@${BOB}>` }), BOB);
    h.send(respond(inv, 200, 'OK', { contact: `<sip:bob@${BOB}>` }), BOB);
    assert.deepEqual(statuses(h.to(ALICE, m)), [180, 200, 200]);
    // and sipd retransmits nothing itself over time on the caller side for a 2xx
    h.timers.advance(10_000);
    assert.deepEqual(statuses(h.to(ALICE, m)), [180, 200, 200]);
  } finally {
    await h.close();
  }
});

test('callee busy: 486 ACKed by sipd to the callee, relayed upstream and retransmitted until the caller ACKs; that ACK goes no further', async () => {
  const h = await harness();
  try {
    await h.register('bob', `sip:bob@${BOB}`);
    const { call, since, uri } = await authedInvite(h);
    const inv = asRequest(h.to(BOB, since)[0]);
    const m = h.wire.length;
    h.send(respond(inv, 486, 'Busy Here'), BOB);
    const toBob = h.to(BOB, m).map(asRequest);
    assert.deepEqual(toBob.map((r) => r.method), ['ACK']);
    assert.equal(toBob[0].via[0].branch, inv.via[0].branch, 'hop-by-hop ACK in the INVITE transaction');
    assert.deepEqual(statuses(h.to(ALICE, m)), [486]);
    h.timers.advance(1600);
    assert.deepEqual(statuses(h.to(ALICE, m)), [486, 486, 486], 'Timer G until the ACK');
    const m2 = h.wire.length;
    h.send(request(call, { uri, method: 'ACK', toTag: 'callee1' }));
    await h.settle();
    h.timers.advance(10_000);
    assert.equal(h.wire.length, m2, 'absorbed: nothing to bob, no more 486');
    assert.deepEqual(await h.rpc('dlg.list'), []);
    await (h.registry.api<{ flush(): Promise<void> }>('acc'))!.flush();
    const [cdr] = await h.db.query<Record<string, unknown>>('SELECT sip_code, sip_reason, end_reason, duration FROM acc_cdrs');
    assert.deepEqual(cdr, { sip_code: '486', sip_reason: 'Busy Here', end_reason: 'failed', duration: 0 });
  } finally {
    await h.close();
  }
});

test('CANCEL: answered 200, sent to the branch with the INVITE\'s branch after the first provisional; the 487 is relayed; unknown or foreign CANCEL → 481', async () => {
  const h = await harness();
  try {
    await h.register('bob', `sip:bob@${BOB}`);
    const { call, since, uri } = await authedInvite(h);
    const inv = asRequest(h.to(BOB, since)[0]);
    // CANCEL before any provisional: 200 and 487 at once (the branch counts as 487, Kamailio's
    // cancel_b_method 0), but nothing downstream yet (§9.1)
    const m = h.wire.length;
    h.send(request(call, { uri, method: 'CANCEL' }));
    await h.settle();
    assert.deepEqual(statuses(h.to(ALICE, m)), [200, 487]);
    assert.equal(h.to(BOB, m).length, 0);
    // nor later: the INVITE is not retransmitted any more (Timer A stopped, cancel_b_method 0)
    h.timers.advance(4000);
    assert.equal(h.to(BOB, m).length, 0, 'no INVITE retransmission after the CANCEL');
    // (alice, who does not ACK here, got the 487 again meanwhile: Timer G)
    const m1 = h.wire.length;
    // the branch's first provisional brings the CANCEL; nothing more goes upstream
    h.send(respond(inv, 180, 'Ringing'), BOB);
    const cancel = h.to(BOB, m).map(asRequest);
    assert.deepEqual(cancel.map((r) => r.method), ['CANCEL']);
    assert.equal(cancel[0].via[0].branch, inv.via[0].branch);
    assert.equal(cancel[0].rawUri, inv.rawUri);
    h.send(respond(cancel[0], 200, 'OK'), BOB);
    h.send(respond(inv, 487, 'Request Terminated'), BOB);
    assert.deepEqual(statuses(h.to(ALICE, m1)), []);
    assert.deepEqual(h.to(BOB, m).map((s) => asRequest(s).method), ['CANCEL', 'ACK']);
    await (h.registry.api<{ flush(): Promise<void> }>('acc'))!.flush();
    assert.deepEqual(await h.db.query('SELECT sip_code, end_reason FROM acc_cdrs'), [{ sip_code: '487', end_reason: 'cancelled' }]);

    // CANCEL for nothing, and a CANCEL of alice's call from another address
    const other = newCall();
    const m2 = h.wire.length;
    h.send(request(other, { method: 'CANCEL' }));
    await h.settle();
    assert.deepEqual(statuses(h.to(ALICE, m2)), [481]);
    const { call: c2, uri: u2 } = await authedInvite(h);
    const m3 = h.wire.length;
    h.send(request(c2, { uri: u2, method: 'CANCEL', via: `SIP/2.0/UDP 10.0.0.5:5070;branch=${c2.branch};rport` }), '10.6.6.6:5070');
    await h.settle();
    assert.deepEqual(statuses(h.to('10.6.6.6:5070', m3)), [481], 'only the INVITE\'s source may cancel it');
  } finally {
    await h.close();
  }
});

test('Timer C: ringing without an answer past fr_inv_timer → CANCEL downstream and 408 upstream; no response at all → Timer B → 408', async () => {
  const h = await harness({ modules: { proxy: { fr_inv_timer: 5000 } } });
  try {
    await h.register('bob', `sip:bob@${BOB}`);
    const { since } = await authedInvite(h);
    const inv = asRequest(h.to(BOB, since)[0]);
    h.send(respond(inv, 180, 'Ringing'), BOB);
    h.timers.advance(4000);
    h.send(respond(inv, 180, 'Ringing'), BOB); // a provisional restarts Timer C
    h.timers.advance(4000);
    assert.ok(!statuses(h.to(ALICE, since)).includes(408));
    h.timers.advance(1000);
    assert.deepEqual(statuses(h.to(ALICE, since)), [100, 180, 180, 408]);
    assert.deepEqual(h.to(BOB, since).map((s) => asRequest(s).method), ['INVITE', 'CANCEL']);
    h.send(respond(inv, 487, 'Request Terminated'), BOB);
    assert.deepEqual(statuses(h.to(ALICE, since)), [100, 180, 180, 408], 'the late 487 is ACKed, not relayed');

    // nobody answers at all (retransmitted by Timer A, then Timer B)
    await h.register('carol', 'sip:carol@10.0.0.77:5060');
    const { since: s2, call: c2 } = await authedInvite(h, { uri: 'sip:carol@127.0.0.1' });
    h.timers.advance(32_000);
    assert.equal(h.to('10.0.0.77:5060', s2).length, 7, 'INVITE + 6 retransmissions');
    assert.deepEqual(statuses(h.to(ALICE, s2).filter((x) => x.msg.callId === c2.callId)), [100, 408]);
  } finally {
    await h.close();
  }
});

test('carrier (address group 200): no digest auth, reaches a registered user; an unregistered one → 404 User not Registered', async () => {
  const h = await harness();
  try {
    await h.register('bob', `sip:bob@${BOB}`);
    const CARRIER = '127.0.0.2:5060';
    const c = newCall();
    h.send(request(c, { from: '<sip:+4930123456@127.0.0.1>', via: `SIP/2.0/UDP 127.0.0.2:5060;branch=${c.branch}`, headers: ['P-Asserted-Identity: <sip:+4930123456@carrier.example>'] }), CARRIER);
    await h.settle();
    assert.deepEqual(statuses(h.to(CARRIER)), [100]);
    const inv = asRequest(h.to(BOB)[0]);
    assert.equal(inv.method, 'INVITE');
    assert.ok(inv.headers.some((f) => f.key === 'p-asserted-identity'), 'a trusted source keeps its asserted identity');
    const u = newCall();
    h.send(request(u, { uri: 'sip:dave@127.0.0.1', from: '<sip:+4930123456@127.0.0.1>', via: `SIP/2.0/UDP 127.0.0.2:5060;branch=${u.branch}` }), CARRIER);
    await h.settle();
    const r = h.to(CARRIER).map(asResponse).filter((x) => x.callId === u.callId);
    assert.deepEqual(r.map((x) => [x.status, x.reason]), [[404, 'User not Registered']]);
    // the same INVITE from an address outside the group: From is ours, so it must authenticate
    const s = newCall();
    const m = h.wire.length;
    h.send(request(s, { from: '<sip:+4930123456@127.0.0.1>', via: `SIP/2.0/UDP 127.0.0.3:5060;branch=${s.branch}` }), '127.0.0.3:5060');
    await h.settle();
    assert.deepEqual(statuses(h.to('127.0.0.3:5060', m)), [407]);
    assert.equal(h.to(BOB, m).length, 0);
  } finally {
    await h.close();
  }
});

test('not an open relay: a guest (only with allow_guest_calls) reaches registered local users only; another domain, an unregistered user or the carrier → 403 Not relaying', async () => {
  const h = await harness({ modules: { proxy: { carrier_host: '127.0.0.2', carrier_port: 5070, allow_guest_calls: true } } });
  try {
    await h.register('bob', `sip:bob@${BOB}`);
    const GUEST = '203.0.113.7:5060';
    const via = (c: { branch: string }) => `SIP/2.0/UDP 203.0.113.7:5060;branch=${c.branch}`;
    const ok = newCall();
    h.send(request(ok, { from: '<sip:eve@elsewhere.example>', via: via(ok) }), GUEST);
    await h.settle();
    assert.equal(asRequest(h.to(BOB)[0]).method, 'INVITE', 'a guest may call a registered user');
    for (const uri of ['sip:+4420123@other.example', 'sip:+4420123@127.0.0.1', 'sip:dave@127.0.0.1']) {
      const c = newCall();
      const m = h.wire.length;
      h.send(request(c, { uri, from: '<sip:eve@elsewhere.example>', via: via(c) }), GUEST);
      await h.settle();
      const r = h.to(GUEST, m).map(asResponse).filter((x) => x.status >= 200);
      assert.deepEqual(r.map((x) => [x.status, x.reason]), [[403, 'Not relaying']], uri);
      assert.equal(h.to('127.0.0.2:5070', m).length, 0, 'nothing reaches the carrier');
    }
    // by default (allow_guest_calls off, issue 11: calls only from registered users and carriers),
    // not even local users
    const h2 = await harness({ modules: { proxy: {} } });
    try {
      await h2.register('bob', `sip:bob@${BOB}`);
      const c = newCall();
      h2.send(request(c, { from: '<sip:eve@elsewhere.example>', via: via(c) }), GUEST);
      await h2.settle();
      assert.deepEqual(statuses(h2.to(GUEST)), [403]);
    } finally {
      await h2.close();
    }
  } finally {
    await h.close();
  }
});

test('a subscriber calling an unregistered number goes to the carrier trunk, with P-Asserted-Identity; without a trunk → 404', async () => {
  const h = await harness({ modules: { proxy: { carrier_host: '127.0.0.2', carrier_port: 5070 } } });
  try {
    const { since } = await authedInvite(h, { uri: 'sip:+4930999888@127.0.0.1', headers: ['P-Asserted-Identity: <sip:ceo@bank.example>'] });
    const out = h.to('127.0.0.2:5070', since).map(asRequest);
    assert.equal(out.length, 1);
    assert.equal(out[0].rawUri, 'sip:+4930999888@127.0.0.2:5070');
    assert.deepEqual(out[0].headers.filter((f) => f.key === 'p-asserted-identity').map((f) => f.value), ['<sip:alice@127.0.0.1>'], 'the forged one removed, ours asserted');
    // a name that is not registered is not a number: 404, nothing to the trunk
    const { since: s1 } = await authedInvite(h, { uri: 'sip:carol@127.0.0.1' });
    assert.deepEqual(h.to(ALICE, s1).map(asResponse).map((r) => [r.status, r.reason]), [[404, 'User not Registered']]);
    // another domain: numbers go to the trunk, names nowhere
    const { since: s3 } = await authedInvite(h, { uri: 'sip:0049301234@other.example' });
    assert.equal(asRequest(h.to('127.0.0.2:5070', s3)[0]).rawUri, 'sip:0049301234@127.0.0.2:5070');
    const { since: s4 } = await authedInvite(h, { uri: 'sip:bob@other.example' });
    assert.deepEqual(statuses(h.to(ALICE, s4)), [403], 'a refusal is one stateless reply: no 100 Trying before it');
    const h2 = await harness();
    try {
      const { since: s2 } = await authedInvite(h2, { uri: 'sip:+4930999888@127.0.0.1' });
      assert.deepEqual(h2.to(ALICE, s2).map(asResponse).map((r) => [r.status, r.reason]), [[404, 'Not Found']]);
    } finally {
      await h2.close();
    }
  } finally {
    await h.close();
  }
});

test('in-dialog requests must match a dialog sipd knows: a forged BYE gets 404 and reaches nobody; a stray ACK is absorbed', async () => {
  const h = await harness();
  try {
    await h.register('bob', `sip:bob@${BOB}`);
    const { call, since } = await authedInvite(h);
    const inv = asRequest(h.to(BOB, since)[0]);
    h.send(respond(inv, 200, 'OK', { contact: `<sip:bob@${BOB}>` }), BOB);
    const m = h.wire.length;
    // wrong tags, wrong Call-ID, or no dialog at all
    for (const forged of [
      request({ ...call, fromTag: 'nope' }, { method: 'BYE', uri: `sip:bob@${BOB}`, toTag: 'callee1', cseq: 9 }),
      request(call, { method: 'BYE', uri: `sip:bob@${BOB}`, toTag: 'wrong', cseq: 9 }),
      request(newCall(), { method: 'BYE', uri: `sip:bob@${BOB}`, toTag: 'callee1', route: ['<sip:127.0.0.1:5060;lr>'] }),
      request(newCall(), { method: 'INVITE', uri: `sip:bob@${BOB}`, toTag: 'x' }),
    ]) {
      h.send(forged, '198.51.100.66:5060');
      await h.settle();
    }
    assert.deepEqual(h.to('198.51.100.66:5060', m).map(asResponse).map((r) => [r.status, r.reason]), Array(4).fill([404, 'Not here']));
    h.send(request(newCall(), { method: 'ACK', toTag: 'x' }), '198.51.100.66:5060');
    await h.settle();
    assert.equal(h.to(BOB, m).length, 0, 'nothing reached bob');
    assert.equal((await h.rpc<unknown[]>('dlg.list')).length, 1, 'the real call is untouched');
  } finally {
    await h.close();
  }
});

test('identity headers from untrusted sources are removed in every spelling: case, whitespace, folding, duplicates, all three names', async () => {
  const h = await harness({ modules: { proxy: { allow_guest_calls: true } } }); // guest callers (off by default)
  try {
    await h.register('bob', `sip:bob@${BOB}`);
    const c = newCall();
    const raw = request(c, { from: '<sip:eve@elsewhere.example>', via: `SIP/2.0/UDP 203.0.113.7:5060;branch=${c.branch}` }).replace(
      'Max-Forwards: 70\r\n',
      [
        'Max-Forwards: 70',
        'P-Asserted-Identity: <sip:ceo@bank.example>',
        'p-asserted-identity: <sip:ceo@bank.example>',
        'P-ASSERTED-IDENTITY\t : <tel:+15551234>',
        'P-Asserted-Identity:',
        '  <sip:folded@bank.example>',
        'P-Preferred-Identity: <sip:ceo@bank.example>',
        'Remote-Party-ID: "CEO" <sip:ceo@bank.example>;party=calling;screen=yes',
        'remote-party-id: <sip:x@y>',
        'X-Keep: me',
        '',
      ].join('\r\n'),
    );
    h.send(raw, '203.0.113.7:5060');
    await h.settle();
    const inv = asRequest(h.to(BOB)[0]);
    const names = inv.headers.map((f) => f.key);
    for (const k of ['p-asserted-identity', 'p-preferred-identity', 'remote-party-id']) assert.ok(!names.includes(k), k);
    assert.ok(!/asserted|preferred|party-id/i.test(h.to(BOB)[0].text));
    assert.ok(names.includes('x-keep'));
    assert.equal((await h.rpc<{ stripped: number }>('identity.stats')).stripped, 7);
  } finally {
    await h.close();
  }
});

test('loops: a request carrying our Via with its own loop hash → 482; a spiral (another Request-URI) passes; Max-Forwards 0 → 483', async () => {
  const h = await harness({ modules: { proxy: { allow_guest_calls: true } } }); // guest callers (off by default)
  try {
    await h.register('bob', `sip:bob@${BOB}`);
    const GUEST = '203.0.113.7:5060';
    const build = (c: ReturnType<typeof newCall>, uri: string, ourVia?: string) =>
      request(c, { uri, from: '<sip:eve@x.example>', via: `SIP/2.0/UDP 203.0.113.7:5060;branch=${c.branch}` }).replace(/(Via: [^\r]*\r\n)/, `$1${ourVia ? `Via: ${ourVia}\r\n` : ''}`);
    // the request as it would come back: the same Request-URI, tags, Call-ID, CSeq
    const c = newCall();
    const plain = build(c, 'sip:bob@127.0.0.1');
    const hash = loopHash(parseMessage(plain) as SipRequest);
    h.send(build(c, 'sip:bob@127.0.0.1', `SIP/2.0/UDP 127.0.0.1:5060;branch=${proxyBranch(hash)}`), GUEST);
    await h.settle();
    assert.deepEqual(h.to(GUEST).map(asResponse).map((r) => [r.status, r.reason]), [[482, 'Loop Detected']]);
    assert.equal(h.to(BOB).length, 0);
    // a spiral: our Via, but the request has changed since (another loop hash)
    const s2 = newCall();
    h.send(build(s2, 'sip:bob@127.0.0.1', `SIP/2.0/UDP 127.0.0.1:5060;branch=${proxyBranch('0123456789abcdef')}`), GUEST);
    await h.settle();
    assert.equal(h.to(BOB).length, 1, 'relayed');
    assert.equal(asRequest(h.to(BOB)[0]).via.length, 3);
    // Max-Forwards exhausted
    const m = h.wire.length;
    h.send(build(newCall(), 'sip:bob@127.0.0.1').replace('Max-Forwards: 70', 'Max-Forwards: 0'), GUEST);
    await h.settle();
    assert.deepEqual(h.to(GUEST, m).map(asResponse).map((r) => [r.status, r.reason]), [[483, 'Too Many Hops']]);
  } finally {
    await h.close();
  }
});

test('responses that match no transaction are dropped, not forwarded', async () => {
  const h = await harness();
  try {
    const fake = [
      'SIP/2.0 200 OK',
      'Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK0123456789abcdef.x',
      'Via: SIP/2.0/UDP 10.0.0.5:5070;branch=z9hG4bK-victim',
      'From: <sip:a@b>;tag=1',
      'To: <sip:c@d>;tag=2',
      'Call-ID: forged',
      'CSeq: 1 INVITE',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    h.send(fake, '198.51.100.66:5060');
    await h.settle();
    assert.equal(h.wire.length, 0);
    assert.equal((await h.rpc<{ rpl_dropped: number }>('proxy.stats')).rpl_dropped, 1);
  } finally {
    await h.close();
  }
});

test('pike counts a callee\'s requests, not its responses: answering many relayed calls is no flood', async () => {
  const h = await harness({ pike: true });
  try {
    await h.register('bob', `sip:bob@${BOB}`);
    const invites: SipRequest[] = [];
    // 4 calls: 12 requests from alice, under pike's 16 per 2 s
    for (let i = 0; i < 4; i++) {
      const { since } = await authedInvite(h);
      invites.push(asRequest(h.to(BOB, since)[0]));
    }
    // 20 responses from bob within the sampling unit (pike allows 16 messages per 2 s)
    for (const inv of invites) for (const st of [180, 183, 200, 200, 200]) h.send(respond(inv, st, 'x', { contact: `<sip:bob@${BOB}>` }), BOB);
    assert.equal(statuses(h.to(ALICE)).filter((x) => x === 200).length, 12, 'every 200 relayed, retransmissions too');
    assert.equal(await h.rpc('htable.get', ['ipban', '10.0.0.9']).catch(() => 'not banned'), 'not banned');
    // requests from bob are counted as before
    for (let i = 0; i < 20; i++) h.send(request(newCall(), { method: 'OPTIONS', uri: 'sip:alice@127.0.0.1', from: '<sip:x@elsewhere.example>', via: 'SIP/2.0/UDP 10.0.0.9:5062;branch=z9hG4bK-opt' + i }), BOB);
    await h.settle();
    assert.ok(await h.rpc('htable.get', ['ipban', '10.0.0.9']), 'banned for its requests');
  } finally {
    await h.close();
  }
});

test('a phone on TCP is called over the connection it registered on; UDP in, TCP out gets a double Record-Route', async () => {
  const h = await harness();
  try {
    const BOB_TCP = '10.0.0.9:40000';
    await h.register('bob', 'sip:bob@10.0.0.9:5060;transport=tcp', 'sip:10.0.0.9:40000;transport=tcp', 'tcp:127.0.0.1:5060');
    // its keepalive (or REGISTER) is what sipd knows the connection by
    h.send(request(newCall(), { method: 'OPTIONS', uri: 'sip:127.0.0.1', from: '<sip:bob@127.0.0.1>', via: 'SIP/2.0/TCP 10.0.0.9:5060;branch=z9hG4bK-ka' }), BOB_TCP, 'tcp');
    await h.settle();
    const { since } = await authedInvite(h);
    const out = h.to(BOB_TCP, since).map(asRequest);
    assert.deepEqual(out.map((r) => r.method), ['INVITE']);
    assert.equal(out[0].via[0].transport, 'TCP');
    assert.deepEqual(out[0].headers.filter((f) => f.key === 'record-route').map((f) => f.value), ['<sip:127.0.0.1:5060;transport=tcp;lr;r2=on>', '<sip:127.0.0.1:5060;lr;r2=on>']);
    h.send(respond(out[0], 200, 'OK', { contact: '<sip:bob@10.0.0.9:5060;transport=tcp>' }), BOB_TCP, 'tcp');
    assert.deepEqual(statuses(h.to(ALICE, since)), [100, 200]);
    // bob hangs up over TCP with both Route entries: they come off, the BYE goes to alice over UDP
    const m = h.wire.length;
    const ok = asResponse(h.to(ALICE, since)[1]);
    h.send([
      'BYE sip:alice@10.0.0.5:5070 SIP/2.0',
      'Via: SIP/2.0/TCP 10.0.0.9:5060;branch=z9hG4bK-bob-bye',
      'Route: <sip:127.0.0.1:5060;transport=tcp;lr;r2=on>, <sip:127.0.0.1:5060;lr;r2=on>',
      `From: <sip:bob@127.0.0.1>;tag=${ok.to!.tag}`,
      `To: <sip:alice@127.0.0.1>;tag=${ok.from!.tag}`,
      `Call-ID: ${ok.callId}`,
      'CSeq: 1 BYE',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'), BOB_TCP, 'tcp');
    await h.settle();
    const bye = h.to(ALICE, m).map(asRequest);
    assert.deepEqual(bye.map((r) => r.method), ['BYE']);
    assert.equal(bye[0].headers.filter((f) => f.key === 'route').length, 0);
    assert.equal(bye[0].via[0].transport, 'UDP');
  } finally {
    await h.close();
  }
});
