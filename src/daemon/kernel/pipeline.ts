/**
 * The request pipeline: every received message passes these stages, each a module that owns
 * its state and returns its decision as data (StageResult); the pipeline turns decisions into
 * replies and drops. It never throws and never waits on the network except for REGISTER (auth
 * and registrar may query the database), which runs asynchronously with a cap on how many are
 * in flight.
 *
 *  0. blocklist: sources in the operator's blocklist (modules/blocklist) dropped, nothing sent back
 *  0b. flood (pike): banned sources dropped, sources over the rate banned — before parsing, so a
 *     banned source costs a Map lookup and a garbage flood is counted like any other (responses:
 *     ban checked, not counted — Kamailio counts requests only). A request from a live cluster
 *     member's address is decided after parsing (1b)
 *  1b. a cluster member's request (pike.admitMember): not counted when the proxy proves it a
 *     node's (a signed hand-off, a dialog or transaction held here); else counted, and over the
 *     limit dropped — never banned (a UDP source can be forged)
 *  1. parse: the strict bounded parser; a request it refuses gets 400 (505, 513) with a reason
 *     naming the problem when the headers a reply needs can be read (salvageBadRequest), on every
 *     transport and within pike's refusal budget; anything else, and every response, is dropped
 *  2. sanity → 400/416/420/505 with Kamailio's reason phrase
 *  3. maxfwd: 483 at zero, decrement, add 70 when missing
 *  4. scanner: known scanner User-Agents dropped (or answered 200)
 *  4b. TLS certificate policy (tls.cnMustMatchFromUser): 403 unless the verified client
 *     certificate's CN is the From user — before anything authenticates
 *  4c. proxy (when loaded): every request but REGISTER and keepalive OPTIONS — transactions,
 *     dialogs, relaying, call limits (modules/proxy); then the stages below are not reached
 *  5. ACK: absorbed (a stateless proxy has nothing to match it with)
 *  6. Request-URI not the proxy → 403 Not relaying (sipd does not relay)
 *  7. OPTIONS to the proxy itself → 200 OK
 *  8. REGISTER → country rules (modules/country: scope register; home countries after auth) →
 *     auth-db authenticate('www') → registrar save; a retransmission (the same bytes, or the
 *     same transaction, Call-ID, CSeq and nonce built again by the UA) is absorbed while the
 *     first copy is worked on and then gets the same reply (reply-cache.ts)
 *  9. CANCEL → 481; anything else → 501 Not Implemented (with Allow)
 * Responses received go to the proxy module's transactions when it is loaded, else are dropped.
 */
import { parseMessage, type ParseOptions } from '../../core/sip/parser.js';
import type { SipRequest } from '../../core/sip/message.js';
import { SipParseError } from '../../core/sip/sip-parse-error.js';
import type { Inbound } from '../transport/transport.js';
import type { AuthApi, RegistrarApi, ReplySpec, RequestContext, SecurityEvent, StageResult, StatsApi } from './contracts.js';
import type { Logger } from './module.js';
import type { ModuleRegistry } from './module-registry.js';
import type { Myself } from './myself.js';
import { buildReply } from './reply.js';
import { ReplyCache, requestKey, transactionKey } from './reply-cache.js';
import type { SanityApi } from '../modules/sanity/sanity-module.js';
import type { MaxfwdApi } from '../modules/maxfwd/maxfwd-module.js';
import type { ScannerApi } from '../modules/scanner/scanner-module.js';
import type { PikeApi } from '../modules/pike/pike-module.js';
import type { ProxyApi } from '../modules/proxy/proxy-module.js';
import type { BlocklistApi } from '../modules/blocklist/blocklist-module.js';
import type { CountryApi } from '../modules/country/country-module.js';
import type { UafilterApi } from '../modules/uafilter/uafilter-module.js';
import { userAgentOf } from '../../core/uafilter/uafilter.js';

export const ALLOW = 'OPTIONS, REGISTER';

/** sl's counter per reply class, by status / 100 (names made once, not per reply). */
const REPLY_CLASS_COUNTERS: readonly (string | undefined)[] = [undefined, 'sl:1xx_replies', 'sl:2xx_replies', 'sl:3xx_replies', 'sl:4xx_replies', 'sl:5xx_replies', 'sl:6xx_replies'];
/** The reply codes Kamailio's sl module counts by themselves (sl:200_replies …). */
const SL_CODE_COUNTERS: ReadonlyMap<number, string> = new Map([200, 202, 300, 301, 302, 400, 401, 403, 404, 407, 408, 483, 500].map((c) => [c, `sl:${c}_replies`]));

export interface PipelineOptions {
  registry: ModuleRegistry;
  /** the proxy's own addresses (Kamailio's myself) */
  myself: Pick<Myself, 'isMyself'>;
  log: Logger;
  security(ev: SecurityEvent): void;
  parser: ParseOptions;
  /** Server header of every reply */
  server: string;
  now?: () => number;
  /** most REGISTERs being authenticated / saved at once; beyond → 503 (default 1024) */
  maxInFlight?: number;
  /** most REGISTERs remembered to answer their retransmissions (reply-cache.ts; default 32,768) */
  replyCacheEntries?: number;
  /** TLS client-certificate policy (transport/tls-policy.ts), applied before authentication */
  certificatePolicy?(ctx: RequestContext): StageResult;
}

export interface PipelineCounters {
  received: number;
  dropped: number;
  parseErrors: number;
  replies: number;
  inFlight: number;
}

/** The method of a request from its first bytes, without parsing (for pike's log line); undefined for a response or garbage. */
export function sniffMethod(data: Buffer): string | undefined {
  const n = Math.min(data.length, 17);
  for (let i = 0; i < n; i++) {
    const c = data[i];
    if (c === 0x20) return i > 0 ? data.toString('latin1', 0, i) : undefined;
    if (!((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x5f || c === 0x2e || (c >= 0x30 && c <= 0x39))) return undefined;
  }
  return undefined;
}

const SALVAGE_NAMES: Record<string, string> = { via: 'Via', v: 'Via', from: 'From', f: 'From', to: 'To', t: 'To', 'call-id': 'Call-ID', i: 'Call-ID', cseq: 'CSeq' };

/** Canonical names of headers the parser names in its errors, for reason phrases. */
const HEADER_NAMES: Record<string, string> = {
  ...SALVAGE_NAMES, 'content-length': 'Content-Length', 'max-forwards': 'Max-Forwards', contact: 'Contact', expires: 'Expires', authorization: 'Authorization',
  'proxy-authorization': 'Proxy-Authorization', 'proxy-require': 'Proxy-Require', require: 'Require', route: 'Route', 'record-route': 'Record-Route', 'content-type': 'Content-Type',
};

/**
 * The status and reason phrase for a request the parser refused: the phrase names the problem
 * (RFC 3261 §21.4.1 lets it explain; RFC 4475 asks for "an appropriate reason phrase").
 */
export function parseFailureReply(e: SipParseError): { status: number; reason: string } {
  const h = e.header === undefined ? undefined : HEADER_NAMES[e.header] ?? e.header.replace(/(^|-)([a-z])/g, (_m, d: string, c: string) => d + c.toUpperCase());
  switch (e.reason) {
    case 'body-truncated':
      return { status: 400, reason: 'Content-Length mis-match' };
    case 'bad-content-length':
      return { status: 400, reason: 'Bad Content-Length' };
    case 'duplicate-header':
      return { status: 400, reason: `Duplicate ${h ?? 'header'}` };
    case 'bad-header':
      return { status: 400, reason: h === undefined ? 'Bad header' : `Bad ${h} header` };
    case 'bad-uri':
      return { status: 400, reason: h === undefined ? 'Bad Request-URI' : `Bad URI in ${h}` };
    case 'uri-password':
      return { status: 400, reason: 'Password in URI not accepted' };
    case 'bad-version':
      return { status: 505, reason: 'Version Not Supported' };
    case 'bad-start-line':
      return { status: 400, reason: 'Bad Request-Line' };
    case 'too-large':
      return { status: 513, reason: 'Message Too Large' };
    case 'too-many-headers':
      return { status: 400, reason: 'Too Many Headers' };
    case 'line-too-long':
      return { status: 400, reason: 'Header Too Long' };
    case 'truncated':
      return { status: 400, reason: 'Incomplete Header Section' };
    case 'nul-byte':
    case 'control-char':
    case 'bad-utf8':
    case 'bad-line-ending':
      return { status: 400, reason: 'Bad Characters in Header' };
    case 'bad-header-name':
      return { status: 400, reason: 'Bad Header Name' };
    default:
      return { status: 400, reason: 'Bad Request' };
  }
}

/**
 * The reply for a request the parser refused, built from the raw header lines, when they hold
 * what a reply needs (Via, From, To, Call-ID, CSeq, each printable and short; the first of each
 * but Via). The start line need only look like a request (method, URI, version, however spaced: RFC
 * 4475 lwsstart, trws, lwsruri). Undefined when that is not possible, for an ACK, and for
 * anything that looks like a response (never answered).
 */
export function salvageBadRequest(data: Buffer, reason: string, server: string, status = 400): Buffer | undefined {
  const headEnd = data.indexOf('\r\n\r\n');
  const head = data.toString('latin1', 0, headEnd === -1 ? Math.min(data.length, 16_384) : headEnd);
  const lines = head.split('\r\n');
  const start = /^([A-Za-z0-9.!%*_+`'~-]{1,64}) +\S.{0,2047}? +SIP\/\d{1,3}\.\d{1,3} *$/.exec(lines[0] ?? '');
  if (!start || start[1].toUpperCase() === 'ACK') return undefined;
  const got = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = SALVAGE_NAMES[line.slice(0, colon).trim().toLowerCase()];
    if (name === undefined) continue;
    const value = line.slice(colon + 1).trim();
    // printable ASCII or the bytes of UTF-8 text (copied as they came); a control character only
    // escaped (a quoted-pair, RFC 4475 intmeth)
    if (value.length === 0 || value.length > 1024 || !/^(?:[\x20-\x7e\x80-\xff]|\\[\x00-\x09\x0b\x0c\x0e-\x7f])+$/.test(value)) return undefined;
    got.set(name, [...(got.get(name) ?? []), value]);
  }
  // Given twice (RFC 4475 multi01), the first one is answered: the 400 says what is wrong.
  for (const n of ['From', 'To', 'Call-ID', 'CSeq']) if ((got.get(n)?.length ?? 0) === 0) return undefined;
  if ((got.get('Via')?.length ?? 0) === 0) return undefined;
  const to = got.get('To')![0];
  const out = [`SIP/2.0 ${status} ${reason}`];
  for (const v of got.get('Via')!) out.push(`Via: ${v}`);
  out.push(`From: ${got.get('From')![0]}`);
  out.push(`To: ${/;\s*tag=/i.test(to) ? to : `${to};tag=${Math.random().toString(16).slice(2, 14)}`}`);
  out.push(`Call-ID: ${got.get('Call-ID')![0]}`, `CSeq: ${got.get('CSeq')![0]}`, `Server: ${server}`, 'Content-Length: 0');
  return Buffer.from(out.join('\r\n') + '\r\n\r\n', 'latin1');
}

function fromUser(msg: SipRequest): string | undefined {
  const u = msg.from?.uri;
  return u !== undefined && u.kind === 'sip' ? u.user : undefined;
}

export class Pipeline {
  readonly counters: PipelineCounters = { received: 0, dropped: 0, parseErrors: 0, replies: 0, inFlight: 0 };
  private readonly now: () => number;
  private readonly maxInFlight: number;
  private warnedNoAuth = false;
  private readonly registers: ReplyCache<ReplySpec>;

  constructor(private readonly opts: PipelineOptions) {
    this.now = opts.now ?? Date.now;
    this.maxInFlight = opts.maxInFlight ?? 1024;
    this.registers = new ReplyCache({ now: this.now, ...(opts.replyCacheEntries !== undefined ? { max: opts.replyCacheEntries } : {}) });
  }

  // Module APIs are looked up per message: a Map lookup, and modules may come and go in tests.
  private api<T>(name: string): T | undefined {
    return this.opts.registry.api<T>(name);
  }

  private stat(name: string): void {
    this.api<StatsApi>('stats')?.inc(name);
  }

  /** REGISTERs remembered for retransmissions (bounded by the reply cache's max), for stats. */
  replyCacheSize(): number {
    return this.registers.size;
  }

  /** TCP accept gate: a banned source does not get a connection at all. */
  admitConnection(ip: string): boolean {
    if (this.api<BlocklistApi>('blocklist')?.blocked(ip) !== undefined) return false;
    const pike = this.api<PikeApi>('pike');
    return pike === undefined || pike.exempt(ip) || !pike.banned(ip);
  }

  /** One message from a transport. Never throws. */
  handle(m: Inbound): void {
    this.counters.received++;
    try {
      this.run(m);
    } catch (e) {
      this.opts.log.error('request pipeline failed', { error: e instanceof Error ? e.message : String(e), source: m.source.ip });
    }
  }

  private drop(): void {
    this.counters.dropped++;
    this.stat('core:drop_requests');
  }

  private send(m: Inbound, req: SipRequest, spec: ReplySpec): void {
    // A client matches a response by the top Via branch and the CSeq (RFC 3261 §17.1.3): without
    // them the response would be noise, so the request is dropped instead.
    if (req.via.length === 0 || req.cseq === undefined) return this.drop();
    // Refusals are rate-limited per source (pike's refusals_per_unit): the source of a datagram
    // can be forged, and our answers must not become a stream aimed at someone else.
    if (spec.status >= 400 && !this.mayRefuse(m)) return this.drop();
    this.counters.replies++;
    const stats = this.api<StatsApi>('stats');
    if (stats !== undefined) {
      stats.inc('sl:sent_replies');
      const cls = REPLY_CLASS_COUNTERS[Math.floor(spec.status / 100)];
      if (cls !== undefined) stats.inc(cls);
      // Kamailio's sl also counts these codes on their own (sl.stats, stats.fetch sl:)
      const byCode = SL_CODE_COUNTERS.get(spec.status);
      if (byCode !== undefined) stats.inc(byCode);
      if (spec.status >= 300) stats.inc('sl:sent_err_replies');
    }
    m.reply(buildReply(req, spec, { source: m.source, server: this.opts.server }));
  }

  /** Whether a refusal may go to this source now (pike's per-source refusal budget). */
  private mayRefuse(m: Inbound): boolean {
    const pike = this.api<PikeApi>('pike');
    return pike === undefined || pike.refused(m.source.ip);
  }

  private run(m: Inbound): void {
    // The operator's blocklist (modules/blocklist): dropped before anything else, nothing sent back.
    const blocklist = this.api<BlocklistApi>('blocklist');
    if (blocklist !== undefined && blocklist.blocked(m.source.ip) !== undefined) return this.drop();
    const method = sniffMethod(m.data);
    const pike = this.api<PikeApi>('pike');
    /** from a live cluster member's address: pike decides once the request is parsed */
    let member = false;
    if (pike !== undefined) {
      // Responses are checked against the bans but not counted, as Kamailio counts requests only
      // (pike_check_req in request_route): a callee or trunk answering many relayed calls is not
      // a flood. A response that matches no transaction is dropped right after parsing.
      const response = method === undefined && m.data.length > 8 && m.data.toString('latin1', 0, 8) === 'SIP/2.0 ';
      if (response) {
        if (!pike.exempt(m.source.ip) && pike.banned(m.source.ip)) return this.drop();
      } else if (pike.member(m.source.ip)) member = true;
      else if (pike.admit(m.source.ip, method).action === 'drop') return this.drop();
    }

    let parsed;
    try {
      parsed = parseMessage(m.data, this.opts.parser);
    } catch (e) {
      if (!(e instanceof SipParseError)) throw e;
      if (member && pike!.admitMember(m.source.ip, method, false).action === 'drop') return this.drop();
      this.counters.parseErrors++;
      this.stat('core:err_requests');
      this.opts.security({ event: 'parse-failed', sourceIp: m.source.ip, method, detail: e.reason });
      // RFC 3261 §8.2 / RFC 4475: a request that can be answered gets 400 (or the specific code)
      // with a reason naming the problem, on every transport; what cannot be answered, and every
      // response, is dropped. Refusals are budgeted per source like any other.
      const partial = e.partial;
      const { status, reason } = parseFailureReply(e);
      if (e.reason === 'body-truncated' && partial !== undefined && partial.type === 'request' && partial.method !== 'ACK' && partial.via.length > 0) {
        return this.send(m, partial, { status, reason });
      }
      // (a response never matches salvageBadRequest's start line: it is never answered)
      const out = salvageBadRequest(m.data, reason, this.opts.server, status);
      if (out === undefined || !this.mayRefuse(m)) return this.drop();
      this.counters.replies++;
      this.stat('sl:sent_replies');
      this.stat('sl:sent_err_replies');
      m.reply(out);
      return;
    }
    if (parsed.type === 'response') {
      this.stat('core:rcv_replies');
      // The proxy matches it to a client transaction (or drops it); without one, nothing can.
      const proxy = this.api<ProxyApi>('proxy');
      if (proxy !== undefined) return proxy.response(m, parsed);
      return this.drop();
    }
    const msg = parsed;
    if (member && pike!.admitMember(m.source.ip, msg.method, this.api<ProxyApi>('proxy')?.fromNode(msg) === true).action === 'drop') return this.drop();
    this.stat('core:rcv_requests');
    const ctx: RequestContext = {
      msg,
      source: m.source,
      local: m.local,
      receivedAt: this.now(),
      ...(m.tlsPeer !== undefined ? { tlsPeer: m.tlsPeer } : {}),
      isMyself: (host, port) => this.opts.myself.isMyself(host, port),
    };

    const sanity = this.api<SanityApi>('sanity');
    if (sanity !== undefined) {
      const r = sanity.check(msg);
      if (!r.ok) {
        this.opts.security({ event: 'sanity-failed', sourceIp: m.source.ip, method: msg.method, user: fromUser(msg), detail: `${r.check}: ${r.status} ${r.reason}` });
        if (r.reply) return this.send(m, msg, { status: r.status, reason: r.reason, ...(r.headers ? { headers: r.headers } : {}) });
        return this.drop();
      }
    }

    const mf = this.api<MaxfwdApi>('maxfwd')?.process(msg);
    if (mf !== undefined && this.decided(m, msg, mf)) return;
    const sc = this.api<ScannerApi>('scanner')?.check(ctx);
    if (sc !== undefined && this.decided(m, msg, sc)) return;
    const cert = this.opts.certificatePolicy?.(ctx);
    if (cert !== undefined && this.decided(m, msg, cert)) return;

    // The proxy (transactions, dialogs, relaying) takes everything but REGISTER and keepalives.
    const proxy = this.api<ProxyApi>('proxy');
    if (proxy !== undefined && proxy.request(ctx, m, { sl: (spec) => this.send(m, msg, spec), server: this.opts.server })) return;

    if (msg.method === 'ACK') return this.drop();
    const uri = msg.uri;
    const toMe = uri.kind === 'sip' && this.opts.myself.isMyself(uri.host, uri.port);
    if (!toMe) return this.send(m, msg, { status: 403, reason: 'Not relaying' });
    if (msg.method === 'OPTIONS' && uri.kind === 'sip' && uri.user === undefined) {
      return this.send(m, msg, { status: 200, reason: 'OK', headers: [['Allow', ALLOW], ['Accept', 'application/sdp']] });
    }
    if (msg.method === 'REGISTER') {
      // Country rules for registrations (modules/country), before any credential is looked at.
      const cr = this.api<CountryApi>('country')?.check('register', m.source.ip, 'REGISTER', fromUser(msg));
      if (cr !== undefined && this.decided(m, msg, cr)) return;
      return this.register(m, ctx);
    }
    if (msg.method === 'CANCEL') return this.send(m, msg, { status: 481, reason: 'Call/Transaction Does Not Exist' });
    return this.send(m, msg, { status: 501, reason: 'Not Implemented', headers: [['Allow', ALLOW]] });
  }

  /** Act on a stage's decision; false when the request goes on. */
  private decided(m: Inbound, msg: SipRequest, r: StageResult): boolean {
    if (r.action === 'continue') return false;
    if (r.action === 'reply' && msg.method !== 'ACK') this.send(m, msg, r.reply);
    else this.drop();
    return true;
  }

  private register(m: Inbound, ctx: RequestContext): void {
    const registrar = this.api<RegistrarApi>('registrar');
    const auth = this.api<AuthApi>('auth-db');
    if (registrar === undefined) return this.send(m, ctx.msg, { status: 501, reason: 'Not Implemented', headers: [['Allow', 'OPTIONS']] });
    if (auth === undefined) {
      // Never save a binding nobody authenticated.
      if (!this.warnedNoAuth) {
        this.warnedNoAuth = true;
        this.opts.log.error('REGISTER refused: the registrar is loaded but auth-db is not');
      }
      return this.send(m, ctx.msg, { status: 500, reason: 'Server Internal Error' });
    }
    const key = requestKey(m.source, m.data);
    ctx.requestKey = key; // auth-db tells a retransmission from a replay by it: no second digest
    // The same transaction built again by the UA (new cnonce, same branch, Call-ID, CSeq, nonce)
    // is a retransmission too (RFC 3261 §17.2.3), absorbed or answered here: see reply-cache.ts.
    const seen = this.registers.begin(key, transactionKey(m.source, ctx.msg));
    if (seen.state === 'pending') return;
    if (seen.state === 'answered') return this.send(m, ctx.msg, seen.reply);
    if (this.counters.inFlight >= this.maxInFlight) {
      this.registers.forget(key);
      return this.send(m, ctx.msg, { status: 503, reason: 'Service Unavailable', headers: [['Retry-After', '5']] });
    }
    this.counters.inFlight++;
    void (async () => {
      let reply: ReplySpec | undefined;
      try {
        const a = await auth.authenticate(ctx, 'www');
        // A subscriber registering from outside its home countries: refused (or dropped: country.action) when the policy says so.
        const home = a.ok ? this.api<CountryApi>('country')?.home(a.username, ctx.source.ip, 'REGISTER') : undefined;
        if (home !== undefined && typeof home === 'object' && home.action !== 'continue') {
          reply = home.action === 'reply' ? home.reply : undefined;
        } else {
          // User-Agent allow-list per group (modules/uafilter, issue 13 rule 2), once authenticated.
          const ua = a.ok ? this.api<UafilterApi>('uafilter')?.check(a.username, userAgentOf(ctx.msg.headers), 'REGISTER', ctx.source.ip) : undefined;
          reply = ua ?? (a.ok ? await registrar.save(ctx, a.username, a.domain) : a.reply);
        }
      } catch (e) {
        this.opts.log.error('REGISTER failed', { error: e instanceof Error ? e.message : String(e), source: ctx.source.ip, callId: ctx.msg.callId?.slice(0, 64) });
        reply = { status: 500, reason: 'Server Internal Error' };
      }
      try {
        if (reply === undefined) {
          this.registers.forget(key);
          this.drop();
        } else {
          this.registers.finish(key, reply);
          this.send(m, ctx.msg, reply);
        }
      } finally {
        this.counters.inFlight--;
      }
    })();
  }
}

