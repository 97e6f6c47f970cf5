/**
 * Kamailio's core hashes (src/core/hashes.h), bit for bit, because RPC replies print their
 * results: core_hash() is usrloc's HashID of an AoR, the permissions module's address-table
 * bucket and the dialog's h_entry; core_case_hash() (the same with A-Z folded to a-z) picks
 * htable's slot. Bytes are read as C `char`, which is signed on the x86 and ARM Linux builds
 * Kamailio ships, so bytes >= 0x80 are sign-extended exactly as there.
 */

const asChar = (b: number) => (b >= 0x80 ? b - 0x100 : b);
/** ch_icase, then signed char */
const asCaseChar = (b: number) => asChar(b >= 0x41 && b <= 0x5a ? b | 0x20 : b);

function hashBytes(s: Uint8Array, byte: (b: number) => number): number {
  let h = 0;
  let p = 0;
  let v: number;
  for (; p + 4 <= s.length; p += 4) {
    v = ((byte(s[p]) << 24) + (byte(s[p + 1]) << 16) + (byte(s[p + 2]) << 8) + byte(s[p + 3])) >>> 0;
    h = (h + ((v ^ (v >>> 3)) >>> 0)) >>> 0;
  }
  v = 0;
  for (; p < s.length; p++) v = ((v << 8) + byte(s[p])) >>> 0;
  h = (h + ((v ^ (v >>> 3)) >>> 0)) >>> 0;
  return (h + (h >>> 11) + ((h >>> 13) + (h >>> 23))) >>> 0;
}

const bytesOf = (input: string | Uint8Array) => (typeof input === 'string' ? Buffer.from(input, 'utf8') : input);

/** core_hash(s, NULL, size): the 32-bit hash, or the bucket index when size (a power of 2) is given. */
export function coreHash(input: string | Uint8Array, size = 0): number {
  const h = hashBytes(bytesOf(input), asChar);
  return size ? h & (size - 1) : h;
}

/** core_case_hash(s, NULL, 0): the case-insensitive 32-bit hash (htable's slot, before the mask). */
export function coreCaseHash(input: string | Uint8Array): number {
  return hashBytes(bytesOf(input), asCaseChar);
}
