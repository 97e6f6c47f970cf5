/**
 * SIP messages for the parser tests. Those named after RFC 4475 ("SIP Torture Test Messages")
 * tests reproduce them byte for byte unless a comment says what was changed and why.
 */

/** Join lines with CRLF, end the header section, append the body. */
export function sipMessage(lines: string[], body = ''): string {
  return lines.join('\r\n') + '\r\n\r\n' + body;
}

export const SDP_150 = [
  'v=0',
  'o=mhandley 29739 7272939 IN IP4 192.0.2.3',
  's=-',
  'c=IN IP4 192.0.2.4',
  't=0 0',
  'm=audio 49217 RTP/AVP 0 12',
  'm=video 3227 RTP/AVP 31',
  'a=rtpmap:31 LPC',
  '',
].join('\r\n');

/** RFC 4475 §3.1.1.1 wsinv: A Short Tortuous INVITE. */
export const WSINV = sipMessage(
  [
    'INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0',
    'TO :',
    ' sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n',
    'from   : "J Rosenberg \\\\\\""       <sip:jdrosen@example.com>',
    '  ;',
    '  tag = 98asjd8',
    'MaX-fOrWaRdS: 0068',
    'Call-ID: wsinv.ndaksdj@192.0.2.1',
    'Content-Length   : 150',
    'cseq: 0009',
    '  INVITE',
    'Via  : SIP  /   2.0',
    ' /UDP',
    '    192.0.2.2;branch=390skdjuw',
    's :',
    'NewFangledHeader:   newfangled value',
    ' continued newfangled value',
    'UnknownHeaderWithUnusualValue: ;;,,;;,;',
    'Content-Type: application/sdp',
    'Route:',
    ' <sip:services.example.com;lr;unknownwith=value;unknown-no-value>',
    'v:  SIP  / 2.0  / TCP     spindle.example.com   ;',
    '  branch  =   z9hG4bK9ikj8  ,',
    ' SIP  /    2.0   / UDP  192.168.255.111   ; branch=',
    ' z9hG4bK30239',
    'm:"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =',
    '      newvalue ;',
    '  secondparam ; q = 0.33',
  ],
  SDP_150,
);

/**
 * RFC 4475 §3.1.1.2 intmeth: wide range of valid characters. Changed: the To display name of
 * the original holds a BEL, a NUL and a DEL (as quoted-pairs), replaced by letters here; the
 * original is INTMETH_ORIGINAL (those quoted-pairs parse; unescaped they are refused). The
 * Request-URI carries a password, so parsing needs allowUriPassword.
 */
export const INTMETH = sipMessage([
  "!interesting-Method0123456789_*+`.%indeed'~ sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0",
  "Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~",
  'To: "BEL:\\B NUL:\\N DEL:\\D" <sip:1_unusual.URI~(to-be!sure)&isn\'t+it$/crazy?,/;;*@example.com>',
  "From: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%=\"\u0440\u0430\u0431\u043e\u0442\u0430\u044e\u0449\u0438\u0439\";tag=_token~1'+`*%!-.",
  'Call-ID: intmeth.word%ZK-!.*_+\'@word`~)(><:\\/"][?}{',
  "CSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~",
  'Max-Forwards: 255',
  "extensionHeader-!.%*+_`'~:\ufeff\u5927\u505c\u96fb",
  'Content-Length: 0',
]);

export const INTMETH_ORIGINAL = INTMETH.replace('BEL:\\B NUL:\\N DEL:\\D', 'BEL:\\\u0007 NUL:\\\u0000 DEL:\\\u007f');

/** RFC 4475 §3.1.1.3 esc01: valid use of the % escaping mechanism. */
export const ESC01 = sipMessage(
  [
    'INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0',
    'To: sip:%75se%72@example.com',
    'From: <sip:I%20have%20spaces@example.net>;tag=938',
    'Max-Forwards: 87',
    'i: esc01.239409asdfakjkn23onasd0-3234',
    'CSeq: 234234 INVITE',
    'Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bKkdjuw',
    'C: application/sdp',
    'Contact:',
    '  <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>',
    'Content-Length: 150',
  ],
  SDP_150.replace('192.0.2.3', '192.0.2.1').replace('192.0.2.4', '192.0.2.1'),
);

/** RFC 4475 §3.1.1.4 escnull: escaped NULs in URIs. */
export const ESCNULL = sipMessage([
  'REGISTER sip:example.com SIP/2.0',
  'To: sip:null-%00-null@example.com',
  'From: sip:null-%00-null@example.com;tag=839923423',
  'Max-Forwards: 70',
  'Call-ID: escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd',
  'CSeq: 14398234 REGISTER',
  'Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw',
  'Contact: <sip:%00@host5.example.com>',
  'Contact: <sip:%00%00@host5.example.com>',
  'L:0',
]);

/** RFC 4475 §3.1.1.5 esc02: use of % when it is not an escape. */
export const ESC02 = sipMessage([
  'RE%47IST%45R sip:registrar.example.com SIP/2.0',
  'To: "%Z%45" <sip:resource@example.com>',
  'From: "%Z%45" <sip:resource@example.com>;tag=f232jadfj23',
  'Call-ID: esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf',
  'Via: SIP/2.0/TCP host.example.com;branch=z9hG4bK209%fzsnel234',
  'CSeq: 29344 RE%47IST%45R',
  'Max-Forwards: 70',
  'Contact: <sip:alias1@host1.example.com>',
  'C%6Fntact: <sip:alias2@host2.example.com>',
  'Contact: <sip:alias3@host3.example.com>',
  'l: 0',
]);

/** RFC 4475 §3.1.1.6 lwsdisp: no LWS between display name and "<". */
export const LWSDISP = sipMessage([
  'OPTIONS sip:user@example.com SIP/2.0',
  'To: sip:user@example.com',
  'From: caller<sip:caller@example.com>;tag=323',
  'Max-Forwards: 70',
  'Call-ID: lwsdisp.1234abcd@funky.example.com',
  'CSeq: 60 OPTIONS',
  'Via: SIP/2.0/UDP funky.example.com;branch=z9hG4bKkdjuw',
  'l: 0',
]);

/** Not from RFC 4475: a REGISTER with digest credentials, the kind of message sipd will see most. */
export const REGISTER_AUTH = sipMessage([
  'REGISTER sip:example.com SIP/2.0',
  'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport',
  'Max-Forwards: 70',
  'To: "Alice" <sip:alice@example.com>',
  'From: "Alice" <sip:alice@example.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710@pc33.example.com',
  'CSeq: 314160 REGISTER',
  'Contact: <sip:alice@192.0.2.10:5060;transport=udp>;expires=3600;q=0.7, <sip:alice@[2001:db8::10]>;q=1.0',
  'Expires: 7200',
  'Authorization: Digest username="alice", realm="example.com", nonce="abc\\"def", uri="sip:example.com", response="0123456789abcdef0123456789abcdef", algorithm=MD5, qop=auth, nc=00000001, cnonce="x,y"',
  'User-Agent: Linphone/5.2.0 (belle-sip/5.2.0) Ubuntu(22.04)',
  'Supported: path, outbound',
  'Content-Length: 0',
]);

/** A 401 with two challenges (SHA-256 then MD5), several Via lines and an IPv6 received. */
export const RESPONSE_401 = sipMessage([
  'SIP/2.0 401 Unauthorized',
  'Via: SIP/2.0/UDP [2001:db8::9:1]:5060;branch=z9hG4bKas;received=2001:db8::9:255;rport=5061',
  'Via: SIP/2.0/TCP proxy.example.com;branch=z9hG4bK1, SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bK2;received=[2001:db8::1]',
  'To: <sip:alice@example.com>;tag=37GkEhwl6',
  'From: <sip:alice@example.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710@pc33.example.com',
  'CSeq: 314160 REGISTER',
  'WWW-Authenticate: Digest realm="example.com", nonce="n1", algorithm=SHA-256, qop="auth"',
  'WWW-Authenticate: Digest realm="example.com", nonce="n2", algorithm=MD5, qop="auth", stale=true',
  'Server: sipd/0.1',
  'Content-Length: 0',
]);

/** RFC 4475 §3.1.1.10 (dblreq): a REGISTER followed by an INVITE in the same datagram. */
export const DBLREQ = sipMessage([
  'REGISTER sip:example.com SIP/2.0',
  'To: sip:j.user@example.com',
  'From: sip:j.user@example.com;tag=43251j3j324',
  'Max-Forwards: 8',
  'I: dblreq.0ha0isndaksdj99sdfafnl3lk233412',
  'Contact: sip:j.user@host.example.com',
  'CSeq: 8 REGISTER',
  'Via: SIP/2.0/UDP 192.0.2.125;branch=z9hG4bKkdjuw23492',
  'Content-Length: 0',
]) + sipMessage(
  [
    'INVITE sip:joe@example.com SIP/2.0',
    't: sip:joe@example.com',
    'From: sip:caller@example.net;tag=141334',
    'Max-Forwards: 8',
    'Call-ID: dblreq.0ha0isnda977644900765@192.0.2.15',
    'CSeq: 8 INVITE',
    'Via: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKkdjuw380234',
    'Content-Type: application/sdp',
    'Content-Length: 150',
  ],
  SDP_150,
);

/** Every valid message above that parses with default options (the fuzz corpus). */
export const VALID = [WSINV, ESC01, ESCNULL, ESC02, LWSDISP, REGISTER_AUTH, RESPONSE_401, DBLREQ];
