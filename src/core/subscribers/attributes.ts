import type { Database } from '../db/database.js';
import { assertWritable } from '../db/schema/schema.js';
import { assertColumnText } from '../db/charset.js';
import { NotFoundError, SchemaError, UsageError, ValidationError } from '../errors.js';
import { splitAor } from './identity.js';
import { usernameEquals } from './subscribers.js';

/*
 * `sipctl subscriber set USER COLUMN VALUE` (kamctl sets/setn, kamcli setattrs) for an allow-list
 * of subscriber columns. Kamailio 5.6's stock subscriber table has none of them (only username,
 * domain, password, ha1, ha1b); deployments add them for their config (e.g. $avp(email) via
 * auth_db's load_credentials). Each column's SQL is a constant here: no input becomes SQL text.
 */

interface ColumnSpec {
  max: number;
  check?: (v: string) => string | undefined;
  probe: string;
  read: string;
  update: string;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export const SETTABLE: Record<string, ColumnSpec> = {
  email_address: {
    max: 128,
    check: (v) => (v === '' || EMAIL.test(v) ? undefined : 'is not an e-mail address'),
    probe: 'SELECT email_address FROM subscriber WHERE 1 = 0',
    read: 'SELECT email_address AS v FROM subscriber WHERE id = ?',
    update: 'UPDATE subscriber SET email_address = ? WHERE id = ?',
  },
  rpid: {
    max: 128,
    probe: 'SELECT rpid FROM subscriber WHERE 1 = 0',
    read: 'SELECT rpid AS v FROM subscriber WHERE id = ?',
    update: 'UPDATE subscriber SET rpid = ? WHERE id = ?',
  },
};

/** Columns that have their own command, with the step to take instead. */
const REFUSED: Record<string, string> = {
  password: 'use `sipctl passwd USER` (it also updates ha1 and ha1b)',
  ha1: 'use `sipctl passwd USER`: ha1 and ha1b are derived from the password',
  ha1b: 'use `sipctl passwd USER`: ha1 and ha1b are derived from the password',
  username: 'the account is identified by it: `sipctl rm` and `sipctl add` instead',
  domain: 'the account is identified by it: `sipctl rm` and `sipctl add` instead',
  id: 'the row id is not an attribute',
};

export interface AttributeChange {
  username: string;
  domain: string;
  column: string;
  value: string;
  previous: string | null;
  dryRun: boolean;
}

export async function setAttribute(db: Database, user: string, columnIn: string, value: string, opts: { defaultDomain?: string; dryRun?: boolean } = {}): Promise<AttributeChange> {
  const { username, domain } = splitAor(user, opts.defaultDomain);
  const column = columnIn.trim().toLowerCase();
  if (REFUSED[column]) throw new UsageError('COLUMN_NOT_SETTABLE', `subscriber set cannot change ${column}`, REFUSED[column]);
  const spec = SETTABLE[column];
  if (!spec) throw new UsageError('COLUMN_NOT_SETTABLE', `subscriber set does not know the column "${columnIn}"`, `settable columns: ${Object.keys(SETTABLE).join(', ')}`);
  if (value.length > spec.max) throw new ValidationError(column, `is ${value.length} characters; at most ${spec.max}`);
  if (/[\x00-\x1f\x7f]/.test(value)) throw new ValidationError(column, 'must not contain control characters');
  const why = spec.check?.(value);
  if (why) throw new ValidationError(column, `"${value}" ${why}`);
  assertColumnText(column, value);
  await assertWritable(db, 'subscriber');
  try {
    await db.query(spec.probe);
  } catch {
    throw new SchemaError('SCHEMA_COLUMN_MISSING', `the subscriber table in ${db.label} has no ${column} column (Kamailio 5.6's stock schema has none)`, `add the column to the subscriber table first (a VARCHAR of up to ${spec.max} characters)`);
  }
  return db.transaction(async (q) => {
    const ids = await q.query<{ id: number }>(`SELECT id FROM subscriber WHERE ${usernameEquals(q)} AND domain = ?`, [username, domain]);
    if (ids.length === 0) throw new NotFoundError('SUBSCRIBER_NOT_FOUND', `subscriber ${username}@${domain} does not exist`, 'add it with `sipctl add`');
    const id = Number(ids[0]!.id);
    const [row] = await q.query<{ v: unknown }>(spec.read, [id]);
    if (!opts.dryRun) await q.execute(spec.update, [value, id]);
    return { username, domain, column, value, previous: row?.v === null || row?.v === undefined ? null : String(row.v), dryRun: !!opts.dryRun };
  });
}
