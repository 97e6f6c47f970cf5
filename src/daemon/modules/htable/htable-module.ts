/**
 * The htable module: named Kamailio-style hash tables (ipban, userban, …) with auto-expiry, the
 * HtableApi other modules use ($sht / $shtinc in Kamailio terms), Kamailio 5.6's htable.* RPC
 * methods with the same params, result shapes and error codes/messages, and persistence through
 * the kernel's state store (contents and expiries survive restart and crash).
 *
 * Table definitions come from the configuration (`htables`); a SIGHUP hands in new definitions
 * (`define`): new tables appear, changed attributes apply from then on, contents are kept.
 */
import type { ClusterApi, ClusterHtableEvent, CoreApi, HtableApi, HtableValue, PersistentState } from '../../kernel/contracts.js';
import { type Logger, type ModuleContext, type ParamValues, defineModule, rpcArgs } from '../../kernel/module.js';
import { RpcFault, invalidParams } from '../../kernel/rpc-fault.js';
import { Htable, type HtableDefinition, toInt32 } from './htable.js';

export interface HtableModuleApi extends HtableApi {
  /** Replace the set of table definitions (start-up and SIGHUP); contents of kept tables stay. */
  define(defs: readonly HtableDefinition[]): void;
  /** current definitions, in order */
  definitions(): HtableDefinition[];
  /**
   * $shtinc across the cluster: for a replicated table while Redis answers, one atomic increment
   * of the cluster-wide total (its expiry `expiresSec` from now), copied here; otherwise the
   * local inc with that expiry.
   */
  incShared(table: string, key: string, by: number, expiresSec: number): Promise<number>;
  /** entries in all tables now (each table bounded by max_entries; stats sipd:htable_entries) */
  entries(): number;
}

const params = {
  max_entries: { type: 'integer', default: 100_000, min: 1, max: 10_000_000, doc: 'entries per table; when full, the least recently set entry is evicted (memory stays bounded under floods)' },
  timer_interval: { type: 'integer', default: 10, min: 1, max: 3600, doc: 'seconds between sweeps that free expired entries (expired entries are invisible at once)' },
} as const;

type Params = ParamValues<typeof params>;

export interface HtableModuleOptions {
  /** initial definitions; `define` may replace them before init */
  definitions?: readonly HtableDefinition[];
}

/** Kamailio's "%Y-%m-%d %H:%M:%S" in local time. */
function localTimestamp(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A table or key name: strings, and (for keys) numbers written as text. */
function nameParam(v: unknown, what: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  throw invalidParams(`${what} must be a string`);
}

function intParam(v: unknown): number {
  if (typeof v === 'number' && Number.isInteger(v)) return toInt32(v);
  if (typeof v === 'string' && /^\s*[-+]?\d{1,10}\s*$/.test(v)) return toInt32(Number(v));
  throw invalidParams('value must be an integer');
}

export function createHtableModule(opts: HtableModuleOptions = {}) {
  let defs: HtableDefinition[] = [...(opts.definitions ?? [])];
  let tables = new Map<string, Htable>();
  let ctx: ModuleContext<Params> | undefined;
  let maxEntries: number = params.max_entries.default;
  let timer: NodeJS.Timeout | undefined;
  let changed = false;
  let lastEvictionWarning = 0;
  let cluster: ClusterApi | undefined;
  /** the table is shared through the cluster module */
  const shared = (t: Htable) => cluster !== undefined && t.def.replicate;

  const now = () => (ctx ? ctx.now() : Date.now());
  const log = (): Logger | undefined => ctx?.log;

  function build(): void {
    const next = new Map<string, Htable>();
    for (const d of defs) {
      const old = tables.get(d.name);
      if (old) {
        old.def = d;
        old.maxEntries = maxEntries;
        next.set(d.name, old);
      } else next.set(d.name, new Htable(d, maxEntries));
    }
    tables = next;
  }

  function table(name: string): Htable {
    const t = tables.get(name);
    if (t === undefined) throw new RpcFault(500, 'No such htable');
    return t;
  }

  function noteEviction(t: Htable): void {
    const at = now();
    if (at - lastEvictionWarning < 60_000) return;
    lastEvictionWarning = at;
    log()?.warn('htable full: least recently set entries evicted', { htable: t.def.name, maxEntries: t.maxEntries, evicted: t.evicted });
  }

  function mustTable(name: string): Htable {
    const t = tables.get(name);
    if (t === undefined) throw new Error(`no such htable: ${name}`);
    return t;
  }

  /** rules for keys per table (refuseKeys): a key a rule names a reason for is never set */
  const keyRules = new Map<string, (key: string) => string | undefined>();
  /** table + key → when its refusal was last logged (one line per key and minute, bounded) */
  const refusalLogged = new Map<string, number>();

  /** The reason `key` may not be set in `table` (logged), or undefined. */
  function refusal(table: string, key: string, from: string): string | undefined {
    const rule = keyRules.get(table);
    const why = rule === undefined ? undefined : rule(key);
    if (why === undefined) return undefined;
    const id = `${table}\u0000${key}`;
    const at = now();
    if (at - (refusalLogged.get(id) ?? -Infinity) >= 60_000) {
      refusalLogged.delete(id);
      refusalLogged.set(id, at);
      if (refusalLogged.size > 1000) refusalLogged.delete(refusalLogged.keys().next().value as string);
      log()?.warn(`htable: ${table} entry refused: ${why}`, { htable: table, key: key.slice(0, 64), from });
    }
    return why;
  }

  /** false when a refuseKeys rule refused the key (nothing set, nothing replicated) */
  function setValue(name: string, key: string, value: HtableValue, expiresSec?: number, from = 'local'): boolean {
    const t = mustTable(name);
    if (refusal(name, key, from) !== undefined) return false;
    if (t.set(key, value, now(), expiresSec)) noteEviction(t);
    changed = true;
    if (shared(t)) {
      if (!cluster!.up()) pendingKeys.add(`${name}\u0000${key}`);
      cluster!.htableSet(name, key, value, t.get(key, now())?.expires ?? 0);
    }
    return true;
  }

  /** A change another node made to a replicated table: applied here, never sent back. */
  function applyRemote(ev: ClusterHtableEvent): void {
    const t = tables.get(ev.table);
    if (t === undefined || !t.def.replicate) return;
    const at = now();
    if (ev.op === 'flush') t.flush();
    else if (ev.op === 'del' && ev.key !== undefined) t.delete(ev.key, at);
    else if (ev.op === 'set' && ev.key !== undefined && ev.value !== undefined) {
      if (refusal(ev.table, ev.key, 'another node') !== undefined) return;
      if (t.load(ev.key, ev.value, ev.expires ?? 0, at)) noteEviction(t);
    }
    changed = true;
  }

  /**
   * After a (re)connection: each replicated table becomes what Redis holds, plus what this node
   * wrote while Redis was away (the cluster module replays those writes right after this).
   */
  async function resyncShared(info: { redisLostData: boolean }): Promise<void> {
    for (const t of tables.values()) {
      if (!t.def.replicate || cluster === undefined) continue;
      const rows = await cluster.htableLoad(t.def.name);
      const at = now();
      const local = new Map([...t.live(at)].map(([k, e]) => [k, e] as const));
      const remote = new Set(rows.map((r) => r.key));
      for (const r of rows) if (refusal(t.def.name, r.key, 'Redis') === undefined) t.load(r.key, r.value, r.expires, at);
      // Entries gone from Redis were lifted (unban) or expired elsewhere — unless this node
      // wrote them while Redis was away: those are in the cluster module's queue, sent next.
      // When Redis itself lost its data (restarted empty), this node's entries go back to it instead.
      for (const [k, e] of local) {
        if (remote.has(k) || pendingKeys.has(`${t.def.name}\u0000${k}`)) continue;
        if (info.redisLostData) cluster.htableSet(t.def.name, k, e.value, e.expires);
        else t.delete(k, at);
      }
      changed = true;
    }
    pendingKeys.clear();
  }
  /** keys this node changed while Redis was away (kept from deletion by the resync) */
  const pendingKeys = new Set<string>();


  /** Load a table's rows from its dbtable (Kamailio htable schema: key_type 0 rows; value_type 1 = int). */
  async function loadFromDb(t: Htable): Promise<number> {
    const core = ctx?.api<CoreApi>('core');
    if (core === undefined || t.def.dbtable === undefined) throw new RpcFault(500, 'No htable db_url');
    const db = await core.database();
    const rows = await db.query<{ key_name: string; key_type: number; value_type: number; key_value: string; expires: number }>(
      `SELECT key_name, key_type, value_type, key_value, expires FROM ${t.def.dbtable} WHERE key_type = 0`,
    );
    const at = now();
    const fresh = new Htable(t.def, t.maxEntries);
    let n = 0;
    for (const r of rows) {
      const value: HtableValue = Number(r.value_type) === 1 ? { type: 'int', value: toInt32(Number(r.key_value)) } : { type: 'str', value: String(r.key_value) };
      const exp = Number(r.expires) > 0 ? Number(r.expires) * 1000 : t.def.autoexpire > 0 ? at + t.def.autoexpire * 1000 : 0;
      if (fresh.load(String(r.key_name), value, exp, at)) n++;
    }
    // Swap the whole table in at once (habit 8): readers never see a half-loaded table.
    t.flush();
    for (const [k, e] of fresh.live(at)) t.load(k, e.value, e.expires, at);
    changed = true;
    return n;
  }

  const api: HtableModuleApi = {
    entries: () => {
      let n = 0;
      for (const t of tables.values()) n += t.size;
      return n;
    },
    has: (name) => tables.has(name),
    get(name, key) {
      return tables.get(name)?.get(key, now())?.value;
    },
    setInt: (name, key, value, expiresSec) => void setValue(name, key, { type: 'int', value }, expiresSec),
    setStr: (name, key, value, expiresSec) => void setValue(name, key, { type: 'str', value }, expiresSec),
    refuseKeys: (name, check) => void keyRules.set(name, check),
    inc(name, key, by = 1) {
      const t = mustTable(name);
      const before = t.evicted;
      const v = t.inc(key, by, now());
      if (t.evicted !== before) noteEviction(t);
      changed = true;
      if (shared(t)) cluster!.htableSet(name, key, { type: 'int', value: v }, t.get(key, now())?.expires ?? 0);
      return v;
    },
    async incShared(name, key, by, expiresSec) {
      const t = mustTable(name);
      if (shared(t) && cluster!.up()) {
        const r = await cluster!.htableIncr(name, key, by, expiresSec);
        if (r !== undefined) {
          if (t.load(key, { type: 'int', value: toInt32(r.value) }, r.expires, now())) noteEviction(t);
          changed = true;
          return toInt32(r.value);
        }
      }
      if (shared(t)) pendingKeys.add(`${name}\u0000${key}`);
      const v = t.inc(key, by, now());
      setValue(name, key, { type: 'int', value: v }, expiresSec);
      return v;
    },
    delete(name, key) {
      const t = tables.get(name);
      if (t === undefined) return false;
      const had = t.delete(key, now());
      if (had) changed = true;
      // A key this node's copy does not have is not in the cluster either (the copy follows
      // Redis): no round trip for it — auth-db clears a pair's counters on every success. The
      // htable.delete RPC (sipctl unban) deletes in Redis whatever the copy says.
      if (had && shared(t)) cluster!.htableDelete(name, key);
      return had;
    },
    keys: (name, prefix) => tables.get(name)?.keys(now(), prefix) ?? [],
    define(next) {
      const seen = new Set<string>();
      for (const d of next) {
        if (seen.has(d.name)) throw new Error(`htable ${d.name} defined twice`);
        seen.add(d.name);
      }
      defs = [...next];
      if (ctx !== undefined) build();
    },
    definitions: () => [...defs],
  };

  const state: PersistentState = {
    get changed() {
      return changed;
    },
    snapshot() {
      changed = false;
      const at = now();
      const out: Record<string, Array<[string, 'int' | 'str', number | string, number]>> = {};
      for (const [name, t] of tables) out[name] = [...t.live(at)].map(([k, e]) => [k, e.value.type, e.value.value, e.expires]);
      return { version: 1, tables: out };
    },
    restore(data) {
      const d = data as { version?: unknown; tables?: Record<string, unknown> } | null;
      if (d === null || typeof d !== 'object' || d.version !== 1 || typeof d.tables !== 'object' || d.tables === null) {
        log()?.warn('htable state file not understood; starting empty');
        return;
      }
      const at = now();
      let loaded = 0;
      for (const [name, rows] of Object.entries(d.tables)) {
        const t = tables.get(name);
        // A shared table already holds what the cluster holds: Redis is its truth, not this file.
        if (t !== undefined && shared(t) && cluster!.up()) continue;
        if (t === undefined || !Array.isArray(rows)) {
          log()?.info('saved htable is no longer defined; its entries are dropped', { htable: name.slice(0, 64) });
          continue;
        }
        for (const row of rows) {
          if (!Array.isArray(row) || row.length !== 4) continue;
          const [k, type, v, exp] = row as [unknown, unknown, unknown, unknown];
          if (typeof k !== 'string' || typeof exp !== 'number' || !Number.isFinite(exp)) continue;
          let value: HtableValue;
          if (type === 'int' && typeof v === 'number') value = { type: 'int', value: toInt32(v) };
          else if (type === 'str' && typeof v === 'string') value = { type: 'str', value: v };
          else continue;
          if (t.load(k, value, exp, at)) loaded++;
        }
      }
      log()?.info('htable state restored', { entries: loaded });
    },
  };

  /** An RPC set a refuseKeys rule refused: a fault naming why, not 'Ok'. */
  const refuseRpc = (set: boolean, table: string, key: string): void => {
    if (!set) throw new RpcFault(500, `Key refused: ${keyRules.get(table)?.(key) ?? 'refused'}`);
  };

  const needTable = (v: unknown, missing: string): Htable => {
    if (v === undefined) throw new RpcFault(500, missing);
    return table(nameParam(v, 'htable name'));
  };

  return defineModule({
    name: 'htable',
    params,
    async init(c) {
      ctx = c;
      maxEntries = c.params.max_entries;
      build();
      const cl = c.api<ClusterApi>('cluster');
      if (cl?.enabled === true) {
        cluster = cl;
        cl.onHtable(applyRemote);
        cl.onConnect(resyncShared);
      }
      for (const t of tables.values()) if (t.def.dbtable !== undefined) await loadFromDb(t);
      timer = setInterval(() => {
        const at = now();
        for (const t of tables.values()) t.sweep(at);
      }, c.params.timer_interval * 1000);
      timer.unref();
    },
    reload(c) {
      ctx = c;
      maxEntries = c.params.max_entries;
      build();
    },
    destroy() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
    rpc: {
      'htable.dump': {
        doc: 'Dump the contents of hash table: htable.dump <htable>',
        handler: (p) => {
          const [name] = rpcArgs(p, ['htable']);
          return needTable(name, 'No htable name given').dump(now());
        },
      },
      'htable.get': {
        doc: 'Get one key from a hash table: htable.get <htable> <key>',
        handler: (p) => {
          const [name, key] = rpcArgs(p, ['htable', 'key']);
          if (name === undefined || key === undefined) throw new RpcFault(500, 'Not enough parameters (htable name and key name)');
          const e = table(nameParam(name, 'htable name')).get(nameParam(key, 'key'), now());
          if (e === undefined) throw new RpcFault(500, "Key name doesn't exist in htable.");
          return {
            item: {
              name: nameParam(key, 'key'),
              value: e.value.value,
              flags: e.value.type === 'str' ? 2 : 0,
              expire: e.expires === 0 ? 'NEVER' : localTimestamp(e.expires),
            },
          };
        },
      },
      'htable.sets': {
        doc: 'Set one key in a hash table to a string value: htable.sets <htable> <key> <value>',
        handler: (p) => {
          const [name, key, value] = rpcArgs(p, ['htable', 'key', 'value']);
          if (name === undefined || key === undefined || value === undefined) throw new RpcFault(500, 'Not enough parameters (htable name, key name and value)');
          const t = table(nameParam(name, 'htable name'));
          if (typeof value !== 'string' && !(typeof value === 'number' && Number.isFinite(value))) throw invalidParams('value must be a string');
          refuseRpc(setValue(t.def.name, nameParam(key, 'key'), { type: 'str', value: String(value) }, undefined, 'RPC'), t.def.name, String(key));
          return 'Ok. Key set to new value.';
        },
      },
      'htable.seti': {
        doc: 'Set one key in a hash table to an integer value: htable.seti <htable> <key> <value>',
        handler: (p) => {
          const [name, key, value] = rpcArgs(p, ['htable', 'key', 'value']);
          if (name === undefined || key === undefined || value === undefined) throw new RpcFault(500, 'Not enough parameters (htable name, key name and value)');
          const t = table(nameParam(name, 'htable name'));
          refuseRpc(setValue(t.def.name, nameParam(key, 'key'), { type: 'int', value: intParam(value) }, undefined, 'RPC'), t.def.name, String(key));
          return 'Ok. Key set to new value.';
        },
      },
      'htable.setex': {
        doc: 'Set the expire time of a key in a hash table: htable.setex <htable> <key> <seconds> (0 = never)',
        handler: (p) => {
          const [name, key, secs] = rpcArgs(p, ['htable', 'key', 'expire']);
          if (name === undefined || key === undefined || secs === undefined) throw new RpcFault(500, 'Not enough parameters (htable name, key name and expire)');
          const t = table(nameParam(name, 'htable name'));
          const seconds = intParam(secs);
          if (seconds < 0) throw invalidParams('expire must not be negative');
          const k = nameParam(key, 'key');
          const e = t.get(k, now());
          // Kamailio answers "Ok" also for a key that is not there, and changes nothing
          if (e !== undefined) setValue(t.def.name, k, e.value, seconds);
          return 'Ok';
        },
      },
      'htable.delete': {
        doc: 'Delete one key from a hash table: htable.delete <htable> <key>',
        handler: (p) => {
          const [name, key] = rpcArgs(p, ['htable', 'key']);
          if (name === undefined || key === undefined) throw new RpcFault(500, 'Not enough parameters (htable name and key name)');
          const t = table(nameParam(name, 'htable name'));
          const k = nameParam(key, 'key');
          const had = t.delete(k, now());
          if (shared(t)) cluster!.htableDelete(t.def.name, k);
          if (!had) throw new RpcFault(404, 'Key not found in htable.');
          changed = true;
          return 'Ok. Key deleted.';
        },
      },
      'htable.flush': {
        doc: 'Remove every key of a hash table: htable.flush <htable>',
        handler: (p) => {
          const [name] = rpcArgs(p, ['htable']);
          const t = needTable(name, 'No htable name given');
          t.flush();
          if (shared(t)) cluster!.htableFlush(t.def.name);
          changed = true;
          return 'Ok. Htable flushed.';
        },
      },
      'htable.listTables': {
        doc: 'List all htables',
        handler: () =>
          [...tables.values()].map((t) => ({
            name: t.def.name,
            dbtable: t.def.dbtable ?? '',
            dbmode: 0,
            expire: t.def.autoexpire,
            updateexpire: t.def.updateexpire ? 1 : 0,
            size: t.slots,
            dmqreplicate: shared(t) ? 1 : 0,
          })),
      },
      'htable.stats': {
        doc: 'Statistics about htables: slots, entries, least and most per slot',
        handler: () => {
          const at = now();
          return [...tables.values()].map((t) => ({ name: t.def.name, slots: t.slots, ...t.slotStats(at) }));
        },
      },
      'htable.reload': {
        doc: 'Reload a hash table from its database table: htable.reload <htable>',
        handler: async (p) => {
          const [name] = rpcArgs(p, ['htable']);
          const t = needTable(name, 'No htable name given');
          if (t.def.dbtable === undefined) throw new RpcFault(500, 'No htable db_url');
          const n = await loadFromDb(t);
          return `Ok. Htable reloaded (${n} entries).`;
        },
      },
    },
    api,
    state,
  });
}
