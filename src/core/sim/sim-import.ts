/**
 * Bulk load of SIM cards from a CSV or SIM-vendor output file into the `sim` table.
 *
 * Two passes over the input:
 *  1. a parse-only scan (no validation, no database) that finds file-level problems — an unknown
 *     format, a bad header, a vendor file whose rows do not add up to its Quantity (a truncated
 *     file) — before anything is written, and counts the rows for the progress bar;
 *  2. parse, decrypt (transport key), validate, then write in batches: each batch (10,000 rows by
 *     default) is one transaction of multi-row INSERTs of 1,000 rows (one transaction for the whole
 *     file with `atomic`). Committing every 10,000 rows rather than every 1,000 keeps SQLite's
 *     per-commit cost (BEGIN IMMEDIATE … COMMIT with a WAL sync) from dominating a bulk load, while a
 *     transaction still holds the write lock for well under a second.
 *
 * Each INSERT is first tried optimistically; only if it hits a unique key are the clashing rows
 * looked up (one SELECT per statement's rows, never one per row) and sorted out:
 *   - a row whose IMSI is stored already with the same Ki, OPc and ICCID is "skipped" (re-running an
 *     import is harmless);
 *   - a row whose IMSI is stored with different key material, whose Ki is another card's, or whose
 *     ICCID is another card's is "rejected", as is a row repeating an IMSI, ICCID or Ki of an
 *     earlier line in the same file, and every row that fails validation.
 * Rejections carry the line number and a reason naming the field — never a key's value.
 * With `atomic`, any rejection rolls back everything. `dryRun` does all the checks, writes nothing.
 */
import { LineSplitter } from './line-splitter.js';
import { SimLineDriver, createTransportDecryptor, type ParsedLine, type RawSimRow, type SimFileFormat, type SimLineParser, type TransportKeyOptions, type VendorFileParser } from './vendor-file.js';
import { assertKekForWrites, createRecordValidator, INSERT_COLS, INSERT_TUPLE, insertParams, mapSimDbError, sqlNow, type SimRecord } from './sim-records.js';
import type { Kek } from './kek.js';
import { isDuplicateKey, type Database, type Queryable, type SqlValue } from '../db/database.js';
import { assertWritable } from '../db/schema/schema.js';
import { SipctlError, ValidationError } from '../errors.js';

/** A re-openable input: called once per pass. */
export type SimImportSource = () => AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>;

export interface SimImportOptions {
  /** Default: detected from the first meaningful line. */
  format?: SimFileFormat;
  /** Operator OP for rows without opc/op (a row's opc is checked against it). */
  op?: string | Uint8Array;
  /** Decrypt ki/opc(/op) columns with the vendor's transport key before validation. */
  transport?: TransportKeyOptions;
  /** Accept 19-digit ICCIDs without a check digit (also switched on by a vendor header, see allowNoCheckDigitFromHeader). */
  allowNoCheckDigit?: boolean;
  /** batch / vendor for rows that name none. */
  batch?: string;
  vendor?: string;
  atomic?: boolean;
  dryRun?: boolean;
  /** Rows per transaction (default 10,000), written 1,000 rows per INSERT statement. */
  batchSize?: number;
  onProgress?: (p: { done: number; total: number }) => void;
  /** Seal Ki/OPc with this key-encryption key (encryption at rest, kek.ts); none: stored in the clear. */
  kek?: Kek;
}

export interface SimImportRejection {
  line: number;
  field?: string;
  reason: string;
}

export interface SimImportSummary {
  format: SimFileFormat;
  /** Data rows read (added + skipped + rejected). */
  rows: number;
  added: number;
  skipped: number;
  rejected: number;
  /** The first MAX_LISTED rejections, in file order. */
  rejections: SimImportRejection[];
  dryRun: boolean;
  atomic: boolean;
  /** true when `atomic` and a rejection rolled everything back. */
  rolledBack: boolean;
}

/** How many rejections are listed (all are counted). */
export const MAX_LISTED = 1000;

/** A problem with the file as a whole: nothing was imported. */
export class SimFileError extends SipctlError {
  override name = 'SimFileError';
  readonly line: number;
  constructor(line: number, message: string, hint?: string) {
    super('SIM_FILE_INVALID', `line ${line}: ${message}; nothing was imported`, { category: 'usage', hint, details: { line } });
    this.line = line;
  }
}

const NO_CHECK_DIGIT_KEYS = ['iccid_check_digit', 'check_digit', 'iccid_luhn', 'luhn'];
const NO_VALUES = new Set(['no', 'n', '0', 'false', 'none', 'absent', 'omitted', 'without']);

/**
 * Whether a vendor header says its ICCIDs are printed without their Luhn check digit:
 * a header key ICCID_check_digit, Check_digit, ICCID_Luhn or Luhn with the value no / 0 / false /
 * none / absent / omitted / without (case-insensitive).
 */
export function allowNoCheckDigitFromHeader(header: Record<string, string>): boolean {
  for (const k of NO_CHECK_DIGIT_KEYS) {
    const v = header[k];
    if (v !== undefined && NO_VALUES.has(v.trim().toLowerCase())) return true;
  }
  return false;
}

/**
 * Run the source's lines through the parser of its format (SimLineDriver), handing each chunk's
 * results to `each`: synchronously per chunk, no promise per line.
 */
async function parseAll(source: SimImportSource, format: SimFileFormat | undefined, scanOnly: boolean, each: (lines: ParsedLine[], parser: SimLineParser | undefined) => Promise<void> | void): Promise<SimLineDriver> {
  const splitter = new LineSplitter();
  const driver = new SimLineDriver(format, { scanOnly });
  const out: ParsedLine[] = [];
  for await (const chunk of source()) {
    for (const line of splitter.lines(chunk)) {
      for (const p of driver.push(line)) out.push(p);
      if (driver.stopped) break;
    }
    if (out.length) await each(out.splice(0), driver.parser);
    if (driver.stopped) return driver;
  }
  const last = splitter.end();
  if (last !== undefined) for (const p of driver.push(last)) out.push(p);
  for (const p of driver.end()) out.push(p);
  if (out.length) await each(out.splice(0), driver.parser);
  return driver;
}

interface Pending {
  line: number;
  r: SimRecord;
}

interface BatchResult {
  added: number;
  skipped: number;
  rejects: Array<[line: number, field: string, reason: string]>;
}

/** Rows per INSERT statement. */
const STATEMENT_ROWS = 1000;

class AtomicRollback extends Error {}

interface ExistingRow {
  imsi: string;
  iccid: string | null;
  ki: string;
  opc: string;
}

/** One SELECT finding every stored card that shares an IMSI, ICCID or Ki with the batch. */
async function findClashes(q: Queryable, rows: Pending[], kek: Kek | undefined): Promise<ExistingRow[]> {
  const imsis = rows.map((p) => p.r.imsi);
  // A stored Ki is in the clear on a plain row and a fingerprint on an encrypted one.
  const kis = kek === undefined ? rows.map((p) => p.r.ki) : rows.flatMap((p) => [p.r.ki, kek.fingerprint('ki', p.r.ki)]);
  const iccids = rows.map((p) => p.r.iccid).filter((x): x is string => x !== null);
  const marks = (n: number) => new Array(n).fill('?').join(', ');
  let sql = `SELECT imsi, iccid, ki, opc FROM sim WHERE imsi IN (${marks(imsis.length)}) UNION SELECT imsi, iccid, ki, opc FROM sim WHERE ki IN (${marks(kis.length)})`;
  const params: SqlValue[] = [...imsis, ...kis];
  if (iccids.length) {
    sql += ` UNION SELECT imsi, iccid, ki, opc FROM sim WHERE iccid IN (${marks(iccids.length)})`;
    params.push(...iccids);
  }
  return q.query<ExistingRow>(sql, params);
}

async function insertRows(q: Queryable, rows: Pending[], now: string, kek: Kek | undefined): Promise<void> {
  const params: SqlValue[] = [];
  for (const p of rows) params.push(...insertParams(p.r, now, kek));
  await q.execute(`INSERT INTO sim (${INSERT_COLS}) VALUES ${new Array(rows.length).fill(INSERT_TUPLE).join(', ')}`, params);
}

/** Stream `source` into the sim table. See the file comment for the rules. */
export async function importSims(db: Database, source: SimImportSource, opts: SimImportOptions = {}): Promise<SimImportSummary> {
  const batchSize = Math.max(1, Math.min(opts.batchSize ?? 10_000, 100_000));
  const statementRows = Math.min(STATEMENT_ROWS, batchSize);
  const dryRun = !!opts.dryRun;
  const atomic = !!opts.atomic;

  // Options first: a bad OP, transport key or label fails before the file is read.
  const validator = createRecordValidator({ op: opts.op, allowNoCheckDigit: opts.allowNoCheckDigit });
  const validatorNoCheck = opts.allowNoCheckDigit ? validator : createRecordValidator({ op: opts.op, allowNoCheckDigit: true });
  const decryptor = opts.transport ? createTransportDecryptor(opts.transport) : undefined;
  try {
    for (const [field, v] of [['batch', opts.batch], ['vendor', opts.vendor]] as const) {
      if (v !== undefined && (v.length > 64 || /[\x00-\x1f\x7f]/.test(v))) throw new ValidationError(field, v.length > 64 ? 'longer than 64 characters' : 'contains control characters');
    }

    // Pass 1: file-level problems and the row count, before anything is written. Rows are only
    // counted here (scan-only parser); they are split and checked in pass 2.
    let fileError: ParsedLine | undefined;
    const scanned = await parseAll(source, opts.format, true, (lines) => {
      for (const p of lines) if (p.fileLevel) fileError ??= p;
    });
    if (fileError) throw new SimFileError(fileError.line, fileError.error ?? 'unreadable file');
    const format = scanned.parser!.format;
    const total = scanned.parser!.rowsRead;

    if (!dryRun) await assertWritable(db, 'sim');
    await assertKekForWrites(db, opts.kek);
    const kek = opts.kek;
    /** Does a stored ki/opc column value hold this key (in the clear, or as this KEK's fingerprint)? */
    const holds = (stored: string, column: 'ki' | 'opc', hex: string) => stored === hex || (kek !== undefined && stored === kek.fingerprint(column, hex));

    const summary: SimImportSummary = { format, rows: 0, added: 0, skipped: 0, rejected: 0, rejections: [], dryRun, atomic, rolledBack: false };
    const reject = (line: number, reason: string, field?: string) => {
      summary.rejected++;
      if (summary.rejections.length < MAX_LISTED) summary.rejections.push({ line, ...(field ? { field } : {}), reason });
    };

    const run = async (q: Queryable, inTx: boolean): Promise<void> => {
      const seenImsi = new Map<string, number>();
      const seenIccid = new Map<string, number>();
      const seenKi = new Map<string, number>();
      let batch: Pending[] = [];
      let allowNoCheck: boolean | undefined;
      const now = sqlNow();

      const flush = async () => {
        if (batch.length === 0) return;
        const rows = batch;
        batch = [];
        const writeChunk = async (t: Queryable, chunk: Pending[], res: BatchResult) => {
          // Fast path: fresh rows go straight in. A unique-key clash rolls back just this statement.
          if (!dryRun) {
            try {
              await insertRows(t, chunk, now, kek);
              res.added += chunk.length;
              return;
            } catch (e) {
              if (!isDuplicateKey(e)) throw mapSimDbError(e, db);
            }
          }
          const found = await findClashes(t, chunk, kek);
          const byImsi = new Map<string, ExistingRow>();
          const byKi = new Map<string, ExistingRow>();
          const byIccid = new Map<string, ExistingRow>();
          for (const f of found) {
            byImsi.set(f.imsi, f);
            byKi.set(f.ki, f);
            if (f.iccid !== null) byIccid.set(f.iccid, f);
          }
          const fresh: Pending[] = [];
          for (const p of chunk) {
            const ex = byImsi.get(p.r.imsi);
            if (ex) {
              const differs = !holds(ex.ki, 'ki', p.r.ki) ? 'ki' : !holds(ex.opc, 'opc', p.r.opc) ? 'opc' : (ex.iccid ?? null) !== p.r.iccid ? 'iccid' : undefined;
              if (differs === undefined) res.skipped++;
              else res.rejects.push([p.line, 'imsi', `imsi: ${p.r.imsi} is already stored with a different ${differs}`]);
              continue;
            }
            const kiOwner = byKi.get(p.r.ki) ?? (kek === undefined ? undefined : byKi.get(kek.fingerprint('ki', p.r.ki)));
            if (kiOwner) {
              res.rejects.push([p.line, 'ki', `ki: already used by another card (IMSI ${kiOwner.imsi})`]);
              continue;
            }
            const iccidOwner = p.r.iccid === null ? undefined : byIccid.get(p.r.iccid);
            if (iccidOwner) {
              res.rejects.push([p.line, 'iccid', `iccid: already used by another card (IMSI ${iccidOwner.imsi})`]);
              continue;
            }
            fresh.push(p);
          }
          if (!dryRun && fresh.length) {
            try {
              await insertRows(t, fresh, now, kek);
            } catch (e) {
              throw mapSimDbError(e, db);
            }
          }
          res.added += fresh.length;
        };
        const writeBatch = async (t: Queryable): Promise<BatchResult> => {
          const res: BatchResult = { added: 0, skipped: 0, rejects: [] };
          for (let i = 0; i < rows.length; i += statementRows) await writeChunk(t, rows.slice(i, i + statementRows), res);
          return res;
        };
        const res = inTx || dryRun ? await writeBatch(q) : await db.transaction(writeBatch);
        summary.added += res.added;
        summary.skipped += res.skipped;
        for (const [line, field, reason] of res.rejects) reject(line, reason, field);
        opts.onProgress?.({ done: summary.rows, total });
      };

      await parseAll(source, opts.format, false, async (lines, parser) => {
        for (const p of lines) {
          if (p.fileLevel) throw new SimFileError(p.line, p.error ?? 'unreadable file'); // pass 1 saw none: the input changed
          summary.rows++;
          if (p.error !== undefined) {
            reject(p.line, p.error);
            continue;
          }
          let raw: RawSimRow = p.record!;
          if (opts.batch !== undefined && raw.batch === undefined) raw = { ...raw, batch: opts.batch };
          if (opts.vendor !== undefined && raw.vendor === undefined) raw = { ...raw, vendor: opts.vendor };
          if (allowNoCheck === undefined) allowNoCheck = parser?.format === 'vendor' && allowNoCheckDigitFromHeader((parser as VendorFileParser).header);
          let r: SimRecord;
          try {
            if (decryptor) raw = decryptor.decrypt(raw);
            r = (allowNoCheck ? validatorNoCheck : validator).validate(raw, p.line);
          } catch (e) {
            if (!(e instanceof ValidationError)) throw e;
            const bare = e.message.replace(/^line \d+: /, '');
            reject(p.line, bare, e.field);
            continue;
          }
          const dupImsi = seenImsi.get(r.imsi);
          if (dupImsi !== undefined) {
            reject(p.line, `imsi: ${r.imsi} already appears on line ${dupImsi}`, 'imsi');
            continue;
          }
          const dupKi = seenKi.get(r.ki);
          if (dupKi !== undefined) {
            reject(p.line, `ki: same Ki as line ${dupKi}`, 'ki');
            continue;
          }
          const dupIccid = r.iccid === null ? undefined : seenIccid.get(r.iccid);
          if (dupIccid !== undefined) {
            reject(p.line, `iccid: ${r.iccid} already appears on line ${dupIccid}`, 'iccid');
            continue;
          }
          seenImsi.set(r.imsi, p.line);
          seenKi.set(r.ki, p.line);
          if (r.iccid !== null) seenIccid.set(r.iccid, p.line);
          batch.push({ line: p.line, r });
          if (batch.length >= batchSize) await flush();
        }
      });
      await flush();
      if (atomic && summary.rejected > 0) throw new AtomicRollback();
    };

    if (atomic && !dryRun) {
      try {
        await db.transaction((tx) => run(tx, true));
      } catch (e) {
        if (!(e instanceof AtomicRollback)) throw e;
        summary.rolledBack = true;
      }
    } else {
      try {
        await run(db, false);
      } catch (e) {
        if (!(e instanceof AtomicRollback)) throw e;
        summary.rolledBack = true; // atomic dry run: report as the real run would end
      }
    }
    if (summary.rolledBack) {
      summary.added = 0;
      summary.skipped = 0;
    }
    summary.rejections.sort((a, b) => a.line - b.line);
    return summary;
  } finally {
    validator.dispose();
    if (validatorNoCheck !== validator) validatorNoCheck.dispose();
    decryptor?.dispose();
  }
}
