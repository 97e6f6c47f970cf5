import { isIPv4, isIPv6 } from 'node:net';
import { ValidationError } from '../errors.js';

export interface ParsedIp {
  /** Canonical text: dotted quad without leading zeros, or RFC 5952 IPv6 (lower case, :: compressed). */
  text: string;
  family: 4 | 6;
  /** Full length of the family: 32 or 128, the default mask. */
  bits: 32 | 128;
}

/**
 * Validate an IP address as Kamailio's permissions module will parse it, and give its canonical
 * text so that `10.0.0.1` and `2001:DB8::1` compare equal to what is already stored.
 * Leading zeros (`010.0.0.1`) are refused: inet_aton reads them as octal.
 */
export function parseIp(input: string, field = 'ip'): ParsedIp {
  const s = input.trim();
  if (isIPv4(s)) return { text: s, family: 4, bits: 32 };
  const inner = s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s;
  if (isIPv6(inner) && !inner.includes('%')) return { text: canonicalIpv6(inner), family: 6, bits: 128 };
  throw new ValidationError(field, `"${input}" is not an IPv4 or IPv6 address`, 'e.g. 10.0.1.102 or 2001:db8::1; give a subnet as IP plus MASK, not CIDR');
}

/** RFC 5952 text of an IPv6 address (embedded IPv4 kept as dotted quad only for ::ffff:a.b.c.d). */
export function canonicalIpv6(addr: string): string {
  const groups = expandIpv6(addr);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${groups[6]! >> 8}.${groups[6]! & 255}.${groups[7]! >> 8}.${groups[7]! & 255}`;
  }
  // longest run of two or more zero groups, first one on a tie
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

export function expandIpv6(addr: string): number[] {
  let s = addr.toLowerCase();
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const o = v4[1]!.split('.').map(Number);
    s = s.slice(0, -v4[1]!.length) + `${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? s.split('::') as [string, string] : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const fill = tail !== undefined ? 8 - h.length - t.length : 0;
  return [...h, ...Array(fill).fill('0'), ...t].map((g) => parseInt(g, 16));
}

/** 0.0.0.0 / :: — a socket bound to every address of its family, which nobody can send or route to */
export function isUnspecified(ip: string): boolean {
  return ip === '0.0.0.0' || ip === '::';
}
