import type { RpcClient, RpcParams } from '../rpc/client.js';
import { NotFoundError } from '../errors.js';
import { RpcError, isRpcError } from '../rpc/rpc-error.js';
import type { HtableInfo, HtableRow } from '../rpc/methods.js';
import { parseIp } from '../address/ip.js';
import { deleteItem, dumpTable, flushTable, getItem, listTables, parseExpireSeconds, parseHtableInt, reloadTable, setItem, setItemExpire, tableStats, unbanAddress, validateTableName, type HtableChange, type HtableItem, type HtableStats, type UnbanResult } from './htable.js';
import { type NodeOutcome, type NodeSet } from './node-set.js';
import { loadedAddresses, reloadAddresses, type LoadedAddress, type ReloadResult } from './permissions.js';
import { nodeHealth, nodeUptime, nodeVersion, type NodeHealth } from './status.js';
import { clusterNodes, type ClusterView } from './cluster.js';
import { ulAddContact, ulDump, ulOnline, ulRemove, ulRemoveContact, ulShow, type OnlineAor, type UlContactChange, type UlContactInput, type UlDump, type UlLookup, type UlRemoval } from './ul.js';
import { getShv, setShv, type ShvChange, type ShvVar } from './shv.js';
import { fetchStats, listProcesses, type ProcessRow, type StatRow } from './stats.js';

/*
 * Every proxy operation sipctl offers, fanned out over a NodeSet. The oclif commands, `batch`
 * and `shell` all go through these, so a line in a batch does exactly what the command does.
 * Each returns an OpResult: per-node outcomes (a failed node never stops the others), the view
 * that renders it, and warnings to show on stderr / carry in the JSON.
 */

export type OpView =
  | 'htable-list' | 'htable-rows' | 'htable-item' | 'change' | 'unban'
  | 'ul-rows' | 'ul-lookup' | 'ul-rm' | 'address-loaded' | 'reload'
  | 'health' | 'uptime' | 'version' | 'raw' | 'cluster-nodes'
  | 'ul-contact' | 'online' | 'stats' | 'processes' | 'shv' | 'shv-set' | 'htable-stats' | 'uacreg-loaded'
  /** database lines of batch/shell (db-line-commands.ts) */
  | 'db-change' | 'db-subscribers' | 'db-addresses';

export interface OpResult<T = unknown> {
  /** e.g. "htable sets". */
  command: string;
  view: OpView;
  /** Changes state on the proxies (fanned out to every node, reported per node). */
  write: boolean;
  outcomes: Array<NodeOutcome<T>>;
  warnings: string[];
}

export interface OpContext {
  nodes: NodeSet;
  /** Deadline for big reads (dumps of tens of thousands of entries). */
  longTimeoutMs: number;
  /** How long `address reload` keeps retrying while the proxy says "ongoing reload". */
  reloadBudgetMs: number;
  /**
   * --dry-run: writes only read what they would change (the key, the AoR, the table exists) and
   * report it as "would …"; nothing on any proxy changes.
   */
  dryRun?: boolean;
}

async function op<T>(ctx: OpContext, command: string, view: OpView, write: boolean, fn: (c: RpcClient) => Promise<T>): Promise<OpResult<T>> {
  const outcomes = await ctx.nodes.each((c) => fn(c));
  return { command, view, write, outcomes, warnings: [] };
}

/** A write: `fn` normally, `preview` (read-only) under --dry-run. */
function write<T>(ctx: OpContext, command: string, view: OpView, fn: (c: RpcClient) => Promise<T>, preview: (c: RpcClient) => Promise<T>): Promise<OpResult<T>> {
  return op(ctx, command, view, true, ctx.dryRun ? preview : fn);
}

/** The table exists on this proxy (htable.listTables), else HTABLE_NOT_FOUND (exit 3). */
async function existingTable(c: RpcClient, table: string): Promise<HtableInfo> {
  validateTableName(table);
  const t = (await listTables(c)).find((x) => x.name === table);
  if (!t) throw new NotFoundError('HTABLE_NOT_FOUND', `no htable named ${table} on this proxy`, 'list the tables with `sipctl htable list`');
  return t;
}

/**
 * With several nodes, an AoR is usually registered at one of them and a key may already be gone
 * from some: a node answering "not found" is then fine (`absent()` stands in for its result) as
 * long as at least one node had it. When no node had it, the not-found errors stay (exit 3).
 */
function absentIsFine<T>(r: OpResult<T>, code: string, absent: () => T): OpResult<T> {
  if (r.outcomes.length < 2) return r;
  const isAbsent = (o: NodeOutcome<T>) => !o.ok && o.error.code === code;
  if (r.outcomes.every(isAbsent)) return r;
  r.outcomes = r.outcomes.map((o) => (isAbsent(o) ? { node: o.node, ok: true, value: absent() } : o));
  return r;
}

export const ops = {
  htableList: (ctx: OpContext) => op<HtableInfo[]>(ctx, 'htable list', 'htable-list', false, (c) => listTables(c)),
  htableDump: (ctx: OpContext, table: string, filter?: string) =>
    op<HtableRow[]>(ctx, 'htable dump', 'htable-rows', false, (c) => dumpTable(c, table, { filter, timeoutMs: ctx.longTimeoutMs })),
  htableGet: (ctx: OpContext, table: string, key: string) => op<HtableItem>(ctx, 'htable get', 'htable-item', false, (c) => getItem(c, table, key)),
  htableSeti: (ctx: OpContext, table: string, key: string, value: string) => {
    const n = parseHtableInt(value); // validated once, before any node is touched
    return write<HtableChange>(ctx, 'htable seti', 'change', (c) => setItem(c, table, key, n), async (c) => {
      await existingTable(c, table);
      return { table, key, action: 'seti', value: n, message: `would set ${key} to ${n}`, dryRun: true };
    });
  },
  htableSets: (ctx: OpContext, table: string, key: string, value: string) =>
    write<HtableChange>(ctx, 'htable sets', 'change', (c) => setItem(c, table, key, value), async (c) => {
      await existingTable(c, table);
      return { table, key, action: 'sets', value, message: `would set ${key} to "${value}"`, dryRun: true };
    }),
  htableDelete: async (ctx: OpContext, table: string, key: string) =>
    absentIsFine(
      await write<HtableChange>(ctx, 'htable delete', 'change', (c) => deleteItem(c, table, key), async (c) => {
        const it = await getItem(c, table, key);
        return { table, key, action: 'delete', value: it.value, message: `would delete ${key} (${it.value})`, dryRun: true };
      }),
      'HTABLE_KEY_NOT_FOUND',
      () => ({ table, key, action: 'delete' as const, message: 'not present', ...(ctx.dryRun ? { dryRun: true } : {}) }),
    ),
  htableFlush: (ctx: OpContext, table: string) =>
    write<HtableChange>(ctx, 'htable flush', 'change', (c) => flushTable(c, table), async (c) => {
      const n = (await dumpTable(c, table, { timeoutMs: ctx.longTimeoutMs })).length;
      return { table, action: 'flush', message: `would flush ${n} key(s)`, dryRun: true };
    }),
  htableReload: (ctx: OpContext, table: string) =>
    write<HtableChange>(ctx, 'htable reload', 'change', (c) => reloadTable(c, table), async (c) => {
      const t = await existingTable(c, table);
      return { table, action: 'reload', message: t.dbtable ? `would reload from ${t.dbtable}` : 'would fail: the table has no dbtable', dryRun: true };
    }),
  unban: (ctx: OpContext, ipIn: string) => {
    const ip = parseIp(ipIn).text;
    return write<UnbanResult>(ctx, 'unban', 'unban', (c) => unbanAddress(c, ip, { timeoutMs: ctx.longTimeoutMs }), (c) => unbanAddress(c, ip, { timeoutMs: ctx.longTimeoutMs, dryRun: true }));
  },
  ulDump: (ctx: OpContext, opts: { filter?: string; table?: string; force?: boolean; want?: 'raw' | 'rows' } = {}) =>
    op<UlDump>(ctx, 'ul dump', 'ul-rows', false, (c) => ulDump(c, { ...opts, timeoutMs: ctx.longTimeoutMs })),
  ulShow: async (ctx: OpContext, aor: string, table?: string, opts: { raw?: boolean } = {}) =>
    absentIsFine(await op<UlLookup>(ctx, 'ul show', 'ul-lookup', false, (c) => ulShow(c, aor, table, opts)), 'AOR_NOT_FOUND', () => ({ aor, contacts: [] })),
  ulRm: async (ctx: OpContext, aor: string, table?: string) =>
    absentIsFine(
      await write<UlRemoval>(ctx, 'ul rm', 'ul-rm', (c) => ulRemove(c, aor, table), async (c) => {
        const found = await ulShow(c, aor, table);
        return { aor: found.aor, contacts: found.contacts.length, dryRun: true };
      }),
      'AOR_NOT_FOUND',
      () => ({ aor, contacts: 0, notRegistered: true }),
    ),
  ulAdd: (ctx: OpContext, aor: string, contact: string, input: UlContactInput = {}, table?: string) =>
    write<UlContactChange>(ctx, 'ul add', 'ul-contact', (c) => ulAddContact(c, aor, contact, input, table), (c) => ulAddContact(c, aor, contact, input, table, { dryRun: true })),
  ulRmContact: async (ctx: OpContext, aor: string, contact: string, table?: string) =>
    absentIsFine(
      absentIsFine(
        await write<UlContactChange>(ctx, 'ul rm', 'ul-contact', (c) => ulRemoveContact(c, aor, contact, table), (c) => ulRemoveContact(c, aor, contact, table, { dryRun: true })),
        'AOR_NOT_FOUND',
        () => ({ aor, contact, action: 'rm' as const, notRegistered: true }),
      ),
      'CONTACT_NOT_FOUND',
      () => ({ aor, contact, action: 'rm' as const, notRegistered: true }),
    ),
  online: (ctx: OpContext, opts: { filter?: string; table?: string; force?: boolean } = {}) =>
    op<OnlineAor[]>(ctx, 'online', 'online', false, (c) => ulOnline(c, { ...opts, timeoutMs: ctx.longTimeoutMs })),
  stats: (ctx: OpContext, selectors: string[]) => op<StatRow[]>(ctx, 'stats', 'stats', false, (c) => fetchStats(c, selectors)),
  ps: (ctx: OpContext) => op<ProcessRow[]>(ctx, 'ps', 'processes', false, (c) => listProcesses(c)),
  shvGet: (ctx: OpContext, name?: string) => op<ShvVar[]>(ctx, 'shv get', 'shv', false, (c) => getShv(c, name)),
  shvSet: (ctx: OpContext, name: string, value: string, type?: 'int' | 'str') =>
    write<ShvChange>(ctx, 'shv set', 'shv-set', (c) => setShv(c, name, value, { type }), (c) => setShv(c, name, value, { type, dryRun: true })),
  htableSetex: (ctx: OpContext, table: string, key: string, seconds: string) => {
    const n = parseExpireSeconds(seconds);
    return write<HtableChange>(ctx, 'htable setex', 'change', (c) => setItemExpire(c, table, key, n), (c) => setItemExpire(c, table, key, n, { dryRun: true }));
  },
  htableStats: (ctx: OpContext) => op<HtableStats[]>(ctx, 'htable stats', 'htable-stats', false, (c) => tableStats(c)),
  addressDump: (ctx: OpContext) => op<LoadedAddress[]>(ctx, 'address dump', 'address-loaded', false, (c) => loadedAddresses(c)),
  addressReload: async (ctx: OpContext): Promise<OpResult<ReloadResult>> => {
    const r = await write<ReloadResult>(ctx, 'address reload', 'reload', (c) => reloadAddresses(c, { budgetMs: ctx.reloadBudgetMs }), async (c) => {
      const n = (await loadedAddresses(c)).length;
      return { message: `would reload the address table (${n} entr(ies) loaded now)`, retries: 0, waitedMs: 0, warnings: [], dryRun: true };
    });
    for (const o of r.outcomes) if (o.ok) for (const w of o.value.warnings) r.warnings.push(ctx.nodes.multi ? `${o.node}: ${w}` : w);
    return r;
  },
  status: (ctx: OpContext) => op<NodeHealth>(ctx, 'status', 'health', false, (c) => nodeHealth(c)),
  uptime: (ctx: OpContext) => op(ctx, 'uptime', 'uptime', false, (c) => nodeUptime(c)),
  nodes: (ctx: OpContext) => op<ClusterView>(ctx, 'nodes', 'cluster-nodes', false, (c) => clusterNodes(c)),
  version: (ctx: OpContext) => op(ctx, 'version', 'version', false, (c) => nodeVersion(c)),
  /** Any method by name (kamcmd-style). Not fanned out as a write: the caller cannot know; it goes to every node anyway. */
  raw: (ctx: OpContext, method: string, params: unknown[]) =>
    op<unknown>(ctx, 'rpc', 'raw', false, async (c) => {
      try {
        return await c.call(method, (params.length ? params : undefined) as RpcParams | undefined, { timeoutMs: ctx.longTimeoutMs });
      } catch (e) {
        // Kamailio's jsonrpcs does not turn a number into a string parameter for every method
        // (ul.lookup location 1001 → "Not enough parameters"): point at s:.
        if (isRpcError(e) && e.category === 'remote' && !e.hint && params.some((p) => typeof p === 'number')) {
          throw new RpcError(e.code, e.message, { details: e.details, cause: e, hint: 'bare integers are sent as numbers; if the method wants a string there, write it as s:VALUE (e.g. s:1001)' });
        }
        throw e;
      }
    }),
};
