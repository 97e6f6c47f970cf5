import { test } from 'node:test';
import assert from 'node:assert/strict';
import { frameStream, parseMessage } from '../../../src/core/sip/parser.js';
import { StreamFramer } from '../../../src/core/sip/stream-framer.js';
import { serializeMessage } from '../../../src/core/sip/serializer.js';
import { SipParseError, type SipParseReason } from '../../../src/core/sip/sip-parse-error.js';
import type { SipMessage, SipRequest, SipResponse } from '../../../src/core/sip/message.js';
import { formatUri, unescape } from '../../../src/core/sip/uri.js';
import {
  DBLREQ, ESC01, ESC02, ESCNULL, INTMETH, INTMETH_ORIGINAL, LWSDISP, REGISTER_AUTH, RESPONSE_401, SDP_150, VALID, WSINV, sipMessage,
} from './fixtures.js';

function req(text: string | Buffer, opts = {}): SipRequest {
  const m = parseMessage(text, opts);
  assert.equal(m.type, 'request');
  return m as SipRequest;
}

function refused(input: string | Buffer, reason: SipParseReason, opts = {}): SipParseError {
  let caught: unknown;
  try {
    parseMessage(input, opts);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof SipParseError, `expected SipParseError(${reason}), got ${caught === undefined ? 'success' : String(caught)}`);
  assert.equal(caught.reason, reason, caught.message);
  assert.equal(caught.category, 'protocol');
  return caught;
}

/** A minimal valid request with `extra` header lines. */
function basic(extra: string[] = [], body = '', first = 'OPTIONS sip:bob@example.com SIP/2.0'): string {
  return sipMessage(
    [
      first,
      'Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds',
      'Max-Forwards: 70',
      'To: <sip:bob@example.com>',
      'From: <sip:alice@example.com>;tag=1928301774',
      'Call-ID: a84b4c76e66710',
      'CSeq: 1 OPTIONS',
      ...extra,
    ],
    body,
  );
}

// ------------------------------------------------------------------------------------- valid

test('RFC 4475 wsinv: folding, odd whitespace, case, compact forms, several Vias', () => {
  const m = req(WSINV);
  assert.equal(m.method, 'INVITE');
  assert.equal(m.rawUri, 'sip:vivekg@chair-dnrc.example.com;unknownparam');
  assert.equal(m.uri.kind === 'sip' && m.uri.params.has('unknownparam'), true);
  assert.equal(m.to?.tag, '1918181833n');
  assert.equal(m.to?.displayName, undefined);
  assert.equal(m.from?.displayName, 'J Rosenberg \\"');
  assert.equal(m.from?.tag, '98asjd8');
  assert.equal(m.maxForwards, 68);
  assert.equal(m.callId, 'wsinv.ndaksdj@192.0.2.1');
  assert.deepEqual(m.cseq, { seq: 9, method: 'INVITE' });
  assert.equal(m.contentLength, 150);
  assert.equal(m.body.toString(), SDP_150);
  assert.deepEqual(m.via.map((v) => [v.protocol, v.version, v.transport, v.host, v.branch]), [
    ['SIP', '2.0', 'UDP', '192.0.2.2', '390skdjuw'],
    ['SIP', '2.0', 'TCP', 'spindle.example.com', 'z9hG4bK9ikj8'],
    ['SIP', '2.0', 'UDP', '192.168.255.111', 'z9hG4bK30239'],
  ]);
  assert.equal(m.contact?.star, false);
  if (m.contact?.star !== false) return;
  const c = m.contact.contacts[0];
  assert.equal(c.displayName, 'Quoted string ""');
  assert.equal(c.q, 0.33);
  assert.deepEqual([...c.params], [['newparam', 'newvalue'], ['secondparam', null], ['q', '0.33']]);
  const byKey = new Map(m.headers.map((h) => [h.key, h.value]));
  assert.equal(byKey.get('subject'), '');
  assert.equal(byKey.get('newfangledheader'), 'newfangled value continued newfangled value');
  assert.equal(byKey.get('unknownheaderwithunusualvalue'), ';;,,;;,;');
  assert.equal(m.headers.find((h) => h.name === 'v')?.key, 'via');
  assert.equal(m.headers.find((h) => h.name === 'm')?.key, 'contact');
});

test('RFC 4475 intmeth: unusual but valid characters everywhere (URI password allowed explicitly)', () => {
  refused(INTMETH, 'uri-password');
  const m = req(INTMETH, { allowUriPassword: true });
  assert.equal(m.method, "!interesting-Method0123456789_*+`.%indeed'~");
  assert.equal(m.cseq?.method, m.method);
  assert.equal(m.uri.kind === 'sip' && m.uri.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
  assert.equal(m.via[0].branch, "z9hG4bK-.!%66*_+`'~");
  assert.equal(m.from?.displayName, "token1~` token2'+_ token3*%!.-");
  assert.equal(m.from?.params.get("fromparam''~+*_!.-%"), '\u0440\u0430\u0431\u043e\u0442\u0430\u044e\u0449\u0438\u0439');
  assert.equal(m.from?.tag, "_token~1'+`*%!-.");
  assert.equal(m.callId, 'intmeth.word%ZK-!.*_+\'@word`~)(><:\\/"][?}{');
  assert.equal(m.maxForwards, 255);
  const ext = m.headers.find((h) => h.key === "extensionheader-!.%*+_`'~");
  assert.equal(ext?.value, '\ufeff\u5927\u505c\u96fb', 'a leading U+FEFF is content, not whitespace');
});

test('RFC 4475 intmeth as published: BEL, NUL and DEL escaped in a quoted string parse (quoted-pair, RFC 3261 §25.1)', () => {
  const m = req(INTMETH_ORIGINAL, { allowUriPassword: true });
  assert.equal(m.to?.displayName, 'BEL:\u0007 NUL:\u0000 DEL:\u007f');
  // the same characters unescaped, or escaped outside a quoted string, are still refused
  refused(INTMETH_ORIGINAL.replace('BEL:\\\u0007', 'BEL:\u0007'), 'control-char', { allowUriPassword: true });
  refused(INTMETH_ORIGINAL.replace('NUL:\\\u0000', 'NUL:\u0000'), 'nul-byte', { allowUriPassword: true });
  refused(INTMETH_ORIGINAL.replace('Call-ID: intmeth', 'Call-ID: in\\\u0000tmeth'), 'nul-byte', { allowUriPassword: true });
  // an escaped backslash does not escape what follows it
  refused(INTMETH_ORIGINAL.replace('BEL:\\\u0007', 'BEL:\\\\\u0007'), 'control-char', { allowUriPassword: true });
  // CR and LF can never be escaped
  refused(INTMETH_ORIGINAL.replace('BEL:\\\u0007', 'BEL:\\\n'), 'bad-line-ending', { allowUriPassword: true });
});

test('RFC 4475 esc01: escapes in Request-URI, To, From and Contact; compact forms i and C', () => {
  const m = req(ESC01);
  assert.equal(m.uri.kind === 'sip' && unescape(m.uri.user ?? ''), 'sips:user@example.com');
  assert.equal(m.to?.uri.kind === 'sip' && unescape(m.to.uri.user ?? ''), 'user');
  assert.equal(m.from?.uri.kind === 'sip' && unescape(m.from.uri.user ?? ''), 'I have spaces');
  assert.equal(m.callId, 'esc01.239409asdfakjkn23onasd0-3234');
  assert.equal(m.headers.find((h) => h.name === 'C')?.key, 'content-type');
  assert.equal(m.contact?.star, false);
  const uri = m.contact?.star === false ? m.contact.contacts[0].uri : undefined;
  assert.equal(uri?.kind === 'sip' && uri.params.has('lr'), true, '%6C%72 is lr');
  assert.equal(m.body.length, 150);
});

test('RFC 4475 escnull: %00 in URIs is fine; Contact lines gather; L:0', () => {
  const m = req(ESCNULL);
  assert.equal(m.contentLength, 0);
  assert.equal(m.contact?.star === false && m.contact.contacts.length, 2);
  const users = m.contact?.star === false ? m.contact.contacts.map((c) => (c.uri.kind === 'sip' ? unescape(c.uri.user ?? '') : '')) : [];
  assert.deepEqual(users, ['\u0000', '\u0000\u0000']);
});

test('RFC 4475 esc02: % that is not an escape, in a method and a header name', () => {
  const m = req(ESC02);
  assert.equal(m.method, 'RE%47IST%45R');
  assert.equal(m.to?.displayName, '%Z%45');
  assert.equal(m.via[0].branch, 'z9hG4bK209%fzsnel234');
  assert.equal(m.contact?.star === false && m.contact.contacts.length, 2, 'C%6Fntact is another header');
  assert.equal(m.headers.find((h) => h.name === 'C%6Fntact')?.key, 'c%6fntact');
});

test('RFC 4475 lwsdisp: display name directly followed by "<"', () => {
  const m = req(LWSDISP);
  assert.equal(m.from?.displayName, 'caller');
  assert.equal(m.from?.tag, '323');
});

test('RFC 4475 dblreq: bytes after Content-Length are not the body (RFC 3261 §18.3)', () => {
  const m = req(DBLREQ);
  assert.equal(m.method, 'REGISTER');
  assert.equal(m.body.length, 0);
  assert.ok(m.extraBytes > 150);
  assert.equal(m.callId, 'dblreq.0ha0isndaksdj99sdfafnl3lk233412');
});

test('REGISTER with Contact list, Expires, Authorization, User-Agent, Supported', () => {
  const m = req(REGISTER_AUTH);
  assert.equal(m.via[0].rport, null);
  assert.equal(m.via[0].port, 5060);
  assert.equal(m.expires, 7200);
  assert.equal(m.contact?.star, false);
  if (m.contact?.star !== false) return;
  assert.deepEqual(m.contact.contacts.map((c) => [formatUri(c.uri), c.expires, c.q]), [
    ['sip:alice@192.0.2.10:5060;transport=udp', 3600, 0.7],
    ['sip:alice@[2001:db8::10]', undefined, 1],
  ]);
  assert.equal(m.authorization.length, 1);
  const a = m.authorization[0];
  assert.equal(a.scheme, 'Digest');
  assert.equal(a.params.get('nonce'), 'abc"def');
  assert.equal(a.params.get('cnonce'), 'x,y', 'a comma inside a quoted string is not a separator');
  assert.equal(a.params.get('nc'), '00000001');
  assert.deepEqual(m.userAgent?.products, [
    { name: 'Linphone', version: '5.2.0' },
    { comment: 'belle-sip/5.2.0' },
    { name: 'Ubuntu' },
    { comment: '22.04' },
  ]);
});

test('responses: status, reason, several Vias per line, IPv6 received forms, two challenges', () => {
  const m = parseMessage(RESPONSE_401) as SipResponse;
  assert.equal(m.type, 'response');
  assert.equal(m.status, 401);
  assert.equal(m.reason, 'Unauthorized');
  assert.equal(m.via.length, 3);
  assert.deepEqual([m.via[0].host, m.via[0].hostType, m.via[0].received, m.via[0].rport], ['2001:db8::9:1', 'ipv6', '2001:db8::9:255', 5061]);
  assert.equal(m.via[2].received, '2001:db8::1', 'RFC 5118 §4.5: bracketed received accepted');
  assert.deepEqual(m.wwwAuthenticate.map((c) => c.params.get('algorithm')), ['SHA-256', 'MD5']);
  assert.equal(m.wwwAuthenticate[1].params.get('stale'), 'true');
  assert.equal(m.wwwAuthenticate[0].params.get('qop'), 'auth');
  // RFC 4475 §3.1.1.13 (noreason) and a UTF-8 reason phrase (unreason)
  assert.equal((parseMessage(RESPONSE_401.replace('401 Unauthorized', '100 ')) as SipResponse).reason, '');
  const utf = parseMessage(RESPONSE_401.replace('401 Unauthorized', '200 = 2**3 * 5**2 \u043d\u043e \u0441\u0442\u043e')) as SipResponse;
  assert.equal(utf.reason, '= 2**3 * 5**2 \u043d\u043e \u0441\u0442\u043e');
});

test('unknown URI schemes parse (RFC 4475 unksm, novelsc); sanity decides what to do', () => {
  const m = req(basic([], '', 'OPTIONS soap.beep://192.0.2.103:3002 SIP/2.0').replace('To: <sip:bob@example.com>', 'To: soap.beep://192.0.2.103:3002'));
  assert.equal(m.uri.kind, 'absolute');
  assert.equal(m.to?.uri.kind, 'absolute');
  const im = req(basic([], '', 'MESSAGE im:user@example.com SIP/2.0').replace('CSeq: 1 OPTIONS', 'CSeq: 1 MESSAGE'));
  assert.deepEqual(im.uri, { kind: 'absolute', scheme: 'im', opaque: 'user@example.com' });
});

test('Contact: "*" alone, and never beside another contact', () => {
  const star = req(basic(['Contact: *', 'Expires: 0']));
  assert.deepEqual(star.contact, { star: true });
  refused(basic(['Contact: *, <sip:a@b.c>']), 'bad-header');
  refused(basic(['Contact: *', 'Contact: <sip:a@b.c>']), 'bad-header');
  refused(basic(['Contact: <sip:a@b.c>', 'm: *']), 'bad-header');
  refused(basic(['Contact: * ;expires=0']), 'bad-header');
});

test('Contact params: expires and q validated (RFC 3261 §20.10)', () => {
  for (const ok of ['q=0', 'q=1', 'q=0.5', 'q=0.123', 'q=1.000', 'q=1.', 'expires=0', 'expires=4294967295']) req(basic([`Contact: <sip:a@b.c>;${ok}`]));
  for (const bad of ['q=1.5', 'q=2', 'q=0.1234', 'q=-1', 'q=.5', 'q', 'expires=-1', 'expires=4294967296', 'expires=1e3', 'expires']) {
    refused(basic([`Contact: <sip:a@b.c>;${bad}`]), 'bad-header');
  }
});

test('body without Content-Length on a datagram is the rest of the datagram', () => {
  const text = basic([], 'hello').replace('\r\n\r\n', '\r\n\r\n');
  const m = req(text);
  assert.equal(m.contentLength, undefined);
  assert.equal(m.body.toString(), 'hello');
  const bin = Buffer.concat([Buffer.from(basic(['Content-Length: 4'])), Buffer.from([0, 1, 0xff, 0])]);
  assert.deepEqual([...req(bin).body], [0, 1, 0xff, 0], 'bodies are opaque bytes, NUL allowed');
});

test('leading CRLFs before the start line are skipped (RFC 3261 §7.5)', () => {
  const m = req('\r\n\r\n' + basic(['Content-Length: 0']));
  assert.equal(m.method, 'OPTIONS');
});

// --------------------------------------------------------------------------------- malformed

test('start line: RFC 4475 ltgtruri, lwsruri, lwsstart, trws, bigcode and friends', () => {
  refused(basic([], '', 'INVITE <sip:user@example.com> SIP/2.0'), 'bad-uri');
  refused(basic([], '', 'INVITE sip:user@example.com; lr SIP/2.0'), 'bad-start-line');
  refused(basic([], '', 'INVITE  sip:user@example.com  SIP/2.0'), 'bad-start-line');
  refused(basic([], '', 'OPTIONS sip:remote-target@example.com SIP/2.0  '), 'bad-start-line');
  refused(basic([], '', 'OPTIONS sip:remote-target@example.com SIP/2.0 '), 'bad-start-line');
  refused(basic([], '', 'OPTIONS sip:user@example.com SIP/2'), 'bad-version');
  refused(basic([], '', 'OPTIONS sip:user@example.com SIP-2.0'), 'bad-version');
  refused(basic([], '', 'OPTIONS sip:user@example.com HTTP/1.1'), 'bad-version');
  refused(basic([], '', 'OPT<IONS sip:user@example.com SIP/2.0'), 'bad-method');
  refused(basic([], '', 'OPTIONS\tsip:user@example.com\tSIP/2.0'), 'bad-start-line');
  refused(basic([], '', 'SIP/2.0 4294967301 better not break the receiver'), 'bad-status');
  refused(basic([], '', 'SIP/2.0 99 Too low'), 'bad-status');
  refused(basic([], '', 'SIP/2.0 700 Too high'), 'bad-status');
  refused(basic([], '', 'SIP/2.0 2OO OK'), 'bad-status');
  refused(basic([], '', 'SIP/2.0 200'), 'bad-start-line');
  refused(basic([], '', 'SIP/2.x 200 OK'), 'bad-version');
  refused(basic([], '', 'GARBAGE'), 'bad-start-line');
  // RFC 4475 badvers: SIP/7.0 is syntactically fine; sanity answers 505.
  assert.equal(req(basic([], '', 'OPTIONS sip:t@example.com SIP/7.0')).version, 'SIP/7.0');
});

test('headers: RFC 4475 badaspec, quotbal, regbadct-like and other grammar errors', () => {
  refused(basic(['Contact: <sip:a@b.c'], ''), 'bad-header');
  refused(basic([]).replace('To: <sip:bob@example.com>', 'To: "Mr. J. User <sip:j.user@example.com>'), 'bad-header');
  refused(basic([]).replace('To: <sip:bob@example.com>', 'To: sip:user@example.com?foo=bar'), 'bad-header');
  refused(basic([]).replace('To: <sip:bob@example.com>', 'To: <sip:user@example.com> junk'), 'bad-header');
  refused(basic([]).replace('To: <sip:bob@example.com>', 'To: '), 'bad-header');
  refused(basic([]).replace('From: <sip:alice@example.com>;tag=1928301774', 'From: <sip:alice@example.com>;tag=a;tag=b'), 'bad-header');
  refused(basic([]).replace('From: <sip:alice@example.com>;tag=1928301774', 'From: <sip:alice@example.com>;tag="x y"'), 'bad-header');
  refused(basic([]).replace('CSeq: 1 OPTIONS', 'CSeq: OPTIONS'), 'bad-header');
  refused(basic([]).replace('CSeq: 1 OPTIONS', 'CSeq: 1'), 'bad-header');
  refused(basic([]).replace('CSeq: 1 OPTIONS', 'CSeq: 1OPTIONS'), 'bad-header');
  refused(basic([]).replace('CSeq: 1 OPTIONS', 'CSeq: -1 OPTIONS'), 'bad-header');
  refused(basic([]).replace('Call-ID: a84b4c76e66710', 'Call-ID: a b'), 'bad-header');
  refused(basic([]).replace('Call-ID: a84b4c76e66710', 'Call-ID: a@b@c'), 'bad-header');
  refused(basic([]).replace('Call-ID: a84b4c76e66710', 'Call-ID: '), 'bad-header');
  refused(basic([]).replace('Max-Forwards: 70', 'Max-Forwards: seventy'), 'bad-header');
  refused(basic(['Expires: soon']), 'bad-header');
  refused(basic(['Expires: 4294967296']), 'bad-header');
  refused(basic(['Authorization: Digest']), 'bad-header');
  refused(basic(['Authorization: Digest username=alice@x']), 'bad-header');
  refused(basic(['Authorization: Digest username="a", username="b"']), 'bad-header');
  refused(basic(['Authorization: Digest username="a", realm="unterminated']), 'bad-header');
  refused(basic(['Authorization: Digest username="a",, realm="b"']), 'bad-header');
  refused(basic(['Proxy-Require: ']), 'bad-header');
  // User-Agent is informational: a malformed one is kept as raw text only, the message stands.
  for (const ua of ['(unterminated', 'a' + '('.repeat(20) + ')'.repeat(20), 'évil ü', 'x\u009by']) {
    const m = parseMessage(basic([`User-Agent: ${ua}`]));
    assert.equal(m.userAgent, undefined, ua);
    assert.ok(m.headers.some((h) => h.key === 'user-agent' && h.value === ua), ua);
  }
});

test('Via grammar: sent-protocol, sent-by, branch/received/rport/ttl/maddr', () => {
  const via = (v: string) => basic([]).replace('Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds', `Via: ${v}`);
  for (const ok of ['SIP/2.0/UDP h', 'SIP/2.0/WSS h:443;rport=1;received=192.0.2.1', 'SIP / 2.0 / UDP h ; ttl = 255 ; maddr=[::1]', 'SIP/2.0/UDP h:5060, SIP/2.0/TCP [::1]:5061']) {
    req(via(ok));
  }
  for (const bad of [
    'SIP/2.0/UDP',
    'SIP/2.0 UDP h',
    'SIP/2.0/UDPh',
    'SIP/2.0/UDP h:',
    'SIP/2.0/UDP h:99999',
    'SIP/2.0/UDP 2001:db8::1',
    'SIP/2.0/UDP h;branch',
    'SIP/2.0/UDP h;received=host.example.com',
    'SIP/2.0/UDP h;rport=x',
    'SIP/2.0/UDP h;ttl=256',
    'SIP/2.0/UDP h;maddr=-x-',
    'SIP/2.0/UDP h,',
    'SIP/2.0/UDP h,,SIP/2.0/UDP h',
    'SIP/2.0/UDP h;branch=a;branch=b',
  ]) {
    refused(via(bad), 'bad-header');
  }
});

test('single-valued headers given twice are refused (RFC 4475 mcl01, multi01)', () => {
  refused(basic(['Content-Length: 0', 'Content-Length: 0']), 'duplicate-header');
  refused(basic(['l: 0', 'Content-Length: 0']), 'duplicate-header');
  refused(basic(['CSeq: 1 OPTIONS']), 'duplicate-header');
  refused(basic(['i: other']), 'duplicate-header');
  refused(basic(['f: <sip:x@y.z>']), 'duplicate-header');
  refused(basic(['t: <sip:x@y.z>']), 'duplicate-header');
  refused(basic(['Max-Forwards: 70']), 'duplicate-header');
  refused(basic(['Expires: 1', 'Expires: 1']), 'duplicate-header');
  // ...but a repeated User-Agent is tolerated (sipsak --headers writes two): the first one counts.
  assert.deepEqual(parseMessage(basic(['User-Agent: a', 'User-Agent: b'])).userAgent, { products: [{ name: 'a' }] });
});

test('scalar values out of range (RFC 4475 scalar02) are refused', () => {
  refused(basic([]).replace('CSeq: 1 OPTIONS', 'CSeq: 36893488147419103232 OPTIONS'), 'bad-header');
  refused(basic([]).replace('CSeq: 1 OPTIONS', 'CSeq: 2147483648 OPTIONS'), 'bad-header');
  assert.equal(req(basic([]).replace('CSeq: 1 OPTIONS', 'CSeq: 2147483647 OPTIONS')).cseq?.seq, 2147483647);
  refused(basic([]).replace('Max-Forwards: 70', 'Max-Forwards: 300'), 'bad-header');
  refused(basic(['Expires: 10000000000000000000000']), 'bad-header');
  refused(basic(['Contact: <sip:a@b.c>;expires=280297596632815']), 'bad-header');
});

test('Content-Length: bad values, RFC 4475 ncl (negative) and clerr (larger than the body)', () => {
  for (const v of ['-999', 'abc', '1.5', '', '0x10', '99999999999', '1 2', '\u00a05', '5\ufeff', '\u0665']) refused(basic([`Content-Length: ${v}`]), 'bad-content-length');
  refused(basic(['Expires: \u00a060']), 'bad-header');
  const e = refused(basic(['Content-Length: 9999'], 'short body'), 'body-truncated');
  assert.equal(e.partial?.type, 'request', 'the parsed message travels with the error so a 400 can be sent');
  assert.equal(e.partial?.body.toString(), 'short body');
});

test('framing violations: truncated, bare LF, bare CR, NUL, control characters, invalid UTF-8', () => {
  const good = basic(['Content-Length: 0']);
  refused('', 'empty');
  refused('\r\n\r\n', 'empty');
  refused(good.slice(0, good.length - 2), 'truncated');
  refused(good.slice(0, 20), 'truncated');
  refused(good.slice(0, good.length - 1), 'truncated');
  refused(good.replace('\r\nTo:', '\nTo:'), 'bad-line-ending');
  refused(good.replace('\r\nTo:', '\rTo:'), 'bad-line-ending');
  refused(good.replace('Max-Forwards: 70', 'Max-Forwards: 7\u00000'), 'nul-byte');
  refused('\u0000' + good, 'nul-byte');
  refused(good.replace('Max-Forwards: 70', 'Max-Forwards: 70\u001b[31m'), 'control-char');
  refused(good.replace('Max-Forwards: 70', 'Max-Forwards: 70\u007f'), 'control-char');
  const latin1 = Buffer.concat([Buffer.from(basic(['Subject: caf'])), Buffer.alloc(0)]);
  const i = latin1.indexOf('caf') + 3;
  const withE9 = Buffer.concat([latin1.subarray(0, i), Buffer.from([0xe9]), latin1.subarray(i)]);
  refused(withE9, 'bad-utf8');
  refused(Buffer.concat([Buffer.from('OPTIONS sip:a@b.c SIP/2.0\r\nSubject: '), Buffer.from([0xc0, 0xaf]), Buffer.from('\r\n\r\n')]), 'bad-utf8', {});
  refused(Buffer.concat([Buffer.from('OPTIONS sip:a@b.c SIP/2.0\r\nSubject: '), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('\r\n\r\n')]), 'bad-utf8', {});
});

test('header lines: missing colon, non-token names, continuation without a field', () => {
  refused(basic(['NoColonHere']), 'bad-header-name');
  refused(basic(['Bad Name: x']), 'bad-header-name');
  refused(basic(['Bad(Name): x']), 'bad-header-name');
  refused(basic([': empty name']), 'bad-header-name');
  refused('OPTIONS sip:a@b.c SIP/2.0\r\n folded: start\r\n\r\n', 'bad-header');
  // whitespace before the colon is allowed (HCOLON)
  assert.equal(req(basic(['Subject \t : hi'])).headers.at(-1)?.value, 'hi');
});

test('binary garbage is refused quickly and only with SipParseError', () => {
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  for (let n = 0; n < 200; n++) {
    const buf = Buffer.alloc(1 + (n * 37) % 3000, 0).map(() => rnd());
    assert.throws(() => parseMessage(buf), SipParseError);
  }
  assert.throws(() => parseMessage(Buffer.from('\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03', 'latin1')), SipParseError, 'a TLS ClientHello');
  assert.throws(() => parseMessage('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), SipParseError, 'an HTTP request');
});

// ------------------------------------------------------------------------------------ limits

test('limits: message size, header count, line length (defaults and custom)', () => {
  refused(basic(['Content-Length: 65400'], 'x'.repeat(65400)), 'too-large');
  assert.equal(req(basic([`Content-Length: 60000`], 'x'.repeat(60000))).body.length, 60000);
  refused(basic([`Subject: ${'x'.repeat(8200)}`]), 'line-too-long');
  assert.equal(req(basic([`Subject: ${'x'.repeat(8000)}`])).headers.at(-1)?.value.length, 8000);
  const many = (n: number) => basic(Array.from({ length: n }, (_, i) => `X-H${i}: v`));
  req(many(94)); // 6 base headers + 94 = 100
  refused(many(95), 'too-many-headers');
  req(basic([]), { maxHeaders: 6 });
  refused(basic(['Subject: hi']), 'too-many-headers', { maxHeaders: 6 });
  refused(basic([], 'x'), 'too-large', { maxMessageSize: 100 });
  refused(basic([]), 'line-too-long', { maxLineLength: 40 });
  // folded lines count with their field; the unfolded field is held to the line limit too
  req(basic(['Subject: a', ...Array.from({ length: 500 }, () => ' b')]));
  refused(basic(['Subject: a', ...Array.from({ length: 300 }, () => ' ' + 'b'.repeat(30))]), 'line-too-long');
  assert.throws(() => parseMessage(basic([]), { maxHeaders: 0 }), RangeError);
});

test('pathological inputs are refused at the limit they break, or parsed', () => {
  // the parser stops where the limit is crossed (the error's offset), it does not read on:
  // header 101 starts line 101, an over-long line is refused at its start
  const lineStart = (s: string, n: number) => s.split('\r\n').slice(0, n).reduce((at, l) => at + l.length + 2, 0);
  const stopsAt = (s: string, reason: SipParseReason, line: number) => assert.equal(refused(s, reason).offset, lineStart(s, line), `${reason} at line ${line}`);
  stopsAt(basic(Array.from({ length: 20000 }, () => 'X: y')).slice(0, 65535), 'too-many-headers', 101);
  stopsAt('OPTIONS sip:a@b.c SIP/2.0\r\n' + 'X: y\r\n'.repeat(10000), 'too-many-headers', 101);
  stopsAt('OPTIONS sip:a@b.c SIP/2.0\r\nSubject: ' + 'a'.repeat(65000), 'line-too-long', 1);
  stopsAt('OPTIONS sip:a@b.c SIP/2.0\r\n' + 'a'.repeat(65000), 'line-too-long', 1);

  // With the line limit lifted, worst-case header values: parsed or refused with the right reason
  // (how fast is a benchmark's question, not a test's).
  const big = { maxLineLength: 65535 };
  const vias = Array.from({ length: 1500 }, (_, i) => `SIP/2.0/UDP h${i}.example.com;branch=z${i}`).join(',');
  assert.equal(req(basic([`Via: ${vias}`]), big).via.length, 1501);
  const manyParams = Array.from({ length: 7000 }, (_, i) => `;p${i}`).join('');
  const longContact = req(basic([`Contact: <sip:a@b.c>${manyParams}`]), big).contact;
  assert.equal(longContact?.star === false && longContact.contacts[0].params.size, 7000);
  refused(basic([`Contact: <sip:a@b.c>${manyParams};p0`]), 'bad-header', big);
  refused(basic([`Contact: "${'a'.repeat(60000)}`]), 'bad-header', big);
  refused(basic([`Contact: ${'<'.repeat(60000)}`]), 'bad-header', big);
  refused(basic([`Contact: ${'a '.repeat(30000)}`]), 'bad-uri', big);
  refused(basic([`Authorization: Digest ${Array.from({ length: 5000 }, (_, i) => `a${i}="\\""`).join(',')},`]), 'bad-header', big);
  refused(basic([`Contact: ${'<sip:a@b.c>,'.repeat(5000)}`]), 'bad-header', big);
  assert.equal(parseMessage(basic([`User-Agent: ${'(\\('.repeat(20000)}`]), big).userAgent, undefined);
  refused(basic([`Via: ${'SIP/2.0/UDP h;x="'.repeat(3000)}`]), 'bad-header', big);
});

// ------------------------------------------------------------------------------ round trip

function comparable(m: SipMessage): unknown {
  const { rawUri: _r, headers, contentLength: _c, extraBytes: _e, ...rest } = m as SipMessage & { rawUri?: string };
  return { ...rest, headers: headers.filter((h) => h.key !== 'content-length') };
}

test('serialize → parse gives the same message; a second round is byte-identical', () => {
  for (const text of [...VALID, INTMETH]) {
    const opts = { allowUriPassword: true };
    const m1 = parseMessage(text, opts);
    const s1 = serializeMessage(m1);
    const m2 = parseMessage(s1, opts);
    assert.deepEqual(comparable(m2), comparable(m1));
    assert.equal(m2.contentLength, m1.body.length);
    assert.deepEqual(serializeMessage(m2), s1);
  }
  const wsinv = serializeMessage(parseMessage(WSINV)).toString();
  assert.ok(wsinv.includes('cseq: 0009 INVITE\r\n'), 'folding undone');
  assert.ok(wsinv.includes('\r\ns:\r\n'), 'empty Subject kept');
});

test('serializer fixes Content-Length to the body unless told not to', () => {
  const m = parseMessage(basic(['Content-Length: 5', 'l: 5'].slice(0, 1), 'hello'));
  m.body = Buffer.from('hi');
  assert.ok(serializeMessage(m).toString().includes('Content-Length: 2\r\n'));
  assert.ok(serializeMessage(m, { contentLength: false }).toString().includes('Content-Length: 5\r\n'));
  const noCl = parseMessage(basic([], 'abc'));
  assert.ok(serializeMessage(noCl).toString().endsWith('Content-Length: 3\r\n\r\nabc'));
});

// --------------------------------------------------------------------------------- framing

test('frameStream: back-to-back messages, keep-alives, partial input', () => {
  const a = basic(['Content-Length: 5'], 'hello');
  const b = basic(['Content-Length: 0']);
  const buf = Buffer.from('\r\n\r\n' + a + b + b.slice(0, 30));
  const r1 = frameStream(buf);
  assert.equal(r1.skipped, 4);
  assert.equal(r1.error, undefined);
  assert.equal(r1.message?.toString(), a);
  const r2 = frameStream(r1.rest);
  assert.equal(r2.message?.toString(), b);
  const r3 = frameStream(r2.rest);
  assert.equal(r3.message, undefined);
  assert.equal(r3.error, undefined);
  assert.equal(r3.rest.toString(), b.slice(0, 30));
  assert.deepEqual(frameStream(Buffer.from('\r\n\r\n')), { rest: Buffer.alloc(0), skipped: 4 });
  assert.equal(parseMessage(r1.message!).body.toString(), 'hello');
});

test('frameStream: byte-at-a-time arrival yields exactly the messages', () => {
  const one = basic(['Content-Length: 150'], SDP_150);
  const text = Buffer.from(one + '\r\n\r\n' + one + 'NEXT');
  let pending: Buffer = Buffer.alloc(0);
  const got: string[] = [];
  for (let i = 0; i < text.length; i++) {
    pending = Buffer.concat([pending, text.subarray(i, i + 1)]);
    const r = frameStream(pending);
    assert.equal(r.error, undefined);
    if (r.message) got.push(r.message.toString());
    pending = r.rest;
  }
  assert.deepEqual(got, [one, one]);
  assert.equal(pending.toString(), 'NEXT');
});

test('frameStream: missing Content-Length, limits, bad header bytes → error, never a throw', () => {
  const reason = (buf: Buffer | string, opts = {}) => frameStream(Buffer.from(buf), opts).error?.reason;
  assert.equal(reason(basic([])), 'missing-content-length');
  assert.equal(reason(basic(['Content-Length: 1', 'l: 1'])), 'duplicate-header');
  assert.equal(reason(basic(['Content-Length: x'])), 'bad-content-length');
  assert.equal(reason(basic(['Content-Length: 70000'])), 'too-large');
  assert.equal(reason('OPTIONS sip:a@b.c SIP/2.0\r\n' + 'X: y\r\n'.repeat(12000)), 'too-large');
  assert.equal(reason('OPTIONS sip:a@b.c SIP/2.0\r\nSubject: ' + 'a'.repeat(9000)), 'line-too-long');
  assert.equal(reason(basic(['Content-Length: 0', 'X: \u0000'])), 'nul-byte');
  assert.equal(reason(basic(['Content-Length: 0', 'X: a\nb'])), 'bad-line-ending');
  assert.equal(reason(basic(Array.from({ length: 200 }, () => 'X: y').concat('Content-Length: 0'))), 'too-many-headers');
  assert.equal(reason(basic(['Content-Length: 10']), { maxMessageSize: 200 }), 'too-large');
  // folded Content-Length and compact form are found
  const folded = frameStream(Buffer.from(basic(['l:', ' 3'], 'abcXYZ')));
  assert.equal(folded.message?.toString().endsWith('abc'), true);
  assert.equal(folded.rest.toString(), 'XYZ');
});

// ------------------------------------------------------------------------------------ fuzz

/** mulberry32: small, fast, seedable. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SPECIAL = [0x00, 0x0d, 0x0a, 0x20, 0x09, 0x3a, 0x3b, 0x2c, 0x3c, 0x3e, 0x22, 0x5c, 0x40, 0x5b, 0x5d, 0x25, 0x3d, 0x2a, 0x28, 0x29, 0x2f, 0xff, 0xc3, 0x80, 0x7f, 0x30, 0x39];
const SNIPPETS = ['\r\n', '\r\n ', '\r\n\r\n', ';', ',', '"', '\\', '<', '>', ':', '@', '[', ']', '%', '%4', '*', 'sip:', 'SIP/2.0', ';tag=', ';branch=', 'Contact: *\r\n', 'Content-Length: 99\r\n', 'l: 0\r\n', 'v: SIP/2.0/UDP h\r\n', '9999999999999', '-1'];

function mutate(base: Buffer, rnd: () => number): Buffer {
  let b = base;
  const pick = (n: number) => Math.floor(rnd() * n);
  const ops = 1 + pick(4);
  for (let k = 0; k < ops; k++) {
    const pos = pick(b.length + 1);
    switch (pick(10)) {
      case 0: { const c = Buffer.from(b); if (c.length) c[pick(c.length)] = pick(256); b = c; break; }
      case 1: { const c = Buffer.from(b); if (c.length) c[pick(c.length)] = SPECIAL[pick(SPECIAL.length)]; b = c; break; }
      case 2: b = Buffer.concat([b.subarray(0, pos), Buffer.of(SPECIAL[pick(SPECIAL.length)]), b.subarray(pos)]); break;
      case 3: b = Buffer.concat([b.subarray(0, pos), b.subarray(Math.min(b.length, pos + 1 + pick(16)))]); break;
      case 4: { const len = 1 + pick(64); const from = pick(b.length); b = Buffer.concat([b.subarray(0, pos), b.subarray(from, from + len), b.subarray(pos)]); break; }
      case 5: b = b.subarray(0, pos); break;
      case 6: b = Buffer.concat([b.subarray(0, pos), Buffer.from(SNIPPETS[pick(SNIPPETS.length)], 'latin1'), b.subarray(pos)]); break;
      case 7: { // repeat one line many times
        const start = b.lastIndexOf('\r\n', pos) + 2;
        const end = b.indexOf('\r\n', start);
        if (start >= 2 && end > start) b = Buffer.concat([b.subarray(0, start), Buffer.concat(Array(1 + pick(150)).fill(b.subarray(start, end + 2))), b.subarray(start)]);
        break;
      }
      case 8: { const len = 1 + pick(8); const r = Buffer.alloc(len); for (let i = 0; i < len; i++) r[i] = 0x20 + pick(95); b = Buffer.concat([b.subarray(0, pos), r, b.subarray(pos)]); break; }
      default: b = Buffer.concat([b.subarray(0, pos), Buffer.from(b.subarray(pos).toString('latin1').toUpperCase(), 'latin1')]); break; // case changes
    }
  }
  return b;
}

function show(b: Buffer): string {
  const s = b.toString('base64');
  return s.length > 3000 ? `${s.slice(0, 3000)}… (${b.length} bytes)` : s;
}

test('fuzz: 20,000 seeded mutations never throw anything but SipParseError, and accepted ones round-trip', (t) => {
  const rnd = prng(0x5eed5);
  const corpus = [...VALID, basic(['Content-Length: 0'])].map((s) => Buffer.from(s));
  let accepted = 0;
  let bytes = 0;
  let parseMs = 0;
  const reasons = new Map<string, number>();
  const t0 = performance.now();
  for (let n = 0; n < 20_000; n++) {
    const input = mutate(corpus[n % corpus.length], rnd);
    bytes += input.length;
    let m: SipMessage | undefined;
    const p0 = performance.now();
    try {
      m = parseMessage(input);
    } catch (e) {
      if (!(e instanceof SipParseError)) assert.fail(`case ${n}: ${String(e)}\ninput (base64): ${show(input)}`);
      reasons.set(e.reason, (reasons.get(e.reason) ?? 0) + 1);
    }
    parseMs += performance.now() - p0;
    const framed = frameStream(input);
    assert.ok(framed.error === undefined || framed.error instanceof SipParseError);
    if (m === undefined) continue;
    accepted++;
    let again: SipMessage;
    try {
      again = parseMessage(serializeMessage(m));
    } catch (e) {
      assert.fail(`case ${n}: accepted message does not re-parse after serialize: ${String(e)}\ninput (base64): ${show(input)}`);
    }
    assert.deepEqual(comparable(again), comparable(m), `case ${n}: round trip changed the message`);
  }
  const ms = performance.now() - t0;
  t.diagnostic(`20000 messages (${(bytes / 1e6).toFixed(1)} MB) in ${ms.toFixed(0)} ms: ${Math.round(20000 / (ms / 1000))} msg/s incl. framing and round trips; ${accepted} accepted`);
  t.diagnostic(`parseMessage alone: ${parseMs.toFixed(0)} ms, ${Math.round(20000 / (parseMs / 1000))} msg/s`);
  t.diagnostic(`refusals: ${[...reasons].sort((a, b) => b[1] - a[1]).map(([r, c]) => `${r}=${c}`).join(' ')}`);
  assert.ok(accepted > 500, 'mutations leave a fair share of valid messages');
  assert.ok(reasons.size >= 10, 'mutations reach many different refusals');
});

// --------------------------------------------------------------------------- StreamFramer

test('StreamFramer: same messages as frameStream whatever the segmentation', () => {
  const one = basic(['Content-Length: 150'], SDP_150);
  const two = basic(['l:', ' 0']);
  const stream = Buffer.from('\r\n\r\n' + one + '\r\n' + two + one + '\r\n\r\n' + two);
  const rnd = prng(42);
  for (let round = 0; round < 50; round++) {
    const f = new StreamFramer();
    const got: string[] = [];
    for (let i = 0; i < stream.length;) {
      const n = round === 0 ? 1 : 1 + Math.floor(rnd() * 300);
      for (const m of f.push(stream.subarray(i, i + n))) got.push(m.toString());
      i += n;
    }
    assert.deepEqual(got, [one, two, one, two], `round ${round}`);
    assert.equal(f.buffered, 0);
    assert.equal(f.keepaliveBytes, 10);
  }
});

test('StreamFramer: errors are SipParseErrors and final', () => {
  const err = (chunks: string[], opts = {}) => {
    const f = new StreamFramer(opts);
    try {
      for (const c of chunks) f.push(Buffer.from(c));
    } catch (e) {
      assert.ok(e instanceof SipParseError);
      assert.throws(() => f.push(Buffer.from(basic(['Content-Length: 0']))), (again: unknown) => again === e, 'dead after an error');
      return e.reason;
    }
    return undefined;
  };
  assert.equal(err([basic([])]), 'missing-content-length');
  assert.equal(err([basic(['Content-Length: 70000'])]), 'too-large');
  assert.equal(err(['OPTIONS sip:a@b.c SIP/2.0\r\nSubject: ', 'a'.repeat(5000), 'a'.repeat(5000)]), 'line-too-long');
  assert.equal(err(['OPTIONS sip:a@b.c SIP/2.0\r\n', ...Array.from({ length: 200 }, () => 'X-Header: yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\r\n'.repeat(5))]), 'too-large');
  assert.equal(err([basic(['Content-Length: 0', 'X: a\u0000b'])]), 'nul-byte');
  assert.equal(err(['\r', '\n\r\n', basic(['Content-Length: 0'])]), undefined, 'keep-alives split across segments');
});

test('StreamFramer: complete messages before bad bytes in the same chunk are returned, the error kept (issue 16)', () => {
  const ok = basic(['Content-Length: 0']);
  const f = new StreamFramer();
  const got = f.push(Buffer.from(ok + ok + 'GARBAGE\r\n\r\n'));
  assert.deepEqual(got.map((m) => m.toString()), [ok, ok]);
  assert.equal(f.error?.reason, 'missing-content-length', 'GARBAGE has no Content-Length');
  assert.throws(() => f.push(Buffer.from(ok)), (e: unknown) => e === f.error, 'dead after the error');
  // bad bytes alone: thrown at once, as before
  const g = new StreamFramer();
  assert.throws(() => g.push(Buffer.from('GARBAGE\r\n\r\n')), SipParseError);
  assert.ok(g.error instanceof SipParseError);
});

test('StreamFramer: one-byte segments are not re-scanned (bytes searched stay linear in the input)', () => {
  const big = Buffer.from(basic([`Subject: ${'s'.repeat(8000)}`, 'Content-Length: 50000'], 'b'.repeat(50000)));
  // count the bytes the framer's searches (indexOf / lastIndexOf) may examine: re-scanning
  // everything buffered on each push would be about n²/2, resuming where it stopped about n
  const { indexOf, lastIndexOf } = Buffer.prototype;
  let searched = 0;
  Buffer.prototype.indexOf = function (this: Buffer, value: any, from?: any, enc?: any) {
    const start = typeof from === 'number' ? (from < 0 ? Math.max(0, this.length + from) : Math.min(from, this.length)) : 0;
    searched += this.length - start;
    return indexOf.call(this, value, from, enc);
  } as typeof indexOf;
  Buffer.prototype.lastIndexOf = function (this: Buffer, value: any, from?: any, enc?: any) {
    searched += this.length;
    return lastIndexOf.call(this, value, from, enc);
  } as typeof lastIndexOf;
  let got = 0;
  try {
    const f = new StreamFramer();
    for (let i = 0; i < big.length; i++) got += f.push(big.subarray(i, i + 1)).length;
  } finally {
    Buffer.prototype.indexOf = indexOf;
    Buffer.prototype.lastIndexOf = lastIndexOf;
  }
  assert.equal(got, 1);
  assert.ok(searched < 20 * big.length, `${big.length} one-byte pushes searched ${searched} bytes`);
});
