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
 * and the address it came from — or, when the caller gives one, by a second key: the
 * transaction (§17.2.3: top-Via branch and sent-by, method) with the Call-ID, CSeq and the
 * credentials' nonce, from the same address. A UA may build a copy again rather than resend the
 * bytes: sipp answers a retransmitted 401 by rebuilding its authenticated REGISTER, with a fresh
 * cnonce; that copy is the same transaction and must be absorbed like any other, not handled as
 * new (where its used nonce made it a "replay"). A request that differs in CSeq, Call-ID,
 * nonce, branch or source is new, even from a client that reuses its branch. Bounded: at most `max` requests are remembered
 * (the oldest forgotten first; a forgotten one is simply handled again, which the registrar and
 * the digest check treat as the retransmission it is) and an expiry timer runs only while
 * something is remembered, so an idle server holds nothing.
 */
import { createHash, hash } from 'node:crypto';
import type { Endpoint } from './contracts.js';
import type { SipRequest } from '../../core/sip/message.js';

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
  key: string;
  /** the second key (the transaction's), when begin() was given one */
  alt?: string;
  /** ms */
  expires: number;
  /** undefined while the request is being worked on */
  reply?: R;
}

/** What begin() found: a new request (go ahead), one still being worked on, or one already answered. */
export type Seen<R> = { state: 'new' } | { state: 'pending' } | { state: 'answered'; reply: R };

const NEW = Object.freeze({ state: 'new' as const });
const PENDING = Object.freeze({ state: 'pending' as const });

const scratch = Buffer.allocUnsafe(70_000);

/**
 * The key of a request: a digest of where it came from and of its bytes. SHA-1 is enough (and,
 * with the CPU's SHA instructions, faster than MD5): a collision could only come from the same
 * source, and would only give it an answer to its own request. One short flat string: the keys
 * are what the cache holds most of, and a key glued together from parts weighed five times as
 * much.
 */
export function requestKey(source: Endpoint, data: Buffer): string {
  const from = `${source.transport} ${source.ip} ${source.port}\n`;
  if (from.length * 3 + data.length > scratch.length) return createHash('sha1').update(from).update(data).digest('base64');
  const n = scratch.write(from, 0, 'utf8');
  data.copy(scratch, n);
  return hash('sha1', scratch.subarray(0, n + data.length), 'base64');
}

/**
 * The second key of a request: its transaction as RFC 3261 §17.2.3 matches it (top-Via branch,
 * sent-by, method; Call-ID, From tag and CSeq stand in for a branch without the magic cookie),
 * with the Call-ID, CSeq number and the nonce of the credentials it carries (none: empty), from
 * the address it came from — what a copy the UA built again shares with the original. Undefined
 * without a Via, Call-ID or CSeq (then the bytes alone decide).
 */
export function transactionKey(source: Endpoint, msg: SipRequest): string | undefined {
  const v = msg.via[0];
  if (v === undefined || msg.callId === undefined || msg.cseq === undefined) return undefined;
  const branch = v.branch !== undefined && v.branch.startsWith('z9hG4bK') ? v.branch : `2543 ${msg.from?.tag ?? ''}`;
  let nonce = '';
  for (const a of msg.authorization) {
    const n = a.params.get('nonce');
    if (n !== undefined) {
      nonce = n;
      break;
    }
  }
  const text = `${source.transport} ${source.ip} ${source.port}\n${branch}\n${v.host.toLowerCase()}:${v.port ?? ''}\n${msg.method}\n${msg.callId}\n${msg.cseq.seq} ${msg.cseq.method}\n${nonce}`;
  return 't' + hash('sha1', text, 'base64');
}

export class ReplyCache<R> {
  private readonly map = new Map<string, Entry<R>>();
  /** second key → entry (only entries begun with one; an entry leaves both maps together) */
  private readonly alts = new Map<string, Entry<R>>();
  /**
   * The entries in arrival order (so in expiry order: every entry lives ttlMs), from `head` on.
   * Not the Map's own order: taking its first entry walks every slot deleted since the Map last
   * compacted itself, which made each lookup slower the busier the server was.
   */
  private order: Array<Entry<R>> = [];
  private head = 0;
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
  begin(key: string, alt?: string): Seen<R> {
    const now = this.now();
    this.expire(now);
    const e = this.map.get(key) ?? (alt === undefined ? undefined : this.alts.get(alt));
    if (e !== undefined) {
      if (e.reply === undefined) {
        this.counters.absorbed++;
        return PENDING;
      }
      this.counters.answered++;
      return { state: 'answered', reply: e.reply };
    }
    while (this.map.size >= this.max) this.dropOldest();
    const entry: Entry<R> = alt === undefined ? { key, expires: now + this.ttlMs } : { key, alt, expires: now + this.ttlMs };
    this.map.set(key, entry);
    if (alt !== undefined) this.alts.set(alt, entry);
    this.order.push(entry);
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
    const e = this.map.get(key);
    if (e === undefined) return;
    this.map.delete(key);
    this.unalias(e);
  }

  private unalias(e: Entry<R>): void {
    if (e.alt !== undefined && this.alts.get(e.alt) === e) this.alts.delete(e.alt);
  }

  get size(): number {
    return this.map.size;
  }

  /** Forget everything and stop the timer. */
  clear(): void {
    this.map.clear();
    this.alts.clear();
    this.order = [];
    this.head = 0;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Take the oldest entry off the queue; it leaves the map unless a newer one has its key (forgotten, then seen again). */
  private dropOldest(): void {
    const e = this.order[this.head];
    this.order[this.head] = undefined as never;
    this.head++;
    if (this.map.get(e.key) === e) this.map.delete(e.key);
    this.unalias(e);
    if (this.head >= 1024 && this.head * 2 >= this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
  }

  private expire(now: number): void {
    while (this.head < this.order.length && this.order[this.head].expires <= now) this.dropOldest();
  }

  /** One timer while anything is remembered, for the oldest entry, so memory is given back when idle. */
  private schedule(): void {
    if (this.timer !== undefined || this.head >= this.order.length) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.expire(this.now());
      if (this.head >= this.order.length) {
        this.order = [];
        this.head = 0;
      }
      this.schedule();
    }, Math.max(1000, this.order[this.head].expires - this.now() + 10));
    this.timer.unref();
  }
}
