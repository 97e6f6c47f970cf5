/**
 * The pipelimit module: calls per second, overall and per subscriber (Kamailio's pipelimit with
 * TAILDROP pipes, as the toll-fraud playbooks use it: pl_check("$fU", "TAILDROP", N)). A new call
 * over either limit is refused with 503 and a Retry-After (Kamailio's pl_drop).
 *
 * Pipes: `cps` for everything (limit `cps_total`), `cps:<user>` for each subscriber (limit
 * `cps_per_user`, or what pl.set_pipe set for that pipe). RPC with Kamailio's names and shapes:
 * pl.get_pipes ([{name, algorithm, limit, counter}]), pl.stats ([{name, load, counter}]),
 * pl.set_pipe <name> <algorithm> <limit>.
 *
 * In a cluster (cluster.url) the pipes are shared: checkShared() admits a call through the
 * cluster's pipes in Redis — one Lua script (modules/cluster pipeAdmit: a sliding window over
 * timer_interval, on Redis' clock), so the limit holds for all nodes together, not per node. One
 * round trip per call that meets a pipe; none when no limit applies. Redis away:
 * cluster.admission — closed answers 503, open falls back to this node's own pipes.
 */
import { ConfigError } from '../../../core/errors.js';
import type { ClusterApi, ReplySpec, StatsApi } from '../../kernel/contracts.js';
import { defineModule, type ParamValues, type RpcParams } from '../../kernel/module.js';
import { RpcFault } from '../../kernel/rpc-fault.js';
import { PipeTable } from './pipes.js';

export interface PipelimitApi {
  /**
   * A new call, by `user` (a subscriber; undefined for carrier or guest calls): undefined when it
   * may go on, else the 503 to answer.
   */
  check(user: string | undefined): ReplySpec | undefined;
  /**
   * check() across the nodes of a cluster (cluster.url): the pipes are shared through Redis. Without
   * a cluster, check() itself.
   */
  checkShared(user: string | undefined): Promise<ReplySpec | undefined>;
}

/** What the cluster module offers for shared pipes (modules/cluster, with cluster.url). */
export type SharedPipes = Pick<ClusterApi, 'enabled' | 'admission' | 'pipeAdmit'>;

const params = {
  cps_total: { type: 'integer', default: 0, min: 0, max: 1_000_000, doc: 'new calls per second through the proxy in all; 0 = no limit (pipe "cps")' },
  cps_per_user: { type: 'integer', default: 0, min: 0, max: 1_000_000, doc: 'new calls per second per subscriber; 0 = no limit (pipes "cps:<user>"; pl.set_pipe changes one)' },
  retry_after: { type: 'integer', default: 5, min: 0, max: 3600, doc: 'Retry-After seconds in the 503; 0 = no header' },
  timer_interval: { type: 'integer', default: 1, min: 1, max: 60, doc: 'seconds per counting interval (Kamailio timer_interval); the limit is per second either way' },
  reply_code: { type: 'integer', default: 503, min: 400, max: 699, doc: 'status of the refusal (Kamailio reply_code)' },
  reply_reason: { type: 'string', default: 'Server Unavailable', doc: 'reason phrase of the refusal (Kamailio reply_reason)' },
} as const;

const PIPE_NAME = /^[A-Za-z0-9_.:@+-]{1,128}$/;

function positional(p: RpcParams): unknown[] {
  if (p === undefined) return [];
  return Array.isArray(p) ? [...p] : Object.values(p);
}

export function createPipelimitModule() {
  const table = new PipeTable();
  let p: ParamValues<typeof params> | undefined;
  let now = () => Date.now();
  let timer: NodeJS.Timeout | undefined;
  let refused = 0;
  /** shared pipes (cluster): Lua round trips, refusals by the shared count, refusals while Redis was away */
  const shared = { checks: 0, refused: 0, refused_cluster_down: 0 };
  let getCluster: () => SharedPipes | undefined = () => undefined;
  let getStats: () => StatsApi | undefined = () => undefined;

  const configure = (next: ParamValues<typeof params>) => {
    if (!/^[\x20-\x7e]{1,64}$/.test(next.reply_reason)) throw new ConfigError('MODULE_PARAM_INVALID', 'pipelimit.reply_reason: printable text, at most 64 characters');
    p = next;
    table.setInterval(next.timer_interval * 1000);
    table.set('cps', next.cps_total, now());
  };

  const refusal = (): ReplySpec => {
    refused++;
    const c = p!;
    return { status: c.reply_code, reason: c.reply_reason, ...(c.retry_after > 0 ? { headers: [['Retry-After', String(c.retry_after)]] } : {}) };
  };

  const api: PipelimitApi = {
    check(user) {
      if (p === undefined) return undefined;
      const t = now();
      if (user !== undefined && !table.push(`cps:${user}`, p.cps_per_user, t)) return refusal();
      if (!table.push('cps', p.cps_total, t)) return refusal();
      return undefined;
    },
    async checkShared(user) {
      if (p === undefined) return undefined;
      const cl = getCluster();
      if (cl?.enabled !== true || cl.pipeAdmit === undefined) return api.check(user);
      const c = p;
      // the limits are this node's (configuration, pl.set_pipe): give every node the same ones
      const pipes: Array<{ name: string; limit: number }> = [];
      if (user !== undefined) pipes.push({ name: `cps:${user}`, limit: table.limitOf(`cps:${user}`, c.cps_per_user) });
      pipes.push({ name: 'cps', limit: table.limitOf('cps', c.cps_total) });
      const hit = pipes.filter((x) => x.limit > 0);
      if (hit.length === 0) return undefined; // no limit: no round trip
      shared.checks++;
      const r = await cl.pipeAdmit(hit.map((x) => ({ name: x.name, max: x.limit * c.timer_interval })), c.timer_interval * 1000);
      if (r === 'admitted') {
        const t = now();
        for (const x of pipes) table.count(x.name, x.name === 'cps' ? c.cps_total : c.cps_per_user, t);
        return undefined;
      }
      if (r === 'full') {
        shared.refused++;
        return refusal();
      }
      // Redis away: cluster.admission decides, as for the active-call limits.
      if (cl.admission === 'open') return api.check(user);
      shared.refused_cluster_down++;
      getStats()?.inc('pipelimit:refused_cluster_down');
      return { status: 503, reason: 'Service Unavailable', headers: [['Retry-After', '5']] };
    },
  };

  return defineModule({
    name: 'pipelimit',
    params,
    init(ctx) {
      now = ctx.now;
      getCluster = () => ctx.api<SharedPipes>('cluster');
      getStats = () => ctx.api<StatsApi>('stats');
      configure(ctx.params);
      timer = setInterval(() => table.sweep(now(), 60_000), 30_000);
      timer.unref();
    },
    reload(ctx) {
      configure(ctx.params);
    },
    destroy() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
    },
    rpc: {
      'pl.get_pipes': {
        doc: 'Print pipes info: <id> <algorithm> <limit> <counter>',
        handler: () => table.list(now()).map((x) => ({ name: x.name, algorithm: x.algorithm, limit: x.limit, counter: x.counter })),
      },
      'pl.stats': {
        doc: 'Print pipelimit statistics: <id> <load> <counter>',
        handler: () => table.list(now()).map((x) => ({ name: x.name, load: x.limit > 0 ? Math.round((100 * x.counter) / x.limit) : 0, counter: x.counter })),
      },
      'pl.set_pipe': {
        doc: 'Sets a pipe params: <pipe_id> <pipe_algorithm> <pipe_limit>',
        handler(params: RpcParams) {
          const [name, algorithm, limit] = positional(params);
          if (typeof name !== 'string' || !PIPE_NAME.test(name) || typeof algorithm !== 'string') throw new RpcFault(400, 'Bad parameters');
          if (algorithm.toUpperCase() !== 'TAILDROP') throw new RpcFault(400, 'Unknown algorithm');
          const n = typeof limit === 'number' ? limit : typeof limit === 'string' && /^\d{1,9}$/.test(limit) ? Number(limit) : NaN;
          if (!Number.isSafeInteger(n) || n < 0) throw new RpcFault(400, 'Bad limit');
          table.set(name, n, now());
          return null;
        },
      },
      'pipelimit.stats': {
        doc: 'sipd: calls refused by the pipes since start, the configured limits, and in a cluster the shared pipes: Redis round trips, refusals by the shared count, refusals while Redis was away',
        handler: () => {
          const cl = getCluster();
          return { refused, cps_total: p?.cps_total ?? 0, cps_per_user: p?.cps_per_user ?? 0, shared: cl?.enabled === true && cl.pipeAdmit !== undefined, shared_checks: shared.checks, shared_refused: shared.refused, refused_cluster_down: shared.refused_cluster_down };
        },
      },
    },
    api,
  });
}
