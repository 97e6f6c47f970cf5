/**
 * IP addresses as bytes, for the address table: parsing (IPv4 dotted quad, IPv6 with "::" and
 * an IPv4 tail), prefix matching, and formatting the way Kamailio's ip_addr2a() prints them, so
 * permissions.addressDump / subnetDump show what Kamailio would.
 *
 * An IPv4-mapped IPv6 address (::ffff:192.0.2.1, what a dual-stack socket reports for an IPv4
 * peer) is read as the IPv4 address: otherwise an IPv4 entry would silently never match.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface IpAddr {
  family: 4 | 6;
  /** 4 or 16 bytes, network order */
  bytes: Uint8Array;
}

/** Parse a textual IP address (IPv6 without brackets or zone); undefined when it is not one. */
export function parseIp(text: string): IpAddr | undefined {
  if (typeof text !== 'string' || text.length === 0 || text.length > 45) return undefined;
  if (isIPv4(text)) return { family: 4, bytes: Uint8Array.from(text.split('.').map(Number)) };
  if (!isIPv6(text) || text.includes('%')) return undefined;
  const bytes = new Uint8Array(16);
  let head = text;
  let tail4: number[] | undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) !== -1) {
    tail4 = text.slice(lastColon + 1).split('.').map(Number);
    head = text.slice(0, lastColon + 1) + '0:0';
  }
  const [left, right] = head.includes('::') ? head.split('::') : [head, undefined];
  const groups = (s: string | undefined) => (s === undefined || s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const l = groups(left);
  const r = groups(right);
  const all = right === undefined ? l : [...l, ...new Array<number>(8 - l.length - r.length).fill(0), ...r];
  all.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  if (tail4 !== undefined) bytes.set(tail4, 12);
  return unmapV4({ family: 6, bytes });
}

/** ::ffff:a.b.c.d → a.b.c.d; anything else unchanged. */
function unmapV4(a: IpAddr): IpAddr {
  if (a.family !== 6) return a;
  for (let i = 0; i < 10; i++) if (a.bytes[i] !== 0) return a;
  if (a.bytes[10] !== 0xff || a.bytes[11] !== 0xff) return a;
  return { family: 4, bytes: a.bytes.slice(12) };
}

/** True when the first `mask` bits of a and b are equal (same family). */
export function prefixMatch(a: IpAddr, b: IpAddr, mask: number): boolean {
  if (a.family !== b.family) return false;
  const full = Math.floor(mask / 8);
  for (let i = 0; i < full; i++) if (a.bytes[i] !== b.bytes[i]) return false;
  const rest = mask % 8;
  if (rest === 0) return true;
  const m = (0xff << (8 - rest)) & 0xff;
  return (a.bytes[full] & m) === (b.bytes[full] & m);
}

export function sameIp(a: IpAddr, b: IpAddr): boolean {
  return a.family === b.family && prefixMatch(a, b, a.bytes.length * 8);
}

/**
 * As Kamailio's ip_addr2a(): IPv4 dotted quad; IPv6 as eight groups in upper-case hex without
 * leading zeros and without "::" compression (ip6tosbuf), e.g. 2001:DB8:0:0:0:0:0:1.
 */
export function formatIp(a: IpAddr): string {
  if (a.family === 4) return Array.from(a.bytes).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((a.bytes[i] << 8) | a.bytes[i + 1]).toString(16).toUpperCase());
  return groups.join(':');
}
