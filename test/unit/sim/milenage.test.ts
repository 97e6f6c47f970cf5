import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  AutsMacMismatchError,
  Milenage,
  buildAuts,
  createOpcDeriver,
  deriveOpc,
  deriveOpcHex,
  generateVector,
  resync,
  wipe,
} from '../../../src/core/sim/milenage.js';
import { SipctlError, ValidationError } from '../../../src/core/errors.js';

import { MILENAGE_TEST_SETS } from '../../../src/core/sim/milenage-vectors.js';

// the one copy of the 3GPP sets (also what `sipctl sim selftest` runs)
const sets = MILENAGE_TEST_SETS;
const hex = (s: string) => Buffer.from(s, 'hex');

test('the bundled vectors hold every TS 35.208 set (1-20) and TS 35.207 set 2', () => {
  assert.equal(sets.length, 21);
  for (let n = 1; n <= 20; n++) assert.ok(sets.some((s) => s.id === `ts35208-set${n}`), `set ${n} present`);
  assert.ok(sets.some((s) => s.id === 'ts35207-set2'));
});

for (const s of sets) {
  test(`Milenage vectors: ${s.id}`, () => {
    const k = hex(s.k), op = hex(s.op), rand = hex(s.rand), sqn = hex(s.sqn), amf = hex(s.amf);
    const opc = deriveOpc(k, op);
    assert.equal(opc.toString('hex'), s.opc, 'OPc');
    assert.equal(deriveOpcHex(s.k.toUpperCase(), s.op), s.opc, 'OPc (hex)');

    const m = new Milenage(k, opc);
    assert.equal(m.f1(rand, sqn, amf).toString('hex'), s.f1, 'f1 (MAC-A)');
    assert.equal(m.f1star(rand, sqn, amf).toString('hex'), s.f1star, 'f1* (MAC-S)');
    assert.equal(m.f2(rand).toString('hex'), s.f2, 'f2 (RES)');
    assert.equal(m.f3(rand).toString('hex'), s.f3, 'f3 (CK)');
    assert.equal(m.f4(rand).toString('hex'), s.f4, 'f4 (IK)');
    assert.equal(m.f5(rand).toString('hex'), s.f5, 'f5 (AK)');
    assert.equal(m.f5star(rand).toString('hex'), s.f5star, 'f5* (AK*)');
    const all = m.f2345(rand);
    assert.deepEqual(
      { res: all.res.toString('hex'), ck: all.ck.toString('hex'), ik: all.ik.toString('hex'), ak: all.ak.toString('hex') },
      { res: s.f2, ck: s.f3, ik: s.f4, ak: s.f5 },
      'f2345 agrees with the single functions',
    );
    m.dispose();

    const fromOp = Milenage.fromOp(k, op);
    assert.equal(fromOp.f1(rand, sqn, amf).toString('hex'), s.f1, 'Milenage.fromOp');
    fromOp.dispose();

    const v = generateVector({ ki: k, opc, rand, sqn, amf });
    const sqnXorAk = Buffer.from(sqn.map((b, i) => b ^ hex(s.f5)[i]));
    assert.equal(v.autn.toString('hex'), sqnXorAk.toString('hex') + s.amf + s.f1, 'AUTN = (SQN xor AK) || AMF || MAC-A');
    assert.equal(v.rand.toString('hex'), s.rand);
    assert.equal(v.xres.toString('hex'), s.f2, 'XRES');
    assert.equal(v.ck.toString('hex'), s.f3, 'CK');
    assert.equal(v.ik.toString('hex'), s.f4, 'IK');
    assert.equal(v.ak.toString('hex'), s.f5, 'AK');
  });
}

test('resync: MAC-S uses the dummy AMF 0000, so AUTS differs from f1* under the vector AMF', () => {
  const s = sets[0];
  const k = hex(s.k), opc = hex(s.opc), rand = hex(s.rand), sqn = hex(s.sqn);
  const auts = buildAuts({ ki: k, opc, rand, sqn });
  const akStar = hex(s.f5star);
  assert.equal(auts.subarray(0, 6).toString('hex'), Buffer.from(sqn.map((b, i) => b ^ akStar[i])).toString('hex'), 'SQN_MS xor AK*');
  const m = new Milenage(k, opc);
  assert.equal(auts.subarray(6).toString('hex'), m.f1star(rand, sqn, Buffer.alloc(2)).toString('hex'), 'MAC-S with AMF 0000');
  assert.notEqual(auts.subarray(6).toString('hex'), s.f1star, 'not the vector AMF');
  assert.equal(resync({ ki: k, opc, rand, auts }).toString('hex'), s.sqn);
});

test('resync property: AUTS from 100 random known SQNs resynchronises to that SQN', () => {
  for (let n = 0; n < 100; n++) {
    const ki = randomBytes(16), opc = randomBytes(16), rand = randomBytes(16), sqn = randomBytes(6);
    const auts = buildAuts({ ki, opc, rand, sqn });
    assert.equal(auts.length, 14);
    assert.equal(resync({ ki, opc, rand, auts }).toString('hex'), sqn.toString('hex'), `case ${n}`);
  }
});

test('resync property: a tampered AUTS fails with AUTS_MAC_MISMATCH (every byte, 100 random cases)', () => {
  for (let n = 0; n < 100; n++) {
    const ki = randomBytes(16), opc = randomBytes(16), rand = randomBytes(16), sqn = randomBytes(6);
    const auts = buildAuts({ ki, opc, rand, sqn });
    const bad = Buffer.from(auts);
    const pos = n % 14;
    bad[pos] ^= 1 << (n % 8);
    assert.throws(() => resync({ ki, opc, rand, auts: bad }), (e: unknown) => {
      assert.ok(e instanceof AutsMacMismatchError);
      assert.ok(e instanceof SipctlError);
      assert.equal(e.code, 'AUTS_MAC_MISMATCH');
      assert.equal(e.category, 'usage');
      return true;
    }, `case ${n}, byte ${pos}`);
  }
});

test('resync fails for the wrong RAND, Ki or OPc', () => {
  const ki = randomBytes(16), opc = randomBytes(16), rand = randomBytes(16), sqn = randomBytes(6);
  const auts = buildAuts({ ki, opc, rand, sqn });
  const code = { code: 'AUTS_MAC_MISMATCH' };
  assert.throws(() => resync({ ki, opc, rand: randomBytes(16), auts }), code);
  assert.throws(() => resync({ ki: randomBytes(16), opc, rand, auts }), code);
  assert.throws(() => resync({ ki, opc: randomBytes(16), rand, auts }), code);
});

test('wrong lengths throw ValidationErrors naming the field and the sizes', () => {
  const ok16 = randomBytes(16);
  const cases: Array<[() => unknown, string, string]> = [
    [() => deriveOpc(randomBytes(15), ok16), 'ki', 'ki: expected 16 bytes, got 15'],
    [() => deriveOpc(ok16, randomBytes(17)), 'op', 'op: expected 16 bytes, got 17'],
    [() => new Milenage(ok16, randomBytes(0)), 'opc', 'opc: expected 16 bytes, got 0'],
    [() => new Milenage(ok16, ok16).f2(randomBytes(8)), 'rand', 'rand: expected 16 bytes, got 8'],
    [() => new Milenage(ok16, ok16).f1(ok16, randomBytes(5), randomBytes(2)), 'sqn', 'sqn: expected 6 bytes, got 5'],
    [() => new Milenage(ok16, ok16).f1(ok16, randomBytes(6), randomBytes(3)), 'amf', 'amf: expected 2 bytes, got 3'],
    [() => generateVector({ ki: ok16, opc: ok16, sqn: randomBytes(6), amf: randomBytes(1) }), 'amf', 'amf: expected 2 bytes, got 1'],
    [() => resync({ ki: ok16, opc: ok16, rand: ok16, auts: randomBytes(16) }), 'auts', 'auts: expected 14 bytes, got 16'],
    [() => buildAuts({ ki: ok16, opc: ok16, rand: ok16, sqn: randomBytes(12) }), 'sqn', 'sqn: expected 6 bytes, got 12'],
    [() => deriveOpc('00112233445566778899aabbccddeeff' as unknown as Buffer, ok16), 'ki', 'ki: expected 16 bytes as a Buffer, got string'],
    [() => deriveOpcHex('0011', '00112233445566778899aabbccddeeff'), 'ki', 'ki: expected 32 hex digits (16 bytes), got 4 characters'],
    [() => deriveOpcHex('00112233445566778899aabbccddeeff', '00112233445566778899aabbccddeefg'), 'op', 'op: expected hex digits only (0-9, a-f)'],
  ];
  for (const [fn, field, message] of cases) {
    assert.throws(fn, (e: unknown) => {
      assert.ok(e instanceof ValidationError, `${message}: ValidationError`);
      assert.equal(e.field, field);
      assert.equal(e.message, message);
      assert.equal(e.category, 'usage');
      return true;
    });
  }
});

test('generateVector draws a fresh 16-byte RAND when none is given', () => {
  const ki = randomBytes(16), opc = randomBytes(16), sqn = randomBytes(6), amf = Buffer.from('8000', 'hex');
  const a = generateVector({ ki, opc, sqn, amf });
  const b = generateVector({ ki, opc, sqn, amf });
  assert.equal(a.rand.length, 16);
  assert.notEqual(a.rand.toString('hex'), b.rand.toString('hex'));
  assert.equal(a.autn.length, 16);
  assert.equal(a.autn.subarray(6, 8).toString('hex'), '8000');
  const again = generateVector({ ki, opc, sqn, amf, rand: a.rand });
  assert.deepEqual(again, a);
});

test('createOpcDeriver agrees with deriveOpc, accepts Uint8Array, and wipes its OP copy', () => {
  const s = sets[4];
  const d = createOpcDeriver(hex(s.op));
  assert.equal(d.derive(new Uint8Array(hex(s.k))).toString('hex'), s.opc);
  for (let n = 0; n < 20; n++) {
    const ki = randomBytes(16), op = randomBytes(16);
    assert.equal(createOpcDeriver(op).derive(ki).toString('hex'), deriveOpc(ki, op).toString('hex'));
  }
  d.dispose();
  // After dispose the OP copy is zero: the result is OPc for OP = 0.
  assert.equal(d.derive(hex(s.k)).toString('hex'), deriveOpc(hex(s.k), Buffer.alloc(16)).toString('hex'));
});

test('deriveOpc does not modify its inputs', () => {
  const ki = randomBytes(16), op = randomBytes(16);
  const kiCopy = Buffer.from(ki), opCopy = Buffer.from(op);
  deriveOpc(ki, op);
  assert.deepEqual(ki, kiCopy);
  assert.deepEqual(op, opCopy);
});

test('a disposed Milenage refuses to compute', () => {
  const m = new Milenage(randomBytes(16), randomBytes(16));
  m.dispose();
  assert.throws(() => m.f2(randomBytes(16)), { code: 'MILENAGE_DISPOSED' });
});

test('wipe zero-fills every buffer and skips null/undefined', () => {
  const a = randomBytes(16), b = new Uint8Array([1, 2, 3]);
  wipe(a, undefined, b, null);
  assert.ok(a.every((x) => x === 0));
  assert.ok(b.every((x) => x === 0));
});
