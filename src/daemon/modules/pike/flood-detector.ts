/**
 * Per-source request rate, after Kamailio's pike: each source IP has a count for the current
 * sampling unit and the previous one; the rate is estimated over a sliding unit
 * (prev × the part of the previous unit still inside the window + curr). A source whose estimate
 * exceeds `maxHits` is hot.
 *
 * Memory is bounded whatever the traffic: at most `maxEntries` sources are tracked, kept in a Map
 * in least-recently-seen order. A new source beyond the cap evicts the least recently seen one —
 * under a flood from many spoofed addresses those are one-packet sources, while a real flooder
 * stays at the recent end and is still caught. Sources quiet for two units carry no information
 * and are dropped by `sweep` (O(removed): it stops at the first recent entry).
 */

export interface FloodDetectorOptions {
  /** sampling unit in ms (Kamailio sampling_time_unit, seconds there) */
  unitMs: number;
  /** more than this many requests per unit is a flood (Kamailio reqs_density_per_unit) */
  maxHits: number;
  maxEntries: number;
}

interface SourceState {
  windowStart: number;
  prev: number;
  curr: number;
  lastSeen: number;
}

export type SourceStatus = '' | 'WARM' | 'HOT';

export interface SourceReport {
  ip: string;
  prev: number;
  curr: number;
  estimate: number;
  status: SourceStatus;
  /** ms until the source is forgotten if it stays quiet */
  expiresInMs: number;
}

export class FloodDetector {
  private readonly sources = new Map<string, SourceState>();
  /** sources evicted because the table was full, since start */
  evicted = 0;

  constructor(private opts: FloodDetectorOptions) {}

  configure(opts: FloodDetectorOptions): void {
    this.opts = opts;
    while (this.sources.size > opts.maxEntries) this.evictOldest();
  }

  get size(): number {
    return this.sources.size;
  }

  /** Count one request from `ip` at `now`; true when the source is now over the limit. */
  hit(ip: string, now: number): boolean {
    let s = this.sources.get(ip);
    if (s === undefined) {
      if (this.sources.size >= this.opts.maxEntries) this.evictOldest();
      s = { windowStart: now, prev: 0, curr: 0, lastSeen: now };
    } else {
      this.sources.delete(ip); // re-inserted below: most recently seen at the end
      this.advance(s, now);
    }
    s.curr++;
    s.lastSeen = now;
    this.sources.set(ip, s);
    return this.estimate(s, now) > this.opts.maxHits;
  }

  /** Forget a source (after it was banned: its count starts afresh when the ban ends). */
  forget(ip: string): void {
    this.sources.delete(ip);
  }

  /** Drop sources quiet for two units; returns how many. */
  sweep(now: number): number {
    const cutoff = now - 2 * this.opts.unitMs;
    let n = 0;
    for (const [ip, s] of this.sources) {
      if (s.lastSeen > cutoff) break; // Map order is least recently seen first
      this.sources.delete(ip);
      n++;
    }
    return n;
  }

  /** Every tracked source with its counts at `now` (for pike.top). */
  report(now: number): SourceReport[] {
    const out: SourceReport[] = [];
    for (const [ip, s0] of this.sources) {
      const s = { ...s0 };
      this.advance(s, now);
      const estimate = this.estimate(s, now);
      const status: SourceStatus = estimate > this.opts.maxHits ? 'HOT' : estimate > this.opts.maxHits / 2 ? 'WARM' : '';
      out.push({ ip, prev: s.prev, curr: s.curr, estimate, status, expiresInMs: Math.max(0, s.lastSeen + 2 * this.opts.unitMs - now) });
    }
    return out;
  }

  private advance(s: SourceState, now: number): void {
    const elapsed = now - s.windowStart;
    if (elapsed < this.opts.unitMs) return;
    const units = Math.floor(elapsed / this.opts.unitMs);
    s.prev = units === 1 ? s.curr : 0;
    s.curr = 0;
    s.windowStart += units * this.opts.unitMs;
  }

  private estimate(s: SourceState, now: number): number {
    const frac = Math.min(1, Math.max(0, (now - s.windowStart) / this.opts.unitMs));
    return s.prev * (1 - frac) + s.curr;
  }

  private evictOldest(): void {
    const first = this.sources.keys().next();
    if (first.done) return;
    this.sources.delete(first.value);
    this.evicted++;
  }
}
