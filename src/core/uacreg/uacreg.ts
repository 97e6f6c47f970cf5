import type { Database, Queryable } from '../db/database.js';
import { assertWritable } from '../db/schema/schema.js';
import { assertColumnText } from '../db/charset.js';
import { ConflictError, NotFoundError, SipctlError, ValidationError } from '../errors.js';
import type { RpcClient } from '../rpc/client.js';
import { parseUri } from '../sip/uri.js';
import type { OpContext, OpResult } from '../proxy/ops.js';
import { mapUnsupported, remoteDetails } from '../proxy/remote.js';

/*
 * The uac module's `uacreg` table: registrations the proxy itself makes to remote registrars
 * (carriers, upstream PBXs), kamcli's `uacreg`. The database rows (add/rm/show) and what the
 * running proxy has loaded (uac.reg_dump / reg_reload / reg_refresh). auth_password is a secret:
 * it comes from stdin or a prompt, never argv, and is masked in every listing.
 */

export const MASK = '********';

export interface UacregInput {
  lUuid: string;
  /** local identity USER@DOMAIN (l_username, l_domain) */
  local: string;
  /** remote identity USER@DOMAIN (r_username, r_domain) */
  remote: string;
  /** where REGISTER goes, e.g. sip:carrier.example:5060 */
  authProxy: string;
  password: string;
  realm?: string;
  authUsername?: string;
  expires?: string | number;
  flags?: string | number;
  regDelay?: string | number;
  socket?: string;
  contactAddr?: string;
}

/** A uacreg row as listed: the password never leaves masked. */
export interface UacregRow {
  id?: number;
  lUuid: string;
  lUsername: string;
  lDomain: string;
  rUsername: string;
  rDomain: string;
  realm: string;
  authUsername: string;
  authPassword: string;
  authProxy: string;
  expires: number;
  flags: number;
  regDelay: number;
  socket: string;
  contactAddr: string;
}

export interface UacregChange {
  action: 'add' | 'rm';
  dryRun: boolean;
  entries: UacregRow[];
}

function text(field: string, v: string, max: number, opts: { required?: boolean } = {}): string {
  if (opts.required && v === '') throw new ValidationError(field, 'must not be empty');
  if (v.length > max) throw new ValidationError(field, `is ${v.length} characters; the uacreg table holds at most ${max}`);
  if (/[\s\x00-\x1f\x7f]/.test(v)) throw new ValidationError(field, 'must not contain blanks or control characters');
  return assertColumnText(field, v);
}

function int(field: string, v: string | number | undefined, dflt: number, min: number, max = 2147483647): number {
  if (v === undefined || v === '') return dflt;
  const s = String(v).trim();
  const n = /^-?\d+$/.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new ValidationError(field, `"${v}" is not a whole number between ${min} and ${max}`);
  return n;
}

function identity(field: string, v: string): { user: string; domain: string } {
  const s = v.replace(/^sips?:/i, '');
  const at = s.lastIndexOf('@');
  if (at <= 0 || at === s.length - 1) throw new ValidationError(field, `"${v}" is not USER@DOMAIN`, 'e.g. 4930123456@carrier.example');
  return { user: text(`${field} user`, s.slice(0, at), 64), domain: text(`${field} domain`, s.slice(at + 1), 64) };
}

export function validateUacreg(input: UacregInput): UacregRow & { authPassword: string } {
  const lUuid = text('l_uuid', input.lUuid, 64, { required: true });
  const l = identity('local', input.local);
  const r = identity('remote', input.remote);
  const authProxy = text('auth_proxy', input.authProxy.trim(), 255, { required: true });
  try {
    const u = parseUri(authProxy);
    if (u.kind !== 'sip') throw new Error('not a sip: or sips: URI');
  } catch (e) {
    throw new ValidationError('auth_proxy', `"${input.authProxy}" is not a SIP URI (${(e as Error).message.replace(/^bad URI [^:]*: /, '')})`, 'e.g. sip:carrier.example:5060;transport=udp');
  }
  if (input.password === '') throw new ValidationError('password', 'must not be empty');
  if (input.password.length > 64) throw new ValidationError('password', 'is longer than the 64 characters auth_password holds');
  if (/[\x00-\x1f\x7f]/.test(input.password)) throw new ValidationError('password', 'must not contain control characters');
  assertColumnText('password', input.password);
  const socket = input.socket ? text('socket', input.socket, 128) : '';
  if (socket && !/^(udp|tcp|tls|sctp):[^:]+(:\d+)?$|^(udp|tcp|tls|sctp):\[[0-9a-fA-F:.]+\](:\d+)?$/.test(socket)) throw new ValidationError('socket', `"${socket}" is not a listen socket`, 'e.g. udp:192.0.2.1:5060');
  return {
    lUuid,
    lUsername: l.user,
    lDomain: l.domain,
    rUsername: r.user,
    rDomain: r.domain,
    realm: input.realm ? text('realm', input.realm, 64) : r.domain,
    authUsername: input.authUsername ? text('auth_username', input.authUsername, 64) : r.user,
    authPassword: input.password,
    authProxy,
    expires: int('expires', input.expires, 3600, 1),
    flags: int('flags', input.flags, 0, 0),
    regDelay: int('reg_delay', input.regDelay, 0, 0),
    socket,
    contactAddr: input.contactAddr ? text('contact_addr', input.contactAddr, 255) : '',
  };
}

const COLS = 'id, l_uuid, l_username, l_domain, r_username, r_domain, realm, auth_username, auth_proxy, expires, flags, reg_delay, socket, contact_addr';

/** A database row, the password masked (it is not even selected). */
function toRow(r: Record<string, unknown>): UacregRow {
  const s = (v: unknown) => (v === null || v === undefined ? '' : String(v));
  return {
    id: Number(r.id),
    lUuid: s(r.l_uuid),
    lUsername: s(r.l_username),
    lDomain: s(r.l_domain),
    rUsername: s(r.r_username),
    rDomain: s(r.r_domain),
    realm: s(r.realm),
    authUsername: s(r.auth_username),
    authPassword: MASK,
    authProxy: s(r.auth_proxy),
    expires: Number(r.expires),
    flags: Number(r.flags),
    regDelay: Number(r.reg_delay),
    socket: s(r.socket),
    contactAddr: s(r.contact_addr),
  };
}

async function rowsOf(db: Queryable, lUuid: string): Promise<UacregRow[]> {
  return (await db.query<Record<string, unknown>>(`SELECT ${COLS} FROM uacreg WHERE l_uuid = ? ORDER BY id`, [lUuid])).map(toRow);
}

/** Add one registration; an l_uuid that exists is a conflict (exit 4). */
export async function addUacreg(db: Database, input: UacregInput, opts: { dryRun?: boolean } = {}): Promise<UacregChange> {
  const e = validateUacreg(input);
  await assertWritable(db, 'uacreg');
  return db.transaction(async (tx) => {
    if ((await rowsOf(tx, e.lUuid)).length > 0) throw new ConflictError('UACREG_EXISTS', `a uacreg record with l_uuid ${e.lUuid} exists`, 'remove it first with `sipctl uacreg rm`');
    const shown = { ...e, authPassword: MASK };
    if (opts.dryRun) return { action: 'add', dryRun: true, entries: [shown] };
    const res = await tx.execute(
      'INSERT INTO uacreg (l_uuid, l_username, l_domain, r_username, r_domain, realm, auth_username, auth_password, auth_ha1, auth_proxy, expires, flags, reg_delay, contact_addr, socket) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      [e.lUuid, e.lUsername, e.lDomain, e.rUsername, e.rDomain, e.realm, e.authUsername, e.authPassword, '', e.authProxy, e.expires, e.flags, e.regDelay, e.contactAddr, e.socket],
    );
    return { action: 'add', dryRun: false, entries: [{ ...shown, id: res.insertId }] };
  });
}

export async function removeUacreg(db: Database, lUuidIn: string, opts: { dryRun?: boolean } = {}): Promise<UacregChange> {
  const lUuid = text('l_uuid', lUuidIn, 64, { required: true });
  await assertWritable(db, 'uacreg');
  return db.transaction(async (tx) => {
    const rows = await rowsOf(tx, lUuid);
    if (rows.length === 0) throw new NotFoundError('UACREG_NOT_FOUND', `no uacreg record with l_uuid ${lUuid}`, 'see `sipctl uacreg show`');
    if (!opts.dryRun) await tx.execute('DELETE FROM uacreg WHERE l_uuid = ?', [lUuid]);
    return { action: 'rm', dryRun: !!opts.dryRun, entries: rows };
  });
}

/** Every record, or one (not there: exit 3). */
export async function listUacreg(db: Database, lUuid?: string): Promise<UacregRow[]> {
  if (lUuid !== undefined) {
    const rows = await rowsOf(db, text('l_uuid', lUuid, 64, { required: true }));
    if (rows.length === 0) throw new NotFoundError('UACREG_NOT_FOUND', `no uacreg record with l_uuid ${lUuid}`, 'see `sipctl uacreg show`');
    return rows;
  }
  return (await db.query<Record<string, unknown>>(`SELECT ${COLS} FROM uacreg ORDER BY l_uuid, id`)).map(toRow);
}

// ---------------------------------------------------------------- the running proxy

/** uac.reg_dump's flags (uac_reg.c UAC_REG_*), as words. */
const FLAG_NAMES: Array<[number, string]> = [[1, 'disabled'], [2, 'ongoing'], [4, 'online'], [8, 'authsent'], [16, 'init']];

/** What the proxy has loaded for one registration, the password masked. */
export interface LoadedUacreg extends UacregRow {
  /** flag words, e.g. ["online"] */
  state: string[];
  /** unix time of the next REGISTER (0: none scheduled) */
  timerExpires: number;
  /** unix time the record was loaded */
  regInit: number;
}

const UNSUPPORTED_HINT = "Kamailio's uac module with reg_db_url does this; sipd makes no registrations of its own";

export function toLoaded(r: Record<string, unknown>): LoadedUacreg {
  const s = (v: unknown) => (v === null || v === undefined ? '' : String(v));
  const flags = Number(r.flags);
  return {
    lUuid: s(r.l_uuid),
    lUsername: s(r.l_username),
    lDomain: s(r.l_domain),
    rUsername: s(r.r_username),
    rDomain: s(r.r_domain),
    realm: s(r.realm),
    authUsername: s(r.auth_username),
    authPassword: MASK,
    authProxy: s(r.auth_proxy),
    expires: Number(r.expires),
    flags,
    regDelay: Number(r.reg_delay),
    socket: s(r.socket),
    contactAddr: s(r.contact_addr),
    state: FLAG_NAMES.filter(([bit]) => (flags & bit) !== 0).map(([, n]) => n),
    timerExpires: Number(r.timer_expires),
    regInit: Number(r.reg_init),
  };
}

export async function loadedUacreg(c: RpcClient): Promise<LoadedUacreg[]> {
  let r: unknown;
  try {
    r = await c.call('uac.reg_dump');
  } catch (e) {
    throw mapUnsupported(e, 'uac.reg_dump', UNSUPPORTED_HINT);
  }
  const list = Array.isArray(r) ? r : r && typeof r === 'object' && Object.keys(r).length > 0 ? [r] : [];
  return (list as Array<Record<string, unknown>>).map(toLoaded).sort((a, b) => (a.lUuid < b.lUuid ? -1 : a.lUuid > b.lUuid ? 1 : 0));
}

export interface UacregReload {
  message: string;
  retries: number;
  dryRun?: boolean;
}

export async function uacregDump(ctx: OpContext): Promise<OpResult<LoadedUacreg[]>> {
  return { command: 'uacreg dump', view: 'uacreg-loaded', write: false, outcomes: await ctx.nodes.each((c) => loadedUacreg(c)), warnings: [] };
}

/** uac.reg_reload: the proxy reads the uacreg table again (Kamailio answers {}). */
export async function uacregReload(ctx: OpContext): Promise<OpResult<UacregReload>> {
  const outcomes = await ctx.nodes.each(async (c): Promise<UacregReload> => {
    if (ctx.dryRun) {
      const n = (await loadedUacreg(c)).length;
      return { message: `would reload the uacreg table (${n} record(s) loaded now)`, retries: 0, dryRun: true };
    }
    try {
      await c.call('uac.reg_reload');
    } catch (e) {
      // uac keeps the previous records for 150 s after a reload (registrations in flight may
      // still use them) and refuses another reload until then (uac_reg.c, UAC_REG_GC_INTERVAL)
      if (remoteDetails(e) && /failed to shift records/i.test(remoteDetails(e)!.rpcMessage)) {
        throw new SipctlError('UACREG_RELOAD_TOO_SOON', 'the proxy refused the reload: Kamailio\'s uac module allows one uac.reg_reload per 150 s', { category: 'remote', hint: 'retry later, or load one record now with `sipctl uacreg refresh L_UUID`', details: { rpcMessage: remoteDetails(e)!.rpcMessage }, cause: e });
      }
      throw mapUnsupported(e, 'uac.reg_reload', UNSUPPORTED_HINT);
    }
    return { message: 'uacreg table reloaded', retries: 0 };
  });
  return { command: 'uacreg reload', view: 'reload', write: true, outcomes, warnings: [] };
}

/** uac.reg_refresh: the proxy reloads one record from the database and registers it anew. */
export async function uacregRefresh(ctx: OpContext, lUuidIn: string): Promise<OpResult<UacregReload>> {
  const lUuid = text('l_uuid', lUuidIn, 64, { required: true });
  const outcomes = await ctx.nodes.each(async (c): Promise<UacregReload> => {
    if (ctx.dryRun) {
      const loaded = (await loadedUacreg(c)).some((r) => r.lUuid === lUuid);
      return { message: `would refresh ${lUuid} (${loaded ? 'loaded now' : 'not loaded yet'})`, retries: 0, dryRun: true };
    }
    try {
      await c.call('uac.reg_refresh', [lUuid]);
    } catch (e) {
      const d = remoteDetails(e);
      if (d && /record not found/i.test(d.rpcMessage)) throw notLoaded(lUuid, e);
      throw mapUnsupported(e, 'uac.reg_refresh', UNSUPPORTED_HINT);
    }
    return { message: `${lUuid} refreshed`, retries: 0 };
  });
  return { command: 'uacreg refresh', view: 'reload', write: true, outcomes, warnings: [] };
}

function notLoaded(lUuid: string, cause?: unknown): SipctlError {
  return new SipctlError('UACREG_NOT_LOADED', `no uacreg record ${lUuid} in the proxy's database table`, { category: 'not-found', hint: 'add it with `sipctl uacreg add`; the proxy reads it on `sipctl uacreg refresh` or `reload`', cause });
}
