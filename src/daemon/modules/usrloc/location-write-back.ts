/**
 * usrloc db_mode 2, Kamailio's write-back: a change is made in memory and the REGISTER answered
 * at once; the `location` table catches up when the timer flushes (every `timer_interval`, and at
 * shutdown). Between flushes the changes of one contact (one ruid) coalesce, the last state
 * winning: insert then update is one insert of the newest values, insert then delete is nothing,
 * update then delete is one delete. A flush writes what is pending in batches of a few hundred
 * changes (LocationTable.writeBatchOrEach, as the write-through group commit does).
 *
 * A flush that fails keeps its changes for the next one (newer changes made meanwhile win). What a
 * batch did to the table when the database went away is not known (a COMMIT whose answer was
 * lost may have happened), so its inserts are retried as updates, which write the row whether it
 * is there or not. When the database answered with a refusal instead, the batch's changes are
 * tried one by one, so one change the table does not take holds back only itself (and is written
 * alone at each later flush, as Kamailio retries a contact it could not write).
 *
 * The pending set is bounded (`maxPending`, 100,000 contacts): past half of it the owner is told
 * to flush early (a peak, the database keeping up); at the bound (the database down for long) a
 * change of a contact not already pending is refused, as db_mode 1 refuses every change while
 * the database is down, until a flush gets through. Changes of contacts already pending still
 * coalesce, so refreshes go on.
 */
import { SipctlError } from '../../../core/errors.js';
import type { Database } from '../../../core/db/database.js';
import type { ContactRecord } from '../../kernel/contracts.js';
import type { ContactChange, LocationTable } from './location-db.js';

/** What the table still needs for one contact: its row inserted, rewritten, or deleted. */
export type PendingWrite = { op: 'insert' | 'update'; rec: ContactRecord } | { op: 'delete'; ruid: string };

/** Kamailio's contact states, as ul.dump shows them: not yet written, changed since written, written. */
export type ContactState = 'CS_NEW' | 'CS_DIRTY' | 'CS_SYNC';

/** The pending set is full and the database has not taken it: this change cannot be kept. */
export class WriteBackFullError extends SipctlError {
  override name = 'WriteBackFullError';
  constructor(pending: number) {
    super('USRLOC_WRITE_BACK_FULL', `usrloc: ${pending} registration changes wait for the database; no room for more`, { category: 'connection' });
  }
}

/**
 * The state one contact's row needs after `older` and then `newer` were asked for; undefined
 * when nothing is left to write (inserted and deleted before any flush).
 */
export function coalesce(older: PendingWrite | undefined, newer: PendingWrite): PendingWrite | undefined {
  if (older === undefined) return newer;
  if (newer.op === 'delete') return older.op === 'insert' ? undefined : newer;
  // the row is known absent only when the older change was an insert not yet written
  if (older.op === 'insert') return { op: 'insert', rec: newer.rec };
  return { op: 'update', rec: newer.rec };
}

const ruidOf = (w: PendingWrite): string => (w.op === 'delete' ? w.ruid : w.rec.ruid);

function changeOf(w: PendingWrite): ContactChange {
  if (w.op === 'delete') return { remove: [w.ruid] };
  return w.op === 'insert' ? { insert: [w.rec] } : { update: [w.rec] };
}

export interface WriteBackOptions {
  /** most contacts pending at once; default 100,000 */
  maxPending?: number;
  /** changes per batch; default 500 (as LocationWriter's) */
  maxBatch?: number;
  /** called when the pending set passes half of maxPending: flush now rather than at the next tick */
  onBacklog?: () => void;
}

export interface FlushResult {
  /** changes written */
  written: number;
  /** changes kept for the next flush */
  kept: number;
  /** why some were kept */
  error?: unknown;
}

export class LocationWriteBack {
  private pending = new Map<string, PendingWrite>();
  /** the changes of the flush under way (ul.dump still shows them as not written) */
  private inFlight = new Map<string, PendingWrite>();
  /** contacts the table refused on their own at the last flush */
  private readonly refused = new Set<string>();
  private readonly maxPending: number;
  private readonly maxBatch: number;

  constructor(private readonly table: LocationTable, private readonly db: Database, private readonly opts: WriteBackOptions = {}) {
    this.maxPending = opts.maxPending ?? 100_000;
    this.maxBatch = opts.maxBatch ?? 500;
  }

  /** Contacts whose row is not written yet (pending and in the flush under way). */
  get size(): number {
    return this.pending.size + this.inFlight.size;
  }

  /**
   * Note the changes of one request (all or none): throws WriteBackFullError when the set is at
   * its bound and a contact of the change is not pending yet.
   */
  add(change: ContactChange): void {
    const writes: PendingWrite[] = [
      ...(change.remove ?? []).map((ruid): PendingWrite => ({ op: 'delete', ruid })),
      ...(change.update ?? []).map((rec): PendingWrite => ({ op: 'update', rec })),
      ...(change.insert ?? []).map((rec): PendingWrite => ({ op: 'insert', rec })),
    ];
    const fresh = writes.filter((w) => !this.pending.has(ruidOf(w))).length;
    if (fresh > 0 && this.pending.size + fresh > this.maxPending) throw new WriteBackFullError(this.pending.size);
    for (const w of writes) this.put(w);
    if (this.pending.size * 2 >= this.maxPending) this.opts.onBacklog?.();
  }

  /** CS_NEW: never written; CS_DIRTY: changed since it was written; CS_SYNC: the row is as in memory. */
  stateOf(ruid: string): ContactState {
    const w = this.pending.get(ruid) ?? this.inFlight.get(ruid);
    return w === undefined ? 'CS_SYNC' : w.op === 'insert' ? 'CS_NEW' : 'CS_DIRTY';
  }

  /**
   * Write everything pending. Never throws: what could not be written is kept (merged under what
   * was asked for meanwhile) and reported in the result. One flush at a time (the caller's job).
   */
  async flush(): Promise<FlushResult> {
    if (this.pending.size === 0) return { written: 0, kept: 0 };
    this.inFlight = this.pending;
    this.pending = new Map();
    // Contacts the table refused last time are written alone, after the rest: one bad row costs
    // one statement a flush, not a batch split into single rows every time.
    const all = [...this.inFlight.values()];
    const groups: PendingWrite[][] = [];
    const normal = all.filter((w) => !this.refused.has(ruidOf(w)));
    for (let i = 0; i < normal.length; i += this.maxBatch) groups.push(normal.slice(i, i + this.maxBatch));
    for (const w of all) if (this.refused.has(ruidOf(w))) groups.push([w]);
    const kept: PendingWrite[] = [];
    let written = 0;
    let error: unknown;
    for (const [g, group] of groups.entries()) {
      // a refused batch is written one change at a time, so only what the table does not take stays behind
      const { refused, away } = await this.table.writeBatchOrEach(this.db, group.map(changeOf));
      for (const [i, w] of group.entries()) {
        if (away !== undefined && i >= away.from) {
          kept.push(tried(w));
        } else if (refused.has(i)) {
          // a refusal is certain: nothing of it was written, so the change is kept as it is
          error = refused.get(i);
          this.refused.add(ruidOf(w));
          kept.push(w);
        } else {
          written++;
          this.refused.delete(ruidOf(w));
        }
      }
      if (away !== undefined) {
        // stop: the database is away; the later groups were not tried
        error = away.error;
        kept.push(...groups.slice(g + 1).flat());
        break;
      }
    }
    this.inFlight = new Map();
    for (const w of kept) {
      const newer = this.pending.get(ruidOf(w));
      const merged = newer === undefined ? w : coalesce(w, newer);
      if (merged === undefined) this.pending.delete(ruidOf(w));
      else this.pending.set(ruidOf(w), merged);
    }
    for (const ruid of this.refused) if (!this.pending.has(ruid)) this.refused.delete(ruid);
    return kept.length === 0 ? { written, kept: 0 } : { written, kept: kept.length, error };
  }

  private put(w: PendingWrite): void {
    const ruid = ruidOf(w);
    // a contact in the flush under way: that flush writes the older state, this one the newer
    const older = this.pending.get(ruid) ?? (this.inFlight.has(ruid) ? tried(this.inFlight.get(ruid)!) : undefined);
    const next = coalesce(older, w);
    if (next === undefined) this.pending.delete(ruid);
    else this.pending.set(ruid, next);
  }
}

/** A change tried when the database went away: its insert may have happened, so it is retried as an update. */
function tried(w: PendingWrite): PendingWrite {
  return w.op === 'insert' ? { op: 'update', rec: w.rec } : w;
}
