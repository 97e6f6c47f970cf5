/**
 * The pike module: flood detection and IP bans, as the Kamailio security playbook's REQINIT
 * route does with pike + htable:
 *
 *   if (src_ip != myself) {
 *     if ($sht(ipban=>$si) != $null) exit;            # banned: drop
 *     if (!pike_check_req()) { $sht(ipban=>$si) = 1; exit; }
 *   }
 *
 * `admit` runs before the message is parsed, so a banned source costs one Map lookup and a flood
 * of garbage is counted like any other. Exempt: the proxy's own addresses (Kamailio's myself) and
 * sources in the address groups listed in `trusted_groups` (checked through the permissions
 * module when it is loaded).
 *
 * Cluster members (sipd --cluster): the UDP addresses other live nodes announce in their
 * heartbeats send this node hand-offs and forwarded in-dialog requests (INVITE, ACK, BYE of
 * every call), so a busy cluster would otherwise ban its own nodes — and a ban is shared by all.
 * A UDP source address can be forged, so a member's address alone earns nothing: the pipeline
 * decides after parsing (admitMember). A request the proxy authenticates as a node's (a valid
 * signed hand-off, or a request of a dialog or transaction this node holds) is not counted; any
 * other request from that address is counted as usual, and over the limit dropped — never
 * banned: the ban table refuses a live member's address (logged), from here, RPC or other nodes.
 */
import { ConfigError } from '../../../core/errors.js';
import type { ClusterApi, CoreApi, HtableApi, PermissionsApi, StageResult, StatsApi } from '../../kernel/contracts.js';
import { type ModuleContext, type ParamValues, type RpcParams, defineModule } from '../../kernel/module.js';
import { RpcFault } from '../../kernel/rpc-fault.js';
import { FloodDetector, type SourceStatus } from './flood-detector.js';

export interface PikeApi {
  /**
   * One message from `ip` (before parsing; `method` when it is known cheaply). `continue`, or
   * `drop` with why: 'banned' (in the ban table) or 'flood' (this message crossed the limit:
   * the source has just been banned).
   */
  admit(ip: string, method?: string): StageResult;
  /** true when `ip` is never counted nor banned (myself, trusted groups) */
  exempt(ip: string): boolean;
  /** true when `ip` is in the ban table now */
  banned(ip: string): boolean;
  /**
   * true when `ip` is a live cluster member's address (not exempt): its requests are decided by
   * admitMember after parsing instead of admit.
   */
  member(ip: string): boolean;
  /**
   * One request from a member's address, after parsing. `authentic`: the proxy proved it a
   * node's (signed hand-off, a dialog or transaction this node holds): not counted. Otherwise it
   * is counted as admit would; over the limit it is dropped ('flood') but never banned.
   */
  admitMember(ip: string, method: string | undefined, authentic: boolean): StageResult;
  /**
   * The pipeline is about to refuse a request from `ip` (a 4xx-6xx it makes itself): true when
   * the refusal may be sent, false when the source had more than `refusals_per_unit` refusals
   * in the sampling unit — then nothing is sent, so a source address forged into requests we
   * refuse cannot be made a target of our replies (issue 16). Not a ban: requests go on.
   */
  refused(ip: string): boolean;
  /** sources tracked now for flood counting and for the refusal budget, each bounded by max_entries (stats sipd:pike_sources, sipd:pike_refusal_sources) */
  sources(): { flood: number; refusals: number };
}

const params = {
  sampling_time_unit: { type: 'integer', default: 2, min: 1, max: 3600, doc: 'seconds in one sampling unit' },
  reqs_density_per_unit: { type: 'integer', default: 16, min: 1, max: 1_000_000, doc: 'more requests than this from one source within a sampling unit is a flood' },
  max_entries: { type: 'integer', default: 100_000, min: 16, max: 10_000_000, doc: 'sources tracked at once; beyond it the least recently seen is forgotten (bounded memory under spoofed floods)' },
  ban_table: { type: 'string', default: 'ipban', doc: 'htable a flooding source is put in (value 1; it expires with the table\'s autoexpire)' },
  trusted_groups: { type: 'string', default: '', doc: 'comma-separated address groups (permissions module) exempt from flood detection' },
  refusals_per_unit: { type: 'integer', default: 8, min: 0, max: 1_000_000, doc: 'refusals (4xx-6xx replies sipd makes itself) sent to one source within a sampling unit; beyond it they are not sent. 0 = no limit' },
} as const;

type Params = ParamValues<typeof params>;

function parseGroups(text: string): number[] {
  const out: number[] = [];
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!/^\d{1,9}$/.test(part)) throw new ConfigError('MODULE_PARAM_INVALID', `pike.trusted_groups: ${JSON.stringify(part.slice(0, 16))} is not a group number`);
    out.push(Number(part));
  }
  return out;
}

export function createPikeModule() {
  let ctx: ModuleContext<Params> | undefined;
  let detector: FloodDetector | undefined;
  let refusals: FloodDetector | undefined;
  let suppressed = 0;
  let groups: number[] = [];
  let banTable: string = params.ban_table.default;
  let timer: NodeJS.Timeout | undefined;
  let bans = 0;
  let memberDrops = 0;
  let memberExempt = 0;
  /** when a member address's flood was last logged (one line per address and sampling unit) */
  const memberLogged = new Map<string, number>();

  const core = () => ctx?.api<CoreApi>('core');
  const htable = () => ctx?.api<HtableApi>('htable');
  const cluster = () => {
    const c = ctx?.api<ClusterApi>('cluster');
    return c?.enabled === true ? c : undefined;
  };

  function configure(c: ModuleContext<Params>): void {
    const ht = c.api<HtableApi>('htable');
    if (ht === undefined || !ht.has(c.params.ban_table)) {
      throw new ConfigError('MODULE_PARAM_INVALID', `pike.ban_table: no htable named ${JSON.stringify(c.params.ban_table)}`, 'define it under "htables" in the config file');
    }
    const g = parseGroups(c.params.trusted_groups);
    const opts = { unitMs: c.params.sampling_time_unit * 1000, maxHits: c.params.reqs_density_per_unit, maxEntries: c.params.max_entries };
    if (detector === undefined) detector = new FloodDetector(opts);
    else detector.configure(opts);
    const refusalOpts = { ...opts, maxHits: c.params.refusals_per_unit };
    if (refusals === undefined) refusals = new FloodDetector(refusalOpts);
    else refusals.configure(refusalOpts);
    ctx = c;
    groups = g;
    banTable = c.params.ban_table;
    // Never a ban on a live cluster member's address, whoever sets it (this node, RPC, another
    // node, Redis): a node's hand-offs must keep flowing, and a forged source must not ban it.
    ht.refuseKeys?.(banTable, (key) => (cluster()?.memberAddress(key) === true ? 'a live cluster member\'s address (its requests are counted only when not authenticated, and never banned)' : undefined));
    if (timer) clearInterval(timer);
    timer = setInterval(() => {
      detector?.sweep(c.now());
      refusals?.sweep(c.now());
    }, opts.unitMs);
    timer.unref();
  }

  const api: PikeApi = {
    sources: () => ({ flood: detector?.size ?? 0, refusals: refusals?.size ?? 0 }),
    exempt(ip) {
      if (core()?.isMyself(ip) === true) return true;
      if (groups.length === 0) return false;
      const perms = ctx?.api<PermissionsApi>('permissions');
      return perms !== undefined && groups.some((g) => perms.allowSource(g, ip));
    },
    banned(ip) {
      return htable()?.get(banTable, ip) !== undefined;
    },
    member(ip) {
      const cl = cluster();
      return cl !== undefined && cl.memberAddress(ip) && !api.exempt(ip);
    },
    admitMember(ip, method, authentic) {
      if (ctx === undefined || detector === undefined) return { action: 'continue' };
      if (authentic) {
        memberExempt++;
        return { action: 'continue' };
      }
      if (!detector.hit(ip, ctx.now())) return { action: 'continue' };
      memberDrops++;
      const at = ctx.now();
      if (at - (memberLogged.get(ip) ?? -Infinity) >= ctx.params.sampling_time_unit * 1000) {
        memberLogged.set(ip, at);
        if (memberLogged.size > 100) memberLogged.delete(memberLogged.keys().next().value as string);
        ctx.log.warn('pike: requests from a cluster member\'s address that no node signed, over the limit: dropped, not banned (the address may be forged)', { source: ip, method, limit: ctx.params.reqs_density_per_unit });
      }
      return { action: 'drop', why: 'flood' };
    },
    refused(ip) {
      if (ctx === undefined || refusals === undefined || ctx.params.refusals_per_unit === 0 || api.exempt(ip)) return true;
      if (!refusals.hit(ip, ctx.now())) return true;
      suppressed++;
      ctx.api<StatsApi>('stats')?.inc('pike:refusals_suppressed');
      return false;
    },
    admit(ip, method) {
      if (ctx === undefined || detector === undefined) return { action: 'continue' };
      if (api.exempt(ip)) return { action: 'continue' };
      if (api.banned(ip)) {
        core()?.securityEvent({ event: 'banned-drop', sourceIp: ip, method });
        return { action: 'drop', why: 'banned' };
      }
      if (!detector.hit(ip, ctx.now())) return { action: 'continue' };
      htable()?.setInt(banTable, ip, 1);
      detector.forget(ip);
      bans++;
      ctx.api<StatsApi>('stats')?.inc('pike:bans');
      core()?.securityEvent({ event: 'flood-ban', sourceIp: ip, method, detail: `more than ${ctx.params.reqs_density_per_unit} requests in ${ctx.params.sampling_time_unit} s; banned in ${banTable}` });
      return { action: 'drop', why: 'flood' };
    },
  };

  const top = (p: RpcParams) => {
    const arg = Array.isArray(p) ? p[0] : p === undefined ? undefined : (p as Record<string, unknown>).option;
    const opt = arg === undefined ? 'HOT' : String(arg).toUpperCase();
    let want: (s: SourceStatus) => boolean;
    if (opt.includes('ALL')) want = () => true;
    else if (opt.includes('HOT')) want = (s) => s === 'HOT';
    else if (opt.includes('WARM')) want = (s) => s === 'WARM';
    else throw new RpcFault(500, 'Bad argument. Select: ALL, HOT or WARM');
    const rows = (detector?.report(ctx?.now() ?? Date.now()) ?? [])
      .filter((r) => want(r.status))
      .sort((a, b) => b.estimate - a.estimate)
      .map((r) => ({ ip_addr: r.ip, leaf_hits_prev: r.prev, leaf_hits_curr: r.curr, expires: Math.ceil(r.expiresInMs / 1000), status: r.status }));
    return { max_hits: ctx?.params.reqs_density_per_unit ?? params.reqs_density_per_unit.default, list: rows, number_of_rows: rows.length };
  };

  return defineModule({
    name: 'pike',
    params,
    init: configure,
    reload: configure,
    destroy() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
    rpc: {
      'pike.top': { doc: 'Sources pike tracks: pike.top [HOT|WARM|ALL] (default HOT)', handler: top },
      'pike.list': { doc: 'Same as pike.top', handler: top },
      'pike.stats': {
        doc: 'sipd: sources tracked, evicted because the table was full, bans, refusals not sent (refusals_per_unit), requests from cluster members not counted (authenticated) and dropped (not authenticated, over the limit) since start',
        handler: () => ({ tracked: detector?.size ?? 0, evicted: detector?.evicted ?? 0, bans, refusals_suppressed: suppressed, max_entries: ctx?.params.max_entries ?? 0, member_exempt: memberExempt, member_drops: memberDrops }),
      },
    },
    api,
  });
}
