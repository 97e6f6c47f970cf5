/**
 * Normalisers for SIM identifiers and keys. Each takes user or file input, trims surrounding
 * whitespace, and returns the canonical form (digits, or lower-case hex) or throws a
 * ValidationError naming the field. No key material ever appears in an error message.
 */
import { timingSafeEqual } from 'node:crypto';
import { ValidationError } from '../errors.js';

const DIGITS = /^[0-9]+$/;

function str(field: string, value: unknown): string {
  if (typeof value !== 'string') {
    throw new ValidationError(field, `expected a string, got ${value === null ? 'null' : typeof value}`);
  }
  return value.trim();
}

function describeNonDigit(s: string): string {
  const i = s.search(/[^0-9]/);
  return `expected digits only, found ${JSON.stringify(s[i])} at position ${i + 1}`;
}

/** IMSI (TS 23.003 §2.2): MCC (3) + MNC (2–3) + MSIN, at most 15 digits; we accept 6–15. */
export function normaliseImsi(value: string): string {
  const s = str('imsi', value);
  if (s === '') throw new ValidationError('imsi', 'is required');
  if (!DIGITS.test(s)) throw new ValidationError('imsi', describeNonDigit(s));
  if (s.length < 6 || s.length > 15) {
    throw new ValidationError('imsi', `expected 6 to 15 digits, got ${s.length}`);
  }
  return s;
}

/** Luhn (ISO/IEC 7812-1 mod 10) check over a digit string whose last digit is the check digit. */
export function luhnValid(digits: string): boolean {
  if (!DIGITS.test(digits) || digits.length < 2) return false;
  return luhnCheckDigit(digits.slice(0, -1)) === digits.charCodeAt(digits.length - 1) - 48;
}

/** The Luhn check digit to append to `body` (digits only). */
export function luhnCheckDigit(body: string): number {
  if (!DIGITS.test(body)) throw new ValidationError('iccid', describeNonDigit(body));
  let sum = 0;
  // Double every second digit counting from the right-most digit of the body.
  for (let i = body.length - 1, double = true; i >= 0; i--, double = !double) {
    let d = body.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

/**
 * ICCID (ITU-T E.118): up to 19 digits of identifier plus one Luhn check digit.
 *
 * The rule we apply:
 *  - 18, 19 or 20 digits whose last digit is a valid Luhn check digit are accepted as printed.
 *  - Some vendors and operators print a 19-digit ICCID that is the identifier WITHOUT its check
 *    digit. A 19-digit value that fails the Luhn check is accepted, unchanged, only when
 *    `allowNoCheckDigit` is set (the caller has said the source omits check digits).
 *    We do not append the computed digit: we store what identifies the card in the source.
 *  - Everything else (wrong length, non-digits, a bad check digit) is refused; the error names
 *    the check digit that would have been valid so a typo can be spotted.
 */
export function normaliseIccid(value: string, opts: { allowNoCheckDigit?: boolean } = {}): string {
  const s = str('iccid', value);
  if (s === '') throw new ValidationError('iccid', 'is required');
  if (!DIGITS.test(s)) throw new ValidationError('iccid', describeNonDigit(s));
  if (s.length < 18 || s.length > 20) {
    throw new ValidationError('iccid', `expected 18 to 20 digits, got ${s.length}`);
  }
  if (luhnValid(s)) return s;
  if (s.length === 19 && opts.allowNoCheckDigit) return s;
  const expected = luhnCheckDigit(s.slice(0, -1));
  throw new ValidationError(
    'iccid',
    `check digit ${s[s.length - 1]} fails the Luhn check (expected ${expected})`,
    s.length === 19 ? 'if this source prints ICCIDs without their check digit, allow that explicitly' : undefined,
  );
}

/**
 * A 128-bit key (Ki, OP, OPc): exactly 32 hex digits, case-insensitive, returned lower-case.
 * No separators (spaces, colons, 0x) are accepted inside the value. An all-zero key is refused:
 * it is what an unprogrammed field or a failed decryption looks like, never a real key.
 */
export function normaliseKey(field: string, value: string): string {
  const s = str(field, value);
  if (s === '') throw new ValidationError(field, 'is required');
  if (s.length !== 32) {
    throw new ValidationError(field, `expected 32 hex digits (16 bytes), got ${s.length} characters`);
  }
  // One pass (bulk imports call this twice per card): hex check, all-zero check, any upper case.
  let nonZero = false;
  let upper = false;
  for (let i = 0; i < 32; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (c !== 48) nonZero = true;
    } else if (c >= 97 && c <= 102) {
      nonZero = true;
    } else if (c >= 65 && c <= 70) {
      nonZero = true;
      upper = true;
    } else {
      throw new ValidationError(field, `expected hex digits only (0-9, a-f), found a non-hex character at position ${i + 1}`);
    }
  }
  if (!nonZero) {
    throw new ValidationError(field, 'is all zeros, which is never a real key', 'check the source file or the transport-key decryption');
  }
  return upper ? s.toLowerCase() : s;
}

/** Authentication management field: exactly 4 hex digits, returned lower-case. */
export function normaliseAmf(value: string): string {
  const s = str('amf', value);
  if (!/^[0-9a-fA-F]{4}$/.test(s)) {
    throw new ValidationError('amf', `expected 4 hex digits (2 bytes), got ${JSON.stringify(s)}`, 'a common value is 8000');
  }
  return s.toLowerCase();
}

export const DEFAULT_SQN = '000000000000';
const SQN_MAX = (1n << 48n) - 1n;

/** Sequence number: exactly 12 hex digits (48 bits), returned lower-case; empty or absent → 000000000000. */
export function normaliseSqn(value?: string | null): string {
  if (value === undefined || value === null) return DEFAULT_SQN;
  const s = str('sqn', value);
  if (s === '') return DEFAULT_SQN;
  if (!/^[0-9a-fA-F]{12}$/.test(s)) {
    throw new ValidationError('sqn', `expected 12 hex digits (6 bytes), got ${JSON.stringify(s)}`, 'use sqnToHex() to convert a number');
  }
  return s.toLowerCase();
}

/** A 48-bit SQN as 12 lower-case hex digits. */
export function sqnToHex(n: bigint): string {
  if (typeof n !== 'bigint' || n < 0n || n > SQN_MAX) {
    throw new ValidationError('sqn', `expected an integer from 0 to 2^48-1, got ${String(n)}`);
  }
  return n.toString(16).padStart(12, '0');
}

/** 12 hex digits → the SQN as a bigint. */
export function sqnFromHex(hex: string): bigint {
  return BigInt('0x' + normaliseSqn(hex));
}

/**
 * MSISDN (optional): 3–15 digits with an optional leading '+'. Absent or empty → undefined.
 * The '+' is kept when given: whether a number without it is national or international is
 * not ours to guess.
 */
export function normaliseMsisdn(value?: string | null): string | undefined {
  if (value === undefined || value === null) return undefined;
  const s = str('msisdn', value);
  if (s === '') return undefined;
  const digits = s.startsWith('+') ? s.slice(1) : s;
  if (!DIGITS.test(digits)) throw new ValidationError('msisdn', describeNonDigit(digits) + ' (after an optional leading +)');
  if (digits.length < 3 || digits.length > 15) {
    throw new ValidationError('msisdn', `expected 3 to 15 digits, got ${digits.length}`);
  }
  return s;
}

/** Refuse an OPc equal to Ki: the sign of a file whose columns were copied or mislabelled. */
export function checkKiOpc(ki: string | Uint8Array, opc: string | Uint8Array): void {
  const a = typeof ki === 'string' ? Buffer.from(normaliseKey('ki', ki), 'hex') : Buffer.from(ki);
  const b = typeof opc === 'string' ? Buffer.from(normaliseKey('opc', opc), 'hex') : Buffer.from(opc);
  const same = a.length === b.length && timingSafeEqual(a, b);
  a.fill(0);
  b.fill(0);
  if (same) {
    throw new ValidationError('opc', 'equals ki; OPc must be derived from OP and Ki, never the same value', 'check the column order of the source file');
  }
}
