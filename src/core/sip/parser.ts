/**
 * The SIP message parser (RFC 3261 §7, §18.3, §20, grammar §25) and the stream framer.
 *
 * Strict and bounded by construction:
 * - size, header count and line length are checked while scanning, before any allocation that
 *   depends on them, so an oversized or endless message is refused after reading at most the
 *   limit (DEFAULT_LIMITS: 65,535 bytes, 100 header fields, 8,192 bytes per line);
 * - one pass over the bytes finds line ends and refuses NUL, other control characters, bare CR
 *   or LF, and (for non-ASCII) invalid UTF-8 in the start line and headers;
 * - each header value is parsed by the name → parser table in headers.ts with forward-only
 *   scanners: total work is linear in the message size, whatever its content;
 * - anything off-grammar throws SipParseError, and nothing else is thrown.
 */
import type { ContactHeader, HeaderField, ParserLimits, SipMessage, SipRequest, SipResponse } from './message.js';
import { DEFAULT_LIMITS } from './message.js';
import { DIGITS, inSet, isToken, isWsp } from './chars.js';
import { HEADER_PARSERS, type HeaderParseOptions, headerKey } from './headers.js';
import { SipParseError, excerpt } from './sip-parse-error.js';
import { type Uri, parseUri } from './uri.js';

export interface ParseOptions extends Partial<ParserLimits> {
  /** accept passwords in SIP URIs (refused by default, see uri.ts) */
  allowUriPassword?: boolean;
}

const CR = 0x0d;
const LF = 0x0a;
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The last limits resolveLimits checked (frozen, shared like DEFAULT_LIMITS). */
let lastLimits: Readonly<ParserLimits> = DEFAULT_LIMITS;

/** The limits in force: each given option replaces its default; nonsense values are refused. */
export function resolveLimits(opts: Partial<ParserLimits> = {}): ParserLimits {
  const maxMessageSize = opts.maxMessageSize ?? DEFAULT_LIMITS.maxMessageSize;
  const maxHeaders = opts.maxHeaders ?? DEFAULT_LIMITS.maxHeaders;
  const maxLineLength = opts.maxLineLength ?? DEFAULT_LIMITS.maxLineLength;
  // The daemon parses every message with the same options (sipd's config always sets them): the
  // limits checked last are reused while the values are the same, instead of a new object checked
  // again per message (0.6 % of a REGISTER's CPU in a profile).
  const last = lastLimits;
  if (maxMessageSize === last.maxMessageSize && maxHeaders === last.maxHeaders && maxLineLength === last.maxLineLength) return last;
  const limits: ParserLimits = { maxMessageSize, maxHeaders, maxLineLength };
  for (const [name, v] of Object.entries(limits)) {
    if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${name}: expected a positive integer, got ${String(v)}`);
  }
  lastLimits = Object.freeze(limits);
  return lastLimits;
}

function toBuffer(input: Buffer | Uint8Array | string): Buffer {
  if (typeof input === 'string') return Buffer.from(input, 'utf8');
  return Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
}

/** Where the start line and header lines are, and where the body starts. */
interface Head {
  /** physical lines as [start, end) byte offsets, flattened: start0, end0, start1, end1, … */
  lines: number[];
  bodyStart: number;
  ascii: boolean;
}

/** scanHead's byte classes: 0 allowed in a line (printable ASCII, HTAB), 1 CR, 2 not ASCII, 3 other controls (NUL, LF, DEL…). */
const BYTE_CLASS = (() => {
  const t = new Uint8Array(256);
  for (let b = 0; b < 256; b++) t[b] = b === CR ? 1 : b >= 0x80 ? 2 : (b < 0x20 && b !== 0x09) || b === 0x7f ? 3 : 0;
  return t;
})();

/**
 * One pass over the bytes from `from` to the empty line ending the header section. Leading CRLFs
 * are skipped (RFC 3261 §7.5; RFC 5626 keep-alives). Throws SipParseError on every violation.
 */
function scanHead(buf: Buffer, from: number, limits: ParserLimits): Head {
  const len = buf.length;
  let i = from;
  while (i + 1 < len && buf[i] === CR && buf[i + 1] === LF) i += 2;
  if (i >= len || (i + 1 === len && buf[i] === CR)) throw new SipParseError('empty', 'no message (empty or only CRLF)');
  const lines: number[] = [];
  const maxLine = limits.maxLineLength;
  let lineStart = i;
  /** the first offset of this line that is over the line limit */
  let lineLimit = lineStart + maxLine;
  let fields = 0;
  let ascii = true;
  /** where the header field of the current line starts (continuation lines belong to it) */
  let fieldStart = lineStart;
  const quotes: QuoteScan = { field: -1, pos: 0, quoted: false };
  for (; i < len; i++) {
    const b = buf[i];
    const cls = BYTE_CLASS[b];
    if (cls === 1) {
      if (i + 1 >= len) break;
      if (buf[i + 1] !== LF) throw new SipParseError('bad-line-ending', 'CR not followed by LF', { offset: i });
      if (i === lineStart) return { lines, bodyStart: i + 2, ascii };
      if (lines.length > 0 && !isWsp(buf[lineStart]) && ++fields > limits.maxHeaders) {
        throw new SipParseError('too-many-headers', `more than ${limits.maxHeaders} header fields`, { offset: lineStart });
      }
      lines.push(lineStart, i);
      i++;
      lineStart = i + 1;
      lineLimit = lineStart + maxLine;
      if (lineStart < len && !isWsp(buf[lineStart])) fieldStart = lineStart;
      continue;
    }
    if (i >= lineLimit) {
      throw new SipParseError('line-too-long', `a line is longer than ${maxLine} bytes`, { offset: lineStart });
    }
    if (cls === 0) continue;
    if (cls === 2) {
      ascii = false;
      continue;
    }
    if (b === LF) throw new SipParseError('bad-line-ending', 'LF without CR', { offset: i });
    // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F): any control character but CR and LF may be
    // escaped inside a quoted string (RFC 3261 §25.1; RFC 4475 intmeth's To display name).
    if (i > fieldStart && buf[i - 1] === 0x5c && quotedPairAt(buf, quotes, fieldStart, i - 1)) continue;
    if (b === 0) throw new SipParseError('nul-byte', 'NUL byte in the start line or headers', { offset: i });
    throw new SipParseError('control-char', `control character 0x${b.toString(16).padStart(2, '0')} in the start line or headers`, { offset: i });
  }
  throw new SipParseError('truncated', 'the header section does not end with an empty line', { offset: len });
}

/**
 * Quote state of one header field, advanced only when asked (a control character after a
 * backslash) and never over the same bytes twice: scanning stays linear whatever the input.
 */
interface QuoteScan {
  /** the field being scanned, and how far */
  field: number;
  pos: number;
  quoted: boolean;
}

/**
 * Whether the backslash at `at` opens a quoted-pair: it is inside a quoted string of the header
 * field starting at `field`, and not itself the escaped half of a quoted-pair.
 */
function quotedPairAt(buf: Buffer, q: QuoteScan, field: number, at: number): boolean {
  if (q.field !== field) {
    q.field = field;
    q.pos = field;
    q.quoted = false;
  }
  let k = q.pos;
  let quoted = q.quoted;
  while (k < at) {
    const c = buf[k];
    if (quoted && c === 0x5c) k += 2; // a quoted-pair: the escaped byte is skipped, whatever it is
    else {
      if (c === 0x22) quoted = !quoted;
      k++;
    }
  }
  // k passes `at` when the backslash there is itself escaped; either way the scan resumes after
  // the control character that follows it
  const opens = quoted && k === at;
  q.pos = at + 2;
  q.quoted = quoted;
  return opens;
}

/** The physical lines as text. */
function decodeLines(buf: Buffer, head: Head): string[] {
  const out: string[] = [];
  const n = head.lines.length;
  if (head.ascii && n > 0) {
    // One string for the whole header section, the lines cut from it: one call into the runtime, not one per line.
    const first = head.lines[0];
    const text = buf.toString('latin1', first, head.lines[n - 1]);
    for (let k = 0; k < n; k += 2) out.push(text.slice(head.lines[k] - first, head.lines[k + 1] - first));
    return out;
  }
  for (let k = 0; k < n; k += 2) {
    const s = head.lines[k];
    const e = head.lines[k + 1];
    try {
      out.push(utf8.decode(buf.subarray(s, e)));
    } catch (e) {
      if (e instanceof TypeError) throw new SipParseError('bad-utf8', 'start line or header is not valid UTF-8', { offset: s });
      throw e;
    }
  }
  return out;
}

/** Trim SP / HTAB only (String.prototype.trim would also eat U+FEFF and other Unicode spaces). */
function trimWsp(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isWsp(s.charCodeAt(a))) a++;
  while (b > a && isWsp(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/**
 * Header lines → fields, folding undone: CRLF followed by whitespace is one SP (RFC 3261 §7.3.1).
 * The unfolded field ("name: value", as the serializer writes it) is held to the line limit too,
 * so folding cannot smuggle in a header longer than any line may be.
 */
function toFields(lines: string[], maxLineLength: number): HeaderField[] {
  const fields: HeaderField[] = [];
  let name = '';
  /** the value so far: '' and `open` false before the first field */
  let value = '';
  let open = false;
  const flush = () => {
    if (!open) return;
    if (name.length + 2 + value.length > maxLineLength) {
      throw new SipParseError('line-too-long', `header ${excerpt(name, 16)} is longer than ${maxLineLength} characters once unfolded`);
    }
    fields.push({ name, key: headerKey(name), value });
    open = false;
  };
  for (let k = 1; k < lines.length; k++) {
    const line = lines[k];
    if (isWsp(line.charCodeAt(0))) {
      if (!open) throw new SipParseError('bad-header', 'continuation line without a header field before it');
      // the parts of a folded value, empty ones left out, joined by one SP
      const part = trimWsp(line);
      if (part.length > 0) value = value.length > 0 ? value + ' ' + part : part;
      continue;
    }
    flush();
    const colon = line.indexOf(':');
    if (colon === -1) throw new SipParseError('bad-header-name', `header line without a colon: ${excerpt(line, 16)}`);
    // HCOLON = *( SP / HTAB ) ":" SWS
    name = trimWsp(line.slice(0, colon));
    if (!isToken(name)) throw new SipParseError('bad-header-name', `header name is not a token: ${excerpt(name, 16)}`);
    value = trimWsp(line.slice(colon + 1));
    open = true;
  }
  flush();
  return fields;
}

/** SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT ("SIP" case-insensitive, as ABNF strings are). */
function isSipVersion(v: string): boolean {
  if (v.length < 7 || v.length > 16 || v.slice(0, 4).toUpperCase() !== 'SIP/') return false;
  const dot = v.indexOf('.', 4);
  if (dot <= 4 || dot === v.length - 1) return false;
  for (let i = 4; i < v.length; i++) if (i !== dot && !inSet(DIGITS, v.charCodeAt(i))) return false;
  return true;
}

const EMPTY_BODY = Buffer.alloc(0);

/**
 * The message objects are built by these two literals only, every field in place from the start
 * (the typed views undefined until their header is seen). Adding the fields one by one in the
 * order headers happen to come in gave V8 a new object shape per message: every store in apply()
 * went to the runtime, which cost more than the parsing itself.
 */
function newRequest(version: string, method: string, uri: Uri, rawUri: string): SipRequest {
  return {
    type: 'request', version, method, uri, rawUri,
    headers: [], body: EMPTY_BODY, extraBytes: 0,
    via: [], from: undefined, to: undefined, callId: undefined, cseq: undefined, maxForwards: undefined, contentLength: undefined,
    expires: undefined, contact: undefined, authorization: [], proxyAuthorization: [], wwwAuthenticate: [], proxyAuthenticate: [],
    proxyRequire: [], require: [], userAgent: undefined,
  };
}

function newResponse(version: string, status: number, reason: string): SipResponse {
  return {
    type: 'response', version, status, reason,
    headers: [], body: EMPTY_BODY, extraBytes: 0,
    via: [], from: undefined, to: undefined, callId: undefined, cseq: undefined, maxForwards: undefined, contentLength: undefined,
    expires: undefined, contact: undefined, authorization: [], proxyAuthorization: [], wwwAuthenticate: [], proxyAuthenticate: [],
    proxyRequire: [], require: [], userAgent: undefined,
  };
}

function parseStartLine(line: string, opts: HeaderParseOptions): SipRequest | SipResponse {
  if (line.length >= 4 && line.slice(0, 4).toUpperCase() === 'SIP/') {
    // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
    const sp = line.indexOf(' ');
    const version = sp === -1 ? line : line.slice(0, sp);
    if (!isSipVersion(version)) throw new SipParseError('bad-version', `bad SIP-Version ${excerpt(version, 16)}`);
    const code = line.slice(sp + 1, sp + 4);
    if (sp === -1 || code.length !== 3 || !inSet(DIGITS, code.charCodeAt(0)) || !inSet(DIGITS, code.charCodeAt(1)) || !inSet(DIGITS, code.charCodeAt(2))) {
      throw new SipParseError('bad-status', 'Status-Code is not three digits');
    }
    const status = Number(code);
    if (status < 100 || status > 699) throw new SipParseError('bad-status', `Status-Code ${status} out of range 100-699`);
    if (line.length > sp + 4 && line.charCodeAt(sp + 4) !== 0x20) throw new SipParseError('bad-status', 'Status-Code is not three digits');
    if (line.length === sp + 4) throw new SipParseError('bad-start-line', 'no SP after Status-Code');
    return newResponse(version, status, line.slice(sp + 5));
  }
  // Request-Line = Method SP Request-URI SP SIP-Version: exactly two single spaces.
  const sp1 = line.indexOf(' ');
  const sp2 = sp1 === -1 ? -1 : line.indexOf(' ', sp1 + 1);
  if (sp1 === -1 || sp2 === -1 || line.indexOf(' ', sp2 + 1) !== -1) {
    throw new SipParseError('bad-start-line', `not a Request-Line or Status-Line: ${excerpt(line, 24)}`);
  }
  const method = line.slice(0, sp1);
  if (!isToken(method)) throw new SipParseError('bad-method', `Method is not a token: ${excerpt(method, 16)}`);
  const rawUri = line.slice(sp1 + 1, sp2);
  if (rawUri.length === 0) throw new SipParseError('bad-start-line', 'empty Request-URI');
  const version = line.slice(sp2 + 1);
  if (!isSipVersion(version)) throw new SipParseError('bad-version', `bad SIP-Version ${excerpt(version, 16)}`);
  const uri = parseUri(rawUri, opts);
  // RFC 3261 §19.1.1: headers are "not allowed" in a Request-URI (RFC 4475 escruri: 400 is
  // acceptable, and a proxy must never turn them into header fields or pass them on).
  if (uri.kind === 'sip' && uri.headers.length > 0) throw new SipParseError('bad-uri', 'a Request-URI must not carry headers (RFC 3261 §19.1.1)');
  return newRequest(version, method, uri, rawUri);
}

function duplicate(key: string): SipParseError {
  return new SipParseError('duplicate-header', `${key} given more than once`, { header: key });
}

/** Put one header field's parsed value into its typed slot. */
function apply(m: SipMessage, f: HeaderField, o: HeaderParseOptions): void {
  const v = f.value;
  switch (f.key) {
    case 'via':
      for (const via of HEADER_PARSERS.via(v, o)) m.via.push(via);
      return;
    case 'from':
      if (m.from) throw duplicate(f.key);
      m.from = HEADER_PARSERS.from(v, o);
      return;
    case 'to':
      if (m.to) throw duplicate(f.key);
      m.to = HEADER_PARSERS.to(v, o);
      return;
    case 'call-id':
      if (m.callId !== undefined) throw duplicate(f.key);
      m.callId = HEADER_PARSERS['call-id'](v, o);
      return;
    case 'cseq':
      if (m.cseq) throw duplicate(f.key);
      m.cseq = HEADER_PARSERS.cseq(v, o);
      return;
    case 'max-forwards':
      if (m.maxForwards !== undefined) throw duplicate(f.key);
      m.maxForwards = HEADER_PARSERS['max-forwards'](v, o);
      return;
    case 'content-length':
      // RFC 4475 §3.1.2.11 (mcl01): several Content-Length values are an error, even equal ones.
      if (m.contentLength !== undefined) throw duplicate(f.key);
      m.contentLength = HEADER_PARSERS['content-length'](v, o);
      return;
    case 'expires':
      if (m.expires !== undefined) throw duplicate(f.key);
      m.expires = HEADER_PARSERS.expires(v, o);
      return;
    case 'contact':
      m.contact = mergeContact(m.contact, HEADER_PARSERS.contact(v, o));
      return;
    case 'authorization':
      m.authorization.push(HEADER_PARSERS.authorization(v, o));
      return;
    case 'proxy-authorization':
      m.proxyAuthorization.push(HEADER_PARSERS['proxy-authorization'](v, o));
      return;
    case 'www-authenticate':
      m.wwwAuthenticate.push(HEADER_PARSERS['www-authenticate'](v, o));
      return;
    case 'proxy-authenticate':
      m.proxyAuthenticate.push(HEADER_PARSERS['proxy-authenticate'](v, o));
      return;
    case 'proxy-require':
      for (const t of HEADER_PARSERS['proxy-require'](v, o)) m.proxyRequire.push(t);
      return;
    case 'require':
      for (const t of HEADER_PARSERS.require(v, o)) m.require.push(t);
      return;
    case 'user-agent':
      // Informational only, and phones write all sorts of things here (non-ASCII names, control
      // characters, the header twice). Kamailio accepts them; refusing would cost a registration.
      // Keep the first well-formed value; the raw text stays in m.headers for whoever stores it.
      if (m.userAgent) return;
      try {
        m.userAgent = HEADER_PARSERS['user-agent'](v, o);
      } catch (e) {
        if (!(e instanceof SipParseError)) throw e;
      }
      return;
    default:
      return;
  }
}

/** Contact "*" stands alone (RFC 3261 §10.2.2, §20.10): never beside other contacts. */
function mergeContact(prev: ContactHeader | undefined, next: ContactHeader): ContactHeader {
  if (prev === undefined) return next;
  if (prev.star || next.star) throw new SipParseError('bad-header', 'contact: "*" must be the only Contact value', { header: 'contact' });
  for (const c of next.contacts) prev.contacts.push(c);
  return prev;
}

/**
 * Parse one SIP message from a datagram or from a frame cut by frameStream.
 *
 * Body (RFC 3261 §18.3): with Content-Length the body is that many bytes; bytes after it are
 * not part of the message (`extraBytes` counts them). Without Content-Length the body is the
 * rest of the input, as on UDP. If Content-Length promises more than arrived, the error
 * (`body-truncated`) carries the parsed message as `partial`, so a server can still answer a
 * request with 400.
 */
export function parseMessage(input: Buffer | Uint8Array | string, opts: ParseOptions = {}): SipMessage {
  const limits = resolveLimits(opts);
  const buf = toBuffer(input);
  if (buf.length > limits.maxMessageSize) throw new SipParseError('too-large', `message of ${buf.length} bytes exceeds ${limits.maxMessageSize}`);
  const head = scanHead(buf, 0, limits);
  const lines = decodeLines(buf, head);
  const o: HeaderParseOptions = { allowPassword: opts.allowUriPassword === true };
  const msg = parseStartLine(lines[0], o);
  msg.headers = toFields(lines, limits.maxLineLength);
  for (const f of msg.headers) apply(msg, f, o);

  const available = buf.length - head.bodyStart;
  const cl = msg.contentLength;
  if (cl === undefined) {
    msg.body = Buffer.from(buf.subarray(head.bodyStart));
  } else if (cl > available) {
    msg.body = Buffer.from(buf.subarray(head.bodyStart));
    throw new SipParseError('body-truncated', `Content-Length ${cl} but only ${available} body bytes`, { header: 'content-length', partial: msg });
  } else {
    msg.body = Buffer.from(buf.subarray(head.bodyStart, head.bodyStart + cl));
    msg.extraBytes = available - cl;
  }
  return msg;
}

export interface FrameResult {
  /** one complete message (start line to end of body), when the buffer holds one */
  message?: Buffer;
  /** what follows the message, or the whole (CRLF-stripped) input while incomplete */
  rest: Buffer;
  /**
   * Set when the stream cannot be a valid SIP stream (too large, no Content-Length, bad bytes).
   * There is no resynchronising after this: the connection should be closed.
   */
  error?: SipParseError;
  /** CRLF bytes skipped before the message (RFC 5626 keep-alive pings are "\r\n\r\n") */
  skipped: number;
}

/**
 * Validate a complete header section (start line to the empty line, inclusive) received on a
 * stream and return its Content-Length, which RFC 3261 §18.3 makes mandatory there. Throws
 * SipParseError.
 */
export function streamContentLength(head: Buffer, limits: ParserLimits): number {
  const scanned = scanHead(head, 0, limits);
  let contentLength: number | undefined;
  for (const f of toFields(decodeLines(head, scanned), limits.maxLineLength)) {
    if (f.key !== 'content-length') continue;
    if (contentLength !== undefined) throw duplicate(f.key);
    contentLength = HEADER_PARSERS['content-length'](f.value, {});
  }
  if (contentLength === undefined) throw new SipParseError('missing-content-length', 'a message on a stream transport must carry Content-Length (RFC 3261 §18.3)');
  return contentLength;
}

/**
 * Cut the next message off a stream buffer (TCP, TLS). RFC 3261 §18.3: on a stream the
 * Content-Length header MUST be present and gives the body size. Limits are enforced on what has
 * arrived so far, so a peer cannot make us buffer more than `maxMessageSize` or a line longer
 * than `maxLineLength` while waiting for the end of the headers. Never throws on input.
 * Each call looks at the whole buffer; a connection should use StreamFramer, which applies the
 * same rules incrementally.
 */
export function frameStream(buffer: Buffer, opts: Partial<ParserLimits> = {}): FrameResult {
  const limits = resolveLimits(opts);
  let start = 0;
  while (start + 1 < buffer.length && buffer[start] === CR && buffer[start + 1] === LF) start += 2;
  const skipped = start;
  const rest = buffer.subarray(start);
  const fail = (error: SipParseError): FrameResult => ({ rest, error, skipped });
  if (rest.length === 0) return { rest, skipped };

  const end = buffer.indexOf(CRLFCRLF, start);
  if (end === -1) {
    if (rest.length > limits.maxMessageSize) return fail(new SipParseError('too-large', `no end of headers within ${limits.maxMessageSize} bytes`));
    const lastLf = buffer.lastIndexOf(LF);
    const tail = buffer.length - Math.max(start, lastLf + 1);
    if (tail > limits.maxLineLength + 1) return fail(new SipParseError('line-too-long', `a line is longer than ${limits.maxLineLength} bytes`));
    return { rest, skipped };
  }
  const headLength = end + 4 - start;
  if (headLength > limits.maxMessageSize) return fail(new SipParseError('too-large', `headers exceed ${limits.maxMessageSize} bytes`));

  let contentLength: number;
  try {
    contentLength = streamContentLength(buffer.subarray(start, end + 4), limits);
  } catch (e) {
    if (e instanceof SipParseError) return fail(e);
    throw e;
  }
  const total = headLength + contentLength;
  if (total > limits.maxMessageSize) return fail(new SipParseError('too-large', `message of ${total} bytes exceeds ${limits.maxMessageSize}`));
  if (rest.length < total) return { rest, skipped };
  return { message: rest.subarray(0, total), rest: rest.subarray(total), skipped };
}
