// The dashboard's live data: one EventSource on /api/events for the whole session (so the chart
// keeps its hour while another page is open), each `dashboard` event a monitor snapshot.
// The last hour of requests/replies per second per node is kept here, in the browser only.
import { get } from './api';

export interface NodeSnap {
  node: string;
  ok: boolean;
  error?: string;
  version?: string | null;
  uptime?: number | null;
  requestsPerSec: number | null;
  /** replies sent per second by class (1xx … 6xx), or one figure */
  repliesPerSec: Record<string, number> | number | null;
  registeredUsers: number | null;
  contacts: number | null;
  activeCalls: number | null;
}
export interface Ban { table: string; key: string; expires?: string | null; node?: string; [k: string]: unknown }
/** bans and alerts come newest first from the server. */
/** alertErrors: nodes whose alerts could not be read (not a node without the alerts module). */
export interface Snapshot { time: string; intervalSec?: number; nodes: NodeSnap[]; bans: Ban[]; alerts: Array<Record<string, unknown>>; alertErrors?: Array<{ node: string; error: string }> }

/** Replies per second, all classes together. */
export function repliesTotal(v: NodeSnap['repliesPerSec']): number | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return v;
  return Math.round(Object.values(v).reduce((a, b) => a + (Number(b) || 0), 0) * 10) / 10;
}

/** Per node: [seconds[], requests/s[], replies/s[]], one point per snapshot, the last hour. */
export type History = Map<string, [number[], (number | null)[], (number | null)[]]>;

const HOUR = 3600;
let snapshot: Snapshot | undefined;
let connected = false;
const history: History = new Map();
let source: EventSource | undefined;
const listeners = new Set<() => void>();

function emit() {
  for (const l of listeners) l();
}

function take(s: Snapshot) {
  snapshot = s;
  const t = Math.floor((Date.parse(s.time) || Date.now()) / 1000);
  for (const n of s.nodes ?? []) {
    let h = history.get(n.node);
    if (!h) history.set(n.node, (h = [[], [], []]));
    if (h[0].length && h[0][h[0].length - 1] >= t) continue;
    h[0].push(t);
    h[1].push(n.ok ? n.requestsPerSec : null);
    h[2].push(n.ok ? repliesTotal(n.repliesPerSec) : null);
    while (h[0].length && h[0][0] < t - HOUR) for (const a of h) a.shift();
  }
  emit();
}

export function startLive(): void {
  if (source) return;
  get<Snapshot>('/api/dashboard').then((r) => r.data && take(r.data), () => undefined);
  source = new EventSource('/api/events');
  source.addEventListener('dashboard', (ev) => {
    try {
      take(JSON.parse((ev as MessageEvent).data));
    } catch {
      /* a malformed event is dropped; the next one comes in ~2 s */
    }
  });
  source.onopen = () => {
    connected = true;
    emit();
  };
  source.onerror = () => {
    connected = false;
    emit();
    // The browser reconnects by itself; if the session ended meanwhile (idle expiry, account
    // removed), this request's 401 takes the console back to the login page.
    get('/api/session').catch(() => undefined);
  };
}

export function stopLive(): void {
  source?.close();
  source = undefined;
  snapshot = undefined;
  connected = false;
  history.clear();
}

/** Refetch the snapshot now (after an unban, say). */
export function refreshLive(): void {
  get<Snapshot>('/api/dashboard').then((r) => r.data && take(r.data), () => undefined);
}

export function liveState() {
  return { snapshot, connected, history };
}

export function subscribe(fn: () => void): () => void {
  listeners.add(fn);
  return () => void listeners.delete(fn);
}
