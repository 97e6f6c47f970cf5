/**
 * URIs as SIP carries them: SIP and SIPS URIs (RFC 3261 §19.1, grammar §25.1), tel URIs
 * (RFC 3966) and any other absoluteURI kept opaque (RFC 3261 §25.1 `absoluteURI`), so that a
 * request for an unknown scheme parses and the sanity module can answer 416 to it.
 *
 * Components are stored as they appear on the wire (escapes kept); `unescape` turns one into
 * text when that is wanted (user lookups). Parameter names are identifiers: Map keys with escapes
 * decoded and case folded (RFC 3261 §19.1.4 compares them case-insensitively, RFC 4475 esc01
 * escapes "lr"); a parameter given twice is refused rather than guessed at. So
 * `formatUri(parseUri(s))` equals `s` up to the case of the scheme and of parameter names and
 * escapes in those names, and parsing it again gives the same URI.
 */
import { isIPv6 } from 'node:net';
import {
  ALPHAS, DIGITS, HEXDIGS, HNVCHAR, HOSTCHAR, PARAMCHAR, PASSWORD, SCHEME_TAIL, TELCHAR, TEL_PNAME, URIC, USER,
  type CharSet, firstInvalid, inSet,
} from './chars.js';
import { SipParseError, excerpt } from './sip-parse-error.js';

export type HostType = 'domain' | 'ipv4' | 'ipv6';

/** URI parameters: lower-case name → raw value (null for a parameter without "=value"). */
export type UriParams = Map<string, string | null>;

export interface SipUri {
  kind: 'sip';
  scheme: 'sip' | 'sips';
  /** user part, escaped as received; absent when the URI has no userinfo */
  user?: string;
  /** present only when parsed with `allowPassword` */
  password?: string;
  /** host without IPv6 brackets */
  host: string;
  hostType: HostType;
  port?: number;
  params: UriParams;
  /** `?name=value&…` headers in order, escaped as received */
  headers: Array<[string, string]>;
}

export interface TelUri {
  kind: 'tel';
  scheme: 'tel';
  /** telephone-subscriber digits as received, e.g. "+1-201-555-0123" */
  number: string;
  /** true for a global number ("+" prefix) */
  global: boolean;
  params: UriParams;
}

/** Any other absoluteURI (im:, mailto:, http:, urn:…), kept opaque. */
export interface AbsoluteUri {
  kind: 'absolute';
  /** lower case */
  scheme: string;
  /** everything after the first colon */
  opaque: string;
}

export type Uri = SipUri | TelUri | AbsoluteUri;

export interface UriOptions {
  /**
   * Accept a password in a SIP URI (`sip:user:secret@host`). RFC 3261 §19.1.1 says its use is
   * NOT RECOMMENDED: it puts a cleartext secret into every log and Record-Route. Refused with
   * reason `uri-password` unless set.
   */
  allowPassword?: boolean;
}

function bad(text: string, why: string): SipParseError {
  return new SipParseError('bad-uri', `bad URI ${excerpt(text)}: ${why}`);
}

/** Longest accepted URI; header and line limits bound it earlier in practice. */
const MAX_URI_LENGTH = 8192;

/** Parse a URI (the whole of `text`). Throws SipParseError ('bad-uri' or 'uri-password'). */
export function parseUri(text: string, opts: UriOptions = {}): Uri {
  if (text.length === 0) throw bad(text, 'empty');
  if (text.length > MAX_URI_LENGTH) throw bad(text, `longer than ${MAX_URI_LENGTH} characters`);
  if (!inSet(ALPHAS, text.charCodeAt(0))) throw bad(text, 'scheme must start with a letter');
  let i = 1;
  while (i < text.length && inSet(SCHEME_TAIL, text.charCodeAt(i))) i++;
  if (i >= text.length || text.charCodeAt(i) !== 0x3a /* : */) throw bad(text, 'no scheme');
  const scheme = text.slice(0, i).toLowerCase();
  const rest = text.slice(i + 1);
  if (scheme === 'sip' || scheme === 'sips') return parseSipUri(text, scheme, rest, opts);
  if (scheme === 'tel') return parseTelUri(text, rest);
  if (rest.length === 0) throw bad(text, 'nothing after the scheme');
  const at = firstInvalid(rest, URIC, true);
  if (at !== -1) throw bad(text, `character ${excerpt(rest[at], 4)} not allowed`);
  return { kind: 'absolute', scheme, opaque: rest };
}

function parseSipUri(text: string, scheme: 'sip' | 'sips', s: string, opts: UriOptions): SipUri {
  let pos = 0;
  let user: string | undefined;
  let password: string | undefined;
  // '@' is legal only as the end of userinfo (escaped everywhere else), so the first one ends it.
  const at = s.indexOf('@');
  if (at !== -1) {
    const colon = s.indexOf(':');
    const userEnd = colon !== -1 && colon < at ? colon : at;
    user = s.slice(0, userEnd);
    if (user.length === 0) throw bad(text, 'empty user part');
    const u = firstInvalid(user, USER, true);
    if (u !== -1) throw bad(text, `character ${excerpt(user[u], 4)} not allowed in the user part`);
    if (userEnd !== at) {
      password = s.slice(userEnd + 1, at);
      const p = firstInvalid(password, PASSWORD, true);
      if (p !== -1) throw bad(text, 'character not allowed in the password');
      if (!opts.allowPassword) {
        throw new SipParseError('uri-password', 'SIP URI carries a password (RFC 3261 §19.1.1: NOT RECOMMENDED); refused');
      }
    }
    pos = at + 1;
  }

  // host
  let host: string;
  let hostType: HostType;
  if (s.charCodeAt(pos) === 0x5b /* [ */) {
    const close = s.indexOf(']', pos);
    if (close === -1) throw bad(text, 'unclosed IPv6 reference');
    const t = validateHost(s.slice(pos, close + 1));
    if (t !== 'ipv6') throw bad(text, 'invalid IPv6 reference');
    host = s.slice(pos + 1, close);
    hostType = t;
    pos = close + 1;
  } else {
    const start = pos;
    while (pos < s.length && inSet(HOSTCHAR, s.charCodeAt(pos))) pos++;
    host = s.slice(start, pos);
    const t = validateHost(host);
    if (t === undefined) throw bad(text, host === '' ? 'no host' : `invalid host ${excerpt(host)}`);
    hostType = t;
  }

  // port
  let port: number | undefined;
  if (s.charCodeAt(pos) === 0x3a /* : */) {
    pos++;
    const start = pos;
    while (pos < s.length && inSet(DIGITS, s.charCodeAt(pos))) pos++;
    port = parsePort(s.slice(start, pos));
    if (port === undefined) throw bad(text, 'invalid port');
  }

  // uri-parameters
  const params: UriParams = new Map();
  pos = parseParams(text, s, pos, params, true);

  // headers
  const headers: Array<[string, string]> = [];
  if (s.charCodeAt(pos) === 0x3f /* ? */) {
    do {
      pos++;
      const nameEnd = scanRun(s, pos, HNVCHAR);
      if (nameEnd === pos) throw bad(text, 'empty header name');
      if (s.charCodeAt(nameEnd) !== 0x3d /* = */) throw bad(text, 'header without "="');
      const valueEnd = scanRun(s, nameEnd + 1, HNVCHAR);
      headers.push([s.slice(pos, nameEnd), s.slice(nameEnd + 1, valueEnd)]);
      pos = valueEnd;
    } while (s.charCodeAt(pos) === 0x26 /* & */);
  }

  if (pos !== s.length) throw bad(text, `unexpected ${excerpt(s[pos], 4)}`);
  const uri: SipUri = { kind: 'sip', scheme, host, hostType, params, headers };
  if (user !== undefined) uri.user = user;
  if (password !== undefined) uri.password = password;
  if (port !== undefined) uri.port = port;
  return uri;
}

function parseTelUri(text: string, s: string): TelUri {
  let pos = 0;
  while (pos < s.length && inSet(TELCHAR, s.charCodeAt(pos))) pos++;
  const number = s.slice(0, pos);
  if (!validTelNumber(number)) throw bad(text, 'invalid telephone-subscriber');
  const params: UriParams = new Map();
  pos = parseParams(text, s, pos, params, false);
  if (pos !== s.length) throw bad(text, `unexpected ${excerpt(s[pos], 4)}`);
  return { kind: 'tel', scheme: 'tel', number, global: number.startsWith('+'), params };
}

/**
 * RFC 3966: global-number-digits = "+" *phonedigit DIGIT *phonedigit;
 * local-number-digits = *phonedigit-hex (HEXDIG / "*" / "#") *phonedigit-hex.
 */
function validTelNumber(n: string): boolean {
  if (n.length === 0) return false;
  const global = n.charCodeAt(0) === 0x2b;
  let significant = 0;
  for (let i = global ? 1 : 0; i < n.length; i++) {
    const c = n.charCodeAt(i);
    if (c === 0x2b) return false; // "+" only as the first character
    const isDigit = inSet(DIGITS, c);
    if (global) {
      if (isDigit) significant++;
      else if (!(c === 0x2d || c === 0x2e || c === 0x28 || c === 0x29)) return false; // visual separators only
    } else if (isDigit || inSet(HEXDIGS, c) || c === 0x2a || c === 0x23) {
      significant++;
    }
  }
  return significant > 0;
}

/**
 * `*( ";" name [ "=" value ] )` from `pos` into `params`; returns where the run ends. SIP's
 * uri-parameters (RFC 3261 §25.1) and tel's parameters (RFC 3966 §3) share this grammar and its
 * checks (no empty name or value, no name twice); they differ only in the name: `sip` names are
 * paramchar with escapes, decoded ("%6C%72" is "lr", RFC 4475 esc01), tel's pname is
 * alphanum / "-" with no escapes. Names are identifiers, so case-folded.
 */
function parseParams(text: string, s: string, pos: number, params: UriParams, sipNames: boolean): number {
  while (s.charCodeAt(pos) === 0x3b /* ; */) {
    pos++;
    const nameEnd = sipNames ? scanRun(s, pos, PARAMCHAR) : scanRun(s, pos, TEL_PNAME, false);
    if (nameEnd === pos) throw bad(text, 'empty parameter name');
    const raw = s.slice(pos, nameEnd);
    const name = (sipNames ? unescape(raw) : raw).toLowerCase();
    pos = nameEnd;
    let value: string | null = null;
    if (s.charCodeAt(pos) === 0x3d /* = */) {
      pos++;
      const valueEnd = scanRun(s, pos, PARAMCHAR);
      if (valueEnd === pos) throw bad(text, `empty value for parameter ${excerpt(name)}`);
      value = s.slice(pos, valueEnd);
      pos = valueEnd;
    }
    if (params.has(name)) throw bad(text, `parameter ${excerpt(name)} given twice`);
    params.set(name, value);
  }
  return pos;
}

/** End of the run of characters in `set` (and escapes, when allowed) starting at `from`. */
function scanRun(s: string, from: number, set: CharSet, escapes = true): number {
  let i = from;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (inSet(set, c)) {
      i++;
    } else if (escapes && c === 0x25 && i + 2 < s.length && inSet(HEXDIGS, s.charCodeAt(i + 1)) && inSet(HEXDIGS, s.charCodeAt(i + 2))) {
      i += 3;
    } else {
      break;
    }
  }
  return i;
}

/** 1*DIGIT within 0–65535; at most 5 digits. Undefined when not a port. */
export function parsePort(digits: string): number | undefined {
  if (digits.length === 0 || digits.length > 5) return undefined;
  for (let i = 0; i < digits.length; i++) if (!inSet(DIGITS, digits.charCodeAt(i))) return undefined;
  const n = Number(digits);
  return n <= 65535 ? n : undefined;
}

/**
 * Classify a host (RFC 3261 §25.1 `host`): hostname, IPv4address or IPv6reference (with its
 * brackets). Undefined when it is none of them. Zone identifiers ("%eth0") are not part of the
 * grammar and are refused.
 */
export function validateHost(h: string): HostType | undefined {
  if (h.length === 0 || h.length > 255) return undefined;
  if (h.charCodeAt(0) === 0x5b /* [ */) {
    if (h.charCodeAt(h.length - 1) !== 0x5d) return undefined;
    const inner = h.slice(1, -1);
    return inner.indexOf('%') === -1 && isIPv6(inner) ? 'ipv6' : undefined;
  }
  for (let i = 0; i < h.length; i++) if (!inSet(HOSTCHAR, h.charCodeAt(i))) return undefined;
  if (isIPv4(h)) return 'ipv4';
  return isHostname(h) ? 'domain' : undefined;
}

/** IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT, each at most 255. */
export function isIPv4(h: string): boolean {
  let parts = 0;
  let digits = 0;
  let value = 0;
  for (let i = 0; i <= h.length; i++) {
    const c = i < h.length ? h.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      if (digits === 0 || value > 255) return false;
      parts++;
      digits = 0;
      value = 0;
    } else if (inSet(DIGITS, c)) {
      if (++digits > 3) return false;
      value = value * 10 + (c - 48);
    } else {
      return false;
    }
  }
  return parts === 4;
}

/** hostname = *( domainlabel "." ) toplabel [ "." ]; labels of at most 63 characters. */
function isHostname(h: string): boolean {
  const name = h.endsWith('.') ? h.slice(0, -1) : h;
  if (name.length === 0) return false;
  const labels = name.split('.');
  for (const label of labels) {
    if (label.length === 0 || label.length > 63) return false;
    if (label.charCodeAt(0) === 0x2d || label.charCodeAt(label.length - 1) === 0x2d) return false;
  }
  return inSet(ALPHAS, labels[labels.length - 1].charCodeAt(0));
}

/** The URI in wire form. */
export function formatUri(uri: Uri): string {
  if (uri.kind === 'absolute') return `${uri.scheme}:${uri.opaque}`;
  if (uri.kind === 'tel') return `tel:${uri.number}${formatUriParams(uri.params)}`;
  let s = uri.scheme + ':';
  if (uri.user !== undefined) {
    s += uri.user;
    if (uri.password !== undefined) s += ':' + uri.password;
    s += '@';
  }
  s += uri.hostType === 'ipv6' ? `[${uri.host}]` : uri.host;
  if (uri.port !== undefined) s += ':' + uri.port;
  s += formatUriParams(uri.params);
  if (uri.headers.length > 0) s += '?' + uri.headers.map(([n, v]) => `${n}=${v}`).join('&');
  return s;
}

function formatUriParams(params: UriParams): string {
  let s = '';
  for (const [name, value] of params) {
    const n = escapeWith(name, PARAMCHAR);
    s += value === null ? `;${n}` : `;${n}=${value}`;
  }
  return s;
}

function escapeWith(text: string, set: CharSet): string {
  let plain = true;
  for (let i = 0; i < text.length && plain; i++) plain = inSet(set, text.charCodeAt(i));
  if (plain) return text;
  let out = '';
  for (const b of Buffer.from(text, 'utf8')) {
    out += b < 128 && set[b] === 1 ? String.fromCharCode(b) : '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** Percent-decode a URI component to text (UTF-8; invalid sequences become U+FFFD). */
export function unescape(component: string): string {
  if (component.indexOf('%') === -1) return component;
  const bytes: number[] = [];
  for (let i = 0; i < component.length; i++) {
    const c = component.charCodeAt(i);
    if (c === 0x25 && i + 2 < component.length && inSet(HEXDIGS, component.charCodeAt(i + 1)) && inSet(HEXDIGS, component.charCodeAt(i + 2))) {
      bytes.push(parseInt(component.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      for (const b of Buffer.from(component[i], 'utf8')) bytes.push(b);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Escape text for the user part of a SIP URI: characters outside `user` become %XX (UTF-8). */
export function escapeUser(text: string): string {
  return escapeWith(text, USER);
}

/** A URI parameter by name (case-insensitive); undefined when absent, null when valueless. */
export function uriParam(uri: Uri, name: string): string | null | undefined {
  return uri.kind === 'absolute' ? undefined : uri.params.get(name.toLowerCase());
}
