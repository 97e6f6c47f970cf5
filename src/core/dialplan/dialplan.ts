import type { Database, Queryable } from '../db/database.js';
import { assertWritable } from '../db/schema/schema.js';
import { assertColumnText } from '../db/charset.js';
import { NotFoundError, ValidationError, ConflictError } from '../errors.js';
import { isRemoteMessage } from '../proxy/remote.js';
import { reloadWaitingOut, reloadWarnings } from '../proxy/reload.js';
import type { RpcClient } from '../rpc/client.js';
import type { OpContext, OpResult } from '../proxy/ops.js';
import { checkPcre } from './pcre.js';

/*
 * The dialplan module's `dialplan` table: per dialplan id (dpid), rules tried by priority (pr,
 * lowest first); a rule matches the input by match_op (0 equal, 1 regexp, 2 fnmatch) against
 * match_exp, then subst_exp/repl_exp rewrite it (repl_exp may use \1…\9 of subst_exp). The
 * running proxy sees changes after `dialplan.reload`. Regular expressions are PCRE in Kamailio
 * and checked by ./pcre.ts before anything is written: the module drops a rule it cannot compile.
 */

export const MATCH_OPS = { equal: 0, regexp: 1, fnmatch: 2 } as const;
export type MatchOp = keyof typeof MATCH_OPS;
const OP_NAMES: Record<number, MatchOp> = { 0: 'equal', 1: 'regexp', 2: 'fnmatch' };

export interface DialplanEntry {
  dpid: number;
  pr: number;
  matchOp: MatchOp;
  matchExp: string;
  matchLen: number;
  substExp: string;
  replExp: string;
  attrs: string;
}

export interface DialplanRow extends DialplanEntry {
  id: number;
}

export interface DialplanInput {
  dpid: string | number;
  match: string;
  replace: string;
  matchOp?: string;
  subst?: string;
  priority?: string | number;
  attrs?: string;
}

export interface DialplanChange {
  action: 'add' | 'rm';
  dryRun: boolean;
  entries: Array<DialplanEntry | DialplanRow>;
  id?: number;
}

const MAX = { match_exp: 64, subst_exp: 64, repl_exp: 256, attrs: 64 } as const;

function int(value: string | number | undefined, field: string, min: number, max: number, dflt?: number): number {
  if ((value === undefined || value === '') && dflt !== undefined) return dflt;
  const s = String(value ?? '').trim();
  const n = /^-?\d+$/.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new ValidationError(field, `"${value ?? ''}" is not an integer from ${min} to ${max}`);
  return n;
}

export function parseDpid(v: string | number): number {
  return int(v, 'dpid', 0, 2147483647);
}

function text(field: keyof typeof MAX, value: string): string {
  if (value.length > MAX[field]) throw new ValidationError(field, `is ${value.length} characters; the dialplan table holds at most ${MAX[field]}`);
  if (/[\x00-\x1f\x7f]/.test(value)) throw new ValidationError(field, 'must not contain control characters');
  return assertColumnText(field, value);
}

export function validateDialplan(input: DialplanInput): DialplanEntry {
  const dpid = parseDpid(input.dpid);
  const pr = int(input.priority, 'priority', 0, 2147483647, 0);
  const op = (input.matchOp ?? 'regexp').trim().toLowerCase();
  if (!(op in MATCH_OPS)) throw new ValidationError('match-op', `"${input.matchOp}" is not one of regexp, equal, fnmatch`);
  const matchOp = op as MatchOp;
  const matchExp = text('match_exp', input.match);
  if (matchExp === '') throw new ValidationError('match_exp', 'must not be empty');
  if (matchOp === 'regexp') checkPcre('match_exp', matchExp);
  // by default the match expression also does the substitution, as kamctl's examples do
  const substExp = text('subst_exp', input.subst ?? (matchOp === 'regexp' ? matchExp : ''));
  const groups = substExp === '' ? 0 : checkPcre('subst_exp', substExp);
  const replExp = text('repl_exp', input.replace);
  for (const m of replExp.matchAll(/\\(\d)/g)) {
    const n = Number(m[1]);
    if (n > groups) throw new ValidationError('repl_exp', `uses \\${n} but subst_exp has ${groups} group(s)`, 'Kamailio refuses the rule when a back-reference has no group');
  }
  return { dpid, pr, matchOp, matchExp, matchLen: matchOp === 'equal' ? matchExp.length : 0, substExp, replExp, attrs: text('attrs', input.attrs ?? '') };
}

function toRow(r: Record<string, unknown>): DialplanRow {
  return {
    id: Number(r.id), dpid: Number(r.dpid), pr: Number(r.pr), matchOp: OP_NAMES[Number(r.match_op)] ?? (String(r.match_op) as MatchOp),
    matchExp: String(r.match_exp), matchLen: Number(r.match_len), substExp: String(r.subst_exp), replExp: String(r.repl_exp), attrs: String(r.attrs),
  };
}

const COLS = 'id, dpid, pr, match_op, match_exp, match_len, subst_exp, repl_exp, attrs';

async function rowsOf(db: Queryable, dpid: number): Promise<DialplanRow[]> {
  return (await db.query<Record<string, unknown>>(`SELECT ${COLS} FROM dialplan WHERE dpid = ? ORDER BY pr, id`, [dpid])).map(toRow);
}

/** Add a rule; the same dpid, priority, match operator and expression twice is a conflict (exit 4). */
export async function addDialplan(db: Database, input: DialplanInput, opts: { dryRun?: boolean } = {}): Promise<DialplanChange> {
  const e = validateDialplan(input);
  await assertWritable(db, 'dialplan');
  return db.transaction(async (tx) => {
    const dup = (await rowsOf(tx, e.dpid)).find((r) => r.pr === e.pr && r.matchOp === e.matchOp && r.matchExp === e.matchExp);
    if (dup) throw new ConflictError('DIALPLAN_EXISTS', `dialplan ${e.dpid} already has a ${e.matchOp} rule for "${e.matchExp}" at priority ${e.pr} (id ${dup.id})`, 'remove it first with `sipctl dialplan rm`');
    if (opts.dryRun) return { action: 'add', dryRun: true, entries: [e] };
    const res = await tx.execute('INSERT INTO dialplan (dpid, pr, match_op, match_exp, match_len, subst_exp, repl_exp, attrs) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [e.dpid, e.pr, MATCH_OPS[e.matchOp], e.matchExp, e.matchLen, e.substExp, e.replExp, e.attrs]);
    return { action: 'add', dryRun: false, entries: [e], id: res.insertId };
  });
}

/** Remove the rules of a dpid with this match expression, or every rule of the dpid. */
export async function removeDialplan(db: Database, dpidIn: string | number, match: string | undefined, opts: { dryRun?: boolean } = {}): Promise<DialplanChange> {
  const dpid = parseDpid(dpidIn);
  await assertWritable(db, 'dialplan');
  return db.transaction(async (tx) => {
    const rows = (await rowsOf(tx, dpid)).filter((r) => match === undefined || r.matchExp === match);
    if (rows.length === 0) throw new NotFoundError('DIALPLAN_NOT_FOUND', `dialplan ${dpid} has no rule${match === undefined ? 's' : ` matching "${match}"`}`, 'see `sipctl dialplan show`');
    if (!opts.dryRun) for (const r of rows) await tx.execute('DELETE FROM dialplan WHERE id = ?', [r.id]);
    return { action: 'rm', dryRun: !!opts.dryRun, entries: rows };
  });
}

export async function listDialplan(db: Database, opts: { dpid?: string | number } = {}): Promise<DialplanRow[]> {
  if (opts.dpid !== undefined) return rowsOf(db, parseDpid(opts.dpid));
  return (await db.query<Record<string, unknown>>(`SELECT ${COLS} FROM dialplan ORDER BY dpid, pr, id`)).map(toRow);
}

// ---------------------------------------------------------------- the running proxy

export interface LoadedRule {
  dpid: number;
  pr: number;
  matchOp: MatchOp | string;
  matchExp: string;
  matchLen: number;
  substExp: string;
  replExp: string;
  attrs: string;
}

type DumpReply = { DPID: number; ENTRIES?: Array<{ ENTRY: { PRIO: number; MATCHOP: number; MATCHEXP: string; MATCHLEN: number; SUBSTEXP: string; REPLEXP: string; ATTRS: string } }> };

const notLoaded = (dpid: number, e: unknown) =>
  new NotFoundError('DIALPLAN_NOT_LOADED', `dialplan ${dpid} is not loaded on this proxy`, 'add rules and reload: `sipctl dialplan reload`');

/** dialplan.dump DPID; Kamailio's "Dialplan ID not matched" is not-found (exit 3); its nulls for empty columns become "" as in the table. */
export async function loadedRules(c: RpcClient, dpid: number): Promise<LoadedRule[]> {
  let r: DumpReply;
  try {
    r = await c.call<DumpReply>('dialplan.dump', [dpid]);
  } catch (e) {
    if (isRemoteMessage(e, /dialplan id not matched/i)) throw notLoaded(dpid, e);
    throw e;
  }
  return (r?.ENTRIES ?? []).map(({ ENTRY: x }) => ({ dpid, pr: Number(x.PRIO), matchOp: OP_NAMES[Number(x.MATCHOP)] ?? String(x.MATCHOP), matchExp: x.MATCHEXP ?? '', matchLen: Number(x.MATCHLEN), substExp: x.SUBSTEXP ?? '', replExp: x.REPLEXP ?? '', attrs: x.ATTRS ?? '' }));
}

export interface Translation {
  input: string;
  output: string;
  attrs: string;
}

export async function translate(c: RpcClient, dpid: number, input: string): Promise<Translation> {
  try {
    const r = await c.call<{ Output: string; Attributes: string }>('dialplan.translate', [dpid, input]);
    return { input, output: String(r.Output), attrs: String(r.Attributes ?? '') };
  } catch (e) {
    if (isRemoteMessage(e, /dialplan id not matched/i)) throw notLoaded(dpid, e);
    if (isRemoteMessage(e, /no translation|translation failed/i)) throw new NotFoundError('DIALPLAN_NO_MATCH', `no rule of dialplan ${dpid} matches "${input}"`);
    throw e;
  }
}

export interface DialplanMessage {
  message: string;
  retries?: number;
  dryRun?: boolean;
}

export async function dialplanDump(ctx: OpContext, dpidIn: string | number): Promise<OpResult<LoadedRule[]>> {
  const dpid = parseDpid(dpidIn);
  return { command: 'dialplan dump', view: 'raw', write: false, outcomes: await ctx.nodes.each((c) => loadedRules(c, dpid)), warnings: [] };
}

export async function dialplanTranslate(ctx: OpContext, dpidIn: string | number, input: string): Promise<OpResult<Translation>> {
  const dpid = parseDpid(dpidIn);
  return { command: 'dialplan translate', view: 'raw', write: false, outcomes: await ctx.nodes.each((c) => translate(c, dpid, input)), warnings: [] };
}

export async function dialplanReload(ctx: OpContext): Promise<OpResult<DialplanMessage>> {
  const outcomes = await ctx.nodes.each(async (c): Promise<DialplanMessage> => {
    if (ctx.dryRun) {
      await c.call('system.listMethods'); // reachable; dialplan has no "list every dpid" method
      return { message: 'would reload the dialplan table', dryRun: true };
    }
    // like permissions and dispatcher, dialplan refuses a reload within 5 s of the last
    const { retries } = await reloadWaitingOut(c, 'dialplan.reload', ctx.reloadBudgetMs);
    return { message: 'dialplan table reloaded', retries };
  });
  return { command: 'dialplan reload', view: 'reload', write: true, outcomes, warnings: reloadWarnings(outcomes, ctx.nodes.multi) };
}
