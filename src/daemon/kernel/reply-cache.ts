/**
 * Retransmission absorption for the requests sipd answers itself after asynchronous work
 * (REGISTER): the role of a server transaction (RFC 3261 §17.2.2) without keeping one per
 * request.
 *
 * Over UDP a client that has no answer after T1 (500 ms) sends the same request again, doubling
 * the interval up to 4 s, for as long as Timer F (32 s). Handled again, a retransmission would
 * redo the authentication (where the nonce has been used: a "replay") and the database write, at
 * the moment the server is slowest. So the first copy is marked pending; copies that arrive while
 * it is being worked on are absorbed; once it is answered, copies get the same answer again (the
 * same nonce, the same To tag, so the client sees a retransmitted response, not a new one), for
 * 32 s (Timer J).
 *
 * A copy is recognised by its bytes (RFC 3261 §17.1.2.2: a retransmission is the same request)
 * and the address it came from, so a request that differs in anything (a new CSeq, credentials
 * added, another Contact) is new, even from a client that reuses its branch. Bounded: at most `max` requests are remembered
 * (the oldest forgotten first; a forgotten one is simply handled again, which the registrar and
 * the digest check treat as the retransmission it is) and an expiry timer runs only while
 * something is remembered, so an idle server holds nothing.
 */
import { hash } from 'node:crypto';
import type { Endpoint } from './contracts.js';

/** Timer J for UDP: 64 × T1 (RFC 3261 §17.2.2). */
export const RETRANSMISSION_WINDOW_MS = 32_000;

export interface ReplyCacheOptions {
  /** ms a request is remembered after it arrived; default RETRANSMISSION_WINDOW_MS */
  ttlMs?: number;
  /** most requests remembered; default 32,768 */
  max?: number;
  now?: () => number;
}

interface Entry<R> {
  /** ms */
  expires: number;
  /** undefined while the request is being worked on */
  reply?: R;
}

/** What begin() found: a new request (go ahead), one still being worked on, or one already answered. */
export type Seen<R> = { state: 'new' } | { state: 'pending' } | { state: 'answered'; reply: R };

const NEW = Object.freeze({ state: 'new' as const });
const PENDING = Object.freeze({ state: 'pending' as const });

/**
 * The key of a request: where it came from and a digest of its bytes. MD5 is enough: a collision
 * could only come from the same source, and would only give it an answer to its own request.
 */
export function requestKey(source: Endpoint, data: Buffer): string {
  return `${source.transport}:${source.ip}:${source.port} ${hash('md5', data, 'base64')}`;
}

export class ReplyCache<R> {
  private readonly map = new Map<string, Entry<R>>();
  private readonly ttlMs: number;
  private readonly max: number;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  /** copies absorbed while pending, and copies answered from the cache */
  readonly counters = { absorbed: 0, answered: 0 };

  constructor(opts: ReplyCacheOptions = {}) {
    this.ttlMs = opts.ttlMs ?? RETRANSMISSION_WINDOW_MS;
    this.max = opts.max ?? 32_768;
    this.now = opts.now ?? Date.now;
  }

  /** Look a request up; a new one is remembered as pending (finish() or forget() it later). */
  begin(key: string): Seen<R> {
    const now = this.now();
    this.expire(now);
    const e = this.map.get(key);
    if (e !== undefined) {
      if (e.reply === undefined) {
        this.counters.absorbed++;
        return PENDING;
      }
      this.counters.answered++;
      return { state: 'answered', reply: e.reply };
    }
    if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value as string);
    // Insertion order is arrival order, and every entry lives ttlMs: the oldest is always first.
    this.map.set(key, { expires: now + this.ttlMs });
    this.schedule();
    return NEW;
  }

  /** The answer to a request begin() called new: retransmissions get it from now on. */
  finish(key: string, reply: R): void {
    const e = this.map.get(key);
    if (e !== undefined) e.reply = reply;
  }

  /** Not answered after all (e.g. refused before any work): a copy is handled as new. */
  forget(key: string): void {
    this.map.delete(key);
  }

  get size(): number {
    return this.map.size;
  }

  /** Forget everything and stop the timer. */
  clear(): void {
    this.map.clear();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private expire(now: number): void {
    for (const [key, e] of this.map) {
      if (e.expires > now) break;
      this.map.delete(key);
    }
  }

  /** One timer while anything is remembered, for the oldest entry, so memory is given back when idle. */
  private schedule(): void {
    if (this.timer !== undefined) return;
    const first = this.map.values().next();
    if (first.done === true) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.expire(this.now());
      this.schedule();
    }, Math.max(1000, first.value.expires - this.now() + 10));
    this.timer.unref();
  }
}
