/**
 * How each kind of proxy result looks, in one record per view: the table columns people see,
 * the one-line summary `batch` prints, and the per-node result type that the JSON envelope
 * carries (schemas/ describes it). Adding an operation means adding its view here, nowhere else
 * in cli/.
 */
import type { HtableInfo, HtableRow, UlContactRow } from '../core/rpc/methods.js';
import type { HtableChange, HtableItem, UnbanResult } from '../core/proxy/htable.js';
import type { NodeOutcome } from '../core/proxy/node-set.js';
import type { OpView } from '../core/proxy/ops.js';
import type { DbChange } from '../core/proxy/db-line-commands.js';
import type { AddressRow } from '../core/address/addresses.js';
import type { SubscriberView } from '../core/subscribers/subscribers.js';
import type { LoadedAddress, ReloadResult } from '../core/proxy/permissions.js';
import { formatDuration, type NodeHealth } from '../core/proxy/status.js';
import { ulBindings, type OnlineAor, type UlContactChange, type UlDump, type UlLookup, type UlRemoval } from '../core/proxy/ul.js';
import type { HtableStats } from '../core/proxy/htable.js';
import type { ShvChange, ShvVar } from '../core/proxy/shv.js';
import type { ProcessRow, StatRow } from '../core/proxy/stats.js';
import type { LoadedUacreg } from '../core/uacreg/uacreg.js';
import { memberState, type ClusterMember, type ClusterView } from '../core/proxy/cluster.js';
import type { Column, OutputPolicy } from './output.js';

type Outcome = NodeOutcome<unknown>;
type Row = Record<string, unknown> & { node: string };

export type ViewSpec =
  /** Rows merged over the nodes (a NODE column when there are several). */
  | {
      kind: 'rows';
      rows: (v: unknown) => object[];
      columns: (out: OutputPolicy) => Array<Column<Row>>;
      summary: (v: unknown) => string;
      record?: (v: unknown) => Array<[string, unknown]>;
      /** Several nodes' rows as one list, a row the nodes share once (its NODE: each of them); default: every node's rows. */
      merged?: (answers: Array<{ node: string; value: unknown }>) => Row[];
    }
  /** One message per node ("Ok. Key set to new value."). */
  | { kind: 'status'; message: (v: unknown) => string; summary: (v: unknown) => string }
  /** One row per node, failed nodes included (status, uptime, version). */
  | { kind: 'per-node'; columns: (out: OutputPolicy) => Array<Column<{ o: Outcome }>>; summary: (v: unknown) => string }
  /** Whatever the method returned (rpc): YAML-like text. */
  | { kind: 'raw'; summary: (v: unknown) => string };

const col = <R>(header: string, get: (r: R) => unknown): Column<R> => ({ header, get });
const dur = (out: OutputPolicy, s: number): unknown => (out.tty ? formatDuration(s) : s);

function ulColumns(out: OutputPolicy): Array<Column<Row>> {
  const now = Date.now() / 1000;
  return [
    col<Row>('AOR', (r) => (r as unknown as UlContactRow).aor),
    col<Row>('CONTACT', (r) => (r as unknown as UlContactRow).contact),
    col<Row>('EXPIRES IN', (r) => {
      const e = (r as unknown as UlContactRow).expires;
      return typeof e === 'number' ? dur(out, e) : e;
    }),
    col<Row>('RECEIVED', (r) => (r as unknown as UlContactRow).received ?? ''),
    col<Row>('USER AGENT', (r) => (r as unknown as UlContactRow).userAgent ?? ''),
    col<Row>('LAST MODIFIED', (r) => {
      const lm = (r as unknown as UlContactRow).lastModified;
      return out.tty ? `${formatDuration(Math.max(0, now - lm))} ago` : new Date(lm * 1000).toISOString();
    }),
  ];
}

const ulRows = (v: unknown): UlContactRow[] => ((v as UlDump).rows ?? (v as UlLookup).contacts ?? []) as UlContactRow[];

export const VIEWS: Record<OpView, ViewSpec> = {
  // database lines of batch/shell: one pseudo-node, "database" (db-line-commands.ts)
  'db-change': { kind: 'status', message: (v) => (v as DbChange).message, summary: (v) => (v as DbChange).message },
  'db-subscribers': {
    kind: 'rows',
    rows: (v) => v as SubscriberView[],
    columns: () => [col('USERNAME', (r) => r.username), col('DOMAIN', (r) => r.domain), col('PLAINTEXT', (r) => (r.hasPlaintextPassword ? 'yes' : 'no'))],
    summary: (v) => `${(v as SubscriberView[]).length} subscriber(s)`,
  },
  'db-addresses': {
    kind: 'rows',
    rows: (v) => v as AddressRow[],
    columns: () => [col('GROUP', (r) => r.grp), col('IP', (r) => r.ip), col('MASK', (r) => r.mask), col('PORT', (r) => r.port), col('TAG', (r) => r.tag ?? '')],
    summary: (v) => `${(v as AddressRow[]).length} entr(ies)`,
  },
  'htable-list': {
    kind: 'rows',
    rows: (v) => v as HtableInfo[],
    columns: () => [col('NAME', (r) => r.name), col('DBTABLE', (r) => r.dbtable), col('DBMODE', (r) => r.dbmode), col('EXPIRE', (r) => r.expire), col('SIZE', (r) => r.size)],
    summary: (v) => `${(v as HtableInfo[]).length} table(s)`,
  },
  'htable-rows': {
    kind: 'rows',
    rows: (v) => v as HtableRow[],
    columns: () => [col('KEY', (r) => r.name), col('VALUE', (r) => r.value), col('TYPE', (r) => r.type)],
    summary: (v) => `${(v as HtableRow[]).length} key(s)`,
  },
  'htable-item': {
    kind: 'rows',
    rows: (v) => [v as HtableItem],
    columns: () => [col('KEY', (r) => r.key), col('VALUE', (r) => r.value), col('TYPE', (r) => r.type), col('EXPIRE', (r) => r.expire)],
    record: (v) => {
      const it = v as HtableItem;
      return [['table', it.table], ['key', it.key], ['value', it.value], ['type', it.type], ['expire', it.expire]];
    },
    summary: (v) => String((v as HtableItem).value),
  },
  change: { kind: 'status', message: (v) => (v as HtableChange).message, summary: (v) => (v as HtableChange).message },
  unban: {
    kind: 'status',
    message: (v) => {
      const u = v as UnbanResult;
      if (!u.ipban && u.userbanKeys.length === 0) return `${u.ip} was not banned`;
      return `unbanned ${u.ip}: ${u.ipban ? 'ipban entry removed' : 'no ipban entry'}, ${u.userbanKeys.length} userban key(s) removed`;
    },
    summary: (v) => `ipban ${(v as UnbanResult).ipban ? 'removed' : 'absent'}, ${(v as UnbanResult).userbanKeys.length} userban key(s)`,
  },
  'ul-rows': { kind: 'rows', rows: ulRows, columns: ulColumns, summary: (v) => `${(v as UlDump).count} contact(s)` },
  'ul-lookup': {
    kind: 'rows',
    rows: ulRows,
    columns: ulColumns,
    // sipd --cluster: every node lists the cluster's bindings; each is shown once, with the nodes that listed it
    merged: (answers) => ulBindings(answers as Array<{ node: string; value: UlLookup }>).map((b) => ({ ...b.contact, node: b.nodes.join(',') })),
    summary: (v) => `${(v as UlLookup).contacts.length} contact(s)`,
  },
  'ul-rm': {
    kind: 'status',
    message: (v) => ((v as UlRemoval).notRegistered ? 'not registered here' : `${(v as UlRemoval).dryRun ? 'would remove' : 'removed'} ${(v as UlRemoval).aor} (${(v as UlRemoval).contacts} contact(s))`),
    summary: (v) => `${(v as UlRemoval).dryRun ? 'would remove' : 'removed'} ${(v as UlRemoval).contacts} contact(s)`,
  },
  'address-loaded': {
    kind: 'rows',
    rows: (v) => v as LoadedAddress[],
    columns: () => [col('GROUP', (r) => r.group), col('IP', (r) => r.ip), col('MASK', (r) => r.mask), col('PORT', (r) => r.port), col('TAG', (r) => r.tag ?? ''), col('KIND', (r) => r.kind)],
    summary: (v) => `${(v as LoadedAddress[]).length} entr(ies)`,
  },
  reload: { kind: 'status', message: (v) => (v as ReloadResult).message, summary: (v) => (v as ReloadResult).message },
  health: {
    kind: 'per-node',
    columns: (out) => [
      col('NODE', (r) => r.o.node),
      col('STATUS', (r) => (r.o.ok ? 'up' : 'DOWN')),
      col('VERSION', (r) => (r.o.ok ? (r.o.value as NodeHealth).version : '')),
      col('UPTIME', (r) => (r.o.ok ? dur(out, (r.o.value as NodeHealth).uptime) : '')),
      col('RPC', (r) => (r.o.ok ? `${(r.o.value as NodeHealth).transport} ${(r.o.value as NodeHealth).latencyMs} ms` : r.o.error.message)),
    ],
    summary: (v) => `up ${(v as NodeHealth).uptime}s ${(v as NodeHealth).version}`,
  },
  uptime: {
    kind: 'per-node',
    columns: (out) => [
      col('NODE', (r) => r.o.node),
      col('UPTIME', (r) => (r.o.ok ? dur(out, (r.o.value as { uptime: number }).uptime) : 'DOWN')),
      col('UP SINCE', (r) => (r.o.ok ? (r.o.value as { upSince: string }).upSince : r.o.error.message)),
    ],
    summary: (v) => `${(v as { uptime: number }).uptime}s`,
  },
  version: {
    kind: 'per-node',
    columns: () => [col('NODE', (r) => r.o.node), col('VERSION', (r) => (r.o.ok ? (r.o.value as { version: string }).version : `DOWN: ${r.o.error.message}`))],
    summary: (v) => (v as { version: string }).version,
  },
  'ul-contact': {
    kind: 'status',
    message: (v) => {
      const u = v as UlContactChange;
      if (u.notRegistered) return `${u.contact} not registered here`;
      const verb = u.action === 'add' ? (u.dryRun ? 'would add' : 'added') : u.dryRun ? 'would remove' : 'removed';
      const life = u.action === 'add' ? ` (${u.expires === 0 ? 'permanent' : `expires in ${u.expires} s`}${u.q !== undefined && u.q >= 0 ? `, q=${u.q}` : ''})` : '';
      return `${verb} ${u.contact} ${u.action === 'add' ? 'to' : 'from'} ${u.aor}${life}`;
    },
    summary: (v) => `${(v as UlContactChange).action} ${(v as UlContactChange).contact}`,
  },
  online: {
    kind: 'rows',
    rows: (v) => v as OnlineAor[],
    columns: () => [col('AOR', (r) => r.aor), col('CONTACTS', (r) => r.contacts)],
    summary: (v) => `${(v as OnlineAor[]).length} AoR(s) online`,
  },
  stats: {
    kind: 'rows',
    rows: (v) => v as StatRow[],
    columns: () => [col('GROUP', (r) => r.group), col('NAME', (r) => r.name), col('VALUE', (r) => r.value)],
    summary: (v) => `${(v as StatRow[]).length} statistic(s)`,
  },
  processes: {
    kind: 'rows',
    rows: (v) => v as ProcessRow[],
    columns: () => [col('IDX', (r) => r.idx), col('PID', (r) => r.pid), col('DESCRIPTION', (r) => r.description)],
    summary: (v) => `${(v as ProcessRow[]).length} process(es)`,
  },
  shv: {
    kind: 'rows',
    rows: (v) => v as ShvVar[],
    columns: () => [col('NAME', (r) => r.name), col('TYPE', (r) => r.type), col('VALUE', (r) => r.value)],
    summary: (v) => ((v as ShvVar[]).length === 1 ? String((v as ShvVar[])[0]!.value) : `${(v as ShvVar[]).length} variable(s)`),
  },
  'shv-set': { kind: 'status', message: (v) => (v as ShvChange).message, summary: (v) => (v as ShvChange).message },
  'cluster-nodes': {
    kind: 'rows',
    // each member under `member`: the renderer sets a row's `node` to the proxy that answered,
    // which overwrote the member's own `node` (MEMBER showed the proxy's name or URL)
    rows: (v) => (v as ClusterView).members.map((member) => ({ member })),
    columns: (out) => {
      const m = (r: Row) => (r as unknown as { member: ClusterMember }).member;
      return [
        col('MEMBER', (r) => m(r).node),
        col('STATE', (r) => memberState(m(r))),
        col('LAST SEEN', (r) => (out.tty ? `${formatDuration(m(r).ageSec)} ago` : m(r).lastSeen)),
        col('PID', (r) => m(r).pid),
        col('SERVER_ID', (r) => m(r).serverId),
        col('LISTEN', (r) => m(r).listen.join(',')),
      ];
    },
    summary: (v) => {
      const c = v as ClusterView;
      if (!c.clustered) return 'not a cluster member (sipd without --cluster)';
      const stopped = c.members.filter((m) => memberState(m) === 'stopped').length;
      return `${c.members.filter((m) => m.alive).length} of ${c.members.length} member(s) alive${stopped > 0 ? `, ${stopped} stopped` : ''}${c.up ? '' : '; Redis unreachable'}`;
    },
  },
  'htable-stats': {
    kind: 'rows',
    rows: (v) => v as HtableStats[],
    columns: () => [col('NAME', (r) => r.name), col('SLOTS', (r) => r.slots), col('ITEMS', (r) => r.all), col('MIN/SLOT', (r) => r.min), col('MAX/SLOT', (r) => r.max)],
    summary: (v) => `${(v as HtableStats[]).length} table(s)`,
  },
  'uacreg-loaded': {
    kind: 'rows',
    rows: (v) => v as LoadedUacreg[],
    columns: () => [
      col('L_UUID', (r) => r.lUuid),
      col('LOCAL', (r) => `${r.lUsername}@${r.lDomain}`),
      col('REMOTE', (r) => `${r.rUsername}@${r.rDomain}`),
      col('AUTH PROXY', (r) => r.authProxy),
      col('EXPIRES', (r) => r.expires),
      col('STATE', (r) => (r.state as string[]).join(',') || '-'),
    ],
    summary: (v) => `${(v as LoadedUacreg[]).length} registration(s)`,
  },
  raw: { kind: 'raw', summary: (v) => (typeof v === 'string' ? v : JSON.stringify(v)) },
};

/**
 * The per-node result in the JSON envelope. ul dump/show carry the normalised contact records
 * (the same record in both); with --raw, the proxy's own structure instead.
 */
export function jsonValue(view: OpView, v: unknown, raw = false): unknown {
  if (view === 'ul-rows') {
    const d = v as UlDump;
    return raw ? d.raw : d.rows;
  }
  if (view === 'ul-lookup') {
    const { raw: proxyRaw, ...rest } = v as UlLookup;
    return raw ? proxyRaw : rest;
  }
  return v;
}
