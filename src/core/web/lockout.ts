/**
 * Login lockout of the web console, with the semantics of sipd's digest lockout (auth-db module,
 * the Kamailio security playbook's userban pattern) and its parameter names:
 *   max_failures        failures of one name from one address before logins of that name from
 *                       that address are refused (429), even with the right password
 *   spray_max_failures  failures of any names from one address before every login from it is refused
 *   failure_window      seconds after the last failure that a lockout lasts and counters are kept
 * A success clears the (address, name) counter only, never the per-address one: otherwise one
 * known account would let a sprayer reset it between guesses. Unknown names count like known ones.
 */
export interface LockoutOptions {
  maxFailures?: number;
  sprayMaxFailures?: number;
  failureWindowSec?: number;
  /** ms clock (tests) */
  now?: () => number;
  /** counters kept at most (oldest dropped first) */
  maxEntries?: number;
}

export const LOCKOUT_DEFAULTS = { maxFailures: 3, sprayMaxFailures: 10, failureWindowSec: 900 } as const;

interface Counter {
  count: number;
  last: number;
}

export class LoginLockout {
  readonly maxFailures: number;
  readonly sprayMaxFailures: number;
  readonly windowMs: number;
  private readonly now: () => number;
  private readonly maxEntries: number;
  private readonly counters = new Map<string, Counter>();

  constructor(o: LockoutOptions = {}) {
    this.maxFailures = o.maxFailures ?? LOCKOUT_DEFAULTS.maxFailures;
    this.sprayMaxFailures = o.sprayMaxFailures ?? LOCKOUT_DEFAULTS.sprayMaxFailures;
    this.windowMs = (o.failureWindowSec ?? LOCKOUT_DEFAULTS.failureWindowSec) * 1000;
    this.now = o.now ?? Date.now;
    this.maxEntries = o.maxEntries ?? 100_000;
  }

  /** Same key shapes as sipd's userban: IP::user and IP::* ("%" and ":" of the name escaped). */
  private static key(ip: string, name: string | undefined): string {
    return name === undefined ? `${ip}::*` : `${ip}::${name.replace(/%/g, '%25').replace(/:/g, '%3A').replace(/\*/g, '%2A')}`;
  }

  /** Seconds until this login may be tried again; 0 = not locked. */
  lockedFor(ip: string, name: string): number {
    return Math.max(this.remaining(LoginLockout.key(ip, name), this.maxFailures), this.remaining(LoginLockout.key(ip, undefined), this.sprayMaxFailures));
  }

  private remaining(key: string, max: number): number {
    if (max <= 0) return 0;
    const c = this.counters.get(key);
    if (!c) return 0;
    const left = c.last + this.windowMs - this.now();
    if (left <= 0) {
      this.counters.delete(key); // the window passed: counting starts again, as sipd does
      return 0;
    }
    return c.count >= max ? Math.ceil(left / 1000) : 0;
  }

  /** Count one failed login; returns the seconds the login is now locked (0 = not yet). */
  fail(ip: string, name: string): number {
    for (const key of [LoginLockout.key(ip, name), LoginLockout.key(ip, undefined)]) {
      const t = this.now();
      const c = this.counters.get(key);
      if (c && t - c.last <= this.windowMs) {
        c.count++;
        c.last = t;
        this.counters.delete(key);
        this.counters.set(key, c);
      } else {
        this.counters.delete(key);
        this.counters.set(key, { count: 1, last: t });
      }
    }
    while (this.counters.size > this.maxEntries) this.counters.delete(this.counters.keys().next().value as string);
    return this.lockedFor(ip, name);
  }

  /** A successful login clears the (address, name) counter; the per-address counter stays. */
  success(ip: string, name: string): void {
    this.counters.delete(LoginLockout.key(ip, name));
  }
}
