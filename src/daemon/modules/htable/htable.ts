/**
 * One Kamailio-style hash table: string keys, integer or string values, optional auto-expiry.
 *
 * Entries live in a Map kept in least-recently-set order, so the entry cap (`maxEntries`) can
 * evict the stalest entry in O(1) when a flood would otherwise grow the table without bound.
 * Expired entries are invisible at once (every read checks) and removed by `sweep`, which the
 * module runs on a timer.
 *
 * `dump` groups entries by Kamailio's slot number — core_case_hash(key) & (2^size - 1), the same
 * hash Kamailio's htable uses — so `htable.dump` answers with the entry numbers Kamailio would.
 */
import type { HtableValue } from '../../kernel/contracts.js';
import { coreCaseHash } from '../../kernel/kamailio-hash.js';
import { isPlainTableName } from '../../kernel/module-db.js';

export interface HtableDefinition {
  name: string;
  /** slots = 2^size (Kamailio's `size`, 1–14; default 8 → 256 slots); only shapes dump and listTables */
  size: number;
  /** seconds an entry lives after it is set; 0 = forever */
  autoexpire: number;
  /** value a missing key starts from when incremented (Kamailio's `initval`); undefined = 0 */
  initval?: number;
  /** a set on an existing key restarts its expiry (Kamailio's `updateexpire`, default on) */
  updateexpire: boolean;
  /** database table (Kamailio htable schema) loaded at start and by htable.reload */
  dbtable?: string;
  /**
   * shared by every node of a sipd cluster (cluster.url): writes go through Redis and reach the
   * other nodes' copies (Kamailio's dmqreplicate, without DMQ). Ignored without a cluster.
   */
  replicate: boolean;
}

export interface HtableEntry {
  value: HtableValue;
  /** epoch ms; 0 = never */
  expires: number;
}

export interface DumpSlot {
  entry: number;
  size: number;
  slot: Array<{ name: string; value: number | string; type: 'int' | 'str' }>;
}

/** Kamailio keeps integers as C int: values wrap to 32-bit signed. */
export function toInt32(n: number): number {
  return Number.isFinite(n) ? Math.trunc(n) | 0 : 0;
}

export class Htable {
  private entries = new Map<string, HtableEntry>();
  /** entries evicted because the table was full, since start */
  evicted = 0;

  constructor(
    public def: HtableDefinition,
    public maxEntries: number,
  ) {}

  get slots(): number {
    return 2 ** this.def.size;
  }

  /** live entries (expired ones not yet swept are counted) */
  get size(): number {
    return this.entries.size;
  }

  get(key: string, now: number): HtableEntry | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    if (e.expires !== 0 && e.expires <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  /**
   * Set a value. A new key expires after the table's autoexpire (or `expiresSec` when given,
   * 0 meaning never); an existing key keeps its expiry unless updateexpire is on or
   * `expiresSec` is given. Returns whether an older entry had to be evicted to make room.
   */
  set(key: string, value: HtableValue, now: number, expiresSec?: number): boolean {
    const old = this.get(key, now);
    let expires: number;
    if (expiresSec !== undefined) expires = expiresSec > 0 ? now + expiresSec * 1000 : 0;
    else if (old !== undefined && !this.def.updateexpire) expires = old.expires;
    else expires = this.def.autoexpire > 0 ? now + this.def.autoexpire * 1000 : 0;
    const stored: HtableValue = value.type === 'int' ? { type: 'int', value: toInt32(value.value) } : { type: 'str', value: value.value };
    if (old !== undefined) this.entries.delete(key);
    this.entries.set(key, { value: stored, expires });
    return this.enforceCap();
  }

  /** Restore an entry exactly as saved (expiry kept); false when it had already expired. */
  load(key: string, value: HtableValue, expires: number, now: number): boolean {
    if (expires !== 0 && expires <= now) return false;
    this.entries.delete(key);
    this.entries.set(key, { value, expires });
    this.enforceCap();
    return true;
  }

  /** $shtinc: add `by`, starting from initval (0 when the table has none); a string value restarts from it too. */
  inc(key: string, by: number, now: number): number {
    const old = this.get(key, now);
    const base = old !== undefined && old.value.type === 'int' ? old.value.value : (this.def.initval ?? 0);
    const next = toInt32(base + by);
    this.set(key, { type: 'int', value: next }, now);
    return next;
  }

  delete(key: string, now: number): boolean {
    const had = this.get(key, now) !== undefined;
    this.entries.delete(key);
    return had;
  }

  flush(): void {
    this.entries = new Map();
  }

  /** Live keys, optionally those starting with `prefix`. */
  keys(now: number, prefix = ''): string[] {
    const out: string[] = [];
    for (const [k, e] of this.entries) if ((e.expires === 0 || e.expires > now) && k.startsWith(prefix)) out.push(k);
    return out;
  }

  /** Remove expired entries; returns how many. */
  sweep(now: number): number {
    let n = 0;
    for (const [k, e] of this.entries) {
      if (e.expires !== 0 && e.expires <= now) {
        this.entries.delete(k);
        n++;
      }
    }
    return n;
  }

  /** Live entries in Map order (for snapshots). */
  *live(now: number): IterableIterator<[string, HtableEntry]> {
    for (const [k, e] of this.entries) if (e.expires === 0 || e.expires > now) yield [k, e];
  }

  /** Kamailio's htable.dump shape: non-empty slots in slot order, each with its entries. */
  dump(now: number): DumpSlot[] {
    const mask = this.slots - 1;
    const bySlot = new Map<number, DumpSlot['slot']>();
    for (const [k, e] of this.live(now)) {
      const idx = coreCaseHash(k) & mask;
      let list = bySlot.get(idx);
      if (list === undefined) bySlot.set(idx, (list = []));
      list.push({ name: k, value: e.value.value, type: e.value.type });
    }
    return [...bySlot.entries()].sort((a, b) => a[0] - b[0]).map(([entry, slot]) => ({ entry, size: slot.length, slot }));
  }

  /** min / max / total entries per slot (htable.stats) */
  slotStats(now: number): { all: number; min: number; max: number } {
    const mask = this.slots - 1;
    const counts = new Map<number, number>();
    let all = 0;
    for (const [k] of this.live(now)) {
      const idx = coreCaseHash(k) & mask;
      counts.set(idx, (counts.get(idx) ?? 0) + 1);
      all++;
    }
    const values = [...counts.values()];
    const max = values.length === 0 ? 0 : Math.max(...values);
    const min = counts.size < this.slots ? 0 : Math.min(...values);
    return { all, min, max };
  }

  private enforceCap(): boolean {
    let evicted = false;
    while (this.entries.size > this.maxEntries) {
      this.entries.delete(this.entries.keys().next().value as string);
      this.evicted++;
      evicted = true;
    }
    return evicted;
  }
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** Validate one definition from the configuration (name → attributes); throws Error with the reason. */
export function makeDefinition(name: string, raw: Readonly<Record<string, unknown>>): HtableDefinition {
  if (!NAME.test(name)) throw new Error(`htable name ${JSON.stringify(name.slice(0, 64))}: letters, digits, "_", "." and "-" only, at most 64`);
  const known = new Set(['size', 'autoexpire', 'initval', 'updateexpire', 'dbtable', 'replicate']);
  for (const k of Object.keys(raw)) if (!known.has(k)) throw new Error(`htable ${name}: unknown attribute ${JSON.stringify(k.slice(0, 32))} (known: ${[...known].join(', ')})`);
  const int = (k: string, dflt: number, min: number, max: number): number => {
    const v = raw[k];
    if (v === undefined) return dflt;
    const n = typeof v === 'string' && /^-?\d{1,12}$/.test(v) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min || n > max) throw new Error(`htable ${name}: ${k} must be an integer ${min}…${max}`);
    return n;
  };
  const def: HtableDefinition = {
    name,
    size: int('size', 8, 1, 14),
    autoexpire: int('autoexpire', 0, 0, 10 * 365 * 86400),
    updateexpire: true,
    replicate: false,
  };
  if (raw.initval !== undefined) def.initval = int('initval', 0, -(2 ** 31), 2 ** 31 - 1);
  if (raw.updateexpire !== undefined) {
    const u = raw.updateexpire;
    if (u === true || u === 1 || u === '1' || u === 'true') def.updateexpire = true;
    else if (u === false || u === 0 || u === '0' || u === 'false') def.updateexpire = false;
    else throw new Error(`htable ${name}: updateexpire must be true or false`);
  }
  if (raw.replicate !== undefined) {
    const r = raw.replicate;
    if (r === true || r === 1 || r === '1' || r === 'true') def.replicate = true;
    else if (r === false || r === 0 || r === '0' || r === 'false') def.replicate = false;
    else throw new Error(`htable ${name}: replicate must be true or false`);
  }
  if (raw.dbtable !== undefined) {
    if (typeof raw.dbtable !== 'string' || !isPlainTableName(raw.dbtable)) throw new Error(`htable ${name}: dbtable must be a plain SQL table name`);
    def.dbtable = raw.dbtable;
  }
  return def;
}

/** The tables every sipd has unless configured otherwise: what the Kamailio security playbook uses. */
export const DEFAULT_HTABLES: Readonly<Record<string, Readonly<Record<string, unknown>>>> = Object.freeze({
  ipban: Object.freeze({ size: 8, autoexpire: 300, replicate: true }),
  userban: Object.freeze({ size: 8, autoexpire: 900, initval: 0, replicate: true }),
});
