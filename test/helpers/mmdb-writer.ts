/**
 * A minimal MaxMind DB (MMDB 2.0) writer for tests: an IPv6 tree (IPv4 networks under ::/96, as
 * MaxMind's own IPv6 databases hold them), 24-bit records, and a data section with maps, strings
 * and unsigned integers only. Enough to give mmdb-lib small files in both layouts sipd reads
 * (GeoIP2/DB-IP `country.iso_code`, ip-location-db `country_code`) without shipping data.
 */
import { isIPv4 } from 'node:net';
import { parseIp } from '../../src/daemon/modules/permissions/ip.js';

type Value = string | number | { [k: string]: Value } | Value[];

function ctrl(type: number, size: number): Buffer {
  if (size >= 29) throw new Error('mmdb-writer: only short values');
  return type <= 7 ? Buffer.from([(type << 5) | size]) : Buffer.from([size, type - 7]);
}

function encode(v: Value): Buffer {
  if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    return Buffer.concat([ctrl(2, b.length), b]);
  }
  if (typeof v === 'number') {
    const bytes: number[] = [];
    for (let n = v; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
    return Buffer.concat([ctrl(6, bytes.length), Buffer.from(bytes)]);
  }
  if (Array.isArray(v)) return Buffer.concat([ctrl(11, v.length), ...v.map(encode)]);
  const keys = Object.keys(v);
  return Buffer.concat([ctrl(7, keys.length), ...keys.flatMap((k) => [encode(k), encode(v[k]!)])]);
}

interface Node { child: [Node | number | undefined, Node | number | undefined] }

/** networks: [cidr, record]; e.g. ['192.0.2.0/24', { country: { iso_code: 'DE' } }]. */
export function buildMmdb(networks: Array<[string, Value]>): Buffer {
  const root: Node = { child: [undefined, undefined] };
  const data: Buffer[] = [];
  const offsets: number[] = [];
  let size = 0;
  for (const [, rec] of networks) {
    const b = encode(rec);
    offsets.push(size);
    data.push(b);
    size += b.length;
  }
  networks.forEach(([cidr, ], i) => {
    const [addr, m] = cidr.split('/');
    const ip = parseIp(addr!)!;
    const v4 = isIPv4(addr!);
    const bytes = v4 ? Buffer.concat([Buffer.alloc(12), Buffer.from(ip.bytes)]) : Buffer.from(ip.bytes);
    const bits = (m === undefined ? (v4 ? 32 : 128) : Number(m)) + (v4 ? 96 : 0);
    let n = root;
    for (let k = 0; k < bits; k++) {
      const bit = (bytes[k >> 3]! >> (7 - (k & 7))) & 1;
      if (k === bits - 1) n.child[bit] = -(i + 1); // data marker
      else {
        let c = n.child[bit];
        if (typeof c !== 'object') n.child[bit] = c = { child: [undefined, undefined] };
        n = c;
      }
    }
  });
  const nodes: Node[] = [];
  const index = new Map<Node, number>();
  const walk = (n: Node) => {
    index.set(n, nodes.length);
    nodes.push(n);
    for (const c of n.child) if (typeof c === 'object') walk(c);
  };
  walk(root);
  const count = nodes.length;
  const tree = Buffer.alloc(count * 6);
  nodes.forEach((n, i) => {
    n.child.forEach((c, side) => {
      const v = c === undefined ? count : typeof c === 'object' ? index.get(c)! : count + 16 + offsets[-c - 1]!;
      tree.writeUIntBE(v, i * 6 + side * 3, 3);
    });
  });
  const meta = encode({ node_count: count, record_size: 24, ip_version: 6, database_type: 'sipctl-test', languages: ['en'], binary_format_major_version: 2, binary_format_minor_version: 0, build_epoch: 1_700_000_000, description: { en: 'sipctl test data' } });
  return Buffer.concat([tree, Buffer.alloc(16), ...data, Buffer.from('\xab\xcd\xefMaxMind.com', 'latin1'), meta]);
}
