/**
 * SHA-1 for the one place the CLI's MariaDB login needs it: mysql2's mysql_native_password
 * scramble (auth_41.js), which scripts/bundle.mjs points here in the CLI bundle (issue 15).
 * mysql2 takes node:crypto for it, and loading node:crypto (17 internal modules and OpenSSL's
 * set-up) costs every `sipctl` run against MariaDB more CPU than the rest of the login; three
 * hashes of a few dozen bytes in JavaScript cost microseconds. FIPS 180-4, section 6.1;
 * test/unit/db/mysql-sha1.test.ts checks it against its test vectors and node:crypto.
 */

/** SHA-1 of the bytes given, one after the other; a string counts as its UTF-8 bytes. */
export function sha1(...parts: Array<string | Uint8Array>): Buffer {
  const fromStrings: Buffer[] = [];
  const bytes = parts.map((p) => (typeof p === 'string' ? (fromStrings.push(Buffer.from(p, 'utf8')), fromStrings[fromStrings.length - 1]) : p));
  const length = bytes.reduce((n, b) => n + b.length, 0);
  // The message, 0x80, zeros, then its length in bits as a 64-bit big-endian number: whole 64-byte blocks.
  const total = (((length + 8) >> 6) + 1) * 64;
  const m = Buffer.alloc(total);
  let at = 0;
  for (const b of bytes) {
    m.set(b, at);
    at += b.length;
  }
  m[length] = 0x80;
  m.writeUInt32BE(Math.floor(length / 0x20000000), total - 8);
  m.writeUInt32BE((length * 8) >>> 0, total - 4);

  let h0 = 0x67452301;
  let h1 = 0xefcdab89 | 0;
  let h2 = 0x98badcfe | 0;
  let h3 = 0x10325476;
  let h4 = 0xc3d2e1f0 | 0;
  const w = new Int32Array(80);
  for (let block = 0; block < total; block += 64) {
    for (let t = 0; t < 16; t++) w[t] = m.readInt32BE(block + 4 * t);
    for (let t = 16; t < 80; t++) {
      const x = w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16];
      w[t] = (x << 1) | (x >>> 31);
    }
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    for (let t = 0; t < 80; t++) {
      let f: number;
      let k: number;
      if (t < 20) {
        f = (b & c) | (~b & d);
        k = 0x5a827999;
      } else if (t < 40) {
        f = b ^ c ^ d;
        k = 0x6ed9eba1;
      } else if (t < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8f1bbcdc | 0;
      } else {
        f = b ^ c ^ d;
        k = 0xca62c1d6 | 0;
      }
      const temp = (((a << 5) | (a >>> 27)) + f + e + k + w[t]) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = temp;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }
  // The message may be a password: no copy of it (nor its expanded words) stays behind.
  m.fill(0);
  w.fill(0);
  for (const b of fromStrings) b.fill(0);
  const out = Buffer.alloc(20);
  out.writeInt32BE(h0, 0);
  out.writeInt32BE(h1, 4);
  out.writeInt32BE(h2, 8);
  out.writeInt32BE(h3, 12);
  out.writeInt32BE(h4, 16);
  return out;
}

/**
 * mysql2's own sha1(msg, msg1, msg2) (lib/auth_41.js) with the same contract: msg always,
 * msg1 and msg2 when given (truthy), as its hash.update() calls did.
 */
export function mysqlSha1(msg: string | Uint8Array, msg1?: string | Uint8Array, msg2?: string | Uint8Array): Buffer {
  const parts = [msg];
  if (msg1) parts.push(msg1);
  if (msg2) parts.push(msg2);
  return sha1(...parts);
}
