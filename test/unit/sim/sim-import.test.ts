// Bulk import into the sim table, on both engines: formats, OP derivation, transport keys,
// every rejection rule with its line, skipped re-imports, --atomic, --dry-run, truncated files.
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { createTestDb, forEachEngine, type TestDb } from '../../helpers/db.js';
import type { Database } from '../../../src/core/db/database.js';
import { ValidationError } from '../../../src/core/errors.js';
import { deriveOpcHex } from '../../../src/core/sim/milenage.js';
import { SimFileError, allowNoCheckDigitFromHeader, importSims, type SimImportSource } from '../../../src/core/sim/sim-import.js';
import { luhnCheckDigit } from '../../../src/core/sim/validation.js';
import { createSimParser, createTransportDecryptor, decryptTransportColumns } from '../../../src/core/sim/vendor-file.js';

const fixturePath = (name: string) => new URL(`../../fixtures/sim/${name}`, import.meta.url);
const read = (name: string) => readFileSync(fixturePath(name), 'utf8');
const OP = '63bfa50ee6523365ff14c1f45f88737d';
/** The five cards of vendor-5.out, lower-case. */
const CARDS = [...read('vendor-5.out').matchAll(/^(\d{19}) (\d{15}) \S+ \S+ \S+ \S+ ([0-9A-F]{32}) ([0-9A-F]{32}) \S+$/gm)].map((m) => ({
  iccid: m[1], imsi: m[2], ki: m[3].toLowerCase(), opc: m[4].toLowerCase(),
}));

const text = (s: string): SimImportSource => () => [s];
/** Chunks that cut lines (and a UTF-8 character) anywhere, as a pipe would. */
const chopped = (s: string, size = 7): SimImportSource => () => {
  const b = Buffer.from(s);
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
  return out;
};
const file = (name: string): SimImportSource => () => createReadStream(fixturePath(name));

function iccidFor(n: number): string {
  const body = '894401240199' + String(n).padStart(6, '0');
  return body + luhnCheckDigit(body);
}
function kiFor(n: number): string {
  return (0xb0000000 + n).toString(16).padStart(8, '0').repeat(4);
}
function imsiFor(n: number): string {
  return '00101' + String(n).padStart(10, '0');
}

function ecb(key: Buffer, hex: string): string {
  const c = createCipheriv('aes-128-ecb', key, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(Buffer.from(hex, 'hex')), c.final()]).toString('hex').toUpperCase();
}

test('allowNoCheckDigitFromHeader reads the documented header keys', () => {
  assert.equal(allowNoCheckDigitFromHeader({ iccid_check_digit: 'no' }), true);
  assert.equal(allowNoCheckDigitFromHeader({ luhn: 'Absent' }), true);
  assert.equal(allowNoCheckDigitFromHeader({ check_digit: '0' }), true);
  assert.equal(allowNoCheckDigitFromHeader({ check_digit: 'yes' }), false);
  assert.equal(allowNoCheckDigitFromHeader({}), false);
});

test('createTransportDecryptor gives what decryptTransportColumns gives, ECB and CBC', () => {
  const key = randomBytes(16);
  const iv = randomBytes(16);
  const row = { imsi: '001010000000001', ki: ecb(key, CARDS[0].ki), opc: ecb(key, CARDS[0].opc), op: ecb(key, OP) };
  for (const opts of [{ key }, { key, columns: ['ki', 'opc', 'op'] as const }, { key, mode: 'cbc' as const, iv }]) {
    const d = createTransportDecryptor(opts);
    assert.deepEqual(d.decrypt(row), decryptTransportColumns(row, opts));
    assert.deepEqual(d.decrypt(row), decryptTransportColumns(row, opts), 'reusable');
    d.dispose();
  }
  assert.equal(createTransportDecryptor({ key }).decrypt(row).ki, CARDS[0].ki);
  assert.throws(() => createTransportDecryptor({ key, mode: 'cbc' }), /transport_iv: is required/);
  assert.throws(() => createTransportDecryptor({ key: randomBytes(8) }), /transport_key: expected 16 bytes/);
});

test('scan-only parsers count rows and still find file-level problems, returning no records', () => {
  const scan = (fmt: 'csv' | 'vendor', txt: string) => {
    const p = createSimParser(fmt, { scanOnly: true });
    const out = txt.split('\n').flatMap((l, i) => p.push(l, i + 1));
    out.push(...p.end());
    return { rows: p.rowsRead, out };
  };
  const v = scan('vendor', read('vendor-5.out'));
  assert.deepEqual(v, { rows: 5, out: [] });
  const tr = scan('vendor', read('vendor-truncated.out'));
  assert.equal(tr.rows, 4);
  assert.equal(tr.out.length, 1);
  assert.match(tr.out[0].error!, /Quantity header says 5 cards but 4 rows were read/);
  const c = scan('csv', read('sims-opc.csv'));
  assert.deepEqual(c, { rows: 2, out: [] });
  assert.match(scan('csv', 'imsi,colour\n1,2').out[0].error!, /unknown column/);
});

forEachEngine('sim import', (engine, track) => {
  let t: TestDb;
  let db: Database;
  const count = async () => Number((await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM sim'))[0].n);
  const stored = (imsi: string) => db.query<Record<string, string | null>>('SELECT * FROM sim WHERE imsi = ?', [imsi]).then((r) => r[0]);

  before(async () => {
    t = track(await createTestDb(engine));
    db = await t.open();
  });
  after(async () => db?.close());
  beforeEach(async () => {
    await db.execute('DELETE FROM sim');
  });

  test('vendor file: every card added with lower-case keys and the header Batch; re-import skips them all', async () => {
    const s = await importSims(db, file('vendor-5.out'));
    assert.deepEqual({ format: s.format, rows: s.rows, added: s.added, skipped: s.skipped, rejected: s.rejected }, { format: 'vendor', rows: 5, added: 5, skipped: 0, rejected: 0 });
    for (const c of CARDS) {
      const r = await stored(c.imsi);
      assert.equal(r.ki, c.ki);
      assert.equal(r.opc, c.opc);
      assert.equal(r.iccid, c.iccid);
      assert.equal(r.batch, 'EXN2401');
      assert.equal(r.amf, '8000');
      assert.equal(r.sqn, '000000000000');
      assert.equal(deriveOpcHex(c.ki, OP), c.opc, 'fixture OPc is derived from the fixture OP');
    }
    const again = await importSims(db, file('vendor-5.out'));
    assert.deepEqual([again.added, again.skipped, again.rejected], [0, 5, 0]);
    assert.equal(await count(), 5);
  });

  test('CSV with opc (quoted vendor field, optional columns) and CSV with op (OPc derived, OP not stored)', async () => {
    const a = await importSims(db, file('sims-opc.csv'));
    assert.deepEqual([a.format, a.added, a.rejected], ['csv', 2, 0]);
    const r1 = await stored('001010000000001');
    assert.equal(r1.vendor, 'Example Cards, Inc.');
    assert.equal(r1.msisdn, '+447700900001');
    assert.equal(r1.sqn, '000000000020');
    assert.equal((await stored('001010000000002')).ki, CARDS[1].ki);
    assert.equal((await stored('001010000000002')).msisdn, null);
    const b = await importSims(db, file('sims-op.csv'));
    assert.deepEqual([b.added, b.rejected], [2, 0]);
    assert.equal((await stored('001010000000003')).opc, CARDS[2].opc);
    assert.equal((await stored('001010000000004')).opc, CARDS[3].opc);
    const all = await db.query<Record<string, unknown>>('SELECT * FROM sim');
    for (const r of all) for (const v of Object.values(r)) assert.notEqual(String(v).toLowerCase(), OP);
  });

  test('operator OP given once derives every OPc; a row opc made with another OP is rejected', async () => {
    const csv = ['imsi,iccid,ki', ...CARDS.map((c) => `${c.imsi},${c.iccid},${c.ki.toUpperCase()}`)].join('\n');
    const s = await importSims(db, text(csv), { op: OP });
    assert.equal(s.added, 5);
    for (const c of CARDS) assert.equal((await stored(c.imsi)).opc, c.opc);
    await db.execute('DELETE FROM sim');
    const wrongOp = 'cdc202d5123e20f62b6d676ac72cb318';
    const v = await importSims(db, file('vendor-5.out'), { op: wrongOp });
    assert.equal(v.rejected, 5);
    assert.match(v.rejections[0].reason, /^opc: does not match the OPc derived from the operator OP/);
    await assert.rejects(importSims(db, file('vendor-5.out'), { op: '00'.repeat(16) }), (e: unknown) => e instanceof ValidationError && e.field === 'op');
  });

  test('transport key: ECB-encrypted Ki/OPc columns are decrypted before validation; the key is nowhere in the result', async () => {
    const key = randomBytes(16);
    let vendor = read('vendor-5.out');
    for (const c of CARDS) vendor = vendor.replace(c.ki.toUpperCase(), ecb(key, c.ki)).replace(c.opc.toUpperCase(), ecb(key, c.opc));
    // without the key the ciphertext still looks like keys, but the OP check catches it
    const noKey = await importSims(db, text(vendor), { op: OP, dryRun: true });
    assert.equal(noKey.rejected, 5);
    const s = await importSims(db, chopped(vendor, 61), { transport: { key } });
    assert.equal(s.added, 5);
    for (const c of CARDS) {
      const r = await stored(c.imsi);
      assert.equal(r.ki, c.ki);
      assert.equal(r.opc, c.opc);
    }
    assert.ok(!JSON.stringify(s).includes(key.toString('hex')));
  });

  test('transport key: CBC with an IV, op column decrypted and used for derivation', async () => {
    const key = randomBytes(16);
    const iv = randomBytes(16);
    const cbc = (hex: string) => {
      const c = createCipheriv('aes-128-cbc', key, iv);
      c.setAutoPadding(false);
      return Buffer.concat([c.update(Buffer.from(hex, 'hex')), c.final()]).toString('hex');
    };
    const csv = ['imsi,ki,op', ...CARDS.map((c) => `${c.imsi},${cbc(c.ki)},${cbc(OP)}`)].join('\n');
    const s = await importSims(db, text(csv), { transport: { key, mode: 'cbc', iv, columns: ['ki', 'op'] } });
    assert.equal(s.added, 5);
    for (const c of CARDS) assert.equal((await stored(c.imsi)).opc, c.opc);
  });

  test('every malformed row is rejected with its line and field, the good rows are added', async () => {
    await importSims(db, text(`imsi,iccid,ki,opc\n${imsiFor(900)},${iccidFor(900)},${kiFor(900)},${CARDS[0].opc}`));
    const good = (n: number) => `${imsiFor(n)},${iccidFor(n)},${kiFor(n)},${CARDS[0].opc}`;
    const badLuhn = iccidFor(7).slice(0, -1) + ((Number(iccidFor(7).at(-1)) + 1) % 10);
    const lines = [
      'imsi,iccid,ki,opc',                                           // 1
      good(1),                                                       // 2 ok
      `${imsiFor(2)},${iccidFor(2)},${kiFor(2).slice(1)},${CARDS[0].opc}`,  // 3 ki 31
      `${imsiFor(3)},${iccidFor(3)},${kiFor(3).slice(0, 31)}z,${CARDS[0].opc}`, // 4 non-hex
      `${imsiFor(4)},${iccidFor(4)},${'0'.repeat(32)},${CARDS[0].opc}`,     // 5 all-zero ki
      `${imsiFor(5)},${iccidFor(5)},${kiFor(5)},${kiFor(5)}`,         // 6 opc = ki
      `${imsiFor(6)},${iccidFor(6)},${kiFor(6)},${'0'.repeat(32)}`,   // 7 all-zero opc
      `${imsiFor(7)},${badLuhn},${kiFor(7)},${CARDS[0].opc}`,         // 8 bad Luhn
      `12345,${iccidFor(8)},${kiFor(8)},${CARDS[0].opc}`,             // 9 short IMSI
      `${imsiFor(1)},${iccidFor(10)},${kiFor(10)},${CARDS[0].opc}`,   // 10 IMSI repeats line 2
      `${imsiFor(11)},${iccidFor(11)},${kiFor(1)},${CARDS[0].opc}`,   // 11 Ki repeats line 2
      `${imsiFor(12)},${iccidFor(1)},${kiFor(12)},${CARDS[0].opc}`,   // 12 ICCID repeats line 2
      `${imsiFor(13)},${iccidFor(13)},${kiFor(900)},${CARDS[0].opc}`, // 13 Ki of a stored card
      `${imsiFor(14)},${iccidFor(900)},${kiFor(14)},${CARDS[0].opc}`, // 14 ICCID of a stored card
      `${imsiFor(900)},,${kiFor(15)},${CARDS[0].opc}`,                // 15 stored IMSI, other Ki
      `${imsiFor(16)},${iccidFor(16)},${kiFor(16)}`,                  // 16 field count
      good(17),                                                      // 17 ok
    ];
    const s = await importSims(db, text(lines.join('\n')), { batchSize: 4 });
    const byLine = new Map(s.rejections.map((r) => [r.line, r]));
    const expect: Array<[number, string | undefined, RegExp]> = [
      [3, 'ki', /^ki: expected 32 hex digits .* got 31/],
      [4, 'ki', /^ki: expected hex digits only/],
      [5, 'ki', /^ki: is all zeros/],
      [6, 'opc', /^opc: equals ki/],
      [7, 'opc', /^opc: is all zeros/],
      [8, 'iccid', /^iccid: check digit \d fails the Luhn check/],
      [9, 'imsi', /^imsi: expected 6 to 15 digits, got 5/],
      [10, 'imsi', /^imsi: \d+ already appears on line 2/],
      [11, 'ki', /^ki: same Ki as line 2$/],
      [12, 'iccid', /already appears on line 2/],
      [13, 'ki', /^ki: already used by another card \(IMSI 001010000000900\)$/],
      [14, 'iccid', /^iccid: already used by another card \(IMSI 001010000000900\)$/],
      [15, 'imsi', /^imsi: 001010000000900 is already stored with a different ki$/],
      [16, undefined, /expected 4 fields/],
    ];
    for (const [line, field, re] of expect) {
      const r = byLine.get(line);
      assert.ok(r, `line ${line} rejected`);
      assert.equal(r.field, field, `line ${line} field`);
      assert.match(r.reason, re, `line ${line}`);
    }
    assert.deepEqual([s.rows, s.added, s.skipped, s.rejected], [16, 2, 0, 14]);
    assert.deepEqual(s.rejections.map((r) => r.line), expect.map((e) => e[0]), 'sorted by line');
    // no reason quotes a key
    const secrets = lines.flatMap((l) => l.split(',')).filter((v) => /^[0-9a-fA-Fz]{31,33}$/.test(v) && !/^0+$/.test(v));
    for (const r of s.rejections) for (const k of secrets) assert.ok(!r.reason.toLowerCase().includes(k.toLowerCase()), `line ${r.line} leaks a key`);
    assert.equal(await count(), 3);
    assert.ok(await stored(imsiFor(17)));
  });

  test('--atomic: one rejected row and nothing is written; dry run writes nothing but reports the same', async () => {
    const lines = ['imsi,ki,opc', ...[1, 2, 3].map((n) => `${imsiFor(n)},${kiFor(n)},${CARDS[0].opc}`), `${imsiFor(4)},${kiFor(4).slice(2)},${CARDS[0].opc}`];
    const s = await importSims(db, text(lines.join('\n')), { atomic: true, batchSize: 2 });
    assert.equal(s.rolledBack, true);
    assert.deepEqual([s.added, s.rejected], [0, 1]);
    assert.equal(s.rejections[0].line, 5);
    assert.equal(await count(), 0);
    const ok = await importSims(db, text(lines.slice(0, 4).join('\n')), { atomic: true, batchSize: 2 });
    assert.deepEqual([ok.rolledBack, ok.added], [false, 3]);
    assert.equal(await count(), 3);
    await db.execute('DELETE FROM sim');
    const dry = await importSims(db, file('vendor-5.out'), { dryRun: true });
    assert.deepEqual([dry.dryRun, dry.added, dry.rejected], [true, 5, 0]);
    assert.equal(await count(), 0);
    const dryBad = await importSims(db, text(lines.join('\n')), { dryRun: true });
    assert.deepEqual([dryBad.added, dryBad.rejected], [3, 1]);
    assert.equal(await count(), 0);
  });

  test('a clash in the middle batch: earlier and later batches are kept, the clashing row rejected, existing same rows skipped', async () => {
    await importSims(db, text(`imsi,ki,opc\n${imsiFor(5)},${kiFor(5)},${CARDS[0].opc}\n${imsiFor(900)},${kiFor(6)},${CARDS[0].opc}`));
    const lines = ['imsi,ki,opc', ...Array.from({ length: 10 }, (_, i) => `${imsiFor(i + 1)},${kiFor(i + 1)},${CARDS[0].opc}`)];
    const s = await importSims(db, chopped(lines.join('\r\n'), 5), { batchSize: 3 });
    assert.deepEqual([s.added, s.skipped, s.rejected], [8, 1, 1]);
    assert.equal(s.rejections[0].line, 7);
    assert.match(s.rejections[0].reason, /^ki: already used by another card \(IMSI 001010000000900\)/);
    assert.equal(await count(), 10);
  });

  test('truncated vendor file, bad header, unknown format, empty file: a file error and nothing written', async () => {
    for (const [src, re] of [
      [file('vendor-truncated.out'), /^line 3: Quantity header says 5 cards but 4 rows were read; nothing was imported$/],
      [text('imsi,ki,colour\n001010000000001,' + kiFor(1) + ',red\n'), /^line 1: unknown column "colour"/],
      [text('var_out: ICCID/PIN1\n'), /var_out lacks IMSI and KI/],
      [text('hello world\n001010000000001\n'), /unrecognised file format/],
      [text('\n# nothing\n'), /empty/],
      [text('*HEADER DATA*\nQuantity : 2\n'), /no var_out line/],
    ] as const) {
      await assert.rejects(importSims(db, src, { atomic: false }), (e: unknown) => e instanceof SimFileError && re.test(e.message) && e.category === 'usage', String(re));
    }
    assert.equal(await count(), 0);
  });

  test('19-digit ICCIDs without a check digit: accepted when the vendor header or the caller says so', async () => {
    const noCheck = CARDS.map((c) => c.iccid.slice(0, 18) + ((Number(c.iccid[18]) + 1) % 10));
    const body = (hdr: string) => `*HEADER DATA*\nQuantity : 2\n${hdr}var_out: ICCID/IMSI/KI/OPC\n` + [0, 1].map((i) => `${noCheck[i]} ${CARDS[i].imsi} ${CARDS[i].ki} ${CARDS[i].opc}`).join('\n') + '\n';
    const refused = await importSims(db, text(body('')), { dryRun: true });
    assert.equal(refused.rejected, 2);
    assert.match(refused.rejections[0].reason, /Luhn/);
    const s = await importSims(db, text(body('ICCID_check_digit : no\n')));
    assert.equal(s.added, 2);
    assert.equal((await stored(CARDS[0].imsi)).iccid, noCheck[0]);
    await db.execute('DELETE FROM sim');
    assert.equal((await importSims(db, text(body('')), { allowNoCheckDigit: true })).added, 2);
  });

  test('defaults for batch and vendor, progress reports reach the total', async () => {
    const seen: Array<{ done: number; total: number }> = [];
    const s = await importSims(db, file('sims-op.csv'), { batch: 'CLI', vendor: 'Acme', batchSize: 1, onProgress: (p) => seen.push(p) });
    assert.equal(s.added, 2);
    assert.equal((await stored('001010000000003')).batch, 'CLI');
    assert.equal((await stored('001010000000003')).vendor, 'Acme');
    assert.deepEqual(seen.at(-1), { done: 2, total: 2 });
    await assert.rejects(importSims(db, file('sims-op.csv'), { batch: 'x'.repeat(65) }), (e: unknown) => e instanceof ValidationError && e.field === 'batch');
  });

  test('a few thousand rows in batches of 1000, then the same file again: all skipped', async () => {
    const n = 2500;
    const rows = ['imsi,iccid,ki,opc', ...Array.from({ length: n }, (_, i) => `${imsiFor(i + 1)},${iccidFor(i + 1)},${kiFor(i + 1)},${CARDS[0].opc}`)].join('\n');
    const s = await importSims(db, text(rows));
    assert.deepEqual([s.added, s.rejected], [n, 0]);
    const again = await importSims(db, text(rows));
    assert.deepEqual([again.added, again.skipped, again.rejected], [0, n, 0]);
    assert.equal(await count(), n);
  });
});

// A second database, to be sure an import into one never touches another (the helper's isolation).
test('createTestDb gives separate databases', async () => {
  const a = await createTestDb('sqlite');
  try {
    const d = await a.open();
    assert.equal(Number((await d.query<{ n: number }>('SELECT COUNT(*) AS n FROM sim'))[0].n), 0);
    await d.close();
  } finally {
    await a.drop();
  }
});
