// SIM keys encrypted at rest (issue 16 part 4): the sealing itself (round trip, wrong key,
// tampering, IMSI swap), KEK sources (0600 file, hex), and the sim functions on SQLite and
// MariaDB with encryption: add, import, show --reveal, vector, resync, export, rekey, storage mode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SipctlError } from '../../../src/core/errors.js';
import { createKek, FINGERPRINT_PREFIX, kekFromFile, kekFromHex, resolveKek } from '../../../src/core/sim/kek.js';
import { buildAuts, generateVector } from '../../../src/core/sim/milenage.js';
import { rekeySims, simStorage } from '../../../src/core/sim/sim-at-rest.js';
import { importSims } from '../../../src/core/sim/sim-import.js';
import { addSim, exportSims, getSim, listSims, nextVector, resyncSim } from '../../../src/core/sim/sim-records.js';
import { createTestDb, forEachEngine } from '../../helpers/db.js';

const KI = '465b5ce8b199b49faa5f0a2ee238a6bc';
const OPC = 'cd63cb71954a9f4e48a5994e37a02baf';
const IMSI = '001010000000001';
const HEX_A = 'a1'.repeat(32);
const HEX_B = 'b2'.repeat(32);

const code = (c: string) => (e: unknown) => e instanceof SipctlError && e.code === c;

test('seal/open round trip; fresh nonce per seal; fingerprints are stable and not hex', () => {
  const k = kekFromHex(HEX_A, 'test');
  const s1 = k.seal(IMSI, KI, OPC);
  const s2 = k.seal(IMSI, KI, OPC);
  assert.notEqual(s1, s2, 'a fresh nonce each time');
  assert.match(s1, /^v1:[A-Za-z0-9+/=]{80}$/);
  assert.ok(!s1.includes(KI) && !s1.includes(OPC));
  assert.deepEqual(k.open(IMSI, s1), { ki: KI, opc: OPC });
  assert.equal(k.fingerprint('ki', KI), k.fingerprint('ki', KI.toUpperCase()));
  assert.notEqual(k.fingerprint('ki', KI), k.fingerprint('opc', KI), 'the column is part of the fingerprint');
  assert.equal(k.fingerprint('ki', KI).length, 32);
  assert.ok(k.fingerprint('ki', KI).startsWith(FINGERPRINT_PREFIX));
  assert.match(k.keyId, /^[0-9a-f]{16}$/);
  assert.equal(kekFromHex(HEX_A.toUpperCase(), 'x').keyId, k.keyId, 'the key id names the key');
  assert.notEqual(kekFromHex(HEX_B, 'x').keyId, k.keyId);
});

test('wrong key, tampered ciphertext, IMSI swap, truncation: refused, never wrong keys', () => {
  const a = kekFromHex(HEX_A, 'a');
  const b = kekFromHex(HEX_B, 'b');
  const sealed = a.seal(IMSI, KI, OPC);
  assert.throws(() => b.open(IMSI, sealed), code('SIM_KEY_TAMPERED'));
  assert.throws(() => a.open('001010000000002', sealed), code('SIM_KEY_TAMPERED'), 'sealed keys copied to another IMSI do not open');
  const raw = Buffer.from(sealed.slice(3), 'base64');
  for (const at of [0, 12, 30, raw.length - 1]) {
    const t = Buffer.from(raw);
    t[at] ^= 0x01;
    assert.throws(() => a.open(IMSI, 'v1:' + t.toString('base64')), code('SIM_KEY_TAMPERED'), `bit flipped at ${at}`);
  }
  assert.throws(() => a.open(IMSI, 'v1:' + raw.subarray(0, 40).toString('base64')), code('SIM_KEY_TAMPERED'));
  assert.throws(() => a.open(IMSI, ''), code('SIM_KEY_TAMPERED'));
  assert.throws(() => a.open(IMSI, 'v2:' + raw.toString('base64')), code('SIM_KEY_TAMPERED'));
  const e = (() => { try { b.open(IMSI, sealed); } catch (x) { return x as Error; } })()!;
  assert.ok(!e.message.includes(KI) && !e.message.includes(OPC));
});

test('KEK sources: 64 hex digits; a file must be 0600; all zeros and short keys refused; hex wins over the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sipctl-kek-'));
  try {
    const f = join(dir, 'kek.hex');
    writeFileSync(f, HEX_A + '\n', { mode: 0o600 });
    chmodSync(f, 0o600);
    assert.equal(kekFromFile(f).keyId, kekFromHex(HEX_A, 'x').keyId);
    chmodSync(f, 0o640);
    assert.throws(() => kekFromFile(f), (e) => e instanceof SipctlError && e.code === 'CONFIG_INSECURE_MODE' && /chmod 600/.test(e.hint ?? ''));
    assert.throws(() => kekFromFile(join(dir, 'nope')), code('SIM_KEK_UNREADABLE'));
    assert.throws(() => kekFromHex('abcd', 'SIPCTL_SIM_KEK'), (e) => e instanceof SipctlError && e.category === 'config' && /SIPCTL_SIM_KEK: expected .* 64 hex digits/.test(e.message));
    assert.throws(() => kekFromHex('00'.repeat(32), 'SIPCTL_SIM_KEK'), /all zeros/);
    assert.throws(() => createKek(Buffer.alloc(16, 1)), /expected 32 bytes/);
    assert.equal(resolveKek({}), undefined);
    assert.equal(resolveKek({ hex: HEX_B, file: join(dir, 'nope') })!.keyId, kekFromHex(HEX_B, 'x').keyId);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

forEachEngine('sim keys at rest', (engine, track) => {
  test('add/show/list/vector/resync/export with a KEK; plain rows alongside; rekey to a new key and back to plain', async () => {
    const t = track(await createTestDb(engine));
    const db = await t.open();
    const a = kekFromHex(HEX_A, 'a');
    const b = kekFromHex(HEX_B, 'b');
    try {
      // A plain card first (a table from before encryption was configured).
      await addSim(db, { imsi: '001010000000009', ki: '000102030405060708090a0b0c0d0e0f', opc: OPC });
      assert.equal((await simStorage(db)).mode, 'plain');
      await addSim(db, { imsi: IMSI, ki: KI, opc: OPC, batch: 'enc' }, { kek: a });
      assert.deepEqual(await simStorage(db), { mode: 'mixed', rows: 2, plain: 1, encrypted: { [a.keyId]: 1 } });

      const [row] = await db.query<{ ki: string; opc: string; key_id: string; keys_enc: string }>('SELECT ki, opc, key_id, keys_enc FROM sim WHERE imsi = ?', [IMSI]);
      assert.ok(row.ki.startsWith('enc:') && row.opc.startsWith('enc:'), 'no key material in the clear');
      assert.equal(row.key_id, a.keyId);
      assert.ok(!JSON.stringify(row).includes(KI) && !JSON.stringify(row).includes(OPC));

      assert.equal((await getSim(db, IMSI)).ki, '****', 'masked output needs no key');
      assert.equal((await getSim(db, IMSI, { reveal: true, kek: a })).ki, KI);
      await assert.rejects(getSim(db, IMSI, { reveal: true }), (e) => e instanceof SipctlError && e.code === 'SIM_KEK_REQUIRED' && e.category === 'config');
      await assert.rejects(getSim(db, IMSI, { reveal: true, kek: b }), (e) => e instanceof SipctlError && e.code === 'SIM_KEK_WRONG' && e.message.includes(a.keyId));
      assert.deepEqual((await listSims(db, { reveal: true, kek: a })).sims.map((s) => s.opc), [OPC, OPC]);

      // Same Ki again: refused under encryption too (fingerprint), also against the plain row.
      await assert.rejects(addSim(db, { imsi: '001010000000002', ki: KI, opc: 'cd63cb71954a9f4e48a5994e37a02bb0' }, { kek: a }), code('SIM_KI_IN_USE'));
      await assert.rejects(addSim(db, { imsi: '001010000000003', ki: '000102030405060708090a0b0c0d0e0f', opc: OPC }, { kek: a }), code('SIM_KI_IN_USE'));
      // Without the key, or with another, no new card goes in.
      await assert.rejects(addSim(db, { imsi: '001010000000004', ki: '0f0e0d0c0b0a09080706050403020100', opc: OPC }), code('SIM_KEK_REQUIRED'));
      await assert.rejects(addSim(db, { imsi: '001010000000004', ki: '0f0e0d0c0b0a09080706050403020100', opc: OPC }, { kek: b }), code('SIM_KEK_WRONG'));

      // vector: the same as computed from the clear keys; a wrong key leaves the SQN alone.
      const rand = '23553cbe9637a89d218ae64dae47bf35';
      await assert.rejects(nextVector(db, IMSI, rand, { kek: b }), code('SIM_KEK_WRONG'));
      await assert.rejects(nextVector(db, IMSI, rand), code('SIM_KEK_REQUIRED'));
      const v = await nextVector(db, IMSI, rand, { kek: a });
      assert.equal(v.sqn, '000000000020');
      const ref = generateVector({ ki: Buffer.from(KI, 'hex'), opc: Buffer.from(OPC, 'hex'), sqn: Buffer.from(v.sqn, 'hex'), amf: Buffer.from('8000', 'hex'), rand: Buffer.from(rand, 'hex') });
      assert.equal(v.autn, ref.autn.toString('hex'));
      assert.equal(v.xres, ref.xres.toString('hex'));

      // resync: AUTS made with the card's keys; the SQN_MS is recovered through the encrypted row.
      const auts = buildAuts({ ki: Buffer.from(KI, 'hex'), opc: Buffer.from(OPC, 'hex'), rand: Buffer.from(rand, 'hex'), sqn: Buffer.from('000000000400', 'hex') }).toString('hex');
      const rs = await resyncSim(db, IMSI, rand, auts, { kek: a });
      assert.equal(rs.sqnMs, '000000000400');

      // export --reveal opens the rows; without reveal no key is needed.
      let csv = '';
      for await (const c of exportSims(db, { reveal: true, kek: a })) csv += c;
      assert.match(csv, new RegExp(`${IMSI},,,${KI},${OPC},8000,000000000400,enc,`));
      let masked = '';
      for await (const c of exportSims(db, {})) masked += c;
      assert.ok(!masked.includes('enc:'), 'no fingerprints in an export');

      // import under the key: sealed rows; an identical row is skipped, a changed one rejected.
      const kis = Array.from({ length: 3 }, () => randomBytes(16).toString('hex'));
      const csvIn = ['imsi,ki,opc', `${IMSI},${KI},${OPC}`, ...kis.map((k, i) => `00101000000010${i},${k},${OPC}`), `001010000000200,000102030405060708090a0b0c0d0e0f,${OPC}`].join('\n') + '\n';
      const imp = await importSims(db, () => [csvIn], { kek: a });
      assert.deepEqual([imp.added, imp.skipped, imp.rejected], [3, 1, 1]);
      assert.match(imp.rejections[0].reason, /ki: already used by another card/);
      assert.equal((await getSim(db, '001010000000101', { reveal: true, kek: a })).ki, kis[1]);
      await assert.rejects(importSims(db, () => [csvIn]), code('SIM_KEK_REQUIRED'));

      // rekey A → B: every row (the plain one too) under B, atomically; vectors continue.
      const c = kekFromHex('c3'.repeat(32), 'c');
      await assert.rejects(rekeySims(db, { from: b, to: c }), code('SIM_KEK_WRONG'), 'the wrong old key changes nothing');
      assert.equal((await simStorage(db)).mode, 'mixed');
      const dry = await rekeySims(db, { from: a, to: b, dryRun: true });
      assert.deepEqual([dry.changed, dry.unchanged], [5, 0]);
      assert.equal((await simStorage(db)).mode, 'mixed');
      const r = await rekeySims(db, { from: a, to: b });
      assert.deepEqual([r.changed, r.unchanged, r.to], [5, 0, b.keyId]);
      assert.deepEqual(await simStorage(db), { mode: 'encrypted', rows: 5, plain: 0, encrypted: { [b.keyId]: 5 } });
      assert.equal((await getSim(db, '001010000000009', { reveal: true, kek: b })).ki, '000102030405060708090a0b0c0d0e0f');
      assert.equal((await nextVector(db, IMSI, rand, { kek: b })).sqn, '000000000420');
      await assert.rejects(getSim(db, IMSI, { reveal: true, kek: a }), code('SIM_KEK_WRONG'));
      const again = await rekeySims(db, { from: a, to: b });
      assert.deepEqual([again.changed, again.unchanged], [0, 5], 'run again (e.g. after an interruption): nothing to do');
      assert.deepEqual([(await rekeySims(db, { from: b, to: b }).catch((e) => e.code))], ['SIM_REKEY_SAME_KEY']);

      // A tampered row stops the whole rekey: nothing changes.
      const [victim] = await db.query<{ keys_enc: string }>('SELECT keys_enc FROM sim WHERE imsi = ?', ['001010000000009']);
      await db.execute('UPDATE sim SET keys_enc = ? WHERE imsi = ?', [victim.keys_enc, '001010000000100']);
      await assert.rejects(rekeySims(db, { from: b }), code('SIM_KEY_TAMPERED'));
      assert.equal((await simStorage(db)).mode, 'encrypted');
      await assert.rejects(nextVector(db, '001010000000100', rand, { kek: b }), code('SIM_KEY_TAMPERED'));
      await db.execute('DELETE FROM sim WHERE imsi = ?', ['001010000000100']);

      // back to plain storage
      const p = await rekeySims(db, { from: b });
      assert.deepEqual([p.changed, p.to], [4, 'plain']);
      assert.equal((await simStorage(db)).mode, 'plain');
      assert.equal((await getSim(db, IMSI, { reveal: true })).ki, KI);
      const [plainRow] = await db.query<{ ki: string; key_id: string | null; keys_enc: string | null }>('SELECT ki, key_id, keys_enc FROM sim WHERE imsi = ?', [IMSI]);
      assert.deepEqual(plainRow, { ki: KI, key_id: null, keys_enc: null });
    } finally {
      a.wipe();
      b.wipe();
      await db.close();
    }
  });
});
