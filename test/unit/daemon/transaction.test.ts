// The RFC 3261 §17 transactions on a fake clock: states, timers (A–M, by their RFC names and
// durations), retransmissions sent and absorbed, the ACK of a non-2xx, and the matching rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage } from '../../../src/core/sip/parser.js';
import type { SipRequest, SipResponse } from '../../../src/core/sip/message.js';
import { buildCancel } from '../../../src/daemon/transaction/ack-cancel.js';
import { MAGIC_COOKIE, loopHash, loopPartOf, newBranch, proxyBranch, statelessBranch } from '../../../src/daemon/transaction/branch.js';
import { ClientInviteTransaction, type ClientTransactionUser } from '../../../src/daemon/transaction/client-invite.js';
import { ClientNonInviteTransaction } from '../../../src/daemon/transaction/client-non-invite.js';
import { ServerInviteTransaction } from '../../../src/daemon/transaction/server-invite.js';
import { ServerNonInviteTransaction } from '../../../src/daemon/transaction/server-non-invite.js';
import { ManualTimers, RFC3261_TIMERS, timerValues } from '../../../src/daemon/transaction/timers.js';
import { TransactionLayer, serverKey } from '../../../src/daemon/transaction/transaction-layer.js';

function req(method: string, opts: { branch?: string; via?: string; cseq?: number; toTag?: string; route?: string[] } = {}): SipRequest {
  const lines = [
    `${method} sip:bob@10.0.0.9:5060 SIP/2.0`,
    opts.via ?? `Via: SIP/2.0/UDP 10.0.0.1:5060;branch=${opts.branch ?? 'z9hG4bKabc'}`,
    'Via: SIP/2.0/UDP 10.0.0.5:5070;branch=z9hG4bK-caller',
    ...(opts.route ?? []).map((r) => `Route: ${r}`),
    'From: <sip:alice@example.com>;tag=from1',
    `To: <sip:bob@example.com>${opts.toTag ? `;tag=${opts.toTag}` : ''}`,
    'Call-ID: call-1@10.0.0.5',
    `CSeq: ${opts.cseq ?? 1} ${method}`,
    'Max-Forwards: 70',
    'Content-Length: 0',
    '',
    '',
  ];
  return parseMessage(lines.join('\r\n')) as SipRequest;
}

function res(status: number, method = 'INVITE', branch = 'z9hG4bKabc', toTag = 'to9'): { msg: SipResponse; raw: Buffer } {
  const raw = Buffer.from(
    [
      `SIP/2.0 ${status} Reason`,
      `Via: SIP/2.0/UDP 10.0.0.1:5060;branch=${branch}`,
      'Via: SIP/2.0/UDP 10.0.0.5:5070;branch=z9hG4bK-caller',
      'From: <sip:alice@example.com>;tag=from1',
      `To: <sip:bob@example.com>${status > 100 ? `;tag=${toTag}` : ''}`,
      'Call-ID: call-1@10.0.0.5',
      `CSeq: 1 ${method}`,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
  );
  return { msg: parseMessage(raw) as SipResponse, raw };
}

interface Wire {
  sent: Array<{ at: number; text: string }>;
  path: { reliable: boolean; send(d: Buffer): boolean };
}

function wire(timers: ManualTimers, reliable = false): Wire {
  const sent: Wire['sent'] = [];
  return { sent, path: { reliable, send: (d) => (sent.push({ at: timers.now(), text: d.toString() }), true) } };
}

function tu() {
  const got: number[] = [];
  let timeouts = 0;
  const user: ClientTransactionUser = { onResponse: (r) => got.push(r.status), onTimeout: () => timeouts++ };
  return { user, got, timeouts: () => timeouts };
}

test('timer values are RFC 3261 Table 4: unreliable and reliable transports', () => {
  const u = timerValues(RFC3261_TIMERS, false);
  assert.deepEqual([u.A, u.B, u.D, u.E, u.F, u.G, u.H, u.I, u.J, u.K, u.L, u.M], [500, 32_000, 32_000, 500, 32_000, 500, 32_000, 5_000, 32_000, 5_000, 32_000, 32_000]);
  const r = timerValues(RFC3261_TIMERS, true);
  assert.deepEqual([r.D, r.I, r.J, r.K], [0, 0, 0, 0]);
  assert.equal(timerValues({ ...RFC3261_TIMERS, frTimer: 10_000 }, false).B, 10_000, 'fr_timer sets B and F');
});

test('client INVITE over UDP: Timer A doubles (0.5, 1, 2, 4, 8, 16 s) until Timer B at 32 s → timeout to the TU', () => {
  const timers = new ManualTimers();
  const layer = new TransactionLayer({ timers });
  const w = wire(timers);
  const t = tu();
  const invite = req('INVITE');
  const ct = layer.startClient(invite, Buffer.from('INVITE'), w.path, t.user) as ClientInviteTransaction;
  assert.equal(ct.state, 'Calling');
  assert.deepEqual(ct.timers(), ['A', 'B']);
  timers.advance(40_000);
  assert.deepEqual(w.sent.map((s) => s.at), [0, 500, 1500, 3500, 7500, 15500, 31500]);
  assert.equal(t.timeouts(), 1);
  assert.equal(ct.state, 'Terminated');
  assert.equal(layer.counts().client, 0, 'removed from the layer');
});

test('client INVITE over TCP: no retransmissions, still Timer B', () => {
  const timers = new ManualTimers();
  const layer = new TransactionLayer({ timers });
  const w = wire(timers, true);
  const t = tu();
  layer.startClient(req('INVITE'), Buffer.from('INVITE'), w.path, t.user);
  timers.advance(40_000);
  assert.equal(w.sent.length, 1);
  assert.equal(t.timeouts(), 1);
});

test('client INVITE: 1xx stops Timer A; a 486 is ACKed (same branch, its To tag), passed up once, re-ACKed on retransmission; Timer D ends it', () => {
  const timers = new ManualTimers();
  const layer = new TransactionLayer({ timers });
  const w = wire(timers);
  const t = tu();
  const ct = layer.startClient(req('INVITE', { route: ['<sip:10.0.0.9;lr>'] }), Buffer.from('INVITE'), w.path, t.user) as ClientInviteTransaction;
  const ringing = res(180);
  assert.equal(layer.matchClient(ringing.msg), ct);
  ct.receiveResponse(ringing.msg, ringing.raw);
  assert.equal(ct.state, 'Proceeding');
  assert.ok(ct.provisional);
  assert.deepEqual(ct.timers(), [], 'Timer B only runs in Calling');
  timers.advance(5000);
  assert.equal(w.sent.length, 1, 'no retransmission in Proceeding');
  const busy = res(486);
  ct.receiveResponse(busy.msg, busy.raw);
  assert.equal(ct.state, 'Completed');
  assert.deepEqual(t.got, [180, 486]);
  const ack = parseMessage(w.sent[1].text) as SipRequest;
  assert.equal(ack.method, 'ACK');
  assert.equal(ack.rawUri, 'sip:bob@10.0.0.9:5060');
  assert.equal(ack.via.length, 1);
  assert.equal(ack.via[0].branch, 'z9hG4bKabc');
  assert.equal(ack.to?.tag, 'to9');
  assert.deepEqual(ack.cseq, { seq: 1, method: 'ACK' });
  assert.ok(ack.headers.some((h) => h.key === 'route' && h.value === '<sip:10.0.0.9;lr>'), 'Route of the INVITE kept');
  ct.receiveResponse(busy.msg, busy.raw);
  assert.equal(w.sent.length, 3, 'retransmitted 486 ACKed again');
  assert.deepEqual(t.got, [180, 486], 'and not passed up');
  assert.deepEqual(ct.timers(), ['D']);
  timers.advance(31_999);
  assert.equal(ct.state, 'Completed');
  timers.advance(1);
  assert.equal(ct.state, 'Terminated');
});

test('client INVITE: 2xx → Accepted (RFC 6026): every 2xx passed up, no ACK from the transaction, Timer M', () => {
  const timers = new ManualTimers();
  const layer = new TransactionLayer({ timers });
  const w = wire(timers);
  const t = tu();
  const ct = layer.startClient(req('INVITE'), Buffer.from('INVITE'), w.path, t.user) as ClientInviteTransaction;
  const ok = res(200);
  ct.receiveResponse(ok.msg, ok.raw);
  ct.receiveResponse(ok.msg, ok.raw);
  assert.equal(ct.state, 'Accepted');
  assert.deepEqual(t.got, [200, 200]);
  assert.equal(w.sent.length, 1, 'the ACK of a 2xx is end to end, not ours');
  assert.deepEqual(ct.timers(), ['M']);
  timers.advance(32_000);
  assert.equal(ct.state, 'Terminated');
});

test('client non-INVITE: Timer E 0.5, 1, 2, 4, 4 … s; T2 steady after a 1xx; Timer F → timeout; a final → Completed, Timer K (5 s UDP)', () => {
  const timers = new ManualTimers();
  const layer = new TransactionLayer({ timers });
  const w = wire(timers);
  const t = tu();
  layer.startClient(req('BYE'), Buffer.from('BYE'), w.path, t.user);
  timers.advance(32_000);
  assert.deepEqual(w.sent.map((s) => s.at), [0, 500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500]);
  assert.equal(t.timeouts(), 1);

  const w2 = wire(timers);
  const t2 = tu();
  const ct = layer.startClient(req('BYE', { branch: 'z9hG4bKbye2' }), Buffer.from('BYE'), w2.path, t2.user) as ClientNonInviteTransaction;
  const trying = res(180, 'BYE', 'z9hG4bKbye2');
  ct.receiveResponse(trying.msg, trying.raw);
  assert.equal(ct.state, 'Proceeding');
  const ok = res(200, 'BYE', 'z9hG4bKbye2');
  assert.equal(layer.matchClient(ok.msg), ct);
  ct.receiveResponse(ok.msg, ok.raw);
  ct.receiveResponse(ok.msg, ok.raw);
  assert.deepEqual(t2.got, [180, 200], 'retransmitted final absorbed');
  assert.deepEqual(ct.timers(), ['K']);
  timers.advance(5000);
  assert.equal(ct.state, 'Terminated');
});

test('server INVITE: retransmissions resend the last response; a 486 is retransmitted by Timer G (0.5, 1, 2, 4, 4 …) until the ACK; Timer I ends it', () => {
  const timers = new ManualTimers();
  const layer = new TransactionLayer({ timers });
  const w = wire(timers);
  const invite = req('INVITE');
  const st = layer.createServer(invite, w.path) as ServerInviteTransaction;
  assert.equal(st.state, 'Proceeding');
  assert.equal(layer.createServer(invite, w.path), undefined, 'one transaction per key');
  assert.equal(layer.matchServer(invite), st);
  st.receiveRequest(invite);
  assert.equal(w.sent.length, 0, 'nothing to resend before any response');
  st.respond(100, Buffer.from('100'));
  st.receiveRequest(invite);
  assert.deepEqual(w.sent.map((s) => s.text), ['100', '100']);
  st.respond(486, Buffer.from('486'));
  assert.equal(st.state, 'Completed');
  timers.advance(8000);
  assert.deepEqual(w.sent.slice(2).map((s) => s.at), [0, 500, 1500, 3500, 7500]);
  const ack = req('ACK', { toTag: 'x' });
  assert.equal(layer.matchServer(ack), st, 'the ACK of a non-2xx matches the INVITE transaction');
  assert.equal(st.receiveRequest(ack), 'absorbed');
  assert.equal(st.state, 'Confirmed');
  assert.deepEqual(st.timers(), ['I']);
  timers.advance(20_000);
  assert.equal(w.sent.length, 7, 'no retransmission after the ACK');
  assert.equal(st.state, 'Terminated');
  assert.equal(layer.matchServer(invite), undefined);
});

test('server INVITE: no ACK → Timer H (32 s) tells the TU; 2xx → Accepted, 2xx retransmissions pass, Timer L', () => {
  const timers = new ManualTimers();
  const layer = new TransactionLayer({ timers });
  let noAck = 0;
  const st = layer.createServer(req('INVITE'), wire(timers).path, { onNoAck: () => noAck++ }) as ServerInviteTransaction;
  st.respond(404, Buffer.from('404'));
  timers.advance(32_000);
  assert.equal(noAck, 1);
  assert.equal(st.state, 'Terminated');

  const w = wire(timers);
  const st2 = layer.createServer(req('INVITE', { branch: 'z9hG4bKtwo' }), w.path) as ServerInviteTransaction;
  st2.respond(200, Buffer.from('200'));
  assert.equal(st2.state, 'Accepted');
  st2.respond(200, Buffer.from('200 again'));
  st2.respond(486, Buffer.from('too late'));
  st2.receiveRequest(req('INVITE', { branch: 'z9hG4bKtwo' }));
  assert.deepEqual(w.sent.map((s) => s.text), ['200', '200 again']);
  assert.equal(st2.receiveRequest(req('ACK', { branch: 'z9hG4bKtwo', toTag: 'x' })), 'ack-to-tu');
  timers.advance(32_000);
  assert.equal(st2.state, 'Terminated');
});

test('server non-INVITE: absorbed in Trying, last response resent after; Timer J (32 s UDP, 0 TCP)', () => {
  const timers = new ManualTimers();
  const layer = new TransactionLayer({ timers });
  const w = wire(timers);
  const bye = req('BYE');
  const st = layer.createServer(bye, w.path) as ServerNonInviteTransaction;
  st.receiveRequest(bye);
  assert.equal(w.sent.length, 0);
  st.respond(200, Buffer.from('200'));
  st.receiveRequest(bye);
  assert.deepEqual(w.sent.map((s) => s.text), ['200', '200']);
  assert.deepEqual(st.timers(), ['J']);
  timers.advance(32_000);
  assert.equal(st.state, 'Terminated');
  const tcp = layer.createServer(req('BYE', { branch: 'z9hG4bKtcp' }), wire(timers, true).path)!;
  tcp.respond(200, Buffer.from('200'));
  timers.advance(0);
  assert.equal(tcp.state, 'Terminated');
});

test('matching: branch + sent-by + method (§17.2.3); CANCEL finds the INVITE; RFC 2543 requests by Call-ID/tag/CSeq; responses by branch + CSeq method', () => {
  const timers = new ManualTimers();
  const layer = new TransactionLayer({ timers });
  const invite = req('INVITE');
  const st = layer.createServer(invite, wire(timers).path)!;
  // same branch, other sent-by: another transaction
  assert.equal(layer.matchServer(req('INVITE', { via: 'Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKabc' })), undefined);
  // sent-by without port = 5060
  assert.equal(layer.matchServer(req('INVITE', { via: 'Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKabc' })), st);
  const cancel = req('CANCEL');
  assert.equal(layer.matchServer(cancel), undefined, 'CANCEL is its own transaction');
  assert.equal(layer.matchInviteForCancel(cancel), st);
  assert.notEqual(serverKey(cancel), serverKey(invite));
  // RFC 2543: no magic cookie
  const old = req('INVITE', { via: 'Via: SIP/2.0/UDP 10.0.0.7:5060;branch=1234' });
  const st2 = layer.createServer(old, wire(timers).path)!;
  assert.equal(layer.matchServer(req('ACK', { via: 'Via: SIP/2.0/UDP 10.0.0.7:5060;branch=9999', toTag: 't' })), st2);
  // client side
  const t = tu();
  const ct = layer.startClient(req('INVITE', { branch: 'z9hG4bKout' }), Buffer.from('x'), wire(timers).path, t.user);
  assert.equal(layer.matchClient(res(180, 'INVITE', 'z9hG4bKout').msg), ct);
  assert.equal(layer.matchClient(res(200, 'CANCEL', 'z9hG4bKout').msg), undefined, 'the CANCEL response is not the INVITE\'s');
  assert.equal(layer.matchClient(res(200, 'INVITE', 'z9hG4bKother').msg), undefined);
  assert.throws(() => layer.startClient(req('ACK'), Buffer.from('x'), wire(timers).path, t.user), /ACK/);
  layer.clear();
  assert.deepEqual(layer.counts(), { server: 0, client: 0 });
});

test('CANCEL is built from the INVITE as sent: same Request-URI, top Via only, Route, From, To, Call-ID, CSeq number', () => {
  const invite = req('INVITE', { cseq: 4, route: ['<sip:10.0.0.9;lr>'] });
  const c = parseMessage(buildCancel(invite)) as SipRequest;
  assert.equal(c.method, 'CANCEL');
  assert.equal(c.rawUri, invite.rawUri);
  assert.deepEqual(c.via.map((v) => v.branch), ['z9hG4bKabc']);
  assert.deepEqual(c.cseq, { seq: 4, method: 'CANCEL' });
  assert.equal(c.to?.tag, undefined);
  assert.equal(c.from?.tag, 'from1');
  assert.ok(c.headers.some((h) => h.key === 'route'));
});

test('branches: magic cookie; loop hash of the request as received; a stateless branch is stable', () => {
  const a = req('INVITE');
  const loop = loopHash(a);
  const b = proxyBranch(loop);
  assert.ok(b.startsWith(MAGIC_COOKIE));
  assert.equal(loopPartOf(b), loop);
  assert.notEqual(proxyBranch(loop), b, 'unique per forwarded request');
  assert.equal(loopPartOf('z9hG4bK-sipp-1-2'), undefined, 'not ours');
  assert.equal(loopHash(req('INVITE')), loop, 'the same request hashes the same');
  assert.notEqual(loopHash(req('INVITE', { cseq: 2 })), loop);
  assert.ok(newBranch().startsWith(MAGIC_COOKIE));
  assert.equal(statelessBranch(req('ACK')), statelessBranch(req('ACK')));
});
