/**
 * The monitor's figures from successive raw samples, as pure functions: rates from counter
 * differences, a minute of history per node for the sparklines, the ban tables' newest keys
 * (the monitor remembers when it first saw each key: neither Kamailio's nor sipd's htable.dump
 * says when a key was set), and the one JSON snapshot per interval that the non-TTY mode prints
 * (schemas/monitor-snapshot.json).
 */
import { BAN_TABLES, type RawSample } from './sample.js';

export const REPLY_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx', '6xx'] as const;
export type ReplyClass = (typeof REPLY_CLASSES)[number];
/** Points of history kept per series: one minute at the default 1 s interval. */
export const HISTORY_POINTS = 60;
/** Newest ban keys shown per table. */
export const NEWEST_BANS = 3;
/** Flooding sources shown. */
export const TOP_SOURCES = 5;

/** What the monitor shows for one node at one moment; null = unknown ("—" on screen). */
export interface NodeSnapshot {
  node: string;
  ok: boolean;
  error?: string;
  version: string | null;
  uptime: number | null;
  /** requests received per second since the previous sample (null on the first) */
  requestsPerSec: number | null;
  /** replies sent per second, by class (sl: stateless + tm: transaction final replies) */
  repliesPerSec: Record<ReplyClass, number> | null;
  registeredUsers: number | null;
  contacts: number | null;
  activeCalls: number | null;
  bans: Record<(typeof BAN_TABLES)[number], { size: number | null; newest: string[] }>;
  floodSources: Array<{ ip: string; hits: number; status: string }> | null;
  memory: {
    shmUsed: number | null;
    shmTotal: number | null;
    pkgUsed: number | null;
    pkgTotal: number | null;
    rss: number | null;
  };
  /** RPC methods this proxy lacks (shown as "—") */
  missing: string[];
  /** requests/s over the last minute, oldest first */
  history: number[];
}

export interface MonitorSnapshot {
  time: string;
  intervalSec: number;
  nodes: NodeSnapshot[];
}

/** Per-node memory between samples. */
export interface NodeState {
  prev?: RawSample;
  history: number[];
  /** ban table → key → ms when first seen */
  firstSeen: Map<string, Map<string, number>>;
}

export function newNodeState(): NodeState {
  return { history: [], firstSeen: new Map() };
}

const num = (v: number | undefined): number | null => (v === undefined || !Number.isFinite(v) ? null : v);

/** First statistic of `names` that the proxy has. */
function stat(s: Map<string, number> | undefined, ...names: string[]): number | undefined {
  if (!s) return undefined;
  for (const n of names) {
    const v = s.get(n);
    if (v !== undefined) return v;
  }
  return undefined;
}

/** Sum of every statistic whose name matches (e.g. the per-table usrloc:*-contacts of Kamailio). */
function statSum(s: Map<string, number> | undefined, re: RegExp): number | undefined {
  if (!s) return undefined;
  let sum: number | undefined;
  for (const [k, v] of s) if (re.test(k)) sum = (sum ?? 0) + v;
  return sum;
}

/**
 * Replies sent of one class: sl's stateless replies plus tm's final replies of transactions.
 * Kamailio's sl counts some codes on their own (sl:200_replies, sl:404_replies, …) and the rest
 * of the class in sl:Nxx_replies, so the class is the sum of both; tm's are tmx:Nxx_transactions
 * (tm: in older versions).
 */
function repliesOf(s: Map<string, number> | undefined, cls: ReplyClass): number | undefined {
  if (!s) return undefined;
  const digit = cls[0]!;
  let sum: number | undefined;
  for (const [k, v] of s) {
    const m = /^sl:(\d)(xx|\d\d)_replies$/.exec(k) ?? /^tmx?:(\d)(xx)_transactions$/.exec(k);
    if (m && m[1] === digit) sum = (sum ?? 0) + v;
  }
  return sum;
}

/** Counter difference per second; a counter that went down (restart, reset) counts from 0. */
export function rate(prev: number | undefined, cur: number | undefined, seconds: number): number | null {
  if (prev === undefined || cur === undefined || !(seconds > 0)) return null;
  const d = cur >= prev ? cur - prev : cur;
  return Math.round((d / seconds) * 10) / 10;
}

/** Fold one sample into the node's state and produce its snapshot. `sample` undefined = the node failed. */
export function advance(node: string, state: NodeState, sample: RawSample | undefined, error?: string): NodeSnapshot {
  if (!sample) {
    push(state.history, 0);
    state.prev = undefined;
    return emptySnapshot(node, state, error ?? 'no answer');
  }
  const prev = state.prev;
  const secs = prev ? (sample.at - prev.at) / 1000 : 0;
  const s = sample.stats;
  const reqs = rate(stat(prev?.stats, 'core:rcv_requests'), stat(s, 'core:rcv_requests'), secs);
  let replies: Record<ReplyClass, number> | null = null;
  if (prev && REPLY_CLASSES.some((c) => repliesOf(s, c) !== undefined)) {
    replies = Object.fromEntries(REPLY_CLASSES.map((c) => [c, rate(repliesOf(prev.stats, c) ?? 0, repliesOf(s, c) ?? 0, secs) ?? 0])) as Record<ReplyClass, number>;
  }
  push(state.history, reqs ?? 0);
  state.prev = sample;

  const bans = {} as NodeSnapshot['bans'];
  for (const t of BAN_TABLES) {
    const size = sample.htableSizes?.get(t);
    const keys = sample.banKeys?.get(t);
    let seen = state.firstSeen.get(t);
    if (!seen) state.firstSeen.set(t, (seen = new Map()));
    if (keys) {
      const now = new Set(keys);
      for (const k of [...seen.keys()]) if (!now.has(k)) seen.delete(k);
      for (const k of keys) if (!seen.has(k)) seen.set(k, sample.at);
    }
    const newest = keys ? [...seen.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, NEWEST_BANS).map(([k]) => k) : [];
    bans[t] = { size: num(size), newest };
  }

  const rssKb = stat(s, 'sipd:rss_kb');
  return {
    node,
    ok: true,
    version: sample.version ?? null,
    uptime: num(sample.uptime),
    requestsPerSec: reqs,
    repliesPerSec: replies,
    registeredUsers: num(stat(s, 'usrloc:registered_users')),
    contacts: num(statSum(s, /^usrloc:.+[-_]contacts$/)),
    activeCalls: num(stat(s, 'dialog:active_dialogs') ?? sample.activeDialogs),
    bans,
    floodSources: sample.pike ? [...sample.pike].sort((a, b) => b.hits - a.hits).slice(0, TOP_SOURCES) : null,
    memory: {
      shmUsed: num(sample.shm?.used),
      shmTotal: num(sample.shm?.total),
      pkgUsed: num(sample.pkg?.used),
      pkgTotal: num(sample.pkg?.total),
      rss: rssKb === undefined ? null : rssKb * 1024,
    },
    missing: [...sample.missing],
    history: [...state.history],
  };
}

function emptySnapshot(node: string, state: NodeState, error: string): NodeSnapshot {
  return {
    node,
    ok: false,
    error,
    version: null,
    uptime: null,
    requestsPerSec: null,
    repliesPerSec: null,
    registeredUsers: null,
    contacts: null,
    activeCalls: null,
    bans: { ipban: { size: null, newest: [] }, userban: { size: null, newest: [] } },
    floodSources: null,
    memory: { shmUsed: null, shmTotal: null, pkgUsed: null, pkgTotal: null, rss: null },
    missing: [],
    history: [...state.history],
  };
}

function push(h: number[], v: number): void {
  h.push(v);
  while (h.length > HISTORY_POINTS) h.shift();
}

const BARS = '▁▂▃▄▅▆▇█';

/** The last `width` values as block characters, scaled to the largest (all zero → lowest bar). */
export function sparkline(values: number[], width = HISTORY_POINTS): string {
  const v = values.slice(-width);
  const max = Math.max(0, ...v);
  const line = v.map((x) => (max <= 0 || !(x > 0) ? BARS[0] : BARS[Math.min(BARS.length - 1, Math.max(1, Math.round((x / max) * (BARS.length - 1))))])).join('');
  return line.padStart(Math.min(width, HISTORY_POINTS), ' ');
}

/** 123456789 → "117.7 MiB" */
export function formatBytes(n: number | null): string {
  if (n === null) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}
