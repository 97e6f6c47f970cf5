/**
 * Group commit for the location table. Write-through stays write-through: a REGISTER is answered
 * only once its change is committed. But the changes asked for in one turn of the event loop go
 * to the database together, as one batch (LocationTable.writeBatch: a statement per kind of
 * change, one transaction at most), instead of one transaction of three round trips each. Under
 * load the batches grow by themselves: while one is being written (at most `maxInFlight` at a
 * time), the next one collects everything that arrives meanwhile. On MySQL a batch also starts at
 * most every `minIntervalMs` (4 ms, so at most 250 batches a second): a statement costs this
 * process about the same CPU whether it carries one row or a few (bench/usrloc-writer-bench.ts:
 * per row 390–590 µs alone, 150–190 µs in fours, 70 µs in sixteens), and one-row batches made the
 * write the largest part of a REGISTER's CPU (issue 14). A change that arrives while the writer
 * has been idle for that long is not held: its batch starts at once.
 *
 * Ordering is the caller's: usrloc writes an AoR only under its lock and waits for the write, so
 * two changes of one AoR are never in flight together.
 *
 * A failing batch must not fail requests that had nothing to do with the cause: when the database
 * refuses a batch, each change is written again on its own and only the guilty one fails; when it
 * does not answer, every change not written yet fails at once (LocationTable.writeBatchOrEach).
 */
import type { Database } from '../../../core/db/database.js';
import type { ContactChange, LocationTable } from './location-db.js';

interface Pending {
  change: ContactChange;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export interface WriterOptions {
  /** batches being written at once; default 2 on MySQL (one fills while one is written), 1 on SQLite */
  maxInFlight?: number;
  /** changes per batch; default 500 */
  maxBatch?: number;
  /** least time between the starts of two batches; default 4 ms on MySQL, 0 on SQLite (a commit there is an fsync, not a round trip) */
  minIntervalMs?: number;
}

export class LocationWriter {
  private queue: Pending[] = [];
  private scheduled = false;
  private running = 0;
  private readonly maxInFlight: number;
  private readonly maxBatch: number;
  private readonly minIntervalMs: number;
  /** when the last batch started (ms, monotonic) */
  private lastStart = -Infinity;

  constructor(private readonly table: LocationTable, private readonly db: Database, opts: WriterOptions = {}) {
    this.maxInFlight = opts.maxInFlight ?? (db.engine === 'mysql' ? 2 : 1);
    this.maxBatch = opts.maxBatch ?? 500;
    this.minIntervalMs = opts.minIntervalMs ?? (db.engine === 'mysql' ? 4 : 0);
  }

  /** Resolves once the change is committed; rejects when it was not written. */
  write(change: ContactChange): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ change, resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (this.scheduled || this.running >= this.maxInFlight || this.queue.length === 0) return;
    this.scheduled = true;
    // After this turn's I/O callbacks: every REGISTER that arrived in it is in the batch; and not
    // before minIntervalMs since the last batch started, so under load each batch carries more.
    const wait = this.lastStart + this.minIntervalMs - performance.now();
    const start = (): void => {
      this.scheduled = false;
      this.lastStart = performance.now();
      while (this.running < this.maxInFlight && this.queue.length > 0) {
        const batch = this.queue.length <= this.maxBatch ? this.queue : this.queue.slice(0, this.maxBatch);
        this.queue = batch === this.queue ? [] : this.queue.slice(this.maxBatch);
        this.running++;
        void this.writeOut(batch).finally(() => {
          this.running--;
          this.kick();
        });
      }
    };
    if (wait > 0) setTimeout(start, wait);
    else setImmediate(start);
  }

  /** Write one batch and answer each of its requests. */
  private async writeOut(batch: Pending[]): Promise<void> {
    const { refused, away } = await this.table.writeBatchOrEach(this.db, batch.map((p) => p.change));
    for (const [i, p] of batch.entries()) {
      if (away !== undefined && i >= away.from) p.reject(away.error);
      else if (refused.has(i)) p.reject(refused.get(i));
      else p.resolve();
    }
  }
}
