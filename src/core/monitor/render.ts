/**
 * The monitor's screen as plain text lines, a pure function of the snapshots and the terminal
 * size: one column per node (side by side as many as fit; `n` moves which node comes first), a
 * title line and a key line. No ANSI here: the command adds the escape codes.
 */
import { formatDuration } from '../proxy/status.js';
import { REPLY_CLASSES, formatBytes, sparkline, type MonitorSnapshot, type NodeSnapshot } from './model.js';

export interface ScreenOptions {
  width: number;
  height: number;
  paused: boolean;
  /** index of the node shown first */
  focus: number;
}

/** Narrowest node column. */
export const MIN_COLUMN = 40;
const LABEL = 12;

const dash = (v: number | null | undefined, f: (n: number) => string = String): string => (v === null || v === undefined ? '—' : f(v));
const fmtRate = (n: number): string => (n >= 100 ? n.toFixed(0) : n.toFixed(1));

/** Strip anything a terminal would interpret (values come from the proxy). */
function clean(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

function fit(s: string, width: number): string {
  const chars = [...clean(s)];
  if (chars.length > width) return chars.slice(0, Math.max(0, width - 1)).join('') + '…';
  return chars.join('') + ' '.repeat(width - chars.length);
}

/** One node's lines, each at most `width` characters. */
export function nodeLines(n: NodeSnapshot, width: number): string[] {
  const row = (label: string, value: string) => fit(label.padEnd(LABEL) + value, width);
  const out: string[] = [];
  out.push(fit(`■ ${n.node}  ${n.version ?? ''}`, width));
  if (!n.ok) {
    out.push(row('status', `DOWN: ${n.error ?? 'no answer'}`));
    out.push(row('last min', sparkline(n.history, Math.max(1, width - LABEL))));
    return out;
  }
  out.push(row('uptime', dash(n.uptime, formatDuration)));
  out.push(row('requests/s', dash(n.requestsPerSec, fmtRate)));
  out.push(row('last min', sparkline(n.history, Math.max(1, width - LABEL))));
  if (n.repliesPerSec) {
    const r = n.repliesPerSec;
    out.push(row('replies/s', REPLY_CLASSES.slice(0, 3).map((c) => `${c} ${fmtRate(r[c])}`).join('  ')));
    out.push(row('', REPLY_CLASSES.slice(3).map((c) => `${c} ${fmtRate(r[c])}`).join('  ')));
  } else {
    out.push(row('replies/s', '—'));
  }
  out.push(row('registered', `${dash(n.registeredUsers)} users, ${dash(n.contacts)} contacts`));
  out.push(row('calls', dash(n.activeCalls)));
  for (const [t, b] of Object.entries(n.bans)) {
    out.push(row(t, `${dash(b.size)}${b.newest.length ? `  newest: ${b.newest.join(', ')}` : ''}`));
  }
  if (n.floodSources === null) out.push(row('flooding', '—'));
  else if (n.floodSources.length === 0) out.push(row('flooding', 'none'));
  else n.floodSources.forEach((f, i) => out.push(row(i === 0 ? 'flooding' : '', `${f.ip} ${f.hits} hits ${f.status}`)));
  const m = n.memory;
  if (m.rss !== null) out.push(row('memory', `rss ${formatBytes(m.rss)}`));
  else if (m.shmUsed !== null || m.pkgUsed !== null) {
    out.push(row('memory', `shm ${formatBytes(m.shmUsed)} / ${formatBytes(m.shmTotal)}`));
    out.push(row('', `pkg ${formatBytes(m.pkgUsed)} / ${formatBytes(m.pkgTotal)}`));
  } else out.push(row('memory', '—'));
  if (n.missing.length) out.push(row('missing', n.missing.join(', ')));
  return out;
}

/** The whole screen: exactly `height` lines (or fewer when the terminal is tiny), none wider than `width`. */
export function renderScreen(snap: MonitorSnapshot, o: ScreenOptions): string[] {
  const width = Math.max(20, o.width);
  const count = snap.nodes.length;
  const perRow = Math.max(1, Math.min(count, Math.floor((width + 2) / (MIN_COLUMN + 2))));
  const colWidth = Math.floor((width - 2 * (perRow - 1)) / perRow);
  const shown: NodeSnapshot[] = [];
  for (let i = 0; i < perRow; i++) shown.push(snap.nodes[(o.focus + i) % count]!);
  const cols = shown.map((n) => nodeLines(n, colWidth));
  const bodyHeight = Math.max(...cols.map((c) => c.length));
  const title = `sipctl monitor  ${snap.time.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}  every ${snap.intervalSec}s  ${count} node(s)${o.paused ? '  [PAUSED]' : ''}`;
  const lines = [fit(title, width).trimEnd(), ''];
  for (let i = 0; i < bodyHeight; i++) lines.push(cols.map((c) => c[i] ?? ' '.repeat(colWidth)).join('  ').trimEnd());
  const keys = `q quit  p ${o.paused ? 'resume' : 'pause'}${count > 1 ? '  n next node' : ''}${perRow < count ? `  (${perRow} of ${count} shown)` : ''}`;
  const h = Math.max(3, o.height);
  const body = lines.slice(0, h - 1);
  while (body.length < h - 1) body.push('');
  body.push(fit(keys, width).trimEnd());
  return body;
}
