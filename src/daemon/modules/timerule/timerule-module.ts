/**
 * The timerule module: calls to a destination class allowed only inside time windows (Kamailio
 * tmrec recurrences), optionally per subscriber group — the playbook's "rules based on time
 * frames" (e.g. no international calls at night or at weekends). Outside: 403 "Outside allowed
 * hours". Rules and their logic: src/core/timerule/ (shared with `sipctl timerule check`).
 *
 * Tables: sipd_timerule (the rules) and Kamailio's grp (group membership, `sipctl acl`), read at
 * start and on timerule.reload. The clock is the kernel's (ModuleContext.now), so tests move it.
 *
 * RPC: timerule.reload, timerule.list, timerule.check number [user], timerule.stats.
 */
import { ConfigError } from '../../../core/errors.js';
import { checkTimeRules, compileRule, OUTSIDE_HOURS, type CompiledRule, type TimeCheck } from '../../../core/timerule/timerules.js';
import type { CoreApi, ReplySpec, StatsApi } from '../../kernel/contracts.js';
import { defineModule, rpcArgs, type ModuleContext, type ParamValues, type RpcParams } from '../../kernel/module.js';
import { assertTableName, type ModuleDbDependency } from '../../kernel/module-db.js';
import { TableCopy } from '../../kernel/table-copy.js';
import { RpcFault } from '../../kernel/rpc-fault.js';
import { groupsOfUsers, rowsOfOptionalTable } from '../../kernel/optional-table.js';

export interface TimeruleApi {
  /** A call of `user` to `dialled` now: undefined when allowed, else the refusal. */
  check(user: string, dialled: string, sourceIp?: string): ReplySpec | undefined;
  reload(): Promise<void>;
}

export interface TimeruleDeps {
  db?: ModuleDbDependency;
}

const params = {
  db_table: { type: 'string', default: 'sipd_timerule', doc: 'rules table (class, grp, timerec, tz, description)' },
  group_table: { type: 'string', default: 'grp', doc: 'group membership table (Kamailio group module: username, domain, grp)' },
  reload_interval: { type: 'integer', default: 0, min: 0, max: 86_400, doc: 'seconds between automatic reloads; 0 = only at start and on timerule.reload' },
} as const;

type Params = ParamValues<typeof params>;

export function createTimeruleModule(deps: TimeruleDeps = {}) {
  let ctx: ModuleContext<Params> | undefined;
  let rules: CompiledRule[] = [];
  let groups = new Map<string, Set<string>>();
  const counters = { checked: 0, refused: 0 };

  async function load(): Promise<void> {
    const db = copy.db;
    if (db === undefined || ctx === undefined) throw new ConfigError('TIMERULE_NO_DB', 'timerule: no database configured');
    const rows = await rowsOfOptionalTable<Record<string, unknown>>(db, `SELECT id, class, grp, timerec, tz, description FROM ${ctx.params.db_table} ORDER BY id`, ctx.params.db_table, ctx.log);
    const next: CompiledRule[] = [];
    let skipped = 0;
    for (const r of rows) {
      try {
        next.push(compileRule({ id: Number(r.id), class: String(r.class), grp: String(r.grp ?? ''), timerec: String(r.timerec), tz: String(r.tz ?? 'UTC'), description: String(r.description ?? '') }));
      } catch (e) {
        skipped++;
        ctx.log.warn('timerule: rule skipped', { id: Number(r.id), error: e instanceof Error ? e.message : String(e) });
      }
    }
    const g = next.some((r) => r.grp !== '') ? await groupsOfUsers(db, ctx.params.group_table, 'timerule.group_table', ctx.log) : new Map<string, Set<string>>();
    rules = next;
    groups = g;
    ctx.log.info('timerule: rules loaded', { rules: next.length, skipped });
  }
  const copy = new TableCopy('timerule', 'rules', load);

  function decide(user: string, dialled: string): TimeCheck {
    return checkTimeRules(rules, groups.get(user) ?? new Set(), dialled, ctx?.now() ?? Date.now());
  }

  const api: TimeruleApi = {
    check(user, dialled, sourceIp) {
      if (rules.length === 0) return undefined;
      counters.checked++;
      const c = decide(user, dialled);
      if (c.allowed) return undefined;
      counters.refused++;
      ctx?.api<StatsApi>('stats')?.inc('timerule:refused');
      ctx?.api<CoreApi>('core')?.securityEvent({ event: 'time-rule', sourceIp: sourceIp ?? '', method: 'INVITE', user, detail: `rules ${c.applicable.join(',')}: outside the allowed hours for ${dialled.slice(0, 32)}` });
      return { ...OUTSIDE_HOURS };
    },
    reload: () => copy.reload(),
  };

  return defineModule({
    name: 'timerule',
    params,
    async init(c) {
      ctx = c;
      assertTableName('timerule.db_table', c.params.db_table);
      assertTableName('timerule.group_table', c.params.group_table);
      if (deps.db === undefined) throw new ConfigError('MODULE_DEPENDENCY', 'timerule needs a database with the sipd_timerule table');
      await copy.open(deps.db, c.params.reload_interval, c.log);
    },
    async destroy() {
      await copy.close();
    },
    rpc: {
      'timerule.reload': copy.reloadMethod('Reload the time rules and group membership from the database'),
      'timerule.list': {
        doc: 'The time rules in memory',
        handler: () => rules.map(({ rec: _rec, ...r }) => r),
      },
      'timerule.check': {
        doc: 'Would a call to number (by user) be allowed now: timerule.check number [user]',
        handler(p: RpcParams) {
          const [number, user] = rpcArgs(p, ['number', 'user']);
          if (typeof number !== 'string' || (user !== undefined && typeof user !== 'string')) throw new RpcFault(400, 'Invalid Parameters');
          return decide(user ?? '', number);
        },
      },
      'timerule.stats': {
        doc: 'Rules loaded, calls checked and refused since start',
        handler: () => ({ rules: rules.length, ...counters }),
      },
    },
    api,
  });
}
