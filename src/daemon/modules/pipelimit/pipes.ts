/**
 * Rate-limit pipes (Kamailio pipelimit, TAILDROP algorithm): each pipe counts what passed it in
 * the current interval; once the count is over `limit × interval` the rest of the interval is
 * refused. Counters reset at each interval boundary, computed from the clock (no timer needed).
 *
 * Pipes are named. Static pipes (the overall one) live for ever; per-subscriber pipes are made on
 * first use with the default limit and forgotten when idle, so their number stays bounded by the
 * subscribers active in the last minute (and by `maxPipes`).
 */

export type PipeAlgorithm = 'TAILDROP';

export interface Pipe {
  name: string;
  algorithm: PipeAlgorithm;
  /** per second; 0 = no limit */
  limit: number;
  counter: number;
  /** requests refused since the pipe was made */
  dropped: number;
  /** start of the current interval (ms) */
  windowStart: number;
  /** last time something passed or was refused (ms) */
  lastUsed: number;
  /** set explicitly (pl.set_pipe, config): kept when idle */
  pinned: boolean;
}

export class PipeTable {
  private readonly pipes = new Map<string, Pipe>();

  constructor(
    private intervalMs = 1000,
    private readonly maxPipes = 100_000,
  ) {}

  setInterval(ms: number): void {
    this.intervalMs = ms;
  }

  get(name: string): Pipe | undefined {
    return this.pipes.get(name);
  }

  /** Create or change a pipe; pinned pipes are never forgotten. */
  set(name: string, limit: number, now: number, pinned = true): Pipe {
    const p = this.pipes.get(name);
    if (p !== undefined) {
      p.limit = limit;
      p.pinned ||= pinned;
      return p;
    }
    const n: Pipe = { name, algorithm: 'TAILDROP', limit, counter: 0, dropped: 0, windowStart: now, lastUsed: now, pinned };
    this.pipes.set(name, n);
    return n;
  }

  /**
   * One request through pipe `name` (created with `defaultLimit` when absent). True when it
   * passes; a limit of 0 always passes.
   */
  push(name: string, defaultLimit: number, now: number): boolean {
    const p = this.current(name, defaultLimit, now);
    if (p === undefined || p.limit <= 0) return true;
    p.counter++;
    if (p.counter <= (p.limit * this.intervalMs) / 1000) return true;
    p.dropped++;
    return false;
  }

  /**
   * One request that passed elsewhere (a cluster's shared pipe, modules/cluster): counted in pipe
   * `name` for pl.get_pipes / pl.stats, never refused here. Made with `defaultLimit` when absent
   * (not at all when that is 0).
   */
  count(name: string, defaultLimit: number, now: number): void {
    const p = this.current(name, defaultLimit, now);
    if (p !== undefined) p.counter++;
  }

  /**
   * Pipe `name` in its current window (made with `defaultLimit` when absent; none when that is 0),
   * marked used now: what push() and count() both start from.
   */
  private current(name: string, defaultLimit: number, now: number) {
    let p = this.pipes.get(name);
    if (p === undefined) {
      if (defaultLimit <= 0) return undefined;
      if (this.pipes.size >= this.maxPipes) this.sweep(now, 0);
      p = this.set(name, defaultLimit, now, false);
    }
    if (now - p.windowStart >= this.intervalMs) {
      p.windowStart = now - ((now - p.windowStart) % this.intervalMs);
      p.counter = 0;
    }
    p.lastUsed = now;
    return p;
  }

  /** The limit (per second) a request through pipe `name` meets: the pipe's own, else `defaultLimit`. */
  limitOf(name: string, defaultLimit: number): number {
    return this.pipes.get(name)?.limit ?? defaultLimit;
  }

  /** Forget unpinned pipes idle for `idleMs`; returns how many. */
  sweep(now: number, idleMs: number): number {
    let n = 0;
    for (const [k, p] of this.pipes) {
      if (!p.pinned && now - p.lastUsed >= idleMs) {
        this.pipes.delete(k);
        n++;
      }
    }
    return n;
  }

  list(now: number): Pipe[] {
    return [...this.pipes.values()].map((p) => (now - p.windowStart >= this.intervalMs ? { ...p, counter: 0 } : { ...p }));
  }
}
