/**
 * The transaction-stateful proxy (RFC 3261 §16) with sipd's call policy — what Kamailio's
 * request_route does with tm, rr, auth and the security playbook's checks:
 *
 *   request ─┬─ retransmission / ACK of a non-2xx → its server transaction (absorbed)
 *            ├─ CANCEL → 200, CANCEL to every pending branch (487 for those with no provisional yet); unknown → 481
 *            ├─ loop (a Via of ours with this request's loop hash) → 482
 *            ├─ To tag → in-dialog: must match a dialog sipd knows (else 404); loose-routed on;
 *            │           ACK forwarded statelessly, everything else statefully; BYE ends the call
 *            └─ initial → who is calling:
 *                 carrier  (source address in group carrier_group)        no digest auth
 *                 local    (From is one of our domains)                    407 challenge, auth-db
 *                 guest    (anyone else)                                   may only reach local users
 *               where to:
 *                 a registered user        → every contact at once (usrloc; forked, at most max_branches)
 *                 anything else, local caller → the carrier trunk (unless a blocked prefix)
 *                 anything else, carrier   → 404 User not Registered;  guest → 403 Not relaying
 *               country rules (modules/country) by the source address, for every caller;
 *               new calls (INVITE) also pass: blocked prefixes (mtree), time rules (timerule), calls per second
 *               (pipelimit), active calls per subscriber (dialog); then the dialog is tracked,
 *               Record-Route added, identity headers of untrusted sources removed.
 *
 * Responses: matched to a client transaction (§17.1.3) or dropped; our Via removed and sent
 * upstream through the server transaction — provisionals and every 2xx at once, otherwise the
 * best final response once every branch has one (§16.7); the first 2xx or a 6xx cancels the
 * other branches. Timer C (fr_inv_timer, §16.6 item 11) ends an unanswered INVITE branch with a
 * CANCEL downstream; it counts as 408 for that branch.
 *
 * Every local refusal of a new request — before authentication (403 Not relaying, 407
 * challenges, bad credentials) and after it (404, blocked prefix, call limits) — is one
 * stateless reply, like Kamailio's sl_send_reply: no 100 Trying, no transaction whose Timer G
 * would send the final reply again, so a datagram with a forged source gets one reply at most
 * (issue 16). The server transaction is made when the request is relayed; from then on
 * retransmissions are absorbed. A retransmission that arrives while the first copy is still
 * being admitted (credentials, lookups, call limits waiting on MariaDB or Redis) is absorbed too,
 * an INVITE's with 100 Trying (whilePending); one arriving after a refusal is refused again
 * (auth-db tells a retransmission from a replay, so its reused nonce is not counted as one).
 */
import { promises as dns } from 'node:dns';
import net from 'node:net';
import type { SipRequest, SipResponse } from '../../../core/sip/message.js';
import { parseMessage } from '../../../core/sip/parser.js';
import { formatUri, parseUri, unescape, type SipUri, type Uri } from '../../../core/sip/uri.js';
import type { AlertsApi, AuthApi, ClusterApi, Endpoint, ReplySpec, RequestContext, StatsApi, UsrlocApi, ContactRecord } from '../../kernel/contracts.js';
import type { Logger } from '../../kernel/module.js';
import { buildReply, toTag } from '../../kernel/reply.js';
import { buildCancel } from '../../transaction/ack-cancel.js';
import { loopHash, loopPartOf, newBranch, proxyBranch, statelessBranch } from '../../transaction/branch.js';
import { ClientInviteTransaction } from '../../transaction/client-invite.js';
import type { ServerInviteTransaction } from '../../transaction/server-invite.js';
import type { TimerHandle } from '../../transaction/timers.js';
import { serverKey, type ClientTransaction, type ServerTransaction, type TransactionLayer } from '../../transaction/transaction-layer.js';
import type { TransportPath } from '../../transaction/transaction.js';
import type { Inbound } from '../../transport/transport.js';
import type { AccApi } from '../acc/acc-module.js';
import type { CallParties, EndReason } from '../acc/records.js';
import type { Dialog, LegName } from '../dialog/dialog.js';
import type { DialogApi } from '../dialog/dialog-module.js';
import { IDENTITY_HEADERS, hasHeaders, identityKeys, stripHeaders } from '../identity/identity.js';
import type { IdentityApi } from '../identity/identity-module.js';
import type { MtreeApi } from '../mtree/mtree-module.js';
import type { CountryApi } from '../country/country-module.js';
import type { TimeruleApi } from '../timerule/timerule-module.js';
import type { UafilterApi } from '../uafilter/uafilter-module.js';
import { userAgentOf } from '../../../core/uafilter/uafilter.js';
import type { LimitsApi } from '../limits/limits-module.js';
import { isInternational } from '../../../core/block/destination-class.js';
import { normaliseNumber } from '../mtree/prefix-tree.js';
import type { PipelimitApi } from '../pipelimit/pipelimit-module.js';
import type { PermissionsApi } from '../../kernel/contracts.js';
import { forwardRequest, recordRouteValue, responseUpstream, routeValues, serialize, upstreamVias, viaValue } from './forward.js';
import { headerValue, routeUri } from './header-values.js';
import type { Outbound, SipSender } from './sender.js';

export interface ProxySettings {
  carrierGroup: number;
  /** outbound trunk; host '' = none */
  carrier: { host: string; port: number; transport: 'udp' | 'tcp' | 'tls' };
  /** dialled numbers the trunk takes (others: local users only) */
  carrierNumbers: RegExp;
  recordRoute: boolean;
  /** ms, Timer C */
  frInvTimer: number;
  /** unauthenticated, non-carrier callers may call registered local users */
  allowGuests: boolean;
  /** most server transactions at once; beyond → 503 */
  maxTransactions: number;
  /** most branches one request forks to (Kamailio tm max_branches) */
  maxBranches: number;
}

/** What the kernel hands the proxy with every request. */
export interface KernelReply {
  /** a stateless reply (Kamailio sl_send_reply) */
  sl(spec: ReplySpec): void;
  /** the Server header of local replies */
  server: string;
}

type CallerKind = 'carrier' | 'local' | 'guest';

interface Caller {
  kind: CallerKind;
  /** the authenticated subscriber (local callers) */
  user?: string;
  domain?: string;
}

interface Target {
  kind: 'user' | 'carrier';
  uri: SipUri;
  /** where to send (a registration's received address), else resolved from `uri` */
  dest?: Endpoint;
  /** sipd --cluster: the contact registered through another node; the request goes there */
  handoff?: { node: string; hop: string; aor: string; ruid: string };
}

/** One forwarded copy of a request (RFC 3261 §16.6): a client transaction towards one target. */
interface Branch {
  /** its Request-URI (the contact) */
  uri: Uri;
  /** undefined while its next hop is being resolved */
  ct?: ClientTransaction;
  out?: Outbound;
  timerC?: TimerHandle;
  /** CANCEL it when its first provisional comes (§9.1: not before) */
  cancelPending: boolean;
  cancelSent: boolean;
  /** its final response, or what stands for one (timeout 408, unreachable, cancelled before any provisional 487) */
  final?: BranchFinal;
}

interface BranchFinal {
  status: number;
  reason: string;
  /** the response received; undefined for one sipd stands in for */
  res?: SipResponse;
  why: EndReason;
}

/** Where one branch goes (a target of the request). */
interface BranchSpec {
  uri: Uri;
  dest?: Endpoint;
  routes?: string[];
  add?: Array<[string, string]>;
  /** no way to send it (a hand-off that cannot be signed or addressed): ends at once as unreachable */
  unusable?: boolean;
}

/** What relayNew() got to: the call it made (whose dialog, once made, holds the call's place in the shared count). */
interface RelayOutcome {
  call?: ProxyCall;
  /** the server transaction already existed (the same INVITE from another path) */
  sameRequest?: boolean;
}

/** One request being proxied statefully (Kamailio's transaction cell). */
interface ProxyCall {
  st: ServerTransaction;
  request: SipRequest;
  source: Endpoint;
  local: Endpoint;
  /** the branches (§16.6): one per target, all started at once; empty until the request is relayed */
  branches: Branch[];
  /** a final response went upstream */
  final: boolean;
  cancelled: boolean;
  dialog?: Dialog;
  /** this request is the initial INVITE of a call (CDR on local rejection) */
  parties?: Omit<CallParties, 'toTag'>;
  setupTime: number;
  /** an in-dialog request: its dialog and the leg it came from */
  inDialog?: { dialog: Dialog; leg: LegName };
  /** the Via fields of responses sent upstream (made on the first one) */
  vias?: SipRequest['headers'];
  /** sipd --cluster: a call handed over by the node that owns it (no CDR here) */
  transit?: boolean;
  /** that node */
  handedBy?: string;
}

export interface ProxyDeps {
  layer: TransactionLayer;
  sender: SipSender;
  log: Logger;
  now(): number;
  api<T>(name: string): T | undefined;
  isMyself(host: string, port?: number): boolean;
}

const INITIAL_METHODS = new Set(['INVITE', 'MESSAGE', 'OPTIONS']);
const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE, UPDATE, INFO, PRACK, REFER, NOTIFY, REGISTER';
const DEFAULT_IDENTITY_KEYS = identityKeys(IDENTITY_HEADERS);
/**
 * sipd --cluster: a call for a contact registered through another node goes to that node (the
 * one holding the NAT binding or the TCP/TLS connection) with this header, signed with the
 * cluster's key; that node delivers it to the contact over its own socket (RFC 3327's Path, in
 * effect, without a header the phone has to echo).
 */
const HANDOFF = 'x-sipd-handoff';
const HANDOFF_DROP = [HANDOFF] as const;
/** ms a hand-off signature stays good (clock skew between nodes included) */
const HANDOFF_WINDOW_MS = 60_000;

function sipUser(u: Uri | undefined): string {
  return u !== undefined && u.kind === 'sip' && u.user !== undefined ? unescape(u.user) : '';
}

function sipHost(u: Uri | undefined): string {
  return u !== undefined && u.kind === 'sip' ? u.host : '';
}

/** Within a class, responses that let the caller try again come first (§16.7 item 6). */
const PREFERRED = new Set([401, 407, 415, 420, 484]);

/**
 * §16.7 item 6: the best final response of a request's branches — a 6xx if any, else the lowest
 * class; within it a response a device sent before one sipd stands in for (timeout, unreachable,
 * cancelled), then 401/407/415/420/484, then the lowest code; the earlier branch on a tie.
 */
function bestFinal<F extends { status: number; res?: unknown }>(finals: readonly F[]): F {
  const score = (f: F): number => {
    const cls = Math.floor(f.status / 100);
    const rank = cls === 6 ? 0 : cls;
    return rank * 1000 + (f.res === undefined ? 500 : 0) + (PREFERRED.has(f.status) ? 0 : f.status % 100);
  };
  let best = finals[0]!;
  for (const f of finals) if (score(f) < score(best)) best = f;
  return best;
}

export class Proxy {
  private readonly calls = new Map<string, ProxyCall>();
  /** the client transactions' peers: a response must come from where its request went */
  private readonly peers = new WeakMap<ClientTransaction, string>();
  private responseSource: Endpoint | undefined;
  private kernel: KernelReply = { sl: () => undefined, server: 'sipd' };
  private readonly dnsCache = new Map<string, { ip: string; until: number }>();
  /**
   * Server-transaction keys (§17.2.3) of new requests being admitted — credentials, lookups and
   * limits that wait on MariaDB or Redis before the server transaction exists: their
   * retransmissions are absorbed meanwhile (see whilePending).
   */
  private readonly pending = new Map<string, { source: string; cancelled: boolean }>();
  readonly counters = { relayed: 0, absorbed_pending: 0, local_replies: 0, rpl_received: 0, rpl_dropped: 0, rpl_relayed: 0, cancelled: 0, timer_c: 0, loops: 0, not_relaying: 0, no_dialog: 0, final_2xx: 0, final_3xx: 0, final_4xx: 0, final_5xx: 0, final_6xx: 0 };

  /** A call's transaction got its final reply (tm.stats' 2xx … 6xx: transactions by final class). */
  private countFinal(status: number): void {
    switch (Math.floor(status / 100)) {
      case 2: this.counters.final_2xx++; break;
      case 3: this.counters.final_3xx++; break;
      case 4: this.counters.final_4xx++; break;
      case 5: this.counters.final_5xx++; break;
      case 6: this.counters.final_6xx++; break;
    }
  }

  constructor(private readonly d: ProxyDeps, public settings: ProxySettings) {}

  private api<T>(name: string): T | undefined {
    return this.d.api<T>(name);
  }

  private stat(name: string): void {
    this.api<StatsApi>('stats')?.inc(name);
  }

  // ------------------------------------------------------------------ entry points

  /** A request from the pipeline. False when the kernel keeps it (REGISTER, keepalive OPTIONS). */
  request(ctx: RequestContext, m: Inbound, kernel: KernelReply): boolean {
    const msg = ctx.msg;
    // Every request teaches the sender its socket / connection: a TCP phone that only REGISTERed
    // is reached over the connection its REGISTER came in on.
    this.d.sender.learn(m);
    if (msg.method === 'REGISTER') return false;
    const uri = msg.uri;
    if (msg.method === 'OPTIONS' && msg.to?.tag === undefined && uri.kind === 'sip' && uri.user === undefined && ctx.isMyself(uri.host, uri.port)) return false;
    this.kernel = kernel;
    const sl = (spec: ReplySpec) => {
      if (msg.method === 'ACK') return;
      this.counters.local_replies++;
      kernel.sl(spec);
    };
    try {
      this.route(ctx, m, sl);
    } catch (e) {
      this.d.log.error('proxy: request handling failed', { error: e instanceof Error ? e.message : String(e), method: msg.method, callId: msg.callId?.slice(0, 64) });
      sl({ status: 500, reason: 'Server Internal Error' });
    }
    return true;
  }

  /** A response from the pipeline: to its client transaction, else dropped. */
  response(m: Inbound, res: SipResponse): void {
    this.d.sender.learn(m);
    this.counters.rpl_received++;
    const ct = this.d.layer.matchClient(res);
    const peer = ct === undefined ? undefined : this.peers.get(ct);
    if (ct === undefined || (peer !== undefined && peer !== m.source.ip)) {
      this.counters.rpl_dropped++;
      this.stat('tmx:rpl_dropped');
      return;
    }
    this.stat('tmx:rpl_received');
    this.responseSource = m.source;
    try {
      ct.receiveResponse(res, m.data);
    } catch (e) {
      this.d.log.error('proxy: response handling failed', { error: e instanceof Error ? e.message : String(e), status: res.status, callId: res.callId?.slice(0, 64) });
    } finally {
      this.responseSource = undefined;
    }
  }

  // ------------------------------------------------------------------ request routing

  private route(ctx: RequestContext, m: Inbound, sl: (spec: ReplySpec) => void): void {
    const msg = ctx.msg;
    const st = this.d.layer.matchServer(msg);
    if (st !== undefined) {
      if (st.kind === 'server-invite' && st.receiveRequest(msg) === 'ack-to-tu') this.inDialog(ctx, m, sl);
      else if (st.kind === 'server-non-invite') st.receiveRequest(msg);
      return;
    }
    if (msg.method === 'CANCEL') return this.cancel(ctx, m, sl);
    if (this.looped(msg)) {
      this.counters.loops++;
      return sl({ status: 482, reason: 'Loop Detected' });
    }
    if (msg.to?.tag !== undefined) return this.inDialog(ctx, m, sl);
    if (msg.method === 'ACK') return; // no transaction, no dialog: nothing acknowledges anything of ours
    this.whilePending(ctx, sl, () => this.initial(ctx, m, sl), 'proxy: initial request failed');
  }

  /**
   * Handles a new request whose admission waits (auth-db, usrloc and call limits on MariaDB or
   * Redis) before its server transaction exists. A retransmission that arrives meanwhile — the
   * same transaction by §17.2.3 — is absorbed, as the server transaction would absorb it
   * (§17.2.1), and an INVITE's gets 100 Trying, which stops the UA's Timer A: the request is
   * authenticated, counted against its limits and relayed once. Once it is relayed its server
   * transaction absorbs copies; once refused (one stateless reply, issue 16) a copy is handled
   * anew and refused again. A CANCEL of an INVITE being admitted is answered 200 at once (§16.10:
   * the proxy has its response context) and the INVITE ends with 487 instead of being relayed.
   */
  private whilePending(ctx: RequestContext, sl: (spec: ReplySpec) => void, work: () => Promise<void>, failure: string): void {
    const msg = ctx.msg;
    const key = serverKey(msg);
    if (key !== undefined && this.pending.has(key)) {
      this.counters.absorbed_pending++;
      if (msg.method === 'INVITE') sl({ status: 100, reason: 'Trying' });
      return;
    }
    if (key !== undefined) this.pending.set(key, { source: ctx.source.ip, cancelled: false });
    void work()
      .catch((e: unknown) => this.d.log.error(failure, { error: e instanceof Error ? e.message : String(e), callId: msg.callId?.slice(0, 64) }))
      .finally(() => {
        if (key !== undefined) this.pending.delete(key);
      });
  }

  /** §16.3 item 4: a Via of ours whose branch carries this very request's loop hash. */
  private looped(msg: SipRequest): boolean {
    let loop: string | undefined;
    for (const v of msg.via) {
      const part = loopPartOf(v.branch);
      if (part === undefined || !this.d.isMyself(v.host, v.port)) continue;
      loop ??= loopHash(msg);
      if (part === loop) return true;
    }
    return false;
  }

  private isCarrier(source: Endpoint): boolean {
    return this.api<PermissionsApi>('permissions')?.allowSource(this.settings.carrierGroup, source.ip, source.port) ?? false;
  }

  private sanitize(headers: SipRequest['headers'], source: Endpoint): void {
    const id = this.api<IdentityApi>('identity');
    if (id !== undefined) id.sanitize(headers, source);
    else if (hasHeaders(headers, DEFAULT_IDENTITY_KEYS) && !this.isCarrier(source)) stripHeaders(headers, DEFAULT_IDENTITY_KEYS);
  }

  private serverPath(m: Inbound): TransportPath {
    return { reliable: m.source.transport !== 'udp', send: (d) => (m.reply(d), true) };
  }

  private newCall(ctx: RequestContext, m: Inbound): ProxyCall | undefined {
    const msg = ctx.msg;
    const st = this.d.layer.createServer(msg, this.serverPath(m), {
      onTerminated: () => {
        const c = this.calls.get(st!.key);
        if (c !== undefined && c.st === st) {
          this.calls.delete(st!.key);
          for (const b of c.branches) b.timerC?.clear();
        }
      },
    });
    if (st === undefined) return undefined;
    const call: ProxyCall = { st, request: msg, source: ctx.source, local: ctx.local, branches: [], final: false, cancelled: false, setupTime: ctx.receivedAt };
    this.calls.set(st.key, call);
    this.stat('tmx:UAS_transactions');
    if (msg.method === 'INVITE') st.respond(100, buildReply(msg, { status: 100, reason: 'Trying' }, { source: ctx.source, server: this.kernel.server }));
    return call;
  }

  /** A reply sipd makes itself, through the call's server transaction. */
  private replyLocal(call: ProxyCall, spec: ReplySpec): void {
    if (call.final) return;
    if (spec.status >= 200) {
      call.final = true;
      this.countFinal(spec.status);
    }
    this.counters.local_replies++;
    this.stat('tmx:rpl_generated');
    call.st.respond(spec.status, buildReply(call.request, spec, { source: call.source, server: this.kernel.server }));
  }

  /** A new call refused after its caller was identified: the reply, and its CDR. */
  private reject(call: ProxyCall, spec: ReplySpec): void {
    this.replyLocal(call, spec);
    if (call.parties === undefined) return;
    const acc = this.api<AccApi>('acc');
    const t = this.d.now();
    const rec = { ...call.parties, toTag: '' };
    acc?.event({ ...rec, method: 'INVITE', sipCode: spec.status, sipReason: spec.reason, time: t });
    acc?.cdr({ ...rec, setupTime: call.setupTime, endTime: t, sipCode: spec.status, sipReason: spec.reason, endReason: 'rejected' });
  }

  private async initial(ctx: RequestContext, m: Inbound, sl: (spec: ReplySpec) => void): Promise<void> {
    const msg = ctx.msg;
    const s = this.settings;
    if (!INITIAL_METHODS.has(msg.method)) return sl({ status: 501, reason: 'Not Implemented', headers: [['Allow', ALLOW]] });
    const uri = msg.uri;
    if (uri.kind !== 'sip') return sl({ status: 416, reason: 'Unsupported URI Scheme' });
    const handoff = headerValue(msg, HANDOFF);
    if (handoff !== undefined && this.cluster() !== undefined) return this.handedOver(ctx, m, sl, handoff);
    const carrier = this.isCarrier(ctx.source);
    const fromUri = msg.from?.uri;
    const fromMe = fromUri !== undefined && fromUri.kind === 'sip' && this.d.isMyself(fromUri.host, fromUri.port);
    const toMe = this.d.isMyself(uri.host, uri.port);
    // Not an open relay: a stranger (not a carrier, not claiming to be ours) only reaches our users.
    if (!carrier && !fromMe && (!toMe || !s.allowGuests)) {
      this.counters.not_relaying++;
      return sl({ status: 403, reason: 'Not relaying' });
    }

    // Every refusal up to the relay is one stateless reply (sl) and no transaction: no 100
    // Trying, no final reply retransmitted by Timer G — a datagram with a forged source gets one
    // answer at most (issue 16). A retransmission is worked on again and answered again, once.
    let caller: Caller;
    if (carrier) caller = { kind: 'carrier' };
    else if (fromMe) {
      const auth = this.api<AuthApi>('auth-db');
      if (auth === undefined) return sl({ status: 500, reason: 'Server Internal Error' });
      // A retransmission arriving meanwhile is absorbed (whilePending): one digest check.
      const a = await auth.authenticate(ctx, 'proxy');
      if (!a.ok) return sl(a.reply);
      caller = { kind: 'local', user: a.username, domain: a.domain };
    } else caller = { kind: 'guest' };

    // Country rules (modules/country): calls of carriers and of everyone else by the source's
    // country; a subscriber outside its home countries is refused or restricted (no international).
    const country = this.api<CountryApi>('country');
    let restricted = false;
    if (country !== undefined) {
      const cr = country.check(caller.kind === 'carrier' ? 'carrier' : 'subscriber', ctx.source.ip, msg.method, caller.user);
      if (cr.action === 'reply') return sl(cr.reply);
      if (cr.action === 'drop') return;
      if (caller.kind === 'local') {
        const h = country.home(caller.user!, ctx.source.ip, msg.method);
        if (h === 'restricted') restricted = true;
        else if (h !== 'home' && h.action === 'reply') return sl(h.reply);
        else if (h !== 'home' && h.action === 'drop') return;
      }
    }

    const dialled = sipUser(uri);
    const parties: ProxyCall['parties'] = msg.method !== 'INVITE' ? undefined : {
      callId: msg.callId ?? '',
      fromTag: msg.from?.tag ?? '',
      srcUser: caller.user ?? sipUser(fromUri),
      srcDomain: caller.domain ?? sipHost(fromUri),
      srcIp: ctx.source.ip,
      dstOuser: dialled,
      dstUser: dialled,
      dstDomain: uri.host,
    };
    const refuse = (spec: ReplySpec) => this.refuse(sl, parties, ctx.receivedAt, spec);

    // Where to: every valid contact of a registered user (forked to all at once), else one target.
    let targets: Target[] = [];
    let target: Target | undefined;
    if (toMe) {
      if (uri.user === undefined) return refuse({ status: 484, reason: 'Address Incomplete' });
      let found: Target[] | 'unavailable';
      try {
        found = await this.lookup(dialled, uri.host);
      } catch (e) {
        if ((e as { code?: string }).code !== 'CLUSTER_UNAVAILABLE') throw e;
        found = 'unavailable';
      }
      // A cluster whose shared store is away cannot say where the user is: not "404".
      if (found === 'unavailable') return refuse({ status: 503, reason: 'Service Unavailable', headers: [['Retry-After', '5']] });
      targets = found;
      target = targets[0];
      if (target === undefined) {
        if (caller.kind === 'local') {
          // A telephone number goes to the trunk (Kamailio's route[PSTN]); a user name not registered here is 404.
          if (!this.isNumber(dialled)) return refuse({ status: 404, reason: 'User not Registered' });
          target = this.carrierTarget(uri);
          if (target === undefined) return refuse({ status: 404, reason: 'Not Found' });
        } else if (caller.kind === 'carrier') return refuse({ status: 404, reason: 'User not Registered' });
        else {
          this.counters.not_relaying++;
          return refuse({ status: 403, reason: 'Not relaying' });
        }
      }
    } else {
      target = caller.kind === 'local' && this.isNumber(dialled) ? this.carrierTarget(uri) : undefined;
      if (target === undefined) {
        this.counters.not_relaying++;
        return refuse({ status: 403, reason: 'Not relaying' });
      }
    }
    if (targets.length === 0) targets = [target];

    // Limits against toll fraud, for new calls.
    /** a place in the user's shared active-call count (sipd:calls:<user>) admission took */
    let placed: { user: string; member: string } | undefined;
    if (msg.method === 'INVITE') {
      if (target.kind === 'carrier') {
        const blocked = this.api<MtreeApi>('mtree')?.blocked(dialled);
        if (blocked !== undefined) {
          this.stat('mtree:blocked_calls');
          this.d.log.info('proxy: call to a blocked destination refused', { caller: caller.user, dialled: dialled.slice(0, 64), prefix: blocked.prefix });
          this.api<AlertsApi>('alerts')?.emit('blocked-destination', `${caller.user ?? ctx.source.ip}|${blocked.prefix}`, { user: caller.user, sourceIp: ctx.source.ip, dialled, prefix: blocked.prefix });
          return refuse({ status: 403, reason: 'Destination blocked' });
        }
      }
      if (restricted && isInternational(dialled)) return refuse({ status: 403, reason: 'International calls not allowed from abroad' });
      // Time rules (modules/timerule): a destination class allowed only within its windows.
      if (caller.kind === 'local') {
        // User-Agent allow-list per group (modules/uafilter, issue 13 rule 2).
        const ua = this.api<UafilterApi>('uafilter')?.check(caller.user!, userAgentOf(msg.headers), 'INVITE', ctx.source.ip);
        if (ua !== undefined) return refuse(ua);
        const outside = this.api<TimeruleApi>('timerule')?.check(caller.user!, dialled, ctx.source.ip);
        if (outside !== undefined) return refuse(outside);
        // Spending and daily limits (modules/limits): calls, minutes and cost per day, cost per month.
        const spent = this.api<LimitsApi>('limits')?.admit(caller.user!, dialled);
        if (spent !== undefined) return refuse(spent);
      }
      // Full (max_transactions): refused before the pipes and the active-call count take the call
      // in (in a cluster, in Redis); checked again below, as their round trips may fill the table.
      // A refusal like the others: its CDR too (sipctl calls history shows the overload).
      if (this.d.layer.counts().server >= s.maxTransactions) return refuse({ status: 503, reason: 'Service Unavailable', headers: [['Retry-After', '5']] });
      // In a cluster the pipes are shared (one Redis round trip when a pipe applies); alone, local.
      const pl = this.api<PipelimitApi>('pipelimit');
      const cps = pl === undefined ? undefined : this.cluster() !== undefined ? await pl.checkShared(caller.user) : pl.check(caller.user);
      if (cps !== undefined) return refuse(cps);
      const dlg = this.api<DialogApi>('dialog');
      const member = `${msg.callId ?? ''}|${msg.from?.tag ?? ''}`;
      const busy = dlg === undefined ? undefined : await dlg.admitShared(caller.user, member);
      if (busy !== undefined) return refuse(busy);
      if (dlg !== undefined && caller.user !== undefined) placed = { user: caller.user, member };
      if (parties !== undefined) parties.dstUser = sipUser(target.uri), parties.dstDomain = target.uri.host;
    }

    // The dialog made as the call is relayed gives its place in the shared count back when the
    // call ends. A call that ends before it has one — 503 at max_transactions, the hand-off or
    // the next hop unreachable, a CANCEL during name resolution, an error — gives it back here;
    // else the user's count stays up until cluster.dialog_ttl_sec (issue 14). Alone (no cluster)
    // admission takes nothing: the local count is the dialogs'.
    const outcome: RelayOutcome = {};
    try {
      await this.relayNew(ctx, m, sl, caller, targets, parties, outcome);
    } finally {
      if (placed !== undefined && outcome.call?.dialog === undefined && outcome.sameRequest !== true) this.cluster()?.callRelease(placed.user, placed.member);
    }
  }

  /** A new request, admitted: its server transaction, then relayed (initial()). */
  private async relayNew(ctx: RequestContext, m: Inbound, sl: (spec: ReplySpec) => void, caller: Caller, targets: Target[], parties: ProxyCall['parties'], outcome: RelayOutcome): Promise<void> {
    const msg = ctx.msg;
    const s = this.settings;
    // Relayed: from here on the request has its server transaction (100 Trying for an INVITE,
    // retransmissions absorbed, the final response retransmitted until the ACK).
    if (this.d.layer.counts().server >= s.maxTransactions) return this.refuse(sl, parties, ctx.receivedAt, { status: 503, reason: 'Service Unavailable', headers: [['Retry-After', '5']] });
    const call = this.newCall(ctx, m);
    if (call === undefined) {
      // a transaction with this key exists: this very INVITE, relayed (a copy from another path),
      // and its place in the shared count is that call's
      outcome.sameRequest = true;
      return;
    }
    outcome.call = call;
    const target = targets[0]!;
    if (parties !== undefined) call.parties = parties;
    const key = serverKey(msg);
    if (key !== undefined && this.pending.get(key)?.cancelled === true) {
      // CANCELled while being admitted (its 200 went out then): 487 through the transaction, never
      // relayed. The dialog is made and failed at once, so what admission counted for it (the
      // shared active-call count) is given back and its CDR says cancelled.
      call.cancelled = true;
      if (parties !== undefined) {
        call.dialog = this.api<DialogApi>('dialog')?.create({ invite: msg, source: ctx.source, local: ctx.local, profileUser: caller.kind === 'local' ? caller.user : undefined, parties, setupTime: call.setupTime });
      }
      return this.fail(call, 487, 'Request Terminated', 'cancelled');
    }
    this.sanitize(msg.headers, ctx.source);
    const add: Array<[string, string]> = [];
    if (caller.kind === 'local' && target.kind === 'carrier') {
      const pai = this.api<IdentityApi>('identity')?.assertion(caller.user!, caller.domain!);
      if (pai !== undefined) add.push(['P-Asserted-Identity', pai]);
    }
    // One branch per target (§16.6): a contact registered through another node of a cluster goes
    // to that node, with a hand-off signed for that contact.
    const specs: BranchSpec[] = targets.map((t) => {
      if (t.handoff === undefined) return { uri: t.uri, ...(t.dest !== undefined ? { dest: t.dest } : {}) };
      const h = t.handoff;
      const now = String(this.d.now());
      const sig = this.cluster()?.sign(this.handoffData(msg, h.aor, h.ruid, this.cluster()!.nodeId, now));
      const hop = this.destinationOf(`sip:${h.hop}`);
      // unsigned or no address: that branch ends at once as unreachable (480)
      if (sig === undefined || hop === undefined) return { uri: t.uri, unusable: true };
      return { uri: t.uri, dest: hop, routes: [`<sip:${h.hop};lr>`], add: [['X-Sipd-Handoff', `${this.cluster()!.nodeId};aor=${encodeURIComponent(h.aor)};ruid=${encodeURIComponent(h.ruid)};t=${now};sig=${sig}`]] };
    });
    await this.relay(call, specs, {
      recordRoute: s.recordRoute && msg.method === 'INVITE',
      dropProxyAuthorization: caller.kind === 'local',
      add,
      profileUser: caller.kind === 'local' ? caller.user : undefined,
      unreachable: target.kind === 'user' ? { status: 480, reason: 'Temporarily Unavailable' } : { status: 503, reason: 'Service Unavailable' },
    });
  }

  /** The cluster API when sipd runs as a cluster node (cluster.url), else undefined. */
  private cluster(): ClusterApi | undefined {
    const c = this.api<ClusterApi>('cluster');
    return c?.enabled === true ? c : undefined;
  }

  /** A node's hand-off address that is one of ours (a record written before this node bound its ports): nothing to hand over. */
  private isOwnHop(hop: string): boolean {
    const d = this.destinationOf(`sip:${hop}`);
    return d !== undefined && this.d.isMyself(d.ip, d.port);
  }

  /** What a hand-off signature covers: the call, the contact, the node that sent it, when. */
  private handoffData(msg: SipRequest, aor: string, ruid: string, node: string, t: string): string {
    return [msg.method, msg.callId ?? '', msg.from?.tag ?? '', aor, ruid, node, t].join('|');
  }

  /**
   * A request another node of the cluster handed over for a contact registered through this one:
   * checked (signature, age), then delivered over this node's socket or connection to the contact.
   * The node that handed it over authenticated the caller, applied the limits and owns the call
   * (its CDR); this node relays it and keeps a transit record so in-dialog requests pass. Never
   * handed on again (loop protection): the contact must be one this node holds.
   */
  private handedOver(ctx: RequestContext, m: Inbound, sl: (spec: ReplySpec) => void, value: string): void {
    const msg = ctx.msg;
    const h = this.checkHandoff(msg, value);
    if (h === undefined) {
      this.d.log.warn('proxy: cluster hand-off refused (signature, age or sender)', { node: value.split(';')[0]!.trim().slice(0, 64), source: ctx.source.ip, callId: msg.callId?.slice(0, 64) });
      return sl({ status: 403, reason: 'Forbidden' });
    }
    const { aor, ruid } = h;
    const ul = this.api<UsrlocApi>('usrloc');
    const c = ul?.lookup(aor).find((x) => x.ruid === ruid);
    const target = c === undefined ? undefined : this.contactTarget(c, false);
    if (target === undefined) return sl({ status: 480, reason: 'Temporarily Unavailable' });
    if (this.d.layer.counts().server >= this.settings.maxTransactions) return sl({ status: 503, reason: 'Service Unavailable', headers: [['Retry-After', '5']] });
    const call = this.newCall(ctx, m);
    if (call === undefined) return;
    call.transit = true;
    call.handedBy = h.node;
    if (msg.method === 'INVITE') {
      const dialled = sipUser(target.uri);
      call.parties = { callId: msg.callId ?? '', fromTag: msg.from?.tag ?? '', srcUser: sipUser(msg.from?.uri), srcDomain: sipHost(msg.from?.uri), srcIp: ctx.source.ip, dstOuser: dialled, dstUser: dialled, dstDomain: target.uri.host };
    }
    this.sanitize(msg.headers, ctx.source);
    void this.relay(call, [{ uri: target.uri, ...(target.dest !== undefined ? { dest: target.dest } : {}), routes: [] }], {
      recordRoute: this.settings.recordRoute && msg.method === 'INVITE',
      drop: HANDOFF_DROP,
      unreachable: { status: 480, reason: 'Temporarily Unavailable' },
    }).catch((e: unknown) => this.d.log.error('proxy: hand-off relay failed', { error: e instanceof Error ? e.message : String(e) }));
  }

  /** A hand-off header's fields when its signature, age and sender are good (else undefined). */
  private checkHandoff(msg: SipRequest, value: string): { node: string; aor: string; ruid: string } | undefined {
    const cl = this.cluster();
    if (cl === undefined) return undefined;
    const parts = value.split(';').map((x) => x.trim());
    const node = parts[0] ?? '';
    const p = new Map<string, string>();
    for (const x of parts.slice(1)) {
      const i = x.indexOf('=');
      if (i > 0) p.set(x.slice(0, i).toLowerCase(), x.slice(i + 1));
    }
    let aor = '';
    let ruid = '';
    try {
      aor = decodeURIComponent(p.get('aor') ?? '');
      ruid = decodeURIComponent(p.get('ruid') ?? '');
    } catch {
      /* refused below */
    }
    const t = p.get('t') ?? '';
    const age = Math.abs(this.d.now() - Number(t));
    if (node === '' || node === cl.nodeId || aor === '' || ruid === '' || !/^\d{1,15}$/.test(t) || !(age <= HANDOFF_WINDOW_MS) || !cl.verify(this.handoffData(msg, aor, ruid, node, t), p.get('sig') ?? '')) return undefined;
    return { node, aor, ruid };
  }

  /**
   * sipd --cluster: whether a request (from a live member's address: pike asks) proves it comes
   * from a node — a hand-off this node verifies, or a request of a dialog this node holds (owner
   * or transit: a BYE another node forwarded, the ACK and BYE of a handed-off call) or of one of
   * its server transactions (a retransmission, a CANCEL, the ACK of a non-2xx). A forger would
   * need the cluster's key, or the Call-ID and tags of a live call.
   */
  fromNode(msg: SipRequest): boolean {
    if (this.cluster() === undefined) return false;
    const h = headerValue(msg, HANDOFF);
    if (h !== undefined) return this.checkHandoff(msg, h) !== undefined;
    if (msg.to?.tag !== undefined && this.api<DialogApi>('dialog')?.match(msg) !== undefined) return true;
    if (msg.method === 'CANCEL') return this.d.layer.matchInviteForCancel(msg) !== undefined;
    return this.d.layer.matchServer(msg) !== undefined;
  }

  /** A new call refused before it was relayed: one stateless reply, and its CDR. */
  private refuse(sl: (spec: ReplySpec) => void, parties: ProxyCall['parties'], setupTime: number, spec: ReplySpec): void {
    sl(spec);
    if (parties === undefined) return;
    const acc = this.api<AccApi>('acc');
    const t = this.d.now();
    const rec = { ...parties, toTag: '' };
    acc?.event({ ...rec, method: 'INVITE', sipCode: spec.status, sipReason: spec.reason, time: t });
    acc?.cdr({ ...rec, setupTime, endTime: t, sipCode: spec.status, sipReason: spec.reason, endReason: 'rejected' });
  }

  /**
   * A registered user's contacts (usrloc) the request forks to, in Kamailio's order (highest q,
   * then the oldest registration), at most max_branches; empty when none is valid.
   */
  private async lookup(user: string, domain: string): Promise<Target[]> {
    const ul = this.api<UsrlocApi & { aorOf?(u: string, d: string): string; lookupAny?(aor: string): Promise<ContactRecord[]> }>('usrloc');
    if (ul === undefined) return [];
    const aor = ul.aorOf !== undefined ? ul.aorOf(user, domain) : user.toLowerCase();
    // lookupAny: in a cluster, the contacts every node registered (Redis); alone, lookup().
    const contacts = ul.lookupAny !== undefined ? await ul.lookupAny(aor) : ul.lookup(aor);
    const out: Target[] = [];
    const seen = new Set<string>();
    for (const c of contacts) {
      if (out.length >= this.settings.maxBranches) break;
      const t = this.contactTarget(c, true);
      if (t === undefined) continue;
      // the same contact twice (a record in Redis and its local copy): one branch
      const key = `${formatUri(t.uri)}|${t.dest === undefined ? '' : `${t.dest.transport}:${t.dest.ip}:${t.dest.port}`}|${t.handoff?.node ?? ''}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(t);
    }
    return out;
  }

  /**
   * Where a request for one registered contact goes. `handoff`: in a cluster, a contact
   * registered through another node is reached through that node.
   */
  private contactTarget(c: ContactRecord, handoff: boolean): Target | undefined {
    let uri: Uri;
    try {
      uri = parseUri(c.contact);
    } catch {
      return undefined;
    }
    if (uri.kind !== 'sip') return undefined;
    const cl = handoff ? this.cluster() : undefined;
    // A node that stopped announcing itself (dead for 6 s) is passed by: the contact directly,
    // as without a cluster (right on one network; behind NAT nothing else would reach it).
    // Workers of one machine (sipd --workers) hand off to each other at their private ports
    // (only one holds a TCP/TLS contact's connection); a UDP contact on the address they share
    // comes without a hop from the cluster module: called directly.
    if (cl !== undefined && c.node !== undefined && c.node !== cl.nodeId && c.hop !== undefined && c.hop !== '' && cl.alive(c.node) !== false && !this.isOwnHop(c.hop)) {
      return { kind: 'user', uri, handoff: { node: c.node, hop: c.hop, aor: c.aor, ruid: c.ruid } };
    }
    let dest: Endpoint | undefined;
    if (c.received !== undefined && c.received !== '') {
      try {
        const r = parseUri(c.received);
        if (r.kind === 'sip') dest = this.ipDestination(r);
      } catch {
        /* fall back to the contact */
      }
    }
    if (dest === undefined && (c.socket.startsWith('tcp:') || c.socket.startsWith('tls:'))) dest = this.ipDestination(uri, c.socket.slice(0, 3) as 'tcp' | 'tls');
    return { kind: 'user', uri, ...(dest !== undefined ? { dest } : {}) };
  }

  /** A number the trunk takes (carrier_numbers, Kamailio's stock PSTN pattern by default). */
  private isNumber(dialled: string): boolean {
    return this.settings.carrierNumbers.test(normaliseNumber(dialled));
  }

  /** The dialled number towards the outbound trunk; undefined when none is configured. */
  private carrierTarget(uri: SipUri): Target | undefined {
    const c = this.settings.carrier;
    if (c.host === '' || uri.user === undefined) return undefined;
    const params = new Map<string, string | null>();
    if (c.transport !== 'udp') params.set('transport', c.transport);
    const target: SipUri = { kind: 'sip', scheme: 'sip', user: uri.user, host: c.host, hostType: net.isIPv4(c.host) ? 'ipv4' : net.isIPv6(c.host) ? 'ipv6' : 'domain', port: c.port, params, headers: [] };
    return { kind: 'carrier', uri: target };
  }

  /** An IP destination from a SIP URI (undefined when its host is a name). */
  private ipDestination(u: SipUri, transportHint?: 'udp' | 'tcp' | 'tls'): Endpoint | undefined {
    if (u.hostType === 'domain') return undefined;
    const t = ((u.params.get('transport') ?? '') as string).toLowerCase();
    const transport: Endpoint['transport'] = t === 'tcp' || t === 'tls' || t === 'udp' ? t : u.scheme === 'sips' ? 'tls' : transportHint ?? 'udp';
    return { ip: u.host.toLowerCase(), port: u.port ?? (transport === 'tls' ? 5061 : 5060), transport };
  }

  /** Where a request for `u` goes: an IP literal as it is, a name through the resolver (A/AAAA). */
  async resolve(u: SipUri): Promise<Endpoint | undefined> {
    const ip = this.ipDestination(u);
    if (ip !== undefined) return ip;
    const host = u.host.toLowerCase();
    const t = ((u.params.get('transport') ?? '') as string).toLowerCase();
    const transport: Endpoint['transport'] = t === 'tcp' || t === 'tls' ? t : u.scheme === 'sips' ? 'tls' : 'udp';
    const port = u.port ?? (transport === 'tls' ? 5061 : 5060);
    const cached = this.dnsCache.get(host);
    if (cached !== undefined && cached.until > this.d.now()) return { ip: cached.ip, port, transport };
    try {
      const r = await dns.lookup(host);
      this.dnsCache.set(host, { ip: r.address, until: this.d.now() + 60_000 });
      if (this.dnsCache.size > 1000) this.dnsCache.delete(this.dnsCache.keys().next().value as string);
      return { ip: r.address, port, transport };
    } catch {
      return undefined;
    }
  }

  // ------------------------------------------------------------------ relaying

  /**
   * Relays a request to its targets: one branch (client transaction) per target, all at once
   * (RFC 3261 §16.6, Kamailio's t_relay of a forked request). The response context (§16.7) is
   * branchResponse / branchFinal / decide.
   */
  private async relay(
    call: ProxyCall,
    specs: BranchSpec[],
    o: {
      recordRoute: boolean;
      dropProxyAuthorization?: boolean;
      /** header fields every branch gets */
      add?: Array<[string, string]>;
      profileUser?: string;
      unreachable: ReplySpec;
      /** header fields to remove (default: a cluster hand-off header) */
      drop?: readonly string[];
    },
  ): Promise<void> {
    const branches: Branch[] = specs.map((spec) => ({ uri: spec.uri, cancelPending: false, cancelSent: false }));
    call.branches = branches;
    await Promise.all(specs.map((spec, i) => this.startBranch(call, branches[i]!, spec, o)));
  }

  private async startBranch(call: ProxyCall, b: Branch, spec: BranchSpec, o: Parameters<Proxy['relay']>[2]): Promise<void> {
    const msg = call.request;
    const unreachable = (): void => this.branchFinal(call, b, { status: o.unreachable.status, reason: o.unreachable.reason, why: 'failed' });
    if (spec.unusable === true) return unreachable();
    let to = spec.dest;
    if (to === undefined) {
      const next = spec.routes !== undefined && spec.routes.length > 0 ? routeUri(spec.routes[0]) : undefined;
      let hop: Uri | undefined = spec.uri;
      if (next !== undefined) {
        try {
          hop = parseUri(next);
        } catch {
          hop = undefined;
        }
      }
      if (hop !== undefined && hop.kind === 'sip') to = await this.resolve(hop);
    }
    // answered, cancelled or ended meanwhile: no new branch (§16.7 item 5)
    if (b.final !== undefined) return;
    if (call.final || call.cancelled) return this.branchFinal(call, b, { status: 487, reason: 'Request Terminated', why: 'cancelled' });
    const out = to === undefined ? undefined : this.d.sender.path(to, call.local);
    if (to === undefined || out === undefined) return unreachable();
    const branchId = proxyBranch(loopHash(msg));
    const rr: string[] = [];
    if (o.recordRoute) {
      // the side the request came in on, as the caller reaches it (a socket bound to 0.0.0.0: the interface towards the caller)
      const inSide = this.d.sender.named(call.local, call.source.ip);
      const same = out.local.transport === inSide.transport && out.local.ip === inSide.ip && out.local.port === inSide.port;
      if (same) rr.push(recordRouteValue(inSide, false));
      else rr.push(recordRouteValue(out.local, true), recordRouteValue(inSide, true));
    }
    const add = [...(o.add ?? []), ...(spec.add ?? [])];
    const fwd = forwardRequest(msg, { uri: spec.uri, via: viaValue(out.local, branchId), recordRoute: rr, ...(spec.routes !== undefined ? { routes: spec.routes } : {}), dropProxyAuthorization: o.dropProxyAuthorization, add, drop: o.drop ?? HANDOFF_DROP });
    const bytes = serialize(fwd);
    // One dialog per call, whatever the number of branches: the answered branch completes it.
    if (msg.method === 'INVITE' && call.parties !== undefined && call.inDialog === undefined && call.dialog === undefined) {
      call.dialog = this.api<DialogApi>('dialog')?.create({
        invite: msg,
        source: call.source,
        local: call.local,
        profileUser: o.profileUser,
        parties: call.parties,
        setupTime: call.setupTime,
        ...(call.transit === true ? { transit: true, ...(call.handedBy !== undefined ? { owner: call.handedBy } : {}) } : {}),
      });
    }
    b.out = out;
    let ct: ClientTransaction;
    try {
      ct = this.d.layer.startClient(fwd, bytes, { reliable: out.reliable, send: out.send }, {
        onResponse: (res) => this.branchResponse(call, b, res),
        onTimeout: () => this.branchFinal(call, b, { status: 408, reason: 'Request Timeout', why: 'no-answer' }),
        onTransportError: unreachable,
      });
    } catch (e) {
      // This branch ends at once; the caller gets a final reply (and the dialog ends, its count
      // given back) when no other branch answers, instead of both waiting for early_timeout.
      this.d.log.error('proxy: request not forwarded', { error: e instanceof Error ? e.message : String(e), method: msg.method, callId: msg.callId?.slice(0, 64) });
      return this.branchFinal(call, b, { status: 500, reason: 'Server Internal Error', why: 'failed' });
    }
    b.ct = ct;
    this.peers.set(ct, to.ip);
    this.d.log.debug('proxy: relayed', { method: msg.method, to: `${to.transport}:${to.ip}:${to.port}`, from: `${out.local.transport}:${out.local.ip}:${out.local.port}`, branches: call.branches.length, callId: msg.callId?.slice(0, 64) });
    this.counters.relayed++;
    this.stat('tmx:UAC_transactions');
  }

  private startTimerC(call: ProxyCall, b: Branch): void {
    b.timerC?.clear();
    b.timerC = this.d.layer.timers.set(this.settings.frInvTimer, () => {
      if (b.final !== undefined) return;
      this.counters.timer_c++;
      // Timer C ends this branch: CANCEL downstream, 408 for it (§16.6 item 11, §16.8)
      if (b.ct instanceof ClientInviteTransaction && b.ct.provisional) this.sendCancel(b);
      this.branchFinal(call, b, { status: 408, reason: 'Request Timeout', why: 'no-answer' });
    });
  }

  /** The call failed without a response to forward (unreachable before any branch, cancelled while admitted). */
  private fail(call: ProxyCall, status: number, reason: string, why: EndReason): void {
    if (call.final) return;
    for (const b of call.branches) b.timerC?.clear();
    if (call.dialog !== undefined) {
      this.replyLocal(call, { status, reason });
      this.api<DialogApi>('dialog')?.failed(call.dialog, status, reason, call.cancelled ? 'cancelled' : why);
    } else this.reject(call, { status, reason });
  }

  /** A branch has its final outcome; the call's is decided once every branch has one. */
  private branchFinal(call: ProxyCall, b: Branch, f: BranchFinal): void {
    if (b.final !== undefined) return;
    b.final = f;
    b.timerC?.clear();
    this.decide(call);
  }

  /** §16.7 item 6: when every branch has a final response, the best of them goes upstream. */
  private decide(call: ProxyCall): void {
    if (call.final || call.branches.length === 0) return;
    if (call.branches.some((b) => b.final === undefined)) return;
    const finals = call.branches.map((b) => b.final!);
    const best = bestFinal(finals);
    if (best.res === undefined) return this.fail(call, best.status, best.reason, best.why);
    call.final = true;
    let res = best.res;
    // A challenge carries every branch's challenges (§16.7 item 7), so the caller can answer them all.
    if (res.status === 401 || res.status === 407) {
      const extra = finals.filter((f) => f !== best && f.res !== undefined && (f.status === 401 || f.status === 407)).flatMap((f) => f.res!.headers.filter((h) => h.key === 'www-authenticate' || h.key === 'proxy-authenticate'));
      if (extra.length > 0) res = { ...res, headers: [...res.headers, ...extra] };
    }
    if (res.status === 503) {
      // §16.7 item 6: a 503 is not forwarded as such (it would make the client avoid sipd).
      this.counters.local_replies++;
      this.countFinal(500);
      call.st.respond(500, buildReply(call.request, { status: 500, reason: 'Server Internal Error' }, { source: call.source, server: this.kernel.server }));
    } else this.upstream(call, res);
    if (call.dialog !== undefined) this.api<DialogApi>('dialog')?.failed(call.dialog, res.status, res.reason, call.cancelled || res.status === 487 ? 'cancelled' : 'failed');
  }

  /**
   * Ends a branch that is still pending (the call answered elsewhere, a 6xx, the caller's CANCEL;
   * §16.10): CANCEL once it has had a provisional. One without a provisional yet is CANCELled if
   * one comes (§9.1) but counts as 487 at once, so the call does not wait for a contact that may
   * never answer, and its INVITE is not retransmitted any more (Kamailio's cancel_b_method 0).
   */
  private cancelBranch(b: Branch): void {
    if (b.final !== undefined) return;
    if (b.ct instanceof ClientInviteTransaction) {
      if (b.ct.provisional) return this.sendCancel(b);
      b.ct.stopRetransmitting();
    }
    b.cancelPending = true;
    b.final = { status: 487, reason: 'Request Terminated', why: 'cancelled' };
    b.timerC?.clear();
  }

  private cancelOthers(call: ProxyCall, except: Branch | undefined): void {
    for (const o of call.branches) if (o !== except) this.cancelBranch(o);
  }

  private branchResponse(call: ProxyCall, b: Branch, res: SipResponse): void {
    const status = res.status;
    // Timer C (§16.6 item 11, Kamailio fr_inv_timer): from the first provisional response on
    // (before it, the transaction's Timer B), restarted by every provisional but 100.
    if (status < 200 && call.request.method === 'INVITE' && b.final === undefined && (status > 100 || b.timerC === undefined)) this.startTimerC(call, b);
    if (status < 200 && b.cancelPending && !b.cancelSent) this.sendCancel(b);
    if (status === 100) return;
    const source = this.responseSource;
    if (source !== undefined) this.sanitize(res.headers, source);
    const dialogs = this.api<DialogApi>('dialog');
    if (status < 200) {
      if (call.final || b.final !== undefined) return;
      if (call.dialog !== undefined) dialogs?.provisional(call.dialog, res);
      this.upstream(call, res);
      return;
    }
    b.timerC?.clear();
    if (status < 300) {
      // Every 2xx goes upstream, also after another final (RFC 3261 §16.7 item 5); the first
      // makes the dialog, and the branches still pending are cancelled (§16.7 item 10, Kamailio).
      b.final ??= { status, reason: res.reason, res, why: 'failed' };
      if (call.dialog !== undefined && source !== undefined) {
        // the callee of the CDR is the contact that answered (Kamailio's acc: the branch's $rU), not the first one called
        if (!call.dialog.confirmed && call.branches.length > 1 && b.uri.kind === 'sip') {
          call.dialog.parties.dstUser = sipUser(b.uri);
          call.dialog.parties.dstDomain = b.uri.host;
        }
        dialogs?.answered(call.dialog, res, source, b.out!.local);
      }
      call.final = true;
      this.upstream(call, res);
      this.cancelOthers(call, b);
      return;
    }
    // a branch already ended here (cancelled before its provisional) keeps that outcome
    if (b.final !== undefined) return;
    b.final = { status, reason: res.reason, res, why: status === 487 ? 'cancelled' : 'failed' };
    if (call.final) return;
    // §16.7 item 5: a 6xx ends the search — the other branches are cancelled, then (their finals
    // in) it is chosen as the best response.
    if (status >= 600) this.cancelOthers(call, b);
    this.decide(call);
  }

  private upstream(call: ProxyCall, res: SipResponse): void {
    this.counters.rpl_relayed++;
    if (res.status >= 200) this.countFinal(res.status);
    this.stat('tmx:rpl_relayed');
    call.vias ??= upstreamVias(call.request, call.source);
    call.st.respond(res.status, responseUpstream(res, call.vias));
  }

  private sendCancel(b: Branch): void {
    if (b.cancelSent || !(b.ct instanceof ClientInviteTransaction) || b.out === undefined) return;
    if (b.ct.state !== 'Calling' && b.ct.state !== 'Proceeding') return;
    b.cancelSent = true;
    const bytes = buildCancel(b.ct.request);
    const req = parseMessage(bytes) as SipRequest;
    try {
      this.d.layer.startClient(req, bytes, { reliable: b.out.reliable, send: b.out.send }, { onResponse: () => undefined, onTimeout: () => undefined });
    } catch (e) {
      this.d.log.debug('proxy: CANCEL not sent', { error: e instanceof Error ? e.message : String(e) });
    }
  }

  // ------------------------------------------------------------------ CANCEL

  private cancel(ctx: RequestContext, m: Inbound, sl: (spec: ReplySpec) => void): void {
    const msg = ctx.msg;
    const inv: ServerInviteTransaction | undefined = this.d.layer.matchInviteForCancel(msg);
    const call = inv === undefined ? undefined : this.calls.get(inv.key);
    if (inv === undefined) {
      // An INVITE still being admitted (credentials, lookups, limits): 200 now, and it ends with
      // 487 when its admission is over (initial()), never relayed.
      const key = serverKey(msg, 'INVITE');
      const p = key === undefined ? undefined : this.pending.get(key);
      if (p !== undefined && p.source === ctx.source.ip) {
        this.d.layer.createServer(msg, this.serverPath(m))?.respond(200, buildReply(msg, { status: 200, reason: 'OK' }, { source: ctx.source, server: this.kernel.server }));
        if (!p.cancelled) this.counters.cancelled++;
        p.cancelled = true;
        return;
      }
    }
    // Only the one who sent the INVITE may cancel it.
    if (inv === undefined || call === undefined || call.source.ip !== ctx.source.ip) return sl({ status: 481, reason: 'Call/Transaction Does Not Exist' });
    const cst = this.d.layer.createServer(msg, this.serverPath(m));
    cst?.respond(200, buildReply(msg, { status: 200, reason: 'OK' }, { source: ctx.source, server: this.kernel.server }));
    if (call.final) return;
    call.cancelled = true;
    this.counters.cancelled++;
    if (call.branches.length === 0) {
      // Nothing sent downstream yet (still authenticating / routing).
      this.replyLocal(call, { status: 487, reason: 'Request Terminated' });
      if (call.dialog !== undefined) this.api<DialogApi>('dialog')?.failed(call.dialog, 487, 'Request Terminated', 'cancelled');
      return;
    }
    // §16.10: every pending branch is cancelled; the best final (their 487s) goes upstream
    this.cancelOthers(call, undefined);
    this.decide(call);
  }

  // ------------------------------------------------------------------ in-dialog

  private inDialog(ctx: RequestContext, m: Inbound, sl: (spec: ReplySpec) => void): void {
    const msg = ctx.msg;
    const dialogs = this.api<DialogApi>('dialog');
    const hit = dialogs?.match(msg);
    if (hit === undefined) {
      // In a cluster the call may be another node's: that node gets the request (and ends the
      // call, and writes its CDR, when it is a BYE).
      const cl = this.cluster();
      // The ACK of a refusal this node made itself (the 407 of every call) carries the To tag it
      // made: no other node owns that, and no Redis round trip is spent on it.
      const ownRefusal = msg.method === 'ACK' && msg.to?.tag === toTag(msg);
      if (cl !== undefined && !ownRefusal) {
        // ACK has no transaction of its own to absorb copies in; it is forwarded statelessly.
        if (msg.method === 'ACK') void this.toOwner(ctx, m, sl, cl).catch((e: unknown) => this.d.log.error('proxy: in-dialog request to the owning node failed', { error: e instanceof Error ? e.message : String(e) }));
        else this.whilePending(ctx, sl, () => this.toOwner(ctx, m, sl, cl), 'proxy: in-dialog request to the owning node failed');
        return;
      }
      // A forged or stale in-dialog request reaches nobody (an ACK of our own stateless reply
      // lands here too, and is simply absorbed).
      if (msg.method !== 'ACK') this.counters.no_dialog++;
      return sl({ status: 404, reason: 'Not here' });
    }
    // A call another node handed over whose owner has died: taken over here (toOwner) rather than
    // relayed towards the dead node.
    const cl = this.cluster();
    if (hit.dialog.transit && hit.dialog.owner !== undefined && msg.method !== 'ACK' && cl !== undefined && cl.alive(hit.dialog.owner) === false) {
      void this.toOwner(ctx, m, sl, cl).catch((e: unknown) => this.d.log.error('proxy: in-dialog request of a dead node\'s call failed', { error: e instanceof Error ? e.message : String(e) }));
      return;
    }
    this.sanitize(msg.headers, ctx.source);
    const other = hit.leg === 'caller' ? hit.dialog.callee : hit.dialog.caller;
    // A call taken over from a dead node: the parties' Route headers still name that node; the
    // route set it stored for the other side is what it would have used.
    const rest = hit.dialog.takenFrom !== undefined ? [...other.routeSet] : this.routesAfterOurs(msg);
    let dest: Endpoint | undefined;
    // the caller's ACK and BYE for another fork (its 2xx came second) go where that fork's 2xx came from, not to the call's callee
    if (rest.length === 0) dest = hit.leg === 'caller' && hit.dialog.otherFork(hit.leg, msg.from?.tag, msg.to?.tag) ? hit.dialog.forkReach.get(msg.to?.tag ?? '') : other.reach;
    if (msg.method === 'ACK') {
      // An ACK of a failed INVITE is hop by hop: the one for our non-2xx was absorbed by its
      // transaction; anything else for a call never answered goes nowhere.
      if (hit.dialog.startTs === undefined) return;
      dialogs!.request(hit.dialog, hit.leg, msg);
      return this.forwardStateless(ctx, rest, dest);
    }
    if (this.d.layer.counts().server >= this.settings.maxTransactions) return sl({ status: 503, reason: 'Service Unavailable', headers: [['Retry-After', '5']] });
    const call = this.newCall(ctx, m);
    if (call === undefined || this.endIfCancelled(call)) return;
    call.inDialog = hit;
    // A BYE ends the call as it is relayed, whatever the other side answers.
    dialogs!.request(hit.dialog, hit.leg, msg);
    void this.relay(call, [{ uri: msg.uri, ...(dest !== undefined ? { dest } : {}), routes: rest }], { recordRoute: false, unreachable: { status: 480, reason: 'Temporarily Unavailable' } }).catch((e: unknown) =>
      this.d.log.error('proxy: in-dialog relay failed', { error: e instanceof Error ? e.message : String(e) }),
    );
  }

  /**
   * A re-INVITE CANCELled while it waited for the cluster (the owner's lookup, or taking a dead
   * owner's call over; whilePending answered the CANCEL 200): 487 through its transaction, never
   * relayed, as initial() does for a new call.
   */
  private endIfCancelled(call: ProxyCall): boolean {
    const key = serverKey(call.request);
    if (key === undefined || this.pending.get(key)?.cancelled !== true) return false;
    call.cancelled = true;
    this.fail(call, 487, 'Request Terminated', 'cancelled');
    return true;
  }

  /**
   * sipd --cluster: an in-dialog request for a call this node does not hold. When the cluster
   * store names another live node as the owner of this very dialog (Call-ID and both tags), the
   * request goes there (through that node's Route, ours taken off). When the owner is not alive
   * (or is this node before a restart), this node takes the call over (the dialog module's
   * adopt: one node wins) and handles the request as its own; else 404 as for any unknown
   * dialog. The owner never sends it back: it handles its own dialogs.
   */
  private async toOwner(ctx: RequestContext, m: Inbound, sl: (spec: ReplySpec) => void, cl: ClusterApi): Promise<void> {
    const msg = ctx.msg;
    const from = msg.from?.tag;
    const to = msg.to?.tag;
    let owners: Awaited<ReturnType<ClusterApi['dialogOwners']>> = [];
    try {
      owners = await cl.dialogOwners(msg.callId ?? '');
    } catch {
      /* Redis away: the call cannot be found (the cluster module logs and counts Redis going down) */
    }
    const ofThis = (d: (typeof owners)[number]) => (d.fromTag === from && d.toTag === to) || (d.fromTag === to && d.toTag === from);
    let o = owners.find((d) => ofThis(d) && d.node !== cl.nodeId && cl.alive(d.node) === true && !this.isOwnHop(d.hop));
    const orphan = o === undefined ? owners.find(ofThis) : undefined;
    const dialogs = this.api<DialogApi>('dialog');
    if (orphan !== undefined && dialogs !== undefined) {
      // its owner is not alive (or is this node before a restart): this node takes the call over
      const r = await dialogs.adopt(orphan);
      const again = r !== undefined && 'dialog' in r ? dialogs.match(msg) : undefined;
      if (again !== undefined && !again.dialog.transit) return this.inDialog(ctx, m, sl);
      if (r !== undefined && 'owner' in r && r.owner.node !== cl.nodeId && !this.isOwnHop(r.owner.hop)) o = r.owner;
    }
    const hop = o === undefined ? undefined : this.destinationOf(`sip:${o.hop}`);
    if (o === undefined || hop === undefined) {
      if (msg.method !== 'ACK') this.counters.no_dialog++;
      return sl({ status: 404, reason: 'Not here' });
    }
    this.sanitize(msg.headers, ctx.source);
    const rest = [`<sip:${o.hop};lr>`, ...this.routesAfterOurs(msg)];
    this.d.log.debug('proxy: in-dialog request to the node that owns the call', { method: msg.method, node: o.node, callId: msg.callId?.slice(0, 64) });
    if (msg.method === 'ACK') return this.forwardStateless(ctx, rest, hop);
    if (this.d.layer.counts().server >= this.settings.maxTransactions) return sl({ status: 503, reason: 'Service Unavailable', headers: [['Retry-After', '5']] });
    const call = this.newCall(ctx, m);
    if (call === undefined || this.endIfCancelled(call)) return;
    await this.relay(call, [{ uri: msg.uri, dest: hop, routes: rest }], { recordRoute: false, unreachable: { status: 480, reason: 'Temporarily Unavailable' } });
  }

  /** Loose routing (§16.4, RFC 3261 §16.12): the Route entries left once our own leading ones come off. */
  private routesAfterOurs(msg: SipRequest): string[] {
    const routes = routeValues(msg);
    let i = 0;
    while (i < routes.length && this.isOurRoute(routes[i])) i++;
    return routes.slice(i);
  }

  private isOurRoute(v: string): boolean {
    try {
      const u = parseUri(routeUri(v));
      return u.kind === 'sip' && this.d.isMyself(u.host, u.port ?? 5060) && u.user === undefined;
    } catch {
      return false;
    }
  }

  /** ACK of a 2xx: forwarded without a transaction, with a branch its retransmissions share (§16.11). */
  private forwardStateless(ctx: RequestContext, routes: string[], dest: Endpoint | undefined): void {
    const msg = ctx.msg;
    const go = (to: Endpoint | undefined) => {
      if (to === undefined) return;
      const out = this.d.sender.path(to, ctx.local);
      if (out === undefined) return;
      const fwd = forwardRequest(msg, { uri: msg.uri, via: viaValue(out.local, statelessBranch(msg)), routes });
      out.send(serialize(fwd));
      this.counters.relayed++;
    };
    if (dest !== undefined) return go(dest);
    let hop: Uri | undefined = msg.uri;
    if (routes.length > 0) {
      try {
        hop = parseUri(routeUri(routes[0]));
      } catch {
        return;
      }
    }
    if (hop.kind !== 'sip') return;
    void this.resolve(hop).then(go);
  }

  // ------------------------------------------------------------------ requests sipd originates

  /** Send a request of sipd's own (a BYE of a call it ends); resolves with the final status. */
  originate(dest: Endpoint, build: (via: string) => string, prefer?: Endpoint): Promise<number> {
    const out = this.d.sender.path(dest, prefer);
    if (out === undefined) return Promise.resolve(503);
    const text = build(viaValue(out.local, newBranch()));
    const bytes = Buffer.from(text, 'utf8');
    const req = parseMessage(bytes) as SipRequest;
    return new Promise<number>((resolve) => {
      let ct: ClientTransaction;
      try {
        ct = this.d.layer.startClient(req, bytes, { reliable: out.reliable, send: out.send }, {
          onResponse: (res) => {
            if (res.status >= 200) resolve(res.status);
          },
          onTimeout: () => resolve(408),
          onTransportError: () => resolve(503),
        });
      } catch {
        return resolve(503);
      }
      this.peers.set(ct, dest.ip);
      this.stat('tmx:UAC_transactions');
    });
  }

  /** An IP destination for a URI string (no name resolution: undefined for names). */
  destinationOf(uri: string): Endpoint | undefined {
    try {
      const u = parseUri(uri);
      return u.kind === 'sip' ? this.ipDestination(u) : undefined;
    } catch {
      return undefined;
    }
  }

  stats(): Record<string, number> {
    const c = this.d.layer.counts();
    return { ...this.counters, server_transactions: c.server, client_transactions: c.client, calls: this.calls.size };
  }
}
