/**
 * User-Agent allow-list (issue 13 rule 2), the alternative to the scanner deny-list: for a
 * subscriber in a group that has at least one allow pattern (grp '' = every subscriber), the
 * User-Agent of a REGISTER or INVITE must match one of that group's patterns (JS regular
 * expressions), else sipd answers 403 "User-Agent not allowed". No pattern for the caller's
 * groups: no effect.
 *
 * Table sipd_ua_allow (created by `sipctl db init`): id, grp, pattern, description.
 */
import type { Database } from '../db/database.js';
import { assertWritable } from '../db/schema/schema.js';
import { assertColumnText } from '../db/charset.js';
import { NotFoundError, ValidationError } from '../errors.js';
import type { RpcClient } from '../rpc/client.js';

export interface UaAllowRule {
  id: number;
  /** subscriber group ('' = every subscriber) */
  grp: string;
  pattern: string;
  description: string;
}

export interface CompiledUaRule extends UaAllowRule {
  re: RegExp;
}

export const UA_NOT_ALLOWED = { status: 403, reason: 'User-Agent not allowed' } as const;

/** Compile a pattern; throws ValidationError (exit 2) when it is not a valid regular expression. */
export function compileUaRule(r: UaAllowRule): CompiledUaRule {
  if (r.pattern === '' || r.pattern.length > 255) throw new ValidationError('pattern', 'a regular expression of 1 to 255 characters');
  let re: RegExp;
  try {
    re = new RegExp(r.pattern);
  } catch (e) {
    throw new ValidationError('pattern', `not a valid regular expression: ${(e instanceof Error ? e.message : String(e)).slice(0, 120)}`);
  }
  return { ...r, re };
}

export interface UaCheck {
  allowed: boolean;
  /** the rules that apply to this subscriber */
  applicable: number[];
  /** the rule whose pattern matched, when allowed by one */
  matched?: number;
}

/** The rules whose group is '' or one of `groups`; none: allowed; else allowed when one matches `ua`. */
export function checkUserAgent(rules: readonly CompiledUaRule[], groups: ReadonlySet<string>, ua: string): UaCheck {
  const applicable = rules.filter((r) => r.grp === '' || groups.has(r.grp));
  if (applicable.length === 0) return { allowed: true, applicable: [] };
  const hit = applicable.find((r) => r.re.test(ua));
  return { allowed: hit !== undefined, applicable: applicable.map((r) => r.id), ...(hit ? { matched: hit.id } : {}) };
}

/** The User-Agent of a request: its User-Agent headers joined (as the scanner module reads them). */
export function userAgentOf(headers: ReadonlyArray<{ key: string; value: string }>): string {
  let ua = '';
  for (const h of headers) if (h.key === 'user-agent') ua += (ua ? ' ' : '') + h.value;
  return ua;
}

function rowOf(r: Record<string, unknown>): UaAllowRule {
  return { id: Number(r.id), grp: String(r.grp ?? ''), pattern: String(r.pattern), description: String(r.description ?? '') };
}

export async function listUaRules(db: Database): Promise<UaAllowRule[]> {
  const rows = await db.query<Record<string, unknown>>('SELECT id, grp, pattern, description FROM sipd_ua_allow ORDER BY id');
  return rows.map(rowOf);
}

export async function addUaRule(db: Database, input: { grp: string; pattern: string; description?: string }, opts: { dryRun?: boolean } = {}): Promise<UaAllowRule> {
  const grp = input.grp === '*' ? '' : input.grp;
  if (grp.length > 64 || /[\x00-\x1f\x7f]/.test(grp)) throw new ValidationError('group', 'at most 64 printable characters');
  const description = input.description ?? '';
  if (description.length > 128 || /[\x00-\x1f\x7f]/.test(description)) throw new ValidationError('description', 'at most 128 printable characters');
  compileUaRule({ id: 0, grp, pattern: input.pattern, description });
  assertColumnText('pattern', input.pattern);
  assertColumnText('description', description);
  await assertWritable(db, 'sipd_ua_allow');
  const row = { id: 0, grp, pattern: input.pattern, description };
  if (opts.dryRun) return row;
  const r = await db.execute('INSERT INTO sipd_ua_allow (grp, pattern, description) VALUES (?, ?, ?)', [grp, input.pattern, description]);
  return { ...row, id: Number(r.insertId ?? 0) };
}

export async function removeUaRule(db: Database, id: number, opts: { dryRun?: boolean } = {}): Promise<UaAllowRule> {
  if (!Number.isSafeInteger(id) || id < 1) throw new ValidationError('id', 'a rule id from `sipctl uafilter show`');
  await assertWritable(db, 'sipd_ua_allow');
  const rows = await db.query<Record<string, unknown>>('SELECT id, grp, pattern, description FROM sipd_ua_allow WHERE id = ?', [id]);
  if (rows.length === 0) throw new NotFoundError('UAFILTER_NOT_FOUND', `no User-Agent rule ${id}`, 'see `sipctl uafilter show`');
  if (!opts.dryRun) await db.execute('DELETE FROM sipd_ua_allow WHERE id = ?', [id]);
  return rowOf(rows[0]);
}

export async function reloadUaRules(c: RpcClient): Promise<{ message: string }> {
  await c.call('uafilter.reload');
  return { message: 'User-Agent rules reloaded' };
}
