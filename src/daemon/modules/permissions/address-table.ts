/**
 * The address table in memory, as Kamailio's permissions module holds it: rows with a full mask
 * (32 for IPv4, 128 for IPv6) go into a 128-bucket hash of exact addresses, every other row into
 * the subnet list kept ordered by group. Port 0 matches any port. Built once per load and never
 * changed afterwards: a reload builds a new table and swaps it in (habit 8).
 */
import { coreHash } from '../../kernel/kamailio-hash.js';
import { type IpAddr, formatIp, parseIp, prefixMatch, sameIp } from './ip.js';

/** Kamailio's PERM_HASH_SIZE. */
export const PERM_HASH_SIZE = 128;

/** One row of the `address` table as read from the database. */
export interface AddressRow {
  id?: number;
  grp: number;
  ip_addr: string;
  mask: number;
  port: number;
  tag: string | null;
}

interface Entry {
  grp: number;
  ip: IpAddr;
  mask: number;
  port: number;
  tag: string | null;
}

/** permissions.addressDump entry (Kamailio's addr_hash_table_rpc_print). */
export interface AddressDumpItem {
  table: number;
  group: number;
  item: { ip: string; port: number; tag: string };
}

/** permissions.subnetDump entry (Kamailio's subnet_table_rpc_print). */
export interface SubnetDumpItem {
  id: number;
  group: number;
  item: { ip: string; mask: number; port: number; tag: string };
}

export class AddressTableError extends Error {}

/** The bucket of an address: core_hash over its first four bytes, as Kamailio does for both families. */
function bucket(ip: IpAddr): number {
  return coreHash(ip.bytes.subarray(0, 4), PERM_HASH_SIZE);
}

export class AddressTable {
  private readonly buckets: Entry[][] = Array.from({ length: PERM_HASH_SIZE }, () => []);
  private readonly subnets: Entry[] = [];
  /** rows skipped because ip_addr is a host name (never equal to a source IP) */
  readonly skippedNames: number;

  /**
   * Build from rows in database order. A row with an unusable address, mask or port makes the
   * whole load fail (AddressTableError), as in Kamailio: a half-loaded allow-list is worse than
   * keeping the previous one.
   */
  constructor(rows: Iterable<AddressRow>, opts: { maxSubnets?: number } = {}) {
    const maxSubnets = opts.maxSubnets ?? 512;
    let skipped = 0;
    for (const row of rows) {
      const where = row.id === undefined ? '' : ` (id ${row.id})`;
      const grp = Number(row.grp);
      const mask = Number(row.mask);
      const port = Number(row.port);
      if (!Number.isSafeInteger(grp) || grp < 0 || grp > 0xffffffff) throw new AddressTableError(`address row${where}: bad grp`);
      if (!Number.isSafeInteger(port) || port < 0 || port > 65535) throw new AddressTableError(`address row${where}: bad port`);
      const text = String(row.ip_addr ?? '').trim();
      const ip = parseIp(text);
      if (ip === undefined) {
        // Kamailio keeps host names in a separate table matched against host names only; a
        // source address is always an IP, so such a row can never allow anything here.
        if (/^[A-Za-z0-9.-]{1,253}$/.test(text) && /[A-Za-z]/.test(text)) {
          skipped++;
          continue;
        }
        throw new AddressTableError(`address row${where}: ip_addr is not an IP address`);
      }
      const full = ip.family === 4 ? 32 : 128;
      if (!Number.isSafeInteger(mask) || mask < 0 || mask > full) throw new AddressTableError(`address row${where}: mask must be 0..${full}`);
      const tag = row.tag === null || row.tag === undefined ? null : String(row.tag);
      const entry: Entry = { grp, ip, mask, port, tag };
      if (mask === full) {
        // Kamailio inserts at the head of the bucket list.
        this.buckets[bucket(ip)].unshift(entry);
      } else {
        if (this.subnets.length >= maxSubnets) throw new AddressTableError(`more than ${maxSubnets} subnet rows (max_subnets)`);
        // Kept ordered by group; a new row goes after the rows of its group (subnet_table_insert).
        let i = this.subnets.length;
        while (i > 0 && this.subnets[i - 1].grp > grp) i--;
        this.subnets.splice(i, 0, entry);
      }
    }
    this.skippedNames = skipped;
  }

  get addressCount(): number {
    return this.buckets.reduce((n, b) => n + b.length, 0);
  }

  get subnetCount(): number {
    return this.subnets.length;
  }

  /** Entries matching ip:port, exact addresses first. `port` undefined matches only port-0 (any port) entries. */
  private *matches(ipText: string, port: number | undefined): Generator<Entry> {
    const ip = parseIp(ipText);
    if (ip === undefined) return;
    const portOk = (e: Entry) => e.port === 0 || (port !== undefined && e.port === port);
    for (const e of this.buckets[bucket(ip)]) if (portOk(e) && sameIp(e.ip, ip)) yield e;
    for (const e of this.subnets) if (portOk(e) && prefixMatch(e.ip, ip, e.mask)) yield e;
  }

  /** allow_source_address(group): does any entry of `group` match ip:port? */
  allows(group: number, ip: string, port?: number): boolean {
    for (const e of this.matches(ip, port)) if (e.grp === group) return true;
    return false;
  }

  /** Every group with an entry matching ip:port, ascending. */
  groupsOf(ip: string, port?: number): number[] {
    const groups = new Set<number>();
    for (const e of this.matches(ip, port)) groups.add(e.grp);
    return [...groups].sort((a, b) => a - b);
  }

  /** The tag of the first entry of `group` matching ip:port (Kamailio's peer_tag_avp), or undefined. */
  tagOf(group: number, ip: string, port?: number): string | null | undefined {
    for (const e of this.matches(ip, port)) if (e.grp === group) return e.tag;
    return undefined;
  }

  addressDump(): AddressDumpItem[] {
    const out: AddressDumpItem[] = [];
    this.buckets.forEach((list, table) => {
      for (const e of list) out.push({ table, group: e.grp, item: { ip: formatIp(e.ip), port: e.port, tag: e.tag === null || e.tag === '' ? 'NULL' : e.tag } });
    });
    return out;
  }

  subnetDump(): SubnetDumpItem[] {
    return this.subnets.map((e, id) => ({ id, group: e.grp, item: { ip: formatIp(e.ip), mask: e.mask, port: e.port, tag: e.tag ?? '' } }));
  }
}
