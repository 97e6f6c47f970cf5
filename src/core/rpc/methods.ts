import type { RpcClient } from './client.js';

/*
 * The Kamailio RPC methods sipctl uses, with their result shapes exactly as Kamailio 5.6
 * jsonrpcs returns them (member names, spelling and nesting taken from the recorded replies in
 * test/fixtures/kamailio/recorded/jsonrpc_*.txt and the module sources that print them).
 * sipd implements the same names with the same shapes.
 */

/** Kamailio prints this for an empty string member (usrloc Received, Path, Instance, …). */
export const NOT_SET = '[not set]';

// ---------------------------------------------------------------- usrloc

/** One contact as usrloc's rpc_dump_contact() prints it (ul.dump, ul.lookup). */
export interface UlContact {
  Address: string;
  /** Seconds left; or "permanent" (expires 0), "deleted", "expired". */
  Expires: number | 'permanent' | 'deleted' | 'expired';
  /** q as a double (0..1); -1 when the contact had no q. */
  Q: number;
  'Call-ID': string;
  CSeq: number;
  /** "[not set]" when empty. */
  'User-Agent': string;
  /** "[not set]" when empty. */
  Received: string;
  /** "[not set]" when empty. */
  Path: string;
  State: 'CS_NEW' | 'CS_SYNC' | 'CS_DIRTY' | 'CS_UNKNOWN';
  Flags: number;
  CFlags: number;
  /** Local socket, e.g. "udp:127.0.0.1:5060"; "[not set]" when unknown. */
  Socket: string;
  Methods: number;
  Ruid: string;
  Instance: string;
  'Reg-Id': number;
  'Server-Id': number;
  'Tcpconn-Id': number;
  Keepalive: number;
  /** Unix time, seconds. */
  'Last-Keepalive': number;
  /** Present in 5.6, gone in later versions. */
  'KA-Roundtrip'?: number;
  /** Unix time, seconds. */
  'Last-Modified': number;
}

export interface UlAorInfo {
  AoR: string;
  HashID: number;
  Contacts: Array<{ Contact: UlContact }>;
}

/** One usrloc domain (table), e.g. "location". */
export interface UlDomain<A = { Info: UlAorInfo }> {
  Domain: string;
  Size: number;
  AoRs: A[];
  Stats: { Records: number; 'Max-Slots': number };
}

/** ul.dump */
export interface UlDumpResult {
  Domains: Array<{ Domain: UlDomain }>;
}

/** ul.dump brief */
export interface UlDumpBriefResult {
  Domains: Array<{ Domain: UlDomain<{ AoR: string }> }>;
}

/** ul.lookup <table> <aor> (error 500 "AOR not found in location table" when absent) */
export interface UlLookupResult {
  AoR: string;
  Contacts: Array<{ Contact: UlContact }>;
}

// ---------------------------------------------------------------- htable

export interface HtableSlotItem {
  name: string;
  value: number | string;
  type: 'int' | 'str';
}

/** One non-empty hash bucket of htable.dump. An empty table dumps as []. */
export interface HtableDumpEntry {
  entry: number;
  size: number;
  slot: HtableSlotItem[];
}

export type HtableDumpResult = HtableDumpEntry[];

/** htable.get <table> <key> */
export interface HtableGetResult {
  item: {
    name: string;
    value: number | string;
    /** 0 = int value, 2 = string value (AVP_VAL_STR). */
    flags: number;
    /** "NEVER", or local time "YYYY-MM-DD hh:mm:ss". */
    expire: string;
  };
}

export interface HtableInfo {
  name: string;
  dbtable: string;
  dbmode: number;
  expire: number;
  updateexpire: number;
  size: number;
  dmqreplicate: number;
}

export type HtableListTablesResult = HtableInfo[];

// ---------------------------------------------------------------- permissions

/** One entry of the address hash table (exact addresses; subnets are in subnetDump). */
export interface AddressDumpEntry {
  /** Hash bucket index, not a database table. */
  table: number;
  group: number;
  item: {
    ip: string;
    /** 0 = any port. */
    port: number;
    /** The literal string "NULL" when the row has no tag. */
    tag: string;
  };
}

export type AddressDumpResult = AddressDumpEntry[];

/** One entry of the subnet table (address rows whose mask is shorter than the address). */
export interface SubnetDumpEntry {
  /** Position in the subnet table. */
  id: number;
  group: number;
  item: {
    ip: string;
    mask: number;
    port: number;
    /** The literal string "NULL" when the row has no tag. */
    tag: string;
  };
}

export type SubnetDumpResult = SubnetDumpEntry[];

/** htable.stats: one entry per table; `all` is the number of items. */
export interface HtableStatsEntry {
  name: string;
  slots: number;
  all: number;
  min: number;
  max: number;
}

// ---------------------------------------------------------------- core

/** core.uptime; times are in the proxy's ctime() format, e.g. "Sat Nov 21 05:38:54 2026". */
export interface CoreUptimeResult {
  now: string;
  up_since: string;
  uptime: number;
}

// ---------------------------------------------------------------- the map

/** Method name → positional params and result. */
export interface KamailioMethods {
  'core.version': { params: []; result: string };
  'core.uptime': { params: []; result: CoreUptimeResult };
  'system.listMethods': { params: []; result: string[] };
  'ul.dump': { params: [] | ['brief']; result: UlDumpResult | UlDumpBriefResult };
  'ul.lookup': { params: [table: string, aor: string]; result: UlLookupResult };
  'htable.dump': { params: [table: string]; result: HtableDumpResult };
  'htable.get': { params: [table: string, key: string]; result: HtableGetResult };
  'htable.sets': { params: [table: string, key: string, value: string]; result: string };
  'htable.seti': { params: [table: string, key: string, value: number]; result: string };
  'htable.delete': { params: [table: string, key: string]; result: string };
  'htable.flush': { params: [table: string]; result: string };
  'htable.listTables': { params: []; result: HtableListTablesResult };
  'permissions.addressDump': { params: []; result: AddressDumpResult };
  'permissions.addressReload': { params: []; result: string };
  'permissions.subnetDump': { params: []; result: SubnetDumpResult };
  'htable.reload': { params: [table: string]; result: string };
  'htable.stats': { params: []; result: HtableStatsEntry[] };
  /** Succeeds (empty object) also for an AoR that is not registered: look it up first. */
  'ul.rm': { params: [table: string, aor: string]; result: unknown };
  /** e.g. ["usrloc:location_contacts = 3", …] for the group "usrloc:". */
  'stats.get_statistics': { params: [group: string]; result: string[] };
}

export type KamailioMethod = keyof KamailioMethods;

/**
 * Typed call: `await callMethod(client, 'htable.dump', 'ipban')` is an HtableDumpEntry[].
 * The result is trusted to have the documented shape; the flatten helpers below are defensive
 * about missing members anyway.
 */
export function callMethod<M extends KamailioMethod>(
  client: Pick<RpcClient, 'call'>,
  method: M,
  ...params: KamailioMethods[M]['params']
): Promise<KamailioMethods[M]['result']> {
  return client.call<KamailioMethods[M]['result']>(method, params.length > 0 ? params : undefined);
}

// ---------------------------------------------------------------- flatten helpers

export interface UlContactRow {
  /** usrloc domain (table), e.g. "location". */
  domain: string;
  aor: string;
  contact: string;
  /** Seconds left, or "permanent" / "deleted" / "expired". */
  expires: number | 'permanent' | 'deleted' | 'expired';
  received: string | null;
  userAgent: string | null;
  /** Unix time, seconds. */
  lastModified: number;
  callId: string;
  cseq: number;
  /** 0..1, null when the contact had no q. */
  q: number | null;
  ruid: string | null;
  socket: string | null;
}

const orNull = (v: string | undefined): string | null => (v === undefined || v === NOT_SET || v === '' ? null : v);

/** One row per contact of a full ul.dump. AoRs of a `brief` dump carry no contacts: use ulDumpAors(). */
export function flattenUlDump(result: UlDumpResult | UlDumpBriefResult): UlContactRow[] {
  const rows: UlContactRow[] = [];
  for (const { Domain: dom } of result?.Domains ?? []) {
    for (const entry of (dom?.AoRs ?? []) as Array<{ Info?: UlAorInfo }>) {
      const info = entry.Info;
      if (!info) continue;
      for (const { Contact: c } of info.Contacts ?? []) {
        if (!c) continue;
        rows.push({
          domain: dom.Domain,
          aor: info.AoR,
          contact: c.Address,
          expires: c.Expires,
          received: orNull(c.Received),
          userAgent: orNull(c['User-Agent']),
          lastModified: c['Last-Modified'],
          callId: c['Call-ID'],
          cseq: c.CSeq,
          q: typeof c.Q === 'number' && c.Q >= 0 ? c.Q : null,
          ruid: orNull(c.Ruid),
          socket: orNull(c.Socket),
        });
      }
    }
  }
  return rows;
}

/** The AoRs of a ul.dump, full or brief, in dump order. */
export function ulDumpAors(result: UlDumpResult | UlDumpBriefResult): string[] {
  const out: string[] = [];
  for (const { Domain: dom } of result?.Domains ?? []) {
    for (const entry of (dom?.AoRs ?? []) as Array<{ Info?: UlAorInfo; AoR?: string }>) {
      const aor = entry.Info?.AoR ?? entry.AoR;
      if (aor !== undefined) out.push(aor);
    }
  }
  return out;
}

export interface HtableRow {
  name: string;
  value: number | string;
  type: 'int' | 'str';
}

/** One row per key of an htable.dump, in dump (hash bucket) order. */
export function flattenHtableDump(result: HtableDumpResult): HtableRow[] {
  const rows: HtableRow[] = [];
  for (const entry of result ?? []) {
    for (const s of entry?.slot ?? []) rows.push({ name: s.name, value: s.value, type: s.type });
  }
  return rows;
}

export interface AddressRow {
  group: number;
  ip: string;
  /** 0 = any port. */
  port: number;
  tag: string | null;
}

/** One row per permissions.subnetDump entry; Kamailio's "NULL" tag becomes null. */
export function flattenSubnetDump(result: SubnetDumpResult): Array<AddressRow & { mask: number }> {
  return (result ?? []).map((e) => ({
    group: e.group,
    ip: e.item.ip,
    mask: e.item.mask,
    port: e.item.port,
    tag: e.item.tag === 'NULL' || e.item.tag === '' ? null : e.item.tag,
  }));
}

/** One row per permissions.addressDump entry; Kamailio's "NULL" tag becomes null. */
export function flattenAddressDump(result: AddressDumpResult): AddressRow[] {
  return (result ?? []).map((e) => ({
    group: e.group,
    ip: e.item.ip,
    port: e.item.port,
    tag: e.item.tag === 'NULL' || e.item.tag === '' ? null : e.item.tag,
  }));
}
