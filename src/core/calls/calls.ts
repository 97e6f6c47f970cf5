/**
 * Calls on the running proxies (sipd's dialog module, Kamailio's dialog module: the same RPC
 * methods and shapes) and the call history in the database (acc_cdrs).
 *
 *   list    dlg.list
 *   end     dlg.list, then dlg.end_dlg <h_entry> <h_id> for each dialog with that Call-ID
 *           (BYE to both sides); none here: sipd's dialog.endCall <callid> (in a cluster, the
 *           node that owns the call ends it)
 *   limit   dialog.userLimits / dialog.setUserLimit (sipd's own)
 *   history acc_cdrs, newest first
 */
import type { Database, Queryable } from '../db/database.js';
import { NotFoundError, SchemaError, SipctlError, UsageError, ValidationError } from '../errors.js';
import type { RpcClient } from '../rpc/client.js';
import type { NodeOutcome, NodeSet } from '../proxy/node-set.js';
import { assertColumnText } from '../db/charset.js';

/** One dialog as dlg.list prints it (Kamailio 5.x). */
export interface DlgListItem {
  h_entry: number;
  h_id: number;
  'call-id': string;
  from_uri: string;
  to_uri: string;
  state: number;
  start_ts: number;
  init_ts: number;
  timeout: number;
  lifetime: number;
  caller?: { tag?: string; contact?: string };
  callee?: { tag?: string; contact?: string };
  profiles?: Array<string | Record<string, string>>;
}

export interface ActiveCall {
  callId: string;
  from: string;
  to: string;
  /** Kamailio's dialog state name */
  state: 'unconfirmed' | 'early' | 'answered' | 'confirmed' | 'deleted' | 'unknown';
  /** ISO time the INVITE came */
  started: string;
  /** ISO time it was answered, when it was */
  answered?: string;
  /** seconds since the answer (0 before) */
  duration: number;
  /** ISO time the proxy will end it (max duration), when set */
  endsAt?: string;
  /** the subscriber whose active-calls limit it counts against */
  caller?: string;
  hEntry: number;
  hId: number;
}

const STATES: Record<number, ActiveCall['state']> = { 1: 'unconfirmed', 2: 'early', 3: 'answered', 4: 'confirmed', 5: 'deleted' };

export function toActiveCall(d: DlgListItem, nowSec = Date.now() / 1000): ActiveCall {
  const iso = (s: number) => new Date(s * 1000).toISOString();
  let caller: string | undefined;
  for (const p of d.profiles ?? []) if (typeof p === 'object' && p !== null && typeof p.caller === 'string') caller = p.caller;
  return {
    callId: d['call-id'],
    from: d.from_uri,
    to: d.to_uri,
    state: STATES[d.state] ?? 'unknown',
    started: iso(d.init_ts),
    ...(d.start_ts > 0 ? { answered: iso(d.start_ts) } : {}),
    duration: d.start_ts > 0 ? Math.max(0, Math.floor(nowSec - d.start_ts)) : 0,
    ...(d.timeout > 0 ? { endsAt: iso(d.timeout) } : {}),
    ...(caller !== undefined ? { caller } : {}),
    hEntry: d.h_entry,
    hId: d.h_id,
  };
}

export async function listCalls(c: RpcClient): Promise<ActiveCall[]> {
  const list = await c.call<DlgListItem[]>('dlg.list');
  if (!Array.isArray(list)) throw new SipctlError('RPC_BAD_REPLY', 'dlg.list did not answer with a list', { category: 'protocol' });
  return list.map((d) => toActiveCall(d));
}

export interface EndedCall {
  callId: string;
  /** dialogs ended (a forked call may have several) */
  ended: number;
}

/** End every dialog of `callId` on this proxy (BYE both ways); NotFound when it has none. */
export async function endCall(c: RpcClient, callId: string): Promise<EndedCall> {
  if (callId === '' || callId.length > 255) throw new ValidationError('callid', 'expected a Call-ID (1-255 characters)');
  const list = await c.call<DlgListItem[]>('dlg.list');
  const mine = (Array.isArray(list) ? list : []).filter((d) => d['call-id'] === callId && d.state !== 5);
  if (mine.length === 0) {
    // sipd in a cluster: the call may be another node's; dialog.endCall has the node that owns
    // it end it. Kamailio (and a sipd that knows no such call) answer "not found".
    const r = await c.call<{ ended?: unknown }>('dialog.endCall', [callId]).catch((e: unknown) => {
      if (isNotFoundFault(e)) return undefined;
      throw e;
    });
    const ended = Number(r?.ended ?? 0);
    if (ended > 0) return { callId, ended };
    throw new NotFoundError('CALL_NOT_FOUND', `no active call with Call-ID ${callId}`, 'see `sipctl calls list`');
  }
  for (const d of mine) await c.call('dlg.end_dlg', [d.h_entry, d.h_id]);
  return { callId, ended: mine.length };
}

/** What endCall would end, without ending it (the CLI's --dry-run). */
export async function findCall(c: RpcClient, callId: string): Promise<EndedCall> {
  const n = (await listCalls(c)).filter((d) => d.callId === callId && d.state !== 'deleted').length;
  if (n === 0) throw new NotFoundError('CALL_NOT_FOUND', `no active call with Call-ID ${callId}`, 'see `sipctl calls list`');
  return { callId, ended: n };
}

/**
 * `sipctl calls end` on every node of the set (the CLI and the web console). With several nodes the
 * call lives on one, so "not found" on the others is `ended: 0`; a Call-ID no node knows stays
 * CALL_NOT_FOUND on each.
 */
export async function endCallOnNodes(nodes: NodeSet, callId: string, o: { dryRun?: boolean } = {}): Promise<Array<NodeOutcome<EndedCall>>> {
  const outcomes = await nodes.each((c) => (o.dryRun ? findCall(c, callId) : endCall(c, callId)));
  const notFound = (r: NodeOutcome<EndedCall>) => !r.ok && r.error.code === 'CALL_NOT_FOUND';
  if (outcomes.length < 2 || outcomes.every(notFound)) return outcomes;
  return outcomes.map((r) => (notFound(r) ? { node: r.node, ok: true as const, value: { callId, ended: 0 } } : r));
}

/** A JSON-RPC fault meaning "no such dialog" or "no such method" (Kamailio has no dialog.endCall). */
function isNotFoundFault(e: unknown): boolean {
  if (!(e instanceof SipctlError) || e.code !== 'RPC_ERROR') return false;
  const d = e.details as { rpcCode?: unknown; rpcMessage?: unknown } | undefined;
  const code = Number(d?.rpcCode);
  return code === 404 || code === -32601 || /not found/i.test(String(d?.rpcMessage ?? ''));
}

export interface UserLimit {
  user: string;
  /** -1 = no limit */
  limit: number;
  source: 'rpc' | 'config' | 'default';
  active: number;
}

export interface Limits {
  default: number;
  users: UserLimit[];
}

export async function userLimits(c: RpcClient): Promise<Limits> {
  return c.call<Limits>('dialog.userLimits');
}

/** `n`: a number (0 = no calls, -1 = no limit) or "default". */
export function parseLimit(n: string): number | 'default' {
  const v = n.trim().toLowerCase();
  if (v === 'default') return 'default';
  if (v === 'none' || v === 'unlimited') return -1;
  if (!/^-?\d{1,6}$/.test(v) || Number(v) < -1) throw new ValidationError('limit', `"${n}" is not a number of calls`, 'a number, 0 (no calls), -1 or "unlimited", or "default"');
  return Number(v);
}

export async function setUserLimit(c: RpcClient, user: string, limit: number | 'default'): Promise<UserLimit> {
  if (!/^\S{1,64}$/.test(user)) throw new ValidationError('user', 'expected a subscriber name');
  const r = await c.call<{ user: string; limit: number; active: number }>('dialog.setUserLimit', [user, limit]);
  return { user: r.user, limit: r.limit, source: limit === 'default' ? 'default' : 'rpc', active: r.active };
}

export interface CallRecord {
  /** Kamailio's stock acc_cdrs has only id, start_time, end_time and duration: the rest are cdr_extra
   * columns (sipd's acc module writes them all) and absent from a record when the table lacks them. */
  id: number;
  callId?: string;
  caller?: string;
  callerDomain?: string;
  callerIp?: string;
  /** the number as dialled */
  callee?: string;
  /** where it went (user@host as forwarded) */
  calleeForwarded?: string;
  /** ISO: INVITE arrived (stock tables: the answer time, all they know) */
  start: string;
  /** ISO: answered */
  answer?: string;
  /** ISO */
  end: string;
  /** seconds answered → end */
  duration: number;
  sipCode?: number;
  sipReason?: string;
  endReason?: string;
}

/** acc_cdrs times are 'YYYY-MM-DD HH:MM:SS' in the proxy's local time (as Kamailio writes them). */
function isoLocal(v: unknown): string {
  if (v instanceof Date) return v.toISOString();
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})/.exec(String(v));
  if (!m) return String(v);
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number);
  return new Date(y, mo - 1, d, h, mi, s).toISOString();
}

function localDatetime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** "2026-01-02", an ISO time, or a duration back from now: 30m, 12h, 7d. */
export function parseSince(text: string, now = new Date()): Date {
  const rel = /^(\d{1,6})([smhd])$/.exec(text.trim());
  if (rel) return new Date(now.getTime() - Number(rel[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[rel[2] as 's' | 'm' | 'h' | 'd']);
  const t = new Date(text);
  if (Number.isNaN(t.getTime())) throw new ValidationError('since', `"${text}" is not a date or a duration`, 'e.g. 2026-01-02, 2026-01-02T08:00, 12h or 7d');
  return t;
}

export interface HistoryQuery {
  /** caller (src_user) or callee (dst_ouser / dst_user) */
  user?: string;
  since?: Date;
  /** dialled numbers starting with this */
  number?: string;
  /** only calls answered / not answered */
  answered?: boolean;
  limit?: number;
}

/** The columns a table has (names lower-cased); empty when the table does not exist. */
export async function tableColumns(db: Queryable, table: string): Promise<Set<string>> {
  const rows = db.engine === 'mysql'
    ? await db.query<{ name: string }>('SELECT column_name AS name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ?', [table])
    : await db.query<{ name: string }>('SELECT name FROM pragma_table_info(?)', [table]);
  return new Set(rows.map((r) => String(r.name).toLowerCase()));
}

/** The cdr_extra columns sipctl reads when present (sipd's acc module writes all of them). */
const EXTRA = ['callid', 'src_user', 'src_domain', 'src_ip', 'dst_ouser', 'dst_user', 'dst_domain', 'setup_time', 'sip_code', 'sip_reason', 'end_reason'] as const;
const NEEDS_EXTRA = "Kamailio's stock acc_cdrs has only start_time, end_time and duration: add the cdr_extra columns (acc module parameter cdr_extra) or leave this filter out";

export async function callHistory(db: Database, q: HistoryQuery = {}): Promise<{ total: number; calls: CallRecord[] }> {
  const cols = await tableColumns(db, 'acc_cdrs');
  if (cols.size === 0) throw new SchemaError('SCHEMA_MISSING', `database ${db.label} has no acc_cdrs table`, 'run `sipctl db init`, or Kamailio\'s acc-create.sql');
  const has = (c: string) => cols.has(c);
  const need = (flag: string, ...c: string[]) => {
    const missing = c.filter((x) => !has(x));
    if (missing.length) throw new UsageError('CDR_COLUMN_MISSING', `${flag} needs acc_cdrs column(s) ${missing.join(', ')}, which this table lacks`, NEEDS_EXTRA);
  };
  const where: string[] = [];
  const params: Array<string | number> = [];
  if (q.user !== undefined) {
    need('--user', 'src_user', 'dst_ouser', 'dst_user');
    assertColumnText('user', q.user);
    where.push('(src_user = ? OR dst_ouser = ? OR dst_user = ?)');
    params.push(q.user, q.user, q.user);
  }
  // The stock table knows only the answer time; it is the best "since" it has.
  const timeCol = has('setup_time') ? 'setup_time' : 'start_time';
  if (q.since !== undefined) {
    where.push(`${timeCol} >= ?`);
    params.push(localDatetime(q.since));
  }
  if (q.number !== undefined) {
    need('--number', 'dst_ouser');
    assertColumnText('number', q.number);
    where.push('dst_ouser LIKE ?');
    params.push(q.number.replace(/[%_\\]/g, '') + '%');
  }
  if (q.answered !== undefined) {
    need(q.answered ? '--answered' : '--no-answered', 'sip_code');
    where.push(q.answered ? "sip_code LIKE '2%'" : "sip_code NOT LIKE '2%'");
  }
  const w = where.length ? ` WHERE ${where.join(' AND ')}` : '';
  const limit = Math.max(1, Math.min(q.limit ?? 50, 1_000_000));
  // Column names come from our own constant list, filtered by what the table has: never from input.
  const select = ['id', 'start_time', 'end_time', 'duration', ...EXTRA.filter(has)].join(', ');
  const [{ n }] = await db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM acc_cdrs${w}`, params);
  const rows = await db.query<Record<string, unknown>>(`SELECT ${select} FROM acc_cdrs${w} ORDER BY ${timeCol} DESC, id DESC LIMIT ${limit}`, params);
  const str = (r: Record<string, unknown>, c: string) => (has(c) && r[c] !== null && r[c] !== undefined ? String(r[c]) : undefined);
  return {
    total: Number(n),
    calls: rows.map((r) => {
      const code = has('sip_code') ? Number(r.sip_code) : undefined;
      // A stock acc_cdrs row is written for a confirmed dialog: it was answered at start_time.
      const answered = code === undefined || (code >= 200 && code < 300);
      const rec: CallRecord = {
        id: Number(r.id),
        start: isoLocal(has('setup_time') ? r.setup_time : r.start_time),
        ...(answered ? { answer: isoLocal(r.start_time) } : {}),
        end: isoLocal(r.end_time),
        duration: Number(r.duration),
      };
      const set = <K extends keyof CallRecord>(k: K, v: CallRecord[K] | undefined) => {
        if (v !== undefined) rec[k] = v;
      };
      set('callId', str(r, 'callid'));
      set('caller', str(r, 'src_user'));
      set('callerDomain', str(r, 'src_domain'));
      set('callerIp', str(r, 'src_ip'));
      set('callee', str(r, 'dst_ouser'));
      if (has('dst_user') && has('dst_domain')) set('calleeForwarded', `${String(r.dst_user)}@${String(r.dst_domain)}`);
      set('sipCode', code);
      set('sipReason', str(r, 'sip_reason'));
      set('endReason', str(r, 'end_reason'));
      return rec;
    }),
  };
}
