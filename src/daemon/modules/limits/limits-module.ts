/**
 * The limits module: spending and daily limits per subscriber (issue 13 rule 4 — the playbook's
 * "alert and limit on the cost of overall calls" and per-day limits). Calls are rated by the rate
 * table (longest prefix, billing increments; src/core/rate/rates.ts); each subscriber has calls
 * per day, minutes per day, cost per day and cost per month (src/core/limits/limits.ts).
 *
 * - A new call (the proxy's admission, after the time rules) at a limit gets 403 with the reason:
 *   "Daily call limit reached", "Daily minutes limit reached", "Daily cost limit reached",
 *   "Monthly cost limit reached"; a `daily-limit` or `cost-limit` alert.
 * - When a call is answered (dialog module) the module returns how long the remaining budget pays
 *   for (whole billing increments at the call's rate, the other running calls counted); the dialog
 *   module ends the call then (BYE to both sides, end_reason cost-limit), and a `cost-limit` alert.
 * - When a call ends its answered time and cost are added to the day's and month's totals.
 * - At start (and on limits.reload) the totals are rebuilt from the month's CDRs (acc_cdrs), so they
 *   survive restarts. Days and months are UTC; the clock is the kernel's (ModuleContext.now).
 * - At alert_threshold_pct of a limit a `limit-threshold` alert.
 *
 * RPC: limits.reload, limits.usage user, limits.rate number, limits.stats.
 */
import { ConfigError } from '../../../core/errors.js';
import { callCostMicro, checkRate, fromMicro, MICRO, RateTable, secondsForBudget, type Rate } from '../../../core/rate/rates.js';
import { DEFAULT_LIMITS_USER, effectiveLimits, limitsOfRow, type LimitUsage, type Limits } from '../../../core/limits/limits.js';
import { fromDbDatetime, toDbDatetime } from '../usrloc/location-db.js';
import type { AlertsApi, ReplySpec, StatsApi } from '../../kernel/contracts.js';
import { defineModule, rpcArgs, type ModuleContext, type ParamValues, type RpcParams } from '../../kernel/module.js';
import { assertTableName, type ModuleDbDependency } from '../../kernel/module-db.js';
import { TableCopy } from '../../kernel/table-copy.js';
import { RpcFault } from '../../kernel/rpc-fault.js';
import { rowsOfOptionalTable } from '../../kernel/optional-table.js';

/** One call the dialog module reports. */
export interface LimitedCall {
  callId: string;
  user: string;
  dialled: string;
  /** ms */
  answerTime?: number;
  /** ms */
  endTime?: number;
}

export interface LimitsApi {
  /** may `user` start a call to `dialled` now? undefined = yes; else the 403 */
  admit(user: string, dialled: string): ReplySpec | undefined;
  /** the call was answered: seconds of call time the remaining budget pays for; undefined = no limit */
  answered(call: LimitedCall): number | undefined;
  /** the call ended (answered or not) */
  ended(call: LimitedCall): void;
  /** the call is being ended at its budget: alert */
  cutOff(call: LimitedCall): void;
  reload(): Promise<void>;
}

export interface LimitsDeps {
  db?: ModuleDbDependency;
}

const params = {
  rates_table: { type: 'string', default: 'sipd_rate', doc: 'rate table (prefix, price, currency, billing_increment)' },
  limits_table: { type: 'string', default: 'sipd_limits', doc: "limits table (username or '*', calls_per_day, minutes_per_day, cost_per_day, cost_per_month)" },
  cdrs_table: { type: 'string', default: 'acc_cdrs', doc: 'the CDRs the totals are rebuilt from at start (acc module)' },
  alert_threshold_pct: { type: 'integer', default: 80, min: 0, max: 100, doc: 'a limit-threshold alert when a subscriber reaches this share of a limit; 0 = none' },
  reload_interval: { type: 'integer', default: 0, min: 0, max: 86_400, doc: 'seconds between automatic reloads; 0 = only at start and on limits.reload' },
} as const;

type Params = ParamValues<typeof params>;

interface Usage {
  day: string;
  month: string;
  calls: number;
  seconds: number;
  costDay: number;
  costMonth: number;
}

interface Running {
  user: string;
  rate: Rate | undefined;
  answerTime: number | undefined;
}

const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const monthOf = (ms: number) => new Date(ms).toISOString().slice(0, 7);
function monthStart(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

export function createLimitsModule(deps: LimitsDeps = {}) {
  let ctx: ModuleContext<Params> | undefined;
  let rates = new RateTable([]);
  let limits = new Map<string, Limits>();
  let usage = new Map<string, Usage>();
  const running = new Map<string, Running>();
  let currencies = new Set<string>();
  const counters = { checked: 0, refused: 0, cut_off: 0 };
  const now = () => ctx?.now() ?? Date.now();

  function usageOf(user: string, at: number): Usage {
    const day = dayOf(at);
    const month = monthOf(at);
    let u = usage.get(user);
    if (u === undefined) usage.set(user, (u = { day, month, calls: 0, seconds: 0, costDay: 0, costMonth: 0 }));
    if (u.month !== month) Object.assign(u, { month, costMonth: 0 });
    if (u.day !== day) Object.assign(u, { day, calls: 0, seconds: 0, costDay: 0 });
    return u;
  }

  /** add one finished call (answered at `answer` ms, `seconds` long) to the totals, where it belongs */
  function account(u: Usage, answer: number, seconds: number, cost: number, at: number): void {
    if (dayOf(answer) === u.day || dayOf(at) === u.day) {
      u.calls++;
      u.seconds += seconds;
      u.costDay += cost;
    }
    if (monthOf(answer) === u.month || monthOf(at) === u.month) u.costMonth += cost;
  }

  function limitsFor(user: string): Limits {
    return effectiveLimits(limits.get(user), limits.get(DEFAULT_LIMITS_USER));
  }

  /** what the user's running (answered) calls have used so far */
  function runningOf(user: string, at: number): { calls: number; seconds: number; cost: number } {
    const out = { calls: 0, seconds: 0, cost: 0 };
    for (const r of running.values()) {
      if (r.user !== user) continue;
      out.calls++;
      if (r.answerTime === undefined) continue;
      const s = Math.max(0, (at - r.answerTime) / 1000);
      out.seconds += s;
      out.cost += callCostMicro(r.rate, s);
    }
    return out;
  }

  async function load(): Promise<void> {
    const db = copy.db;
    if (db === undefined || ctx === undefined) throw new ConfigError('LIMITS_NO_DB', 'limits: no database configured');
    const p = ctx.params;
    const rateRows = await rowsOfOptionalTable<Record<string, unknown>>(db, `SELECT prefix, price, currency, billing_increment FROM ${p.rates_table}`, p.rates_table, ctx.log);
    const list: Rate[] = [];
    for (const r of rateRows) {
      try {
        list.push(checkRate({ prefix: String(r.prefix), price: Number(r.price), currency: String(r.currency), increment: Number(r.billing_increment) }));
      } catch (e) {
        ctx.log.warn('limits: rate skipped', { prefix: String(r.prefix).slice(0, 32), error: e instanceof Error ? e.message : String(e) });
      }
    }
    const limitRows = await rowsOfOptionalTable<Record<string, unknown>>(db, `SELECT username, calls_per_day, minutes_per_day, cost_per_day, cost_per_month FROM ${p.limits_table}`, p.limits_table, ctx.log);
    const l = new Map<string, Limits>();
    for (const r of limitRows) l.set(String(r.username), limitsOfRow(r));
    const table = new RateTable(list);
    // the month's totals from the CDRs: answered calls of local subscribers
    const at = now();
    const since = toDbDatetime(Math.floor(monthStart(at) / 1000) - 86_400);
    const cdrs = await rowsOfOptionalTable<Record<string, unknown>>(db, `SELECT src_user, dst_ouser, start_time, end_time, duration FROM ${p.cdrs_table} WHERE end_time >= ? AND duration > 0`, p.cdrs_table, ctx.log, [since]);
    const u = new Map<string, Usage>();
    for (const c of cdrs) {
      const user = String(c.src_user ?? '');
      if (user === '') continue;
      const start = fromDbDatetime(c.start_time);
      const end = fromDbDatetime(c.end_time);
      if (start === undefined || end === undefined) continue;
      const seconds = Number(c.duration);
      let x = u.get(user);
      if (x === undefined) u.set(user, (x = { day: dayOf(at), month: monthOf(at), calls: 0, seconds: 0, costDay: 0, costMonth: 0 }));
      account(x, start * 1000, seconds, callCostMicro(table.lookup(String(c.dst_ouser ?? '')), seconds), end * 1000);
    }
    rates = table;
    currencies = new Set(list.map((r) => r.currency));
    limits = l;
    usage = u;
    ctx.log.info('limits: rates and limits loaded', { rates: list.length, limits: l.size, subscribersWithUsage: u.size });
  }
  const copy = new TableCopy('limits', 'tables', load);

  function alerts(): AlertsApi | undefined {
    return ctx?.api<AlertsApi>('alerts');
  }

  function refuse(user: string, limit: string, type: 'daily-limit' | 'cost-limit', reason: string, details: Record<string, unknown>): ReplySpec {
    counters.refused++;
    ctx?.api<StatsApi>('stats')?.inc('limits:refused');
    ctx?.log.info('limits: call refused', { user, limit, reason });
    alerts()?.emit(type, `${user}|${limit}`, { user, limit, reason, ...details });
    return { status: 403, reason };
  }

  function threshold(user: string, limit: string, used: number, max: number): void {
    const pct = ctx?.params.alert_threshold_pct ?? 0;
    if (pct > 0 && max > 0 && used < max && used * 100 >= max * pct) alerts()?.emit('limit-threshold', `${user}|${limit}`, { user, limit, used, max, thresholdPct: pct, reason: `${limit}: ${used} of ${max}` });
  }

  function snapshot(user: string): LimitUsage {
    const at = now();
    const u = usageOf(user, at);
    const r = runningOf(user, at);
    const currency = [...currencies].sort().join(',') || 'EUR';
    return {
      user,
      day: u.day,
      month: u.month,
      currency,
      limits: limitsFor(user),
      used: { calls: u.calls + r.calls, minutes: Math.round(((u.seconds + r.seconds) / 60) * 100) / 100, costDay: fromMicro(u.costDay + r.cost), costMonth: fromMicro(u.costMonth + r.cost), activeCalls: r.calls },
    };
  }

  const api: LimitsApi = {
    admit(user, dialled) {
      const lim = limitsFor(user);
      if (lim.callsPerDay === null && lim.minutesPerDay === null && lim.costPerDay === null && lim.costPerMonth === null) return undefined;
      counters.checked++;
      const at = now();
      const u = usageOf(user, at);
      const r = runningOf(user, at);
      const calls = u.calls + r.calls;
      const minutes = (u.seconds + r.seconds) / 60;
      const costDay = u.costDay + r.cost;
      const costMonth = u.costMonth + r.cost;
      if (lim.callsPerDay !== null && calls >= lim.callsPerDay) return refuse(user, 'calls/day', 'daily-limit', 'Daily call limit reached', { max: lim.callsPerDay, used: calls });
      if (lim.minutesPerDay !== null && minutes >= lim.minutesPerDay) return refuse(user, 'minutes/day', 'daily-limit', 'Daily minutes limit reached', { max: lim.minutesPerDay, used: Math.round(minutes * 100) / 100 });
      if (lim.costPerDay !== null && costDay >= lim.costPerDay * MICRO) return refuse(user, 'cost/day', 'cost-limit', 'Daily cost limit reached', { max: lim.costPerDay, used: fromMicro(costDay), dialled: dialled.slice(0, 32) });
      if (lim.costPerMonth !== null && costMonth >= lim.costPerMonth * MICRO) return refuse(user, 'cost/month', 'cost-limit', 'Monthly cost limit reached', { max: lim.costPerMonth, used: fromMicro(costMonth), dialled: dialled.slice(0, 32) });
      if (lim.callsPerDay !== null) threshold(user, 'calls/day', calls + 1, lim.callsPerDay);
      if (lim.minutesPerDay !== null) threshold(user, 'minutes/day', Math.round(minutes), lim.minutesPerDay);
      if (lim.costPerDay !== null) threshold(user, 'cost/day', fromMicro(costDay), lim.costPerDay);
      if (lim.costPerMonth !== null) threshold(user, 'cost/month', fromMicro(costMonth), lim.costPerMonth);
      return undefined;
    },
    answered(call) {
      const at = call.answerTime ?? now();
      const rate = rates.lookup(call.dialled);
      const lim = limitsFor(call.user);
      const u = usageOf(call.user, at);
      const others = runningOf(call.user, at);
      running.set(call.callId, { user: call.user, rate, answerTime: at });
      let allowed: number | undefined;
      const cap = (s: number | undefined) => {
        if (s !== undefined) allowed = allowed === undefined ? s : Math.min(allowed, s);
      };
      if (lim.minutesPerDay !== null) cap(Math.max(0, lim.minutesPerDay * 60 - u.seconds - others.seconds));
      if (lim.costPerDay !== null) cap(secondsForBudget(rate, lim.costPerDay * MICRO - u.costDay - others.cost));
      if (lim.costPerMonth !== null) cap(secondsForBudget(rate, lim.costPerMonth * MICRO - u.costMonth - others.cost));
      return allowed;
    },
    ended(call) {
      const r = running.get(call.callId);
      running.delete(call.callId);
      if (call.answerTime === undefined) return;
      const end = call.endTime ?? now();
      const seconds = Math.max(0, (end - call.answerTime) / 1000);
      const rate = r?.rate ?? rates.lookup(call.dialled);
      account(usageOf(call.user, end), call.answerTime, seconds, callCostMicro(rate, seconds), end);
    },
    cutOff(call) {
      counters.cut_off++;
      ctx?.api<StatsApi>('stats')?.inc('limits:cut_off');
      ctx?.log.info('limits: spending limit reached; ending the call', { user: call.user, callId: call.callId.slice(0, 64) });
      alerts()?.emit('cost-limit', `${call.user}|call`, { user: call.user, callId: call.callId, reason: 'call ended at the spending limit' });
    },
    reload: () => copy.reload(),
  };

  return defineModule({
    name: 'limits',
    params,
    async init(c) {
      ctx = c;
      assertTableName('limits.rates_table', c.params.rates_table);
      assertTableName('limits.limits_table', c.params.limits_table);
      assertTableName('limits.cdrs_table', c.params.cdrs_table);
      if (deps.db === undefined) throw new ConfigError('MODULE_DEPENDENCY', 'limits needs a database with the sipd_rate and sipd_limits tables');
      await copy.open(deps.db, c.params.reload_interval, c.log);
    },
    async destroy() {
      await copy.close();
    },
    rpc: {
      'limits.reload': copy.reloadMethod('Reload the rate table and the limits, and rebuild the totals from the CDRs'),
      'limits.usage': {
        doc: "A subscriber's usage today and this month against its limits: limits.usage user",
        handler(p: RpcParams) {
          const [user] = rpcArgs(p, ['user']);
          if (typeof user !== 'string' || user === '' || user.length > 64) throw new RpcFault(400, 'Invalid Parameters');
          return snapshot(user);
        },
      },
      'limits.rate': {
        doc: 'The rate a dialled number gets (longest prefix): limits.rate number',
        handler(p: RpcParams) {
          const [number] = rpcArgs(p, ['number']);
          if (typeof number !== 'string') throw new RpcFault(400, 'Invalid Parameters');
          return rates.lookup(number) ?? null;
        },
      },
      'limits.stats': {
        doc: 'Rates and limits loaded, calls checked, refused and cut off since start',
        handler: () => ({ rates: rates.size, limits: limits.size, running: running.size, ...counters }),
      },
    },
    api,
  });
}
