/**
 * Calls on the running proxies (sipd's dialog module, Kamailio's dialog module: the same RPC
 * methods and shapes) and the call history in the database (acc_cdrs).
 *
 *   list    dlg.list
 *   end     dlg.list, then dlg.end_dlg <h_entry> <h_id> for each dialog with that Call-ID
 *           (BYE to both sides)
 *   limit   dialog.userLimits / dialog.setUserLimit (sipd's own)
 *   history acc_cdrs, newest first
 */
import type { Database } from '../db/database.js';
import { NotFoundError, SipctlError, ValidationError } from '../errors.js';
import type { RpcClient } from '../rpc/client.js';
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
  if (mine.length === 0) throw new NotFoundError('CALL_NOT_FOUND', `no active call with Call-ID ${callId}`, 'see `sipctl calls list`');
  for (const d of mine) await c.call('dlg.end_dlg', [d.h_entry, d.h_id]);
  return { callId, ended: mine.length };
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
  callId: string;
  caller: string;
  callerDomain: string;
  callerIp: string;
  /** the number as dialled */
  callee: string;
  /** where it went (user@host as forwarded) */
  calleeForwarded: string;
  /** ISO: INVITE arrived */
  start: string;
  /** ISO: answered */
  answer?: string;
  /** ISO */
  end: string;
  /** seconds answered → end */
  duration: number;
  sipCode: number;
  sipReason: string;
  endReason: string;
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

export async function callHistory(db: Database, q: HistoryQuery = {}): Promise<{ total: number; calls: CallRecord[] }> {
  const where: string[] = [];
  const params: Array<string | number> = [];
  if (q.user !== undefined) {
    assertColumnText('user', q.user);
    where.push('(src_user = ? OR dst_ouser = ? OR dst_user = ?)');
    params.push(q.user, q.user, q.user);
  }
  if (q.since !== undefined) {
    where.push('setup_time >= ?');
    params.push(localDatetime(q.since));
  }
  if (q.number !== undefined) {
    assertColumnText('number', q.number);
    where.push('dst_ouser LIKE ?');
    params.push(q.number.replace(/[%_\\]/g, '') + '%');
  }
  if (q.answered !== undefined) where.push(q.answered ? "sip_code LIKE '2%'" : "sip_code NOT LIKE '2%'");
  const w = where.length ? ` WHERE ${where.join(' AND ')}` : '';
  const limit = Math.max(1, Math.min(q.limit ?? 50, 1_000_000));
  const [{ n }] = await db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM acc_cdrs${w}`, params);
  const rows = await db.query<Record<string, unknown>>(
    `SELECT callid, src_user, src_domain, src_ip, dst_ouser, dst_user, dst_domain, setup_time, start_time, end_time, duration, sip_code, sip_reason, end_reason FROM acc_cdrs${w} ORDER BY setup_time DESC, id DESC LIMIT ${limit}`,
    params,
  );
  return {
    total: Number(n),
    calls: rows.map((r) => {
      const code = Number(r.sip_code);
      const answered = code >= 200 && code < 300;
      return {
        callId: String(r.callid),
        caller: String(r.src_user),
        callerDomain: String(r.src_domain),
        callerIp: String(r.src_ip),
        callee: String(r.dst_ouser),
        calleeForwarded: `${String(r.dst_user)}@${String(r.dst_domain)}`,
        start: isoLocal(r.setup_time),
        ...(answered ? { answer: isoLocal(r.start_time) } : {}),
        end: isoLocal(r.end_time),
        duration: Number(r.duration),
        sipCode: code,
        sipReason: String(r.sip_reason),
        endReason: String(r.end_reason),
      };
    }),
  };
}
