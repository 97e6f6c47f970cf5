import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeUser, formatUri, isIPv4, parsePort, parseUri, unescape, uriParam, validateHost, type SipUri } from '../../../src/core/sip/uri.js';
import { SipParseError } from '../../../src/core/sip/sip-parse-error.js';

function sip(text: string): SipUri {
  const u = parseUri(text);
  assert.equal(u.kind, 'sip', text);
  return u as SipUri;
}

function rejects(text: string, reason = 'bad-uri') {
  assert.throws(() => parseUri(text), (e: unknown) => e instanceof SipParseError && e.reason === reason, text);
}

test('sip URI: user, host, port, params, headers', () => {
  const u = sip('sip:alice@atlanta.example.com:5070;transport=tcp;lr?subject=project%20x&priority=urgent');
  assert.equal(u.scheme, 'sip');
  assert.equal(u.user, 'alice');
  assert.equal(u.host, 'atlanta.example.com');
  assert.equal(u.hostType, 'domain');
  assert.equal(u.port, 5070);
  assert.deepEqual([...u.params], [['transport', 'tcp'], ['lr', null]]);
  assert.deepEqual(u.headers, [['subject', 'project%20x'], ['priority', 'urgent']]);
  assert.equal(uriParam(u, 'TRANSPORT'), 'tcp');
  assert.equal(uriParam(u, 'maddr'), undefined);
});

test('sips, no user, IPv4 and IPv6 references', () => {
  const a = sip('SIPS:192.0.2.4');
  assert.equal(a.scheme, 'sips');
  assert.equal(a.user, undefined);
  assert.equal(a.hostType, 'ipv4');
  const b = sip('sip:[2001:db8::10]:5070');
  assert.equal(b.host, '2001:db8::10');
  assert.equal(b.hostType, 'ipv6');
  assert.equal(b.port, 5070);
  // RFC 5118 §4.1: the "port" inside the brackets is part of the address.
  const c = sip('sip:user@[2001:db8::10:5070]');
  assert.equal(c.host, '2001:db8::10:5070');
  assert.equal(c.port, undefined);
  const d = sip('sip:[::ffff:192.0.2.1];maddr=[2001:db8::1]');
  assert.equal(d.params.get('maddr'), '[2001:db8::1]');
});

test('user part: RFC 3261 user-unreserved characters and escapes', () => {
  const u = sip("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com");
  assert.equal(u.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
  const e = sip('sip:sips%3Auser%40example.com@example.net');
  assert.equal(e.user, 'sips%3Auser%40example.com');
  assert.equal(unescape(e.user!), 'sips:user@example.com');
  const n = sip('sip:null-%00-null@example.com');
  assert.equal(unescape(n.user!), 'null-\u0000-null');
  const t = sip('sip:+1-212-555-1212;phone-context=example.com@example.com;user=phone');
  assert.equal(t.user, '+1-212-555-1212;phone-context=example.com');
  assert.equal(t.params.get('user'), 'phone');
});

test('passwords are refused unless allowed (RFC 3261 §19.1.1: NOT RECOMMENDED)', () => {
  rejects('sip:alice:secret@example.com', 'uri-password');
  const u = parseUri('sip:alice:secret@example.com', { allowPassword: true }) as SipUri;
  assert.equal(u.user, 'alice');
  assert.equal(u.password, 'secret');
  assert.equal(formatUri(u), 'sip:alice:secret@example.com');
  // an empty password is still a password
  rejects('sip:alice:@example.com', 'uri-password');
});

test('tel URIs (RFC 3966)', () => {
  const g = parseUri('tel:+1-201-555-0123;ext=1234');
  assert.equal(g.kind, 'tel');
  if (g.kind !== 'tel') return;
  assert.equal(g.number, '+1-201-555-0123');
  assert.equal(g.global, true);
  assert.equal(g.params.get('ext'), '1234');
  const l = parseUri('tel:7042;phone-context=example.com');
  assert.equal(l.kind === 'tel' && l.global, false);
  const h = parseUri('tel:*21#;phone-context=+1');
  assert.equal(h.kind, 'tel');
  for (const bad of ['tel:', 'tel:+', 'tel:+1+2', 'tel:+12a', 'tel:---', 'tel:123;=x', 'tel:123;a=', 'tel:1 23', 'tel:123;ext=1;ext=2']) rejects(bad);
});

test('other absolute URIs are kept opaque (scheme lower-cased)', () => {
  const u = parseUri('soap.beep://192.0.2.103:3002');
  assert.deepEqual(u, { kind: 'absolute', scheme: 'soap.beep', opaque: '//192.0.2.103:3002' });
  const im = parseUri('IM:user@example.com');
  assert.deepEqual(im, { kind: 'absolute', scheme: 'im', opaque: 'user@example.com' });
  assert.equal(formatUri(im), 'im:user@example.com');
  for (const bad of ['nobody', ':x', '1sip:x', 'http:', 'http:a b', 'http:<x>', 'mailto:a"b', 'x:%zz']) rejects(bad);
});

test('malformed SIP URIs are refused', () => {
  const bad = [
    'sip:',
    'sip:@example.com',
    'sip:user@',
    'sip:user@example.com:',
    'sip:user@example.com:65536',
    'sip:user@example.com:123456',
    'sip:user@example.com:5060x',
    'sip:user@2001:db8::10', // IPv6 without brackets
    'sip:user@[2001:db8::10',
    'sip:user@[192.0.2.1]',
    'sip:user@[fe80::1%25eth0]',
    'sip:user@exa mple.com',
    'sip:user@-example.com',
    'sip:user@example-.com',
    'sip:user@example..com',
    'sip:user@123', // toplabel must start with a letter
    'sip:user@1.2.3.256',
    'sip:user@1.2.3.4.5',
    'sip:us"er@example.com',
    'sip:us%2ger@example.com', // bad escape
    'sip:user%4@example.com',
    'sip:user@example.com;',
    'sip:user@example.com;=x',
    'sip:user@example.com;a=',
    'sip:user@example.com;lr;lr', // duplicate parameter
    'sip:user@example.com;LR;lr', // names are case-insensitive
    'sip:user@example.com?',
    'sip:user@example.com?a',
    'sip:user@example.com?=b',
    'sip:user@example.com>',
    'sip:user@example.com#frag',
    'sip:user@host\u00e9.com',
    '<sip:user@example.com>',
    'sip:' + 'a'.repeat(9000) + '@example.com',
  ];
  for (const b of bad) rejects(b);
});

test('parameter names are identifiers: escapes decoded, case folded', () => {
  const u = sip('sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31;Transport=TCP;a%3Bb=1');
  assert.deepEqual([...u.params], [['lr', null], ['name', 'v%61lue%25%34%31'], ['transport', 'TCP'], ['a;b', '1']]);
  assert.equal(formatUri(u), 'sip:cal%6Cer@host5.example.net;lr;name=v%61lue%25%34%31;transport=TCP;a%3Bb=1');
  assert.deepEqual(parseUri(formatUri(u)), u);
});

test('format round-trips every valid URI exactly (scheme aside)', () => {
  const samples = [
    'sip:alice@atlanta.example.com',
    'sips:bob@biloxi.example.com:5061;transport=tls',
    'sip:[2001:db8::10]:5070;lr',
    'sip:192.0.2.4;maddr=239.255.255.1;ttl=15',
    'sip:cal%6Cer@host5.example.net;lr;name=v%61lue%25%34%31',
    'sip:user@example.com?Route=%3Csip:example.com%3E&x=',
    'sip:example.com.',
    'tel:+1-201-555-0123;ext=1234',
    'urn:service:sos',
    'soap.beep://192.0.2.103:3002',
  ];
  for (const s of samples) {
    const u = parseUri(s);
    assert.equal(formatUri(u), s);
    assert.deepEqual(parseUri(formatUri(u)), u);
  }
});

test('helpers: validateHost, isIPv4, parsePort, escapeUser', () => {
  assert.equal(validateHost('example.com'), 'domain');
  assert.equal(validateHost('a'), 'domain');
  assert.equal(validateHost('10.0.0.1'), 'ipv4');
  assert.equal(validateHost('[::1]'), 'ipv6');
  assert.equal(validateHost('::1'), undefined);
  assert.equal(validateHost(''), undefined);
  assert.equal(validateHost('a_b.com'), undefined);
  assert.equal(isIPv4('255.255.255.255'), true);
  assert.equal(isIPv4('1.2.3'), false);
  assert.equal(isIPv4('1.2.3.4.'), false);
  assert.equal(isIPv4('0001.2.3.4'), false);
  assert.equal(parsePort('0'), 0);
  assert.equal(parsePort('65535'), 65535);
  assert.equal(parsePort('65536'), undefined);
  assert.equal(parsePort(''), undefined);
  assert.equal(escapeUser('al ice@x:y'), 'al%20ice%40x%3Ay');
  assert.equal(unescape(escapeUser('jörg')), 'jörg');
  const u = sip(`sip:${escapeUser('a b')}@example.com`);
  assert.equal(unescape(u.user!), 'a b');
});

test('long parameter runs: parsed in full, or refused', () => {
  const params = ';p'.repeat(1000).split(';').slice(1).map((_, i) => `;p${i}=v`).join('');
  const u = sip('sip:u@example.com' + params);
  assert.equal(u.params.size, 1000);
  rejects('sip:u@example.com' + ';'.repeat(5000));
  rejects('sip:' + '%'.repeat(8000) + '@x');
});
