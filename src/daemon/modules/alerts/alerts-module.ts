/**
 * The alerts module: every security and fraud event becomes at most one alert per (type, key)
 * and dedup window, delivered to webhooks, an exec hook and syslog, and kept in a ring for
 * `sipctl alerts recent`. Other modules call it through its API (contracts.ts AlertsApi):
 *
 *   ctx.api<AlertsApi>('alerts')?.emit('cost-limit', 'alice', { limit: 'cost/day', used: 1.0 });
 *
 * The kernel forwards its security events (flood ban, lockouts, scanner) through
 * fromSecurityEvent(), so modules that already log those need nothing more.
 *
 * RPC: alerts.test [message], alerts.recent [n], alerts.stats.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { isAbsolute } from 'node:path';
import { ConfigError } from '../../../core/errors.js';
import type { AlertsApi, SecurityEvent, StatsApi } from '../../kernel/contracts.js';
import { defineModule, rpcArgs, type ModuleContext, type ParamValues, type RpcParams } from '../../kernel/module.js';
import { RpcFault } from '../../kernel/rpc-fault.js';
import { ALERT_TYPES, AlertEngine, type Alert } from './alerts.js';
import { createExecSink, createSyslogSink, createWebhookSink, FACILITIES, type Sink } from './sinks.js';

export { ALERT_TYPES, type Alert };

const params = {
  webhook_url: { type: 'string', default: '', doc: 'comma-separated http(s) URLs each alert is POSTed to as JSON; empty = no webhook' },
  webhook_secret_file: { type: 'string', default: '', doc: 'file holding the HMAC-SHA256 key for X-Sipd-Signature (must not be readable by group or others); empty = unsigned (warned at start)' },
  webhook_timeout_ms: { type: 'integer', default: 5000, min: 100, max: 120_000, doc: 'time a webhook receiver has to answer one POST' },
  webhook_retries: { type: 'integer', default: 5, min: 0, max: 50, doc: 'retries of a failed POST (non-2xx or no answer), with back-off' },
  webhook_backoff_ms: { type: 'integer', default: 1000, min: 10, max: 600_000, doc: 'first retry delay; doubled each retry, at most 5 minutes' },
  exec_command: { type: 'string', default: '', doc: 'absolute path of a program run once per alert, the alert as one JSON line on stdin (no shell, no arguments); empty = none' },
  exec_timeout_ms: { type: 'integer', default: 10_000, min: 100, max: 600_000, doc: 'an exec hook running longer is killed' },
  syslog: { type: 'string', default: 'off', choices: ['off', 'local', 'udp'] as const, doc: 'RFC 5424 syslog: local = the unix datagram socket syslog_socket (journald/rsyslog), udp = syslog_host:syslog_port' },
  syslog_socket: { type: 'string', default: '/dev/log', doc: 'local syslog socket' },
  syslog_host: { type: 'string', default: '127.0.0.1', doc: 'syslog server for syslog=udp' },
  syslog_port: { type: 'integer', default: 514, min: 1, max: 65_535, doc: 'syslog server port for syslog=udp' },
  syslog_facility: { type: 'string', default: 'local0', choices: Object.keys(FACILITIES), doc: 'syslog facility' },
  queue_size: { type: 'integer', default: 1000, min: 1, max: 100_000, doc: 'alerts waiting per webhook / exec hook; beyond it the oldest is dropped (counted)' },
  dedup_sec: { type: 'integer', default: 300, min: 0, max: 86_400, doc: 'the same event type and key again within this window is counted, not alerted (a flood is one alert)' },
  max_per_minute: { type: 'integer', default: 60, min: 1, max: 100_000, doc: 'alerts per minute over every key; the rest are counted and dropped' },
  recent_size: { type: 'integer', default: 200, min: 1, max: 10_000, doc: 'alerts kept for alerts.recent' },
} as const;

type Params = ParamValues<typeof params>;

/**
 * Which kernel security events are alerts, and their key. Keyed by name, not by the
 * SecurityEvent union, so rule modules that add event names (13-A: blocklisted-source,
 * country-refused, ua-refused, time-rule) are alerts as soon as they are listed here.
 */
const FROM_SECURITY: Readonly<Record<string, (ev: SecurityEvent) => string>> = {
  'flood-ban': (ev) => ev.sourceIp,
  'auth-lockout': (ev) => `${ev.sourceIp}|${ev.user ?? ''}`,
  'spray-lockout': (ev) => ev.sourceIp,
  'scanner-dropped': (ev) => ev.sourceIp,
  'blocklisted-source': (ev) => ev.sourceIp,
  'country-refused': (ev) => ev.sourceIp,
  'ua-refused': (ev) => ev.sourceIp,
  'time-rule': (ev) => `${ev.user ?? ev.sourceIp}`,
};

/** The HMAC key: the file's content, trimmed; refused when others can read the file. */
export function readSecretFile(path: string): Buffer {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw new ConfigError('ALERT_SECRET_UNREADABLE', `alerts.webhook_secret_file: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (!st.isFile()) throw new ConfigError('ALERT_SECRET_UNREADABLE', `alerts.webhook_secret_file: ${path} is not a file`);
  if ((st.mode & 0o077) !== 0) throw new ConfigError('ALERT_SECRET_EXPOSED', `alerts.webhook_secret_file: ${path} is readable by group or others (mode ${(st.mode & 0o777).toString(8)})`, `chmod 600 ${path}`);
  const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'utf8');
  if (key.length < 16) throw new ConfigError('ALERT_SECRET_WEAK', `alerts.webhook_secret_file: ${path} holds fewer than 16 bytes`, 'use e.g. openssl rand -hex 32');
  return key;
}

function parseUrls(text: string): URL[] {
  const out: URL[] = [];
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    let u: URL;
    try {
      u = new URL(part);
    } catch {
      throw new ConfigError('MODULE_PARAM_INVALID', `alerts.webhook_url: ${JSON.stringify(part.slice(0, 80))} is not a URL`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError('MODULE_PARAM_INVALID', `alerts.webhook_url: ${u.protocol} is not http: or https:`);
    out.push(u);
  }
  return out;
}

export function createAlertsModule() {
  let ctx: ModuleContext<Params> | undefined;
  let sinks: Sink[] = [];
  /** sinks of configurations replaced by a reload, still draining; their counts stay visible */
  const retired: Sink[] = [];
  const engine = new AlertEngine(
    { dedupMs: params.dedup_sec.default * 1000, maxPerMinute: params.max_per_minute.default, recentSize: params.recent_size.default, host: hostname(), now: () => ctx?.now() ?? Date.now(), newId: randomUUID },
    (a) => deliver(a),
  );

  function deliver(a: Alert): void {
    ctx?.log.warn('alert', { type: a.type, key: a.key, severity: a.severity, id: a.id, suppressed: a.suppressed, summary: a.summary });
    ctx?.api<StatsApi>('stats')?.inc(`alerts:${a.type.replace(/-/g, '_')}`);
    if (sinks.length === 0) return;
    const body = JSON.stringify(a);
    for (const s of sinks) s.push(a, body);
  }

  async function build(c: ModuleContext<Params>): Promise<Sink[]> {
    const p = c.params;
    const log = { warn: (m: string, f?: Record<string, unknown>) => c.log.warn(m, f), debug: (m: string, f?: Record<string, unknown>) => c.log.debug(m, f) };
    const urls = parseUrls(p.webhook_url);
    const secret = p.webhook_secret_file !== '' ? readSecretFile(p.webhook_secret_file) : undefined;
    if (p.exec_command !== '' && !isAbsolute(p.exec_command)) throw new ConfigError('MODULE_PARAM_INVALID', 'alerts.exec_command: give an absolute path (no shell is used)');
    const out: Sink[] = [];
    for (const u of urls) {
      if (secret === undefined) c.log.warn('alert webhook without a signature: set alerts.webhook_secret_file', { url: `${u.protocol}//${u.host}` });
      out.push(createWebhookSink({ url: u.href, secret, timeoutMs: p.webhook_timeout_ms, retries: p.webhook_retries, backoffMs: p.webhook_backoff_ms, queueSize: p.queue_size, userAgent: 'sipd-alerts/1', now: c.now, log }));
    }
    if (p.exec_command !== '') out.push(createExecSink({ command: p.exec_command, timeoutMs: p.exec_timeout_ms, queueSize: p.queue_size, log }));
    if (p.syslog !== 'off') {
      try {
        out.push(await createSyslogSink({ mode: p.syslog as 'udp' | 'local', host: p.syslog_host, port: p.syslog_port, socketPath: p.syslog_socket, facility: FACILITIES[p.syslog_facility], queueSize: p.queue_size, log }));
      } catch (e) {
        throw new ConfigError('MODULE_PARAM_INVALID', `alerts.syslog=${p.syslog}: ${(e as Error).message.split('\n')[0]}`, p.syslog === 'local' ? 'install sipctl with its optional dependency unix-dgram, or use syslog=udp' : undefined);
      }
    }
    return out;
  }

  async function configure(c: ModuleContext<Params>): Promise<void> {
    const next = await build(c); // built first; a bad value keeps the old sinks (habit 8)
    ctx = c;
    engine.configure({ dedupMs: c.params.dedup_sec * 1000, maxPerMinute: c.params.max_per_minute, recentSize: c.params.recent_size });
    const old = sinks;
    sinks = next;
    for (const s of old) {
      retired.push(s);
      void s.close(c.params.webhook_timeout_ms);
    }
  }

  const api: AlertsApi & {
    recent(n: number): Alert[];
    stats(): { engine: { emitted: number; delivered: number; deduplicated: number; rateLimited: number; trackedKeys: number }; byType: Record<string, number>; deliveredByType: Record<string, number>; sinks: Array<{ name: string; pending: number; sent: number; failed: number; retried: number; dropped: number }> };
  } = {
    emit(type, key, details) {
      try {
        engine.emit(type, key, details);
      } catch (e) {
        ctx?.log.error('alert could not be emitted', { type, error: (e as Error).message });
      }
    },
    fromSecurityEvent(ev) {
      const key = Object.prototype.hasOwnProperty.call(FROM_SECURITY, ev.event) ? FROM_SECURITY[ev.event] : undefined;
      if (key === undefined) return;
      api.emit(ev.event, key(ev), { sourceIp: ev.sourceIp, method: ev.method, user: ev.user, detail: ev.detail });
    },
    recent: (n) => engine.recent(n),
    stats() {
      const c = engine.counters;
      return {
        engine: { emitted: c.emitted, delivered: c.delivered, deduplicated: c.deduplicated, rateLimited: c.rateLimited, trackedKeys: engine.trackedKeys() },
        byType: Object.fromEntries(c.byType),
        deliveredByType: Object.fromEntries(c.deliveredByType),
        sinks: [...sinks, ...retired].map((s) => ({ name: s.name, pending: s.pending(), ...s.counters })),
      };
    },
  };

  return defineModule({
    name: 'alerts',
    params,
    init: configure,
    reload: configure,
    async destroy() {
      await Promise.allSettled(sinks.map((s) => s.close(2000)));
      sinks = [];
    },
    rpc: {
      'alerts.test': {
        doc: 'Send a test alert through every configured sink: alerts.test [message]',
        handler(p: RpcParams) {
          const [message] = rpcArgs(p, ['message']);
          if (message !== undefined && typeof message !== 'string') throw new RpcFault(400, 'message must be a string');
          const key = randomUUID().slice(0, 8);
          const a = engine.emit('test', key, { detail: message ?? 'test alert from sipctl alerts test' }, { dedup: false });
          if (a === undefined) throw new RpcFault(429, 'alert rate limit reached (alerts.max_per_minute); try again in a minute');
          return { alert: a, sinks: sinks.map((s) => s.name) };
        },
      },
      'alerts.recent': {
        doc: 'The last alerts, newest first: alerts.recent [n=20]',
        handler(p: RpcParams) {
          const [nRaw] = rpcArgs(p, ['n']);
          const n = nRaw === undefined ? 20 : typeof nRaw === 'number' ? nRaw : typeof nRaw === 'string' && /^\d{1,6}$/.test(nRaw) ? Number(nRaw) : NaN;
          if (!Number.isSafeInteger(n) || n < 1) throw new RpcFault(400, 'n must be a positive integer');
          return { alerts: engine.recent(n).reverse() };
        },
      },
      'alerts.stats': {
        doc: 'Alert counters: emitted, delivered, deduplicated, rate-limited, by type, per sink',
        handler: () => api.stats(),
      },
      'alerts.types': {
        doc: 'The alert event types sipd emits, with their key',
        handler: () => Object.entries(ALERT_TYPES).map(([type, doc]) => ({ type, doc })),
      },
    },
    api,
  });
}

export type AlertsModuleApi = ReturnType<typeof createAlertsModule>['api'];
