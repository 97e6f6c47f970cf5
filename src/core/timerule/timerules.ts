/**
 * Time rules: calls to a destination class (src/core/block/destination-class.ts), optionally only
 * those of one subscriber group (grp table, `sipctl acl`), are allowed only inside a time window
 * written as a Kamailio tmrec recurrence (tmrec.ts) in an IANA time zone. Outside every window
 * of the rules that apply, sipd answers 403 "Outside allowed hours".
 *
 * Table sipd_timerule (created by `sipctl db init`): class, grp ('' = every subscriber),
 * timerec, tz, description. Several rules for the same class and group: the call is allowed when
 * any of their windows holds (each rule adds allowed time).
 */
import type { Database } from '../db/database.js';
import { assertWritable } from '../db/schema/schema.js';
import { assertColumnText } from '../db/charset.js';
import { classMatches, normaliseClass } from '../block/destination-class.js';
import { NotFoundError, ValidationError } from '../errors.js';
import type { RpcClient } from '../rpc/client.js';
import { parseTmrec, tmrecMatches, validTimeZone, type TmRec } from './tmrec.js';

export interface TimeRule {
  id: number;
  class: string;
  /** subscriber group ('' = every subscriber) */
  grp: string;
  timerec: string;
  tz: string;
  description: string;
}

export interface CompiledRule extends TimeRule {
  rec: TmRec;
}

export const OUTSIDE_HOURS = { status: 403, reason: 'Outside allowed hours' } as const;

export function compileRule(r: TimeRule): CompiledRule {
  return { ...r, rec: parseTmrec(r.timerec) };
}

export interface TimeCheck {
  allowed: boolean;
  /** the rules that apply to this caller and number */
  applicable: number[];
  /** the rule whose window holds now, when allowed by one */
  matched?: number;
}

/**
 * The rules applied to one call: those whose class holds `dialled` and whose group is '' or one
 * of `groups`. No such rule: allowed. Else allowed when any applicable window holds at `now`.
 */
export function checkTimeRules(rules: readonly CompiledRule[], groups: ReadonlySet<string>, dialled: string, now: number): TimeCheck {
  const applicable = rules.filter((r) => (r.grp === '' || groups.has(r.grp)) && classMatches(r.class, dialled));
  if (applicable.length === 0) return { allowed: true, applicable: [] };
  const hit = applicable.find((r) => tmrecMatches(r.rec, now, r.tz));
  return { allowed: hit !== undefined, applicable: applicable.map((r) => r.id), ...(hit ? { matched: hit.id } : {}) };
}

function rowOf(r: Record<string, unknown>): TimeRule {
  return { id: Number(r.id), class: String(r.class), grp: String(r.grp ?? ''), timerec: String(r.timerec), tz: String(r.tz ?? 'UTC'), description: String(r.description ?? '') };
}

export async function listTimeRules(db: Database): Promise<TimeRule[]> {
  const rows = await db.query<Record<string, unknown>>('SELECT id, class, grp, timerec, tz, description FROM sipd_timerule ORDER BY id');
  return rows.map(rowOf);
}

export interface TimeRuleInput {
  class: string;
  timerec: string;
  grp?: string;
  tz?: string;
  description?: string;
}

export async function addTimeRule(db: Database, input: TimeRuleInput, opts: { dryRun?: boolean } = {}): Promise<TimeRule> {
  const cls = normaliseClass(input.class);
  parseTmrec(input.timerec);
  const tz = input.tz ?? 'UTC';
  if (!validTimeZone(tz)) throw new ValidationError('tz', `"${tz.slice(0, 40)}" is not a time zone`, 'an IANA name such as Europe/Berlin or UTC');
  const grp = input.grp ?? '';
  if (grp.length > 64 || /[\x00-\x1f\x7f]/.test(grp)) throw new ValidationError('group', 'at most 64 printable characters');
  const description = input.description ?? '';
  if (description.length > 128 || /[\x00-\x1f\x7f]/.test(description)) throw new ValidationError('description', 'at most 128 printable characters');
  assertColumnText('description', description);
  await assertWritable(db, 'sipd_timerule');
  const row = { id: 0, class: cls, grp, timerec: input.timerec, tz, description };
  if (opts.dryRun) return row;
  const r = await db.execute('INSERT INTO sipd_timerule (class, grp, timerec, tz, description) VALUES (?, ?, ?, ?, ?)', [cls, grp, input.timerec, tz, description]);
  return { ...row, id: Number(r.insertId ?? 0) };
}

export async function removeTimeRule(db: Database, id: number, opts: { dryRun?: boolean } = {}): Promise<TimeRule> {
  if (!Number.isSafeInteger(id) || id < 1) throw new ValidationError('id', 'a rule id from `sipctl timerule show`');
  await assertWritable(db, 'sipd_timerule');
  const rows = await db.query<Record<string, unknown>>('SELECT id, class, grp, timerec, tz, description FROM sipd_timerule WHERE id = ?', [id]);
  if (rows.length === 0) throw new NotFoundError('TIMERULE_NOT_FOUND', `no time rule ${id}`, 'see `sipctl timerule show`');
  if (!opts.dryRun) await db.execute('DELETE FROM sipd_timerule WHERE id = ?', [id]);
  return rowOf(rows[0]);
}

/** The groups of a subscriber (grp table); `user` may be user@domain. */
export async function groupsOf(db: Database, user: string): Promise<Set<string>> {
  const at = user.indexOf('@');
  const rows = at === -1
    ? await db.query<{ grp: string }>('SELECT grp FROM grp WHERE username = ?', [user])
    : await db.query<{ grp: string }>('SELECT grp FROM grp WHERE username = ? AND domain = ?', [user.slice(0, at), user.slice(at + 1)]);
  return new Set(rows.map((r) => String(r.grp)));
}

export interface TimeRuleCheckResult extends TimeCheck {
  number: string;
  user: string | null;
  at: string;
  reply: string | null;
}

/** `sipctl timerule check`: what sipd would decide for this call at `at` (default now). */
export async function checkTimeRulesInDb(db: Database, number: string, opts: { user?: string; at?: number } = {}): Promise<TimeRuleCheckResult> {
  const at = opts.at ?? Date.now();
  const rules = (await listTimeRules(db)).map(compileRule);
  const groups = opts.user === undefined ? new Set<string>() : await groupsOf(db, opts.user);
  const c = checkTimeRules(rules, groups, number, at);
  return { ...c, number, user: opts.user ?? null, at: new Date(at).toISOString(), reply: c.allowed ? null : `${OUTSIDE_HOURS.status} ${OUTSIDE_HOURS.reason}` };
}

export async function reloadTimeRules(c: RpcClient): Promise<{ message: string }> {
  await c.call('timerule.reload');
  return { message: 'time rules reloaded' };
}
