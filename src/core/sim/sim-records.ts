/**
 * The `sim` table: one row per USIM with its Ki, OPc, AMF and SQN (the operator OP is never stored).
 *
 *   validateSimRecord(raw, opts)   raw strings → a normalised SimRecord, or a SimRecordError naming
 *                                  the field (and the source line) — never the value of a key
 *   addSim / getSim / listSims / removeSim / setSqn / exportSims
 *   nextVector(db, imsi, rand?)    an authentication vector; SQN advanced atomically
 *   resyncSim(db, imsi, rand, auts) SQN recovered from AUTS (TS 33.102 §6.3.5)
 *
 * SQN policy (TS 33.102 Annex C, loosely): SQN = SEQ ‖ IND with a 5-bit IND. The stored `sqn` is
 * the SQN most recently issued (or the SQN_MS learnt from a resynchronisation, or the value set by
 * `set-sqn`). Each vector uses stored + 32 — SEQ + 1 with IND kept — and stores it. So a card that
 * accepted SQN_MS accepts the next vector, and a freshly imported card (sqn 000000000000) gets
 * SEQ 1 first. The step is SQN_STEP below. We do not manage IND slots per serving node; every
 * vector keeps the IND of the stored value.
 *
 * Atomicity: the SQN advance is a compare-and-swap (`UPDATE … SET sqn = new WHERE imsi = ? AND
 * sqn = old`), retried when another writer won. It works the same on MySQL/MariaDB and SQLite,
 * across connections and processes, and never holds a lock while computing the vector.
 */
import { randomBytes } from 'node:crypto';
import { isDuplicateKey, type Database, type Queryable, type SqlValue } from '../db/database.js';
import { assertWritable } from '../db/schema/schema.js';
import { ConflictError, NotFoundError, SchemaError, SipctlError, UsageError, ValidationError } from '../errors.js';
import { createOpcDeriver, deriveOpcHex, generateVector, hexToBytes, resync, wipe } from './milenage.js';
import { normaliseAmf, normaliseIccid, normaliseImsi, normaliseKey, normaliseMsisdn, normaliseSqn, sqnFromHex, sqnToHex } from './validation.js';
import type { RawSimRow } from './vendor-file.js';
import { assertColumnText } from '../db/charset.js';
import { type Kek } from './kek.js';

export const DEFAULT_AMF = '8000';
/** What a masked Ki / OPc looks like in output (text and JSON alike). */
export const MASK = '****';
/** SEQ + 1 with a 5-bit IND (TS 33.102 Annex C.3). */
export const SQN_STEP = 32n;
const SQN_MAX = (1n << 48n) - 1n;
/** Longest batch / vendor label (the column is VARCHAR(64)). */
const LABEL_MAX = 64;

/** One card, normalised: digits, lower-case hex, null for absent optional fields. */
export interface SimRecord {
  imsi: string;
  iccid: string | null;
  msisdn: string | null;
  ki: string;
  opc: string;
  amf: string;
  sqn: string;
  batch: string | null;
  vendor: string | null;
}

/** What sipctl shows: Ki and OPc are MASK unless revealed. */
export interface SimView {
  imsi: string;
  iccid: string | null;
  msisdn: string | null;
  ki: string;
  opc: string;
  amf: string;
  sqn: string;
  batch: string | null;
  vendor: string | null;
  createdAt: string;
  updatedAt: string;
  /** false: ki and opc hold MASK. */
  revealed: boolean;
}

/**
 * A value in a SIM record failed validation. The message names the field and, for file input,
 * the line ("line 12: ki: expected 32 hex digits …"); it never holds a key's value.
 */
export class SimRecordError extends ValidationError {
  override name = 'SimRecordError';
  readonly line?: number;
  constructor(field: string, message: string, opts: { line?: number; hint?: string } = {}) {
    super(field, message, opts.hint);
    this.line = opts.line;
    if (opts.line !== undefined) this.message = `line ${opts.line}: ${this.message}`;
  }

  /** Re-issue a ValidationError from the normalisers with the line attached. */
  static from(e: ValidationError, line?: number): SimRecordError {
    if (e instanceof SimRecordError && e.line === line) return e;
    const bare = e.message.startsWith(`${e.field}: `) ? e.message.slice(e.field.length + 2) : e.message;
    return new SimRecordError(e.field, bare, { line, hint: e.hint });
  }
}

export interface SimRecordOptions {
  /** Operator OP (32 hex digits or 16 bytes) for rows that carry neither opc nor op; a row's opc is checked against it. */
  op?: string | Uint8Array;
  /** Accept a 19-digit ICCID without its Luhn check digit (the source says it omits them). */
  allowNoCheckDigit?: boolean;
  /** Source line, named in error messages. */
  line?: number;
}

/** An operator-OP deriver prepared once for many rows (see createRecordValidator). */
interface ValidatorContext {
  derive?: (ki: Buffer) => Buffer;
  allowNoCheckDigit: boolean;
}

/**
 * Equality of two normalised (lower-case) hex keys in time that depends only on their length:
 * no early exit, no allocation (bulk imports call this for every card).
 */
function sameHex(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

function label(field: 'batch' | 'vendor', value: string | undefined): string | null {
  if (value === undefined) return null;
  const s = value.trim();
  if (s === '') return null;
  if (s.length > LABEL_MAX) throw new ValidationError(field, `longer than ${LABEL_MAX} characters (${s.length})`);
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(s)) throw new ValidationError(field, 'contains control characters');
  return assertColumnText(field, s);
}

function validateWith(raw: RawSimRow, ctx: ValidatorContext, line: number | undefined): SimRecord {
  try {
    const imsi = normaliseImsi(raw.imsi ?? '');
    const iccid = raw.iccid === undefined || raw.iccid.trim() === '' ? null : normaliseIccid(raw.iccid, { allowNoCheckDigit: ctx.allowNoCheckDigit });
    const msisdn = normaliseMsisdn(raw.msisdn) ?? null;
    const ki = normaliseKey('ki', raw.ki ?? '');
    const rowOp = raw.op === undefined || raw.op.trim() === '' ? undefined : normaliseKey('op', raw.op);
    const rowOpc = raw.opc === undefined || raw.opc.trim() === '' ? undefined : normaliseKey('opc', raw.opc);
    let opc: string;
    if (rowOp !== undefined) {
      const derived = deriveOpcHex(ki, rowOp);
      if (rowOpc !== undefined && !sameHex(rowOpc, derived)) {
        throw new ValidationError('opc', "does not match the OPc derived from this row's op", 'check that op and opc belong to the same card');
      }
      opc = derived;
    } else if (ctx.derive) {
      const kiBuf = Buffer.from(ki, 'hex');
      const opcBuf = ctx.derive(kiBuf);
      const derived = opcBuf.toString('hex');
      wipe(kiBuf, opcBuf);
      if (rowOpc !== undefined && !sameHex(rowOpc, derived)) {
        throw new ValidationError('opc', 'does not match the OPc derived from the operator OP', 'the row\'s OPc was made with another OP: check the OP given');
      }
      opc = rowOpc ?? derived;
    } else if (rowOpc !== undefined) {
      opc = rowOpc;
    } else {
      throw new ValidationError('opc', 'missing: give opc, or op to derive it from', 'a file may carry an opc or op column, or the operator OP can be given once (--op / --op-file)');
    }
    // An OPc given is refused by normaliseKey when all zeros; a derived one is checked here too.
    if (/^0+$/.test(opc)) throw new ValidationError('opc', 'is all zeros, which is never a real key');
    if (sameHex(ki, opc)) {
      throw new ValidationError('opc', 'equals ki; OPc must be derived from OP and Ki, never the same value', 'check the column order of the source file');
    }
    const amf = raw.amf === undefined || raw.amf.trim() === '' ? DEFAULT_AMF : normaliseAmf(raw.amf);
    const sqn = normaliseSqn(raw.sqn);
    return { imsi, iccid, msisdn, ki, opc, amf, sqn, batch: label('batch', raw.batch), vendor: label('vendor', raw.vendor) };
  } catch (e) {
    if (e instanceof ValidationError) throw SimRecordError.from(e, line);
    throw e;
  }
}

/**
 * Validate and normalise one card. Rules: IMSI 6–15 digits; ICCID 18–20 digits with a valid Luhn
 * check digit (19 without one only with allowNoCheckDigit); Ki, OP, OPc 32 hex digits, not all
 * zeros; OPc ≠ Ki; AMF 4 hex (default 8000); SQN 12 hex (default 0); batch/vendor ≤ 64 characters.
 * OPc comes from the row's op (derived; a row opc must then match), else the operator OP (a row
 * opc must match it), else the row's opc. The OP is used and forgotten: it is not in the result.
 */
export function validateSimRecord(raw: RawSimRow, opts: SimRecordOptions = {}): SimRecord {
  const v = createRecordValidator(opts);
  try {
    return v.validate(raw, opts.line);
  } finally {
    v.dispose();
  }
}

/** validateSimRecord for many rows sharing one operator OP: the OP is checked and copied once. */
export function createRecordValidator(opts: Omit<SimRecordOptions, 'line'> = {}): { validate(raw: RawSimRow, line?: number): SimRecord; dispose(): void } {
  let deriver: ReturnType<typeof createOpcDeriver> | undefined;
  if (opts.op !== undefined) {
    let opBuf: Buffer;
    if (typeof opts.op === 'string') opBuf = Buffer.from(normaliseKey('op', opts.op), 'hex');
    else {
      if (opts.op.length !== 16) throw new ValidationError('op', `expected 16 bytes, got ${opts.op.length}`);
      if (opts.op.every((b) => b === 0)) throw new ValidationError('op', 'is all zeros, which is never a real key');
      opBuf = Buffer.from(opts.op);
    }
    deriver = createOpcDeriver(opBuf);
    wipe(opBuf);
  }
  const ctx: ValidatorContext = { derive: deriver?.derive, allowNoCheckDigit: !!opts.allowNoCheckDigit };
  return {
    validate: (raw, line) => validateWith(raw, ctx, line),
    dispose: () => deriver?.dispose(),
  };
}

// ---------------------------------------------------------------------------------------------
// Database access

const SELECT_COLS = 'imsi, iccid, msisdn, ki, opc, amf, sqn, batch, vendor, created_at, updated_at, key_id, keys_enc';
export const INSERT_COLS = 'imsi, iccid, msisdn, ki, opc, amf, sqn, batch, vendor, created_at, updated_at, key_id, keys_enc';
export const INSERT_TUPLE = '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';

/** A row as stored: on an encrypted row ki/opc hold fingerprints and keys_enc the sealed keys (kek.ts). */
export interface SimRow extends SimRecord {
  created_at: string;
  updated_at: string;
  key_id?: string | null;
  keys_enc?: string | null;
}

/** The row with its real Ki and OPc: opened with the KEK when it is encrypted. */
export function openRow<T extends { imsi: string; ki: string; opc: string; key_id?: string | null; keys_enc?: string | null }>(row: T, kek: Kek | undefined): T {
  if (row.key_id === null || row.key_id === undefined) return row;
  if (kek === undefined) {
    throw new SipctlError('SIM_KEK_REQUIRED', `sim ${row.imsi}: Ki and OPc are encrypted (key id ${row.key_id}) and no key-encryption key is configured`, { category: 'config', hint: 'set SIPCTL_SIM_KEK_FILE (a 0600 file with 64 hex digits) or the config key simKekFile' });
  }
  if (kek.keyId !== row.key_id) {
    throw new SipctlError('SIM_KEK_WRONG', `sim ${row.imsi}: encrypted with key id ${row.key_id}, but the configured key-encryption key has id ${kek.keyId}`, { category: 'config', hint: 'configure the key this table was encrypted with (see `sipctl db status`)' });
  }
  const { ki, opc } = kek.open(row.imsi, row.keys_enc ?? '');
  return { ...row, ki, opc };
}

/** How a record is stored: in the clear, or (with a KEK) sealed with fingerprints in ki/opc. */
export function storedKeys(r: SimRecord, kek: Kek | undefined): { ki: string; opc: string; keyId: string | null; keysEnc: string | null } {
  if (kek === undefined) return { ki: r.ki, opc: r.opc, keyId: null, keysEnc: null };
  return { ki: kek.fingerprint('ki', r.ki), opc: kek.fingerprint('opc', r.opc), keyId: kek.keyId, keysEnc: kek.seal(r.imsi, r.ki, r.opc) };
}

/**
 * New cards go in only under the key the encrypted rows already use (or in the clear into a plain
 * table): otherwise a new card's Ki could not be checked against theirs, and the table would need
 * two keys to read.
 */
export async function assertKekForWrites(db: Queryable & { label?: string }, kek: Kek | undefined): Promise<void> {
  const other = await guarded(db, () => kek === undefined
    ? db.query<{ key_id: string }>('SELECT key_id FROM sim WHERE key_id IS NOT NULL LIMIT 1')
    : db.query<{ key_id: string }>('SELECT key_id FROM sim WHERE key_id IS NOT NULL AND key_id <> ? LIMIT 1', [kek.keyId]));
  if (other.length === 0) return;
  if (kek === undefined) {
    throw new SipctlError('SIM_KEK_REQUIRED', `the sim table holds encrypted cards (key id ${other[0].key_id}) and no key-encryption key is configured`, { category: 'config', hint: 'set SIPCTL_SIM_KEK_FILE (a 0600 file with 64 hex digits) or the config key simKekFile' });
  }
  throw new SipctlError('SIM_KEK_WRONG', `the sim table holds cards encrypted with key id ${other[0].key_id}, but the configured key-encryption key has id ${kek.keyId}`, { category: 'config', hint: 'configure that key, or move the table to this one with `sipctl sim rekey`' });
}

/** 'YYYY-MM-DD HH:MM:SS' in UTC, as both engines store DATETIME here. */
export function sqlNow(): string {
  return new Date().toISOString().slice(0, 19).replace('T', ' ');
}

export function insertParams(r: SimRecord, now: string, kek?: Kek): SqlValue[] {
  const k = storedKeys(r, kek);
  return [r.imsi, r.iccid, r.msisdn, k.ki, k.opc, r.amf, r.sqn, r.batch, r.vendor, now, now, k.keyId, k.keysEnc];
}

/**
 * Map driver errors to sipctl errors. A unique-key violation's driver message quotes the clashing
 * value (possibly a Ki), so it is replaced, never passed on, and not kept as the cause.
 */
export function mapSimDbError(e: unknown, db: { label?: string }): unknown {
  if (isDuplicateKey(e)) {
    // MySQL names the index ("for key 'sim_ki_idx'"), SQLite the column ("failed: sim.ki").
    const msg = String((e as Error).message ?? '');
    const which = /sim_ki_idx|sim\.ki\b/.test(msg) ? 'ki' : /sim_iccid_idx|sim\.iccid\b/.test(msg) ? 'iccid' : /sim_imsi_idx|sim\.imsi\b/.test(msg) ? 'imsi' : 'a unique column';
    return new ConflictError('SIM_CONFLICT', `${which}: already used by another card (changed by another writer meanwhile)`, 'run the command again');
  }
  const code = (e as { code?: string }).code;
  if (code === 'ER_BAD_FIELD_ERROR' || /no such column: key(s_enc|_id)/i.test(String((e as Error)?.message ?? ''))) {
    return new SchemaError('SCHEMA_OUTDATED', `table sim in ${db.label ?? 'the database'} is version 1 (no encryption columns)`, 'run `sipctl db init` to upgrade it (it only adds columns)');
  }
  if (code === 'ER_NO_SUCH_TABLE' || /no such table/i.test(String((e as Error)?.message ?? ''))) {
    return new SchemaError('SCHEMA_MISSING', `table sim is not set up in ${db.label ?? 'the database'}`, 'run `sipctl db init`');
  }
  return e;
}

async function guarded<T>(db: Queryable & { label?: string }, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw mapSimDbError(e, db);
  }
}

/** Ki and OPc are shown only with `reveal`; pass an opened row (openRow) then. */
export function toView(row: SimRow, reveal = false): SimView {
  return {
    imsi: row.imsi,
    iccid: row.iccid ?? null,
    msisdn: row.msisdn ?? null,
    ki: reveal ? row.ki : MASK,
    opc: reveal ? row.opc : MASK,
    amf: row.amf,
    sqn: row.sqn,
    batch: row.batch ?? null,
    vendor: row.vendor ?? null,
    createdAt: String(row.created_at),
    updatedAt: String(row.updated_at),
    revealed: reveal,
  };
}

function notFound(imsi: string): NotFoundError {
  return new NotFoundError('SIM_NOT_FOUND', `no SIM with IMSI ${imsi}`, 'see `sipctl sim list`');
}

async function findRow(db: Queryable & { label?: string }, imsi: string): Promise<SimRow | undefined> {
  const rows = await guarded(db, () => db.query<SimRow>(`SELECT ${SELECT_COLS} FROM sim WHERE imsi = ?`, [imsi]));
  return rows[0];
}

export interface AddSimInput {
  imsi: string;
  ki: string;
  /** Exactly one of opc, op, randomOp. */
  opc?: string;
  op?: string;
  /** Draw a per-card OP from the CSPRNG, derive OPc, forget the OP. */
  randomOp?: boolean;
  amf?: string;
  sqn?: string;
  iccid?: string;
  msisdn?: string;
  batch?: string;
  vendor?: string;
  allowNoCheckDigit?: boolean;
}

export type OpcSource = 'opc' | 'op' | 'random-op';

export interface AddSimResult {
  action: 'add';
  dryRun: boolean;
  opcSource: OpcSource;
  sim: SimView;
}

/** Refuse a record that clashes with a stored card: same IMSI, same ICCID, or the same Ki. */
async function assertNoClash(db: Database, r: SimRecord, kek: Kek | undefined): Promise<void> {
  await assertKekForWrites(db, kek);
  // A stored Ki is in the clear on a plain row and a fingerprint on an encrypted one.
  const kiForms = kek === undefined ? [r.ki] : [r.ki, kek.fingerprint('ki', r.ki)];
  const params: SqlValue[] = [r.imsi, ...kiForms];
  let where = kiForms.length === 1 ? 'imsi = ? OR ki = ?' : 'imsi = ? OR ki = ? OR ki = ?';
  if (r.iccid !== null) {
    where += ' OR iccid = ?';
    params.push(r.iccid);
  }
  const found = await guarded(db, () => db.query<{ imsi: string; iccid: string | null; ki: string }>(`SELECT imsi, iccid, ki FROM sim WHERE ${where}`, params));
  for (const f of found) {
    if (f.imsi === r.imsi) throw new ConflictError('SIM_EXISTS', `imsi: a SIM with IMSI ${r.imsi} already exists`, 'remove it first with `sipctl sim rm`, or use another IMSI');
  }
  for (const f of found) {
    if (kiForms.includes(f.ki)) throw new ConflictError('SIM_KI_IN_USE', `ki: already used by another card (IMSI ${f.imsi})`, 'every card needs its own Ki');
    if (r.iccid !== null && f.iccid === r.iccid) throw new ConflictError('SIM_ICCID_IN_USE', `iccid: already used by another card (IMSI ${f.imsi})`);
  }
}

/** Add one card. With `op` the OPc is derived and the OP discarded; with `randomOp` a fresh OP is drawn, used once and wiped. */
export async function addSim(db: Database, input: AddSimInput, opts: { dryRun?: boolean; reveal?: boolean; kek?: Kek } = {}): Promise<AddSimResult> {
  const given = [input.opc !== undefined, input.op !== undefined, !!input.randomOp].filter(Boolean).length;
  if (given !== 1) {
    throw new UsageError('SIM_OPC_SOURCE', given === 0 ? 'opc: missing: give the OPc, or the OP to derive it from, or --random-op' : 'give exactly one of --opc, --op and --random-op');
  }
  const opcSource: OpcSource = input.randomOp ? 'random-op' : input.op !== undefined ? 'op' : 'opc';
  const raw: RawSimRow = {
    imsi: input.imsi, ki: input.ki, opc: input.opc, op: input.op, amf: input.amf, sqn: input.sqn,
    iccid: input.iccid, msisdn: input.msisdn, batch: input.batch, vendor: input.vendor,
  };
  let record: SimRecord;
  if (input.randomOp) {
    const op = randomBytes(16);
    try {
      record = validateSimRecord(raw, { op, allowNoCheckDigit: input.allowNoCheckDigit });
    } finally {
      wipe(op);
    }
  } else {
    record = validateSimRecord(raw, { allowNoCheckDigit: input.allowNoCheckDigit });
  }
  if (!opts.dryRun) await assertWritable(db, 'sim');
  await assertNoClash(db, record, opts.kek);
  const now = sqlNow();
  if (!opts.dryRun) {
    await guarded(db, () => db.execute(`INSERT INTO sim (${INSERT_COLS}) VALUES ${INSERT_TUPLE}`, insertParams(record, now, opts.kek)));
  }
  return { action: 'add', dryRun: !!opts.dryRun, opcSource, sim: toView({ ...record, created_at: now, updated_at: now }, opts.reveal) };
}

export async function getSim(db: Database, imsiArg: string, opts: { reveal?: boolean; kek?: Kek } = {}): Promise<SimView> {
  const imsi = normaliseImsi(imsiArg);
  const row = await findRow(db, imsi);
  if (!row) throw notFound(imsi);
  return toView(opts.reveal ? openRow(row, opts.kek) : row, opts.reveal);
}

export interface ListSimsOptions {
  batch?: string;
  /** Leading digits of the IMSI (e.g. MCC+MNC). */
  imsiPrefix?: string;
  limit?: number;
  offset?: number;
  reveal?: boolean;
  /** needed with reveal when rows are encrypted */
  kek?: Kek;
}

function listWhere(opts: { batch?: string; imsiPrefix?: string }): { clause: string; params: SqlValue[] } {
  const where: string[] = [];
  const params: SqlValue[] = [];
  if (opts.batch !== undefined) {
    const b = label('batch', opts.batch);
    if (b === null) throw new ValidationError('batch', 'is empty');
    where.push('batch = ?');
    params.push(b);
  }
  if (opts.imsiPrefix !== undefined) {
    const p = opts.imsiPrefix.trim();
    if (!/^[0-9]{1,15}$/.test(p)) throw new ValidationError('imsi-prefix', 'expected 1 to 15 digits');
    // Digits only: no LIKE wildcard can sneak in.
    where.push('imsi LIKE ?');
    params.push(p + '%');
  }
  return { clause: where.length ? ' WHERE ' + where.join(' AND ') : '', params };
}

export async function listSims(db: Database, opts: ListSimsOptions = {}): Promise<{ total: number; sims: SimView[] }> {
  const { clause, params } = listWhere(opts);
  const limit = Math.max(0, Math.min(opts.limit ?? 1000, 1_000_000));
  const offset = Math.max(0, opts.offset ?? 0);
  const [{ n }] = await guarded(db, () => db.query<{ n: number }>('SELECT COUNT(*) AS n FROM sim' + clause, params));
  const rows = await guarded(db, () => db.query<SimRow>(`SELECT ${SELECT_COLS} FROM sim${clause} ORDER BY imsi LIMIT ? OFFSET ?`, [...params, limit, offset]));
  return { total: Number(n), sims: rows.map((r) => toView(opts.reveal ? openRow(r, opts.kek) : r, opts.reveal)) };
}

export async function removeSim(db: Database, imsiArg: string, opts: { dryRun?: boolean } = {}): Promise<{ action: 'rm'; imsi: string; dryRun: boolean }> {
  const imsi = normaliseImsi(imsiArg);
  if (!opts.dryRun) await assertWritable(db, 'sim');
  if (!(await findRow(db, imsi))) throw notFound(imsi);
  if (!opts.dryRun) {
    const r = await guarded(db, () => db.execute('DELETE FROM sim WHERE imsi = ?', [imsi]));
    if (r.affectedRows === 0) throw notFound(imsi);
  }
  return { action: 'rm', imsi, dryRun: !!opts.dryRun };
}

export async function setSqn(db: Database, imsiArg: string, sqnArg: string): Promise<{ action: 'set-sqn'; imsi: string; previousSqn: string; sqn: string }> {
  const imsi = normaliseImsi(imsiArg);
  if (sqnArg === undefined || sqnArg.trim() === '') throw new ValidationError('sqn', 'is required (12 hex digits)');
  const sqn = normaliseSqn(sqnArg);
  await assertWritable(db, 'sim');
  const row = await findRow(db, imsi);
  if (!row) throw notFound(imsi);
  const r = await guarded(db, () => db.execute('UPDATE sim SET sqn = ?, updated_at = ? WHERE imsi = ?', [sqn, sqlNow(), imsi]));
  if (r.affectedRows === 0) throw notFound(imsi);
  return { action: 'set-sqn', imsi, previousSqn: row.sqn, sqn };
}

/** The SQN after `sqn` under our policy (SEQ + 1, IND kept); refuses to wrap past 2^48 - 1. */
export function advanceSqn(sqn: string): string {
  const next = sqnFromHex(sqn) + SQN_STEP;
  if (next > SQN_MAX) {
    throw new SipctlError('SQN_EXHAUSTED', 'sqn: the sequence number space is exhausted (2^48 - 1)', { category: 'conflict', hint: 'reset it with `sipctl sim set-sqn` once the card has been re-provisioned' });
  }
  return sqnToHex(next);
}

/** An authentication vector as stored/printed: all lower-case hex. */
export interface SimVector {
  imsi: string;
  /** The SQN inside AUTN (now the stored SQN). */
  sqn: string;
  amf: string;
  rand: string;
  autn: string;
  xres: string;
  ck: string;
  ik: string;
  ak: string;
}

const CAS_ATTEMPTS = 200;

function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Compute an authentication vector for `imsi` from the stored Ki/OPc/AMF, with SQN = stored + 32,
 * and store that SQN. The advance is a compare-and-swap retried on contention, so two concurrent
 * calls (any connections, any processes) never issue the same SQN.
 */
export async function nextVector(db: Database, imsiArg: string, randHex?: string, opts: { kek?: Kek } = {}): Promise<SimVector> {
  const imsi = normaliseImsi(imsiArg);
  const rand = randHex === undefined ? undefined : hexToBytes('rand', randHex.trim(), 16);
  await assertWritable(db, 'sim');
  for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
    const rows = await guarded(db, () => db.query<{ imsi: string; ki: string; opc: string; amf: string; sqn: string; key_id: string | null; keys_enc: string | null }>('SELECT imsi, ki, opc, amf, sqn, key_id, keys_enc FROM sim WHERE imsi = ?', [imsi]));
    if (rows.length === 0) throw notFound(imsi);
    // Opened before the SQN moves: a wrong or missing KEK changes nothing.
    const { ki, opc, amf, sqn } = openRow(rows[0], opts.kek);
    const next = advanceSqn(sqn);
    const r = await guarded(db, () => db.execute('UPDATE sim SET sqn = ?, updated_at = ? WHERE imsi = ? AND sqn = ?', [next, sqlNow(), imsi, sqn]));
    if (r.affectedRows !== 1) {
      // Another writer advanced it first: read again. A little jitter keeps a crowd from colliding in step.
      await pause(Math.floor(Math.random() * Math.min(20, 1 + attempt)));
      continue;
    }
    const kiBuf = Buffer.from(ki, 'hex');
    const opcBuf = Buffer.from(opc, 'hex');
    const sqnBuf = Buffer.from(next, 'hex');
    const amfBuf = Buffer.from(amf, 'hex');
    try {
      const v = generateVector({ ki: kiBuf, opc: opcBuf, sqn: sqnBuf, amf: amfBuf, rand });
      const out: SimVector = {
        imsi, sqn: next, amf,
        rand: v.rand.toString('hex'), autn: v.autn.toString('hex'), xres: v.xres.toString('hex'),
        ck: v.ck.toString('hex'), ik: v.ik.toString('hex'), ak: v.ak.toString('hex'),
      };
      wipe(v.rand, v.autn, v.xres, v.ck, v.ik, v.ak);
      return out;
    } finally {
      wipe(kiBuf, opcBuf, sqnBuf, amfBuf, rand);
    }
  }
  throw new SipctlError('SQN_CONTENTION', `sqn: could not advance the SQN of ${imsi} after ${CAS_ATTEMPTS} attempts (too many concurrent writers)`, { category: 'conflict', hint: 'try again' });
}

/**
 * Resynchronisation (TS 33.102 §6.3.5): verify MAC-S in AUTS for this RAND, recover SQN_MS and
 * store it, so the next vector uses SQN_MS + 32. A MAC-S that does not verify changes nothing.
 */
export async function resyncSim(db: Database, imsiArg: string, randHex: string, autsHex: string, opts: { kek?: Kek } = {}): Promise<{ action: 'resync'; imsi: string; previousSqn: string; sqnMs: string; sqn: string; nextSqn: string }> {
  const imsi = normaliseImsi(imsiArg);
  if (randHex === undefined) throw new ValidationError('rand', 'is required (32 hex digits)');
  if (autsHex === undefined) throw new ValidationError('auts', 'is required (28 hex digits)');
  const rand = hexToBytes('rand', randHex.trim(), 16);
  const auts = hexToBytes('auts', autsHex.trim(), 14);
  await assertWritable(db, 'sim');
  const stored = await findRow(db, imsi);
  if (!stored) throw notFound(imsi);
  const row = openRow(stored, opts.kek);
  const kiBuf = Buffer.from(row.ki, 'hex');
  const opcBuf = Buffer.from(row.opc, 'hex');
  let sqnMs: string;
  try {
    const s = resync({ ki: kiBuf, opc: opcBuf, rand, auts });
    sqnMs = s.toString('hex');
    wipe(s);
  } finally {
    wipe(kiBuf, opcBuf, rand, auts);
  }
  const r = await guarded(db, () => db.execute('UPDATE sim SET sqn = ?, updated_at = ? WHERE imsi = ?', [sqnMs, sqlNow(), imsi]));
  if (r.affectedRows === 0) throw notFound(imsi);
  let nextSqn: string;
  try {
    nextSqn = advanceSqn(sqnMs);
  } catch {
    // SQN_EXHAUSTED, the only failure: the resync is written; the next vector refuses with that error
    nextSqn = sqnMs;
  }
  return { action: 'resync', imsi, previousSqn: row.sqn, sqnMs, sqn: sqnMs, nextSqn };
}

// ---------------------------------------------------------------------------------------------
// Export

export type ExportFormat = 'csv' | 'json';
/** Export columns, named as in the table and as `sim import` reads them back. */
export const EXPORT_COLUMNS = ['imsi', 'iccid', 'msisdn', 'ki', 'opc', 'amf', 'sqn', 'batch', 'vendor'] as const;
const SECRET_COLUMNS = new Set(['ki', 'opc']);

/** Every stored card in IMSI order (optionally one batch), read in pages by a keyset so memory stays flat. */
export async function* iterateSims(db: Database, opts: { batch?: string; imsiPrefix?: string; pageSize?: number } = {}): AsyncGenerator<SimRow> {
  const { clause, params } = listWhere(opts);
  const page = opts.pageSize ?? 1000;
  let after = '';
  for (;;) {
    const cond = clause ? `${clause} AND imsi > ?` : ' WHERE imsi > ?';
    const rows = await guarded(db, () => db.query<SimRow>(`SELECT ${SELECT_COLS} FROM sim${cond} ORDER BY imsi LIMIT ?`, [...params, after, page]));
    for (const r of rows) yield r;
    if (rows.length < page) return;
    after = rows[rows.length - 1].imsi;
  }
}

function csvField(v: string | null): string {
  if (v === null) return '';
  return /[",\r\n]/.test(v) || v !== v.trim() ? `"${v.replace(/"/g, '""')}"` : v;
}

/**
 * Export text in chunks: CSV with a header row (the `sim import` columns), or a JSON array.
 * Without `reveal` the ki and opc columns are left out altogether (a masked value is useless to
 * an HSS and dangerous to load).
 */
export async function* exportSims(db: Database, opts: { format?: ExportFormat; reveal?: boolean; batch?: string; imsiPrefix?: string; onRecord?: () => void; kek?: Kek } = {}): AsyncGenerator<string> {
  const format = opts.format ?? 'csv';
  if (format !== 'csv' && format !== 'json') throw new ValidationError('format', `expected csv or json, got ${JSON.stringify(format)}`);
  const cols = EXPORT_COLUMNS.filter((c) => opts.reveal || !SECRET_COLUMNS.has(c));
  let buf = format === 'csv' ? cols.join(',') + '\n' : '[';
  let first = true;
  for await (const stored of iterateSims(db, opts)) {
    opts.onRecord?.();
    const r = opts.reveal ? openRow(stored, opts.kek) : stored;
    if (format === 'csv') {
      buf += cols.map((c) => csvField(r[c])).join(',') + '\n';
    } else {
      const o: Record<string, string | null> = {};
      for (const c of cols) o[c] = r[c];
      buf += (first ? '\n' : ',\n') + JSON.stringify(o);
      first = false;
    }
    if (buf.length >= 65536) {
      yield buf;
      buf = '';
    }
  }
  if (format === 'json') buf += first ? ']\n' : '\n]\n';
  if (buf !== '') yield buf;
}
