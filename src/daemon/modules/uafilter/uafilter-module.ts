/**
 * The uafilter module (issue 13 rule 2): a User-Agent allow-list per subscriber group, the
 * alternative to the scanner deny-list. A REGISTER or INVITE of an authenticated subscriber in a
 * group with allow patterns ('' = everyone) must carry a User-Agent matching one of them, else
 * 403 "User-Agent not allowed" and a `ua-refused` security event. Rules and their logic:
 * src/core/uafilter/ (shared with `sipctl uafilter`).
 *
 * Tables: sipd_ua_allow (the patterns) and Kamailio's grp (group membership, `sipctl acl`), read
 * at start and on uafilter.reload. Invalid patterns are skipped with a warning.
 *
 * RPC: uafilter.reload, uafilter.list, uafilter.check ua [user], uafilter.stats.
 */
import { ConfigError } from '../../../core/errors.js';
import { checkUserAgent, compileUaRule, UA_NOT_ALLOWED, type CompiledUaRule, type UaCheck } from '../../../core/uafilter/uafilter.js';
import type { CoreApi, ReplySpec, StatsApi } from '../../kernel/contracts.js';
import { defineModule, rpcArgs, type ModuleContext, type ParamValues, type RpcParams } from '../../kernel/module.js';
import { assertTableName, type ModuleDbDependency } from '../../kernel/module-db.js';
import { TableCopy } from '../../kernel/table-copy.js';
import { RpcFault } from '../../kernel/rpc-fault.js';
import { groupsOfUsers, rowsOfOptionalTable } from '../../kernel/optional-table.js';

export interface UafilterApi {
  /** A request of `user` with User-Agent `ua`: undefined when allowed, else the refusal. */
  check(user: string, ua: string, method: string, sourceIp?: string): ReplySpec | undefined;
  reload(): Promise<void>;
}

export interface UafilterDeps {
  db?: ModuleDbDependency;
}

const params = {
  db_table: { type: 'string', default: 'sipd_ua_allow', doc: 'allow-list table (grp, pattern, description)' },
  group_table: { type: 'string', default: 'grp', doc: 'group membership table (Kamailio group module: username, domain, grp)' },
  reload_interval: { type: 'integer', default: 0, min: 0, max: 86_400, doc: 'seconds between automatic reloads; 0 = only at start and on uafilter.reload' },
} as const;

type Params = ParamValues<typeof params>;

export function createUafilterModule(deps: UafilterDeps = {}) {
  let ctx: ModuleContext<Params> | undefined;
  let rules: CompiledUaRule[] = [];
  let groups = new Map<string, Set<string>>();
  const counters = { checked: 0, refused: 0 };

  async function load(): Promise<void> {
    const db = copy.db;
    if (db === undefined || ctx === undefined) throw new ConfigError('UAFILTER_NO_DB', 'uafilter: no database configured');
    const rows = await rowsOfOptionalTable<Record<string, unknown>>(db, `SELECT id, grp, pattern, description FROM ${ctx.params.db_table} ORDER BY id`, ctx.params.db_table, ctx.log);
    const next: CompiledUaRule[] = [];
    let skipped = 0;
    for (const r of rows) {
      try {
        next.push(compileUaRule({ id: Number(r.id), grp: String(r.grp ?? ''), pattern: String(r.pattern), description: String(r.description ?? '') }));
      } catch (e) {
        skipped++;
        ctx.log.warn('uafilter: pattern skipped', { id: Number(r.id), error: e instanceof Error ? e.message : String(e) });
      }
    }
    const g = next.some((r) => r.grp !== '') ? await groupsOfUsers(db, ctx.params.group_table, 'uafilter.group_table', ctx.log) : new Map<string, Set<string>>();
    rules = next;
    groups = g;
    ctx.log.info('uafilter: rules loaded', { rules: next.length, skipped });
  }
  const copy = new TableCopy('uafilter', 'rules', load);

  function decide(user: string, ua: string): UaCheck {
    return checkUserAgent(rules, groups.get(user) ?? new Set(), ua);
  }

  const api: UafilterApi = {
    check(user, ua, method, sourceIp) {
      if (rules.length === 0) return undefined;
      counters.checked++;
      const c = decide(user, ua);
      if (c.allowed) return undefined;
      counters.refused++;
      ctx?.api<StatsApi>('stats')?.inc('uafilter:refused');
      ctx?.api<CoreApi>('core')?.securityEvent({ event: 'ua-refused', sourceIp: sourceIp ?? '', method, user, detail: `rules ${c.applicable.join(',')}: User-Agent "${ua.slice(0, 64)}" not allowed` });
      return { ...UA_NOT_ALLOWED };
    },
    reload: () => copy.reload(),
  };

  return defineModule({
    name: 'uafilter',
    params,
    async init(c) {
      ctx = c;
      assertTableName('uafilter.db_table', c.params.db_table);
      assertTableName('uafilter.group_table', c.params.group_table);
      if (deps.db === undefined) throw new ConfigError('MODULE_DEPENDENCY', 'uafilter needs a database with the sipd_ua_allow table');
      await copy.open(deps.db, c.params.reload_interval, c.log);
    },
    async destroy() {
      await copy.close();
    },
    rpc: {
      'uafilter.reload': copy.reloadMethod('Reload the User-Agent allow-list and group membership from the database'),
      'uafilter.list': {
        doc: 'The User-Agent allow patterns in memory',
        handler: () => rules.map(({ re: _re, ...r }) => r),
      },
      'uafilter.check': {
        doc: 'Would this User-Agent be allowed (for user): uafilter.check ua [user]',
        handler(p: RpcParams) {
          const [ua, user] = rpcArgs(p, ['ua', 'user']);
          if (typeof ua !== 'string' || (user !== undefined && typeof user !== 'string')) throw new RpcFault(400, 'Invalid Parameters');
          return decide(user ?? '', ua);
        },
      },
      'uafilter.stats': {
        doc: 'Rules loaded, requests checked and refused since start',
        handler: () => ({ rules: rules.length, ...counters }),
      },
    },
    api,
  });
}
