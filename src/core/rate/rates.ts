/**
 * The rate table (issue 13 rule 4): dialled-number prefix → price per minute, currency and billing
 * increment in seconds. The longest prefix that matches the dialled number wins. A call is billed
 * in whole increments: a 61 s call at a 60 s increment pays 120 s, at a 1 s increment 61 s.
 *
 * Prefixes and dialled numbers are compared as digits after the international marker: "+4930…",
 * "004930…" and "4930…" all match the prefix "49" (written +49, 0049 or 49). A number no prefix
 * matches is not rated (cost 0): add a short prefix such as "0" … "9" to rate everything.
 *
 * Money is counted in micro-units (1e-6 of the currency) as integers, so sums do not drift.
 *
 * Table sipd_rate (created by `sipctl db init`); read by sipd's limits module, written by
 * `sipctl rate add|rm|import`.
 */
import type { Database } from '../db/database.js';
import { assertWritable } from '../db/schema/schema.js';
import { NotFoundError, ValidationError } from '../errors.js';
import type { RpcClient } from '../rpc/client.js';

export interface Rate {
  prefix: string;
  /** price per minute, in `currency` */
  price: number;
  currency: string;
  /** billing increment, seconds */
  increment: number;
  description: string;
}

export const MICRO = 1_000_000;

/** "+49", "0049", "49 30" → "4930"-style digits; throws on anything else. */
export function normalisePrefix(text: string): string {
  const t = text.trim().replace(/[\s-]/g, '');
  const m = /^(?:\+|00)?(\d{1,32})$/.exec(t);
  if (m === null) throw new ValidationError('prefix', `"${text.slice(0, 40)}" is not a number prefix`, 'digits, optionally after + or 00, e.g. +49 or +4490');
  return m[1];
}

/** The dialled number as digits for matching; undefined when it is not a number (a user name). */
export function dialledDigits(dialled: string): string | undefined {
  const m = /^(?:\+|00)?(\d+)$/.exec(dialled.replace(/[\s().-]/g, ''));
  return m === null ? undefined : m[1];
}

export function checkRate(r: { prefix: string; price: number | string; currency?: string; increment?: number | string; description?: string }): Rate {
  const prefix = normalisePrefix(r.prefix);
  const price = typeof r.price === 'number' ? r.price : Number(String(r.price).trim());
  if (!Number.isFinite(price) || price < 0 || price > 1_000_000 || String(r.price).trim() === '') throw new ValidationError('price', `"${String(r.price).slice(0, 20)}" is not a price per minute`, 'a number ≥ 0, e.g. 0.10');
  const currency = (r.currency ?? 'EUR').trim().toUpperCase();
  if (!/^[A-Z]{3}$/.test(currency)) throw new ValidationError('currency', `"${currency.slice(0, 10)}" is not a currency code`, 'three letters, e.g. EUR');
  const incText = String(r.increment ?? 60).trim();
  const increment = Number(incText);
  if (!/^\d{1,5}$/.test(incText) || increment < 1 || increment > 3600) throw new ValidationError('increment', `"${incText.slice(0, 10)}" is not a billing increment`, 'whole seconds from 1 to 3600, e.g. 60 or 1');
  const description = r.description ?? '';
  if (description.length > 128 || /[\x00-\x1f\x7f]/.test(description)) throw new ValidationError('description', 'at most 128 printable characters');
  return { prefix, price, currency, increment, description };
}

/** Longest-prefix lookup over a set of rates. */
export class RateTable {
  private readonly byPrefix = new Map<string, Rate>();
  private readonly lengths: number[];

  constructor(rates: readonly Rate[]) {
    for (const r of rates) this.byPrefix.set(r.prefix, r);
    this.lengths = [...new Set(rates.map((r) => r.prefix.length))].sort((a, b) => b - a);
  }

  get size(): number {
    return this.byPrefix.size;
  }

  /** the rate of a dialled number: the longest matching prefix; undefined = not rated */
  lookup(dialled: string): Rate | undefined {
    const d = dialledDigits(dialled);
    if (d === undefined) return undefined;
    for (const n of this.lengths) {
      if (n > d.length) continue;
      const r = this.byPrefix.get(d.slice(0, n));
      if (r !== undefined) return r;
    }
    return undefined;
  }
}

/** price of one billing increment, micro-units */
export function incrementCostMicro(r: Rate): number {
  return Math.round((r.price * MICRO * r.increment) / 60);
}

/** the cost of a call of `seconds` (answered time) at rate `r`, micro-units: whole increments, rounded up */
export function callCostMicro(r: Rate | undefined, seconds: number): number {
  if (r === undefined || seconds <= 0) return 0;
  const increments = Math.ceil(seconds / r.increment - 1e-9);
  return increments * incrementCostMicro(r);
}

/**
 * How many seconds of a call at rate `r` a budget of `budgetMicro` pays for: the end of the last
 * whole increment it covers. undefined = unlimited (not rated or free).
 */
export function secondsForBudget(r: Rate | undefined, budgetMicro: number): number | undefined {
  if (r === undefined) return undefined;
  const per = incrementCostMicro(r);
  if (per <= 0) return undefined;
  if (budgetMicro <= 0) return 0;
  return Math.floor(budgetMicro / per) * r.increment;
}

export const fromMicro = (m: number): number => Math.round(m) / MICRO;

function rowOf(r: Record<string, unknown>): Rate {
  return { prefix: String(r.prefix), price: Number(r.price), currency: String(r.currency), increment: Number(r.billing_increment), description: String(r.description ?? '') };
}

const SELECT = 'SELECT prefix, price, currency, billing_increment, description FROM sipd_rate';

export async function listRates(db: Database): Promise<Rate[]> {
  const rows = await db.query<Record<string, unknown>>(`${SELECT} ORDER BY prefix`);
  return rows.map(rowOf);
}

export interface RateInput {
  prefix: string;
  price: number | string;
  currency?: string;
  increment?: number | string;
  description?: string;
}

/** Add a rate, or replace the rate of the same prefix. */
export async function addRate(db: Database, input: RateInput, opts: { dryRun?: boolean } = {}): Promise<Rate & { replaced: boolean }> {
  const r = checkRate(input);
  await assertWritable(db, 'sipd_rate');
  const old = await db.query<Record<string, unknown>>(`${SELECT} WHERE prefix = ?`, [r.prefix]);
  if (!opts.dryRun) {
    await db.transaction(async (tx) => {
      await tx.execute('DELETE FROM sipd_rate WHERE prefix = ?', [r.prefix]);
      await tx.execute('INSERT INTO sipd_rate (prefix, price, currency, billing_increment, description) VALUES (?, ?, ?, ?, ?)', [r.prefix, r.price, r.currency, r.increment, r.description]);
    });
  }
  return { ...r, replaced: old.length > 0 };
}

export async function removeRate(db: Database, prefix: string, opts: { dryRun?: boolean } = {}): Promise<Rate> {
  const p = normalisePrefix(prefix);
  await assertWritable(db, 'sipd_rate');
  const rows = await db.query<Record<string, unknown>>(`${SELECT} WHERE prefix = ?`, [p]);
  if (rows.length === 0) throw new NotFoundError('RATE_NOT_FOUND', `no rate for prefix ${p}`, 'see `sipctl rate show`');
  if (!opts.dryRun) await db.execute('DELETE FROM sipd_rate WHERE prefix = ?', [p]);
  return rowOf(rows[0]);
}

export interface RateImport {
  added: number;
  replaced: number;
  problems: Array<{ line: number; text: string; error: string }>;
  dryRun: boolean;
  atomic: boolean;
}

/**
 * CSV: prefix,price[,currency[,increment[,description]]] per line; a header line starting with
 * "prefix" and blank or # lines are skipped. Later lines for the same prefix win.
 */
export async function importRates(db: Database, text: string, opts: { atomic?: boolean; dryRun?: boolean; currency?: string; increment?: number } = {}): Promise<RateImport> {
  await assertWritable(db, 'sipd_rate');
  const problems: RateImport['problems'] = [];
  const todo = new Map<string, Rate>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '' || (i === 0 && /^"?prefix"?\s*[,;]/i.test(line))) return;
    const f = line.split(/[,;]/).map((s) => s.trim().replace(/^"(.*)"$/, '$1'));
    try {
      if (f.length < 2) throw new ValidationError('line', 'expected prefix,price[,currency[,increment[,description]]]');
      const r = checkRate({ prefix: f[0], price: f[1], currency: f[2] || opts.currency, increment: f[3] || opts.increment, description: f.slice(4).join(',') });
      todo.set(r.prefix, r);
    } catch (e) {
      problems.push({ line: i + 1, text: raw.slice(0, 80), error: e instanceof Error ? e.message : String(e) });
    }
  });
  if (opts.atomic && problems.length > 0) {
    throw new ValidationError('file', `${problems.length} bad line${problems.length === 1 ? '' : 's'}, nothing imported (--atomic): line ${problems[0].line}: ${problems[0].error}`, 'fix the lines, or import without --atomic to add the good ones');
  }
  const existing = new Set((await db.query<{ prefix: string }>('SELECT prefix FROM sipd_rate')).map((r) => String(r.prefix)));
  const replaced = [...todo.keys()].filter((p) => existing.has(p)).length;
  const result = { added: todo.size - replaced, replaced, problems, dryRun: opts.dryRun === true, atomic: opts.atomic === true };
  if (opts.dryRun || todo.size === 0) return result;
  await db.transaction(async (tx) => {
    for (const r of todo.values()) {
      await tx.execute('DELETE FROM sipd_rate WHERE prefix = ?', [r.prefix]);
      await tx.execute('INSERT INTO sipd_rate (prefix, price, currency, billing_increment, description) VALUES (?, ?, ?, ?, ?)', [r.prefix, r.price, r.currency, r.increment, r.description]);
    }
  });
  return result;
}

export async function reloadRates(c: RpcClient): Promise<{ message: string }> {
  await c.call('limits.reload');
  return { message: 'rates and limits reloaded' };
}
