/**
 * A network as the rule tables store it: "ADDRESS/MASK" with the host bits cleared, or the bare
 * canonical address for a single host ("192.0.2.7", "2001:db8::1"). So "10.1.2.3/8" and
 * "10.0.0.0/8" are the same row, and what sipd loads (kernel/cidr-map.ts) matches what was meant.
 */
import { ValidationError } from '../errors.js';
import { canonicalIpv6, expandIpv6, parseIp } from './ip.js';

export function canonicalNetwork(input: string, field = 'network'): string {
  const s = input.trim();
  const slash = s.indexOf('/');
  let ip;
  try {
    ip = parseIp(slash === -1 ? s : s.slice(0, slash), field);
  } catch {
    throw new ValidationError(field, `"${s.slice(0, 64)}" is not an address or CIDR network`, 'e.g. 192.0.2.7, 198.51.100.0/24, 2001:db8::/32');
  }
  if (slash === -1) return ip.text;
  const ms = s.slice(slash + 1);
  const mask = /^[0-9]{1,3}$/.test(ms) ? Number(ms) : NaN;
  if (!(mask >= 0 && mask <= ip.bits)) throw new ValidationError(field, `"${s.slice(0, 64)}": the mask must be 0…${ip.bits}`);
  if (mask === ip.bits) return ip.text;
  if (ip.family === 4) {
    const o = ip.text.split('.').map(Number);
    const n = (((o[0] << 24) | (o[1] << 16) | (o[2] << 8) | o[3]) & (mask === 0 ? 0 : 0xffffffff << (32 - mask))) >>> 0;
    return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}/${mask}`;
  }
  const g = expandIpv6(ip.text);
  for (let i = 0; i < 8; i++) {
    const keep = Math.max(0, Math.min(16, mask - i * 16));
    g[i] = keep === 0 ? 0 : g[i] & ((0xffff << (16 - keep)) & 0xffff);
  }
  return `${canonicalIpv6(g.map((x) => x.toString(16)).join(':'))}/${mask}`;
}
