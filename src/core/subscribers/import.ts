import { accessSync, constants, createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { Database, Queryable } from '../db/database.js';
import { assertWritable } from '../db/schema/schema.js';
import { SipctlError, UsageError, isSipctlError } from '../errors.js';
import { computeHa1, validatePassword } from './credentials.js';
import { decideStorage } from './storage.js';
import { usernameEquals, type CredentialOptions } from './subscribers.js';
import { validateDomain, validateUsername } from './identity.js';

export interface ImportRejection {
  line: number;
  reason: string;
}

export interface ImportSummary {
  added: number;
  skipped: number;
  rejected: number;
  rejections: ImportRejection[];
  dryRun: boolean;
  atomic: boolean;
  /** true when --atomic and a rejection rolled everything back */
  rolledBack: boolean;
  /** whether the plaintext password column was written (decided once, before any row: storage.ts) */
  storedPlaintext: boolean;
  warnings?: string[];
}

export interface ImportOptions extends CredentialOptions {
  defaultDomain?: string;
  atomic?: boolean;
  dryRun?: boolean;
  batchSize?: number;
  onProgress?: (linesRead: number) => void;
}

interface PendingRow {
  line: number;
  username: string;
  domain: string;
  password: string;
  ha1: string;
  ha1b: string;
}

/** Minimal RFC 4180 field splitter for one line (quoted fields may hold commas and "" escapes). */
export function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"' && cur === '') quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  if (quoted) throw new UsageError('CSV_UNTERMINATED_QUOTE', 'unterminated quoted field');
  out.push(cur);
  return out;
}

export function openInput(file: string, stdin: Readable = process.stdin): Readable {
  if (file === '-') return stdin;
  try {
    accessSync(file, constants.R_OK);
  } catch (e) {
    throw new UsageError('INPUT_UNREADABLE', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'give a readable CSV file, or - for standard input');
  }
  return createReadStream(file);
}

/**
 * Import subscribers from CSV (header username,domain,password). Rows are validated first,
 * then written in batches, each batch in one transaction; rows already present are skipped.
 * With `atomic`, everything is one transaction and any rejected row rolls all of it back.
 */
export async function importSubscribers(db: Database, input: Readable, opts: ImportOptions): Promise<ImportSummary> {
  await assertWritable(db, 'subscriber');
  // The same rule as `add`: ha1 only by default, refused when the table shows the proxy needs plaintext.
  const storage = await decideStorage(db, opts.storePlaintext);
  const summary: ImportSummary = {
    added: 0, skipped: 0, rejected: 0, rejections: [], dryRun: !!opts.dryRun, atomic: !!opts.atomic, rolledBack: false,
    storedPlaintext: storage.storePlaintext, ...(storage.warning ? { warnings: [storage.warning] } : {}),
  };
  const batchSize = opts.batchSize ?? 500;
  const reject = (line: number, reason: string) => {
    summary.rejected++;
    if (summary.rejections.length < 1000) summary.rejections.push({ line, reason });
  };

  let header: string[] | undefined;
  let idx: { username: number; domain: number; password: number } | undefined;
  let lineNo = 0;
  let batch: PendingRow[] = [];
  const seen = new Set<string>();

  const writeAll = async (tx: Queryable | Database) => {
    const flush = async () => {
      if (batch.length === 0) return;
      const rows = batch;
      batch = [];
      const run = async (q: Queryable) => {
        // One SELECT per batch finds the rows that exist already; the rest go in one multi-row INSERT.
        const existing = new Set<string>();
        const one = `(${usernameEquals(q)} AND domain = ?)`;
        const cond = rows.map(() => one).join(' OR ');
        const found = await q.query<{ username: string; domain: string }>(`SELECT username, domain FROM subscriber WHERE ${cond}`, rows.flatMap((r) => [r.username, r.domain]));
        for (const f of found) existing.add(`${f.username}\u0000${f.domain}`.toLowerCase());
        const fresh = rows.filter((r) => !existing.has(`${r.username}\u0000${r.domain}`.toLowerCase()));
        summary.skipped += rows.length - fresh.length;
        if (fresh.length && !opts.dryRun) {
          await q.execute(
            'INSERT INTO subscriber (username, domain, password, ha1, ha1b) VALUES ' + fresh.map(() => '(?, ?, ?, ?, ?)').join(', '),
            fresh.flatMap((r) => [r.username, r.domain, r.password, r.ha1, r.ha1b]),
          );
        }
        summary.added += fresh.length;
      };
      if (opts.atomic || !('transaction' in tx)) await run(tx);
      else await (tx as Database).transaction(run);
    };

    // Attach readline only now: on MySQL the transaction's BEGIN is awaited first, and lines
    // emitted before anyone iterates would be lost (the loop would then never end).
    const rl = createInterface({ input, crlfDelay: Infinity });
    for await (const raw of rl) {
      lineNo++;
      const line = raw.replace(/^\uFEFF/, '');
      if (line.trim() === '' || line.startsWith('#')) continue;
      let fields: string[];
      try {
        fields = splitCsvLine(line);
      } catch (e) {
        reject(lineNo, (e as Error).message);
        continue;
      }
      if (!header) {
        header = fields.map((f) => f.trim().toLowerCase());
        const u = header.indexOf('username');
        const p = header.indexOf('password');
        if (u < 0 || p < 0) throw new UsageError('CSV_BAD_HEADER', `line ${lineNo}: header must name the columns username,domain,password (got: ${header.join(',')})`);
        idx = { username: u, domain: header.indexOf('domain'), password: p };
        continue;
      }
      opts.onProgress?.(lineNo);
      try {
        if (fields.length !== header.length) throw new UsageError('CSV_FIELD_COUNT', `expected ${header.length} fields, got ${fields.length}`);
        const username = validateUsername(fields[idx!.username]);
        const domainRaw = idx!.domain >= 0 && fields[idx!.domain] !== '' ? fields[idx!.domain] : opts.defaultDomain;
        if (!domainRaw) throw new UsageError('NO_DOMAIN', 'no domain in the row and no default domain configured');
        const domain = validateDomain(domainRaw);
        const password = validatePassword(fields[idx!.password], username, opts.allowWeak ?? false);
        const key = `${username}\u0000${domain}`.toLowerCase();
        if (seen.has(key)) throw new UsageError('CSV_DUPLICATE', `${username}@${domain} appears earlier in the file`);
        seen.add(key);
        const { ha1, ha1b } = computeHa1(username, domain, password, opts.hash);
        batch.push({ line: lineNo, username, domain, password: storage.storePlaintext ? password : '', ha1, ha1b });
      } catch (e) {
        if (!isSipctlError(e)) throw e;
        reject(lineNo, e.message);
        continue;
      }
      if (batch.length >= batchSize) await flush();
    }
    if (!header) throw new UsageError('CSV_EMPTY', 'the input has no header line (expected username,domain,password)');
    await flush();
    if (opts.atomic && summary.rejected > 0) throw new AtomicRollback();
  };

  if (opts.atomic) {
    try {
      await db.transaction((tx) => writeAll(tx));
    } catch (e) {
      if (!(e instanceof AtomicRollback)) throw e;
      summary.rolledBack = true;
      summary.added = 0;
      summary.skipped = 0;
    }
  } else {
    await writeAll(db);
  }
  return summary;
}

class AtomicRollback extends SipctlError {
  override name = 'AtomicRollback';
  constructor() {
    super('IMPORT_ROLLED_BACK', 'rejected rows: nothing was imported (--atomic)', { category: 'usage' });
  }
}
