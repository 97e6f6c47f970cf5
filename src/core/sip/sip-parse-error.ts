import { SipctlError } from '../errors.js';
import type { SipMessage } from './message.js';

/**
 * Why a SIP message (or one of its parts) was refused. The set is closed and stable: sipd maps
 * reasons to counters and log lines, tests assert on them.
 *
 * | reason                 | what was wrong |
 * |------------------------|----------------|
 * | empty                  | no bytes (or only CRLF keep-alives) |
 * | too-large              | message bigger than `maxMessageSize` (or Content-Length would make it so) |
 * | too-many-headers       | more header fields than `maxHeaders` |
 * | line-too-long          | one physical line longer than `maxLineLength` |
 * | truncated              | the header section does not end with an empty line (CRLF CRLF) |
 * | body-truncated         | Content-Length promises more bytes than arrived (`partial` holds the message) |
 * | nul-byte               | a NUL byte in the start line or the headers |
 * | control-char           | another control character (other than HTAB) in the start line or headers |
 * | bad-line-ending        | a bare CR or bare LF (RFC 3261 §7: lines end with CRLF) |
 * | bad-utf8               | start line or headers are not valid UTF-8 |
 * | bad-start-line         | neither a Request-Line nor a Status-Line (RFC 3261 §7.1, §7.2) |
 * | bad-version            | SIP-Version does not match "SIP/" 1*DIGIT "." 1*DIGIT |
 * | bad-method             | Method is not a token |
 * | bad-status             | Status-Code is not three digits 100–699 |
 * | bad-header-name        | a header name that is not a token, or a line without a colon |
 * | bad-header             | a header value that does not match its grammar (`header` names it) |
 * | duplicate-header       | a single-valued header (CSeq, Call-ID, From, To, Max-Forwards, Content-Length, Expires…) appears twice |
 * | bad-uri                | a URI that does not match RFC 3261 §25.1 / RFC 3966 / RFC 3986 `absoluteURI` |
 * | uri-password           | a SIP URI carries a password (RFC 3261 §19.1.1: NOT RECOMMENDED; refused unless allowed) |
 * | bad-content-length     | Content-Length is not 1*DIGIT or is out of range |
 * | missing-content-length | stream framing: a message without Content-Length (RFC 3261 §18.3: MUST on streams) |
 */
export type SipParseReason =
  | 'empty'
  | 'too-large'
  | 'too-many-headers'
  | 'line-too-long'
  | 'truncated'
  | 'body-truncated'
  | 'nul-byte'
  | 'control-char'
  | 'bad-line-ending'
  | 'bad-utf8'
  | 'bad-start-line'
  | 'bad-version'
  | 'bad-method'
  | 'bad-status'
  | 'bad-header-name'
  | 'bad-header'
  | 'duplicate-header'
  | 'bad-uri'
  | 'uri-password'
  | 'bad-content-length'
  | 'missing-content-length';

export interface SipParseErrorOptions {
  /** Canonical (lower-case, long-form) name of the header at fault, if any. */
  header?: string;
  /** Byte offset in the input where the problem was found, when known. */
  offset?: number;
  /** For `body-truncated` only: the message as parsed, body holding the bytes that did arrive. */
  partial?: SipMessage;
}

/**
 * A SIP message that could not be accepted. The parser throws nothing else: any other exception
 * escaping it is a bug (the fuzz test holds it to that). Messages never echo more than a few
 * characters of the input, so a log line cannot be flooded by what an attacker sent.
 */
export class SipParseError extends SipctlError {
  override name = 'SipParseError';
  readonly reason: SipParseReason;
  readonly header?: string;
  readonly offset?: number;
  readonly partial?: SipMessage;

  constructor(reason: SipParseReason, message: string, opts: SipParseErrorOptions = {}) {
    super('SIP_PARSE_' + reason.toUpperCase().replace(/-/g, '_'), message, {
      category: 'protocol',
      details: { reason, ...(opts.header === undefined ? {} : { header: opts.header }), ...(opts.offset === undefined ? {} : { offset: opts.offset }) },
    });
    this.reason = reason;
    this.header = opts.header;
    this.offset = opts.offset;
    this.partial = opts.partial;
  }
}

/** At most `max` characters of untrusted text, with control characters made visible. */
export function excerpt(s: string, max = 32): string {
  const cut = s.length > max ? s.slice(0, max) + '…' : s;
  return JSON.stringify(cut);
}
