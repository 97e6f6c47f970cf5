/**
 * The alert engine: one mechanism for every security and fraud event (issue 13, "Alerts").
 *
 *   emit(type, key, details) ──► dedup per (type, key) ──► rate limit ──► recent ring
 *                                                                      └► sinks (queued, never awaited)
 *
 * - Dedup: the first event of a (type, key) is delivered; the same pair again within `dedupMs`
 *   is only counted, and the count travels as `suppressed` in the next alert of that pair. A
 *   flood of thousands of packets from one source is one alert.
 * - Rate limit: at most `maxPerMinute` alerts a minute over every key; the rest are counted
 *   (`dropped.rateLimited`), so an attacker spreading over many keys cannot flood the operator.
 * - The dedup table is bounded (`maxKeys`): the least recently seen key is forgotten first.
 * - Delivery happens off the SIP path: emit() only appends to bounded queues; sinks drain them.
 *
 * Pure bookkeeping: no sockets here (sinks.ts), the clock is injected.
 */

/** Event types sipd emits (other names are accepted when well-formed: 13-A's rule modules may add). */
export const ALERT_TYPES = {
  'flood-ban': 'a source sent more than pike allows and was banned (key: source IP)',
  'auth-lockout': 'failed authentications locked a source out for a user (key: IP|user)',
  'spray-lockout': 'one source failed authentication for many users (key: source IP)',
  'scanner-dropped': 'a request from a known scanner User-Agent was dropped (key: source IP)',
  'blocklisted-source': 'a request from a blocklisted address was dropped (key: source IP)',
  'country-refused': 'a request from a country not allowed was refused (key: country|IP)',
  'ua-refused': 'a User-Agent outside the allow-list was refused (key: source IP)',
  'time-rule': 'a call outside its time window was refused (key: rule|user)',
  'blocked-destination': 'a call to a blocked prefix was refused (key: user|prefix)',
  'call-limit': 'a subscriber reached the active-calls limit (key: user)',
  'duration-limit': 'a call was ended at its maximum duration (key: user)',
  'daily-limit': 'a subscriber reached a calls/minutes per day limit (key: user|limit)',
  'cost-limit': 'a subscriber reached a cost per day/month limit, or a call was ended at it (key: user|limit)',
  'limit-threshold': 'a subscriber crossed the alert threshold (e.g. 80 %) of a limit (key: user|limit)',
  test: 'sent by `sipctl alerts test` (key: random, never deduplicated)',
} as const satisfies Record<string, string>;

export type AlertType = keyof typeof ALERT_TYPES;
export type Severity = 'critical' | 'warning' | 'notice' | 'info';

const SEVERITY: Partial<Record<string, Severity>> = {
  'flood-ban': 'warning',
  'auth-lockout': 'warning',
  'spray-lockout': 'critical',
  'cost-limit': 'critical',
  'limit-threshold': 'notice',
  test: 'info',
};

export const TYPE_NAME = /^[a-z][a-z0-9-]{0,39}$/;
const MAX_KEY = 200;
const MAX_DETAIL_TEXT = 256;
const MAX_DETAIL_FIELDS = 16;

/** The JSON document every sink receives. */
export interface Alert {
  version: 1;
  id: string;
  type: string;
  key: string;
  severity: Severity;
  /** ISO 8601 */
  time: string;
  host: string;
  summary: string;
  details: Record<string, string | number | boolean>;
  /** events of the same (type, key) held back by dedup since the previous alert of that pair */
  suppressed: number;
}

export interface EngineOptions {
  dedupMs: number;
  maxPerMinute: number;
  recentSize: number;
  maxKeys?: number;
  host: string;
  now: () => number;
  newId: () => string;
}

export interface EngineCounters {
  emitted: number;
  delivered: number;
  deduplicated: number;
  rateLimited: number;
  /** events emitted, by type (before dedup and the rate limit) */
  byType: Map<string, number>;
  /** alerts delivered, by type */
  deliveredByType: Map<string, number>;
}

/** Attacker-chosen text stays short and printable. */
function clip(v: unknown): string | number | boolean {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'boolean') return v;
  const s = String(v).replace(/[\x00-\x1f\x7f]/g, ' ');
  return s.length > MAX_DETAIL_TEXT ? `${s.slice(0, MAX_DETAIL_TEXT)}…` : s;
}

export function cleanDetails(d: Readonly<Record<string, unknown>> | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  if (d === undefined || d === null || typeof d !== 'object') return out;
  let n = 0;
  for (const [k, v] of Object.entries(d)) {
    if (v === undefined || v === null || !/^[A-Za-z][A-Za-z0-9_]{0,39}$/.test(k)) continue;
    if (n++ >= MAX_DETAIL_FIELDS) break;
    out[k] = clip(v);
  }
  return out;
}

function summaryOf(type: string, key: string, details: Record<string, string | number | boolean>): string {
  const what = (ALERT_TYPES as Record<string, string>)[type]?.replace(/ \(key:.*\)$/, '') ?? type;
  const detail = typeof details.detail === 'string' ? `: ${details.detail}` : typeof details.reason === 'string' ? `: ${details.reason}` : '';
  return `${type} ${key}${detail} — ${what}`.slice(0, 400);
}

export class AlertEngine {
  private readonly keys = new Map<string, { last: number; held: number }>();
  private readonly ring: Alert[] = [];
  private minute = 0;
  private inMinute = 0;
  readonly counters: EngineCounters = { emitted: 0, delivered: 0, deduplicated: 0, rateLimited: 0, byType: new Map(), deliveredByType: new Map() };

  constructor(private opts: EngineOptions, private readonly deliver: (a: Alert) => void) {}

  configure(o: Partial<Pick<EngineOptions, 'dedupMs' | 'maxPerMinute' | 'recentSize'>>): void {
    this.opts = { ...this.opts, ...o };
    while (this.ring.length > this.opts.recentSize) this.ring.shift();
  }

  /**
   * One event. Returns the alert when it was delivered, undefined when dedup or the rate limit
   * held it back. Never throws on bad input from a caller: a bad type is a programming error
   * and is reported as type "invalid".
   */
  emit(type: string, key: string, details?: Readonly<Record<string, unknown>>, opts: { dedup?: boolean } = {}): Alert | undefined {
    const t = TYPE_NAME.test(type) ? type : 'invalid';
    const k = String(key).replace(/[\x00-\x1f\x7f]/g, ' ').slice(0, MAX_KEY);
    const now = this.opts.now();
    this.counters.emitted++;
    this.counters.byType.set(t, (this.counters.byType.get(t) ?? 0) + 1);
    let held = 0;
    if (opts.dedup !== false) {
      const id = `${t}|${k}`;
      const seen = this.keys.get(id);
      if (seen !== undefined && now - seen.last < this.opts.dedupMs) {
        seen.held++;
        this.counters.deduplicated++;
        return undefined;
      }
      held = seen?.held ?? 0;
      this.keys.delete(id); // re-insert: Map order = least recently alerted first
      this.keys.set(id, { last: now, held: 0 });
      if (this.keys.size > (this.opts.maxKeys ?? 10_000)) this.keys.delete(this.keys.keys().next().value as string);
    }
    const minute = Math.floor(now / 60_000);
    if (minute !== this.minute) {
      this.minute = minute;
      this.inMinute = 0;
    }
    if (++this.inMinute > this.opts.maxPerMinute) {
      this.counters.rateLimited++;
      return undefined;
    }
    const clean = cleanDetails(details);
    const alert: Alert = {
      version: 1,
      id: this.opts.newId(),
      type: t,
      key: k,
      severity: SEVERITY[t] ?? 'warning',
      time: new Date(now).toISOString(),
      host: this.opts.host,
      summary: summaryOf(t, k, clean),
      details: clean,
      suppressed: held,
    };
    this.ring.push(alert);
    while (this.ring.length > this.opts.recentSize) this.ring.shift();
    this.counters.delivered++;
    this.counters.deliveredByType.set(t, (this.counters.deliveredByType.get(t) ?? 0) + 1);
    this.deliver(alert);
    return alert;
  }

  /** The last `n` alerts, newest last. */
  recent(n: number): Alert[] {
    return n <= 0 ? [] : this.ring.slice(-n);
  }

  /** Keys remembered for dedup (bounded), for a gauge. */
  trackedKeys(): number {
    return this.keys.size;
  }
}
