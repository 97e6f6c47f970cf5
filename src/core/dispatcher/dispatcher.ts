import type { Database, Queryable } from '../db/database.js';
import { assertWritable } from '../db/schema/schema.js';
import { assertColumnText } from '../db/charset.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { formatUri, parseUri } from '../sip/uri.js';
import { isRemoteMessage } from '../proxy/remote.js';
import { reloadWaitingOut, reloadWarnings } from '../proxy/reload.js';
import type { RpcClient } from '../rpc/client.js';
import type { OpContext, OpResult } from '../proxy/ops.js';

/*
 * The dispatcher module's `dispatcher` table: destination sets for ds_select_dst(). The running
 * proxy sees changes after `dispatcher.reload`; `dispatcher.set_state` changes a loaded
 * destination's state in memory only (until the next reload or restart).
 */

export interface DispatcherEntry {
  setid: number;
  destination: string;
  flags: number;
  priority: number;
  attrs: string;
  description: string;
}

export interface DispatcherRow extends DispatcherEntry {
  id: number;
}

export interface DispatcherInput {
  setid: string | number;
  uri: string;
  flags?: string | number;
  priority?: string | number;
  attrs?: string;
  description?: string;
}

export interface DispatcherChange {
  action: 'add' | 'rm';
  dryRun: boolean;
  entries: Array<DispatcherEntry | DispatcherRow>;
  id?: number;
}

const DEST_MAX = 192;  // destination VARCHAR(192)
const ATTRS_MAX = 128; // attrs VARCHAR(128)
const DESC_MAX = 64;   // description VARCHAR(64)
const INT_MAX = 2147483647;

function int(value: string | number | undefined, field: string, min: number, max: number, dflt: number, hint?: string): number {
  if ((value === undefined || value === '') && !Number.isNaN(dflt)) return dflt;
  const s = String(value ?? '').trim();
  const n = /^-?\d+$/.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new ValidationError(field, `"${value}" is not an integer from ${min} to ${max}`, hint);
  return n;
}

export function parseSetid(value: string | number): number {
  return int(value, 'setid', 0, INT_MAX, NaN, 'the set number ds_select_dst() is called with');
}

/**
 * The destination: a sip: or sips: URI (RFC 3261 grammar, src/core/sip/uri.ts) with a host and
 * no password, as the dispatcher module parses it at load time. A destination it cannot parse
 * makes Kamailio refuse the whole table on reload, so nothing else is stored.
 */
export function parseDestination(input: string): string {
  const s = input.trim();
  let uri;
  try {
    uri = parseUri(s);
  } catch (e) {
    throw new ValidationError('uri', `"${input}" is not a SIP URI (${(e as Error).message.replace(/^bad URI [^:]*: /, '')})`, 'e.g. sip:192.0.2.30:5060 or sip:gw.example.com;transport=tcp');
  }
  if (uri.kind !== 'sip') throw new ValidationError('uri', `"${input}" is not a sip: or sips: URI`, 'e.g. sip:192.0.2.30:5060');
  if (uri.headers.length > 0) throw new ValidationError('uri', 'must not carry ?headers');
  const out = formatUri(uri);
  if (out.length > DEST_MAX) throw new ValidationError('uri', `is ${out.length} characters; the dispatcher table holds at most ${DEST_MAX}`);
  return assertColumnText('uri', out);
}

/**
 * attrs as the module parses them (parse_params): `name=value` pairs separated by ";". The ones
 * it interprets must be numbers in range: weight and rweight 1-100, maxload 0 or more.
 */
export function parseAttrs(input: string | undefined): string {
  if (input === undefined || input === '') return '';
  if (input.length > ATTRS_MAX) throw new ValidationError('attrs', `is ${input.length} characters; the dispatcher table holds at most ${ATTRS_MAX}`);
  if (/[\x00-\x1f\x7f\s]/.test(input)) throw new ValidationError('attrs', 'must not contain spaces or control characters', 'e.g. weight=50;duid=gw1');
  for (const part of input.split(';')) {
    const m = /^([A-Za-z0-9_.-]+)(?:=([^;"]*|"[^"]*"))?$/.exec(part);
    if (!m) throw new ValidationError('attrs', `"${part}" is not name=value`, 'e.g. weight=50;duid=gw1;maxload=20');
    const name = m[1]!.toLowerCase();
    const v = m[2] ?? '';
    if (name === 'weight' || name === 'rweight') int(v, `attrs ${name}`, 1, 100, NaN);
    if (name === 'maxload') int(v, 'attrs maxload', 0, INT_MAX, NaN);
  }
  return assertColumnText('attrs', input);
}

function text(value: string | undefined, field: string, max: number): string {
  if (value === undefined) return '';
  if (value.length > max) throw new ValidationError(field, `is ${value.length} characters; the dispatcher table holds at most ${max}`);
  if (/[\x00-\x1f\x7f]/.test(value)) throw new ValidationError(field, 'must not contain control characters');
  return assertColumnText(field, value);
}

export function validateDispatcher(input: DispatcherInput): DispatcherEntry {
  return {
    setid: parseSetid(input.setid),
    destination: parseDestination(input.uri),
    flags: int(input.flags, 'flags', 0, INT_MAX, 0, '1 = inactive, 2 = probing, 4 = disabled, 8 = probing on; see the dispatcher README'),
    priority: int(input.priority, 'priority', -INT_MAX - 1, INT_MAX, 0),
    attrs: parseAttrs(input.attrs),
    description: text(input.description, 'description', DESC_MAX),
  };
}

function toRow(r: Record<string, unknown>): DispatcherRow {
  return { id: Number(r.id), setid: Number(r.setid), destination: String(r.destination), flags: Number(r.flags), priority: Number(r.priority), attrs: String(r.attrs ?? ''), description: String(r.description ?? '') };
}

const COLS = 'id, setid, destination, flags, priority, attrs, description';

async function rowsOfSet(db: Queryable, setid: number): Promise<DispatcherRow[]> {
  return (await db.query<Record<string, unknown>>(`SELECT ${COLS} FROM dispatcher WHERE setid = ? ORDER BY id`, [setid])).map(toRow);
}

/** Stored destination compared in the same normal form (scheme case), as written by hand too. */
function sameDest(stored: string, dest: string): boolean {
  try {
    return formatUri(parseUri(stored.trim())) === dest;
  } catch {
    return stored === dest;
  }
}

export async function addDispatcher(db: Database, input: DispatcherInput, opts: { dryRun?: boolean } = {}): Promise<DispatcherChange> {
  const e = validateDispatcher(input);
  await assertWritable(db, 'dispatcher');
  return db.transaction(async (tx) => {
    const dup = (await rowsOfSet(tx, e.setid)).find((r) => sameDest(r.destination, e.destination));
    if (dup) throw new ConflictError('DISPATCHER_EXISTS', `set ${e.setid} already has ${e.destination} (id ${dup.id})`, 'remove it first with `sipctl dispatcher rm`');
    if (opts.dryRun) return { action: 'add', dryRun: true, entries: [e] };
    const res = await tx.execute('INSERT INTO dispatcher (setid, destination, flags, priority, attrs, description) VALUES (?, ?, ?, ?, ?, ?)', [e.setid, e.destination, e.flags, e.priority, e.attrs, e.description]);
    return { action: 'add', dryRun: false, entries: [e], id: res.insertId };
  });
}

export async function removeDispatcher(db: Database, setidIn: string | number, uri: string, opts: { dryRun?: boolean } = {}): Promise<DispatcherChange> {
  const setid = parseSetid(setidIn);
  const dest = parseDestination(uri);
  await assertWritable(db, 'dispatcher');
  return db.transaction(async (tx) => {
    const rows = (await rowsOfSet(tx, setid)).filter((r) => sameDest(r.destination, dest));
    if (rows.length === 0) throw new NotFoundError('DISPATCHER_NOT_FOUND', `set ${setid} has no destination ${dest}`, 'see `sipctl dispatcher show`');
    if (!opts.dryRun) for (const r of rows) await tx.execute('DELETE FROM dispatcher WHERE id = ?', [r.id]);
    return { action: 'rm', dryRun: !!opts.dryRun, entries: rows };
  });
}

export async function listDispatcher(db: Database, opts: { setid?: string | number } = {}): Promise<DispatcherRow[]> {
  if (opts.setid !== undefined) return rowsOfSet(db, parseSetid(opts.setid));
  return (await db.query<Record<string, unknown>>(`SELECT ${COLS} FROM dispatcher ORDER BY setid, priority DESC, id`)).map(toRow);
}

// ---------------------------------------------------------------- the running proxy

export interface LoadedDestination {
  setid: number;
  uri: string;
  /** Kamailio's state letters: A(ctive)/I(nactive)/D(isabled)/T(rying), then P when probing. */
  flags: string;
  state: 'active' | 'inactive' | 'disabled' | 'trying' | string;
  probing: boolean;
  priority: number;
  attrs: string;
}

type ListReply = { NRSETS?: number; RECORDS?: Array<{ SET: { ID: number; TARGETS?: Array<{ DEST: { URI: string; FLAGS: string; PRIORITY: number; ATTRS?: { BODY?: string } } }> } }> };

const STATES: Record<string, string> = { A: 'active', I: 'inactive', D: 'disabled', T: 'trying' };

/** dispatcher.list, flattened to one row per destination. An empty list is Kamailio's "No Destination Sets" error. */
export async function loadedDestinations(c: RpcClient): Promise<LoadedDestination[]> {
  let r: ListReply;
  try {
    r = (await c.call<ListReply>('dispatcher.list')) ?? {};
  } catch (e) {
    if (isRemoteMessage(e, /no destination sets/i)) return [];
    throw e;
  }
  const out: LoadedDestination[] = [];
  for (const rec of r.RECORDS ?? []) {
    for (const t of rec.SET.TARGETS ?? []) {
      const d = t.DEST;
      const flags = String(d.FLAGS ?? '');
      out.push({ setid: Number(rec.SET.ID), uri: d.URI, flags, state: STATES[flags[0] ?? ''] ?? flags, probing: flags.includes('P'), priority: Number(d.PRIORITY ?? 0), attrs: d.ATTRS?.BODY ?? '' });
    }
  }
  return out;
}

export interface DispatcherMessage {
  message: string;
  retries?: number;
  dryRun?: boolean;
}

export async function dispatcherDump(ctx: OpContext): Promise<OpResult<LoadedDestination[]>> {
  return { command: 'dispatcher dump', view: 'raw', write: false, outcomes: await ctx.nodes.each((c) => loadedDestinations(c)), warnings: [] };
}

export async function dispatcherReload(ctx: OpContext): Promise<OpResult<DispatcherMessage>> {
  const outcomes = await ctx.nodes.each(async (c): Promise<DispatcherMessage> => {
    if (ctx.dryRun) return { message: `would reload the dispatcher table (${(await loadedDestinations(c)).length} destination(s) loaded now)`, dryRun: true };
    const { reply, retries } = await reloadWaitingOut(c, 'dispatcher.reload', ctx.reloadBudgetMs);
    return { message: String(reply), retries };
  });
  return { command: 'dispatcher reload', view: 'reload', write: true, outcomes, warnings: reloadWarnings(outcomes, ctx.nodes.multi) };
}

/**
 * The states `set-state` offers and the letters dispatcher.set_state takes for them: a, i, d or
 * t, with p appended for probing ("p" alone is "Unknown State Value"). probing = inactive and
 * probed, what the module itself sets for a destination that stopped answering; a successful
 * probe makes it active again.
 */
export const SET_STATES = { active: 'a', inactive: 'i', disabled: 'd', probing: 'ip' } as const;
export type SetState = keyof typeof SET_STATES;

export async function dispatcherSetState(ctx: OpContext, stateIn: string, setidIn: string | number, uri: string): Promise<OpResult<DispatcherMessage>> {
  const state = stateIn.trim().toLowerCase();
  if (!(state in SET_STATES)) throw new ValidationError('state', `"${stateIn}" is not one of ${Object.keys(SET_STATES).join(', ')}`);
  const setid = parseSetid(setidIn);
  const dest = parseDestination(uri);
  const outcomes = await ctx.nodes.each(async (c): Promise<DispatcherMessage> => {
    const loaded = (await loadedDestinations(c)).find((d) => d.setid === setid && sameDest(d.uri, dest));
    if (!loaded) throw new NotFoundError('DISPATCHER_NOT_LOADED', `set ${setid} has no destination ${dest} loaded on this proxy`, 'see `sipctl dispatcher dump`; after adding, reload');
    if (ctx.dryRun) return { message: `would set ${dest} in set ${setid} ${state} (now ${loaded.state}${loaded.probing ? ', probing' : ''})`, dryRun: true };
    // the loaded spelling of the URI: Kamailio matches it as text
    return { message: String(await c.call<string>('dispatcher.set_state', [SET_STATES[state as SetState], setid, loaded.uri])) };
  });
  return { command: 'dispatcher set-state', view: 'reload', write: true, outcomes, warnings: [] };
}
