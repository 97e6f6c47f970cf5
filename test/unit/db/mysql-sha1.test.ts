/**
 * The SHA-1 the CLI bundle gives mysql2's mysql_native_password login in place of node:crypto's
 * (src/core/db/mysql-sha1.ts, scripts/bundle.mjs): FIPS 180-4's test vectors, node:crypto's digest
 * for every length across the block boundaries, and mysql2's own sha1() contract and scramble.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mysqlSha1, sha1 } from '../../../src/core/db/mysql-sha1.js';

const hex = (b: Buffer) => b.toString('hex');
const reference = (...parts: Array<string | Uint8Array>) => {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return h.digest();
};

test('FIPS 180-4 / NIST example vectors', () => {
  assert.equal(hex(sha1('abc')), 'a9993e364706816aba3e25717850c26c9cd0d89d');
  assert.equal(hex(sha1('')), 'da39a3ee5e6b4b0d3255bfef95601890afd80709');
  assert.equal(hex(sha1('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')), '84983e441c3bd26ebaae4aa1f95129e5e54670f1');
  assert.equal(
    hex(sha1('abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu')),
    'a49b2446a02c645bf419f995b67091253a04a259',
  );
  assert.equal(hex(sha1('a'.repeat(1_000_000))), '34aa973cd4c4daa4f61eeb2bdbad27316534016f');
});

test('the same digest as node:crypto for every length from 0 to 300 bytes, bytes and UTF-8 strings', () => {
  for (let n = 0; n <= 300; n++) {
    const bytes = randomBytes(n);
    assert.deepEqual(sha1(bytes), reference(bytes), `${n} random bytes`);
    const text = 'pässwörd-€-𝄞-'.repeat(1 + (n >> 4)).slice(0, n);
    assert.deepEqual(sha1(text), reference(text), `string of ${text.length} UTF-16 units`);
  }
});

test('parts are hashed one after the other, as hash.update() calls', () => {
  for (let n = 0; n < 80; n++) {
    const a = randomBytes(n);
    const b = randomBytes((n * 7) % 65);
    assert.deepEqual(sha1(a, 'x', b), reference(a, 'x', b));
    assert.deepEqual(sha1(a, b), sha1(Buffer.concat([a, b])));
  }
});

test("mysqlSha1 keeps mysql2's sha1(msg, msg1, msg2) contract: msg1 and msg2 only when given", () => {
  const seed1 = randomBytes(8);
  const seed2 = randomBytes(12);
  assert.deepEqual(mysqlSha1('secret'), reference('secret'));
  assert.deepEqual(mysqlSha1(seed1, seed2, Buffer.from('x')), reference(seed1, seed2, 'x'));
  assert.deepEqual(mysqlSha1('secret', undefined, undefined), reference('secret'));
  assert.deepEqual(mysqlSha1('secret', '', seed1), reference('secret', seed1));
});

test('the mysql_native_password scramble (auth_41) comes out as with node:crypto', () => {
  // SHA1(password) XOR SHA1(scramble1 + scramble2 + SHA1(SHA1(password))), as MariaDB checks it.
  const token = (hash: typeof mysqlSha1, password: string, s1: Buffer, s2: Buffer) => {
    const stage1 = hash(password);
    const stage3 = hash(s1, s2, hash(stage1));
    return Buffer.from(stage3.map((x, i) => x ^ stage1[i]));
  };
  const viaCrypto = (msg: string | Uint8Array, msg1?: string | Uint8Array, msg2?: string | Uint8Array) => reference(...[msg, msg1, msg2].filter((p): p is string | Uint8Array => !!p));
  for (const password of ['supersecretpassword', 'p', 'ünïcödé-пароль', 'x'.repeat(200)]) {
    const s1 = randomBytes(8);
    const s2 = randomBytes(12);
    assert.deepEqual(token(mysqlSha1, password, s1, s2), token(viaCrypto, password, s1, s2), password);
  }
});
