/**
 * sipd --cluster: what another node needs to take a call over when the node that set it up
 * dies — the dialog's state as its owner would send an in-dialog request (each leg's remote
 * target, route set, CSeq, tags as From/To header values, where it is reached over UDP), its
 * times and its CDR fields. The owner writes it into the call's record in Redis
 * (`sipd:dlg:<Call-ID>`, the `state` of its From tag) when the call is answered and again when
 * a leg's CSeq moves; the node that takes the call over rebuilds the dialog from it.
 *
 * Not carried: the owner's sockets (the new node sends from its own), TCP/TLS connections (a leg
 * reached over TCP/TLS is reached again at its Contact, if it accepts connections), the
 * spending-limit budget (modules/limits keeps it per node).
 */
import type { Endpoint } from '../../kernel/contracts.js';
import type { CallParties } from '../acc/records.js';
import type { Dialog, Leg } from './dialog.js';

export interface LegState {
  tag: string;
  contact: string;
  cseq: number;
  routeSet: string[];
  /** udp:ip:port the leg's messages came from (only UDP: a TCP/TLS source port means nothing to another node) */
  reach?: string;
  header: string;
}

export interface DialogState {
  v: 1;
  fromUri: string;
  toUri: string;
  profileUser?: string;
  parties: CallParties;
  /** ms: INVITE received */
  initTs: number;
  /** ms: answered */
  startTs: number;
  /** max duration in seconds (0 = none) */
  lifetime: number;
  sipCode: number;
  sipReason: string;
  caller: LegState;
  callee: LegState;
}

function legState(l: Leg): LegState {
  const r = l.reach;
  return {
    tag: l.tag,
    contact: l.contact,
    cseq: l.cseq,
    routeSet: [...l.routeSet],
    ...(r !== undefined && r.transport === 'udp' ? { reach: `udp:${r.ip.includes(':') ? `[${r.ip}]` : r.ip}:${r.port}` } : {}),
    header: l.header,
  };
}

export function dialogState(d: Dialog): DialogState {
  return {
    v: 1,
    fromUri: d.fromUri,
    toUri: d.toUri,
    ...(d.profileUser !== undefined ? { profileUser: d.profileUser } : {}),
    parties: { ...d.parties },
    initTs: d.initTs,
    startTs: d.startTs ?? d.initTs,
    lifetime: d.lifetime,
    sipCode: d.sipCode,
    sipReason: d.sipReason,
    caller: legState(d.caller),
    callee: legState(d.callee),
  };
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

function parseReach(v: unknown): Endpoint | undefined {
  const m = typeof v === 'string' ? /^udp:(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(v) : null;
  if (m === null) return undefined;
  return { transport: 'udp', ip: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

function parseLeg(v: unknown): Leg | undefined {
  if (v === null || typeof v !== 'object') return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.tag !== 'string' || o.tag === '') return undefined;
  // Redis' cjson writes an empty list as {} when a record passes through a Lua script: no routes then
  const routeSet = Array.isArray(o.routeSet) ? o.routeSet.filter((x): x is string => typeof x === 'string') : [];
  const reach = parseReach(o.reach);
  return { tag: o.tag, contact: str(o.contact), cseq: num(o.cseq), routeSet, ...(reach !== undefined ? { reach } : {}), header: str(o.header) };
}

/** The state another node wrote, checked field by field (it comes from Redis); undefined when unusable. */
export function parseDialogState(v: unknown): (Omit<DialogState, 'caller' | 'callee'> & { caller: Leg; callee: Leg }) | undefined {
  if (v === null || typeof v !== 'object') return undefined;
  const o = v as Record<string, unknown>;
  if (o.v !== 1) return undefined;
  const caller = parseLeg(o.caller);
  const callee = parseLeg(o.callee);
  const p = o.parties as Record<string, unknown> | null;
  if (caller === undefined || callee === undefined || p === null || typeof p !== 'object') return undefined;
  if (caller.reach === undefined && caller.contact === '') return undefined;
  if (callee.reach === undefined && callee.contact === '') return undefined;
  const parties: CallParties = {
    callId: str(p.callId),
    fromTag: str(p.fromTag),
    toTag: str(p.toTag),
    srcUser: str(p.srcUser),
    srcDomain: str(p.srcDomain),
    srcIp: str(p.srcIp),
    dstOuser: str(p.dstOuser),
    dstUser: str(p.dstUser),
    dstDomain: str(p.dstDomain),
  };
  return {
    v: 1,
    fromUri: str(o.fromUri),
    toUri: str(o.toUri),
    ...(typeof o.profileUser === 'string' ? { profileUser: o.profileUser } : {}),
    parties,
    initTs: num(o.initTs),
    startTs: num(o.startTs),
    lifetime: Math.max(0, num(o.lifetime)),
    sipCode: num(o.sipCode),
    sipReason: str(o.sipReason),
    caller,
    callee,
  };
}
