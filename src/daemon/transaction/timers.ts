/**
 * RFC 3261 §17 timer values (Table 4 / Appendix A) and the timer host transactions use.
 *
 *   T1  500 ms   RTT estimate                       T2  4 s    longest retransmit interval (non-INVITE, 2xx)
 *   T4  5 s      longest time a message stays in the network
 *   A   T1, doubling          INVITE retransmit (unreliable transport only)     §17.1.1.2
 *   B   64*T1                 INVITE transaction timeout                       §17.1.1.2
 *   D   ≥32 s unreliable, 0   wait for response retransmits (client INVITE)    §17.1.1.2
 *   E   T1, doubling to T2    non-INVITE retransmit (unreliable only)          §17.1.2.2
 *   F   64*T1                 non-INVITE transaction timeout                   §17.1.2.2
 *   G   T1, doubling to T2    INVITE final response retransmit (unreliable)    §17.2.1
 *   H   64*T1                 wait for ACK                                     §17.2.1
 *   I   T4 unreliable, 0      wait for ACK retransmits                         §17.2.1
 *   J   64*T1 unreliable, 0   wait for non-INVITE request retransmits          §17.2.2
 *   K   T4 unreliable, 0      wait for non-INVITE response retransmits         §17.1.2.2
 *   L   64*T1                 server INVITE Accepted state (RFC 6026 §8.7)
 *   M   64*T1                 client INVITE Accepted state (RFC 6026 §8.4)
 *   C   > 3 min               proxy INVITE no-answer timer (§16.6 item 11); the proxy owns it
 *
 * Kamailio's tm calls B/F `fr_timer` and C `fr_inv_timer`; both are settable here.
 */

export interface TimerSettings {
  /** ms, RTT estimate (default 500) */
  T1: number;
  /** ms, longest retransmit interval (default 4000) */
  T2: number;
  /** ms, longest time a message lives in the network (default 5000) */
  T4: number;
  /** ms, Timer B and F: how long a client transaction waits for a final response (default 64*T1) */
  frTimer?: number;
}

export const RFC3261_TIMERS: Readonly<TimerSettings> = Object.freeze({ T1: 500, T2: 4000, T4: 5000 });

export interface TimerValues {
  A: number;
  B: number;
  D: number;
  E: number;
  F: number;
  G: number;
  H: number;
  I: number;
  J: number;
  K: number;
  L: number;
  M: number;
  T2: number;
}

/** The timer durations for one transport kind (reliable = TCP/TLS: D, I, J, K are 0, A/E/G unused). */
export function timerValues(s: TimerSettings, reliable: boolean): TimerValues {
  const fr = s.frTimer ?? 64 * s.T1;
  return {
    A: s.T1,
    B: fr,
    D: reliable ? 0 : Math.max(32_000, 64 * s.T1),
    E: s.T1,
    F: fr,
    G: s.T1,
    H: 64 * s.T1,
    I: reliable ? 0 : s.T4,
    J: reliable ? 0 : 64 * s.T1,
    K: reliable ? 0 : s.T4,
    L: 64 * s.T1,
    M: 64 * s.T1,
    T2: s.T2,
  };
}

/** One running timer; `clear` is idempotent. */
export interface TimerHandle {
  clear(): void;
}

/**
 * Where transactions get their timers from. The default uses setTimeout (unref'd: timers never
 * keep sipd alive on their own); tests pass a fake one to step time.
 */
export interface TimerHost {
  set(ms: number, fn: () => void): TimerHandle;
  now(): number;
}

export const realTimers: TimerHost = {
  set(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref();
    return { clear: () => clearTimeout(t) };
  },
  now: () => Date.now(),
};

/** A fake timer host for tests: time moves only when `advance` is called. */
export class ManualTimers implements TimerHost {
  private t = 0;
  private seq = 0;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.t;
  }

  set(ms: number, fn: () => void): TimerHandle {
    const id = ++this.seq;
    this.pending.set(id, { at: this.t + ms, fn });
    return { clear: () => void this.pending.delete(id) };
  }

  /** Move time forward, firing every timer due on the way, in time order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.pending) if (e[1].at <= end && (next === undefined || e[1].at < next[1].at || (e[1].at === next[1].at && e[0] < next[0]))) next = e;
      if (next === undefined) break;
      this.pending.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }

  get size(): number {
    return this.pending.size;
  }
}
