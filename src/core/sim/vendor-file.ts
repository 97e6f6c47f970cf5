/**
 * Parsers for SIM personalisation output: a CSV with a header row, and the common
 * SIM-vendor ".out" file (a `key: value` header block, a `var_out:` column list,
 * then one whitespace-separated row per card).
 *
 * Both are line-at-a-time state machines, so a caller can stream a 100,000-card file:
 * every line yields at most a few `ParsedLine` items — a raw record, a per-line error, or a
 * file-level problem (`fileLevel: true`). Values are returned as found (trimmed, not
 * validated): validation.ts decides whether they are acceptable. Nothing here logs values.
 *
 *   parseSimText(text)        sync generator over a whole string (format auto-detected)
 *   parseSimStream(chunks)    async generator over string/Buffer chunks (e.g. fs.createReadStream)
 *   parseSimCsv(text) / parseVendorFile(text)   one format, no detection
 *   createSimParser(format)   the underlying push parser, which also exposes the vendor header
 */
import { createDecipheriv } from 'node:crypto';
import { ValidationError } from '../errors.js';
import { LineSplitter, textLines } from './line-splitter.js';
import { checkBytes, hexToBytes, wipe } from './milenage.js';

/** One card as found in a source file: trimmed strings, not yet validated. */
export interface RawSimRow {
  imsi?: string;
  iccid?: string;
  msisdn?: string;
  ki?: string;
  opc?: string;
  op?: string;
  amf?: string;
  sqn?: string;
  batch?: string;
  vendor?: string;
}

export type SimField = keyof RawSimRow;

/** One parser output: a record, or an error for that line, or (fileLevel) a problem with the file as a whole. */
export interface ParsedLine {
  /** 1-based line number in the source (for file-level problems: the line concerned, or the last line). */
  line: number;
  record?: RawSimRow;
  error?: string;
  /** Set on problems with the whole file (bad header, Quantity mismatch, unknown format). */
  fileLevel?: boolean;
}

export type SimFileFormat = 'csv' | 'vendor';

/** Columns a CSV header may name (case-insensitive). */
export const CSV_COLUMNS: readonly SimField[] = ['imsi', 'iccid', 'msisdn', 'ki', 'opc', 'op', 'amf', 'sqn', 'batch', 'vendor'];
/** Columns a CSV must have. */
export const CSV_REQUIRED: readonly SimField[] = ['imsi', 'ki'];
/** var_out names we map (case-insensitive); every other var_out column (PIN1, PUK1, ADM1, KIC1…) is ignored. */
export const VENDOR_COLUMNS: readonly SimField[] = ['imsi', 'iccid', 'ki', 'opc', 'op', 'msisdn', 'amf', 'sqn'];
/** var_out columns a vendor file must have. */
export const VENDOR_REQUIRED: readonly SimField[] = ['imsi', 'ki'];

/** A push parser: feed lines in order, then call end(). */
export interface SimLineParser {
  readonly format: SimFileFormat;
  /** Data rows seen so far (records and rows with errors alike). */
  readonly rowsRead: number;
  push(line: string, lineNo: number): ParsedLine[];
  end(): ParsedLine[];
}

export interface SimParserOptions {
  /**
   * Check the file's structure only: header, var_out, Quantity, end of file. Data rows are counted
   * (rowsRead) but not split or returned, so a first pass over a big file costs little.
   */
  scanOnly?: boolean;
}

const NONE: ParsedLine[] = [];

/**
 * What both file formats read of a line: without the UTF-8 BOM an editor may put before line 1,
 * or undefined for a blank line or a '#' comment (those say nothing in either format).
 */
function contentLine(raw: string, lineNo: number): string | undefined {
  const line = lineNo === 1 ? raw.replace(/^\uFEFF/, '') : raw;
  const t = line.trim();
  return t === '' || t.startsWith('#') ? undefined : line;
}

const VENDOR_KV = /^\s*([A-Za-z][A-Za-z0-9_ .\-]*?)\s*:\s*(.*)$/;
const VAR_OUT = /^\s*var_out\s*:(.*)$/i;
const VAR_IN = /^\s*var_in\s*:(.*)$/i;

/** Classify one line: null when it says nothing (blank, comment). */
function classifyLine(line: string): SimFileFormat | 'unknown' | null {
  const t = line.replace(/^\uFEFF/, '').trim();
  if (t === '' || t.startsWith('#')) return null;
  if (t.startsWith('*') || VAR_OUT.test(t) || VAR_IN.test(t) || VENDOR_KV.test(t)) return 'vendor';
  const cells = splitCsvLine(t);
  if ('fields' in cells && cells.fields.some((c) => (CSV_COLUMNS as readonly string[]).includes(c.trim().toLowerCase()))) return 'csv';
  return 'unknown';
}

/**
 * Guess the format from the start of a file: the first line that is not blank or a '#' comment
 * decides. `key: value`, `var_out:`, `var_in:` or a `*SECTION*` marker → 'vendor'; a comma-separated
 * row naming at least one known column → 'csv'; anything else → 'unknown'.
 */
export function detectFormat(firstChunk: string): SimFileFormat | 'unknown' {
  for (const line of textLines(firstChunk)) {
    const c = classifyLine(line);
    if (c !== null) return c;
  }
  return 'unknown';
}

// ---------------------------------------------------------------------------------------------
// CSV

type CsvSplit = { fields: string[] } | { error: string };

/**
 * Split one line of simple CSV: comma-separated; a field may be wrapped in double quotes, inside
 * which "" is a literal quote and commas are literal. Fields do not span lines. Fields are trimmed.
 */
export function splitCsvLine(line: string): CsvSplit {
  const fields: string[] = [];
  let i = 0;
  const n = line.length;
  for (;;) {
    while (i < n && (line[i] === ' ' || line[i] === '\t')) i++;
    if (line[i] === '"') {
      i++;
      let v = '';
      for (;;) {
        if (i >= n) return { error: 'unterminated double quote' };
        const ch = line[i];
        if (ch === '"') {
          if (line[i + 1] === '"') { v += '"'; i += 2; continue; }
          i++;
          break;
        }
        v += ch;
        i++;
      }
      while (i < n && (line[i] === ' ' || line[i] === '\t')) i++;
      if (i < n && line[i] !== ',') return { error: `unexpected character after closing quote in field ${fields.length + 1}` };
      fields.push(v.trim());
    } else {
      const j = line.indexOf(',', i);
      const end = j === -1 ? n : j;
      fields.push(line.slice(i, end).trim());
      i = end;
    }
    if (i >= n) return { fields };
    i++; // skip the comma
    if (i >= n) { fields.push(''); return { fields }; }
  }
}

class CsvParser implements SimLineParser {
  readonly format = 'csv' as const;
  columns: Array<SimField> | undefined;
  rowsRead = 0;
  #dead = false;
  #lastLine = 0;
  readonly #scanOnly: boolean;

  constructor(opts: SimParserOptions = {}) {
    this.#scanOnly = !!opts.scanOnly;
  }

  push(raw: string, lineNo: number): ParsedLine[] {
    this.#lastLine = lineNo;
    if (this.#dead) return NONE;
    const line = contentLine(raw, lineNo);
    if (line === undefined) return NONE;
    if (this.columns !== undefined) {
      this.rowsRead++;
      if (this.#scanOnly) return NONE;
    }
    const split = splitCsvLine(line);
    if (this.columns === undefined) {
      if ('error' in split) return this.#die(lineNo, `header row: ${split.error}`);
      return this.#header(split.fields, lineNo);
    }
    if ('error' in split) return [{ line: lineNo, error: split.error }];
    const { fields } = split;
    if (fields.length !== this.columns.length) {
      return [{ line: lineNo, error: `expected ${this.columns.length} fields (${this.columns.join(',')}), got ${fields.length}` }];
    }
    const record: RawSimRow = {};
    for (let k = 0; k < fields.length; k++) if (fields[k] !== '') record[this.columns[k]] = fields[k];
    return [{ line: lineNo, record }];
  }

  #header(names: string[], lineNo: number): ParsedLine[] {
    const cols = names.map((s) => s.trim().toLowerCase());
    const unknown = cols.filter((c) => !(CSV_COLUMNS as readonly string[]).includes(c));
    if (unknown.length > 0) {
      return this.#die(lineNo, `unknown column${unknown.length > 1 ? 's' : ''} ${unknown.map((c) => JSON.stringify(c)).join(', ')} (known: ${CSV_COLUMNS.join(', ')})`);
    }
    const dup = cols.filter((c, k) => cols.indexOf(c) !== k);
    if (dup.length > 0) return this.#die(lineNo, `duplicate column ${[...new Set(dup)].join(', ')}`);
    const missing = CSV_REQUIRED.filter((c) => !cols.includes(c));
    if (missing.length > 0) return this.#die(lineNo, `missing required column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
    this.columns = cols as SimField[];
    return NONE;
  }

  #die(lineNo: number, error: string): ParsedLine[] {
    this.#dead = true;
    return [{ line: lineNo, error, fileLevel: true }];
  }

  end(): ParsedLine[] {
    if (this.#dead || this.columns !== undefined) return NONE;
    return [{ line: this.#lastLine, error: 'no header row: the file is empty or holds only comments', fileLevel: true }];
  }
}

// ---------------------------------------------------------------------------------------------
// Vendor output file

/**
 * The vendor ".out" layout, as written by common SIM personalisation tools:
 *
 *   *HEADER DATA*
 *   Customer : Example Networks
 *   Quantity : 3
 *   Type : USIM
 *   Batch : EXN2401
 *   Transport_key : 1
 *   *INPUT VARIABLES*
 *   var_In:
 *    ICCID: 8944...
 *    IMSI: 001010000000001
 *   *OUTPUT VARIABLES*
 *   var_Out: ICCID/IMSI/PIN1/PUK1/Ki/OPC
 *   8944... 001010000000001 1234 12345678 <32 hex> <32 hex>
 *
 * Header keys are kept lower-cased with spaces → '_' (`header.quantity`, `header.transport_key`);
 * `var_In` values (the start values the vendor was given) are kept separately in `inputVariables`.
 * A header `Batch` is copied to each record's `batch`. `*…*` section lines and '#' comments are ignored.
 */
export class VendorFileParser implements SimLineParser {
  readonly format = 'vendor' as const;
  readonly header: Record<string, string> = {};
  readonly inputVariables: Record<string, string> = {};
  /** The var_out column names as written. */
  varOut: string[] | undefined;
  rowsRead = 0;
  #map: Array<SimField | undefined> = [];
  #inVarIn = false;
  #dead = false;
  #quantityLine = 0;
  #lastLine = 0;
  readonly #scanOnly: boolean;

  constructor(opts: SimParserOptions = {}) {
    this.#scanOnly = !!opts.scanOnly;
  }

  push(raw: string, lineNo: number): ParsedLine[] {
    this.#lastLine = lineNo;
    if (this.#dead) return NONE;
    const line = contentLine(raw, lineNo);
    if (line === undefined) return NONE;
    const t = line.trim();

    if (this.varOut !== undefined) {
      if (this.#scanOnly) {
        this.rowsRead++;
        return NONE;
      }
      return this.#row(t, lineNo);
    }

    if (t.startsWith('*')) { this.#inVarIn = false; return NONE; }
    const out = VAR_OUT.exec(t);
    if (out) return this.#varOut(out[1], lineNo);
    if (VAR_IN.test(t)) { this.#inVarIn = true; return NONE; }
    const kv = VENDOR_KV.exec(t);
    if (kv) {
      const key = kv[1].trim().toLowerCase().replace(/\s+/g, '_');
      if (this.#inVarIn) {
        this.inputVariables[key] = kv[2].trim();
      } else {
        this.header[key] = kv[2].trim();
        if (key === 'quantity') this.#quantityLine = lineNo;
      }
      return NONE;
    }
    return [{ line: lineNo, error: 'unexpected line before var_out (expected "key: value", a *SECTION* marker or var_out)' }];
  }

  #varOut(spec: string, lineNo: number): ParsedLine[] {
    const names = spec.split(/[\/\s]+/).filter((s) => s !== '');
    if (names.length === 0) return this.#die(lineNo, 'var_out lists no columns');
    const map = names.map((n) => {
      const k = n.toLowerCase();
      return (VENDOR_COLUMNS as readonly string[]).includes(k) ? (k as SimField) : undefined;
    });
    const known = map.filter((m): m is SimField => m !== undefined);
    const dup = known.filter((c, k) => known.indexOf(c) !== k);
    if (dup.length > 0) return this.#die(lineNo, `var_out names ${[...new Set(dup)].join(', ')} more than once`);
    const missing = VENDOR_REQUIRED.filter((c) => !known.includes(c));
    if (missing.length > 0) return this.#die(lineNo, `var_out lacks ${missing.map((m) => m.toUpperCase()).join(' and ')} (columns: ${names.join('/')})`);
    this.varOut = names;
    this.#map = map;
    return NONE;
  }

  #row(t: string, lineNo: number): ParsedLine[] {
    this.rowsRead++;
    const fields = t.split(/\s+/);
    const want = this.#map.length;
    if (fields.length !== want) {
      return [{ line: lineNo, error: `expected ${want} fields (${this.varOut!.join('/')}), got ${fields.length}${fields.length < want ? ': truncated line?' : ''}` }];
    }
    const record: RawSimRow = {};
    for (let k = 0; k < want; k++) {
      const f = this.#map[k];
      if (f !== undefined) record[f] = fields[k];
    }
    const batch = this.header.batch;
    if (batch && record.batch === undefined) record.batch = batch;
    return [{ line: lineNo, record }];
  }

  #die(lineNo: number, error: string): ParsedLine[] {
    this.#dead = true;
    return [{ line: lineNo, error, fileLevel: true }];
  }

  end(): ParsedLine[] {
    if (this.#dead) return NONE;
    if (this.varOut === undefined) {
      return [{ line: this.#lastLine, error: 'no var_out line: not a complete vendor output file', fileLevel: true }];
    }
    const q = this.header.quantity;
    if (q !== undefined && q !== '') {
      if (!/^\d+$/.test(q)) {
        return [{ line: this.#quantityLine, error: `Quantity header ${JSON.stringify(q)} is not a whole number`, fileLevel: true }];
      }
      if (Number(q) !== this.rowsRead) {
        return [{ line: this.#quantityLine, error: `Quantity header says ${q} cards but ${this.rowsRead} rows were read`, fileLevel: true }];
      }
    }
    return NONE;
  }
}

/** A push parser for the given format. */
export function createSimParser(format: 'vendor', opts?: SimParserOptions): VendorFileParser;
export function createSimParser(format: SimFileFormat, opts?: SimParserOptions): SimLineParser;
export function createSimParser(format: SimFileFormat, opts: SimParserOptions = {}): SimLineParser {
  if (format === 'csv') return new CsvParser(opts);
  if (format === 'vendor') return new VendorFileParser(opts);
  throw new ValidationError('format', `unknown SIM file format ${JSON.stringify(format)} (expected csv or vendor)`);
}

// ---------------------------------------------------------------------------------------------
// Drivers

function unknownFormat(lineNo: number): ParsedLine {
  return {
    line: lineNo,
    error: 'unrecognised file format: expected a CSV header row naming imsi, ki, … or a vendor output file with a var_out line',
    fileLevel: true,
  };
}

/**
 * The lines of one file, in order, to the parser of its format: the one given, or the one the
 * first line that is not blank or a '#' comment shows (the lines before it are held, then handed
 * over with their numbers). Every driver uses it: a whole text, a stream of chunks, `sim import`.
 */
export class SimLineDriver {
  parser: SimLineParser | undefined;
  /** The format was not recognised: the rest of the file is not worth reading. */
  stopped = false;
  #lineNo = 0;
  #pending: string[] = [];

  constructor(
    format: SimFileFormat | undefined,
    private readonly opts: SimParserOptions = {},
  ) {
    if (format !== undefined) this.parser = createSimParser(format, opts);
  }

  /** What the next line (without its line end) gives. */
  push(line: string): ParsedLine[] {
    const n = ++this.#lineNo;
    if (this.parser !== undefined) return this.parser.push(line, n);
    this.#pending.push(line);
    const c = classifyLine(line);
    if (c === null) return NONE;
    if (c === 'unknown') {
      this.stopped = true;
      return [unknownFormat(n)];
    }
    const parser = (this.parser = createSimParser(c, this.opts));
    const first = n - this.#pending.length + 1;
    const out = this.#pending.flatMap((l, k) => parser.push(l, first + k));
    this.#pending = [];
    return out;
  }

  /** What the end of the file gives: the parser's own checks, or an error when no line showed the format. */
  end(): ParsedLine[] {
    if (this.stopped) return NONE;
    if (this.parser === undefined) return [{ line: this.#lineNo, error: 'the file is empty or holds only comments', fileLevel: true }];
    return this.parser.end();
  }
}

/** Drive one format over the lines of a string. */
function* runText(text: string, format: SimFileFormat | 'auto'): Generator<ParsedLine> {
  const driver = new SimLineDriver(format === 'auto' ? undefined : format);
  for (const line of textLines(text)) {
    yield* driver.push(line);
    if (driver.stopped) return;
  }
  yield* driver.end();
}

/** Parse a whole file held as a string; the format is detected unless given. */
export function parseSimText(text: string, opts: { format?: SimFileFormat } = {}): Generator<ParsedLine> {
  return runText(text, opts.format ?? 'auto');
}

/** Parse CSV text (header row first; '#' comment lines ignored). */
export function parseSimCsv(text: string): Generator<ParsedLine> {
  return runText(text, 'csv');
}

/** Parse a vendor output file held as a string. */
export function parseVendorFile(text: string): Generator<ParsedLine> {
  return runText(text, 'vendor');
}

/**
 * Parse a stream of chunks (strings or UTF-8 Buffers, e.g. `fs.createReadStream(path)`), holding
 * only the current partial line. Chunks need not align with lines. Format detected unless given.
 */
export async function* parseSimStream(
  chunks: AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>,
  opts: { format?: SimFileFormat } = {},
): AsyncGenerator<ParsedLine> {
  const splitter = new LineSplitter();
  const driver = new SimLineDriver(opts.format);
  for await (const chunk of chunks) {
    for (const line of splitter.lines(chunk)) {
      yield* driver.push(line);
      if (driver.stopped) return;
    }
  }
  const last = splitter.end();
  if (last !== undefined) {
    yield* driver.push(last);
    if (driver.stopped) return;
  }
  yield* driver.end();
}

// ---------------------------------------------------------------------------------------------
// Transport-key decryption

export type TransportColumn = 'ki' | 'opc' | 'op';

export interface TransportKeyOptions {
  /** The AES-128 transport key agreed with the vendor (16 bytes). */
  key: Uint8Array;
  /** Default 'ecb'. */
  mode?: 'ecb' | 'cbc';
  /** Required for 'cbc': every value is decrypted on its own with this IV. */
  iv?: Uint8Array;
  /** Columns to decrypt; default ['ki', 'opc']. Absent columns are skipped. */
  columns?: readonly TransportColumn[];
}

/**
 * Decrypt transport-key-encrypted key columns of one row. AES-128, no padding; each value is one
 * 16-byte block (32 hex digits) decrypted on its own — in CBC mode every value starts from the
 * same IV (P = D_K(C) ⊕ IV), as vendors encrypt them per field, not as one stream.
 * Defaults: mode 'ecb', columns ['ki', 'opc']. Returns a new row; the input is not modified.
 */
export function decryptTransportColumns(row: RawSimRow, opts: TransportKeyOptions): RawSimRow {
  checkBytes('transport_key', opts.key, 16);
  const mode = opts.mode ?? 'ecb';
  if (mode !== 'ecb' && mode !== 'cbc') {
    throw new ValidationError('transport_mode', `expected ecb or cbc, got ${JSON.stringify(mode)}`);
  }
  if (mode === 'cbc') {
    if (opts.iv === undefined) throw new ValidationError('transport_iv', 'is required in cbc mode (16 bytes)');
    checkBytes('transport_iv', opts.iv, 16);
  }
  const columns = opts.columns ?? ['ki', 'opc'];
  const out: RawSimRow = { ...row };
  for (const col of columns) {
    if (col !== 'ki' && col !== 'opc' && col !== 'op') {
      throw new ValidationError('transport_columns', `cannot decrypt column ${JSON.stringify(col)} (only ki, opc, op)`);
    }
    const v = row[col];
    if (v === undefined || v === '') continue;
    const ct = hexToBytes(col, v.trim(), 16);
    const d = createDecipheriv(mode === 'ecb' ? 'aes-128-ecb' : 'aes-128-cbc', opts.key, mode === 'ecb' ? null : opts.iv!);
    d.setAutoPadding(false);
    const a = d.update(ct);
    const b = d.final();
    const pt = b.length === 0 ? a : Buffer.concat([a, b]);
    out[col] = pt.toString('hex');
    wipe(ct, a, b, pt);
  }
  return out;
}

/**
 * A reusable decryptor for bulk imports: same result as decryptTransportColumns, but the options
 * are checked once and one AES-128-ECB decipher object serves every value (CBC with a fixed IV per
 * value is D_K(C) ⊕ IV, so it needs no cipher object of its own). `dispose()` wipes the copies of
 * the key and IV held here; node's key schedule inside the decipher object cannot be wiped from
 * JavaScript — drop the object to release it.
 */
export function createTransportDecryptor(opts: TransportKeyOptions): { decrypt(row: RawSimRow): RawSimRow; dispose(): void } {
  checkBytes('transport_key', opts.key, 16);
  const mode = opts.mode ?? 'ecb';
  if (mode !== 'ecb' && mode !== 'cbc') {
    throw new ValidationError('transport_mode', `expected ecb or cbc, got ${JSON.stringify(mode)}`);
  }
  let iv: Buffer | undefined;
  if (mode === 'cbc') {
    if (opts.iv === undefined) throw new ValidationError('transport_iv', 'is required in cbc mode (16 bytes)');
    checkBytes('transport_iv', opts.iv, 16);
    iv = Buffer.from(opts.iv);
  }
  const columns = [...(opts.columns ?? ['ki', 'opc'])];
  for (const col of columns) {
    if (col !== 'ki' && col !== 'opc' && col !== 'op') {
      throw new ValidationError('transport_columns', `cannot decrypt column ${JSON.stringify(col)} (only ki, opc, op)`);
    }
  }
  const key = Buffer.from(opts.key);
  const d = createDecipheriv('aes-128-ecb', key, null);
  d.setAutoPadding(false);
  let disposed = false;
  return {
    decrypt(row: RawSimRow): RawSimRow {
      if (disposed) throw new ValidationError('transport_key', 'decryptor used after dispose()');
      const out: RawSimRow = { ...row };
      for (const col of columns) {
        const v = row[col];
        if (v === undefined || v === '') continue;
        const ct = hexToBytes(col, v.trim(), 16);
        const pt = d.update(ct);
        if (pt.length !== 16) throw new ValidationError(col, `transport decryption returned ${pt.length} bytes for one block`);
        if (iv) for (let i = 0; i < 16; i++) pt[i] ^= iv[i];
        out[col] = pt.toString('hex');
        wipe(ct, pt);
      }
      return out;
    },
    dispose(): void {
      disposed = true;
      wipe(key, iv);
    },
  };
}
