/**
 * What the acc module writes, and how: Kamailio's `acc` table (v5, one row per accounted
 * transaction: the INVITE's final response, the BYE) with the extra columns of Kamailio's stock
 * config (WITH_ACCDB: src_user, src_domain, src_ip, dst_ouser, dst_user, dst_domain), and its
 * `acc_cdrs` table (v2, one row per call) with cdr_extra columns.
 *
 * acc_cdrs keeps Kamailio's meaning of its own columns: start_time is when the call was answered,
 * end_time when it ended, duration the seconds between (0 for a call never answered, whose
 * start_time is then its end). The extra columns add when the INVITE arrived (setup_time), who
 * called whom, the disposition (sip_code, sip_reason of the final response to the INVITE) and why
 * the call ended (end_reason).
 */
import { createHash } from 'node:crypto';
import { toDbDatetime } from '../usrloc/location-db.js';

export const END_REASONS = ['caller-bye', 'callee-bye', 'max-duration', 'rpc', 'rejected', 'failed', 'cancelled', 'no-answer', 'timeout', 'shutdown', 'cost-limit', 'owner-lost'] as const;
export type EndReason = (typeof END_REASONS)[number];

export interface CallParties {
  callId: string;
  fromTag: string;
  toTag: string;
  srcUser: string;
  srcDomain: string;
  srcIp: string;
  /** user part of the Request-URI as dialled */
  dstOuser: string;
  /** user part of the Request-URI as forwarded */
  dstUser: string;
  dstDomain: string;
}

export interface CdrRecord extends CallParties {
  /** ms: INVITE received */
  setupTime: number;
  /** ms: 2xx forwarded; undefined when never answered */
  answerTime?: number;
  /** ms */
  endTime: number;
  sipCode: number;
  sipReason: string;
  endReason: EndReason;
  /**
   * sipd --cluster: the node that set the call up died and this one took the call over (dialog
   * module); end_reason then reads e.g. `caller-bye;taken-over`
   */
  takenOver?: boolean;
}

export interface AccEvent extends CallParties {
  method: string;
  sipCode: number;
  sipReason: string;
  /** ms */
  time: number;
}

/**
 * A CDR as JSON.stringify wrote it (sipd --cluster: kept in a call's tombstone in Redis, written
 * by whichever node claims it), checked field by field; undefined when unusable.
 */
export function cdrFromJson(text: string): CdrRecord | undefined {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (o === null || typeof o !== 'object') return undefined;
  const strs = ['callId', 'fromTag', 'toTag', 'srcUser', 'srcDomain', 'srcIp', 'dstOuser', 'dstUser', 'dstDomain', 'sipReason'] as const;
  const nums = ['setupTime', 'endTime', 'sipCode'] as const;
  if (strs.some((k) => typeof o[k] !== 'string') || nums.some((k) => typeof o[k] !== 'number' || !Number.isFinite(o[k]))) return undefined;
  if (o.answerTime !== undefined && (typeof o.answerTime !== 'number' || !Number.isFinite(o.answerTime))) return undefined;
  if (!(END_REASONS as readonly unknown[]).includes(o.endReason)) return undefined;
  const c = Object.fromEntries([...strs, ...nums].map((k) => [k, o[k]])) as unknown as CdrRecord;
  c.endReason = o.endReason as EndReason;
  if (o.answerTime !== undefined) c.answerTime = o.answerTime as number;
  if (o.takenOver === true) c.takenOver = true;
  return c;
}

const clip = (s: string, n: number) => (s.length > n ? s.slice(0, n) : s);

export const ACC_BASE = ['method', 'from_tag', 'to_tag', 'callid', 'sip_code', 'sip_reason', 'time'] as const;
export const ACC_EXTRA = ['src_user', 'src_domain', 'src_ip', 'dst_ouser', 'dst_user', 'dst_domain'] as const;
export const CDR_BASE = ['start_time', 'end_time', 'duration'] as const;
export const CDR_EXTRA = ['callid', 'from_tag', 'to_tag', 'src_user', 'src_domain', 'src_ip', 'dst_ouser', 'dst_user', 'dst_domain', 'setup_time', 'sip_code', 'sip_reason', 'end_reason'] as const;
/** sipd's unique key of acc_cdrs (after CDR_EXTRA): see dialogKey */
export const CDR_KEY = 'dialog_key';

function parties(r: CallParties): Array<string> {
  return [clip(r.srcUser, 64), clip(r.srcDomain, 128), clip(r.srcIp, 64), clip(r.dstOuser, 64), clip(r.dstUser, 64), clip(r.dstDomain, 128)];
}

export function accRow(e: AccEvent, extra: boolean): Array<string | number> {
  const base: Array<string | number> = [clip(e.method, 16), clip(e.fromTag, 128), clip(e.toTag, 128), clip(e.callId, 255), String(e.sipCode).slice(0, 3), clip(e.sipReason, 128), toDbDatetime(Math.floor(e.time / 1000))];
  return extra ? [...base, ...parties(e)] : base;
}

/** end_reason as written: the reason, and `;taken-over` for a call another node took over (at most 23 of the column's 32 characters) */
export function endReasonText(c: Pick<CdrRecord, 'endReason' | 'takenOver'>): string {
  return c.takenOver === true && c.endReason !== 'owner-lost' ? `${c.endReason};taken-over` : c.endReason;
}

/**
 * acc_cdrs.dialog_key: SHA-256 (hex) of the answered dialog's Call-ID, From tag and To tag; null
 * for a call never answered. The column is unique, so the CDR of an answered call is written once
 * even when two nodes write it (one died after its batch committed, before it removed the call's
 * tombstone from Redis: the node that claims the tombstone writes the same CDR again, and the
 * insert skips it). Unanswered attempts may legitimately share Call-ID and From tag (a 407
 * challenge and the authenticated INVITE, a 486 and a retry): they get no key, never skipped.
 * A hash, not the three columns: whole values (the columns clip them) in a fixed 64 characters.
 */
export function dialogKey(c: Pick<CdrRecord, 'callId' | 'fromTag' | 'toTag' | 'answerTime'>): string | null {
  if (c.answerTime === undefined) return null;
  return createHash('sha256').update(`${c.callId}\n${c.fromTag}\n${c.toTag}`).digest('hex');
}

/** The row's values: Kamailio's columns, with `extra` CDR_EXTRA, with `key` (and extra) CDR_KEY. */
export function cdrRow(c: CdrRecord, extra: boolean, key = false): Array<string | number | null> {
  const start = c.answerTime ?? c.endTime;
  const duration = c.answerTime === undefined ? 0 : Math.max(0, (c.endTime - c.answerTime) / 1000);
  const base: Array<string | number> = [toDbDatetime(Math.floor(start / 1000)), toDbDatetime(Math.floor(c.endTime / 1000)), Math.round(duration * 1000) / 1000];
  if (!extra) return base;
  const [srcUser, srcDomain, srcIp, dstOuser, dstUser, dstDomain] = parties(c);
  const row: Array<string | number | null> = [...base, clip(c.callId, 255), clip(c.fromTag, 128), clip(c.toTag, 128), srcUser, srcDomain, srcIp, dstOuser, dstUser, dstDomain, toDbDatetime(Math.floor(c.setupTime / 1000)), String(c.sipCode).slice(0, 3), clip(c.sipReason, 128), endReasonText(c)];
  return key ? [...row, dialogKey(c)] : row;
}
