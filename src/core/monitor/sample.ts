/**
 * One look at one proxy for `sipctl monitor`: the RPC calls kamctl monitor / kamcli moni make,
 * the same against Kamailio 5.6 and sipd. Every call is optional: a method the proxy does not
 * have (no dialog module, no pike, sipd has no core.shmmem) leaves its field undefined and names
 * the method in `missing`; only an unreachable proxy makes the whole sample fail.
 */
import { isMethodNotFound } from '../proxy/remote.js';
import { isRpcError } from '../rpc/rpc-error.js';
import type { RpcClient } from '../rpc/client.js';

/** The raw material of one sample; turning it into rates and figures is model.ts (pure). */
export interface RawSample {
  /** ms since the epoch when the sample was taken (local clock) */
  at: number;
  version?: string;
  uptime?: number;
  /** "group:name" → value, from stats.get_statistics all */
  stats?: Map<string, number>;
  /** htable.stats: table name → number of items */
  htableSizes?: Map<string, number>;
  /** keys of the ban tables, when small enough to dump every interval */
  banKeys?: Map<string, string[]>;
  /** pike.top ALL */
  pike?: Array<{ ip: string; hits: number; status: string }>;
  /** dlg.stats_active: all */
  activeDialogs?: number;
  /** core.shmmem */
  shm?: { used: number; total: number };
  /** pkg.stats summed over the processes */
  pkg?: { used: number; total: number; processes: number };
  /** RPC methods that do not exist on this proxy (or failed) */
  missing: string[];
}

export const BAN_TABLES = ['ipban', 'userban'] as const;
/** A ban table bigger than this is only counted, not dumped every interval. */
export const BAN_DUMP_LIMIT = 1000;

/** "core:rcv_requests = 12" → ["core:rcv_requests", 12]. Lines that are not "name = number" are skipped. */
export function parseStatLines(lines: unknown): Map<string, number> {
  const out = new Map<string, number>();
  if (!Array.isArray(lines)) return out;
  for (const l of lines) {
    const m = /^\s*([^=\s]+)\s*=\s*(-?\d+(?:\.\d+)?)\s*$/.exec(String(l));
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/**
 * Take one sample. Calls go one after another over the node's one client (Kamailio's jsonrpcs
 * answers one request per connection at a time anyway). Throws only when the proxy cannot be
 * reached at all (core.uptime fails with anything but a remote error).
 */
export async function sampleNode(c: RpcClient, opts: { dumpBans?: boolean } = {}): Promise<RawSample> {
  const s: RawSample = { at: Date.now(), missing: [] };
  const call = async <T>(method: string, params?: unknown[]): Promise<T | undefined> => {
    try {
      return await c.call<T>(method, params);
    } catch (e) {
      if (isRpcError(e) && e.category === 'remote') {
        s.missing.push(isMethodNotFound(e) ? method : `${method} (${e.message})`);
        return undefined;
      }
      throw e;
    }
  };
  const up = await call<{ uptime?: number }>('core.uptime');
  s.uptime = up && Number.isFinite(Number(up.uptime)) ? Number(up.uptime) : undefined;
  const v = await call<string>('core.version');
  s.version = v === undefined ? undefined : String(v).trim();
  const st = await call<string[]>('stats.get_statistics', ['all']);
  if (st !== undefined) s.stats = parseStatLines(st);
  const hs = await call<Array<{ name: string; all: number }>>('htable.stats');
  if (Array.isArray(hs)) s.htableSizes = new Map(hs.map((h) => [String(h.name), Number(h.all) || 0]));
  if (opts.dumpBans !== false && s.htableSizes) {
    s.banKeys = new Map();
    for (const t of BAN_TABLES) {
      const n = s.htableSizes.get(t);
      if (n === undefined || n > BAN_DUMP_LIMIT) continue;
      if (n === 0) {
        s.banKeys.set(t, []);
        continue;
      }
      const d = await call<Array<{ slot?: Array<{ name: string }> }>>('htable.dump', [t]);
      if (Array.isArray(d)) s.banKeys.set(t, d.flatMap((e) => (e?.slot ?? []).map((x) => String(x.name))));
    }
  }
  const pk = await call<{ list?: Array<Record<string, unknown>> }>('pike.top', ['ALL']);
  if (pk !== undefined) {
    s.pike = (Array.isArray(pk?.list) ? pk.list : []).map((r) => ({
      ip: String(r.ip_addr ?? ''),
      hits: (Number(r.leaf_hits_prev) || 0) + (Number(r.leaf_hits_curr) || 0),
      status: String(r.status ?? ''),
    }));
  }
  // Active calls: the dialog module's statistic when stats has it, else dlg.stats_active.
  if (s.stats?.get('dialog:active_dialogs') === undefined) {
    const dl = await call<{ all?: number }>('dlg.stats_active');
    if (dl !== undefined && Number.isFinite(Number(dl.all))) s.activeDialogs = Number(dl.all);
  }
  // Memory: Kamailio's shared and private memory; sipd has neither (its RSS is a statistic).
  if (s.stats?.get('sipd:rss_kb') === undefined) {
    const shm = await call<{ real_used?: number; used?: number; total?: number }>('core.shmmem');
    if (shm !== undefined) s.shm = { used: Number(shm.real_used ?? shm.used) || 0, total: Number(shm.total) || 0 };
    const pkg = await call<Array<{ real_used?: number; used?: number; total_size?: number }>>('pkg.stats');
    if (Array.isArray(pkg)) {
      s.pkg = {
        used: pkg.reduce((a, p) => a + (Number(p.real_used ?? p.used) || 0), 0),
        total: pkg.reduce((a, p) => a + (Number(p.total_size) || 0), 0),
        processes: pkg.length,
      };
    }
  }
  return s;
}
