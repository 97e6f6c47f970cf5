import { UsageError, ValidationError } from '../errors.js';
import type { RpcClient } from '../rpc/client.js';
import { callMethod, flattenHtableDump, type HtableInfo, type HtableRow } from '../rpc/methods.js';
import { makeFilter } from './filter.js';
import { mapNotFound } from './remote.js';

/*
 * The running proxy's hash tables (Kamailio htable module; sipd implements the same methods).
 * Every function talks to ONE proxy; commands fan them out over a NodeSet.
 */

export interface HtableItem {
  table: string;
  key: string;
  value: number | string;
  type: 'int' | 'str';
  /** "NEVER" or the proxy's local time "YYYY-MM-DD hh:mm:ss". */
  expire: string;
}

export interface HtableChange {
  table: string;
  key?: string;
  action: 'seti' | 'sets' | 'setex' | 'delete' | 'flush' | 'reload';
  value?: number | string;
  /** The proxy's own words, e.g. "Ok. Key set to new value."; under --dry-run, what would happen. */
  message: string;
  /** --dry-run: nothing was changed. */
  dryRun?: boolean;
}

const C_INT_MIN = -2147483648;
const C_INT_MAX = 2147483647;

export function validateTableName(table: string): string {
  if (!table || /[\s\x00-\x1f\x7f]/.test(table)) throw new ValidationError('table', `"${table}" is not an htable name`);
  return table;
}

function validateKey(key: string): string {
  if (key === '') throw new ValidationError('key', 'must not be empty');
  return key;
}

/**
 * htable.seti's value: Kamailio silently stores 0 for anything that is not an integer, so the
 * value is checked here: a decimal integer in C int range.
 */
export function parseHtableInt(value: string): number {
  const n = /^[+-]?\d+$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < C_INT_MIN || n > C_INT_MAX) {
    throw new ValidationError('value', `"${value}" is not an integer between ${C_INT_MIN} and ${C_INT_MAX}`, 'use `htable sets` for a string value');
  }
  return n === 0 ? 0 : n;
}

export async function listTables(c: RpcClient): Promise<HtableInfo[]> {
  return callMethod(c, 'htable.listTables');
}

/** Every key of a table (filtered), in the proxy's dump order. */
export async function dumpTable(c: RpcClient, table: string, opts: { filter?: string; timeoutMs?: number } = {}): Promise<HtableRow[]> {
  validateTableName(table);
  let result;
  try {
    result = await c.call<Parameters<typeof flattenHtableDump>[0]>('htable.dump', [table], { timeoutMs: opts.timeoutMs });
  } catch (e) {
    throw mapNotFound(e, { table });
  }
  const rows = flattenHtableDump(result);
  if (!opts.filter) return rows;
  const keep = makeFilter(opts.filter);
  return rows.filter((r) => keep(r.name));
}

export async function getItem(c: RpcClient, table: string, key: string): Promise<HtableItem> {
  validateTableName(table);
  validateKey(key);
  try {
    const { item } = await callMethod(c, 'htable.get', table, key);
    return { table, key: item.name, value: item.value, type: typeof item.value === 'number' && (item.flags & 2) === 0 ? 'int' : 'str', expire: item.expire };
  } catch (e) {
    throw mapNotFound(e, { table, key });
  }
}

export async function setItem(c: RpcClient, table: string, key: string, value: number | string): Promise<HtableChange> {
  validateTableName(table);
  validateKey(key);
  const isInt = typeof value === 'number';
  try {
    const message = isInt ? await callMethod(c, 'htable.seti', table, key, value) : await callMethod(c, 'htable.sets', table, key, value);
    return { table, key, action: isInt ? 'seti' : 'sets', value, message: String(message) };
  } catch (e) {
    throw mapNotFound(e, { table, key });
  }
}

export async function deleteItem(c: RpcClient, table: string, key: string): Promise<HtableChange> {
  validateTableName(table);
  validateKey(key);
  try {
    const message = await callMethod(c, 'htable.delete', table, key);
    return { table, key, action: 'delete', message: String(message) };
  } catch (e) {
    throw mapNotFound(e, { table, key });
  }
}

export async function flushTable(c: RpcClient, table: string): Promise<HtableChange> {
  validateTableName(table);
  try {
    return { table, action: 'flush', message: String(await callMethod(c, 'htable.flush', table)) };
  } catch (e) {
    throw mapNotFound(e, { table });
  }
}

/** htable.reload works only for tables loaded from a database (dbtable set); Kamailio says so otherwise. */
export async function reloadTable(c: RpcClient, table: string): Promise<HtableChange> {
  validateTableName(table);
  try {
    return { table, action: 'reload', message: String(await callMethod(c, 'htable.reload', table)) };
  } catch (e) {
    throw mapNotFound(e, { table });
  }
}

/** A key's time to live in seconds: 0 = never expires, at most a C int. */
export function parseExpireSeconds(value: string): number {
  const s = value.trim();
  const n = /^\d+$/.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(n) || n > 2147483647) throw new ValidationError('seconds', `"${value}" is not a whole number of seconds (0 = never expires)`);
  return n;
}

/**
 * htable.setex: a new expiry for an existing key. Kamailio answers "Ok" also for a key that is
 * not there (and sets nothing), so the key is looked up first: a missing key is exit 3.
 */
export async function setItemExpire(c: RpcClient, table: string, key: string, seconds: number, opts: { dryRun?: boolean } = {}): Promise<HtableChange> {
  const it = await getItem(c, table, key);
  if (opts.dryRun) return { table, key, action: 'setex', value: seconds, message: `would make ${key} expire ${seconds === 0 ? 'never' : `in ${seconds} s`} (now ${it.expire})`, dryRun: true };
  try {
    const message = await c.call<string>('htable.setex', [table, key, seconds]);
    return { table, key, action: 'setex', value: seconds, message: String(message) };
  } catch (e) {
    throw mapNotFound(e, { table, key });
  }
}

/** One table of htable.stats: slots, items, fewest and most items in a slot. */
export interface HtableStats {
  name: string;
  slots: number;
  all: number;
  min: number;
  max: number;
}

export async function tableStats(c: RpcClient): Promise<HtableStats[]> {
  const r = await c.call<unknown>('htable.stats');
  return (Array.isArray(r) ? r : []).map((t: Record<string, unknown>) => ({ name: String(t.name), slots: Number(t.slots), all: Number(t.all), min: Number(t.min), max: Number(t.max) }));
}

export interface UnbanResult {
  ip: string;
  /** The ipban entry existed and was deleted. */
  ipban: boolean;
  /** userban keys `IP::user::…` that were deleted (--dry-run: that would be). */
  userbanKeys: string[];
  /** --dry-run: nothing was changed. */
  dryRun?: boolean;
}

/**
 * Lift every ban the lab's config puts on an address: the `ipban` key (pike) and the `userban`
 * keys `IP::user::auth_count` / `IP::user::last_auth` (failed digest auth). A key that is already
 * gone counts as lifted; a table the proxy does not have is an error (wrong proxy or config).
 */
export async function unbanAddress(c: RpcClient, ip: string, opts: { ipbanTable?: string; userbanTable?: string; timeoutMs?: number; dryRun?: boolean } = {}): Promise<UnbanResult> {
  const ipbanTable = opts.ipbanTable ?? 'ipban';
  const userbanTable = opts.userbanTable ?? 'userban';
  let ipban = true;
  try {
    if (opts.dryRun) await getItem(c, ipbanTable, ip);
    else await deleteItem(c, ipbanTable, ip);
  } catch (e) {
    if ((e as { code?: string }).code !== 'HTABLE_KEY_NOT_FOUND') throw e;
    ipban = false;
  }
  const prefix = `${ip}::`;
  const keys = (await dumpTable(c, userbanTable, { timeoutMs: opts.timeoutMs })).map((r) => r.name).filter((k) => k.startsWith(prefix));
  if (opts.dryRun) return { ip, ipban, userbanKeys: keys, dryRun: true };
  const deleted: string[] = [];
  for (const key of keys) {
    try {
      await deleteItem(c, userbanTable, key);
      deleted.push(key);
    } catch (e) {
      // expired between the dump and the delete: gone is what we wanted
      if ((e as { code?: string }).code !== 'HTABLE_KEY_NOT_FOUND') throw e;
    }
  }
  return { ip, ipban, userbanKeys: deleted };
}

export function requireArgs(args: string[], n: number, usage: string): void {
  if (args.length < n) throw new UsageError('MISSING_ARGUMENT', `usage: ${usage}`);
}
