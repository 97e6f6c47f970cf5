/**
 * The shape of a parsed SIP message (RFC 3261 §7). Every header field is kept in order as it
 * arrived (`headers`, unfolded); the headers sipd acts on are also parsed into typed fields by
 * the name → parser table in headers.ts. The typed fields are a view: the serializer writes
 * `headers`, so a module that changes a header replaces its entry there.
 */
import type { HostType, Uri } from './uri.js';

/** One header field as received. */
export interface HeaderField {
  /** the name as written: any case, possibly the compact form ("v", "m") */
  name: string;
  /** canonical key: the long form in lower case ("via", "call-id", "content-length") */
  key: string;
  /** the value with folding undone (CRLF + whitespace → one SP) and outer whitespace trimmed */
  value: string;
}

/** Header parameters (`;name=value`): lower-case name → value (unquoted), null when valueless. */
export type HeaderParams = Map<string, string | null>;

/** One via-parm (RFC 3261 §20.42); a Via header line may hold several. */
export interface Via {
  /** protocol-name, e.g. "SIP" */
  protocol: string;
  /** protocol-version, e.g. "2.0" */
  version: string;
  /** transport in upper case: "UDP", "TCP", "TLS", "SCTP", "WS", "WSS" or another token */
  transport: string;
  /** sent-by host, IPv6 without brackets */
  host: string;
  hostType: HostType;
  port?: number;
  /** all via-params in order; authoritative when the Via is formatted again */
  params: HeaderParams;
  /** convenience copies of params: branch (token), received (IP), rport (RFC 3581: null when present without a value) */
  branch?: string;
  received?: string;
  rport?: number | null;
}

/** name-addr or addr-spec with header parameters (From, To, Contact, Route…). */
export interface NameAddr {
  /** display-name: text of the quoted-string (unescaped) or the tokens as written */
  displayName?: string;
  uri: Uri;
  /** header parameters (not the URI's own parameters) */
  params: HeaderParams;
}

/** From / To (RFC 3261 §20.20, §20.39). */
export interface FromTo extends NameAddr {
  tag?: string;
}

/** One contact-param (RFC 3261 §20.10). */
export interface ContactValue extends NameAddr {
  /** c-p-expires, seconds */
  expires?: number;
  /** c-p-q, 0–1 */
  q?: number;
}

/** Contact: either "*" (REGISTER removal of all bindings) or a list, gathered over every Contact line. */
export type ContactHeader = { star: true } | { star: false; contacts: ContactValue[] };

/** CSeq (RFC 3261 §20.16). */
export interface CSeq {
  seq: number;
  method: string;
}

/**
 * credentials / challenge of Authorization, Proxy-Authorization, WWW-Authenticate and
 * Proxy-Authenticate (RFC 3261 §20.7, §20.27, §20.28, §20.44; RFC 7616): the scheme and its
 * auth-params, lower-case names → values (quoted-strings unescaped). A parameter given twice is
 * a parse error, never "first wins" or "last wins".
 */
export interface AuthValue {
  scheme: string;
  params: Map<string, string>;
}

/** User-Agent / Server (RFC 3261 §20.41, §20.35): products and comments in order. */
export interface UserAgent {
  products: Array<{ name: string; version?: string } | { comment: string }>;
}

interface SipMessageBase {
  /** SIP-Version as written ("SIP/2.0"); the sanity module refuses anything else */
  version: string;
  headers: HeaderField[];
  body: Buffer;
  /**
   * Bytes of the datagram after the body that Content-Length covers. RFC 3261 §18.3: they are
   * discarded, and they are not part of `body`.
   */
  extraBytes: number;

  // Typed views, filled when the header is present.
  via: Via[];
  from?: FromTo;
  to?: FromTo;
  callId?: string;
  cseq?: CSeq;
  maxForwards?: number;
  contentLength?: number;
  expires?: number;
  contact?: ContactHeader;
  authorization: AuthValue[];
  proxyAuthorization: AuthValue[];
  wwwAuthenticate: AuthValue[];
  proxyAuthenticate: AuthValue[];
  /** Proxy-Require option tags over every line */
  proxyRequire: string[];
  /** Require option tags over every line */
  require: string[];
  userAgent?: UserAgent;
}

export interface SipRequest extends SipMessageBase {
  type: 'request';
  method: string;
  uri: Uri;
  /** the Request-URI as written */
  rawUri: string;
}

export interface SipResponse extends SipMessageBase {
  type: 'response';
  status: number;
  reason: string;
}

export type SipMessage = SipRequest | SipResponse;

/** Size and count bounds applied before and while parsing. */
export interface ParserLimits {
  /** whole message incl. body; default 65,535 (the largest UDP payload) */
  maxMessageSize: number;
  /** header fields (folded continuation lines count with their field); default 100 */
  maxHeaders: number;
  /** one physical line without its CRLF; default 8,192 */
  maxLineLength: number;
}

export const DEFAULT_LIMITS: Readonly<ParserLimits> = Object.freeze({
  maxMessageSize: 65_535,
  maxHeaders: 100,
  maxLineLength: 8_192,
});

export function isRequest(m: SipMessage): m is SipRequest {
  return m.type === 'request';
}
