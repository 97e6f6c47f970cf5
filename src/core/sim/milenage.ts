/**
 * 3GPP TS 35.206 Milenage (f1, f1*, f2, f3, f4, f5, f5*) and the OPc derivation,
 * on node:crypto AES-128 in ECB mode (one 16-byte block at a time, no padding).
 *
 * Bytes in, bytes out. Every input is length-checked and a bad one raises a
 * ValidationError naming the field ("ki: expected 16 bytes, got 15"). Nothing
 * here logs, reads the environment or keeps key material beyond the object that
 * was given it; callers wipe their own buffers with `wipe()` when done.
 *
 * The algorithm (TS 35.206 §4.1), with E_K = AES-128 under the subscriber key K:
 *   OPc  = OP ⊕ E_K(OP)
 *   TEMP = E_K(RAND ⊕ OPc)
 *   IN1  = SQN ‖ AMF ‖ SQN ‖ AMF
 *   OUT1 = E_K(TEMP ⊕ rot(IN1 ⊕ OPc, r1) ⊕ c1) ⊕ OPc   f1 = OUT1[0..7], f1* = OUT1[8..15]
 *   OUT2 = E_K(rot(TEMP ⊕ OPc, r2) ⊕ c2) ⊕ OPc         f5 = OUT2[0..5], f2 = OUT2[8..15]
 *   OUT3 = E_K(rot(TEMP ⊕ OPc, r3) ⊕ c3) ⊕ OPc         f3 = OUT3
 *   OUT4 = E_K(rot(TEMP ⊕ OPc, r4) ⊕ c4) ⊕ OPc         f4 = OUT4
 *   OUT5 = E_K(rot(TEMP ⊕ OPc, r5) ⊕ c5) ⊕ OPc         f5* = OUT5[0..5]
 * with r1..r5 = 64, 0, 32, 64, 96 bits (rotate left) and c1..c5 = 0, 1, 2, 4, 8
 * (128-bit constants; only the last byte is non-zero).
 *
 * Vectors: test/unit/sim/milenage.test.ts runs every set in the shared
 * TS 35.207/35.208 vector file.
 */
import { createCipheriv, randomBytes, timingSafeEqual, type Cipher } from 'node:crypto';
import { SipctlError, ValidationError } from '../errors.js';

/** Sizes in bytes, as named in TS 33.102 / TS 35.206. */
export const SIZES = {
  ki: 16, op: 16, opc: 16, rand: 16, sqn: 6, amf: 2,
  macA: 8, macS: 8, res: 8, ck: 16, ik: 16, ak: 6, autn: 16, auts: 14,
} as const;

/** Rotation amounts r1..r5 in bytes (the spec gives bits: 64, 0, 32, 64, 96). */
const R_BYTES = [8, 0, 4, 8, 12] as const;
/** Last byte of constants c1..c5 (the other 15 bytes are zero). */
const C_LAST = [0, 1, 2, 4, 8] as const;

/** The resynchronisation procedure uses a dummy AMF of 0x0000 in f1* (TS 33.102 §6.3.3). */
const RESYNC_AMF = Buffer.alloc(2);

/** AUTS carried a MAC-S that does not verify: wrong key/OPc, wrong RAND, or a tampered AUTS. */
export class AutsMacMismatchError extends SipctlError {
  override name = 'AutsMacMismatchError';
  constructor() {
    super('AUTS_MAC_MISMATCH', 'AUTS: MAC-S does not verify for this Ki/OPc and RAND', {
      category: 'usage',
      hint: 'check that AUTS was produced for this RAND by the card holding this Ki and OPc',
    });
  }
}

/** Throw a ValidationError unless `value` is a byte buffer of exactly `len` bytes. */
export function checkBytes(field: string, value: unknown, len: number): asserts value is Buffer {
  if (!(value instanceof Uint8Array)) {
    throw new ValidationError(field, `expected ${len} bytes as a Buffer, got ${value === null ? 'null' : typeof value}`);
  }
  if (value.length !== len) {
    throw new ValidationError(field, `expected ${len} bytes, got ${value.length}`);
  }
}

/** Accept any Uint8Array but work on a Buffer view of the same memory (no copy). */
function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.length);
}

/** Strict hex → bytes: Buffer.from(x, 'hex') silently stops at the first bad character. */
export function hexToBytes(field: string, hex: string, len: number): Buffer {
  if (typeof hex !== 'string') {
    throw new ValidationError(field, `expected ${len * 2} hex digits, got ${hex === null ? 'null' : typeof hex}`);
  }
  if (hex.length !== len * 2) {
    throw new ValidationError(field, `expected ${len * 2} hex digits (${len} bytes), got ${hex.length} characters`);
  }
  if (!/^[0-9a-fA-F]*$/.test(hex)) {
    throw new ValidationError(field, `expected hex digits only (0-9, a-f)`);
  }
  return Buffer.from(hex, 'hex');
}

/** Zero-fill every given buffer (null/undefined are skipped). */
export function wipe(...bufs: Array<Uint8Array | null | undefined>): void {
  for (const b of bufs) if (b) b.fill(0);
}

/** One AES-128-ECB encryptor for key `ki`. ECB with no padding encrypts each full block independently,
 *  so the same cipher object serves every block computed under this key. */
function ecbEncryptor(ki: Buffer): Cipher {
  const c = createCipheriv('aes-128-ecb', ki, null);
  c.setAutoPadding(false);
  return c;
}

/**
 * OPc = OP ⊕ E_K(OP) (TS 35.206 §4.1). Returns a new 16-byte Buffer.
 * One AES key schedule per call is inherent (the key changes with every card);
 * beyond that this allocates only the output block.
 */
export function deriveOpc(ki: Uint8Array, op: Uint8Array): Buffer {
  checkBytes('ki', ki, 16);
  checkBytes('op', op, 16);
  const c = createCipheriv('aes-128-ecb', ki, null);
  c.setAutoPadding(false);
  const out = c.update(op);
  for (let i = 0; i < 16; i++) out[i] ^= op[i];
  return out;
}

/**
 * A deriver bound to one operator OP, for bulk work (one OP, many Ki): OP is checked and
 * copied once; each call checks Ki and returns OPc. Call `dispose()` to wipe the OP copy.
 */
export function createOpcDeriver(op: Uint8Array): { derive(ki: Uint8Array): Buffer; dispose(): void } {
  checkBytes('op', op, 16);
  const opCopy = Buffer.from(op);
  return {
    derive(ki: Uint8Array): Buffer {
      checkBytes('ki', ki, 16);
      const c = createCipheriv('aes-128-ecb', ki, null);
      c.setAutoPadding(false);
      const out = c.update(opCopy);
      for (let i = 0; i < 16; i++) out[i] ^= opCopy[i];
      return out;
    },
    dispose(): void {
      opCopy.fill(0);
    },
  };
}

/** deriveOpc for hex strings (case-insensitive in, lower-case out); intermediate buffers are wiped. */
export function deriveOpcHex(kiHex: string, opHex: string): string {
  const ki = hexToBytes('ki', kiHex, 16);
  const op = hexToBytes('op', opHex, 16);
  const opc = deriveOpc(ki, op);
  const hex = opc.toString('hex');
  wipe(ki, op, opc);
  return hex;
}

/** Results of f2..f5 for one RAND (they share TEMP). */
export interface F2345 {
  /** f2: RES / XRES, 8 bytes. */
  res: Buffer;
  /** f3: cipher key CK, 16 bytes. */
  ck: Buffer;
  /** f4: integrity key IK, 16 bytes. */
  ik: Buffer;
  /** f5: anonymity key AK, 6 bytes. */
  ak: Buffer;
}

/**
 * Milenage bound to one subscriber key K and OPc. Holds one AES encryptor and a copy of OPc;
 * `dispose()` wipes the OPc copy (the key schedule inside node's cipher object cannot be wiped
 * from JavaScript; drop the object to release it).
 */
export class Milenage {
  readonly #enc: Cipher;
  readonly #opc: Buffer;
  #disposed = false;

  constructor(ki: Uint8Array, opc: Uint8Array) {
    checkBytes('ki', ki, 16);
    checkBytes('opc', opc, 16);
    this.#enc = ecbEncryptor(asBuffer(ki));
    this.#opc = Buffer.from(opc);
  }

  /** Build from K and OP (derives OPc internally and wipes the intermediate). */
  static fromOp(ki: Uint8Array, op: Uint8Array): Milenage {
    const opc = deriveOpc(ki, op);
    try {
      return new Milenage(ki, opc);
    } finally {
      wipe(opc);
    }
  }

  /** E_K of one 16-byte block. */
  #e(block: Buffer): Buffer {
    if (this.#disposed) throw new SipctlError('MILENAGE_DISPOSED', 'Milenage instance used after dispose()');
    const out = this.#enc.update(block);
    if (out.length !== 16) throw new SipctlError('MILENAGE_AES', `AES returned ${out.length} bytes for one block`);
    return out;
  }

  /** TEMP = E_K(RAND ⊕ OPc). */
  #temp(rand: Uint8Array): Buffer {
    checkBytes('rand', rand, 16);
    const x = Buffer.allocUnsafe(16);
    for (let i = 0; i < 16; i++) x[i] = rand[i] ^ this.#opc[i];
    const t = this.#e(x);
    wipe(x);
    return t;
  }

  /** OUT1 (f1 ‖ f1*) for one RAND/SQN/AMF. */
  #out1(rand: Uint8Array, sqn: Uint8Array, amf: Uint8Array): Buffer {
    checkBytes('sqn', sqn, 6);
    checkBytes('amf', amf, 2);
    const temp = this.#temp(rand);
    const in1 = Buffer.allocUnsafe(16);
    for (let i = 0; i < 6; i++) { in1[i] = sqn[i]; in1[i + 8] = sqn[i]; }
    in1[6] = amf[0]; in1[7] = amf[1]; in1[14] = amf[0]; in1[15] = amf[1];
    // x = TEMP ⊕ rot(IN1 ⊕ OPc, r1) ⊕ c1   (c1 = 0)
    const x = Buffer.allocUnsafe(16);
    const r = R_BYTES[0];
    for (let i = 0; i < 16; i++) {
      const j = (i + r) & 15;
      x[i] = temp[i] ^ in1[j] ^ this.#opc[j];
    }
    x[15] ^= C_LAST[0];
    const out = this.#e(x);
    for (let i = 0; i < 16; i++) out[i] ^= this.#opc[i];
    wipe(temp, in1, x);
    return out;
  }

  /** OUTk for k = 2..5: E_K(rot(TEMP ⊕ OPc, rk) ⊕ ck) ⊕ OPc. */
  #outK(temp: Buffer, k: 2 | 3 | 4 | 5): Buffer {
    const r = R_BYTES[k - 1];
    const x = Buffer.allocUnsafe(16);
    for (let i = 0; i < 16; i++) {
      const j = (i + r) & 15;
      x[i] = temp[j] ^ this.#opc[j];
    }
    x[15] ^= C_LAST[k - 1];
    const out = this.#e(x);
    for (let i = 0; i < 16; i++) out[i] ^= this.#opc[i];
    wipe(x);
    return out;
  }

  /** f1: network authentication code MAC-A (8 bytes). */
  f1(rand: Uint8Array, sqn: Uint8Array, amf: Uint8Array): Buffer {
    const out = this.#out1(rand, sqn, amf);
    const mac = Buffer.from(out.subarray(0, 8));
    wipe(out);
    return mac;
  }

  /** f1*: resynchronisation authentication code MAC-S (8 bytes). */
  f1star(rand: Uint8Array, sqn: Uint8Array, amf: Uint8Array): Buffer {
    const out = this.#out1(rand, sqn, amf);
    const mac = Buffer.from(out.subarray(8, 16));
    wipe(out);
    return mac;
  }

  /** f2, f3, f4 and f5 together (they share TEMP): RES, CK, IK, AK. */
  f2345(rand: Uint8Array): F2345 {
    const temp = this.#temp(rand);
    const out2 = this.#outK(temp, 2);
    const res = Buffer.from(out2.subarray(8, 16));
    const ak = Buffer.from(out2.subarray(0, 6));
    const ck = this.#outK(temp, 3);
    const ik = this.#outK(temp, 4);
    wipe(temp, out2);
    return { res, ck, ik, ak };
  }

  /** f2: RES / XRES (8 bytes). */
  f2(rand: Uint8Array): Buffer {
    const temp = this.#temp(rand);
    const out2 = this.#outK(temp, 2);
    const res = Buffer.from(out2.subarray(8, 16));
    wipe(temp, out2);
    return res;
  }

  /** f3: cipher key CK (16 bytes). */
  f3(rand: Uint8Array): Buffer {
    const temp = this.#temp(rand);
    const ck = this.#outK(temp, 3);
    wipe(temp);
    return ck;
  }

  /** f4: integrity key IK (16 bytes). */
  f4(rand: Uint8Array): Buffer {
    const temp = this.#temp(rand);
    const ik = this.#outK(temp, 4);
    wipe(temp);
    return ik;
  }

  /** f5: anonymity key AK (6 bytes). */
  f5(rand: Uint8Array): Buffer {
    const temp = this.#temp(rand);
    const out2 = this.#outK(temp, 2);
    const ak = Buffer.from(out2.subarray(0, 6));
    wipe(temp, out2);
    return ak;
  }

  /** f5*: anonymity key for resynchronisation AK* (6 bytes). */
  f5star(rand: Uint8Array): Buffer {
    const temp = this.#temp(rand);
    const out5 = this.#outK(temp, 5);
    const ak = Buffer.from(out5.subarray(0, 6));
    wipe(temp, out5);
    return ak;
  }

  /** Wipe the OPc copy; further calls throw. */
  dispose(): void {
    this.#opc.fill(0);
    this.#disposed = true;
  }
}

/** An authentication vector (TS 33.102 §6.3.2). */
export interface AuthVector {
  rand: Buffer;
  xres: Buffer;
  ck: Buffer;
  ik: Buffer;
  ak: Buffer;
  /** AUTN = (SQN ⊕ AK) ‖ AMF ‖ MAC-A, 16 bytes. */
  autn: Buffer;
}

export interface VectorInput {
  ki: Uint8Array;
  opc: Uint8Array;
  /** 16 bytes; a fresh crypto.randomBytes(16) when omitted. */
  rand?: Uint8Array;
  /** 6 bytes, big-endian. */
  sqn: Uint8Array;
  /** 2 bytes. */
  amf: Uint8Array;
}

/** Generate one authentication vector: RAND, XRES, CK, IK, AK and AUTN = (SQN ⊕ AK) ‖ AMF ‖ MAC-A. */
export function generateVector(input: VectorInput): AuthVector {
  const rand = input.rand === undefined ? randomBytes(16) : Buffer.from(checkedRand(input.rand));
  checkBytes('sqn', input.sqn, 6);
  checkBytes('amf', input.amf, 2);
  const m = new Milenage(input.ki, input.opc);
  try {
    const macA = m.f1(rand, input.sqn, input.amf);
    const { res, ck, ik, ak } = m.f2345(rand);
    const autn = Buffer.allocUnsafe(16);
    for (let i = 0; i < 6; i++) autn[i] = input.sqn[i] ^ ak[i];
    autn[6] = input.amf[0];
    autn[7] = input.amf[1];
    macA.copy(autn, 8);
    wipe(macA);
    return { rand, xres: res, ck, ik, ak, autn };
  } finally {
    m.dispose();
  }
}

function checkedRand(rand: Uint8Array): Uint8Array {
  checkBytes('rand', rand, 16);
  return rand;
}

/**
 * UE side of resynchronisation (TS 33.102 §6.3.3, for tests):
 * AUTS = (SQN_MS ⊕ AK*) ‖ MAC-S, with MAC-S = f1*(K, SQN_MS, RAND, AMF = 0x0000) and AK* = f5*(K, RAND).
 */
export function buildAuts(input: { ki: Uint8Array; opc: Uint8Array; rand: Uint8Array; sqn: Uint8Array }): Buffer {
  checkBytes('rand', input.rand, 16);
  checkBytes('sqn', input.sqn, 6);
  const m = new Milenage(input.ki, input.opc);
  try {
    const akStar = m.f5star(input.rand);
    const macS = m.f1star(input.rand, input.sqn, RESYNC_AMF);
    const auts = Buffer.allocUnsafe(14);
    for (let i = 0; i < 6; i++) auts[i] = input.sqn[i] ^ akStar[i];
    macS.copy(auts, 6);
    wipe(akStar, macS);
    return auts;
  } finally {
    m.dispose();
  }
}

/**
 * Network side of resynchronisation (TS 33.102 §6.3.5): recover SQN_MS from AUTS and verify MAC-S
 * (f1* with the dummy AMF 0x0000). Returns SQN_MS (6 bytes); throws AutsMacMismatchError
 * (code AUTS_MAC_MISMATCH) when MAC-S does not verify.
 */
export function resync(input: { ki: Uint8Array; opc: Uint8Array; rand: Uint8Array; auts: Uint8Array }): Buffer {
  checkBytes('rand', input.rand, 16);
  checkBytes('auts', input.auts, 14);
  const m = new Milenage(input.ki, input.opc);
  try {
    const akStar = m.f5star(input.rand);
    const sqnMs = Buffer.allocUnsafe(6);
    for (let i = 0; i < 6; i++) sqnMs[i] = input.auts[i] ^ akStar[i];
    const expected = m.f1star(input.rand, sqnMs, RESYNC_AMF);
    const ok = timingSafeEqual(expected, asBuffer(input.auts).subarray(6, 14));
    wipe(akStar, expected);
    if (!ok) {
      wipe(sqnMs);
      throw new AutsMacMismatchError();
    }
    return sqnMs;
  } finally {
    m.dispose();
  }
}
