/**
 * The sim table's storage mode (for `db status`) and `sim rekey`: every row moved to a new
 * key-encryption key, or to the clear, in ONE transaction (all rows or none). See kek.ts.
 */
import type { Database, Queryable } from '../db/database.js';
import { assertWritable } from '../db/schema/schema.js';
import { SipctlError, UsageError } from '../errors.js';
import type { Kek } from './kek.js';
import { mapSimDbError, openRow, storedKeys } from './sim-records.js';

export interface SimStorage {
  /** empty; plain: every row in the clear; encrypted: every row sealed; mixed: some of each */
  mode: 'empty' | 'plain' | 'encrypted' | 'mixed';
  rows: number;
  plain: number;
  /** rows per key id */
  encrypted: Record<string, number>;
}

export async function simStorage(db: Queryable & { label?: string }): Promise<SimStorage> {
  let rows: Array<{ key_id: string | null; n: number }>;
  try {
    rows = await db.query<{ key_id: string | null; n: number }>('SELECT key_id, COUNT(*) AS n FROM sim GROUP BY key_id');
  } catch (e) {
    throw mapSimDbError(e, db);
  }
  const out: SimStorage = { mode: 'empty', rows: 0, plain: 0, encrypted: {} };
  for (const r of rows) {
    const n = Number(r.n);
    out.rows += n;
    if (r.key_id === null) out.plain += n;
    else out.encrypted[r.key_id] = n;
  }
  const enc = out.rows - out.plain;
  out.mode = out.rows === 0 ? 'empty' : enc === 0 ? 'plain' : out.plain === 0 ? 'encrypted' : 'mixed';
  return out;
}

export interface RekeyResult {
  action: 'rekey';
  /** rows rewritten */
  changed: number;
  /** rows already in the target form */
  unchanged: number;
  /** key id the rows are under now, or "plain" */
  to: string;
  dryRun: boolean;
}

interface KeyRow {
  imsi: string;
  ki: string;
  opc: string;
  key_id: string | null;
  keys_enc: string | null;
}

const PAGE = 500;

/**
 * Re-encrypt every row under `to` (a new KEK), or store every row in the clear (`to` undefined).
 * `from` is the KEK the encrypted rows are under now (the configured one); plain rows need none.
 * One transaction: a row that does not open (wrong key, tampered) rolls everything back.
 */
export async function rekeySims(db: Database, opts: { from?: Kek; to?: Kek; dryRun?: boolean }): Promise<RekeyResult> {
  if (opts.to !== undefined && opts.from !== undefined && opts.to.keyId === opts.from.keyId) {
    throw new UsageError('SIM_REKEY_SAME_KEY', `the new key-encryption key is the configured one (key id ${opts.to.keyId})`, 'give a new key');
  }
  await assertWritable(db, 'sim');
  const to = opts.to;
  const work = async (tx: Queryable): Promise<RekeyResult> => {
    const res: RekeyResult = { action: 'rekey', changed: 0, unchanged: 0, to: to?.keyId ?? 'plain', dryRun: !!opts.dryRun };
    let after = '';
    for (;;) {
      const rows = await tx.query<KeyRow>('SELECT imsi, ki, opc, key_id, keys_enc FROM sim WHERE imsi > ? ORDER BY imsi LIMIT ?', [after, PAGE]);
      for (const row of rows) {
        if ((to === undefined && row.key_id === null) || (to !== undefined && row.key_id === to.keyId)) {
          res.unchanged++;
          continue;
        }
        const open = openRow(row, opts.from);
        const k = storedKeys({ imsi: row.imsi, ki: open.ki, opc: open.opc } as never, to);
        if (!opts.dryRun) {
          const r = await tx.execute('UPDATE sim SET ki = ?, opc = ?, key_id = ?, keys_enc = ? WHERE imsi = ?', [k.ki, k.opc, k.keyId, k.keysEnc, row.imsi]);
          if (r.affectedRows !== 1) throw new SipctlError('SIM_REKEY_RACE', `sim ${row.imsi} changed during the rekey`, { category: 'conflict', hint: 'run it again' });
        }
        res.changed++;
      }
      if (rows.length < PAGE) return res;
      after = rows[rows.length - 1].imsi;
    }
  };
  try {
    return await db.transaction(work);
  } catch (e) {
    throw mapSimDbError(e, db);
  }
}
