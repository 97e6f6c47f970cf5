/**
 * Which credential columns a proxy reads decides whether a stored user can register:
 * Kamailio's auth_db with `calculate_ha1 yes` (Debian's stock kamailio.cfg) hashes the plaintext
 * `password` column and ignores ha1; with `calculate_ha1 0` + `password_column ha1` it reads ha1.
 * sipctl cannot ask the proxy, but the table tells: rows that keep plaintext passwords are the
 * sign of `calculate_ha1 yes`. So before writing ha1 only by default, look at the table.
 */
import type { Queryable } from '../db/database.js';
import { ConflictError } from '../errors.js';

export type StorageMode = 'empty' | 'plaintext' | 'ha1-only' | 'mixed';

export interface StorageStats {
  mode: StorageMode;
  rows: number;
  /** rows whose password column is not empty */
  plaintext: number;
}

export async function subscriberStorage(db: Queryable): Promise<StorageStats> {
  const [r] = await db.query<{ n: number | string; p: number | string | null }>(
    "SELECT COUNT(*) AS n, SUM(CASE WHEN COALESCE(password, '') <> '' THEN 1 ELSE 0 END) AS p FROM subscriber",
  );
  const rows = Number(r.n);
  const plaintext = Number(r.p ?? 0);
  const mode: StorageMode = rows === 0 ? 'empty' : plaintext === rows ? 'plaintext' : plaintext === 0 ? 'ha1-only' : 'mixed';
  return { mode, rows, plaintext };
}

export const WAYS_OUT = 'pass --store-plaintext, or configure Kamailio with modparam("auth_db", "calculate_ha1", 0) and modparam("auth_db", "password_column", "ha1") and pass --no-store-plaintext';

export interface StorageDecision {
  storePlaintext: boolean;
  /** said on stderr (and in the JSON result) when the table could not tell */
  warning?: string;
}

/**
 * Whether to write the plaintext column. `chosen` is the caller's explicit choice (a flag, the
 * environment, the config file or a kamctlrc); undefined means sipctl's default (ha1 only), which
 * is refused when the table shows the proxy needs plaintext. `rowPassword` is the current password
 * column of the row being changed (passwd keeps the row's mode).
 */
export async function decideStorage(db: Queryable, chosen: boolean | undefined, rowPassword?: string): Promise<StorageDecision> {
  if (chosen !== undefined) return { storePlaintext: chosen };
  if (rowPassword !== undefined && rowPassword !== '') return { storePlaintext: true };
  const s = await subscriberStorage(db);
  if (s.plaintext > 0) {
    throw new ConflictError(
      'SUBSCRIBER_TABLE_PLAINTEXT',
      `not storing ha1 only: ${s.plaintext} of ${s.rows} subscriber(s) keep plaintext passwords, the sign of Kamailio's auth_db calculate_ha1 yes, which could not authenticate a user stored with ha1 only`,
      WAYS_OUT,
    );
  }
  if (s.mode === 'empty') {
    return {
      storePlaintext: false,
      warning: `stored ha1 only (sipctl's default); if Kamailio uses auth_db calculate_ha1 yes (Debian's stock kamailio.cfg) this user cannot register: ${WAYS_OUT}`,
    };
  }
  return { storePlaintext: false };
}
