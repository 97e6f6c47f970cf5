/**
 * The reply cache's second key (kernel/reply-cache.ts transactionKey): a REGISTER the UA built
 * again — same transaction (top-Via branch, sent-by), Call-ID, CSeq and nonce, a fresh cnonce —
 * finds the first copy's entry (absorbed while pending, the same answer after), while anything
 * that makes it another request (CSeq, nonce, branch, source) does not; and the second key leaves
 * with its entry (forget, expiry, the bound), so it holds nothing of its own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage } from '../../../src/core/sip/parser.js';
import type { SipRequest } from '../../../src/core/sip/message.js';
import { ReplyCache, RETRANSMISSION_WINDOW_MS, requestKey, transactionKey } from '../../../src/daemon/kernel/reply-cache.js';

const SRC = { ip: '192.0.2.10', port: 5070, transport: 'udp' as const };

function register(o: { cseq?: number; branch?: string; nonce?: string; cnonce?: string } = {}): { data: Buffer; msg: SipRequest } {
  const auth = o.nonce === undefined ? [] : [`Authorization: Digest username="alice", realm="example.com", nonce="${o.nonce}", uri="sip:example.com", response="0123456789abcdef0123456789abcdef", algorithm=MD5, qop=auth, nc=00000001, cnonce="${o.cnonce ?? 'c1'}"`];
  const text = [
    'REGISTER sip:example.com SIP/2.0',
    `Via: SIP/2.0/UDP 192.0.2.10:5070;branch=${o.branch ?? 'z9hG4bK-1'}`,
    'From: <sip:alice@example.com>;tag=f1',
    'To: <sip:alice@example.com>',
    'Call-ID: c1@192.0.2.10',
    `CSeq: ${o.cseq ?? 2} REGISTER`,
    'Contact: <sip:alice@192.0.2.10:5070>',
    ...auth,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  const data = Buffer.from(text, 'latin1');
  return { data, msg: parseMessage(data) as SipRequest };
}

const keys = (r: { data: Buffer; msg: SipRequest }, src = SRC) => [requestKey(src, r.data), transactionKey(src, r.msg)] as const;

test('a copy built again (fresh cnonce) is the same entry: pending, then the same answer; other requests are new', () => {
  const clock = { ms: 1_000_000 };
  const c = new ReplyCache<string>({ now: () => clock.ms, max: 4 });
  try {
    const first = keys(register({ nonce: 'N1', cnonce: 'c1' }));
    const rebuilt = keys(register({ nonce: 'N1', cnonce: 'c2' }));
    assert.notEqual(first[0], rebuilt[0], 'different bytes');
    assert.equal(first[1], rebuilt[1], 'same transaction key');
    assert.deepEqual(c.begin(...first), { state: 'new' });
    assert.deepEqual(c.begin(...rebuilt), { state: 'pending' }, 'absorbed while the first is worked on');
    c.finish(first[0], '200 OK');
    assert.deepEqual(c.begin(...rebuilt), { state: 'answered', reply: '200 OK' });
    assert.equal(c.size, 1, 'one entry for both');
    // another request: new CSeq, another nonce (credentials added), another branch, another source
    assert.equal(c.begin(...keys(register({ cseq: 3, nonce: 'N1', cnonce: 'c3' }))).state, 'new');
    assert.equal(c.begin(...keys(register({ cseq: 2 }))).state, 'new', 'the same CSeq without credentials is another request');
    assert.equal(c.begin(...keys(register({ branch: 'z9hG4bK-2', nonce: 'N1', cnonce: 'c4' }))).state, 'new');
    assert.equal(c.begin(...keys(register({ nonce: 'N1', cnonce: 'c5' }), { ...SRC, port: 5071 })).state, 'new', 'from another port');
  } finally {
    c.clear();
  }
});

test('the second key leaves with its entry: forget, the bound, expiry', () => {
  const clock = { ms: 1_000_000 };
  const c = new ReplyCache<string>({ now: () => clock.ms, max: 2 });
  try {
    const a = keys(register({ nonce: 'A', cnonce: 'c1' }));
    const aAgain = keys(register({ nonce: 'A', cnonce: 'c2' }));
    c.begin(...a);
    c.forget(a[0]);
    assert.equal(c.begin(...aAgain).state, 'new', 'forgotten: the rebuilt copy is handled as new');
    c.begin(...keys(register({ nonce: 'B' })));
    c.begin(...keys(register({ nonce: 'C' }))); // the bound (2) drops the oldest, aAgain
    assert.equal(c.begin(...keys(register({ nonce: 'A', cnonce: 'c3' }))).state, 'new', 'dropped by the bound: its second key too');
    clock.ms += RETRANSMISSION_WINDOW_MS;
    assert.equal(c.begin(...keys(register({ nonce: 'C', cnonce: 'c9' }))).state, 'new', 'expired: its second key too');
    assert.ok(c.size <= 2);
  } finally {
    c.clear();
  }
});
