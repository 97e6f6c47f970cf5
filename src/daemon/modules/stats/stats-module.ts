/**
 * The stats module: named counters and gauges, answered through Kamailio's
 * `stats.get_statistics` with its exact shape (an array of "group:name = value" strings, as
 * kex's rpc_get_grp_vars_cbk prints them) and `stats.fetch` (one object, "group.name" → the
 * value as a string, as kex 5.6 answers it).
 *
 * Counters are "group:name" (Kamailio's module:statistic). The well-known ones below exist from
 * the start, so `stats.get_statistics all` lists them at 0 before anything happened; any other
 * well-formed name is created on its first inc(), up to a bound, so a typo in a caller can never
 * grow memory without limit. Gauges (current values such as registered users) are functions a
 * module registers; they are read when asked for, never stored.
 *
 * State lives in the instance made by createStatsModule (habit 8); counters keep counting from
 * construction, so modules that init before this one can already count.
 */
import { SipctlError } from '../../../core/errors.js';
import type { StatsApi } from '../../kernel/contracts.js';
import { defineModule, rpcArgs, type RpcParams } from '../../kernel/module.js';
import { RpcFault } from '../../kernel/rpc-fault.js';

/** The functions other modules call: the contract's inc() plus gauges and reads. */
export interface StatsRegistryApi extends StatsApi {
  /** Add `by` (default 1, may be negative) to the counter "group:name". Unknown-but-valid names are created. */
  inc(name: string, by?: number): void;
  /** Register a gauge read on demand ("usrloc:registered_users" → () => n). Replaces an earlier one. */
  gauge(name: string, read: () => number): void;
  /** Current value of a counter or gauge; undefined when unknown. */
  get(name: string): number | undefined;
  /** Every statistic as [group, name, value], groups sorted, names in definition order. */
  all(): Array<[group: string, name: string, value: number]>;
}

/** The reply codes Kamailio's sl module counts by themselves (sl.stats keys, sl:<code>_replies). */
export const SL_CODES: readonly number[] = [200, 202, 300, 301, 302, 400, 401, 403, 404, 407, 408, 483, 500];

/**
 * Counters defined at start (0 until counted). Names follow Kamailio where Kamailio has the
 * statistic (core, sl, registrar, usrloc); auth and sipd's ban counters are sipd's own.
 */
export const WELL_KNOWN_COUNTERS: readonly string[] = [
  'core:rcv_requests',
  'core:rcv_replies',
  'core:drop_requests',
  'core:err_requests',
  'sl:1xx_replies',
  'sl:2xx_replies',
  'sl:3xx_replies',
  'sl:4xx_replies',
  'sl:5xx_replies',
  'sl:6xx_replies',
  'sl:sent_replies',
  'sl:sent_err_replies',
  ...SL_CODES.map((c) => `sl:${c}_replies`),
  'auth:challenges',
  'auth:successes',
  'auth:failures',
  'auth:refused',
  'auth:lockouts',
  'auth:spray_lockouts',
  'registrar:accepted_regs',
  'registrar:rejected_regs',
  'pike:bans',
  'pike:refusals_suppressed',
];

/** group: a lower-case word; name: what Kamailio uses (letters, digits, _ . -). */
const STAT_NAME = /^([a-z][a-z0-9_]{0,31}):([A-Za-z0-9_.-]{1,64})$/;

const params = {
  max_counters: { type: 'integer', default: 1024, min: 64, max: 65_536, doc: 'most distinct counters kept; inc() of a new name beyond this is ignored (and logged once)' },
} as const;

export function createStatsModule() {
  /** group → name → value; Map keeps definition order */
  let counters = new Map<string, Map<string, number>>();
  const gauges = new Map<string, Map<string, () => number>>();
  let maxCounters: number = params.max_counters.default;
  let counterCount = 0;
  let overflowLogged = false;
  let warn: (msg: string, fields?: Record<string, unknown>) => void = () => {};

  const split = (name: string): [string, string] | undefined => {
    const m = STAT_NAME.exec(name);
    return m === null ? undefined : [m[1], m[2]];
  };

  /**
   * name → where its count lives, for names counted before: inc() runs several times per SIP
   * message, and matching the name against STAT_NAME each time cost more than the counting.
   * Emptied whenever the counters are replaced (reset).
   */
  let slots = new Map<string, { group: Map<string, number>; name: string }>();

  const define = (name: string): Map<string, number> | undefined => {
    const parts = split(name);
    if (parts === undefined) return undefined;
    let group = counters.get(parts[0]);
    if (group === undefined) {
      group = new Map();
      counters.set(parts[0], group);
    }
    if (!group.has(parts[1])) {
      group.set(parts[1], 0);
      counterCount++;
    }
    return group;
  };

  const reset = () => {
    counters = new Map();
    slots = new Map();
    counterCount = 0;
    for (const n of WELL_KNOWN_COUNTERS) define(n);
  };
  reset();

  const api: StatsRegistryApi = {
    inc(name, by = 1) {
      if (typeof name !== 'string' || !Number.isFinite(by)) return;
      const slot = slots.get(name);
      if (slot !== undefined) {
        slot.group.set(slot.name, (slot.group.get(slot.name) ?? 0) + by);
        return;
      }
      const parts = split(name);
      if (parts === undefined) return;
      let group = counters.get(parts[0]);
      if (group === undefined || !group.has(parts[1])) {
        if (counterCount >= maxCounters) {
          if (!overflowLogged) warn('stats: counter limit reached, new counters ignored', { name: name.slice(0, 100), max: maxCounters });
          overflowLogged = true;
          return;
        }
        group = define(name) as Map<string, number>;
      }
      group.set(parts[1], (group.get(parts[1]) ?? 0) + by);
      if (slots.size < maxCounters) slots.set(name, { group, name: parts[1] });
    },
    gauge(name, read) {
      const parts = split(name);
      if (parts === undefined) throw new SipctlError('STAT_NAME_INVALID', `invalid statistic name ${JSON.stringify(String(name).slice(0, 64))}`, { category: 'usage', hint: 'use group:name, e.g. usrloc:registered_users' });
      let group = gauges.get(parts[0]);
      if (group === undefined) {
        group = new Map();
        gauges.set(parts[0], group);
      }
      group.set(parts[1], read);
    },
    get(name) {
      const parts = split(name);
      if (parts === undefined) return undefined;
      const g = gauges.get(parts[0])?.get(parts[1]);
      if (g !== undefined) return readGauge(g);
      return counters.get(parts[0])?.get(parts[1]);
    },
    all() {
      const groups = new Set([...counters.keys(), ...gauges.keys()]);
      const out: Array<[string, string, number]> = [];
      for (const group of [...groups].sort()) out.push(...groupStats(group));
      return out;
    },
  };

  function readGauge(read: () => number): number {
    try {
      const v = read();
      return Number.isFinite(v) ? v : 0;
    } catch (e) {
      warn('stats: gauge failed', { error: String(e) });
      return 0;
    }
  }

  function groupStats(group: string): Array<[string, string, number]> {
    const out: Array<[string, string, number]> = [];
    for (const [name, v] of counters.get(group) ?? []) out.push([group, name, v]);
    for (const [name, read] of gauges.get(group) ?? []) out.push([group, name, readGauge(read)]);
    return out;
  }

  /** One argument of stats.get_statistics: "all", "group:", "group:name", "name" or (sipd) "group". */
  function select(arg: string): Array<[string, string, number]> {
    if (arg === 'all') return api.all();
    if (arg.endsWith(':')) return groupStats(arg.slice(0, -1));
    const parts = split(arg);
    if (parts !== undefined) {
      const v = api.get(arg);
      return v === undefined ? [] : [[parts[0], parts[1], v]];
    }
    // A bare statistic name, as Kamailio's get_stat() looks it up: first group that has it.
    const byName = api.all().filter(([, n]) => n === arg);
    if (byName.length > 0) return byName.slice(0, 1);
    // sipd extension: a bare group name means "group:".
    return groupStats(arg);
  }

  const format = ([g, n, v]: [string, string, number]) => `${g}:${n} = ${v}`;

  return defineModule({
    name: 'stats',
    params,
    init(ctx) {
      maxCounters = ctx.params.max_counters;
      warn = (msg, fields) => ctx.log.warn(msg, fields);
    },
    destroy() {
      gauges.clear();
      overflowLogged = false;
      reset();
    },
    rpc: {
      'stats.get_statistics': {
        doc: 'Statistics as "group:name = value" lines: stats.get_statistics all | group: | name …',
        handler(p: RpcParams) {
          const args = rpcArgs(p);
          if (args.length === 0 || typeof args[0] !== 'string') throw new RpcFault(400, 'Please provide which stats to retrieve');
          const out: string[] = [];
          for (const a of args) {
            if (typeof a === 'string' && a.length > 0 && a.length <= 128) out.push(...select(a).map(format));
          }
          return out;
        },
      },
      'stats.fetch': {
        doc: 'Statistics as one object {"group.name": "value"}: stats.fetch all | group: | name …',
        handler(p: RpcParams) {
          const args = rpcArgs(p);
          if (args.length === 0 || typeof args[0] !== 'string') throw new RpcFault(400, 'Please provide which stats to retrieve');
          // Kamailio's kex answers the values as strings (stats.fetch, rpc_fetch_grp_vars_cbk)
          const out: Record<string, string> = {};
          for (const a of args) {
            if (typeof a === 'string' && a.length > 0 && a.length <= 128) for (const [g, n, v] of select(a)) out[`${g}.${n}`] = String(v);
          }
          return out;
        },
      },
      'sl.stats': {
        doc: 'Stateless replies sent, as Kamailio\'s sl.stats: the counted codes, then each class without them',
        handler() {
          const out: Record<string, number> = {};
          const byCode = (c: number) => api.get(`sl:${c}_replies`) ?? 0;
          for (const c of SL_CODES) out[String(c)] = byCode(c);
          for (const cls of [2, 3, 4, 5, 6]) {
            const inClass = SL_CODES.filter((c) => Math.floor(c / 100) === cls).reduce((a, c) => a + byCode(c), 0);
            out[`${cls}xx`] = Math.max(0, (api.get(`sl:${cls}xx_replies`) ?? 0) - inClass);
          }
          out.xxx = 0;
          return out;
        },
      },
      'stats.reset_statistics': {
        doc: 'Set counters to 0 (all, group: or name); gauges are current values and stay',
        handler(p: RpcParams) {
          const args = rpcArgs(p);
          if (args.length === 0 || typeof args[0] !== 'string') throw new RpcFault(400, 'Please provide stats name');
          for (const a of args) {
            if (typeof a !== 'string') continue;
            for (const [g, n] of select(a)) {
              const group = counters.get(g);
              if (group?.has(n)) group.set(n, 0);
            }
          }
          return {};
        },
      },
    },
    api,
  });
}
