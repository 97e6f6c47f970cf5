/**
 * Longest-prefix lookup of IP addresses in a set of CIDR entries (IPv4 and IPv6), for the rule
 * modules that run on every message (blocklist, country overrides): one Map lookup per distinct
 * mask length present, never a scan of the entries, so a list of thousands of networks costs
 * the same as a list of ten.
 */
import { parseIp, type IpAddr } from '../modules/permissions/ip.js';

export interface CidrHit<T> {
  value: T;
  mask: number;
}

function v4Number(b: Uint8Array): number {
  return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
}

function v4Net(n: number, mask: number): number {
  return mask === 0 ? 0 : (n & (0xffffffff << (32 - mask))) >>> 0;
}

function v6Net(b: Uint8Array, mask: number): string {
  const full = mask >> 3;
  let s = '';
  for (let i = 0; i < full; i++) s += (b[i] < 16 ? '0' : '') + b[i].toString(16);
  const rest = mask & 7;
  if (rest !== 0) {
    const v = b[full] & ((0xff << (8 - rest)) & 0xff);
    s += (v < 16 ? '0' : '') + v.toString(16);
  }
  return s;
}

export class CidrMap<T> {
  private readonly v4 = new Map<number, Map<number, T>>();
  private readonly v6 = new Map<number, Map<string, T>>();
  /** mask lengths present, longest first */
  private v4Masks: number[] = [];
  private v6Masks: number[] = [];
  size = 0;

  /** Add (or replace) ip/mask → value; `mask` defaults to the full length. */
  add(ip: IpAddr, mask: number | undefined, value: T): void {
    if (ip.family === 4) {
      const m = mask ?? 32;
      if (!(m >= 0 && m <= 32)) throw new RangeError(`mask ${m} out of range for IPv4`);
      let t = this.v4.get(m);
      if (t === undefined) this.v4.set(m, (t = new Map())), (this.v4Masks = [...this.v4.keys()].sort((a, b) => b - a));
      const k = v4Net(v4Number(ip.bytes), m);
      if (!t.has(k)) this.size++;
      t.set(k, value);
    } else {
      const m = mask ?? 128;
      if (!(m >= 0 && m <= 128)) throw new RangeError(`mask ${m} out of range for IPv6`);
      let t = this.v6.get(m);
      if (t === undefined) this.v6.set(m, (t = new Map())), (this.v6Masks = [...this.v6.keys()].sort((a, b) => b - a));
      const k = v6Net(ip.bytes, m);
      if (!t.has(k)) this.size++;
      t.set(k, value);
    }
  }

  /** The entry with the longest mask containing `ip`. */
  match(ip: IpAddr): CidrHit<T> | undefined {
    if (ip.family === 4) {
      const n = v4Number(ip.bytes);
      for (const m of this.v4Masks) {
        const v = this.v4.get(m)!.get(v4Net(n, m));
        if (v !== undefined) return { value: v, mask: m };
      }
      return undefined;
    }
    for (const m of this.v6Masks) {
      const v = this.v6.get(m)!.get(v6Net(ip.bytes, m));
      if (v !== undefined) return { value: v, mask: m };
    }
    return undefined;
  }

  /** match() of a textual address; undefined for text that is not an address. */
  lookup(text: string): CidrHit<T> | undefined {
    if (this.size === 0) return undefined;
    const ip = parseIp(text);
    return ip === undefined ? undefined : this.match(ip);
  }
}

/** "10.0.0.0/8", "2001:db8::/32" or a bare address → address and mask; undefined when malformed. */
export function parseCidr(text: string): { ip: IpAddr; mask: number } | undefined {
  const slash = text.indexOf('/');
  const ip = parseIp(slash === -1 ? text : text.slice(0, slash));
  if (ip === undefined) return undefined;
  const max = ip.family === 4 ? 32 : 128;
  if (slash === -1) return { ip, mask: max };
  const ms = text.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(ms)) return undefined;
  const mask = Number(ms);
  // an IPv4-mapped IPv6 network (::ffff:10.0.0.0/104) becomes its IPv4 network
  if (ip.family === 4 && text.slice(0, slash).includes(':')) return mask >= 96 && mask <= 128 ? { ip, mask: mask - 96 } : undefined;
  return mask <= max ? { ip, mask } : undefined;
}
