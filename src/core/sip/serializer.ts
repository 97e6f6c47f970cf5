/**
 * SIP message and header serialization, the inverse of parser.ts and headers.ts.
 *
 * `serializeMessage` writes the start line and every header field in order as the message holds
 * them, so parse → serialize → parse gives the same message (folding and optional whitespace
 * normalised). The `format*` functions turn typed header values back into text; for each,
 * parse(format(parse(s))) equals parse(s).
 */
import type { AuthValue, CSeq, ContactHeader, HeaderField, HeaderParams, NameAddr, SipMessage, UserAgent, Via } from './message.js';
import { charSet, inSet, isToken } from './chars.js';
import { formatUri } from './uri.js';

export interface SerializeOptions {
  /**
   * Make Content-Length equal the body length (replacing the first Content-Length field, dropping
   * any others, appending one if absent). Default true: a stream peer needs it (RFC 3261 §18.3)
   * and a stale value would let the next message be smuggled into this one's body.
   */
  contentLength?: boolean;
}

/** The whole message as bytes. */
export function serializeMessage(msg: SipMessage, opts: SerializeOptions = {}): Buffer {
  const startLine = msg.type === 'request'
    ? `${msg.method} ${formatUri(msg.uri)} ${msg.version}`
    : `${msg.version} ${msg.status} ${msg.reason}`;
  let headers: HeaderField[] = msg.headers;
  if (opts.contentLength !== false) {
    const length = String(msg.body.length);
    let seen = false;
    headers = [];
    for (const f of msg.headers) {
      if (f.key !== 'content-length') headers.push(f);
      else if (!seen) {
        seen = true;
        headers.push({ ...f, value: length });
      }
    }
    if (!seen) headers.push({ name: 'Content-Length', key: 'content-length', value: length });
  }
  let text = startLine + '\r\n';
  for (const f of headers) text += f.value === '' ? `${f.name}:\r\n` : `${f.name}: ${f.value}\r\n`;
  text += '\r\n';
  return Buffer.concat([Buffer.from(text, 'utf8'), msg.body]);
}

/** A quoted-string with `"` and `\` escaped. */
export function quote(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    out += c === '"' || c === '\\' ? '\\' + c : c;
  }
  return out + '"';
}

/** Characters a parameter value may carry unquoted (gen-value: token or host). */
const BARE_VALUE = charSet("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~:[]");

function bareValue(v: string): boolean {
  if (v.length === 0) return false;
  for (let i = 0; i < v.length; i++) if (!inSet(BARE_VALUE, v.charCodeAt(i))) return false;
  return true;
}

/** `;name=value` for each header parameter; values that are not token/host are quoted. */
export function formatParams(params: HeaderParams): string {
  let s = '';
  for (const [name, value] of params) {
    if (value === null) s += `;${name}`;
    else s += `;${name}=${bareValue(value) ? value : quote(value)}`;
  }
  return s;
}

/** One or more via-parms, comma-separated. */
export function formatVia(via: Via | readonly Via[]): string {
  const list = Array.isArray(via) ? via : [via as Via];
  return list
    .map((v) => {
      const host = v.hostType === 'ipv6' ? `[${v.host}]` : v.host;
      return `${v.protocol}/${v.version}/${v.transport} ${host}${v.port === undefined ? '' : ':' + v.port}${formatParams(v.params)}`;
    })
    .join(', ');
}

/**
 * One Via as formatVia writes it, with the rport and received values a server fills in (RFC 3261
 * §18.2.1, RFC 3581): rport's value replaced where it stands (when `rport` is given), received
 * replaced where it stands or appended (when `received` is given; rport too) — what formatting a copy whose
 * params Map had them set gives, without copying the Via and its Map for every reply.
 */
export function formatViaFilled(v: Via, rport: string | undefined, received: string | undefined): string {
  const host = v.hostType === 'ipv6' ? `[${v.host}]` : v.host;
  let s = `${v.protocol}/${v.version}/${v.transport} ${host}${v.port === undefined ? '' : ':' + v.port}`;
  let rportDone = rport === undefined;
  let receivedDone = received === undefined;
  for (const [name, given] of v.params) {
    let value = given;
    if (rport !== undefined && name === 'rport') {
      value = rport;
      rportDone = true;
    } else if (received !== undefined && name === 'received') {
      value = received;
      receivedDone = true;
    }
    if (value === null) s += `;${name}`;
    else s += `;${name}=${bareValue(value) ? value : quote(value)}`;
  }
  if (!rportDone) s += `;rport=${rport}`;
  if (!receivedDone) s += `;received=${bareValue(received!) ? received : quote(received!)}`;
  return s;
}

/** name-addr, always with angle brackets (valid whatever the URI holds). */
export function formatNameAddr(na: NameAddr): string {
  const display = na.displayName === undefined ? '' : quote(na.displayName) + ' ';
  return `${display}<${formatUri(na.uri)}>${formatParams(na.params)}`;
}

export function formatContact(contact: ContactHeader): string {
  return contact.star ? '*' : contact.contacts.map(formatNameAddr).join(', ');
}

export function formatCSeq(cseq: CSeq): string {
  return `${cseq.seq} ${cseq.method}`;
}

/**
 * Parameters RFC 7616 / RFC 2617 write without quotes. `qop` is a token in credentials and a
 * quoted list in challenges.
 */
const UNQUOTED = new Set(['algorithm', 'stale', 'nc']);

/** credentials (kind 'credentials') or challenge (kind 'challenge') in wire form. */
export function formatAuth(v: AuthValue, kind: 'credentials' | 'challenge' = 'credentials'): string {
  const parts: string[] = [];
  for (const [name, value] of v.params) {
    const bare = (UNQUOTED.has(name) || (name === 'qop' && kind === 'credentials')) && isToken(value);
    parts.push(`${name}=${bare ? value : quote(value)}`);
  }
  return `${v.scheme} ${parts.join(', ')}`;
}

export function formatUserAgent(ua: UserAgent): string {
  return ua.products.map((p) => ('comment' in p ? `(${p.comment})` : p.version === undefined ? p.name : `${p.name}/${p.version}`)).join(' ');
}
