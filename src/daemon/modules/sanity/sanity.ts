/**
 * Sanity checks on a parsed SIP message, after Kamailio's `sanity` module: each check has
 * Kamailio's bit value, status code and reason phrase, so `default_checks` values carry over
 * from a kamailio.cfg and a peer sees the same replies.
 *
 * The parser already refuses what cannot be parsed (bad CSeq number, duplicate tags, Expires
 * out of range, unparsable URIs: Kamailio checks 64, 256, 1024 and 4096 are enforced there
 * too). These checks are what a well-formed message can still get wrong, and they also guard
 * messages built in code rather than parsed.
 */
import type { AuthValue, SipMessage } from '../../../core/sip/message.js';

/** Check bits (Kamailio sanity `default_checks` values). */
export const SanityCheck = Object.freeze({
  /** 505 unless the SIP-Version is 2.0 */
  RURI_SIP_VERSION: 1,
  /** 416 unless the Request-URI is sip:, sips: or tel: */
  RURI_SCHEME: 2,
  /** 400 unless Via, From, To, Call-ID and CSeq are present (Max-Forwards may be absent: maxfwd adds it) */
  REQUIRED_HEADERS: 4,
  /** 400 unless the CSeq method equals the request method */
  CSEQ_METHOD: 32,
  /** 400 unless the CSeq number is an integer 0 … 2**31-1 */
  CSEQ_VALUE: 64,
  /** 400 unless Content-Length equals the body length */
  CONTENT_LENGTH: 128,
  /** 400 unless Expires is an integer 0 … 2**32-1 */
  EXPIRES_VALUE: 256,
  /** 420 (with Unsupported) for a Proxy-Require option tag not in `proxyRequire` */
  PROXY_REQUIRE: 512,
  /** the Request-URI, From and To parse (the parser enforces it for every message: a no-op here, kept so Kamailio values carry over) */
  PARSE_URIS: 1024,
  /** 400 for Authorization / Proxy-Authorization that is not Digest or lacks a required parameter */
  DIGEST_CREDENTIALS: 2048,
  /** no duplicated To/From tags (enforced by the parser: a no-op here, like PARSE_URIS) */
  DUPLICATE_TAGS: 4096,
  /** 400 for Digest credentials that lack a required parameter; other schemes pass (the auth module challenges them) */
  AUTHORIZATION: 8192,
  /** 400 / 505 unless the first Via is SIP/2.0 with a sent-by host */
  VIA1: 16384,
});

/**
 * What Kamailio's stock kamailio.cfg runs: sanity_check("17895", "7") in route[REQINIT]
 * (Debian's /etc/kamailio/kamailio.cfg for 5.6) = 1|2|4|32|64|128|256|1024|16384. Proxy-Require
 * (512) and the digest checks (2048, 8192) are left out, so an unknown Authorization scheme gets
 * a fresh challenge rather than 400 (RFC 4475 §3.3.7 regaut01). sipd's default.
 */
export const KAMAILIO_STOCK_CHECKS = 17895;

/** A check's name: a Kamailio bit, or RURI_LENGTH (sipd's max_ruri_length, no bit). */
export type SanityCheckName = keyof typeof SanityCheck | 'RURI_LENGTH';

/** Every check above. */
export const ALL_CHECKS = Object.values(SanityCheck).reduce((a, b) => a | b, 0);

export type SanityFailure = {
  ok: false;
  status: 400 | 414 | 416 | 420 | 505;
  reason: string;
  check: SanityCheckName;
  /**
   * Whether to answer: never for ACK (RFC 3261 §17.1.1.3: no response to ACK) nor for a
   * response (it is dropped).
   */
  reply: boolean;
  /** extra header fields for the reply (Unsupported for 420) */
  headers?: Array<[string, string]>;
};

export type SanityResult = { ok: true } | SanityFailure;

export interface SanityOptions {
  /** bitwise OR of SanityCheck values; default ALL_CHECKS */
  checks?: number;
  /** option tags this proxy supports in Proxy-Require (Kamailio's proxy_require), compared case-sensitively */
  proxyRequire?: readonly string[];
  /** a longer Request-URI (in bytes, as received) gets 414 Request-URI Too Long; 0 or undefined = no limit */
  maxRuriLength?: number;
}

const OK: SanityResult = Object.freeze({ ok: true });

/** Run the selected checks in bit order; the first failure is returned. */
export function checkSanity(msg: SipMessage, opts: SanityOptions = {}): SanityResult {
  const checks = opts.checks ?? ALL_CHECKS;
  const isRequest = msg.type === 'request';
  const reply = isRequest && msg.method !== 'ACK';
  const fail = (check: SanityCheckName, status: SanityFailure['status'], reason: string, headers?: Array<[string, string]>): SanityFailure =>
    headers === undefined ? { ok: false, status, reason, check, reply } : { ok: false, status, reason, check, reply, headers };
  const on = (bit: number) => (checks & bit) !== 0;

  if (on(SanityCheck.RURI_SIP_VERSION) && msg.version.toUpperCase() !== 'SIP/2.0') {
    return fail('RURI_SIP_VERSION', 505, 'Version Not Supported (R-URI)');
  }
  if (isRequest && opts.maxRuriLength !== undefined && opts.maxRuriLength > 0 && Buffer.byteLength(msg.rawUri, 'utf8') > opts.maxRuriLength) {
    return fail('RURI_LENGTH', 414, 'Request-URI Too Long');
  }
  if (on(SanityCheck.RURI_SCHEME) && isRequest && msg.uri.kind === 'absolute') {
    return fail('RURI_SCHEME', 416, 'Unsupported URI Scheme in Request URI');
  }
  if (on(SanityCheck.REQUIRED_HEADERS) && (msg.via.length === 0 || !msg.from || !msg.to || msg.callId === undefined || !msg.cseq)) {
    return fail('REQUIRED_HEADERS', 400, 'Missing Required Header in Request');
  }
  if (on(SanityCheck.CSEQ_METHOD) && isRequest) {
    if (!msg.cseq || msg.cseq.method.length === 0) return fail('CSEQ_METHOD', 400, 'Missing method in CSeq header');
    if (msg.cseq.method !== msg.method) return fail('CSEQ_METHOD', 400, 'CSeq method does not match request method');
  }
  if (on(SanityCheck.CSEQ_VALUE) && msg.cseq && !(Number.isInteger(msg.cseq.seq) && msg.cseq.seq >= 0 && msg.cseq.seq < 2 ** 31)) {
    return fail('CSEQ_VALUE', 400, 'CSeq number is illegal');
  }
  if (on(SanityCheck.CONTENT_LENGTH) && msg.contentLength !== undefined && msg.contentLength !== msg.body.length) {
    return fail('CONTENT_LENGTH', 400, 'Content-Length mis-match');
  }
  if (on(SanityCheck.EXPIRES_VALUE) && msg.expires !== undefined && !(Number.isInteger(msg.expires) && msg.expires >= 0 && msg.expires <= 4_294_967_295)) {
    return fail('EXPIRES_VALUE', 400, 'Invalid value in Expires header');
  }
  if (on(SanityCheck.PROXY_REQUIRE) && isRequest && msg.proxyRequire.length > 0) {
    const supported = new Set(opts.proxyRequire ?? []);
    const unsupported = msg.proxyRequire.filter((t) => !supported.has(t));
    if (unsupported.length > 0) return fail('PROXY_REQUIRE', 420, 'Bad Extension', [['Unsupported', [...new Set(unsupported)].join(', ')]]);
  }
  if (on(SanityCheck.DIGEST_CREDENTIALS) && isRequest) {
    for (const cred of [...msg.authorization, ...msg.proxyAuthorization]) {
      if (!validDigestCredentials(cred)) return fail('DIGEST_CREDENTIALS', 400, 'Bad Credentials');
    }
  }
  if (on(SanityCheck.AUTHORIZATION) && isRequest) {
    for (const cred of [...msg.authorization, ...msg.proxyAuthorization]) {
      if (cred.scheme.toLowerCase() === 'digest' && !validDigestCredentials(cred)) return fail('AUTHORIZATION', 400, 'Bad Credentials');
    }
  }
  if (on(SanityCheck.VIA1)) {
    const v = msg.via[0];
    if (v === undefined || v.host.length === 0) return fail('VIA1', 400, 'Missing Via header');
    if (v.protocol.toUpperCase() !== 'SIP' || v.version !== '2.0') return fail('VIA1', 505, 'Version Not Supported (Via)');
  }
  return OK;
}

/**
 * Digest credentials carry username, realm, nonce, uri and response (RFC 3261 §22.4,
 * RFC 7616 §3.4), and with qop also nc (8 hex digits) and cnonce; the response is hex.
 */
export function validDigestCredentials(cred: AuthValue): boolean {
  if (cred.scheme.toLowerCase() !== 'digest') return false;
  const p = cred.params;
  for (const name of ['username', 'realm', 'nonce', 'uri', 'response']) {
    const v = p.get(name);
    if (v === undefined || (v.length === 0 && name !== 'realm')) return false;
  }
  const response = p.get('response') ?? '';
  if (!/^[0-9a-fA-F]{32,128}$/.test(response)) return false;
  if (p.has('qop')) {
    const nc = p.get('nc');
    const cnonce = p.get('cnonce');
    if (nc === undefined || !/^[0-9a-fA-F]{8}$/.test(nc) || cnonce === undefined || cnonce.length === 0) return false;
  }
  return true;
}
