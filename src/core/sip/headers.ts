/**
 * Header names and the name → parser table (RFC 3261 §7.3, §20, grammar §25.1).
 *
 * Names are case-insensitive and may be written in compact form (RFC 3261 §7.3.3 and the
 * extensions that registered one); `headerKey` maps every spelling to one canonical key, the
 * long form in lower case. `HEADER_PARSERS` holds a parser for each structured header sipd acts
 * on; every other header is kept as text.
 *
 * All parsers work on the unfolded value (folding is undone by the message parser, so LWS is
 * a run of SP / HTAB here) with a single forward-moving Scanner: linear time, no regular
 * expressions, and a SipParseError naming the header for anything off-grammar.
 */
import type { AuthValue, CSeq, ContactHeader, ContactValue, FromTo, HeaderParams, NameAddr, UserAgent, Via } from './message.js';
import { DIGITS, HOSTCHAR, TOKEN, WORD, type CharSet, charSet, inSet, isToken, isWsp } from './chars.js';
import { SipParseError, excerpt } from './sip-parse-error.js';
import { type UriOptions, isIPv4, parsePort, parseUri, validateHost } from './uri.js';
import { isIPv6 } from 'node:net';

/** Compact form → canonical key. RFC 3261 §7.3.3 plus RFC 3265 (o, u), 3515 (r), 3841 (a, d, j), 3892 (b), 4028 (x), 4474 (n, y). */
const COMPACT = new Map<string, string>([
  ['a', 'accept-contact'],
  ['b', 'referred-by'],
  ['c', 'content-type'],
  ['d', 'request-disposition'],
  ['e', 'content-encoding'],
  ['f', 'from'],
  ['i', 'call-id'],
  ['j', 'reject-contact'],
  ['k', 'supported'],
  ['l', 'content-length'],
  ['m', 'contact'],
  ['n', 'identity-info'],
  ['o', 'event'],
  ['r', 'refer-to'],
  ['s', 'subject'],
  ['t', 'to'],
  ['u', 'allow-events'],
  ['v', 'via'],
  ['x', 'session-expires'],
  ['y', 'identity'],
]);

/** Canonical key → the spelling RFC 3261 uses, for headers whose title-casing is irregular. */
const DISPLAY = new Map<string, string>([
  ['call-id', 'Call-ID'],
  ['cseq', 'CSeq'],
  ['www-authenticate', 'WWW-Authenticate'],
  ['mime-version', 'MIME-Version'],
  ['rack', 'RAck'],
  ['rseq', 'RSeq'],
]);

/** The canonical key of a header name: long form, lower case ("V" → "via", "Call-Id" → "call-id"). */
export function headerKey(name: string): string {
  const common = COMMON_SPELLINGS.get(name);
  if (common !== undefined) return common;
  const lower = name.toLowerCase();
  return (lower.length === 1 && COMPACT.get(lower)) || lower;
}

/** The conventional spelling of a canonical key ("call-id" → "Call-ID", "max-forwards" → "Max-Forwards"). */
export function headerDisplayName(key: string): string {
  const known = DISPLAY.get(key);
  if (known !== undefined) return known;
  return key.split('-').map((p) => (p.length ? p[0].toUpperCase() + p.slice(1) : p)).join('-');
}

/** The compact form of a canonical key, if it has one. */
export function compactForm(key: string): string | undefined {
  for (const [short, long] of COMPACT) if (long === key) return short;
  return undefined;
}

/**
 * The spellings nearly every message uses, each with its key: the parser looks up every header
 * name, and this spares the common ones a lower-cased copy.
 */
const COMMON_SPELLINGS = (() => {
  const m = new Map<string, string>();
  const keys = ['via', 'from', 'to', 'call-id', 'cseq', 'contact', 'max-forwards', 'user-agent', 'expires', 'content-length', 'content-type', 'authorization', 'proxy-authorization', 'allow', 'supported', 'route', 'record-route', 'server', 'www-authenticate', 'proxy-authenticate', 'accept', 'event', 'require', 'path'];
  for (const k of keys) {
    m.set(k, k);
    m.set(headerDisplayName(k), k);
  }
  for (const [short, long] of COMPACT) {
    m.set(short, long);
    m.set(short.toUpperCase(), long);
  }
  return m;
})();

/** Options the structured parsers pass on to the URI parser. */
export type HeaderParseOptions = UriOptions;

// ---------------------------------------------------------------------------------------------
// Scanner

/** gen-value characters: token, host (with IPv6 brackets) and the bare IPv6 of via-received. */
const GENVALUE = charSet("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~:[]");

/** A forward-only cursor over one header value. */
export class Scanner {
  pos = 0;
  constructor(readonly s: string, readonly header: string) {}

  get eof(): boolean {
    return this.pos >= this.s.length;
  }

  peek(): number {
    return this.pos < this.s.length ? this.s.charCodeAt(this.pos) : -1;
  }

  /** The error to throw for an off-grammar value: `throw sc.err('why')`. */
  err(why: string): SipParseError {
    return new SipParseError('bad-header', `${this.header}: ${why}`, { header: this.header });
  }

  /** Skip SP / HTAB; true if any was skipped. */
  ws(): boolean {
    const start = this.pos;
    while (this.pos < this.s.length && isWsp(this.s.charCodeAt(this.pos))) this.pos++;
    return this.pos > start;
  }

  /** SWS c SWS (SEMI, COMMA, EQUAL, SLASH, COLON of RFC 3261 §25.1). */
  expect(c: number, what: string): void {
    this.ws();
    if (this.peek() !== c) throw this.err(`expected ${what}${this.eof ? ', found the end' : `, found ${excerpt(this.s[this.pos], 4)}`}`);
    this.pos++;
    this.ws();
  }

  /** If (after SWS) the next character is `c`, consume it and the SWS after it. */
  accept(c: number): boolean {
    const save = this.pos;
    this.ws();
    if (this.peek() === c) {
      this.pos++;
      this.ws();
      return true;
    }
    this.pos = save;
    return false;
  }

  /** The run of characters in `set` from here (possibly empty). */
  run(set: CharSet): string {
    const start = this.pos;
    while (this.pos < this.s.length && inSet(set, this.s.charCodeAt(this.pos))) this.pos++;
    return this.s.slice(start, this.pos);
  }

  token(what: string): string {
    const t = this.run(TOKEN);
    if (t.length === 0) throw this.err(`expected ${what}${this.eof ? '' : `, found ${excerpt(this.s[this.pos], 4)}`}`);
    return t;
  }

  /** 1*DIGIT as a number; at most `maxDigits` digits so the value stays exact. */
  digits(what: string, maxDigits = 10): number {
    const d = this.run(DIGITS);
    if (d.length === 0) throw this.err(`expected ${what}`);
    if (d.length > maxDigits) throw this.err(`${what} too long`);
    return Number(d);
  }

  /** quoted-string (RFC 3261 §25.1): DQUOTE *(qdtext / quoted-pair) DQUOTE; returns the text unescaped. */
  quoted(): string {
    if (this.peek() !== 0x22) throw this.err('expected a quoted string');
    this.pos++;
    // the text before `chunk`, once an escape was seen (most values have none: one slice, no joining)
    let before = '';
    let chunk = this.pos;
    while (this.pos < this.s.length) {
      const c = this.s.charCodeAt(this.pos);
      if (c === 0x22) {
        const last = this.s.slice(chunk, this.pos);
        this.pos++;
        return before.length === 0 ? last : before + last;
      }
      if (c === 0x5c /* \ */) {
        // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
        const next = this.pos + 1 < this.s.length ? this.s.charCodeAt(this.pos + 1) : -1;
        if (next < 0 || next > 0x7f || next === 0x0a || next === 0x0d) throw this.err('bad escape in quoted string');
        before += this.s.slice(chunk, this.pos);
        this.pos += 2;
        chunk = this.pos - 1;
        continue;
      }
      this.pos++;
    }
    throw this.err('unterminated quoted string');
  }

  /** *( SEMI generic-param ) into `into`; generic-param = token [ EQUAL gen-value ]. */
  params(into: HeaderParams): void {
    while (this.accept(0x3b /* ; */)) {
      const name = this.token('a parameter name').toLowerCase();
      let value: string | null = null;
      if (this.accept(0x3d /* = */)) value = this.genValue(name);
      if (into.has(name)) throw this.err(`parameter ${excerpt(name)} given twice`);
      into.set(name, value);
    }
  }

  /** gen-value = token / host / quoted-string */
  genValue(name: string): string {
    if (this.peek() === 0x22) return this.quoted();
    const v = this.run(GENVALUE);
    if (v.length === 0) throw this.err(`empty value for parameter ${excerpt(name)}`);
    return v;
  }

  /** Consume an optional COMMA between list elements; true if one was there. */
  comma(): boolean {
    return this.accept(0x2c /* , */);
  }

  end(): void {
    this.ws();
    if (!this.eof) throw this.err(`unexpected ${excerpt(this.s.slice(this.pos), 8)}`);
  }

  uri(text: string, opts: HeaderParseOptions): NameAddr['uri'] {
    try {
      return parseUri(text, opts);
    } catch (e) {
      if (e instanceof SipParseError) throw new SipParseError(e.reason, `${this.header}: ${e.message}`, { header: this.header });
      throw e;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Structured headers

/** delta-seconds = 1*DIGIT, at most 2**32-1 (RFC 3261 §20.19). */
const MAX_DELTA = 4_294_967_295;

/** Via = ( "Via" / "v" ) HCOLON via-parm *(COMMA via-parm) */
export function parseVia(value: string): Via[] {
  const sc = new Scanner(value, 'via');
  const list: Via[] = [];
  do {
    sc.ws();
    const protocol = sc.token('protocol-name');
    sc.expect(0x2f, '"/"');
    const version = sc.token('protocol-version');
    sc.expect(0x2f, '"/"');
    const transport = sc.token('transport').toUpperCase();
    if (!sc.ws()) throw sc.err('expected whitespace before sent-by');
    const { host, hostType } = sentByHost(sc);
    const via: Via = { protocol, version, transport, host, hostType, params: new Map() };
    if (sc.accept(0x3a /* : */)) {
      const port = parsePort(sc.run(DIGITS));
      if (port === undefined) throw sc.err('invalid sent-by port');
      via.port = port;
    }
    sc.params(via.params);
    checkViaParams(sc, via);
    list.push(via);
  } while (sc.comma());
  sc.end();
  return list;
}

function sentByHost(sc: Scanner): { host: string; hostType: 'domain' | 'ipv4' | 'ipv6' } {
  if (sc.peek() === 0x5b /* [ */) {
    const close = sc.s.indexOf(']', sc.pos);
    if (close === -1) throw sc.err('unclosed IPv6 reference');
    const ref = sc.s.slice(sc.pos, close + 1);
    if (validateHost(ref) !== 'ipv6') throw sc.err('invalid IPv6 reference');
    sc.pos = close + 1;
    return { host: ref.slice(1, -1), hostType: 'ipv6' };
  }
  const host = sc.run(HOSTCHAR);
  const t = validateHost(host);
  if (t === undefined) throw sc.err(host === '' ? 'expected sent-by host' : `invalid host ${excerpt(host)}`);
  return { host, hostType: t };
}

function checkViaParams(sc: Scanner, via: Via): void {
  const p = via.params;
  const branch = p.get('branch');
  if (branch !== undefined) {
    if (branch === null || !isToken(branch)) throw sc.err('branch must be a token');
    via.branch = branch;
  }
  const received = p.get('received');
  if (received !== undefined) {
    const ip = received !== null && received.startsWith('[') && received.endsWith(']') ? received.slice(1, -1) : received;
    if (ip === null || !(isIPv4(ip) || (ip.indexOf('%') === -1 && isIPv6(ip)))) throw sc.err('received must be an IP address');
    via.received = ip;
  }
  const rport = p.get('rport');
  if (rport !== undefined) {
    if (rport === null) via.rport = null;
    else {
      const port = parsePort(rport);
      if (port === undefined) throw sc.err('rport must be a port number');
      via.rport = port;
    }
  }
  const ttl = p.get('ttl');
  if (ttl !== undefined && (ttl === null || !/^[0-9]{1,3}$/.test(ttl) || Number(ttl) > 255)) throw sc.err('ttl must be 0-255');
  const maddr = p.get('maddr');
  if (maddr !== undefined && (maddr === null || validateHost(maddr) === undefined)) throw sc.err('maddr must be a host');
}

/**
 * ( name-addr / addr-spec ) *( SEMI param ). With `requireBrackets` only name-addr is allowed
 * (Route, Record-Route). An addr-spec ends at ";", "," or whitespace: RFC 3261 §20 requires a
 * URI containing any of ",;?" to be in angle brackets, so its parameters are header parameters.
 */
export function nameAddr(sc: Scanner, opts: HeaderParseOptions, requireBrackets = false): NameAddr {
  sc.ws();
  let displayName: string | undefined;
  const c = sc.peek();
  if (c === 0x22) {
    displayName = sc.quoted();
    sc.ws();
    if (sc.peek() !== 0x3c) throw sc.err('expected "<" after the display name');
  } else if (c !== 0x3c /* < */) {
    // display-name = *(token LWS): a run of tokens and whitespace followed by "<".
    const start = sc.pos;
    let p = start;
    let end = start;
    while (p < sc.s.length) {
      const ch = sc.s.charCodeAt(p);
      if (inSet(TOKEN, ch)) end = ++p;
      else if (isWsp(ch)) p++;
      else break;
    }
    if (end > start && sc.s.charCodeAt(p) === 0x3c) {
      displayName = sc.s.slice(start, end);
      sc.pos = p;
    } else {
      if (requireBrackets) throw sc.err('expected "<"');
      let q = start;
      while (q < sc.s.length) {
        const ch = sc.s.charCodeAt(q);
        if (ch === 0x3b || ch === 0x2c || isWsp(ch)) break;
        q++;
      }
      const text = sc.s.slice(start, q);
      if (text.length === 0) throw sc.err('expected a URI');
      if (text.indexOf('?') !== -1 || text.indexOf('<') !== -1 || text.indexOf('>') !== -1) throw sc.err('a URI with "?" must be in angle brackets');
      sc.pos = q;
      const uri = sc.uri(text, opts);
      const params: HeaderParams = new Map();
      sc.params(params);
      return { uri, params };
    }
  }
  // name-addr: "<" addr-spec ">"
  sc.pos++;
  const close = sc.s.indexOf('>', sc.pos);
  if (close === -1) throw sc.err('expected ">"');
  const uri = sc.uri(sc.s.slice(sc.pos, close), opts);
  sc.pos = close + 1;
  const params: HeaderParams = new Map();
  sc.params(params);
  const na: NameAddr = { uri, params };
  if (displayName !== undefined) na.displayName = displayName;
  return na;
}

/** From / To: one name-addr or addr-spec with parameters; tag must be a token. */
export function parseFromTo(value: string, header: 'from' | 'to', opts: HeaderParseOptions = {}): FromTo {
  const sc = new Scanner(value, header);
  const na: FromTo = nameAddr(sc, opts);
  sc.end();
  const tag = na.params.get('tag');
  if (tag !== undefined) {
    if (tag === null || !isToken(tag)) throw sc.err('tag must be a token');
    na.tag = tag;
  }
  return na;
}

/** Contact = ("Contact" / "m") HCOLON ( STAR / (contact-param *(COMMA contact-param))) */
export function parseContact(value: string, opts: HeaderParseOptions = {}): ContactHeader {
  const sc = new Scanner(value, 'contact');
  sc.ws();
  if (sc.peek() === 0x2a /* * */) {
    sc.pos++;
    sc.end();
    return { star: true };
  }
  const contacts: ContactValue[] = [];
  do {
    const c: ContactValue = nameAddr(sc, opts);
    const expires = c.params.get('expires');
    if (expires !== undefined) {
      const n = expires === null ? undefined : deltaSeconds(expires);
      if (n === undefined) throw sc.err('expires must be delta-seconds');
      c.expires = n;
    }
    const q = c.params.get('q');
    if (q !== undefined) {
      const n = q === null ? undefined : qvalue(q);
      if (n === undefined) throw sc.err('q must be a qvalue (0 to 1, at most three decimals)');
      c.q = n;
    }
    contacts.push(c);
  } while (sc.comma());
  sc.end();
  return { star: false, contacts };
}

/** delta-seconds = 1*DIGIT within 0 … 2**32-1; undefined otherwise. */
export function deltaSeconds(s: string): number | undefined {
  if (s.length === 0 || s.length > 10) return undefined;
  for (let i = 0; i < s.length; i++) if (!inSet(DIGITS, s.charCodeAt(i))) return undefined;
  const n = Number(s);
  return n <= MAX_DELTA ? n : undefined;
}

/** qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) */
export function qvalue(s: string): number | undefined {
  if (s.length === 0 || s.length > 5) return undefined;
  const lead = s.charCodeAt(0);
  if (lead !== 0x30 && lead !== 0x31) return undefined;
  if (s.length > 1) {
    if (s.charCodeAt(1) !== 0x2e) return undefined;
    for (let i = 2; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (lead === 0x31 ? c !== 0x30 : !inSet(DIGITS, c)) return undefined;
    }
  }
  return Number(s.endsWith('.') ? s.slice(0, -1) : s);
}

/** CSeq = "CSeq" HCOLON 1*DIGIT LWS Method; the number below 2**31 (RFC 3261 §8.1.1.5). */
export function parseCSeq(value: string): CSeq {
  const sc = new Scanner(value, 'cseq');
  sc.ws();
  const seq = sc.digits('sequence number');
  if (seq >= 2 ** 31) throw sc.err('sequence number must be below 2**31');
  if (!sc.ws()) throw sc.err('expected whitespace before the method');
  const method = sc.token('method');
  sc.end();
  return { seq, method };
}

/** Call-ID = ( "Call-ID" / "i" ) HCOLON callid; callid = word [ "@" word ] */
export function parseCallId(value: string): string {
  const sc = new Scanner(value, 'call-id');
  sc.ws();
  const first = sc.run(WORD);
  if (first.length === 0) throw sc.err('expected a word');
  if (sc.peek() === 0x40 /* @ */) {
    sc.pos++;
    if (sc.run(WORD).length === 0) throw sc.err('expected a word after "@"');
  }
  sc.end();
  return trimWsp(value);
}

/** Max-Forwards = "Max-Forwards" HCOLON 1*DIGIT, 0–255 (RFC 3261 §20.22). */
export function parseMaxForwards(value: string): number {
  const sc = new Scanner(value, 'max-forwards');
  sc.ws();
  const n = sc.digits('a number');
  if (n > 255) throw sc.err('must be 0-255');
  sc.end();
  return n;
}

/** The value without surrounding SP / HTAB (String.prototype.trim would also drop NBSP, U+FEFF…). */
function trimWsp(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isWsp(s.charCodeAt(a))) a++;
  while (b > a && isWsp(s.charCodeAt(b - 1))) b--;
  return s.slice(a, b);
}

/** Content-Length = ( "Content-Length" / "l" ) HCOLON 1*DIGIT */
export function parseContentLength(value: string): number {
  const d = trimWsp(value);
  if (d.length === 0 || d.length > 10) throw new SipParseError('bad-content-length', `content-length: ${d.length ? 'too long' : 'empty'}`, { header: 'content-length' });
  for (let i = 0; i < d.length; i++) {
    if (!inSet(DIGITS, d.charCodeAt(i))) throw new SipParseError('bad-content-length', `content-length: not a number: ${excerpt(d)}`, { header: 'content-length' });
  }
  return Number(d);
}

/** Expires = "Expires" HCOLON delta-seconds */
export function parseExpires(value: string): number {
  const n = deltaSeconds(trimWsp(value));
  if (n === undefined) throw new Scanner(value, 'expires').err('must be delta-seconds (0 to 2**32-1)');
  return n;
}

/**
 * credentials / challenge: auth-scheme LWS auth-param *(COMMA auth-param);
 * auth-param = auth-param-name EQUAL ( token / quoted-string ).
 * Used for Authorization, Proxy-Authorization, WWW-Authenticate and Proxy-Authenticate.
 */
export function parseAuth(value: string, header = 'authorization'): AuthValue {
  const sc = new Scanner(value, header);
  sc.ws();
  const scheme = sc.token('auth-scheme');
  if (!sc.ws()) throw sc.err('expected whitespace after the scheme');
  const params = new Map<string, string>();
  do {
    sc.ws();
    const name = sc.token('a parameter name').toLowerCase();
    sc.expect(0x3d, '"="');
    const v = sc.peek() === 0x22 ? sc.quoted() : sc.token(`a value for ${name}`);
    if (params.has(name)) throw sc.err(`parameter ${excerpt(name)} given twice`);
    params.set(name, v);
  } while (sc.comma());
  sc.end();
  return { scheme, params };
}

/** A comma-separated list of option tags (Require, Proxy-Require, Supported). */
export function parseTokenList(value: string, header: string): string[] {
  const sc = new Scanner(value, header);
  const list: string[] = [];
  do {
    sc.ws();
    list.push(sc.token('an option tag'));
  } while (sc.comma());
  sc.end();
  return list;
}

/** User-Agent / Server: server-val *(LWS server-val); server-val = product / comment. */
export function parseUserAgent(value: string, header = 'user-agent'): UserAgent {
  const sc = new Scanner(value, header);
  const products: UserAgent['products'] = [];
  sc.ws();
  while (!sc.eof) {
    if (sc.peek() === 0x28 /* ( */) {
      products.push({ comment: comment(sc) });
    } else {
      const name = sc.token('a product or comment');
      if (sc.accept(0x2f /* / */)) products.push({ name, version: sc.token('a product version') });
      else products.push({ name });
    }
    // RFC 3261 wants LWS between server-vals; many agents write "Foo/1.0(bar)", so a comment may follow directly.
    if (!sc.ws() && !sc.eof && sc.peek() !== 0x28 && sc.s.charCodeAt(sc.pos - 1) !== 0x29) throw sc.err(`unexpected ${excerpt(sc.s[sc.pos], 4)}`);
  }
  if (products.length === 0) throw sc.err('empty');
  return { products };
}

/** comment = LPAREN *(ctext / quoted-pair / comment) RPAREN; nesting bounded, iterative. */
function comment(sc: Scanner): string {
  const start = sc.pos;
  let depth = 0;
  while (sc.pos < sc.s.length) {
    const c = sc.s.charCodeAt(sc.pos);
    if (c === 0x28) {
      if (++depth > 16) throw sc.err('comments nested too deeply');
    } else if (c === 0x29) {
      if (--depth === 0) {
        sc.pos++;
        return sc.s.slice(start + 1, sc.pos - 1);
      }
    } else if (c === 0x5c) {
      sc.pos++;
      if (sc.pos >= sc.s.length) break;
    }
    sc.pos++;
  }
  throw sc.err('unterminated comment');
}

/** Every structured header and the type its parser returns (per header line). */
export interface ParsedHeaders {
  via: Via[];
  from: FromTo;
  to: FromTo;
  'call-id': string;
  cseq: CSeq;
  'max-forwards': number;
  'content-length': number;
  expires: number;
  contact: ContactHeader;
  authorization: AuthValue;
  'proxy-authorization': AuthValue;
  'www-authenticate': AuthValue;
  'proxy-authenticate': AuthValue;
  'proxy-require': string[];
  require: string[];
  supported: string[];
  'user-agent': UserAgent;
  server: UserAgent;
}

export type HeaderParser<T> = (value: string, opts: HeaderParseOptions) => T;

/** The name → parser table, keyed by canonical key. */
export const HEADER_PARSERS: { readonly [K in keyof ParsedHeaders]: HeaderParser<ParsedHeaders[K]> } = Object.freeze({
  via: (v) => parseVia(v),
  from: (v, o) => parseFromTo(v, 'from', o),
  to: (v, o) => parseFromTo(v, 'to', o),
  'call-id': (v) => parseCallId(v),
  cseq: (v) => parseCSeq(v),
  'max-forwards': (v) => parseMaxForwards(v),
  'content-length': (v) => parseContentLength(v),
  expires: (v) => parseExpires(v),
  contact: (v, o) => parseContact(v, o),
  authorization: (v) => parseAuth(v, 'authorization'),
  'proxy-authorization': (v) => parseAuth(v, 'proxy-authorization'),
  'www-authenticate': (v) => parseAuth(v, 'www-authenticate'),
  'proxy-authenticate': (v) => parseAuth(v, 'proxy-authenticate'),
  'proxy-require': (v) => parseTokenList(v, 'proxy-require'),
  require: (v) => parseTokenList(v, 'require'),
  supported: (v) => parseTokenList(v, 'supported'),
  'user-agent': (v) => parseUserAgent(v, 'user-agent'),
  server: (v) => parseUserAgent(v, 'server'),
});

/** Lookup by untrusted name goes through a Map, so "__proto__" or "constructor" is just unknown. */
const PARSER_TABLE: ReadonlyMap<string, HeaderParser<unknown>> = new Map(Object.entries(HEADER_PARSERS));

/** True if `name` (any spelling) has a structured parser. */
export function isStructuredHeader(name: string): boolean {
  return PARSER_TABLE.has(headerKey(name));
}

/** Parse a header value by name (any case, compact or long form). */
export function parseHeaderValue<K extends keyof ParsedHeaders>(name: K, value: string, opts?: HeaderParseOptions): ParsedHeaders[K];
export function parseHeaderValue(name: string, value: string, opts?: HeaderParseOptions): unknown;
export function parseHeaderValue(name: string, value: string, opts: HeaderParseOptions = {}): unknown {
  const parser = PARSER_TABLE.get(headerKey(name));
  return parser === undefined ? value : parser(value, opts);
}
