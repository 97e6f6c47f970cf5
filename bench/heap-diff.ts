/**
 * Compare two V8 heap snapshots (.heapsnapshot, e.g. from `bench/soak-bench.ts --keep DIR
 * --snapshots 3,8` or `node --heapsnapshot-signal=SIGUSR2`): per constructor (node name for
 * objects, node type otherwise) the count and self size in each, sorted by the growth of the self
 * size. What grows between two snapshots taken under the same steady load is what holds memory.
 *
 *   node --import tsx bench/heap-diff.ts A.heapsnapshot B.heapsnapshot [--top 30]
 *   node --import tsx bench/heap-diff.ts A.heapsnapshot --retainers 'Entry'   (who holds objects named Entry)
 *   node --import tsx bench/heap-diff.ts A.heapsnapshot B.heapsnapshot --new 'string'
 *       (objects of that type or constructor present in B but not in A — node ids are stable within one
 *       process — grouped by what refers to them: the holder of what grew, with sample values)
 *
 * A heap snapshot is JSON: `snapshot.meta.node_fields` names the fields of each node in the flat
 * `nodes` array (type, name, id, self_size, edge_count, …), `strings` holds the names; edges
 * follow in the flat `edges` array, `edge_count` of them per node in node order.
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]]; edge_fields: string[]; edge_types: [string[], ...unknown[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

interface Group {
  count: number;
  size: number;
}

function load(file: string): Snapshot {
  return JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
}

/** Key of a node: "object Foo", "string", "closure bar", … */
function groups(s: Snapshot): Map<string, Group> {
  const f = s.snapshot.meta.node_fields;
  const nf = f.length;
  const iType = f.indexOf('type');
  const iName = f.indexOf('name');
  const iSize = f.indexOf('self_size');
  const types = s.snapshot.meta.node_types[0];
  const out = new Map<string, Group>();
  for (let i = 0; i < s.nodes.length; i += nf) {
    const type = types[s.nodes[i + iType]];
    let key: string;
    if (type === 'object' || type === 'closure' || type === 'native') key = `${type} ${s.strings[s.nodes[i + iName]].slice(0, 60)}`;
    else key = type;
    const g = out.get(key) ?? { count: 0, size: 0 };
    g.count++;
    g.size += s.nodes[i + iSize];
    out.set(key, g);
  }
  return out;
}

function retainers(s: Snapshot, name: string, limit: number): void {
  const f = s.snapshot.meta.node_fields;
  const nf = f.length;
  const iName = f.indexOf('name');
  const iType = f.indexOf('type');
  const iEdges = f.indexOf('edge_count');
  const ef = s.snapshot.meta.edge_fields;
  const enf = ef.length;
  const eType = ef.indexOf('type');
  const eName = ef.indexOf('name_or_index');
  const eTo = ef.indexOf('to_node');
  const edgeTypes = s.snapshot.meta.edge_types[0];
  const types = s.snapshot.meta.node_types[0];
  const count = new Map<string, number>();
  let e = 0;
  for (let i = 0; i < s.nodes.length; i += nf) {
    const from = `${types[s.nodes[i + iType]]} ${s.strings[s.nodes[i + iName]].slice(0, 50)}`;
    for (let k = 0; k < s.nodes[i + iEdges]; k++, e += enf) {
      const to = s.edges[e + eTo];
      if (s.strings[s.nodes[to + iName]] !== name) continue;
      const et = edgeTypes[s.edges[e + eType]];
      const label = et === 'element' || et === 'hidden' ? `[${et}]` : s.strings[s.edges[e + eName]];
      const key = `${from} --${label}-->`;
      count.set(key, (count.get(key) ?? 0) + 1);
    }
  }
  for (const [k, n] of [...count].sort((a, b) => b[1] - a[1]).slice(0, limit)) process.stdout.write(`${String(n).padStart(9)}  ${k}\n`);
}

/** Nodes of `what` (a node type such as "string", or "object Foo") in B whose id is not in A, grouped by their referrers. */
function newRetainers(a: Snapshot, b: Snapshot, what: string, limit: number): void {
  const f = b.snapshot.meta.node_fields;
  const nf = f.length;
  const iType = f.indexOf('type');
  const iName = f.indexOf('name');
  const iId = f.indexOf('id');
  const iEdges = f.indexOf('edge_count');
  const ef = b.snapshot.meta.edge_fields;
  const enf = ef.length;
  const eType = ef.indexOf('type');
  const eName = ef.indexOf('name_or_index');
  const eTo = ef.indexOf('to_node');
  const edgeTypes = b.snapshot.meta.edge_types[0];
  const types = b.snapshot.meta.node_types[0];
  const aIds = new Set<number>();
  const af = a.snapshot.meta.node_fields.length;
  const aId = a.snapshot.meta.node_fields.indexOf('id');
  for (let i = 0; i < a.nodes.length; i += af) aIds.add(a.nodes[i + aId]);
  const label = (i: number) => {
    const t = types[b.nodes[i + iType]];
    return t === 'object' || t === 'closure' || t === 'native' ? `${t} ${b.strings[b.nodes[i + iName]].slice(0, 50)}` : t;
  };
  const isNew = (i: number) => label(i) === what && !aIds.has(b.nodes[i + iId]);
  const count = new Map<string, { n: number; sample: string }>();
  let e = 0;
  for (let i = 0; i < b.nodes.length; i += nf) {
    const from = label(i);
    for (let k = 0; k < b.nodes[i + iEdges]; k++, e += enf) {
      const to = b.edges[e + eTo];
      if (!isNew(to)) continue;
      const et = edgeTypes[b.edges[e + eType]];
      if (et === 'weak') continue;
      const name = et === 'element' || et === 'hidden' ? `[${et}]` : b.strings[b.edges[e + eName]];
      const key = `${from} --${name}-->`;
      const c = count.get(key) ?? { n: 0, sample: JSON.stringify(b.strings[b.nodes[to + iName]].slice(0, 60)) };
      c.n++;
      count.set(key, c);
    }
  }
  for (const [k, c] of [...count].sort((x, y) => y[1].n - x[1].n).slice(0, limit)) process.stdout.write(`${String(c.n).padStart(9)}  ${k}  e.g. ${c.sample}\n`);
}

const args = process.argv.slice(2);
const top = args.includes('--top') ? Number(args[args.indexOf('--top') + 1]) : 30;
if (args.includes('--new')) {
  newRetainers(load(args[0]), load(args[1]), args[args.indexOf('--new') + 1], top);
} else if (args.includes('--retainers')) {
  retainers(load(args[0]), args[args.indexOf('--retainers') + 1], top);
} else {
  if (args.length < 2) {
    process.stderr.write('usage: heap-diff.ts A.heapsnapshot B.heapsnapshot [--top N] | A.heapsnapshot --retainers NAME\n');
    process.exit(2);
  }
  const a = groups(load(args[0]));
  const b = groups(load(args[1]));
  const keys = new Set([...a.keys(), ...b.keys()]);
  const rows = [...keys].map((k) => ({ k, a: a.get(k) ?? { count: 0, size: 0 }, b: b.get(k) ?? { count: 0, size: 0 } }));
  rows.sort((x, y) => y.b.size - y.a.size - (x.b.size - x.a.size));
  const total = (m: Map<string, Group>) => [...m.values()].reduce((t, g) => t + g.size, 0);
  process.stdout.write(`total self size: ${(total(a) / 2 ** 20).toFixed(1)} MB → ${(total(b) / 2 ** 20).toFixed(1)} MB\n`);
  process.stdout.write('   Δ size KB   count A   count B   size A KB   size B KB  constructor\n');
  for (const r of rows.slice(0, top)) {
    process.stdout.write(
      `${((r.b.size - r.a.size) / 1024).toFixed(0).padStart(12)}${String(r.a.count).padStart(10)}${String(r.b.count).padStart(10)}${(r.a.size / 1024).toFixed(0).padStart(12)}${(r.b.size / 1024).toFixed(0).padStart(12)}  ${r.k}\n`,
    );
  }
}
