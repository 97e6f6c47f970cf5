/**
 * The prometheus module — sipd's xhttp_prom: `GET /metrics` on the JSON-RPC HTTP listener, in
 * the Prometheus text exposition format.
 *
 * - Every statistic of the stats module (stats.get_statistics all) under the name Kamailio's
 *   xhttp_prom gives it, `kamailio_<group>_<name>` (kamailio_core_rcv_requests,
 *   kamailio_usrloc_registered_users, kamailio_sl_200_replies, …), typed gauge as xhttp_prom
 *   types them (a statistic can be reset), so dashboards made for Kamailio work;
 *   kamailio_dialog_active_dialogs from the dialog module.
 * - sipd's own size gauges (stats group `sipd:`) as `sipd_<name>`, and its typed metrics `sipd_*`: bans, lockouts, security events and alerts by type, alert
 *   deliveries per sink, event-loop lag, memory.
 *
 * Optional bearer token (`token_file`, 0600): without it /metrics is open to whoever reaches the
 * RPC listener, which is loopback by default — like the JSON-RPC itself.
 */
import { timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { ConfigError } from '../../../core/errors.js';
import type { HtableApi } from '../../kernel/contracts.js';
import { defineModule, type ModuleContext, type ParamValues } from '../../kernel/module.js';
import type { AlertsModuleApi } from '../alerts/alerts-module.js';
import type { StatsRegistryApi } from '../stats/stats-module.js';
import { kamailioName, render, type Family } from './exposition.js';

const params = {
  path: { type: 'string', default: '/metrics', doc: 'HTTP path on the RPC HTTP listener(s); empty turns /metrics off' },
  token_file: { type: 'string', default: '', doc: 'file holding a bearer token scrapers must send (Authorization: Bearer …); must not be readable by group or others. Empty = no token' },
  ban_table: { type: 'string', default: 'ipban', doc: 'htable whose size is sipd_banned_sources' },
} as const;

type Params = ParamValues<typeof params>;

/** What the kernel knows and hands in at each scrape. */
export interface ScrapeExtras {
  securityEvents: ReadonlyMap<string, number>;
  uptimeSec: number;
}

export interface MetricsResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface PrometheusApi {
  /** A GET on the RPC HTTP listener: the response when `path` is /metrics, else undefined. */
  handle(path: string, authorization: string | undefined, extras: ScrapeExtras): MetricsResponse | undefined;
  /** The exposition text (no auth). */
  metrics(extras: ScrapeExtras): string;
}

function readToken(path: string): Buffer {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw new ConfigError('METRICS_TOKEN_UNREADABLE', `prometheus.token_file: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if ((st.mode & 0o077) !== 0) throw new ConfigError('METRICS_TOKEN_EXPOSED', `prometheus.token_file: ${path} is readable by group or others (mode ${(st.mode & 0o777).toString(8)})`, `chmod 600 ${path}`);
  const t = Buffer.from(readFileSync(path, 'utf8').trim(), 'utf8');
  if (t.length < 16) throw new ConfigError('METRICS_TOKEN_WEAK', `prometheus.token_file: ${path} holds fewer than 16 bytes`, 'use e.g. openssl rand -hex 32');
  return t;
}

export function createPrometheusModule() {
  let ctx: ModuleContext<Params> | undefined;
  let path: string = params.path.default;
  let token: Buffer | undefined;
  let lag: IntervalHistogram | undefined;

  function configure(c: ModuleContext<Params>): void {
    if (c.params.path !== '' && !/^\/[A-Za-z0-9._~/-]{0,100}$/.test(c.params.path)) throw new ConfigError('MODULE_PARAM_INVALID', 'prometheus.path: expected an absolute URL path such as /metrics');
    const t = c.params.token_file !== '' ? readToken(c.params.token_file) : undefined;
    ctx = c;
    path = c.params.path;
    token = t;
    if (lag === undefined) {
      lag = monitorEventLoopDelay({ resolution: 10 });
      lag.enable();
    }
  }

  function families(extras: ScrapeExtras): Family[] {
    const stats = ctx?.api<StatsRegistryApi>('stats');
    const out: Family[] = [];
    const all = stats?.all() ?? [];
    for (const [g, n, v] of all) {
      if (g === 'sipd') {
        // sipd's own size gauges are not Kamailio statistics: sipd_<name>; the *_kb ones are below in bytes
        if (!n.endsWith('_kb')) out.push({ name: kamailioName('', n, 'sipd').replace(/^sipd_+/, 'sipd_'), type: 'gauge', help: `sipd statistic sipd:${n}`, samples: [{ value: v }] });
        continue;
      }
      out.push({ name: kamailioName(g, n), type: 'gauge', help: `Kamailio statistic ${g}:${n}`, samples: [{ value: v }] });
    }
    const dialog = ctx?.api<{ active(): number }>('dialog');
    if (dialog !== undefined && !all.some(([g, n]) => g === 'dialog' && n === 'active_dialogs')) {
      out.push({ name: 'kamailio_dialog_active_dialogs', type: 'gauge', help: 'Kamailio statistic dialog:active_dialogs (calls in progress)', samples: [{ value: dialog.active() }] });
    }

    const stat = (name: string) => stats?.get(name) ?? 0;
    out.push({ name: 'sipd_uptime_seconds', type: 'gauge', help: 'Seconds since sipd started', samples: [{ value: extras.uptimeSec }] });
    out.push({ name: 'sipd_bans_total', type: 'counter', help: 'Sources banned by pike for flooding', samples: [{ value: stat('pike:bans') }] });
    const ht = ctx?.api<HtableApi>('htable');
    const banTable = ctx?.params.ban_table ?? 'ipban';
    if (ht !== undefined && ht.has(banTable)) out.push({ name: 'sipd_banned_sources', type: 'gauge', help: `Sources in the ${banTable} htable now`, samples: [{ value: ht.keys(banTable).length }] });
    out.push({ name: 'sipd_auth_lockouts_total', type: 'counter', help: 'Failed-authentication lockouts (user: one source and user; spray: one source, many users)', samples: [{ labels: { kind: 'user' }, value: stat('auth:lockouts') }, { labels: { kind: 'spray' }, value: stat('auth:spray_lockouts') }] });
    out.push({ name: 'sipd_auth_failures_total', type: 'counter', help: 'Failed digest authentications', samples: [{ value: stat('auth:failures') }] });
    out.push({ name: 'sipd_security_events_total', type: 'counter', help: 'Security events by type (before log rate limiting)', samples: [...extras.securityEvents].sort(([a], [b]) => a.localeCompare(b)).map(([event, value]) => ({ labels: { event }, value })) });

    const alerts = ctx?.api<AlertsModuleApi>('alerts');
    if (alerts !== undefined && typeof alerts.stats === 'function') {
      const s = alerts.stats();
      const typed = (m: Record<string, number>) => Object.entries(m).sort(([a], [b]) => a.localeCompare(b)).map(([type, value]) => ({ labels: { type }, value }));
      out.push({ name: 'sipd_alert_events_total', type: 'counter', help: 'Events handed to the alert module, by type (before dedup and rate limit)', samples: typed(s.byType) });
      out.push({ name: 'sipd_alerts_total', type: 'counter', help: 'Alerts raised, by type (after dedup and rate limit)', samples: typed(s.deliveredByType) });
      out.push({ name: 'sipd_alerts_deduplicated_total', type: 'counter', help: 'Events held back because the same type and key alerted within the dedup window', samples: [{ value: s.engine.deduplicated }] });
      out.push({ name: 'sipd_alerts_rate_limited_total', type: 'counter', help: 'Alerts dropped by alerts.max_per_minute', samples: [{ value: s.engine.rateLimited }] });
      const sinkSamples = s.sinks.flatMap((k) => (['sent', 'failed', 'retried', 'dropped'] as const).map((result) => ({ labels: { sink: k.name, result }, value: k[result] })));
      out.push({ name: 'sipd_alert_deliveries_total', type: 'counter', help: 'Alert deliveries per sink: sent, failed (given up), retried, dropped (queue full)', samples: sinkSamples });
      out.push({ name: 'sipd_alert_queue_length', type: 'gauge', help: 'Alerts waiting per sink', samples: s.sinks.map((k) => ({ labels: { sink: k.name }, value: k.pending })) });
    }

    if (lag !== undefined) {
      const sec = (ns: number) => (Number.isFinite(ns) ? ns / 1e9 : 0);
      out.push({ name: 'sipd_event_loop_lag_seconds', type: 'gauge', help: 'Event-loop delay since the previous scrape: 50th and 99th percentile and maximum', samples: [
        { labels: { stat: 'p50' }, value: sec(lag.percentile(50)) },
        { labels: { stat: 'p99' }, value: sec(lag.percentile(99)) },
        { labels: { stat: 'max' }, value: sec(lag.max) },
      ] });
      lag.reset();
    }
    const mem = process.memoryUsage();
    out.push({ name: 'sipd_heap_used_bytes', type: 'gauge', help: 'V8 heap in use', samples: [{ value: mem.heapUsed }] });
    out.push({ name: 'sipd_resident_memory_bytes', type: 'gauge', help: 'Resident set size', samples: [{ value: mem.rss }] });
    return out;
  }

  const api: PrometheusApi = {
    metrics: (extras) => render(families(extras)),
    handle(p, authorization, extras): MetricsResponse | undefined {
      if (path === '' || p !== path) return undefined;
      if (token !== undefined) {
        const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
        const given = m ? Buffer.from(m[1], 'utf8') : Buffer.alloc(0);
        if (given.length !== token.length || !timingSafeEqual(given, token)) {
          return { status: 401, headers: { 'Content-Type': 'text/plain; charset=utf-8', 'WWW-Authenticate': 'Bearer realm="sipd metrics"' }, body: 'Unauthorized\n' };
        }
      }
      return { status: 200, headers: { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' }, body: api.metrics(extras) };
    },
  };

  return defineModule({
    name: 'prometheus',
    params,
    init: configure,
    reload: configure,
    destroy() {
      lag?.disable();
      lag = undefined;
    },
    rpc: {},
    api,
  });
}
