/**
 * The blocklist module: addresses and networks (IPv4, IPv6, CIDR) whose traffic sipd drops
 * before parsing — like a pike ban, but kept in a table by the operator, with a reason and an
 * optional expiry (`sipctl blocklist add|rm|show|import`). Nothing is sent back to a blocklisted
 * source, and a TCP/TLS connection from it is refused at accept.
 *
 * Table (created by `sipctl db init`): sipd_blocklist (network, reason, expires, created);
 * expires is seconds since the epoch, 0 = never. Kamailio has no table with a reason and an
 * expiry (secfilter's holds only action/type/data), hence sipd's own.
 *
 * Lookups are one Map lookup per distinct mask length (kernel/cidr-map.ts), so a list imported
 * from a public VoIP blocklist with thousands of networks costs no more than a short one.
 *
 * RPC: blocklist.reload, blocklist.dump, blocklist.match ip, blocklist.stats.
 */
import { ConfigError } from '../../../core/errors.js';
import type { CoreApi, StatsApi } from '../../kernel/contracts.js';
import { defineModule, rpcArgs, type ModuleContext, type ParamValues, type RpcParams } from '../../kernel/module.js';
import { assertTableName, type ModuleDbDependency } from '../../kernel/module-db.js';
import { TableCopy } from '../../kernel/table-copy.js';
import { RpcFault } from '../../kernel/rpc-fault.js';
import { CidrMap, parseCidr } from '../../kernel/cidr-map.js';
import { parseIp } from '../permissions/ip.js';
import { rowsOfOptionalTable } from '../../kernel/optional-table.js';

export interface BlocklistEntry {
  network: string;
  reason: string;
  /** seconds since the epoch; 0 = never */
  expires: number;
}

export interface BlocklistApi {
  /** the entry blocking `ip` now (longest match, not expired), if any */
  blocked(ip: string): BlocklistEntry | undefined;
  reload(): Promise<void>;
}

export interface BlocklistDeps {
  db?: ModuleDbDependency;
}

const params = {
  db_table: { type: 'string', default: 'sipd_blocklist', doc: 'table with network, reason, expires columns' },
  reload_interval: { type: 'integer', default: 0, min: 0, max: 86_400, doc: 'seconds between automatic reloads; 0 = only at start and on blocklist.reload' },
} as const;

type Params = ParamValues<typeof params>;

export function createBlocklistModule(deps: BlocklistDeps = {}) {
  let ctx: ModuleContext<Params> | undefined;
  let map = new CidrMap<BlocklistEntry>();
  let entries: BlocklistEntry[] = [];
  let dropped = 0;

  async function load(): Promise<void> {
    const db = copy.db;
    if (db === undefined || ctx === undefined) throw new ConfigError('BLOCKLIST_NO_DB', 'blocklist: no database configured');
    const rows = await rowsOfOptionalTable<{ network: string; reason: string; expires: number | string }>(db, `SELECT network, reason, expires FROM ${ctx.params.db_table}`, ctx.params.db_table, ctx.log);
    const next = new CidrMap<BlocklistEntry>();
    const list: BlocklistEntry[] = [];
    let skipped = 0;
    for (const r of rows) {
      const net = parseCidr(String(r.network ?? ''));
      if (net === undefined) {
        skipped++;
        continue;
      }
      const e = { network: String(r.network), reason: String(r.reason ?? ''), expires: Number(r.expires ?? 0) || 0 };
      next.add(net.ip, net.mask, e);
      list.push(e);
    }
    map = next;
    entries = list;
    ctx.log.info('blocklist: loaded', { entries: next.size, skipped });
  }
  const copy = new TableCopy('blocklist', 'list', load);

  const api: BlocklistApi = {
    blocked(ip) {
      if (map.size === 0) return undefined;
      const hit = map.lookup(ip);
      if (hit === undefined) return undefined;
      const e = hit.value;
      if (e.expires !== 0 && e.expires * 1000 <= (ctx?.now() ?? Date.now())) return undefined;
      dropped++;
      ctx?.api<StatsApi>('stats')?.inc('blocklist:dropped');
      ctx?.api<CoreApi>('core')?.securityEvent({ event: 'blocklisted-source', sourceIp: ip, detail: `${e.network}: ${e.reason}`.slice(0, 128) });
      return e;
    },
    reload: () => copy.reload(),
  };

  return defineModule({
    name: 'blocklist',
    params,
    async init(c) {
      ctx = c;
      assertTableName('blocklist.db_table', c.params.db_table);
      if (deps.db === undefined) throw new ConfigError('MODULE_DEPENDENCY', 'blocklist needs a database with the sipd_blocklist table');
      await copy.open(deps.db, c.params.reload_interval, c.log);
    },
    async destroy() {
      await copy.close();
    },
    rpc: {
      'blocklist.reload': copy.reloadMethod('Reload the IP blocklist from the database'),
      'blocklist.dump': {
        doc: 'The blocklist in memory: [{network, reason, expires}]',
        handler: () => entries,
      },
      'blocklist.match': {
        doc: 'The entry blocking an address now, if any: blocklist.match ip (404 when none)',
        handler(p: RpcParams) {
          const [ip] = rpcArgs(p, ['ip']);
          if (typeof ip !== 'string' || parseIp(ip) === undefined) throw new RpcFault(400, 'Invalid IP address');
          const hit = map.lookup(ip);
          const now = ctx?.now() ?? Date.now();
          if (hit === undefined || (hit.value.expires !== 0 && hit.value.expires * 1000 <= now)) throw new RpcFault(404, 'Not blocked');
          return hit.value;
        },
      },
      'blocklist.stats': {
        doc: 'Entries loaded and messages dropped since start',
        handler: () => ({ entries: map.size, dropped }),
      },
    },
    api,
  });
}
