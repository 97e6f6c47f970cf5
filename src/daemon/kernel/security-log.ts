/**
 * Security events as structured log lines, bounded: an attacker decides how many events happen,
 * never how many lines are written.
 *
 * - Per (event, source IP): at most one line per `perSourceMs`; what was held back is counted and
 *   reported as `suppressed` on the next line for that pair. Flood bans and lockouts are rare by
 *   nature (one per ban) and skip this step.
 * - Overall: at most `maxPerSecond` lines per second; the rest are counted per event and reported
 *   in one summary line per second at most ("security events suppressed").
 * - The per-pair table is capped (`maxTracked`): the least recently seen pair is forgotten first.
 */
import type { SecurityEvent } from './contracts.js';
import type { Logger } from './module.js';

export interface SecurityLogOptions {
  perSourceMs?: number;
  maxPerSecond?: number;
  maxTracked?: number;
  now?: () => number;
}

const ALWAYS: ReadonlySet<SecurityEvent['event']> = new Set(['flood-ban', 'auth-lockout', 'spray-lockout']);
/** field values are attacker-chosen: keep them short */
const MAX_FIELD = 128;

function clip(s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  return s.length > MAX_FIELD ? s.slice(0, MAX_FIELD) + '…' : s;
}

export class SecurityLog {
  private readonly perSourceMs: number;
  private readonly maxPerSecond: number;
  private readonly maxTracked: number;
  private readonly now: () => number;
  /** (event|ip) → last line time and events held back since; Map order = least recently seen first */
  private readonly pairs = new Map<string, { last: number; held: number }>();
  private second = 0;
  private linesThisSecond = 0;
  private dropped = new Map<string, number>();
  /** every event seen, by type (for sipd's own counters) */
  readonly counts = new Map<string, number>();

  constructor(private readonly log: Logger, opts: SecurityLogOptions = {}) {
    this.perSourceMs = opts.perSourceMs ?? 10_000;
    this.maxPerSecond = opts.maxPerSecond ?? 50;
    this.maxTracked = opts.maxTracked ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  emit(ev: SecurityEvent): void {
    this.counts.set(ev.event, (this.counts.get(ev.event) ?? 0) + 1);
    const t = this.now();
    let held = 0;
    if (!ALWAYS.has(ev.event)) {
      const key = `${ev.event}|${ev.sourceIp}`;
      const p = this.pairs.get(key);
      if (p !== undefined && t - p.last < this.perSourceMs) {
        p.held++;
        return;
      }
      held = p?.held ?? 0;
      this.pairs.delete(key);
      this.pairs.set(key, { last: t, held: 0 });
      if (this.pairs.size > this.maxTracked) this.pairs.delete(this.pairs.keys().next().value as string);
    }
    const sec = Math.floor(t / 1000);
    if (sec !== this.second) {
      this.flushDropped();
      this.second = sec;
      this.linesThisSecond = 0;
    }
    if (++this.linesThisSecond > this.maxPerSecond) {
      this.dropped.set(ev.event, (this.dropped.get(ev.event) ?? 0) + 1 + held);
      return;
    }
    this.log.warn('security event', {
      event: ev.event,
      sourceIp: clip(ev.sourceIp),
      ...(ev.method !== undefined ? { method: clip(ev.method) } : {}),
      ...(ev.user !== undefined ? { user: clip(ev.user) } : {}),
      ...(ev.detail !== undefined ? { detail: clip(ev.detail) } : {}),
      ...(held > 0 ? { suppressed: held } : {}),
    });
  }

  /** (event, source) pairs remembered for rate limiting (bounded by maxTracked), for stats. */
  pending(): number {
    return this.pairs.size;
  }

  /** Write the summary of lines held back by the overall limit, if any (also called at shutdown). */
  flushDropped(): void {
    if (this.dropped.size === 0) return;
    this.log.warn('security events suppressed', { byEvent: Object.fromEntries(this.dropped) });
    this.dropped = new Map();
  }

  get tracked(): number {
    return this.pairs.size;
  }
}
