/**
 * Spending and daily limits per subscriber (issue 13 rule 4): calls per day, minutes per day,
 * cost per day, cost per month. Table sipd_limits (created by `sipctl db init`): one row per
 * subscriber and the row '*' for everyone else; a NULL column means "not set here" (the '*' row
 * applies), -1 means no limit. Days and months are UTC calendar days and months.
 *
 * sipd's limits module enforces them (modules/limits) with running totals rebuilt from the CDRs
 * (acc_cdrs); `sipctl limits show USER` asks it for the usage (RPC limits.usage).
 */
import type { Database } from '../db/database.js';
import { assertWritable } from '../db/schema/schema.js';
import { ValidationError } from '../errors.js';
import type { RpcClient } from '../rpc/client.js';

export const DEFAULT_LIMITS_USER = '*';

export interface Limits {
  callsPerDay: number | null;
  minutesPerDay: number | null;
  costPerDay: number | null;
  costPerMonth: number | null;
}

export const LIMIT_KEYS = ['callsPerDay', 'minutesPerDay', 'costPerDay', 'costPerMonth'] as const;
export const LIMIT_COLUMNS: Record<(typeof LIMIT_KEYS)[number], string> = { callsPerDay: 'calls_per_day', minutesPerDay: 'minutes_per_day', costPerDay: 'cost_per_day', costPerMonth: 'cost_per_month' };

export function checkUser(user: string): string {
  if (user === DEFAULT_LIMITS_USER) return user;
  if (!/^[^\s@:;,'"<>\\]{1,64}$/.test(user)) throw new ValidationError('user', `"${user.slice(0, 40)}" is not a subscriber name`, "a user name (no domain), or '*' for the default of every subscriber");
  return user;
}

/** "10" → 10, "none" / "-1" → -1 (no limit), "default" / "" → null (the '*' row applies) */
export function parseLimit(name: string, text: string, money: boolean): number | null {
  const t = text.trim().toLowerCase();
  if (t === 'default' || t === 'inherit') return null;
  if (t === 'none' || t === 'unlimited' || t === '-1') return -1;
  const ok = money ? /^\d{1,9}(\.\d{1,6})?$/.test(t) : /^\d{1,9}$/.test(t);
  if (!ok) throw new ValidationError(name, `"${text.slice(0, 20)}" is not a limit`, money ? 'an amount ≥ 0 (e.g. 1.00), none, or default' : 'a whole number ≥ 0, none, or default');
  return Number(t);
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export function limitsOfRow(r: Record<string, unknown>): Limits {
  return { callsPerDay: num(r.calls_per_day), minutesPerDay: num(r.minutes_per_day), costPerDay: num(r.cost_per_day), costPerMonth: num(r.cost_per_month) };
}

const SELECT = 'SELECT username, calls_per_day, minutes_per_day, cost_per_day, cost_per_month FROM sipd_limits';

export async function listLimits(db: Database): Promise<Array<{ user: string } & Limits>> {
  const rows = await db.query<Record<string, unknown>>(`${SELECT} ORDER BY username`);
  return rows.map((r) => ({ user: String(r.username), ...limitsOfRow(r) }));
}

export async function getLimits(db: Database, user: string): Promise<Limits | undefined> {
  const rows = await db.query<Record<string, unknown>>(`${SELECT} WHERE username = ?`, [checkUser(user)]);
  return rows.length === 0 ? undefined : limitsOfRow(rows[0]);
}

/** Set some of a subscriber's limits (the others keep their value). */
export async function setLimits(db: Database, user: string, change: Partial<Limits>, opts: { dryRun?: boolean } = {}): Promise<{ user: string } & Limits> {
  checkUser(user);
  const keys = LIMIT_KEYS.filter((k) => change[k] !== undefined);
  if (keys.length === 0) throw new ValidationError('limits', 'nothing to set', 'give at least one of --calls-per-day, --minutes-per-day, --cost-per-day, --cost-per-month');
  await assertWritable(db, 'sipd_limits');
  const old = (await getLimits(db, user)) ?? { callsPerDay: null, minutesPerDay: null, costPerDay: null, costPerMonth: null };
  const next: Limits = { ...old };
  for (const k of keys) next[k] = change[k]!;
  if (!opts.dryRun) {
    await db.transaction(async (tx) => {
      await tx.execute('DELETE FROM sipd_limits WHERE username = ?', [user]);
      await tx.execute('INSERT INTO sipd_limits (username, calls_per_day, minutes_per_day, cost_per_day, cost_per_month) VALUES (?, ?, ?, ?, ?)', [user, next.callsPerDay, next.minutesPerDay, next.costPerDay, next.costPerMonth]);
    });
  }
  return { user, ...next };
}

/** The limits that apply to `user`: its row, with the '*' row for what it leaves unset. */
export function effectiveLimits(own: Limits | undefined, dflt: Limits | undefined): Limits {
  const out = { callsPerDay: null, minutesPerDay: null, costPerDay: null, costPerMonth: null } as Limits;
  for (const k of LIMIT_KEYS) {
    const v = own?.[k] ?? dflt?.[k] ?? null;
    out[k] = v === null || v < 0 ? null : v;
  }
  return out;
}

export interface LimitUsage {
  user: string;
  day: string;
  month: string;
  currency: string;
  limits: Limits;
  used: { calls: number; minutes: number; costDay: number; costMonth: number; activeCalls: number };
}

export async function usageOf(c: RpcClient, user: string): Promise<LimitUsage> {
  return (await c.call('limits.usage', [checkUser(user)])) as LimitUsage;
}

export async function reloadLimits(c: RpcClient): Promise<{ message: string }> {
  await c.call('limits.reload');
  return { message: 'rates and limits reloaded' };
}
