/**
 * REGISTER processing after authentication, following Kamailio's registrar save(): bindings
 * are added, refreshed and removed per contact, "Contact: *" with "Expires: 0" removes them all,
 * a REGISTER without Contact lists them, and every reply carries the current bindings with
 * their remaining time. Status codes, reason phrases and P-Registrar-Error texts are Kamailio's
 * (registrar/reply.c): e.g. too many contacts is "503 Service Unavailable" with
 * "P-Registrar-Error: Too many registered contacts".
 *
 * sipd is stricter than Kamailio in four places, each closing a hole:
 *  - the To user must be the authenticated user (and, with use_domain, the To host their
 *    domain): otherwise 403, so nobody registers contacts for someone else's AoR;
 *  - "Contact: *" needs an Expires header of 0 (RFC 3261 §10.2.2); Kamailio also accepts it
 *    without one;
 *  - only sip: and sips: contacts are accepted;
 *  - "Contact: *" keeps RFC 3261 §10.3's CSeq rule: it fails when a binding of the same Call-ID
 *    has an equal or higher CSeq (Kamailio removes everything regardless).
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { ContactValue, SipRequest } from '../../../core/sip/message.js';
import { formatUri, type SipUri, unescape } from '../../../core/sip/uri.js';
import type { ContactRecord, Endpoint, ReplySpec, RequestContext } from '../../kernel/contracts.js';
import type { Logger } from '../../kernel/module.js';
import { ALL_METHODS } from '../usrloc/location-db.js';
import type { UsrlocModuleApi } from '../usrloc/usrloc-module.js';
import { isValid } from '../usrloc/usrloc-store.js';

export interface RegistrarOptions {
  defaultExpires: number;
  minExpires: number;
  /** 0 = no maximum */
  maxExpires: number;
  /** 0: raise a too-short expiry to minExpires (Kamailio's default); 1: answer 423 with Min-Expires */
  minExpiresMode: number;
  /** 0 = unlimited */
  maxContacts: number;
  /** seconds during which a REGISTER with the same Call-ID and CSeq counts as a retransmission */
  cseqDelay: number;
  /** contact parameter carrying the received address in replies; '' = none (Kamailio received_param) */
  receivedParam: string;
  /** store the Path header (Kamailio use_path) */
  usePath: boolean;
}

/** Kamailio's method bits (parser/msg_parser.h) for Allow → methods. */
const METHOD_BITS: ReadonlyMap<string, number> = new Map([
  ['INVITE', 1], ['CANCEL', 2], ['ACK', 4], ['BYE', 8], ['INFO', 16], ['REGISTER', 32], ['SUBSCRIBE', 64], ['NOTIFY', 128],
  ['MESSAGE', 256], ['OPTIONS', 512], ['PRACK', 1024], ['UPDATE', 2048], ['REFER', 4096], ['PUBLISH', 8192], ['KDMQ', 16384],
  ['GET', 32768], ['POST', 65536], ['PUT', 131072], ['DELETE', 262144],
]);
const METHOD_OTHER = 524288;

/** Column sizes of `location` (Kamailio's contact/callid/received/UA limits). */
const CONTACT_MAX = 512;
const CALLID_MAX = 255;
const UA_MAX = 255;
const PATH_MAX = 512;

type RegError =
  | 'Invalid CSeq number' | 'No username in To URI' | 'To header not found' | 'Call-ID header not found' | 'CSeq header not found'
  | 'Contact parse error' | '* used in contact and expires is not zero' | 'Too many registered contacts' | 'Contact/received too long'
  | 'Callid too long' | 'Invalid Reg-Id number' | 'Interval too brief' | 'usrloc_record_delete failed' | 'usrloc_contact_insert failed';

/** RFC 3261 / Kamailio reason phrases by code (registrar/reply.c MSG_*). */
const REASON: Record<number, string> = { 200: 'OK', 400: 'Bad Request', 403: 'Forbidden', 423: 'Interval Too Brief', 500: 'Server Internal Error', 503: 'Service Unavailable' };

function regError(status: number, info: RegError, headers: Array<[string, string]> = []): ReplySpec {
  return { status, reason: REASON[status], headers: [...headers, ['P-Registrar-Error', info]] };
}

/** Kamailio's q2str: "1", "0", or "0." and up to three digits without trailing zeros. */
export function formatQ(q: number): string {
  if (q >= 1) return '1';
  if (q <= 0) return '0';
  return '0.' + String(Math.round(q * 1000)).padStart(3, '0').replace(/0+$/, '');
}

function canonicalHost(h: string): string {
  const lower = h.toLowerCase();
  // without a colon it is neither IPv6 nor IPv4-mapped: skip the (slow) IPv6 checks
  if (lower.indexOf(':') === -1) return lower;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (mapped !== null) return mapped[1];
  if (isIPv6(lower)) return new URL(`http://[${lower}]/`).hostname.slice(1, -1);
  return lower;
}

function hostForUri(ip: string): string {
  const h = canonicalHost(ip);
  return h.indexOf(':') !== -1 && isIPv6(h) ? `[${h}]` : h;
}

/** Kamailio's socket string: proto:ip:port, IPv6 in brackets. */
export function socketString(e: Endpoint): string {
  return `${e.transport}:${hostForUri(e.ip)}:${e.port}`;
}

/**
 * An RFC 5626 outbound flow's identity within an AoR (§6): its `+sip.instance` and reg-id
 * (LocationWriteOptions.bindings.flows); undefined for a contact without both.
 */
export function flowKey(c: { instance?: string; regId: number }): string | undefined {
  return c.instance !== undefined && c.regId > 0 ? `${c.instance}\0${c.regId}` : undefined;
}

/**
 * nathelper's received URI (sip:ip:port, ";transport=…" unless UDP) when the source differs
 * from the contact's own host:port; undefined when they are the same.
 */
export function receivedFor(uri: SipUri, source: Endpoint): string | undefined {
  const transport = (uri.params.get('transport') ?? '').toLowerCase();
  const defaultPort = uri.scheme === 'sips' || transport === 'tls' ? 5061 : 5060;
  const sameHost = (uri.hostType === 'ipv4' || uri.hostType === 'ipv6') && (isIPv4(canonicalHost(uri.host)) || isIPv6(canonicalHost(uri.host))) && canonicalHost(uri.host) === canonicalHost(source.ip);
  if (sameHost && (uri.port ?? defaultPort) === source.port) return undefined;
  const rcv = `sip:${hostForUri(source.ip)}:${source.port}`;
  return source.transport === 'udp' ? rcv : `${rcv};transport=${source.transport}`;
}

function headerValues(msg: SipRequest, key: string): string[] {
  return msg.headers.filter((h) => h.key === key).map((h) => h.value);
}

function allowedMethods(msg: SipRequest): number {
  const values = headerValues(msg, 'allow');
  if (values.length === 0) return ALL_METHODS;
  let bits = 0;
  for (const v of values) {
    for (const m of v.split(',').map((s) => s.trim().toUpperCase()).filter((s) => s.length > 0)) bits |= METHOD_BITS.get(m) ?? METHOD_OTHER;
  }
  return bits >>> 0;
}

interface Wanted {
  uri: string;
  sipUri: SipUri;
  /** absolute expiry (0 = remove) */
  expires: number;
  q: number;
  instance?: string;
  regId: number;
}

export class Registrar {
  constructor(
    private readonly ul: UsrlocModuleApi,
    private readonly opts: RegistrarOptions,
    private readonly nowSec: () => number,
    private readonly log: Logger,
  ) {}

  /** Relative expiry for one contact (Kamailio calc_contact_expires); 'low' when mode 1 refuses it. */
  private expiresFor(c: ContactValue, msg: SipRequest): number | 'low' {
    let e = c.expires ?? msg.expires ?? this.opts.defaultExpires;
    if (e === 0) return 0;
    if (e < this.opts.minExpires) {
      if (this.opts.minExpiresMode === 1) return 'low';
      e = this.opts.minExpires;
    }
    if (this.opts.maxExpires > 0 && e > this.opts.maxExpires) e = this.opts.maxExpires;
    return e;
  }

  /**
   * The Contact header of a reply: every valid binding with its remaining seconds — `bindings`
   * when given (in a cluster, every node's, as the write returned them), else this node's.
   */
  private contactHeader(aor: string, bindings?: ContactRecord[]): Array<[string, string]> {
    const now = this.nowSec();
    const parts = (bindings ?? this.ul.lookup(aor)).map((c) => {
      let s = `<${c.contact}>`;
      if (c.q >= 0) s += `;q=${formatQ(c.q)}`;
      s += `;expires=${c.expires === 0 ? 0 : c.expires - now}`;
      if (this.opts.receivedParam !== '' && c.received) s += `;${this.opts.receivedParam}="${c.received}"`;
      if (c.instance) s += `;+sip.instance="${c.instance}"`;
      if (c.regId > 0) s += `;reg-id=${c.regId}`;
      return s;
    });
    return parts.length === 0 ? [] : [['Contact', parts.join(', ')]];
  }

  private ok(aor: string, bindings?: ContactRecord[]): ReplySpec {
    return { status: 200, reason: 'OK', headers: this.contactHeader(aor, bindings) };
  }

  /** Process an authenticated REGISTER for username@domain; never throws for bad input. */
  async save(ctx: RequestContext, username: string, domain: string): Promise<ReplySpec> {
    const msg = ctx.msg;
    if (msg.to === undefined) return regError(400, 'To header not found');
    if (msg.callId === undefined) return regError(400, 'Call-ID header not found');
    if (msg.cseq === undefined) return regError(400, 'CSeq header not found');
    if (msg.callId.length > CALLID_MAX) return regError(400, 'Callid too long');

    // The AoR is the authenticated identity; the To URI must name that same identity.
    const to = msg.to.uri;
    if (to.kind !== 'sip' || to.user === undefined || to.user === '') return regError(400, 'No username in To URI');
    const toUser = unescape(to.user);
    if (toUser.toLowerCase() !== username.toLowerCase() || (this.ul.useDomain() && to.host.toLowerCase() !== domain.toLowerCase())) {
      this.log.warn('registrar: To does not match the authenticated user', { user: username.slice(0, 64), to: toUser.slice(0, 64), sourceIp: ctx.source.ip });
      return { status: 403, reason: 'Forbidden' };
    }
    const aor = this.ul.aorOf(username, domain);

    const contact = msg.contact;
    if (contact === undefined) {
      // a query (RFC 3261 §10.3 step 8: all current bindings): in a cluster every node's, read
      // from Redis (one read; Redis away: 503 as for a REGISTER that writes); alone this node's
      try {
        return this.ok(aor, await this.ul.lookupAny(aor));
      } catch (e) {
        if ((e as { code?: string }).code === 'CLUSTER_UNAVAILABLE') return { status: 503, reason: 'Service Unavailable', headers: [['Retry-After', '5']] };
        throw e;
      }
    }
    if (contact.star) {
      if (msg.expires !== 0) return regError(400, '* used in contact and expires is not zero');
      const callId = msg.callId;
      const cseq = msg.cseq.seq;
      return this.ul.withLock(aor, async () => {
        const existing = this.ul.get(aor);
        // RFC 3261 §10.3 step 6: a binding of the same Call-ID goes only for a higher CSeq, else
        // the whole request fails (an old, reordered "*" must not wipe fresh bindings).
        if (existing.some((c) => c.callId === callId && c.cseq >= cseq)) return regError(400, 'Invalid CSeq number', this.contactHeader(aor));
        let listed: ContactRecord[] | undefined;
        try {
          // in a cluster every node's bindings of the AoR go, by the same rule over all of them
          listed = await this.ul.commit(aor, { remove: existing.map((c) => c.ruid) }, { all: true, cseq: { callId, cseq, uris: [], delaySec: this.opts.cseqDelay }, list: true });
        } catch (e) {
          if ((e as { code?: string }).code === 'INVALID_CSEQ') {
            this.log.info('registrar: Contact: * with a CSeq not above a binding another node holds', { aor, callId: callId.slice(0, 64), cseq });
            return regError(400, 'Invalid CSeq number', this.contactHeader(aor));
          }
          if ((e as { code?: string }).code === 'CLUSTER_UNAVAILABLE') return { status: 503, reason: 'Service Unavailable', headers: [['Retry-After', '5']] };
          this.log.error('registrar: removing all bindings failed', { aor, error: String(e) });
          return regError(500, 'usrloc_record_delete failed', this.contactHeader(aor));
        }
        return this.ok(aor, listed);
      });
    }

    // Read each contact; a URI given twice in one REGISTER: the last one wins.
    const wanted = new Map<string, Wanted>();
    const now = this.nowSec();
    for (const c of contact.contacts) {
      if (c.uri.kind !== 'sip') return regError(400, 'Contact parse error');
      const uri = formatUri(c.uri);
      if (uri.length > CONTACT_MAX) return regError(400, 'Contact/received too long');
      const rel = this.expiresFor(c, msg);
      if (rel === 'low') return regError(423, 'Interval too brief', [['Min-Expires', String(this.opts.minExpires)]]);
      // header parameters arrive unquoted and unescaped (HeaderParams)
      const instance = c.params.get('+sip.instance') || undefined;
      let regId = 0;
      const rawRegId = c.params.get('reg-id');
      if (instance !== undefined && rawRegId !== undefined) {
        regId = /^[0-9]{1,9}$/.test(rawRegId ?? '') ? Number(rawRegId) : 0;
        if (regId === 0) return regError(400, 'Invalid Reg-Id number');
      }
      // The instance is quoted again in replies: no quote or backslash may close it early.
      if (instance !== undefined && (instance.length > 255 || /["\\]/.test(instance))) return regError(400, 'Contact parse error');
      wanted.set(uri, { uri, sipUri: c.uri, expires: rel === 0 ? 0 : now + rel, q: c.q ?? -1, instance, regId });
    }

    const callId = msg.callId;
    const cseq = msg.cseq.seq;
    const uaRaw = headerValues(msg, 'user-agent')[0];
    const userAgent = uaRaw === undefined || uaRaw === '' ? 'n/a' : uaRaw.slice(0, UA_MAX);
    const methods = allowedMethods(msg);
    const path = this.opts.usePath ? headerValues(msg, 'path').join(',') || undefined : undefined;
    if (path !== undefined && path.length > PATH_MAX) return regError(400, 'Contact/received too long');
    const socket = socketString(ctx.local);

    return this.ul.withLock(aor, async () => {
      const t = this.nowSec();
      const existing = this.ul.get(aor);
      const byUri = new Map(existing.map((c) => [c.contact, c]));
      // RFC 5626 §6: an outbound binding (+sip.instance and reg-id) is the AoR, the instance and
      // the reg-id, whatever its Contact URI — a phone back from another network or NAT port
      // replaces its binding instead of leaving a dead one beside it (Kamailio's get_ucontact_by_instance)
      const byFlow = new Map<string, ContactRecord>();
      for (const c of existing) {
        const k = flowKey(c);
        if (k !== undefined) byFlow.set(k, c);
      }
      const insert: ContactRecord[] = [];
      const update: ContactRecord[] = [];
      const remove: string[] = [];
      for (const w of wanted.values()) {
        const flow = flowKey(w);
        const found = (flow === undefined ? undefined : byFlow.get(flow)) ?? byUri.get(w.uri);
        if (found !== undefined && found.callId === callId) {
          if (cseq < found.cseq) return regError(400, 'Invalid CSeq number', this.contactHeader(aor));
          if (cseq === found.cseq) {
            // Kamailio's cseq_delay: a repeat soon after is a retransmission, later a replay.
            if (found.lastModified + this.opts.cseqDelay > t) continue;
            return regError(400, 'Invalid CSeq number', this.contactHeader(aor));
          }
        }
        if (w.expires === 0) {
          if (found !== undefined) remove.push(found.ruid);
          continue;
        }
        const received = receivedFor(w.sipUri, ctx.source);
        const rec: ContactRecord = {
          aor,
          contact: w.uri,
          expires: w.expires,
          q: w.q,
          callId,
          cseq,
          userAgent,
          received,
          path,
          socket,
          ruid: found?.ruid ?? this.ul.newRuid(),
          instance: w.instance,
          regId: w.regId,
          lastModified: t,
          flags: 0,
          cflags: 0,
          methods,
        };
        (found === undefined ? insert : update).push(rec);
      }

      // This node's own contacts first (no Redis round trip for a refusal it can see); in a cluster
      // the commit checks the AoR's contacts on all nodes too (usrloc, TooManyContactsError).
      if (this.opts.maxContacts > 0) {
        const gone = new Set([...remove, ...update.map((c) => c.ruid)]);
        const remaining = existing.filter((c) => !gone.has(c.ruid) && isValid(c, t)).length;
        const after = remaining + update.length + insert.length;
        if (after > this.opts.maxContacts) {
          this.log.info('registrar: too many contacts', { aor, contacts: after, max: this.opts.maxContacts });
          return regError(503, 'Too many registered contacts', this.contactHeader(aor));
        }
      }

      let listed: ContactRecord[] | undefined;
      try {
        // In a cluster the same CSeq rule over every node's bindings (a UA whose REGISTERs reach
        // two nodes), checked by the script that writes: nothing is written when it fails.
        // An un-REGISTER (Expires 0) names its URI: in a cluster, the binding another node holds for it goes too.
        // `list`: in a cluster the 200 OK names every node's bindings, returned by that same step.
        const cseqCheck = { callId, cseq, uris: [...wanted.keys()], delaySec: this.opts.cseqDelay };
        const unregister = [...wanted.values()].filter((w) => w.expires === 0).map((w) => w.uri);
        // an outbound binding (RFC 5626) another node holds for the same instance and reg-id goes too, whatever its URI
        const flows = [...wanted.values()].flatMap((w) => flowKey(w) ?? []);
        listed = await this.ul.commit(aor, { insert, update, remove }, { maxContacts: this.opts.maxContacts, cseq: cseqCheck, unregister, flows, list: true });
      } catch (e) {
        if ((e as { code?: string }).code === 'INVALID_CSEQ') {
          // another node took this very REGISTER (a retransmission): answered as that node did
          if ((e as { retransmission?: boolean }).retransmission === true) return this.ok(aor, (e as { bindings?: ContactRecord[] }).bindings);
          this.log.info('registrar: CSeq not above the binding another node holds', { aor, callId: callId.slice(0, 64), cseq });
          // the bindings of every node, as the script that refused read them
          return regError(400, 'Invalid CSeq number', this.contactHeader(aor, (e as { bindings?: ContactRecord[] }).bindings));
        }
        if ((e as { code?: string }).code === 'TOO_MANY_CONTACTS') {
          this.log.info('registrar: too many contacts on all nodes', { aor, contacts: (e as { contacts?: number }).contacts, max: this.opts.maxContacts });
          return regError(503, 'Too many registered contacts', this.contactHeader(aor, (e as { bindings?: ContactRecord[] }).bindings));
        }
        if ((e as { code?: string }).code === 'CLUSTER_UNAVAILABLE') {
          this.log.warn('registrar: cluster store unreachable; REGISTER refused', { aor });
          return { status: 503, reason: 'Service Unavailable', headers: [['Retry-After', '5']] };
        }
        this.log.error('registrar: saving bindings failed', { aor, error: String(e) });
        return regError(500, 'usrloc_contact_insert failed', this.contactHeader(aor));
      }
      return this.ok(aor, listed);
    });
  }
}
