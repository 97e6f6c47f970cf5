import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  HEADER_PARSERS, compactForm, deltaSeconds, headerDisplayName, headerKey, isStructuredHeader, parseAuth, parseContact, parseFromTo,
  parseHeaderValue, parseUserAgent, parseVia, qvalue,
} from '../../../src/core/sip/headers.js';
import { formatAuth, formatContact, formatCSeq, formatNameAddr, formatParams, formatUserAgent, formatVia, quote } from '../../../src/core/sip/serializer.js';
import { SipParseError } from '../../../src/core/sip/sip-parse-error.js';

test('compact forms (RFC 3261 §7.3.3, RFC 3265, 3515, 3841, 3892, 4028, 4474) map to one key', () => {
  const table: Array<[string, string]> = [
    ['i', 'call-id'], ['m', 'contact'], ['e', 'content-encoding'], ['l', 'content-length'], ['c', 'content-type'],
    ['f', 'from'], ['s', 'subject'], ['k', 'supported'], ['t', 'to'], ['v', 'via'],
    ['o', 'event'], ['u', 'allow-events'], ['r', 'refer-to'], ['a', 'accept-contact'], ['j', 'reject-contact'],
    ['d', 'request-disposition'], ['b', 'referred-by'], ['x', 'session-expires'], ['y', 'identity'], ['n', 'identity-info'],
  ];
  for (const [short, long] of table) {
    assert.equal(headerKey(short), long);
    assert.equal(headerKey(short.toUpperCase()), long);
    assert.equal(compactForm(long), short);
  }
  assert.equal(headerKey('CALL-ID'), 'call-id');
  assert.equal(headerKey('q'), 'q', 'no compact form: unchanged');
  assert.equal(headerKey('X-Custom'), 'x-custom');
  assert.equal(compactForm('max-forwards'), undefined);
  assert.equal(headerDisplayName('call-id'), 'Call-ID');
  assert.equal(headerDisplayName('cseq'), 'CSeq');
  assert.equal(headerDisplayName('www-authenticate'), 'WWW-Authenticate');
  assert.equal(headerDisplayName('max-forwards'), 'Max-Forwards');
});

test('the parser table is looked up through a Map: prototype names are just unknown headers', () => {
  for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
    assert.equal(isStructuredHeader(name), false, name);
    assert.equal(parseHeaderValue(name, 'x'), 'x', name);
  }
  assert.equal(isStructuredHeader('v'), true);
  assert.deepEqual(parseHeaderValue('i', 'abc@def'), 'abc@def');
  assert.deepEqual(parseHeaderValue('cseq', '4711 INVITE'), { seq: 4711, method: 'INVITE' });
  assert.equal(Object.isFrozen(HEADER_PARSERS), true);
});

test('structured values format back to text that parses to the same value', () => {
  const cases: Array<[string, (v: string) => unknown, (x: never) => string]> = [
    ['SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bKx;received=2001:db8::2;rport;x="a b"', parseVia, formatVia as (x: never) => string],
    ['SIP / 2.0 / tcp h ; branch = b1 , SIP/2.0/TLS 192.0.2.1:5061;maddr=[::1]', parseVia, formatVia as (x: never) => string],
    ['"A \\"quoted\\" \\\\ name" <sip:a@b.c;lr>;tag=x', (v) => parseFromTo(v, 'from'), formatNameAddr as (x: never) => string],
    ['Bob  Smith <sip:bob@b.c>', (v) => parseFromTo(v, 'to'), formatNameAddr as (x: never) => string],
    ['sip:bob@b.c;tag=1', (v) => parseFromTo(v, 'to'), formatNameAddr as (x: never) => string],
    ['<sip:a@b.c>;q=0.5;expires=60, "x" <tel:+123>, urn:uuid:1;+sip.instance="<urn:uuid:1>"', parseContact, formatContact as (x: never) => string],
    ['*', parseContact, formatContact as (x: never) => string],
    ['Digest username="a\\"b", realm="r", nonce="n,n", uri="sip:x", response="00", qop=auth, nc=00000001, cnonce="c", algorithm=MD5', parseAuth, ((v: never) => formatAuth(v, 'credentials')) as (x: never) => string],
    ['Digest realm="r", nonce="n", algorithm=SHA-256, qop="auth,auth-int", stale=true', parseAuth, ((v: never) => formatAuth(v, 'challenge')) as (x: never) => string],
    ['Foo/1.0 (bar (nested) \\) x) Baz', parseUserAgent, formatUserAgent as (x: never) => string],
  ];
  for (const [text, parse, format] of cases) {
    const v = parse(text);
    const again = parse(format(v as never));
    assert.deepEqual(again, v, text);
  }
  assert.equal(formatCSeq({ seq: 1, method: 'REGISTER' }), '1 REGISTER');
  assert.equal(formatParams(new Map([['a', null], ['b', '1'], ['c', 'x y'], ['d', '']])), ';a;b=1;c="x y";d=""');
  assert.equal(quote('a"b\\c'), '"a\\"b\\\\c"');
});

test('auth params: quoted values unescaped, names case-insensitive, duplicates refused', () => {
  const a = parseAuth('Digest USERNAME="bob", Realm="x\\\\y", nonce=abc');
  assert.equal(a.scheme, 'Digest');
  assert.deepEqual([...a.params], [['username', 'bob'], ['realm', 'x\\y'], ['nonce', 'abc']]);
  assert.throws(() => parseAuth('Digest username="a", USERNAME="b"'), SipParseError);
  assert.throws(() => parseAuth('Digest username="a"junk'), SipParseError);
  assert.throws(() => parseAuth('Digestusername="a"'), SipParseError);
  assert.equal(formatAuth(parseAuth('Digest qop="auth", nc=00000001, realm=r'), 'credentials'), 'Digest qop=auth, nc=00000001, realm="r"');
});

test('deltaSeconds and qvalue follow their grammars exactly', () => {
  assert.equal(deltaSeconds('0'), 0);
  assert.equal(deltaSeconds('4294967295'), 4294967295);
  for (const bad of ['', '-1', '1.0', '4294967296', '99999999999', ' 1', '1e3']) assert.equal(deltaSeconds(bad), undefined, bad);
  assert.equal(qvalue('0'), 0);
  assert.equal(qvalue('0.999'), 0.999);
  assert.equal(qvalue('1.000'), 1);
  for (const bad of ['', '.5', '1.001', '0.1234', '2', '01', '0,5', '1.0000']) assert.equal(qvalue(bad), undefined, bad);
});

test('errors name the header they come from', () => {
  try {
    parseVia('SIP/2.0/UDP');
    assert.fail('should throw');
  } catch (e) {
    assert.ok(e instanceof SipParseError);
    assert.equal(e.header, 'via');
    assert.equal(e.code, 'SIP_PARSE_BAD_HEADER');
  }
  try {
    parseFromTo('<sip:a b>', 'from');
    assert.fail('should throw');
  } catch (e) {
    assert.ok(e instanceof SipParseError);
    assert.equal(e.reason, 'bad-uri');
    assert.equal(e.header, 'from');
  }
});
