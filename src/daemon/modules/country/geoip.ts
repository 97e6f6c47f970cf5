/**
 * IP → ISO 3166 country code, from the data sets operators have without downloading anything:
 *
 *  - Tor's text files from Debian's `tor-geoipdb` (/usr/share/tor/geoip and geoip6; converted
 *    by Tor's geoip-db-tool from the IPFire Location database, CC BY-SA 4.0):
 *      IPv4  `START,END,CC`  (integers)       IPv6  `START,END,CC`  (addresses)
 *    "??" means "no country". Loaded into sorted typed arrays, looked up by binary search.
 *  - An MMDB file (mmdb-lib): MaxMind GeoIP2/GeoLite2 and DB-IP's layout (`country.iso_code`,
 *    falling back to `registered_country.iso_code`, as Kamailio's geoip2 `cc`) and
 *    ip-location-db's (`country_code`).
 */
import { readFileSync } from 'node:fs';
import { Reader, type Response } from 'mmdb-lib';
import type { IpAddr } from '../permissions/ip.js';

export interface CountrySource {
  /** short name shown by country.lookup / country.stats: "tor", "mmdb" */
  readonly kind: string;
  /** the ISO code (upper case), or undefined when the data has none for this address */
  lookup(ip: IpAddr): string | undefined;
  readonly ranges: number;
}

/** Country codes as 16-bit numbers ("DE" → 0x4445); 0 = none. */
function code(cc: string): number {
  return cc.length === 2 && cc !== '??' ? (cc.charCodeAt(0) << 8) | cc.charCodeAt(1) : 0;
}
function text(c: number): string | undefined {
  return c === 0 ? undefined : String.fromCharCode(c >> 8, c & 0xff);
}

/**
 * The IPv6 address text in data[from, to) into four 32-bit words at out[at…at+3]; false when it
 * is not one. Reads the bytes directly: the geoip6 file has half a million addresses.
 */
function words6(data: Uint8Array, from: number, to: number, out: Uint32Array, at: number): boolean {
  const groups = [0, 0, 0, 0, 0, 0, 0, 0];
  const right: number[] = [];
  let left = 0;
  let inRight = false;
  let v = 0;
  let nd = 0;
  for (let i = from; i <= to; i++) {
    const c = i === to ? 58 : data[i];
    if (c === 58) {
      if (nd === 0) {
        // "::" (or a leading/trailing ':' of it)
        if (i + 1 < to && data[i + 1] === 58 && !inRight) {
          inRight = true;
          i++;
          continue;
        }
        if (i === to && inRight) break;
        if (i === from && data[i + 1] === 58) continue;
        return false;
      }
      if (nd > 4) return false;
      if (inRight) right.push(v);
      else if (left < 8) groups[left++] = v;
      else return false;
      v = 0;
      nd = 0;
      if (i + 1 < to && data[i + 1] === 58 && !inRight) {
        inRight = true;
        i++;
      }
      continue;
    }
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
    if (d < 0) return false;
    v = v * 16 + d;
    nd++;
  }
  if (inRight) {
    if (left + right.length > 7) return false;
    for (let k = 0; k < right.length; k++) groups[8 - right.length + k] = right[k];
  } else if (left !== 8) return false;
  for (let w = 0; w < 4; w++) out[at + w] = ((groups[2 * w] << 16) | groups[2 * w + 1]) >>> 0;
  return true;
}

/** Compare the 4-word addresses a[i…] and b[j…]. */
function cmp6(a: Uint32Array, i: number, b: Uint32Array, j: number): number {
  for (let w = 0; w < 4; w++) {
    const x = a[i + w];
    const y = b[j + w];
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** Tor's geoip / geoip6 files. Either path may be '' (that family then has no data). */
export class TorGeoip implements CountrySource {
  readonly kind = 'tor';
  private v4Start = new Uint32Array(0);
  private v4End = new Uint32Array(0);
  private v4Cc = new Uint16Array(0);
  /** four words per range */
  private v6Start = new Uint32Array(0);
  private v6End = new Uint32Array(0);
  private v6Cc = new Uint16Array(0);
  /** lines that were neither comments nor ranges */
  skipped = 0;

  constructor(v4Path: string, v6Path: string) {
    if (v4Path !== '') this.loadV4(readFileSync(v4Path));
    if (v6Path !== '') this.loadV6(readFileSync(v6Path));
  }

  get ranges(): number {
    return this.v4Start.length + this.v6Cc.length;
  }

  // The loaders read the bytes directly (no split, no substrings): 660,000 lines in well under a
  // second on an idle machine, so reading the data set at start or reload costs little.

  private loadV4(data: Buffer): void {
    let cap = 1;
    for (let i = 0; i < data.length; i++) if (data[i] === 10) cap++;
    let starts = new Uint32Array(cap);
    let ends = new Uint32Array(cap);
    let ccs = new Uint16Array(cap);
    let n = 0;
    let sorted = true;
    let i = 0;
    while (i < data.length) {
      let eol = data.indexOf(10, i);
      if (eol === -1) eol = data.length;
      if (eol > i && data[i] !== 35) {
        // START,END,CC
        let st = 0;
        let e = 0;
        let j = i;
        let ok = true;
        let digits = 0;
        while (j < eol && data[j] >= 48 && data[j] <= 57) (st = st * 10 + data[j] - 48), j++, digits++;
        if (digits === 0 || data[j] !== 44) ok = false;
        j++;
        digits = 0;
        while (ok && j < eol && data[j] >= 48 && data[j] <= 57) (e = e * 10 + data[j] - 48), j++, digits++;
        if (digits === 0 || data[j] !== 44 || e < st || e > 0xffffffff) ok = false;
        j++;
        if (!ok) this.skipped++;
        else {
          const c = eol - j >= 2 ? code(String.fromCharCode(data[j], data[j + 1])) : 0;
          if (c !== 0) {
            if (n > 0 && starts[n - 1] > st) sorted = false;
            starts[n] = st, ends[n] = e, ccs[n] = c;
            n++;
          }
        }
      }
      i = eol + 1;
    }
    starts = starts.slice(0, n), ends = ends.slice(0, n), ccs = ccs.slice(0, n);
    if (!sorted) {
      // the files are sorted; a hand-edited one still works
      const order = Array.from({ length: n }, (_, k) => k).sort((x, y) => starts[x] - starts[y]);
      starts = Uint32Array.from(order, (k) => starts[k]), ends = Uint32Array.from(order, (k) => ends[k]), ccs = Uint16Array.from(order, (k) => ccs[k]);
    }
    this.v4Start = starts;
    this.v4End = ends;
    this.v4Cc = ccs;
  }

  private loadV6(data: Buffer): void {
    let cap = 1;
    for (let i = 0; i < data.length; i++) if (data[i] === 10) cap++;
    let starts = new Uint32Array(cap * 4);
    let ends = new Uint32Array(cap * 4);
    let ccs = new Uint16Array(cap);
    let n = 0;
    let sorted = true;
    let i = 0;
    while (i < data.length) {
      let eol = data.indexOf(10, i);
      if (eol === -1) eol = data.length;
      if (eol > i && data[i] !== 35) {
        const a = data.indexOf(44, i);
        const b = a === -1 || a > eol ? -1 : data.indexOf(44, a + 1);
        if (b === -1 || b > eol) this.skipped++;
        else {
          const c = eol - b - 1 >= 2 ? code(String.fromCharCode(data[b + 1], data[b + 2])) : 0;
          if (c !== 0) {
            if (!words6(data, i, a, starts, n * 4) || !words6(data, a + 1, b, ends, n * 4)) this.skipped++;
            else {
              ccs[n] = c;
              if (n > 0 && cmp6(starts, (n - 1) * 4, starts, n * 4) > 0) sorted = false;
              n++;
            }
          }
        }
      }
      i = eol + 1;
    }
    starts = starts.slice(0, n * 4);
    ends = ends.slice(0, n * 4);
    ccs = ccs.slice(0, n);
    if (!sorted) {
      const order = Array.from({ length: n }, (_, k) => k).sort((x, y) => cmp6(starts, x * 4, starts, y * 4));
      const s2 = new Uint32Array(n * 4);
      const e2 = new Uint32Array(n * 4);
      const c2 = new Uint16Array(n);
      order.forEach((from, to) => {
        s2.set(starts.subarray(from * 4, from * 4 + 4), to * 4);
        e2.set(ends.subarray(from * 4, from * 4 + 4), to * 4);
        c2[to] = ccs[from];
      });
      starts = s2, ends = e2, ccs = c2;
    }
    this.v6Start = starts;
    this.v6End = ends;
    this.v6Cc = ccs;
  }

  lookup(ip: IpAddr): string | undefined {
    const b = ip.bytes;
    if (ip.family === 4) {
      const n = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
      // last range starting at or before n
      let lo = 0;
      let hi = this.v4Start.length - 1;
      let at = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        if (this.v4Start[mid] <= n) (at = mid), (lo = mid + 1);
        else hi = mid - 1;
      }
      return at >= 0 && n <= this.v4End[at] ? text(this.v4Cc[at]) : undefined;
    }
    const key = new Uint32Array(4);
    for (let w = 0; w < 4; w++) key[w] = ((b[4 * w] << 24) | (b[4 * w + 1] << 16) | (b[4 * w + 2] << 8) | b[4 * w + 3]) >>> 0;
    let lo = 0;
    let hi = this.v6Cc.length - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (cmp6(this.v6Start, mid * 4, key, 0) <= 0) (at = mid), (lo = mid + 1);
      else hi = mid - 1;
    }
    return at >= 0 && cmp6(key, 0, this.v6End, at * 4) <= 0 ? text(this.v6Cc[at]) : undefined;
  }
}

interface MmdbRecord {
  country?: { iso_code?: string };
  registered_country?: { iso_code?: string };
  country_code?: string;
}

/** An MMDB file: both the GeoIP2/DB-IP layout and ip-location-db's. */
export class MmdbGeoip implements CountrySource {
  readonly kind = 'mmdb';
  private readonly reader: Reader<Response>;
  readonly ranges: number;

  constructor(path: string) {
    this.reader = new Reader<Response>(readFileSync(path));
    this.ranges = this.reader.metadata.nodeCount;
  }

  lookup(ip: IpAddr): string | undefined {
    const t = ip.family === 4 ? Array.from(ip.bytes).join('.') : formatV6(ip.bytes);
    const r = this.reader.get(t) as MmdbRecord | null;
    if (r === null || r === undefined) return undefined;
    const cc = r.country?.iso_code ?? r.registered_country?.iso_code ?? r.country_code;
    return typeof cc === 'string' && /^[A-Za-z]{2}$/.test(cc) ? cc.toUpperCase() : undefined;
  }
}

function formatV6(b: Uint8Array): string {
  const g: string[] = [];
  for (let i = 0; i < 16; i += 2) g.push(((b[i] << 8) | b[i + 1]).toString(16));
  return g.join(':');
}
