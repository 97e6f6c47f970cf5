/**
 * `sipctl sim selftest`: run every bundled 3GPP Milenage test set (TS 35.208 sets 1–20 and
 * TS 35.207 set 2) through this build's OPc derivation, f1–f5*, vector generation and
 * resynchronisation, and say which pass.
 */
import { Milenage, buildAuts, deriveOpc, generateVector, resync, wipe } from './milenage.js';
import { MILENAGE_TEST_SETS, type MilenageTestSet } from './milenage-vectors.js';

export interface SelftestSetResult {
  id: string;
  spec: string;
  ok: boolean;
  /** Names of the checks that failed (opc, f1, f1*, f2, f3, f4, f5, f5*, autn, resync). */
  failed: string[];
}

export interface SelftestResult {
  ok: boolean;
  passed: number;
  failed: number;
  sets: SelftestSetResult[];
}

function hex(s: string): Buffer {
  return Buffer.from(s, 'hex');
}

export function runSet(s: MilenageTestSet): SelftestSetResult {
  const failed: string[] = [];
  const check = (name: string, got: Buffer, want: string) => {
    if (got.toString('hex') !== want) failed.push(name);
  };
  const k = hex(s.k), op = hex(s.op), rand = hex(s.rand), sqn = hex(s.sqn), amf = hex(s.amf);
  try {
    const opc = deriveOpc(k, op);
    check('opc', opc, s.opc);
    const m = new Milenage(k, hex(s.opc));
    try {
      check('f1', m.f1(rand, sqn, amf), s.f1);
      check('f1*', m.f1star(rand, sqn, amf), s.f1star);
      const { res, ck, ik, ak } = m.f2345(rand);
      check('f2', res, s.f2);
      check('f3', ck, s.f3);
      check('f4', ik, s.f4);
      check('f5', ak, s.f5);
      check('f5*', m.f5star(rand), s.f5star);
    } finally {
      m.dispose();
    }
    // AUTN = (SQN ⊕ AK) ‖ AMF ‖ MAC-A, from the published f1 and f5.
    const v = generateVector({ ki: k, opc: hex(s.opc), rand, sqn, amf });
    const autn = Buffer.alloc(16);
    const f5 = hex(s.f5);
    for (let i = 0; i < 6; i++) autn[i] = sqn[i] ^ f5[i];
    amf.copy(autn, 6);
    hex(s.f1).copy(autn, 8);
    check('autn', v.autn, autn.toString('hex'));
    // Resynchronisation round trip: the network recovers SQN_MS from the UE's AUTS.
    const auts = buildAuts({ ki: k, opc: hex(s.opc), rand, sqn });
    check('resync', resync({ ki: k, opc: hex(s.opc), rand, auts }), s.sqn);
    wipe(opc, auts);
  } catch {
    failed.push('exception');
  } finally {
    wipe(k, op);
  }
  return { id: s.id, spec: s.spec, ok: failed.length === 0, failed };
}

export function runSelftest(sets: readonly MilenageTestSet[] = MILENAGE_TEST_SETS): SelftestResult {
  const results = sets.map(runSet);
  const passed = results.filter((r) => r.ok).length;
  return { ok: passed === results.length && results.length > 0, passed, failed: results.length - passed, sets: results };
}
