/**
 * The mtree module: blocked destination prefixes (Kamailio's mtree / the "pbblock" pattern of
 * the toll-fraud playbooks). The `mtree` table (Kamailio schema v1: tprefix → tvalue) is loaded
 * into a prefix tree named `tree_name` ("blocked"); a dialled number whose longest matching
 * prefix is in it is refused with 403 "Destination blocked".
 *
 * RPC, with Kamailio's names and shapes: mtree.reload (rebuild from the table, swap in; a failed
 * load keeps the old tree and answers 500 "Mtree Reload Failed"), mtree.list [tname]
 * ([{tname, tprefix, tvalue: [value]}]), mtree.match tname number mode (the longest match as
 * {tname, tprefix, tvalue}; 404 "Prefix not found"), mtree.summary.
 */
import { ConfigError } from '../../../core/errors.js';
import { defineModule, rpcArgs, type Logger, type RpcParams } from '../../kernel/module.js';
import { RpcFault } from '../../kernel/rpc-fault.js';
import { assertTableName, type ModuleDbDependency } from '../../kernel/module-db.js';
import { TableCopy } from '../../kernel/table-copy.js';
import { PREFIX_CHARS, PrefixTree, type PrefixMatch } from './prefix-tree.js';

export interface MtreeApi {
  /** the longest blocked prefix of `number`, if any */
  blocked(number: string): PrefixMatch | undefined;
  reload(): Promise<void>;
}

export interface MtreeDeps {
  /** the database holding the table; a function is called at init and its result closed at destroy */
  db?: ModuleDbDependency;
}

const params = {
  db_table: { type: 'string', default: 'mtree', doc: 'table with tprefix, tvalue columns (Kamailio mtree schema v1)' },
  tree_name: { type: 'string', default: 'blocked', doc: 'the tree name shown by mtree.list / matched by mtree.match' },
  reload_interval: { type: 'integer', default: 0, min: 0, max: 86_400, doc: 'seconds between automatic reloads; 0 = only at start and on mtree.reload' },
} as const;

export function createMtreeModule(deps: MtreeDeps = {}) {
  let tree = new PrefixTree();
  let table: string = params.db_table.default;
  let name: string = params.tree_name.default;
  let log: Logger | undefined;
  let reloads = 0;
  let reloadTime = 0;
  let now = () => Date.now();

  async function load(): Promise<void> {
    const db = copy.db;
    if (db === undefined) throw new ConfigError('MTREE_NO_DB', 'mtree: no database configured');
    const rows = await db.query<{ tprefix: string; tvalue: string }>(`SELECT tprefix, tvalue FROM ${table}`);
    const good: Array<{ tprefix: string; tvalue: string }> = [];
    let skipped = 0;
    for (const r of rows) {
      const p = String(r.tprefix ?? '');
      if (!PREFIX_CHARS.test(p)) {
        skipped++;
        continue;
      }
      good.push({ tprefix: p, tvalue: String(r.tvalue ?? '') });
    }
    tree = new PrefixTree(good);
    reloads++;
    reloadTime = Math.floor(now() / 1000);
    log?.info('mtree: blocked prefixes loaded', { tree: name, prefixes: tree.size, skipped });
  }
  const copy = new TableCopy('mtree', 'tree', load);

  const api: MtreeApi = {
    blocked: (number) => tree.match(number),
    reload: () => copy.reload(),
  };

  const wantTree = (tname: unknown) => {
    if (tname !== undefined && tname !== '.' && (typeof tname !== 'string' || !name.startsWith(tname))) throw new RpcFault(404, 'Tree not found');
  };

  return defineModule({
    name: 'mtree',
    params,
    async init(ctx) {
      log = ctx.log;
      now = ctx.now;
      assertTableName('mtree.db_table', ctx.params.db_table);
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(ctx.params.tree_name)) throw new ConfigError('MODULE_PARAM_INVALID', 'mtree.tree_name: letters, digits, "_", "-", "." only');
      table = ctx.params.db_table;
      name = ctx.params.tree_name;
      if (deps.db === undefined) throw new ConfigError('MODULE_DEPENDENCY', 'mtree needs a database with the mtree table');
      await copy.open(deps.db, ctx.params.reload_interval, ctx.log);
    },
    async destroy() {
      await copy.close();
    },
    rpc: {
      'mtree.reload': copy.reloadMethod('Reload mtrees from database to memory', { fault: 'Mtree Reload Failed', ok: null }),
      'mtree.list': {
        doc: 'List the content of one or all trees: mtree.list [tname]',
        handler(p: RpcParams) {
          const [tname] = rpcArgs(p);
          wantTree(tname);
          return tree.entries().map((e) => ({ tname: name, tprefix: e.prefix, tvalue: [e.value] }));
        },
      },
      'mtree.match': {
        doc: 'Match prefix value against mtree: mtree.match tname number mode (mode 0)',
        handler(p: RpcParams) {
          const [tname, number, mode] = rpcArgs(p);
          if (typeof tname !== 'string' || (typeof number !== 'string' && typeof number !== 'number') || mode === undefined) throw new RpcFault(500, 'Invalid Parameters');
          if (Number(mode) !== 0 && Number(mode) !== 2) throw new RpcFault(500, "Invalid parameter 'mode'");
          if (tname !== name) throw new RpcFault(404, 'Tree not found');
          const m = tree.match(String(number));
          if (m === undefined) throw new RpcFault(404, 'Prefix not found');
          return { tname: name, tprefix: m.prefix, tvalue: m.value };
        },
      },
      'mtree.summary': {
        doc: 'Print summary of loaded mtree tables',
        handler(p: RpcParams) {
          const [tname] = rpcArgs(p);
          wantTree(tname);
          return [{ table: name, item: { ttype: 0, memsize: tree.nodeCount * 64, nrnodes: tree.nodeCount, nritems: tree.size, reload_count: reloads, reload_time: reloadTime } }];
        },
      },
    },
    api,
  });
}
