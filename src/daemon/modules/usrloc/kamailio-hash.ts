/**
 * Kamailio's core_hash() (core/hash_func.h), bit for bit: usrloc's HashID of an AoR and the
 * permissions module's address-table bucket are computed with it, and ul.dump /
 * permissions.addressDump print those numbers. Bytes are read as C `char`, which is signed on
 * the x86 and ARM Linux builds Kamailio ships, so bytes >= 0x80 are sign-extended exactly as there.
 */

const signed = (b: number) => (b >= 0x80 ? b - 0x100 : b);

/** core_hash(s, NULL, size): the 32-bit hash, or the bucket index when size (a power of 2) is given. */
export function coreHash(input: string | Uint8Array, size = 0): number {
  const s = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  let h = 0;
  let p = 0;
  const step = (v: number) => {
    h = (h + ((v ^ (v >>> 3)) >>> 0)) >>> 0;
  };
  for (; p + 4 <= s.length; p += 4) {
    step(((signed(s[p]) << 24) + (signed(s[p + 1]) << 16) + (signed(s[p + 2]) << 8) + signed(s[p + 3])) >>> 0);
  }
  let v = 0;
  for (; p < s.length; p++) v = ((v << 8) + signed(s[p])) >>> 0;
  step(v);
  h = ((h + (h >>> 11)) + ((h >>> 13) + (h >>> 23))) >>> 0;
  return size ? h & (size - 1) : h;
}
