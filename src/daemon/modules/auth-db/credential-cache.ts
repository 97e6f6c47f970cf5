/**
 * The subscriber table's digest credentials in memory, keyed by (username, domain).
 *
 * The whole table is held, never "cache on miss": a lookup of an unknown user must cost the same
 * as a lookup of a known one, and a database round trip only for misses (or only for hits)
 * would tell an enumerating client which usernames exist by the time the reply takes. A reload
 * builds a new map and swaps it in.
 */
import type { Queryable } from '../../../core/db/database.js';

export interface Credential {
  /** hex H(user:realm:password), as stored */
  ha1: string;
  /** hex H(user@domain:realm:password), as stored */
  ha1b: string;
  /** plaintext, only loaded when calculate_ha1 is on; '' when not stored */
  password: string;
}

interface SubscriberRow {
  username: string;
  domain: string;
  ha1: string | null;
  ha1b: string | null;
  password?: string | null;
}

export class CredentialCache {
  private constructor(private readonly map: ReadonlyMap<string, Credential>) {}

  static empty(): CredentialCache {
    return new CredentialCache(new Map());
  }

  /** Read every subscriber; the plaintext password column only when asked for. */
  static async load(db: Queryable, table: string, withPassword: boolean): Promise<CredentialCache> {
    const cols = withPassword ? 'username, domain, ha1, ha1b, password' : 'username, domain, ha1, ha1b';
    const rows = await db.query<SubscriberRow>(`SELECT ${cols} FROM ${table}`);
    const map = new Map<string, Credential>();
    for (const r of rows) {
      map.set(key(String(r.username), String(r.domain)), {
        ha1: String(r.ha1 ?? '').toLowerCase(),
        ha1b: String(r.ha1b ?? '').toLowerCase(),
        password: withPassword ? String(r.password ?? '') : '',
      });
    }
    return new CredentialCache(map);
  }

  get(username: string, domain: string): Credential | undefined {
    return this.map.get(key(username, domain));
  }

  get size(): number {
    return this.map.size;
  }

  /** How many stored ha1 values have the length of each hash (for a start-up sanity warning). */
  hashLengths(): { md5: number; sha256: number; other: number } {
    const n = { md5: 0, sha256: 0, other: 0 };
    for (const c of this.map.values()) {
      if (c.ha1.length === 32) n.md5++;
      else if (c.ha1.length === 64) n.sha256++;
      else n.other++;
    }
    return n;
  }
}

function key(username: string, domain: string): string {
  return `${username}\u0000${domain}`;
}
