/**
 * The acc module: accounting of calls (Kamailio's acc, with its CDR support). Other modules hand
 * it events (the INVITE's final response, the BYE) and one CDR per call; they are queued and
 * written in batches, one transaction every `flush_interval` ms, so call handling never waits
 * for the database. A failed write is retried with the next batch (the queue is bounded by
 * `max_queue`; beyond it the oldest records are dropped and counted). Everything queued is
 * written at shutdown.
 *
 * The CDR of an answered call carries a unique key (acc_cdrs.dialog_key, records.ts dialogKey)
 * and the insert skips a row whose key is already there: in a cluster a CDR can reach the
 * database twice (a node that dies after its batch committed, before the dialog module removed
 * the call's tombstone from Redis: the node that claims the tombstone writes it again). Whoever
 * hands over a CDR learns when it is written (or dropped) through onCdrs, once per batch.
 *
 * A table made by Kamailio's own scripts has no extra columns: the module notices at start and
 * writes only Kamailio's columns there (with a warning), rather than failing.
 */
import { ConfigError } from '../../../core/errors.js';
import type { Database } from '../../../core/db/database.js';
import { defineModule, type Logger } from '../../kernel/module.js';
import { closeModuleDb, openModuleDb, assertTableName, type ModuleDbDependency } from '../../kernel/module-db.js';
import { ACC_BASE, ACC_EXTRA, CDR_BASE, CDR_EXTRA, CDR_KEY, accRow, cdrRow, type AccEvent, type CdrRecord } from './records.js';
import { toColumnText } from '../../../core/db/charset.js';
import { statementChunks } from '../../../core/db/statement-sizes.js';

export interface AccApi {
  /** one accounted transaction (acc table) */
  event(e: AccEvent): void;
  /** one finished call (acc_cdrs table) */
  cdr(c: CdrRecord): void;
  /** does cdr() write anything (cdr_enable, and a database)? */
  writesCdrs(): boolean;
  /**
   * Write everything queued before this call: resolves once a batch that started after it ended
   * (written, or back in the queue when the write failed: see acc.stats failed_writes).
   */
  flush(): Promise<void>;
  /**
   * The CDRs (the objects given to cdr()) of each batch once its transaction committed
   * ('written'), and those dropped unwritten beyond max_queue ('dropped'). A promise the listener
   * returns is awaited at shutdown only, never by the batches.
   */
  onCdrs(listener: (cdrs: readonly CdrRecord[], outcome: 'written' | 'dropped') => Promise<unknown> | void): void;
  /** records waiting to be written (bounded by max_queue; stats sipd:acc_queue) */
  queued(): number;
}

export interface AccDeps {
  db?: ModuleDbDependency;
}

const params = {
  db_table_acc: { type: 'string', default: 'acc', doc: 'table of accounted transactions (Kamailio acc v5)' },
  cdrs_table: { type: 'string', default: 'acc_cdrs', doc: 'table of call detail records (Kamailio acc_cdrs v2, with extra columns)' },
  log_transactions: { type: 'boolean', default: true, doc: 'also write one acc row per INVITE final response and BYE (Kamailio log_flag / db_flag)' },
  cdr_enable: { type: 'boolean', default: true, doc: 'write one acc_cdrs row per call (Kamailio cdr_enable)' },
  flush_interval: { type: 'integer', default: 200, min: 10, max: 60_000, doc: 'ms between batched writes' },
  max_queue: { type: 'integer', default: 100_000, min: 100, max: 10_000_000, doc: 'records held while the database is slow or down; beyond it the oldest are dropped' },
} as const;

type Row = { table: 'acc' | 'cdr'; values: Array<string | number | null>; cdr?: CdrRecord };

export function createAccModule(deps: AccDeps = {}) {
  let db: Database | undefined;
  let ownsDb = false;
  let log: Logger | undefined;
  let accTable = 'acc';
  let cdrTable = 'acc_cdrs';
  let accExtra = true;
  let cdrExtra = true;
  /** acc_cdrs has dialog_key (sipctl db init): answered calls' CDRs are keyed, a second one skipped */
  let cdrKeyed = true;
  let logTx = true;
  let cdrOn = true;
  let maxQueue = 100_000;
  let queue: Row[] = [];
  let timer: NodeJS.Timeout | undefined;
  /** the batch being written, and the flush that follows it (one at a time) */
  let writing: Promise<void> | undefined;
  let nextFlush: Promise<void> | undefined;
  const counts = { written: 0, failed_writes: 0, dropped: 0 };
  const cdrListeners: Array<(cdrs: readonly CdrRecord[], outcome: 'written' | 'dropped') => Promise<unknown> | void> = [];
  /** what the listeners returned and has not settled: awaited at shutdown */
  const told = new Set<Promise<unknown>>();

  function tell(cdrs: readonly CdrRecord[], outcome: 'written' | 'dropped'): void {
    if (cdrs.length === 0) return;
    for (const l of cdrListeners) {
      let r: Promise<unknown> | void;
      try {
        r = l(cdrs, outcome);
      } catch (e) {
        log?.error('acc: a CDR listener failed', { outcome, error: e instanceof Error ? e.message : String(e) });
        continue;
      }
      if (r === undefined) continue;
      const p = r.catch((e: unknown) => log?.error('acc: a CDR listener failed', { outcome, error: e instanceof Error ? e.message : String(e) }));
      told.add(p);
      void p.finally(() => told.delete(p));
    }
  }

  const push = (r: Row) => {
    if (db === undefined) return;
    if (queue.length >= maxQueue) {
      const gone = queue.shift()!;
      counts.dropped++;
      if (gone.cdr !== undefined) tell([gone.cdr], 'dropped');
    }
    queue.push(r);
  };

  /** One multi-row INSERT per table and chunk: a batch costs a few statements, not one per record. */
  const CHUNK = 256;
  const insertSql = (table: string, cols: readonly string[], rows: number) => {
    const one = `(${cols.map(() => '?').join(', ')})`;
    const sql = `INSERT INTO ${table} (${cols.join(', ')}) VALUES ${Array.from({ length: rows }, () => one).join(', ')}`;
    if (!cols.includes(CDR_KEY)) return sql;
    // A CDR whose dialog_key is there already is skipped — nothing else is: INSERT IGNORE /
    // OR IGNORE would also turn other failures (a NOT NULL violation, bad data) into silent skips.
    return db!.engine === 'mysql' ? `${sql} ON DUPLICATE KEY UPDATE ${CDR_KEY} = ${CDR_KEY}` : `${sql} ON CONFLICT (${CDR_KEY}) DO NOTHING`;
  };

  async function writeBatch(): Promise<void> {
    if (db === undefined || queue.length === 0) return;
    const batch = queue;
    queue = [];
    const accCols = accExtra ? [...ACC_BASE, ...ACC_EXTRA] : ACC_BASE;
    const cdrCols = cdrExtra ? (cdrKeyed ? [...CDR_BASE, ...CDR_EXTRA, CDR_KEY] : [...CDR_BASE, ...CDR_EXTRA]) : CDR_BASE;
    try {
      await db.transaction(async (tx) => {
        for (const [kind, table, cols] of [['acc', accTable, accCols], ['cdr', cdrTable, cdrCols]] as const) {
          const rows = batch.filter((r) => r.table === kind);
          // chunks of 2^k rows: a bounded set of statement texts, so of cached prepared statements (statement-sizes.ts)
          for (const chunk of statementChunks(rows, CHUNK)) {
            // Header values come from the network: a character the latin1 column cannot hold becomes
            // '?', else MariaDB refuses the whole batch and it would be retried forever.
            await tx.execute(insertSql(table, cols, chunk.length), chunk.flatMap((r) => r.values.map((v) => (typeof v === 'string' ? toColumnText(v) : v))));
          }
        }
      });
    } catch (e) {
      counts.failed_writes++;
      log?.error('acc: writing records failed; retrying with the next batch', { records: batch.length, error: e instanceof Error ? e.message : String(e) });
      const all = [...batch, ...queue];
      const over = all.length - maxQueue;
      if (over > 0) {
        counts.dropped += over;
        tell(all.slice(0, over).flatMap((r) => (r.cdr === undefined ? [] : [r.cdr])), 'dropped');
      }
      queue = over > 0 ? all.slice(over) : all;
      return;
    }
    counts.written += batch.length;
    tell(batch.flatMap((r) => (r.cdr === undefined ? [] : [r.cdr])), 'written');
  }

  function startBatch(): Promise<void> {
    const p: Promise<void> = writeBatch().finally(() => {
      if (writing === p) writing = undefined;
    });
    writing = p;
    return p;
  }

  /**
   * A batch under way took the queue as it was when it began: a caller (shutdown, a test) must
   * not be answered by it for records queued since. So: the running batch, then one more, shared
   * by every caller meanwhile (it takes everything queued up to its own start).
   */
  const flush = (): Promise<void> => {
    if (writing === undefined) return startBatch();
    nextFlush ??= writing.then(() => {
      nextFlush = undefined;
      return startBatch();
    });
    return nextFlush;
  };

  /** Does `table` have every column in `cols`? */
  async function hasColumns(table: string, cols: readonly string[]): Promise<boolean> {
    try {
      await db!.query(`SELECT ${cols.join(', ')} FROM ${table} WHERE 1 = 0`);
      return true;
    } catch {
      return false;
    }
  }

  const api: AccApi = {
    queued: () => queue.length,
    event(e) {
      if (logTx) push({ table: 'acc', values: accRow(e, accExtra) });
    },
    cdr(c) {
      if (cdrOn) push({ table: 'cdr', values: cdrRow(c, cdrExtra, cdrExtra && cdrKeyed), cdr: c });
    },
    writesCdrs: () => cdrOn && db !== undefined,
    flush,
    onCdrs: (l) => void cdrListeners.push(l),
  };

  return defineModule({
    name: 'acc',
    params,
    async init(ctx) {
      log = ctx.log;
      const p = ctx.params;
      assertTableName('acc.db_table_acc', p.db_table_acc);
      assertTableName('acc.cdrs_table', p.cdrs_table);
      accTable = p.db_table_acc;
      cdrTable = p.cdrs_table;
      logTx = p.log_transactions;
      cdrOn = p.cdr_enable;
      maxQueue = p.max_queue;
      if (deps.db === undefined) throw new ConfigError('MODULE_DEPENDENCY', 'acc needs a database with the acc and acc_cdrs tables');
      ({ db, owned: ownsDb } = await openModuleDb(deps.db));
      for (const [on, table, base, extra, set] of [
        [logTx, accTable, ACC_BASE, ACC_EXTRA, (v: boolean) => (accExtra = v)],
        [cdrOn, cdrTable, CDR_BASE, CDR_EXTRA, (v: boolean) => (cdrExtra = v)],
      ] as const) {
        if (!on) continue;
        if (await hasColumns(table, [...base, ...extra])) set(true);
        else if (await hasColumns(table, base)) {
          set(false);
          ctx.log.warn('acc: table lacks the extra columns (caller, callee, disposition); writing Kamailio\'s columns only', { table, hint: 'create it with `sipctl db init`' });
        } else throw new ConfigError('SCHEMA_MISSING', `acc: table ${table} is missing`, 'run `sipctl db init`');
      }
      cdrKeyed = cdrOn && cdrExtra && (await hasColumns(cdrTable, [CDR_KEY]));
      if (cdrOn && cdrExtra && !cdrKeyed) {
        ctx.log.warn('acc: the CDR table has no dialog_key column: a CDR written again after a node died (sipd --cluster) is not recognised as a duplicate', { table: cdrTable, hint: 'run `sipctl db init` (it adds the column)' });
      }
      timer = setInterval(() => void flush(), p.flush_interval);
      timer.unref();
    },
    async destroy() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      await flush();
      // the listeners' follow-up (the dialog module removes the batch's tombstones from Redis)
      await Promise.allSettled([...told]);
      await closeModuleDb(db, ownsDb);
      db = undefined;
      ownsDb = false;
    },
    rpc: {
      'acc.stats': {
        doc: 'sipd: accounting records queued, written, dropped, and failed batch writes',
        handler: () => ({ queued: queue.length, ...counts }),
      },
    },
    api,
  });
}
