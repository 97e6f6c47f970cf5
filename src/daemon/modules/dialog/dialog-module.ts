/**
 * The dialog module: the calls in progress (Kamailio's dialog module), the active-calls limit per
 * subscriber (its dialog profiles, as the toll-fraud playbooks use them), the maximum call
 * duration (its dialog timeout: BYE to both sides when it passes), and the CDR of every call it
 * tracked (through the acc module).
 *
 * The proxy module drives it: `admit` before a new call is relayed, `create` when it is, then
 * the INVITE's responses, and every in-dialog request; `match` tells the proxy whether an
 * in-dialog request belongs to a call sipd knows (a forged BYE for an unknown dialog does not).
 *
 * RPC, with Kamailio's names and result shapes: dlg.list, dlg.dlg_list <callid> [from_tag],
 * dlg.end_dlg <h_entry> <h_id>, dlg.terminate_dlg <callid> <from_tag> <to_tag>,
 * dlg.profile_get_size <profile> [value], dlg.profile_list <profile> [value], dlg.stats_active;
 * and sipd's own dialog.setUserLimit <user> <n|-1>, dialog.userLimits and dialog.endCall <callid>.
 *
 * In a cluster (cluster.url) the node that sets a call up owns it: it writes the CDR, once. When
 * the call is answered it is recorded in Redis with this node's address, so another node that
 * gets a BYE of it forwards the BYE here, and dialog.endCall on any node reaches this one.
 * A node that only delivers a call another node handed over keeps a transit dialog (routing
 * only: no CDR, no accounting, not listed).
 */
import { ConfigError } from '../../../core/errors.js';
import type { SipRequest, SipResponse } from '../../../core/sip/message.js';
import { formatUri } from '../../../core/sip/uri.js';
import type { AlertsApi, ClusterApi, ClusterDialog, Endpoint, PersistentState, ReplySpec, StatsApi } from '../../kernel/contracts.js';
import { defineModule, rpcArgs, type Logger, type ParamValues, type RpcParams } from '../../kernel/module.js';
import { RpcFault } from '../../kernel/rpc-fault.js';
import type { AccApi } from '../acc/acc-module.js';
import type { LimitsApi } from '../limits/limits-module.js';
import { cdrFromJson, type CallParties, type CdrRecord, type EndReason } from '../acc/records.js';
import { allValues, headerValue, routeUri } from '../proxy/header-values.js';
import { coreHash } from '../../kernel/kamailio-hash.js';
import { DLG_CONFIRMED, DLG_CONFIRMED_NA, DLG_DELETED, DLG_EARLY, Dialog, type LegName } from './dialog.js';
import { dialogState, parseDialogState } from './takeover.js';

/** What sipd itself sends (the BYEs of a call it ends); the proxy module provides it. */
export interface UacApi {
  /**
   * Send a request sipd originates to `dest`. `build` gets the Via header value to use and
   * returns the whole request text. Resolves with the final status (408 on timeout, 503 when it
   * could not be sent).
   */
  originate(dest: Endpoint, build: (via: string) => string, prefer?: Endpoint): Promise<number>;
  /** where a request to `uri` (with `routes` before it) goes; undefined when it cannot be resolved now */
  destinationOf(uri: string): Endpoint | undefined;
}

export interface DialogInit {
  /** the INVITE as received */
  invite: SipRequest;
  source: Endpoint;
  local: Endpoint;
  profileUser: string | undefined;
  parties: Omit<CallParties, 'toTag'>;
  /** ms */
  setupTime: number;
  /** sipd --cluster: a call another node owns, handed to this one (no CDR, not listed) */
  transit?: boolean;
  /** transit: the node that handed it over (it owns the call) */
  owner?: string;
}

export interface DialogApi {
  /** may `user` start one more call? undefined = yes; else the 403 to answer */
  admit(user: string | undefined): ReplySpec | undefined;
  /**
   * admit() across the cluster (cluster.url): the user's calls on every node count. `member` names
   * the call (Call-ID and From tag); create() for the same INVITE then holds it until the call ends.
   * Alone, the same as admit().
   */
  admitShared(user: string | undefined, member: string): Promise<ReplySpec | undefined>;
  create(init: DialogInit): Dialog;
  /** a provisional response to the INVITE (from the callee, as received) */
  provisional(d: Dialog, res: SipResponse): void;
  /** the 2xx (as received from the callee), its source and our socket facing the callee */
  answered(d: Dialog, res: SipResponse, source: Endpoint, local: Endpoint): void;
  /** the INVITE failed (final non-2xx forwarded or generated) */
  failed(d: Dialog, status: number, reason: string, why: EndReason): void;
  /** the dialog and the leg an in-dialog request comes from; undefined when sipd knows no such dialog */
  match(msg: SipRequest): { dialog: Dialog; leg: LegName } | undefined;
  /** an in-dialog request from `leg` is being relayed (BYE ends the call) */
  request(d: Dialog, leg: LegName, msg: SipRequest): void;
  /** end a call: BYE to both sides */
  end(d: Dialog, why: EndReason): void;
  active(): number;
  /**
   * sipd --cluster: a request or command for a call whose record (`o`, from the cluster store)
   * names a node that is not alive — or this node in an earlier process. Takes the call over
   * (atomically: one node wins) and holds it here: `{dialog}`. `{owner}`: a live node owns it
   * (it was alive after all, or another node took it over first): send the request there.
   * undefined: nothing to take (ended meanwhile, or a record without the state to take it over).
   */
  adopt(o: ClusterDialog): Promise<{ dialog: Dialog } | { owner: ClusterDialog } | undefined>;
}

/** a node is alive while its heartbeat (every 2 s, cluster module) is under 6 s old and it has not stopped cleanly since */
const NODE_ALIVE_MS = 6000;

/**
 * Is the node (and process) a record names alive? Asked afresh (not the view of the last
 * heartbeat): a node that restarted under the same name has another pid and holds nothing of its
 * former calls — this node in an earlier process included.
 */
async function ownerAlive(cl: ClusterApi, r: { node: string; pid?: number }): Promise<boolean> {
  const n = (await cl.nodes()).find((x) => x.node === r.node);
  return n !== undefined && !n.stopped && Date.now() - n.lastSeen < NODE_ALIVE_MS && (r.pid === undefined || n.pid === r.pid) && !(r.node === cl.nodeId && r.pid !== process.pid);
}

const params = {
  max_calls_per_user: { type: 'integer', default: 0, min: 0, max: 1_000_000, doc: 'active calls a subscriber may have as caller; 0 = no limit (a per-user value from user_limits / dialog.setUserLimit wins)' },
  user_limits: { type: 'string', default: '', doc: 'per-subscriber limits, "user=n,user=n" (0 = no calls, -1 = no limit)' },
  default_timeout: { type: 'integer', default: 10_800, min: 0, max: 2_592_000, doc: 'maximum call duration in seconds after answer; then BYE to both sides; 0 = none (Kamailio default_timeout)' },
  early_timeout: { type: 'integer', default: 300, min: 10, max: 86_400, doc: 'seconds a dialog may stay unanswered before it is dropped from the table (its transaction times out first)' },
  linger: { type: 'integer', default: 10, min: 0, max: 600, doc: 'seconds an ended dialog is still matched (late ACK, BYE glare)' },
  hash_size: { type: 'integer', default: 4096, min: 1, max: 1_048_576, doc: 'dialog hash table size (h_entry range; Kamailio hash_size)' },
  alert_threshold_pct: { type: 'integer', default: 80, min: 0, max: 100, doc: 'a limit-threshold alert when a subscriber\'s active calls reach this share of their limit (limits of 2 and more); 0 = none' },
} as const;

type Params = ParamValues<typeof params>;

function parseUserLimits(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([^=\s]{1,64})=(-1|\d{1,9})$/.exec(part);
    if (!m) throw new ConfigError('MODULE_PARAM_INVALID', `dialog.user_limits: ${JSON.stringify(part.slice(0, 40))} is not user=n`);
    out.set(m[1], Number(m[2]));
  }
  return out;
}

function contactUri(msg: SipRequest | SipResponse): string {
  const c = msg.contact;
  if (c === undefined || c.star || c.contacts.length === 0) return '';
  return formatUri(c.contacts[0].uri);
}


export function createDialogModule() {
  const slots = new Map<number, Map<number, Dialog>>();
  const byCallId = new Map<string, Dialog[]>();
  const nextId = new Map<number, number>();
  const profile = new Map<string, number>();
  let overrides = new Map<string, number>();
  let runtimeOverrides = new Map<string, number>();
  let p: Params | undefined;
  let log: Logger | undefined;
  let now = () => Date.now();
  let getAcc: () => AccApi | undefined = () => undefined;
  let getUac: () => UacApi | undefined = () => undefined;
  let getStats: () => StatsApi | undefined = () => undefined;
  let getAlerts: () => AlertsApi | undefined = () => undefined;
  let getLimits: () => LimitsApi | undefined = () => undefined;
  let changed = false;
  let cluster: ClusterApi | undefined;
  let refresher: NodeJS.Timeout | undefined;
  let sweeper: NodeJS.Timeout | undefined;
  /** dialogs counted in the cluster: dialog → [user, member] */
  const sharedMembers = new Map<Dialog, { user: string; member: string }>();
  const memberOf = (callId: string, fromTag: string) => `${callId}|${fromTag}`;
  /** confirmed dialogs recorded in the cluster store as this node's */
  const ownedShared = new Set<Dialog>();
  const counters = { created: 0, answered: 0, failed: 0, ended_by_timeout: 0, ended_by_rpc: 0, refused_by_limit: 0, transit: 0, ended_for_other_node: 0, taken_over: 0, ended_owner_lost: 0, cdr_left_to_taker: 0, cdr_of_dead_node: 0 };
  /**
   * CDRs handed to acc whose call's record in Redis is a tombstone holding the CDR (dialogEnd):
   * removed once acc says the batch is written (dialogForget), refreshed meanwhile like a live
   * call's, so no other node claims it while this one is alive
   */
  const unwritten = new Map<CdrRecord, { callId: string; fromTag: string }>();
  /** tombstones whose removal failed (Redis away): retried with the refresher */
  const forgetLater: Array<{ callId: string; fromTag: string }> = [];
  /**
   * CDRs of recorded calls that ended while Redis was away: written once Redis tells whether
   * another node took the call over meanwhile (then that node writes it), at shutdown otherwise
   */
  const held: Array<{ callId: string; fromTag: string; cdr: CdrRecord }> = [];
  /** releases in flight (their CDRs follow): shutdown waits for them */
  const releasing = new Set<Promise<void>>();
  let sweeping = false;
  /** takeovers in flight, by Call-ID and From tag */
  const adopting = new Map<string, Promise<{ dialog: Dialog } | { owner: ClusterDialog } | undefined>>();

  const size = () => p?.hash_size ?? 4096;
  const limitsKey = (d: Dialog) => `${d.hEntry}:${d.hId}:${d.callId}`;

  /** the active-calls limit of `user`; undefined = no limit (a per-user -1, or the default 0) */
  function limitOf(user: string): number | undefined {
    const r = runtimeOverrides.get(user) ?? overrides.get(user);
    if (r !== undefined) return r < 0 ? undefined : r;
    const dflt = p?.max_calls_per_user ?? 0;
    return dflt > 0 ? dflt : undefined;
  }

  function profileChange(d: Dialog, by: number): void {
    if (d.profileUser === undefined) return;
    const n = (profile.get(d.profileUser) ?? 0) + by;
    if (n <= 0) profile.delete(d.profileUser);
    else profile.set(d.profileUser, n);
  }

  function remove(d: Dialog): void {
    slots.get(d.hEntry)?.delete(d.hId);
    if (slots.get(d.hEntry)?.size === 0) slots.delete(d.hEntry);
    const list = byCallId.get(d.callId);
    if (list !== undefined) {
      const rest = list.filter((x) => x !== d);
      if (rest.length === 0) byCallId.delete(d.callId);
      else byCallId.set(d.callId, rest);
    }
  }

  /** The dialog is over: DELETED, profile released, CDR written, removed after `linger`. */
  function finish(d: Dialog, why: EndReason): void {
    if (!d.active) return;
    const wasCounted = d.state !== DLG_DELETED;
    d.state = DLG_DELETED;
    d.endTs = now();
    d.endReason = why;
    if (d.timer !== undefined) clearTimeout(d.timer);
    d.timer = undefined;
    if (d.budgetTimer !== undefined) clearTimeout(d.budgetTimer);
    d.budgetTimer = undefined;
    if (wasCounted) profileChange(d, -1);
    const recorded = ownedShared.delete(d);
    hops.delete(d);
    if (recorded && cluster?.dialogEnd === undefined) cluster?.dialogRelease(d.callId, d.caller.tag);
    const linger = (p?.linger ?? 10) * 1000;
    if (d.transit) {
      // the owning node writes the CDR
      setTimeout(() => remove(d), linger).unref();
      return;
    }
    if (d.profileUser !== undefined) getLimits()?.ended({ callId: limitsKey(d), user: d.profileUser, dialled: d.parties.dstOuser, ...(d.startTs !== undefined ? { answerTime: d.startTs } : {}), endTime: d.endTs });
    const shared = sharedMembers.get(d);
    if (shared !== undefined) {
      sharedMembers.delete(d);
      cluster?.callRelease(shared.user, shared.member);
    }
    const cdr: CdrRecord = {
      ...d.parties,
      toTag: d.callee.tag,
      setupTime: d.initTs,
      ...(d.startTs !== undefined ? { answerTime: d.startTs } : {}),
      endTime: d.endTs,
      sipCode: d.sipCode,
      sipReason: d.sipReason,
      endReason: why,
      ...(d.takenFrom !== undefined ? { takenOver: true } : {}),
    };
    // A call recorded in the cluster store has its CDR written by the node that holds the record
    // when it ends: this one, unless another node took the call over while this one looked dead.
    if (recorded && cluster?.dialogEnd !== undefined) endRecorded(d.callId, d.caller.tag, cdr);
    else getAcc()?.cdr(cdr);
    const t = setTimeout(() => remove(d), linger);
    t.unref();
  }

  /**
   * Release the call's record; write its CDR unless another node took the call over. The record
   * stays as a tombstone holding the CDR until acc has written it (then forgotten, one request per
   * acc batch): a node that dies with the CDR still queued leaves it to another node's sweep.
   */
  function endRecorded(callId: string, fromTag: string, cdr: CdrRecord): void {
    const cl = cluster!;
    const acc = getAcc();
    const keep = acc?.writesCdrs() === true && cl.dialogForget !== undefined;
    const done = cl.dialogEnd!(callId, fromTag, keep ? JSON.stringify(cdr) : undefined).then(
      (r) => {
        if (r === 'taken') {
          counters.cdr_left_to_taker++;
          log?.info('dialog: another node took this call over while this one looked dead; it writes the CDR', { callId: callId.slice(0, 64) });
        } else if (r === 'down') void held.push({ callId, fromTag, cdr });
        else {
          if (r === 'released' && keep) unwritten.set(cdr, { callId, fromTag });
          acc?.cdr(cdr);
        }
      },
      () => void held.push({ callId, fromTag, cdr }),
    );
    releasing.add(done);
    void done.finally(() => releasing.delete(done));
  }

  /** acc wrote (or dropped) a batch: the tombstones of its CDRs go, in one request. */
  function cdrsDone(cdrs: readonly CdrRecord[]): Promise<void> | undefined {
    const list: Array<{ callId: string; fromTag: string }> = [];
    for (const c of cdrs) {
      const k = unwritten.get(c);
      if (k === undefined) continue;
      unwritten.delete(c);
      list.push(k);
    }
    return list.length === 0 ? undefined : forget(list);
  }

  function forget(list: Array<{ callId: string; fromTag: string }>): Promise<void> {
    return cluster!.dialogForget!(list).catch((e: unknown) => {
      // kept and refreshed until Redis answers; were this node to stop first, another node would
      // claim them and write the CDRs again — skipped by the database (acc_cdrs.dialog_key)
      forgetLater.push(...list);
      log?.warn('dialog: removing the tombstones of written CDRs failed (Redis); retrying', { calls: list.length, error: e instanceof Error ? e.message : String(e) });
    });
  }

  /**
   * A tombstone past its deadline: its node died before its acc batch with the CDR was written
   * (or before it removed the tombstone after). Claimed (one node wins) and its CDR written here,
   * as the owner would have written it; a second copy, if the owner's batch did commit, is
   * skipped by the database (acc_cdrs.dialog_key).
   */
  async function takeCdr(cl: ClusterApi, k: { callId: string; fromTag: string }, t: { node: string; pid?: number }): Promise<void> {
    if (t.node === cl.nodeId && t.pid === process.pid) return; // this process's: refreshed until written, overdue only after a stall
    if (await ownerAlive(cl, t)) return;
    const json = await cl.dialogClaimCdr!(k.callId, k.fromTag, t);
    if (json === undefined) return; // another node was first, or the owner removed it meanwhile
    const cdr = cdrFromJson(json);
    const acc = getAcc();
    if (cdr === undefined || acc?.writesCdrs() !== true) {
      if (cdr === undefined) log?.error('dialog: a dead node\'s call record holds an unreadable CDR; dropped', { callId: k.callId.slice(0, 64), node: t.node });
      await forget([k]);
      return;
    }
    counters.cdr_of_dead_node++;
    log?.info('dialog: writing the CDR of a call a dead node ended (its acc batch was not confirmed)', { callId: k.callId.slice(0, 64), node: t.node });
    unwritten.set(cdr, k);
    acc.cdr(cdr);
  }

  /** The held CDRs again, now that Redis may answer. */
  function retryHeld(): void {
    if (held.length === 0 || cluster?.up() !== true) return;
    for (const h of held.splice(0)) endRecorded(h.callId, h.fromTag, h.cdr);
  }

  /** the call's record: who owns it, and what another node needs to take it over */
  function record(d: Dialog, hop: string): ClusterDialog {
    return { callId: d.callId, fromTag: d.caller.tag, toTag: d.callee.tag, node: cluster!.nodeId, hop, state: dialogState(d), ...(d.takenFrom !== undefined ? { takenFrom: d.takenFrom } : {}) };
  }
  /** each recorded dialog's hop (written with the record; its updates keep it) */
  const hops = new Map<Dialog, string>();
  const ttlOf = (d: Dialog) => (d.lifetime > 0 ? d.lifetime + 60 : 86_400);

  function accEvent(d: Dialog, method: string, code: number, reason: string): void {
    if (d.transit) return;
    getAcc()?.event({ ...d.parties, toTag: d.callee.tag, method, sipCode: code, sipReason: reason, time: now() });
  }

  /** BYE towards one leg, on behalf of the other. */
  function byeTo(d: Dialog, to: LegName): void {
    const uac = getUac();
    if (uac === undefined) return;
    const target = to === 'callee' ? d.callee : d.caller;
    const other = to === 'callee' ? d.caller : d.callee;
    if (target.contact === '' && target.reach === undefined) return;
    const routes = target.routeSet;
    const dest = routes.length > 0 ? uac.destinationOf(routeUri(routes[0])) : target.reach ?? uac.destinationOf(target.contact);
    if (dest === undefined) {
      log?.warn('dialog: no destination for the BYE', { callId: d.callId.slice(0, 64), leg: to });
      return;
    }
    other.cseq += 1;
    const cseq = other.cseq;
    void uac.originate(dest, (via) => [
      `BYE ${target.contact || `sip:${dest.ip}:${dest.port}`} SIP/2.0`,
      `Via: ${via}`,
      ...routes.map((r) => `Route: ${r}`),
      `From: ${other.header}`,
      `To: ${target.header}`,
      `Call-ID: ${d.callId}`,
      `CSeq: ${cseq} BYE`,
      'Max-Forwards: 70',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'), target.socket).then(
      // no answer, or no way to send it: that leg may still think the call is up (another answer,
      // 481 included, means the leg heard the BYE)
      (status) => {
        if (status === 408 || status === 503) log?.warn('dialog: BYE not delivered', { callId: d.callId.slice(0, 64), leg: to, status });
      },
      (e: unknown) => log?.error('dialog: BYE not sent', { callId: d.callId.slice(0, 64), leg: to, error: e instanceof Error ? e.message : String(e) }),
    );
  }

  const api: DialogApi = {
    admit(user) {
      if (user === undefined) return undefined;
      const limit = limitOf(user);
      if (limit !== undefined && (profile.get(user) ?? 0) >= limit) {
        counters.refused_by_limit++;
        getStats()?.inc('dialog:refused_by_limit');
        getAlerts()?.emit('call-limit', user, { user, limit, reason: 'No more active calls' });
        return { status: 403, reason: 'No more active calls' };
      }
      // the call about to be created takes the user to this many: alert at the threshold, before the limit
      const pct = p?.alert_threshold_pct ?? 0;
      if (limit !== undefined && limit >= 2 && pct > 0) {
        const n = (profile.get(user) ?? 0) + 1;
        if (n < limit && n * 100 >= limit * pct) getAlerts()?.emit('limit-threshold', `${user}|calls`, { user, limit, active: n, thresholdPct: pct, reason: `${n} of ${limit} active calls` });
      }
      return undefined;
    },
    async admitShared(user, member) {
      const local = api.admit(user);
      if (local !== undefined || user === undefined || cluster === undefined) return local;
      const limit = limitOf(user);
      if (limit === undefined) return undefined;
      const r = await cluster.callAdmit(user, member, limit);
      if (r === 'admitted') return undefined;
      if (r === 'full') {
        counters.refused_by_limit++;
        getStats()?.inc('dialog:refused_by_limit');
        getAlerts()?.emit('call-limit', user, { user, limit, reason: 'No more active calls (cluster)' });
        return { status: 403, reason: 'No more active calls' };
      }
      // Redis away: cluster.admission decides (the local count above still applied).
      if (cluster.admission === 'open') return undefined;
      getStats()?.inc('dialog:refused_cluster_down');
      return { status: 503, reason: 'Service Unavailable', headers: [['Retry-After', '5']] };
    },
    create(init) {
      const inv = init.invite;
      const callId = inv.callId ?? '';
      const hEntry = coreHash(callId, size());
      const hId = (nextId.get(hEntry) ?? 0) + 1;
      nextId.set(hEntry, hId);
      const fromRaw = headerValue(inv, 'from') ?? '';
      const d = new Dialog(
        hEntry,
        hId,
        callId,
        headerValue(inv, 'from') === undefined ? '' : routeUri(fromRaw),
        routeUri(headerValue(inv, 'to') ?? ''),
        init.profileUser,
        { ...init.parties, toTag: '' },
        { tag: inv.from?.tag ?? '', contact: contactUri(inv), cseq: inv.cseq?.seq ?? 0, routeSet: allValues(inv, 'record-route'), socket: init.local, reach: init.source, header: fromRaw },
        p?.default_timeout ?? 0,
        init.setupTime,
      );
      // Overwrite initTs with the INVITE's arrival for the CDR.
      (d as { initTs: number }).initTs = init.setupTime;
      if (init.transit === true) {
        d.transit = true;
        if (init.owner !== undefined) d.owner = init.owner;
        counters.transit++;
      }
      let slot = slots.get(hEntry);
      if (slot === undefined) slots.set(hEntry, (slot = new Map()));
      slot.set(hId, d);
      byCallId.set(callId, [...(byCallId.get(callId) ?? []), d]);
      profileChange(d, +1);
      if (cluster !== undefined && init.profileUser !== undefined && limitOf(init.profileUser) !== undefined) {
        sharedMembers.set(d, { user: init.profileUser, member: memberOf(callId, inv.from?.tag ?? '') });
      }
      counters.created++;
      // An unanswered dialog whose transaction somehow never finished is not kept for ever.
      d.timer = setTimeout(() => {
        if (d.active && !d.confirmed) finish(d, 'timeout');
      }, (p?.early_timeout ?? 300) * 1000);
      d.timer.unref();
      return d;
    },
    provisional(d, res) {
      const tag = res.to?.tag;
      if (!d.active || tag === undefined || res.status === 100) return;
      d.earlyTags.add(tag);
      if (d.state < DLG_EARLY) d.state = DLG_EARLY;
    },
    answered(d, res, source, local) {
      if (!d.active) return;
      if (d.confirmed) {
        // 2xx retransmission or another fork's 2xx: the first one made the dialog; the other
        // fork's tag is kept so its ACK and BYE still pass (Dialog.otherFork)
        const tag = res.to?.tag;
        if (tag !== undefined) {
          d.earlyTags.add(tag);
          if (tag !== d.callee.tag && !d.forkReach.has(tag)) d.forkReach.set(tag, source);
        }
        return;
      }
      const tag = res.to?.tag ?? '';
      d.callee.tag = tag;
      d.parties.toTag = tag;
      d.callee.contact = contactUri(res);
      d.callee.header = headerValue(res, 'to') ?? '';
      d.callee.reach = source;
      d.callee.socket = local;
      // Record-Route of the 2xx: [downstream proxies…, ours…, upstream proxies…]; towards the
      // callee the route set is what lies above ours, bottom-up.
      const rr = allValues(res, 'record-route');
      const upstream = new Set(d.caller.routeSet);
      const above: string[] = [];
      for (const v of rr) {
        if (upstream.has(v)) break;
        above.push(v);
      }
      const uac = getUac();
      const mine = (v: string) => {
        const dest = uac?.destinationOf(routeUri(v));
        return dest !== undefined && dest.ip === local.ip && dest.port === local.port;
      };
      d.callee.routeSet = above.filter((v) => !mine(v) && !/;r2=on/i.test(v)).reverse();
      d.state = DLG_CONFIRMED_NA;
      d.startTs = now();
      d.sipCode = res.status;
      d.sipReason = res.reason;
      counters.answered++;
      accEvent(d, 'INVITE', res.status, res.reason);
      if (d.timer !== undefined) clearTimeout(d.timer);
      d.timer = undefined;
      if (d.transit) {
        // The owner ends the call (its BYE passes here); this record is dropped after the
        // longest a call may last, should the owner die first.
        const s = d.lifetime > 0 ? d.lifetime + 60 : 86_400;
        d.timer = setTimeout(() => finish(d, 'timeout'), s * 1000);
        d.timer.unref();
        return;
      }
      if (cluster !== undefined && cluster.up()) {
        const sock = d.caller.socket;
        const hop = cluster.hopFor(sock === undefined ? undefined : `udp:${sock.ip.includes(':') ? `[${sock.ip}]` : sock.ip}:${sock.port}`);
        if (hop !== undefined) {
          cluster.dialogOwn(record(d, hop), ttlOf(d));
          hops.set(d, hop);
          ownedShared.add(d);
        }
      }
      if (d.lifetime > 0) {
        d.timer = setTimeout(() => {
          counters.ended_by_timeout++;
          log?.info('dialog: maximum call duration reached; ending the call', { callId: d.callId.slice(0, 64), seconds: d.lifetime });
          getAlerts()?.emit('duration-limit', d.profileUser ?? d.fromUri, { user: d.profileUser, callId: d.callId, seconds: d.lifetime });
          api.end(d, 'max-duration');
        }, d.lifetime * 1000);
        d.timer.unref();
      }
      // Spending limits (modules/limits): the call ends when the remaining budget is spent.
      const lim = getLimits();
      if (lim !== undefined && d.profileUser !== undefined) {
        const call = { callId: limitsKey(d), user: d.profileUser, dialled: d.parties.dstOuser, answerTime: d.startTs };
        const seconds = lim.answered(call);
        if (seconds !== undefined) {
          d.budgetTimer = setTimeout(() => {
            lim.cutOff(call);
            api.end(d, 'cost-limit');
          }, seconds * 1000);
          d.budgetTimer.unref();
        }
      }
    },
    failed(d, status, reason, why) {
      if (!d.active || d.confirmed) return;
      d.sipCode = status;
      d.sipReason = reason;
      counters.failed++;
      accEvent(d, 'INVITE', status, reason);
      finish(d, why);
    },
    match(msg) {
      const list = byCallId.get(msg.callId ?? '');
      if (list === undefined) return undefined;
      // a call held twice (a transit record and the call taken over from its dead owner): the live one
      let ended: { dialog: Dialog; leg: LegName } | undefined;
      for (const d of list) {
        const leg = d.legOf(msg.from?.tag, msg.to?.tag);
        if (leg === undefined) continue;
        if (d.active) return { dialog: d, leg };
        ended ??= { dialog: d, leg };
      }
      return ended;
    },
    request(d, leg, msg) {
      // the dialog of another fork's late 2xx (its ACK, its BYE): not this call's
      if (d.otherFork(leg, msg.from?.tag, msg.to?.tag)) return;
      const from = leg === 'caller' ? d.caller : d.callee;
      const seq = msg.cseq?.seq ?? 0;
      if (msg.method !== 'ACK' && msg.method !== 'CANCEL' && seq > from.cseq) {
        from.cseq = seq;
        // a node that takes the call over sends its BYEs above the CSeq each side last saw
        const hop = hops.get(d);
        if (msg.method !== 'BYE' && hop !== undefined && d.active && ownedShared.has(d)) cluster?.dialogOwn(record(d, hop), ttlOf(d));
      }
      if (!d.active) return;
      if (msg.method === 'ACK' && d.state === DLG_CONFIRMED_NA) d.state = DLG_CONFIRMED;
      if (msg.method === 'BYE') {
        accEvent(d, 'BYE', 200, 'OK');
        finish(d, leg === 'caller' ? 'caller-bye' : 'callee-bye');
      }
    },
    end(d, why) {
      if (!d.active) return;
      if (d.confirmed) {
        byeTo(d, 'callee');
        byeTo(d, 'caller');
      }
      finish(d, why);
    },
    active: () => {
      let n = 0;
      for (const s of slots.values()) for (const d of s.values()) if (d.active && !d.transit) n++;
      return n;
    },
    adopt(o) {
      // a retransmitted BYE arriving while the first copy takes the call over waits for the same outcome
      const k = memberOf(o.callId, o.fromTag);
      let p = adopting.get(k);
      if (p === undefined) {
        p = adoptOnce(o).finally(() => adopting.delete(k));
        adopting.set(k, p);
      }
      return p;
    },
  };

  async function adoptOnce(o: ClusterDialog): Promise<{ dialog: Dialog } | { owner: ClusterDialog } | undefined> {
    const cl = cluster;
    if (cl === undefined) return undefined;
    // a cluster module that cannot claim: the owner as named (the proxy forwards to it unless it looks dead)
    if (cl.dialogClaim === undefined) return o.node !== cl.nodeId && cl.alive(o.node) !== false ? { owner: o } : undefined;
    const here = (byCallId.get(o.callId) ?? []).find((d) => d.active && !d.transit && d.caller.tag === o.fromTag);
    if (here !== undefined) return { dialog: here };
    // this very process's record, yet the call is not here: it ended (the record is going)
    if (o.node === cl.nodeId && o.pid === process.pid) return undefined;
    const owner = (r: ClusterDialog) => ownerAlive(cl, r);
    // a record written without the state (or unreadable) is not claimed: nobody could end the call from it
    if (parseDialogState(o.state) === undefined) return undefined;
    try {
      if (await owner(o)) return o.node === cl.nodeId ? undefined : { owner: o };
      const rec = await cl.dialogClaim(o.callId, o.fromTag, { node: o.node, ...(o.pid !== undefined ? { pid: o.pid } : {}) });
      if (rec === undefined) {
        // another node was first (or the call ended): it is that node's now
        const current = (await cl.dialogOwners(o.callId)).find((x) => x.fromTag === o.fromTag);
        return current !== undefined && current.node !== cl.nodeId && (await owner(current)) ? { owner: current } : undefined;
      }
      const d = restore(rec);
      if (d === undefined) {
        log?.warn('dialog: a call whose owner died could not be taken over: its record lacks the dialog state', { callId: o.callId.slice(0, 64), node: o.node });
        return undefined;
      }
      return { dialog: d };
    } catch (e) {
      log?.warn('dialog: taking over a call whose owner died failed (Redis)', { callId: o.callId.slice(0, 64), error: e instanceof Error ? e.message : String(e) });
      return undefined;
    }
  }

  /**
   * A call this node just took over (dialogClaim won): the dialog rebuilt from the owner's
   * record, held here as if set up here — counted in the caller's profile, its maximum duration
   * kept, its record (now naming this node) released and its CDR written when it ends.
   */
  function restore(rec: ClusterDialog): Dialog | undefined {
    const st = parseDialogState(rec.state);
    const hop = cluster?.hopFor();
    if (st === undefined || hop === undefined) return undefined;
    const hEntry = coreHash(rec.callId, size());
    const hId = (nextId.get(hEntry) ?? 0) + 1;
    nextId.set(hEntry, hId);
    const d = new Dialog(hEntry, hId, rec.callId, st.fromUri, st.toUri, st.profileUser, { ...st.parties, callId: rec.callId }, st.caller, st.lifetime, st.initTs);
    Object.assign(d.callee, st.callee);
    d.state = DLG_CONFIRMED;
    d.startTs = st.startTs;
    d.sipCode = st.sipCode;
    d.sipReason = st.sipReason;
    d.takenFrom = rec.takenFrom ?? rec.node;
    // This node delivered the call for its callee (a transit record): the owner stored this node
    // as the callee's next hop; the callee is reached as the transit record reaches it.
    const t = (byCallId.get(rec.callId) ?? []).find((x) => x.transit && x.active && x.caller.tag === rec.fromTag && x.callee.tag === rec.toTag);
    if (t !== undefined) {
      Object.assign(d.callee, { ...t.callee, routeSet: [...t.callee.routeSet], cseq: Math.max(t.callee.cseq, d.callee.cseq) });
      d.caller.cseq = Math.max(d.caller.cseq, t.caller.cseq);
      finish(t, 'timeout'); // a transit record writes no CDR
    }
    let slot = slots.get(hEntry);
    if (slot === undefined) slots.set(hEntry, (slot = new Map()));
    slot.set(hId, d);
    byCallId.set(rec.callId, [...(byCallId.get(rec.callId) ?? []), d]);
    profileChange(d, +1);
    ownedShared.add(d);
    hops.set(d, hop);
    counters.taken_over++;
    log?.info('dialog: took over a call whose owner node is gone', { callId: rec.callId.slice(0, 64), from: d.takenFrom });
    if (d.lifetime > 0) {
      const left = d.startTs! + d.lifetime * 1000 - now();
      d.timer = setTimeout(() => {
        counters.ended_by_timeout++;
        api.end(d, 'max-duration');
      }, Math.max(0, left));
      d.timer.unref();
    }
    return d;
  }

  /**
   * Calls whose owner stopped refreshing their records dialog_ttl_sec ago and is not alive (it
   * died, and neither party sent a BYE anywhere else): taken over and ended, BYE to both sides,
   * CDR end_reason owner-lost. A few per pass; every node sweeps, the claim decides who ends each.
   */
  async function sweep(): Promise<void> {
    const cl = cluster;
    if (sweeping || cl?.dialogsOverdue === undefined || !cl.up()) return;
    sweeping = true;
    try {
      for (const k of await cl.dialogsOverdue(50)) {
        const rec = (await cl.dialogOwners(k.callId)).find((x) => x.fromTag === k.fromTag);
        if (rec === undefined) {
          // no live record: the call ended; a tombstone still holds its CDR
          const t = cl.dialogClaimCdr === undefined ? undefined : await cl.dialogTombstone?.(k.callId, k.fromTag);
          if (t !== undefined) await takeCdr(cl, k, t);
          continue;
        }
        const r = await api.adopt(rec);
        if (r !== undefined && 'dialog' in r && r.dialog.active) {
          counters.ended_owner_lost++;
          log?.info('dialog: ending a call of a node that died (no BYE came for it)', { callId: k.callId.slice(0, 64), node: rec.node });
          api.end(r.dialog, 'owner-lost');
        }
      }
    } catch (e) {
      log?.warn('dialog: sweeping the calls of dead nodes failed', { error: e instanceof Error ? e.message : String(e) });
    } finally {
      sweeping = false;
    }
  }

  /** End the calls of a Call-ID this node owns (BYE both ways); how many. */
  function endLocal(callId: string): number {
    const mine = (byCallId.get(callId) ?? []).filter((d) => d.active && !d.transit);
    for (const d of mine) {
      counters.ended_by_rpc++;
      api.end(d, 'rpc');
    }
    return mine.length;
  }

  function dump(d: Dialog) {
    const leg = (l: Dialog['caller']) => ({
      tag: l.tag,
      contact: l.contact,
      cseq: String(l.cseq),
      route_set: l.routeSet.join(','),
      socket: l.socket === undefined ? '' : `${l.socket.transport}:${l.socket.ip}:${l.socket.port}`,
    });
    return {
      h_entry: d.hEntry,
      h_id: d.hId,
      'call-id': d.callId,
      from_uri: d.fromUri,
      to_uri: d.toUri,
      state: d.state,
      start_ts: d.startTs === undefined ? 0 : Math.floor(d.startTs / 1000),
      init_ts: Math.floor(d.initTs / 1000),
      timeout: d.startTs !== undefined && d.lifetime > 0 && d.active ? Math.floor(d.startTs / 1000) + d.lifetime : 0,
      lifetime: d.lifetime,
      dflags: 0,
      sflags: 0,
      iflags: 0,
      caller: leg(d.caller),
      callee: leg(d.callee),
      profiles: d.profileUser === undefined ? [] : [{ caller: d.profileUser }],
      variables: [],
    };
  }

  /** the dialogs this node holds, transit ones (another node's calls) left out */
  function all(): Dialog[] {
    const out: Dialog[] = [];
    for (const k of [...slots.keys()].sort((a, b) => a - b)) for (const d of slots.get(k)!.values()) if (!d.transit) out.push(d);
    return out;
  }

  function needDialog(hEntry: unknown, hId: unknown): Dialog {
    const e = Number(hEntry);
    const i = Number(hId);
    if (!Number.isSafeInteger(e) || !Number.isSafeInteger(i)) throw new RpcFault(500, 'Invalid parameters');
    const d = slots.get(e)?.get(i);
    if (d === undefined || !d.active || d.transit) throw new RpcFault(404, 'Dialog not found');
    return d;
  }

  const state: PersistentState = {
    get changed() {
      return changed;
    },
    snapshot() {
      changed = false;
      return { version: 1, userLimits: Object.fromEntries(runtimeOverrides) };
    },
    restore(data) {
      const d = data as { version?: unknown; userLimits?: Record<string, unknown> } | null;
      if (d === null || typeof d !== 'object' || d.version !== 1 || typeof d.userLimits !== 'object' || d.userLimits === null) return;
      for (const [u, n] of Object.entries(d.userLimits)) if (typeof n === 'number' && Number.isSafeInteger(n)) runtimeOverrides.set(u, n);
    },
  };

  return defineModule({
    name: 'dialog',
    params,
    init(ctx) {
      p = ctx.params;
      log = ctx.log;
      now = ctx.now;
      overrides = parseUserLimits(ctx.params.user_limits);
      getAcc = () => ctx.api<AccApi>('acc');
      getUac = () => ctx.api<UacApi>('proxy');
      getStats = () => ctx.api<StatsApi>('stats');
      getAlerts = () => ctx.api<AlertsApi>('alerts');
      getLimits = () => ctx.api<LimitsApi>('limits');
      const cl = ctx.api<ClusterApi>('cluster');
      if (cl?.enabled === true) {
        cluster = cl;
        // The owner's heartbeat: deadlines of the calls it still holds move forward every
        // third of cluster.dialog_ttl_sec; a node that dies stops refreshing and its calls expire.
        refresher = setInterval(() => {
          cl.callRefresh([...sharedMembers.values()]);
          cl.dialogRefresh?.([...[...ownedShared].map((d) => ({ callId: d.callId, fromTag: d.caller.tag })), ...unwritten.values(), ...forgetLater]);
          retryHeld();
          if (forgetLater.length > 0 && cl.up()) void forget(forgetLater.splice(0));
        }, Math.max(1000, (cl.dialogTtlSec * 1000) / 3));
        refresher.unref();
        // the tombstones of the CDRs in each batch acc wrote (or dropped) go
        ctx.api<AccApi>('acc')?.onCdrs((cdrs) => cdrsDone(cdrs));
        // The deadlines are each owner's (its own dialog_ttl_sec): look for overdue calls often.
        sweeper = setInterval(() => void sweep(), Math.max(1000, Math.min(5000, (cl.dialogTtlSec * 1000) / 3)));
        sweeper.unref();
        // Another node asks this one to end a call it owns (dialog.endCall there).
        cl.onCommand('dialog.end', async (args) => {
          const callId = typeof args.callId === 'string' ? args.callId : '';
          let ended = callId === '' ? 0 : endLocal(callId);
          if (ended > 0) counters.ended_for_other_node += ended;
          // this node's calls from before a restart (same name, another pid): taken over and ended
          if (ended === 0 && callId !== '') {
            for (const o of await cl.dialogOwners(callId)) {
              if (o.node !== cl.nodeId || o.pid === process.pid) continue;
              const r = await api.adopt(o);
              if (r !== undefined && 'dialog' in r && r.dialog.active) {
                counters.ended_by_rpc++;
                api.end(r.dialog, 'rpc');
                ended++;
              }
            }
          }
          return { ended };
        });
      }
    },
    reload(ctx) {
      const o = parseUserLimits(ctx.params.user_limits);
      p = ctx.params;
      overrides = o;
    },
    async destroy() {
      if (refresher !== undefined) clearInterval(refresher);
      if (sweeper !== undefined) clearInterval(sweeper);
      refresher = sweeper = undefined;
      for (const d of all()) {
        if (d.active) finish(d, 'shutdown');
        if (d.timer !== undefined) clearTimeout(d.timer);
      }
      slots.clear();
      byCallId.clear();
      profile.clear();
      // the CDRs of recorded calls follow their release (acc is destroyed after this module)
      await Promise.allSettled([...releasing]);
      if (held.length > 0) {
        // Redis unreachable: written rather than lost (a node that took one over meanwhile writes it too)
        log?.warn('dialog: writing CDRs whose call records Redis could not confirm', { records: held.length });
        for (const h of held.splice(0)) getAcc()?.cdr(h.cdr);
      }
    },
    rpc: {
      'dlg.list': {
        doc: 'Print all dialogs',
        handler: () => all().filter((d) => d.active).map(dump),
      },
      'dlg.dlg_list': {
        doc: 'Print dialog based on callid and fromtag',
        handler(params: RpcParams) {
          const [callId, fromTag] = rpcArgs(params);
          if (typeof callId !== 'string') throw new RpcFault(500, 'Invalid parameters');
          return (byCallId.get(callId) ?? []).filter((d) => d.active && !d.transit && (fromTag === undefined || d.caller.tag === fromTag)).map(dump);
        },
      },
      'dlg.end_dlg': {
        doc: 'End a given dialog based on [h_entry] [h_id]',
        handler(params: RpcParams) {
          const [e, i] = rpcArgs(params);
          if (e === undefined || i === undefined) throw new RpcFault(500, 'Invalid parameters');
          const d = needDialog(e, i);
          counters.ended_by_rpc++;
          api.end(d, 'rpc');
          return null;
        },
      },
      'dlg.terminate_dlg': {
        doc: 'End a given dialog based on callid, from tag and to tag',
        handler(params: RpcParams) {
          const [callId, fromTag, toTag] = rpcArgs(params);
          if (typeof callId !== 'string' || typeof fromTag !== 'string' || typeof toTag !== 'string') throw new RpcFault(500, 'Invalid parameters');
          const d = (byCallId.get(callId) ?? []).find((x) => x.active && !x.transit && x.caller.tag === fromTag && x.callee.tag === toTag);
          if (d === undefined) throw new RpcFault(404, 'Dialog not found');
          counters.ended_by_rpc++;
          api.end(d, 'rpc');
          return null;
        },
      },
      'dlg.profile_get_size': {
        doc: 'Returns the number of dialogs belonging to a profile: dlg.profile_get_size caller [user]',
        handler(params: RpcParams) {
          const [name, value] = rpcArgs(params);
          if (name !== 'caller') throw new RpcFault(404, `Profile not found: ${String(name).slice(0, 64)}`);
          if (value === undefined) return [...profile.values()].reduce((a, b) => a + b, 0);
          return profile.get(String(value)) ?? 0;
        },
      },
      'dlg.profile_list': {
        doc: 'Lists all the dialogs belonging to a profile: dlg.profile_list caller [user]',
        handler(params: RpcParams) {
          const [name, value] = rpcArgs(params);
          if (name !== 'caller') throw new RpcFault(404, `Profile not found: ${String(name).slice(0, 64)}`);
          return all().filter((d) => d.active && d.profileUser !== undefined && (value === undefined || d.profileUser === String(value))).map(dump);
        },
      },
      'dlg.stats_active': {
        doc: 'Get stats about active dialogs',
        handler: () => {
          const list = all().filter((d) => d.active);
          return {
            starting: list.filter((d) => d.state === 1).length,
            connecting: list.filter((d) => d.state === DLG_EARLY).length,
            answering: list.filter((d) => d.state === DLG_CONFIRMED_NA).length,
            ongoing: list.filter((d) => d.state === DLG_CONFIRMED).length,
            all: list.length,
          };
        },
      },
      'dialog.setUserLimit': {
        doc: 'sipd: set the active-calls limit of one subscriber: dialog.setUserLimit <user> <n> (0 = none allowed, -1 = no limit, "default" = back to the configured value)',
        handler(params: RpcParams) {
          const [user, n] = rpcArgs(params);
          if (typeof user !== 'string' || !/^[^\s]{1,64}$/.test(user)) throw new RpcFault(400, 'Bad user');
          if (n === 'default') {
            runtimeOverrides.delete(user);
          } else {
            const v = typeof n === 'number' ? n : typeof n === 'string' && /^-?\d{1,9}$/.test(n) ? Number(n) : NaN;
            if (!Number.isSafeInteger(v) || v < -1) throw new RpcFault(400, 'Bad limit');
            runtimeOverrides.set(user, v);
          }
          changed = true;
          return { user, limit: limitOf(user) ?? -1, active: profile.get(user) ?? 0 };
        },
      },
      'dialog.userLimits': {
        doc: 'sipd: the active-calls limits: the default, and per-subscriber values (configured and set over RPC) with their active calls',
        handler: () => {
          const users = new Set([...overrides.keys(), ...runtimeOverrides.keys(), ...profile.keys()]);
          return {
            default: p?.max_calls_per_user ?? 0,
            users: [...users].sort().map((u) => ({ user: u, limit: limitOf(u) ?? -1, source: runtimeOverrides.has(u) ? 'rpc' : overrides.has(u) ? 'config' : 'default', active: profile.get(u) ?? 0 })),
          };
        },
      },
      'dialog.endCall': {
        doc: 'sipd: end the calls of a Call-ID, BYE to both sides: here, or in a cluster on the node that owns them: dialog.endCall <callid>',
        async handler(params: RpcParams) {
          const [callId] = rpcArgs(params);
          if (typeof callId !== 'string' || callId === '' || callId.length > 255) throw new RpcFault(500, 'Invalid parameters');
          const here = endLocal(callId);
          if (here > 0) return { callId, ended: here, node: cluster?.nodeId ?? '' };
          if (cluster === undefined) throw new RpcFault(404, 'Dialog not found');
          let owners: Awaited<ReturnType<ClusterApi['dialogOwners']>>;
          try {
            owners = await cluster.dialogOwners(callId);
          } catch {
            throw new RpcFault(503, 'Cluster store unreachable');
          }
          let ended = 0;
          let by = '';
          // A call whose owner died (or is this node in an earlier process) is taken over and
          // ended here; the others are asked to end theirs.
          const asks: ClusterDialog[] = [];
          for (const o of owners) {
            if (o.node !== cluster.nodeId && cluster.alive(o.node) === true) {
              asks.push(o);
              continue;
            }
            const r = await api.adopt(o);
            if (r !== undefined && 'owner' in r) asks.push(r.owner);
            else if (r !== undefined && r.dialog.active) {
              counters.ended_by_rpc++;
              api.end(r.dialog, 'rpc');
              ended++;
              by = cluster.nodeId;
            }
          }
          const nodes = [...new Set(asks.map((o) => o.node).filter((n) => n !== cluster!.nodeId))];
          for (const n of nodes) {
            let r: unknown;
            try {
              r = await cluster.command(n, 'dialog.end', { callId });
            } catch (e) {
              log?.warn('dialog: the node that owns the call did not end it', { node: n, error: e instanceof Error ? e.message : String(e) });
              throw new RpcFault(504, `Node ${n.slice(0, 64)} did not answer`);
            }
            const k = Number((r as { ended?: unknown } | null)?.ended ?? 0);
            if (k > 0) {
              ended += k;
              by = n;
            }
          }
          if (ended === 0) throw new RpcFault(404, 'Dialog not found');
          return { callId, ended, node: by };
        },
      },
      'dialog.stats': {
        doc: 'sipd: dialogs created, answered, failed, ended by timeout or RPC, refused by the active-calls limit',
        handler: () => ({ ...counters, active: api.active(), cdr_held: held.length, cdr_unwritten: unwritten.size }),
      },
    },
    api,
    state,
  });
}
