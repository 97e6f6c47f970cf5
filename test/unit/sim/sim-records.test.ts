// The sim table library: validation rules (no database), then every operation on both engines.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDb, forEachEngine, type TestDb } from '../../helpers/db.js';
import type { Database } from '../../../src/core/db/database.js';
import { ConflictError, NotFoundError, SchemaError, ValidationError } from '../../../src/core/errors.js';
import { AutsMacMismatchError, Milenage, buildAuts, deriveOpcHex } from '../../../src/core/sim/milenage.js';
import { MILENAGE_TEST_SETS } from '../../../src/core/sim/milenage-vectors.js';
import {
  MASK,
  SimRecordError,
  addSim,
  advanceSqn,
  exportSims,
  getSim,
  listSims,
  nextVector,
  removeSim,
  resyncSim,
  setSqn,
  validateSimRecord,
} from '../../../src/core/sim/sim-records.js';

const SET1 = MILENAGE_TEST_SETS[0];
const OP = '63bfa50ee6523365ff14c1f45f88737d';
const KI = '05fa9808d0b21d95dfb9a45d5e4ff46d';
const OPC = '1b9c64eedf6ad64b8631eba7bf0211de'; // = OPc(KI, OP), from the vendor fixture
const ICCID = '8944012401000010014';

/** A fresh, distinct Ki per call (not all zeros). */
let kiCounter = 1;
function freshKi(): string {
  return (0xa0000000 + kiCounter++).toString(16).padStart(8, '0').repeat(4);
}

function assertRejects(fn: () => unknown, field: string, re: RegExp, secrets: string[] = []) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ValidationError, `ValidationError, got ${String(e)}`);
    assert.equal(e.field, field);
    assert.match(e.message, re);
    assert.equal(e.category, 'usage');
    for (const s of secrets) assert.ok(!e.message.toLowerCase().includes(s.toLowerCase()), `message leaks a key: ${e.message}`);
    return true;
  });
}

describe('validateSimRecord', () => {
  test('normalises: trimmed, lower-case hex, defaults AMF 8000 and SQN 0, null for absent optional fields', () => {
    const r = validateSimRecord({ imsi: ' 001010000000001 ', ki: KI.toUpperCase(), opc: ` ${OPC.toUpperCase()} ` });
    assert.deepEqual(r, { imsi: '001010000000001', iccid: null, msisdn: null, ki: KI, opc: OPC, amf: '8000', sqn: '000000000000', batch: null, vendor: null });
    const r2 = validateSimRecord({ imsi: '001010000000001', ki: KI, opc: OPC, amf: 'B9B9', sqn: 'FF9BB4D0B607', iccid: ICCID, msisdn: '+447700900001', batch: ' B1 ', vendor: 'V' });
    assert.equal(r2.amf, 'b9b9');
    assert.equal(r2.sqn, 'ff9bb4d0b607');
    assert.equal(r2.batch, 'B1');
    assert.equal(r2.msisdn, '+447700900001');
  });

  test("OPc from the row's op (the OP is not in the result), from the operator OP, or given", () => {
    const a = validateSimRecord({ imsi: '001010000000001', ki: KI, op: OP });
    assert.equal(a.opc, OPC);
    assert.ok(!('op' in a));
    assert.ok(!Object.values(a).includes(OP));
    assert.equal(validateSimRecord({ imsi: '001010000000001', ki: KI }, { op: OP }).opc, OPC);
    assert.equal(validateSimRecord({ imsi: '001010000000001', ki: KI }, { op: Buffer.from(OP, 'hex') }).opc, OPC);
    // every 3GPP set: the row's op gives the published OPc
    for (const s of MILENAGE_TEST_SETS) assert.equal(validateSimRecord({ imsi: '001010000000001', ki: s.k, op: s.op }).opc, s.opc, s.id);
    // a row opc that agrees with the OP is fine; one that does not is refused
    assert.equal(validateSimRecord({ imsi: '001010000000001', ki: KI, opc: OPC }, { op: OP }).opc, OPC);
    assertRejects(() => validateSimRecord({ imsi: '001010000000001', ki: KI, opc: SET1.opc }, { op: OP }), 'opc', /does not match the OPc derived from the operator OP/, [SET1.opc, OP, KI]);
    assertRejects(() => validateSimRecord({ imsi: '001010000000001', ki: KI, op: OP, opc: SET1.opc }), 'opc', /does not match .* this row's op/, [SET1.opc, OP, KI]);
    assertRejects(() => validateSimRecord({ imsi: '001010000000001', ki: KI }), 'opc', /missing/);
  });

  test('IMSI: 6 to 15 digits', () => {
    assert.equal(validateSimRecord({ imsi: '001010', ki: KI, opc: OPC }).imsi, '001010');
    assertRejects(() => validateSimRecord({ imsi: '00101', ki: KI, opc: OPC }), 'imsi', /6 to 15 digits, got 5/);
    assertRejects(() => validateSimRecord({ imsi: '0010100000000012', ki: KI, opc: OPC }), 'imsi', /got 16/);
    assertRejects(() => validateSimRecord({ imsi: '00101000000x001', ki: KI, opc: OPC }), 'imsi', /digits only/);
    assertRejects(() => validateSimRecord({ ki: KI, opc: OPC }), 'imsi', /required/);
  });

  test('ICCID: 18-20 digits with a valid Luhn digit; 19 without one only when allowed', () => {
    assert.equal(validateSimRecord({ imsi: '001010000000001', ki: KI, opc: OPC, iccid: ICCID }).iccid, ICCID);
    const bad = ICCID.slice(0, -1) + ((Number(ICCID.at(-1)) + 1) % 10);
    assertRejects(() => validateSimRecord({ imsi: '001010000000001', ki: KI, opc: OPC, iccid: bad }), 'iccid', /Luhn/);
    assert.equal(validateSimRecord({ imsi: '001010000000001', ki: KI, opc: OPC, iccid: bad }, { allowNoCheckDigit: true }).iccid, bad);
    assertRejects(() => validateSimRecord({ imsi: '001010000000001', ki: KI, opc: OPC, iccid: '89440124010000100' }), 'iccid', /18 to 20 digits, got 17/);
    assertRejects(() => validateSimRecord({ imsi: '001010000000001', ki: KI, opc: OPC, iccid: '894401240100001001A' }), 'iccid', /digits only/);
  });

  test('Ki, OP and OPc: exactly 32 hex digits, not all zeros; OPc ≠ Ki; messages never quote a key', () => {
    const short = KI.slice(0, 31);
    const long = KI + 'a';
    const nonHex = KI.slice(0, 31) + 'g';
    assertRejects(() => validateSimRecord({ imsi: '001010000000001', ki: short, opc: OPC }), 'ki', /32 hex digits .* got 31/, [short, OPC]);
    assertRejects(() => validateSimRecord({ imsi: '001010000000001', ki: long, opc: OPC }), 'ki', /got 33/, [long, OPC]);
    assertRejects(() => validateSimRecord({ imsi: '001010000000001', ki: nonHex, opc: OPC }), 'ki', /non-hex character at position 32/, [nonHex, OPC]);
    assertRejects(() => validateSimRecord({ imsi: '001010000000001', ki: '0'.repeat(32), opc: OPC }), 'ki', /all zeros/);
    assertRejects(() => validateSimRecord({ imsi: '001010000000001', ki: KI, opc: '0'.repeat(32) }), 'opc', /all zeros/, [KI]);
    assertRejects(() => validateSimRecord({ imsi: '001010000000001', ki: KI, op: '0'.repeat(32) }), 'op', /all zeros/, [KI]);
    assertRejects(() => validateSimRecord({ imsi: '001010000000001', ki: KI }, { op: '00'.repeat(16) }), 'op', /all zeros/);
    assertRejects(() => validateSimRecord({ imsi: '001010000000001', ki: KI }, { op: Buffer.alloc(16) }), 'op', /all zeros/);
    assertRejects(() => validateSimRecord({ imsi: '001010000000001', ki: KI, op: OP.slice(2) }), 'op', /got 30/, [OP.slice(2), KI]);
    assertRejects(() => validateSimRecord({ imsi: '001010000000001', ki: KI, opc: KI.toUpperCase() }), 'opc', /equals ki/, [KI]);
  });

  test('AMF 4 hex, SQN 12 hex, labels at most 64 characters', () => {
    assertRejects(() => validateSimRecord({ imsi: '001010000000001', ki: KI, opc: OPC, amf: '800' }), 'amf', /4 hex digits/);
    assertRejects(() => validateSimRecord({ imsi: '001010000000001', ki: KI, opc: OPC, amf: '80zz' }), 'amf', /4 hex digits/);
    assertRejects(() => validateSimRecord({ imsi: '001010000000001', ki: KI, opc: OPC, sqn: '00000000002' }), 'sqn', /12 hex digits/);
    assertRejects(() => validateSimRecord({ imsi: '001010000000001', ki: KI, opc: OPC, batch: 'x'.repeat(65) }), 'batch', /64/);
    assertRejects(() => validateSimRecord({ imsi: '001010000000001', ki: KI, opc: OPC, vendor: 'a\u001bb' }), 'vendor', /control/);
  });

  test('errors name the line when one is given', () => {
    assert.throws(
      () => validateSimRecord({ imsi: '001010000000001', ki: KI.slice(1), opc: OPC }, { line: 17 }),
      (e: unknown) => e instanceof SimRecordError && e.line === 17 && /^line 17: ki: expected 32 hex digits/.test(e.message) && e.code === 'INVALID_KI',
    );
  });

  test('SQN advance: +32 (SEQ + 1, IND kept), refuses to wrap', () => {
    assert.equal(advanceSqn('000000000000'), '000000000020');
    assert.equal(advanceSqn('00000000003f'), '00000000005f');
    assert.equal(advanceSqn('ffffffffffdf'), 'ffffffffffff');
    assert.throws(() => advanceSqn('ffffffffffe0'), /exhausted/);
  });
});

forEachEngine('sim records', (engine, track) => {
  let t: TestDb;
  let db: Database;
  const count = async () => Number((await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM sim'))[0].n);

  before(async () => {
    t = track(await createTestDb(engine));
    db = await t.open();
  });
  after(async () => db?.close());

  test('add with --opc, --op, --random-op: normalised, OP never stored', async () => {
    const a = await addSim(db, { imsi: '001010000000001', ki: KI.toUpperCase(), opc: OPC.toUpperCase(), iccid: ICCID, msisdn: '+447700900001', batch: 'B1', vendor: 'V' });
    assert.equal(a.opcSource, 'opc');
    assert.equal(a.sim.ki, MASK);
    assert.equal(a.sim.opc, MASK);
    const kiB = freshKi();
    const b = await addSim(db, { imsi: '001010000000002', ki: kiB, op: OP, batch: 'B1' }, { reveal: true });
    assert.equal(b.opcSource, 'op');
    assert.equal(b.sim.opc, deriveOpcHex(kiB, OP));
    const kiC = freshKi();
    const c = await addSim(db, { imsi: '001010000000003', ki: kiC, randomOp: true, batch: 'B2' }, { reveal: true });
    assert.equal(c.opcSource, 'random-op');
    assert.match(c.sim.opc, /^[0-9a-f]{32}$/);
    assert.notEqual(c.sim.opc, kiC);
    const rows = await db.query<Record<string, unknown>>('SELECT * FROM sim ORDER BY imsi');
    assert.equal(rows.length, 3);
    assert.equal(rows[0].ki, KI);
    assert.equal(rows[0].opc, OPC);
    assert.equal(rows[0].amf, '8000');
    assert.equal(rows[0].sqn, '000000000000');
    for (const r of rows) for (const v of Object.values(r)) assert.notEqual(String(v).toLowerCase(), OP, 'OP is never stored');
  });

  test('add refuses a duplicate IMSI, ICCID or Ki, and a dry run writes nothing', async () => {
    const before = await count();
    await assert.rejects(addSim(db, { imsi: '001010000000001', ki: freshKi(), opc: OPC }), (e: unknown) => e instanceof ConflictError && e.code === 'SIM_EXISTS' && /^imsi: /.test(e.message));
    await assert.rejects(addSim(db, { imsi: '001010000000099', ki: KI, opc: OPC }), (e: unknown) => e instanceof ConflictError && e.code === 'SIM_KI_IN_USE' && /^ki: already used by another card \(IMSI 001010000000001\)$/.test(e.message) && !e.message.includes(KI));
    await assert.rejects(addSim(db, { imsi: '001010000000099', ki: freshKi(), opc: OPC, iccid: ICCID }), (e: unknown) => e instanceof ConflictError && e.code === 'SIM_ICCID_IN_USE');
    await assert.rejects(addSim(db, { imsi: '001010000000099', ki: KI.slice(2), opc: OPC }), (e: unknown) => e instanceof ValidationError && e.field === 'ki');
    await assert.rejects(addSim(db, { imsi: '001010000000099', ki: freshKi() }), /opc: missing/);
    await assert.rejects(addSim(db, { imsi: '001010000000099', ki: freshKi(), opc: OPC, op: OP }), /exactly one/);
    const dry = await addSim(db, { imsi: '001010000000099', ki: freshKi(), opc: OPC }, { dryRun: true });
    assert.equal(dry.dryRun, true);
    assert.equal(await count(), before);
  });

  test('show masks Ki and OPc unless revealed; unknown IMSI is not found', async () => {
    const masked = await getSim(db, '001010000000001');
    assert.equal(masked.ki, MASK);
    assert.equal(masked.opc, MASK);
    assert.equal(masked.revealed, false);
    assert.equal(masked.iccid, ICCID);
    const shown = await getSim(db, '001010000000001', { reveal: true });
    assert.equal(shown.ki, KI);
    assert.equal(shown.opc, OPC);
    await assert.rejects(getSim(db, '001010000000404'), NotFoundError);
    await assert.rejects(getSim(db, '12'), (e: unknown) => e instanceof ValidationError && e.field === 'imsi');
  });

  test('list filters by batch and IMSI prefix, pages, masks', async () => {
    assert.deepEqual((await listSims(db, { batch: 'B1' })).sims.map((s) => s.imsi), ['001010000000001', '001010000000002']);
    assert.equal((await listSims(db, { imsiPrefix: '0010100000000' })).total, 3);
    assert.equal((await listSims(db, { imsiPrefix: '999' })).total, 0);
    const page = await listSims(db, { limit: 1, offset: 1 });
    assert.equal(page.total, 3);
    assert.deepEqual(page.sims.map((s) => s.imsi), ['001010000000002']);
    assert.ok(page.sims.every((s) => s.ki === MASK));
    assert.ok((await listSims(db, { reveal: true })).sims.every((s) => /^[0-9a-f]{32}$/.test(s.ki)));
    await assert.rejects(listSims(db, { imsiPrefix: '00%' }), (e: unknown) => e instanceof ValidationError);
  });

  test('set-sqn validates and stores; unknown IMSI is not found', async () => {
    const r = await setSqn(db, '001010000000002', '0000000000A0');
    assert.equal(r.sqn, '0000000000a0');
    assert.equal((await getSim(db, '001010000000002')).sqn, '0000000000a0');
    await assert.rejects(setSqn(db, '001010000000002', '12345'), (e: unknown) => e instanceof ValidationError && e.field === 'sqn');
    await assert.rejects(setSqn(db, '001010000000404', '000000000000'), NotFoundError);
  });

  test('vector: Milenage over the stored record, SQN = stored + 32, matching TS 35.208 set 1', async () => {
    // Store set 1's K/OPc/AMF with the SQN just before set 1's, so the vector uses set 1's SQN.
    await addSim(db, { imsi: '001019999999991', ki: SET1.k, opc: SET1.opc, amf: SET1.amf, sqn: (BigInt('0x' + SET1.sqn) - 32n).toString(16).padStart(12, '0') });
    const v = await nextVector(db, '001019999999991', SET1.rand.toUpperCase());
    assert.equal(v.sqn, SET1.sqn);
    assert.equal(v.rand, SET1.rand);
    assert.equal(v.xres, SET1.f2);
    assert.equal(v.ck, SET1.f3);
    assert.equal(v.ik, SET1.f4);
    assert.equal(v.ak, SET1.f5);
    const sqnXorAk = (BigInt('0x' + SET1.sqn) ^ BigInt('0x' + SET1.f5)).toString(16).padStart(12, '0');
    assert.equal(v.autn, sqnXorAk + SET1.amf + SET1.f1);
    assert.equal((await getSim(db, '001019999999991')).sqn, SET1.sqn);
    const v2 = await nextVector(db, '001019999999991');
    assert.match(v2.rand, /^[0-9a-f]{32}$/);
    assert.equal(BigInt('0x' + v2.sqn) - BigInt('0x' + v.sqn), 32n);
    await assert.rejects(nextVector(db, '001010000000404'), NotFoundError);
    await assert.rejects(nextVector(db, '001019999999991', 'abcd'), (e: unknown) => e instanceof ValidationError && e.field === 'rand');
  });

  test('vector: 20 concurrent calls on one handle get 20 distinct SQNs', async () => {
    await addSim(db, { imsi: '001010000000020', ki: freshKi(), opc: OPC });
    const vs = await Promise.all(Array.from({ length: 20 }, () => nextVector(db, '001010000000020')));
    const sqns = new Set(vs.map((v) => v.sqn));
    assert.equal(sqns.size, 20);
    assert.equal((await getSim(db, '001010000000020')).sqn, (20n * 32n).toString(16).padStart(12, '0'));
  });

  test('vector: 20 concurrent calls over 5 separate connections get 20 distinct SQNs', async () => {
    await addSim(db, { imsi: '001010000000021', ki: freshKi(), opc: OPC });
    const handles = await Promise.all(Array.from({ length: 5 }, () => t.open()));
    try {
      const vs = await Promise.all(Array.from({ length: 20 }, (_, i) => nextVector(handles[i % 5], '001010000000021')));
      assert.equal(new Set(vs.map((v) => v.sqn)).size, 20);
      assert.equal(new Set(vs.map((v) => v.autn)).size, 20);
      assert.equal((await getSim(db, '001010000000021')).sqn, (20n * 32n).toString(16).padStart(12, '0'));
    } finally {
      await Promise.all(handles.map((h) => h.close()));
    }
  });

  test('resync: SQN_MS recovered from AUTS and stored; a bad AUTS changes nothing', async () => {
    const ki = freshKi();
    await addSim(db, { imsi: '001010000000030', ki, opc: OPC, sqn: '000000000400' });
    const rand = '23553cbe9637a89d218ae64dae47bf35';
    const sqnMs = '000000001000';
    const auts = buildAuts({ ki: Buffer.from(ki, 'hex'), opc: Buffer.from(OPC, 'hex'), rand: Buffer.from(rand, 'hex'), sqn: Buffer.from(sqnMs, 'hex') });
    const r = await resyncSim(db, '001010000000030', rand, auts.toString('hex'));
    assert.equal(r.sqnMs, sqnMs);
    assert.equal(r.previousSqn, '000000000400');
    assert.equal(r.nextSqn, '000000001020');
    assert.equal((await getSim(db, '001010000000030')).sqn, sqnMs);
    // the next vector is one the card accepts: SQN > SQN_MS, and MAC-A verifies
    const v = await nextVector(db, '001010000000030', rand);
    assert.equal(v.sqn, '000000001020');
    const m = new Milenage(Buffer.from(ki, 'hex'), Buffer.from(OPC, 'hex'));
    assert.equal(v.autn.slice(16), m.f1(Buffer.from(rand, 'hex'), Buffer.from(v.sqn, 'hex'), Buffer.from('8000', 'hex')).toString('hex'));
    m.dispose();
    const tampered = Buffer.from(auts);
    tampered[13] ^= 1;
    await assert.rejects(resyncSim(db, '001010000000030', rand, tampered.toString('hex')), AutsMacMismatchError);
    assert.equal((await getSim(db, '001010000000030')).sqn, '000000001020');
    await assert.rejects(resyncSim(db, '001010000000030', rand, 'abc'), (e: unknown) => e instanceof ValidationError && e.field === 'auts');
  });

  test('vector at the end of the SQN space is refused, SQN unchanged', async () => {
    await addSim(db, { imsi: '001010000000040', ki: freshKi(), opc: OPC, sqn: 'ffffffffffe0' });
    await assert.rejects(nextVector(db, '001010000000040'), /exhausted/);
    assert.equal((await getSim(db, '001010000000040')).sqn, 'ffffffffffe0');
  });

  test('export: CSV and JSON, Ki/OPc only when revealed', async () => {
    const collect = async (gen: AsyncGenerator<string>) => {
      let s = '';
      for await (const c of gen) s += c;
      return s;
    };
    const csv = await collect(exportSims(db, { format: 'csv', batch: 'B1' }));
    assert.equal(csv.split('\n')[0], 'imsi,iccid,msisdn,amf,sqn,batch,vendor');
    assert.equal(csv.trim().split('\n').length, 3);
    assert.ok(!csv.includes(KI) && !csv.includes(OPC));
    const csvR = await collect(exportSims(db, { format: 'csv', reveal: true, batch: 'B1' }));
    assert.equal(csvR.split('\n')[0], 'imsi,iccid,msisdn,ki,opc,amf,sqn,batch,vendor');
    assert.ok(csvR.includes(`001010000000001,${ICCID},+447700900001,${KI},${OPC},8000,000000000000,B1,V`));
    const json = JSON.parse(await collect(exportSims(db, { format: 'json' })));
    assert.ok(Array.isArray(json) && json.length >= 5);
    assert.ok(json.every((o: Record<string, unknown>) => !('ki' in o) && !('opc' in o)));
    const jsonR = JSON.parse(await collect(exportSims(db, { format: 'json', reveal: true, batch: 'B1' })));
    assert.equal(jsonR[0].ki, KI);
    assert.deepEqual(JSON.parse(await collect(exportSims(db, { format: 'json', batch: 'none' }))), []);
    // paging: more rows than a page
    let n = 0;
    for await (const _ of (await import('../../../src/core/sim/sim-records.js')).iterateSims(db, { pageSize: 2 })) n++;
    assert.equal(n, await count());
  });

  test('rm removes; a second rm is not found; dry run keeps it', async () => {
    await removeSim(db, '001010000000003', { dryRun: true });
    assert.equal((await getSim(db, '001010000000003')).imsi, '001010000000003');
    await removeSim(db, '001010000000003');
    await assert.rejects(getSim(db, '001010000000003'), NotFoundError);
    await assert.rejects(removeSim(db, '001010000000003'), NotFoundError);
  });

  test('a database without the sim table: schema error, not a crash', async () => {
    const bare = track(await createTestDb(engine, { init: false }));
    const b = await bare.open();
    try {
      await assert.rejects(getSim(b, '001010000000001'), (e: unknown) => e instanceof SchemaError);
      await assert.rejects(addSim(b, { imsi: '001010000000001', ki: freshKi(), opc: OPC }), (e: unknown) => e instanceof SchemaError);
    } finally {
      await b.close();
    }
  });
});
