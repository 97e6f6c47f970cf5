/**
 * The Prometheus text exposition format (version 0.0.4), written by hand: a few dozen lines
 * instead of a client library, and every name checked here.
 *
 *   # HELP name text
 *   # TYPE name counter|gauge
 *   name{label="value"} 123
 */

export type MetricType = 'counter' | 'gauge';

export interface Sample {
  labels?: Readonly<Record<string, string>>;
  value: number;
}

export interface Family {
  name: string;
  type: MetricType;
  help: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A Kamailio statistic's name as xhttp_prom builds it: kamailio_<group>_<name>, other characters as '_'. */
export function kamailioName(group: string, name: string, prefix = 'kamailio_'): string {
  return `${prefix}${group}_${name}`.replace(/[^a-zA-Z0-9_:]/g, '_');
}

function escapeHelp(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabel(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** Families → exposition text. A family with a bad name or label name is a programming error: it throws. */
export function render(families: readonly Family[]): string {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const f of families) {
    if (!NAME.test(f.name)) throw new Error(`bad metric name ${JSON.stringify(f.name)}`);
    if (seen.has(f.name)) continue; // the first wins (two stats mapping to one name)
    seen.add(f.name);
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = Object.entries(s.labels ?? {});
      for (const [k] of labels) if (!LABEL.test(k) || k.startsWith('__')) throw new Error(`bad label name ${JSON.stringify(k)}`);
      const l = labels.length > 0 ? `{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : '';
      out.push(`${f.name}${l} ${formatValue(s.value)}`);
    }
  }
  return out.join('\n') + '\n';
}
