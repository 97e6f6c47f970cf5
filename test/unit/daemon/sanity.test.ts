import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage } from '../../../src/core/sip/parser.js';
import type { SipMessage } from '../../../src/core/sip/message.js';
import { ALL_CHECKS, KAMAILIO_STOCK_CHECKS, SanityCheck, checkSanity, validDigestCredentials } from '../../../src/daemon/modules/sanity/sanity.js';
import { type SanityApi, createSanityModule } from '../../../src/daemon/modules/sanity/sanity-module.js';
import { ModuleRegistry } from '../../../src/daemon/kernel/module-registry.js';
import { parseAuth } from '../../../src/core/sip/headers.js';

const LINES = [
  'Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1',
  'Max-Forwards: 70',
  'To: <sip:alice@example.com>',
  'From: <sip:alice@example.com>;tag=1',
  'Call-ID: c1@example.com',
  'CSeq: 1 REGISTER',
  'Contact: <sip:alice@192.0.2.10>',
  'Content-Length: 0',
];

function msg(opts: { first?: string; drop?: string[]; set?: Record<string, string>; add?: string[]; body?: string } = {}): SipMessage {
  const lines = LINES.filter((l) => !(opts.drop ?? []).some((d) => l.startsWith(d + ':'))).map((l) => {
    const name = l.slice(0, l.indexOf(':'));
    return opts.set?.[name] !== undefined ? `${name}: ${opts.set[name]}` : l;
  });
  return parseMessage([opts.first ?? 'REGISTER sip:example.com SIP/2.0', ...lines, ...(opts.add ?? [])].join('\r\n') + '\r\n\r\n' + (opts.body ?? ''));
}

test('a well-formed REGISTER passes every check', () => {
  assert.deepEqual(checkSanity(msg()), { ok: true });
  assert.equal(ALL_CHECKS, 1 | 2 | 4 | 32 | 64 | 128 | 256 | 512 | 1024 | 2048 | 4096 | 8192 | 16384);
  assert.equal(KAMAILIO_STOCK_CHECKS, 1 | 2 | 4 | 32 | 64 | 128 | 256 | 1024 | 16384, 'sanity_check("17895") of the stock kamailio.cfg');
});

test('Request-URI longer than max_ruri_length → 414 Request-URI Too Long (off at 0)', () => {
  const long = `REGISTER sip:${'a'.repeat(520)}@example.com SIP/2.0`;
  assert.deepEqual(checkSanity(msg({ first: long }), { maxRuriLength: 512 }), { ok: false, status: 414, reason: 'Request-URI Too Long', check: 'RURI_LENGTH', reply: true });
  assert.deepEqual(checkSanity(msg({ first: long }), { maxRuriLength: 0 }), { ok: true });
  assert.deepEqual(checkSanity(msg({ first: long }), { maxRuriLength: 600 }), { ok: true });
});

test('AUTHORIZATION (8192): Digest credentials must be complete, other schemes pass (DIGEST_CREDENTIALS refuses them)', () => {
  const other = msg({ add: ['Authorization: NoOneKnowsThisScheme opaque-data=here'] });
  assert.deepEqual(checkSanity(other, { checks: SanityCheck.AUTHORIZATION }), { ok: true });
  assert.equal((checkSanity(other, { checks: SanityCheck.DIGEST_CREDENTIALS }) as { status: number }).status, 400);
  assert.equal((checkSanity(other, { checks: KAMAILIO_STOCK_CHECKS }) as { ok: boolean }).ok, true, 'the stock checks leave it to the auth module');
  const partial = msg({ add: ['Authorization: Digest username="a", realm="b"'] });
  assert.deepEqual(checkSanity(partial, { checks: SanityCheck.AUTHORIZATION }), { ok: false, status: 400, reason: 'Bad Credentials', check: 'AUTHORIZATION', reply: true });
});

test('required headers: Via, From, To, Call-ID, CSeq; Max-Forwards may be missing', () => {
  for (const h of ['Via', 'From', 'To', 'Call-ID', 'CSeq']) {
    const r = checkSanity(msg({ drop: [h] }), { checks: SanityCheck.REQUIRED_HEADERS });
    assert.deepEqual(r, { ok: false, status: 400, reason: 'Missing Required Header in Request', check: 'REQUIRED_HEADERS', reply: true }, h);
  }
  assert.deepEqual(checkSanity(msg({ drop: ['Max-Forwards'] })), { ok: true }, 'maxfwd adds it later');
});

test('CSeq method must equal the request method (RFC 4475 mismatch01), case-sensitively', () => {
  const r = checkSanity(msg({ set: { CSeq: '1 INVITE' } }));
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.status, 400);
  assert.equal(r.reason, 'CSeq method does not match request method');
  assert.equal(r.check, 'CSEQ_METHOD');
  assert.equal(checkSanity(msg({ set: { CSeq: '1 register' } })).ok, false);
  assert.equal(checkSanity(msg({ set: { CSeq: '1 INVITE' } }), { checks: ALL_CHECKS & ~SanityCheck.CSEQ_METHOD }).ok, true);
});

test('SIP/2.0 only (RFC 4475 badvers → 505)', () => {
  const r = checkSanity(msg({ first: 'REGISTER sip:example.com SIP/7.0' }));
  assert.deepEqual(r, { ok: false, status: 505, reason: 'Version Not Supported (R-URI)', check: 'RURI_SIP_VERSION', reply: true });
  assert.equal(checkSanity(msg({ first: 'REGISTER sip:example.com sip/2.0' })).ok, true, 'SIP-Version is case-insensitive');
});

test('Request-URI scheme: sip, sips, tel pass; others get 416 (RFC 4475 unksm)', () => {
  for (const uri of ['sip:example.com', 'sips:example.com', 'tel:+15551234567']) assert.equal(checkSanity(msg({ first: `REGISTER ${uri} SIP/2.0` })).ok, true, uri);
  const r = checkSanity(msg({ first: 'REGISTER isip:example.com SIP/2.0' }));
  assert.deepEqual(r, { ok: false, status: 416, reason: 'Unsupported URI Scheme in Request URI', check: 'RURI_SCHEME', reply: true });
});

test('Content-Length must agree with the body', () => {
  const m = msg({ set: { 'Content-Length': '4' }, body: 'abcd' });
  assert.equal(checkSanity(m).ok, true);
  m.body = Buffer.from('abc'); // a message built or changed in code
  assert.deepEqual(checkSanity(m), { ok: false, status: 400, reason: 'Content-Length mis-match', check: 'CONTENT_LENGTH', reply: true });
  const dbl = msg({ body: 'trailing bytes of a second message' });
  assert.equal(dbl.extraBytes > 0, true);
  assert.equal(checkSanity(dbl).ok, true, 'RFC 3261 §18.3: bytes past Content-Length are discarded, not an error');
});

test('CSeq and Expires values in range (messages built in code)', () => {
  const m = msg({ add: ['Expires: 60'] });
  m.cseq = { seq: 2 ** 31, method: 'REGISTER' };
  const r = checkSanity(m);
  assert.equal(r.ok === false && r.check, 'CSEQ_VALUE');
  m.cseq = { seq: 1, method: 'REGISTER' };
  m.expires = -1;
  const e = checkSanity(m);
  assert.equal(e.ok === false && e.reason, 'Invalid value in Expires header');
});

test('Proxy-Require: 420 with Unsupported naming the unknown tags (RFC 4475 bext01)', () => {
  const m = msg({ add: ['Proxy-Require: foo, path', 'Proxy-Require: foo'] });
  const r = checkSanity(m, { proxyRequire: ['path'] });
  assert.deepEqual(r, { ok: false, status: 420, reason: 'Bad Extension', check: 'PROXY_REQUIRE', reply: true, headers: [['Unsupported', 'foo']] });
  assert.equal(checkSanity(m, { proxyRequire: ['path', 'foo'] }).ok, true);
});

test('digest credentials must be complete', () => {
  const good = 'Digest username="a", realm="r", nonce="n", uri="sip:r", response="0123456789abcdef0123456789abcdef", qop=auth, nc=00000001, cnonce="c"';
  assert.equal(checkSanity(msg({ add: [`Authorization: ${good}`] })).ok, true);
  const bad = [
    'NTLM realm="r", targetname="t"',
    good.replace('username="a", ', ''),
    good.replace('nonce="n", ', ''),
    good.replace('response="0123456789abcdef0123456789abcdef"', 'response="xyz"'),
    good.replace('nc=00000001', 'nc=1'),
    good.replace(', cnonce="c"', ''),
  ];
  for (const b of bad) {
    const r = checkSanity(msg({ add: [`Proxy-Authorization: ${b}`] }));
    assert.equal(r.ok === false && r.check, 'DIGEST_CREDENTIALS', b);
  }
  assert.equal(validDigestCredentials(parseAuth(good)), true);
  // token68 (HTTP Basic) is not in RFC 3261's credentials grammar: refused by the parser already
  assert.throws(() => msg({ add: ['Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l'] }), /expected "="/);
});

test('first Via must be SIP/2.0', () => {
  const r = checkSanity(msg({ set: { Via: 'SIP/3.0/UDP 192.0.2.10;branch=z9hG4bK1' } }));
  assert.deepEqual(r, { ok: false, status: 505, reason: 'Version Not Supported (Via)', check: 'VIA1', reply: true });
});

test('no reply is asked for an ACK or a response', () => {
  const ack = msg({ first: 'ACK sip:example.com SIP/2.0', set: { CSeq: '1 INVITE' } });
  const r = checkSanity(ack);
  assert.equal(r.ok === false && r.reply, false);
  const resp = parseMessage(['SIP/2.0 200 OK', ...LINES.filter((l) => !l.startsWith('Call-ID'))].join('\r\n') + '\r\n\r\n');
  const rr = checkSanity(resp);
  assert.equal(rr.ok === false && rr.check, 'REQUIRED_HEADERS');
  assert.equal(rr.ok === false && rr.reply, false);
});

test('the module: Kamailio parameters, api.check, sanity.stats', async () => {
  const mod = createSanityModule();
  const reg = new ModuleRegistry();
  reg.register(mod);
  await reg.initAll({ params: new Map([['sanity', { default_checks: String(SanityCheck.REQUIRED_HEADERS | SanityCheck.CSEQ_METHOD), proxy_require: 'path, gruu' }]]) });
  const api = reg.api<SanityApi>('sanity')!;
  assert.equal(api.check(msg({ first: 'REGISTER isip:example.com SIP/2.0' })).ok, true, 'scheme check not in default_checks');
  assert.equal(api.check(msg({ drop: ['To'] })).ok, false);
  assert.equal(api.check(msg({ first: 'REGISTER isip:example.com SIP/2.0' }), SanityCheck.RURI_SCHEME).ok, false);
  assert.equal(api.check(msg({ add: ['Proxy-Require: gruu'] }), SanityCheck.PROXY_REQUIRE).ok, true);
  assert.deepEqual(await reg.lookup('sanity.stats')!.handler(undefined), { checked: 4, failed: { REQUIRED_HEADERS: 1, RURI_SCHEME: 1 } });
  await reg.destroyAll();
  await assert.rejects(reg.initAll({ params: new Map([['sanity', { default_checks: 1 << 20 }]]) }), /at most/);
});
