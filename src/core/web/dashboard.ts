/**
 * The dashboard's data: the monitor's snapshot (src/core/monitor: rates, registrations, calls per
 * node), the newest ban keys with their expiry, and the proxies' recent alerts. One Monitor for the
 * whole server, sampling every interval while someone listens on /api/events; GET /api/dashboard
 * takes a sample when the last one is older than the interval.
 */
import { Monitor } from '../monitor/monitor.js';
import type { MonitorSnapshot, NodeSnapshot } from '../monitor/model.js';
import { BAN_TABLES } from '../monitor/sample.js';
import { getItem } from '../proxy/htable.js';
import { isMethodNotFound } from '../proxy/remote.js';
import { recentAlerts, type AlertDocument } from '../alerts/alerts.js';
import type { Session } from '../session.js';

export interface DashboardBan {
  table: (typeof BAN_TABLES)[number];
  key: string;
  /** "NEVER" or the proxy's local time; null when the key is gone */
  expires: string | null;
  node: string;
}

export interface DashboardDoc {
  time: string;
  intervalSec: number;
  nodes: NodeSnapshot[];
  /** newest first (as first seen by the monitor) */
  bans: DashboardBan[];
  /** newest first; empty for proxies without the alerts module (Kamailio) */
  alerts: Array<AlertDocument & { node: string }>;
  /** nodes whose alerts.recent failed otherwise than by not having it (a timeout, a refusal) */
  alertErrors: Array<{ node: string; error: string }>;
}

/** One point of a node's hour: unix seconds, requests/s, replies/s (all classes; null = unknown). */
export type HourPoint = [number, number | null, number | null];
export const HOUR_SEC = 3600;

export class DashboardFeed {
  private monitor?: Monitor;
  /** node → the points of the last hour that were sampled (while someone watched) */
  private readonly hour = new Map<string, HourPoint[]>();
  private readonly listeners = new Set<(d: DashboardDoc) => void>();
  private timer?: NodeJS.Timeout;
  private last?: { at: number; doc: DashboardDoc };
  private inflight?: Promise<DashboardDoc>;

  constructor(private readonly session: Session, readonly intervalMs: number, private readonly log: (l: string) => void) {}

  private mon(): Monitor {
    this.monitor ??= new Monitor({ nodes: this.session.nodeSet(), intervalMs: this.intervalMs, onSnapshot: () => undefined });
    return this.monitor;
  }

  /** A fresh document (at most one sampling at a time). */
  sample(): Promise<DashboardDoc> {
    this.inflight ??= this.build().finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  /** The last document when younger than the interval, else a new sample. */
  async current(): Promise<DashboardDoc> {
    if (this.last && Date.now() - this.last.at < this.intervalMs) return this.last.doc;
    return this.sample();
  }

  private async build(): Promise<DashboardDoc> {
    const snap: MonitorSnapshot = await this.mon().sampleOnce();
    const nodes = this.session.nodeSet();
    const extra = await nodes.each(async (c, node) => {
      const snapNode = snap.nodes.find((n) => n.node === node.name);
      const bans: DashboardBan[] = [];
      if (snapNode?.ok) {
        for (const table of BAN_TABLES) {
          for (const key of snapNode.bans[table].newest) {
            let expires: string | null = null;
            try {
              expires = (await getItem(c, table, key)).expire;
            } catch {
              expires = null;
            }
            bans.push({ table, key, expires, node: node.name });
          }
        }
      }
      let alerts: AlertDocument[] = [];
      let alertError: string | undefined;
      if (snapNode?.ok && !snapNode.missing.includes('alerts.recent')) {
        try {
          alerts = await recentAlerts(c, 20);
        } catch (e) {
          // a proxy without the alerts module (Kamailio) has no alerts; any other failure is shown
          if (!isMethodNotFound(e)) alertError = (e as Error).message;
        }
      }
      return { bans, alerts: alerts.map((a) => ({ ...a, node: node.name })), alertError };
    });
    const bans = extra.flatMap((o) => (o.ok ? o.value.bans : []));
    const alerts = extra.flatMap((o) => (o.ok ? o.value.alerts : [])).sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0));
    const alertErrors = extra.flatMap((o) => (o.ok && o.value.alertError !== undefined ? [{ node: o.node, error: o.value.alertError }] : []));
    const doc: DashboardDoc = { time: snap.time, intervalSec: snap.intervalSec, nodes: snap.nodes, bans, alerts, alertErrors };
    this.last = { at: Date.now(), doc };
    const t = Math.round(Date.parse(snap.time) / 1000);
    for (const n of snap.nodes) {
      let h = this.hour.get(n.node);
      if (!h) this.hour.set(n.node, (h = []));
      const replies = n.repliesPerSec ? Math.round(Object.values(n.repliesPerSec).reduce((a, b) => a + b, 0) * 10) / 10 : null;
      h.push([t, n.ok ? n.requestsPerSec : null, n.ok ? replies : null]);
      while (h.length > 0 && h[0]![0] < t - HOUR_SEC) h.shift();
    }
    return doc;
  }

  /** What was sampled of the last hour, per node, oldest first (GET /api/dashboard's `hour`). */
  hourSeries(): Record<string, HourPoint[]> {
    return Object.fromEntries([...this.hour].map(([node, h]) => [node, [...h]]));
  }

  /** Receive a document every interval until the returned function is called. */
  subscribe(fn: (d: DashboardDoc) => void): () => void {
    this.listeners.add(fn);
    if (this.last) {
      const doc = this.last.doc;
      setImmediate(() => this.listeners.has(fn) && fn(doc));
    }
    if (!this.timer) this.tick();
    return () => {
      this.listeners.delete(fn);
      if (this.listeners.size === 0 && this.timer) {
        clearTimeout(this.timer);
        this.timer = undefined;
      }
    };
  }

  private tick(): void {
    this.timer = setTimeout(async () => {
      try {
        const doc = await this.sample();
        for (const l of this.listeners) l(doc);
      } catch (e) {
        this.log(`sipctl web: dashboard sample failed: ${(e as Error).message}`);
      }
      if (this.listeners.size > 0) this.tick();
      else this.timer = undefined;
    }, this.last ? this.intervalMs : 0);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }
}
