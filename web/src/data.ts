// The API answers with the CLI's typed results, which come in a few shapes: a plain array,
// { total, items }, a named list ({ calls }, { sims }, …) or the proxy envelope
// { nodes: [{ node, ok, result | error }], warnings }. listOf() turns any of them into rows.

export type Row = Record<string, unknown>;
export interface NodeFailure { node: string; message: string }
export interface Listing { items: Row[]; total?: number; failures: NodeFailure[]; warnings: string[] }

const NAMED = ['items', 'calls', 'sims', 'subscribers', 'entries', 'rules', 'rows', 'contacts', 'tables', 'destinations', 'records'];

export function listOf(data: unknown): Listing {
  const out: Listing = { items: [], failures: [], warnings: [] };
  if (Array.isArray(data)) {
    out.items = data.map(asRow);
    return out;
  }
  if (!data || typeof data !== 'object') return out;
  const d = data as Record<string, unknown>;
  if (Array.isArray(d.warnings)) out.warnings = d.warnings.map(String);
  if (typeof d.total === 'number') out.total = d.total;
  if (Array.isArray(d.nodes) && d.nodes.every((n) => n && typeof n === 'object' && 'ok' in n)) {
    const multi = d.nodes.length > 1;
    for (const n of d.nodes as Row[]) {
      if (n.ok) {
        const r = n.result;
        // A one-object result (a translation, a change) is one row.
        if (r && typeof r === 'object' && !Array.isArray(r) && !NAMED.some((k) => Array.isArray((r as Row)[k])) && !('nodes' in (r as Row))) {
          out.items.push(multi ? { node: n.node, ...(r as Row) } : (r as Row));
          continue;
        }
        const inner = listOf(r);
        out.items.push(...inner.items.map((r) => (multi && !('node' in r) ? { node: n.node, ...r } : r)));
        out.warnings.push(...inner.warnings);
      } else {
        const e = (n.error ?? {}) as Row;
        out.failures.push({ node: String(n.node), message: String(e.message ?? 'no answer') });
      }
    }
    return out;
  }
  for (const k of NAMED) {
    if (Array.isArray(d[k])) {
      out.items = (d[k] as unknown[]).map(asRow);
      return out;
    }
  }
  return out;
}

function asRow(x: unknown): Row {
  return x && typeof x === 'object' && !Array.isArray(x) ? (x as Row) : { value: x };
}

/** Any value as text for a table cell (objects as compact JSON). Rendered by Preact as a text node. */
export function text(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

/** Column keys for rows whose shape the page does not fix: the keys of the first rows, in order. */
export function keysOf(rows: Row[], drop: string[] = []): string[] {
  const seen = new Set<string>();
  for (const r of rows.slice(0, 20)) for (const k of Object.keys(r)) if (!drop.includes(k)) seen.add(k);
  return [...seen];
}

/** `userAgent` → `User agent` for a column header. */
export function label(key: string): string {
  const s = key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/_/g, ' ').toLowerCase();
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export function when(v: unknown): string {
  if (typeof v === 'number' && v > 1e9) return new Date(v * (v < 1e12 ? 1000 : 1)).toISOString().replace('.000Z', 'Z');
  return text(v);
}
