import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_SQN,
  checkKiOpc,
  luhnCheckDigit,
  luhnValid,
  normaliseAmf,
  normaliseIccid,
  normaliseImsi,
  normaliseKey,
  normaliseMsisdn,
  normaliseSqn,
  sqnFromHex,
  sqnToHex,
} from '../../../src/core/sim/validation.js';
import { ValidationError } from '../../../src/core/errors.js';

/** Assert fn throws a usage-category ValidationError for `field` whose message matches `re`. */
function rejects(fn: () => unknown, field: string, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ValidationError, 'a ValidationError');
    assert.equal(e.field, field);
    assert.equal(e.category, 'usage');
    assert.equal(e.code, 'INVALID_' + field.toUpperCase());
    assert.match(e.message, re);
    return true;
  });
}

const KI = '465b5ce8b199b49faa5f0a2ee238a6bc';
const OPC = 'cd63cb71954a9f4e48a5994e37a02baf';

test('IMSI: 6-15 digits accepted and trimmed', () => {
  assert.equal(normaliseImsi('001010000000001'), '001010000000001');
  assert.equal(normaliseImsi('  262011234567890 '), '262011234567890');
  assert.equal(normaliseImsi('001010'), '001010');
});

test('IMSI: bad values name the field and the problem', () => {
  rejects(() => normaliseImsi(''), 'imsi', /required/);
  rejects(() => normaliseImsi('00101'), 'imsi', /6 to 15 digits, got 5/);
  rejects(() => normaliseImsi('0010100000000012'), 'imsi', /6 to 15 digits, got 16/);
  rejects(() => normaliseImsi('00101000000000x'), 'imsi', /digits only, found "x" at position 15/);
  rejects(() => normaliseImsi('+001010000000001'), 'imsi', /digits only/);
  rejects(() => normaliseImsi(1234567 as unknown as string), 'imsi', /expected a string, got number/);
});

test('Luhn: known-good and bad check digits', () => {
  assert.equal(luhnValid('89014103211118510720'), true);
  assert.equal(luhnValid('89014103211118510721'), false);
  assert.equal(luhnValid('79927398713'), true); // the textbook example
  assert.equal(luhnValid('79927398710'), false);
  assert.equal(luhnValid('8901410321111851072a'), false);
  assert.equal(luhnValid(''), false);
  assert.equal(luhnCheckDigit('8901410321111851072'), 0);
  assert.equal(luhnCheckDigit('7992739871'), 3);
});

test('ICCID: 18-20 digits with a valid Luhn check digit', () => {
  assert.equal(normaliseIccid('89014103211118510720'), '89014103211118510720');
  assert.equal(normaliseIccid(' 8944012401000010014 '), '8944012401000010014');
  const body17 = '89440124010000100';
  assert.equal(normaliseIccid(body17 + luhnCheckDigit(body17)), body17 + luhnCheckDigit(body17));
});

test('ICCID: a bad check digit is refused and the valid one named', () => {
  rejects(() => normaliseIccid('89014103211118510721'), 'iccid', /check digit 1 fails the Luhn check \(expected 0\)/);
  rejects(() => normaliseIccid('8944012401000010015'), 'iccid', /check digit 5 fails the Luhn check \(expected 4\)/);
});

test('ICCID: wrong length or non-digits refused', () => {
  rejects(() => normaliseIccid(''), 'iccid', /required/);
  rejects(() => normaliseIccid('89014103211118510'), 'iccid', /18 to 20 digits, got 17/);
  rejects(() => normaliseIccid('890141032111185107201'), 'iccid', /18 to 20 digits, got 21/);
  rejects(() => normaliseIccid('8901410321111851072F'), 'iccid', /digits only, found "F" at position 20/);
});

test('ICCID: 19 digits without a check digit only when allowNoCheckDigit', () => {
  // The 19-digit identifier of the 20-digit ICCID 89440124010000100158, printed without its check digit 8.
  const noCheck = '8944012401000010015';
  assert.equal(luhnValid(noCheck + '8'), true);
  assert.equal(luhnValid(noCheck), false);
  rejects(() => normaliseIccid(noCheck), 'iccid', /fails the Luhn check/);
  assert.equal(normaliseIccid(noCheck, { allowNoCheckDigit: true }), noCheck);
  // The allowance is for 19 digits only: 18 or 20 digits with a bad check digit are still refused.
  rejects(() => normaliseIccid('89014103211118510721', { allowNoCheckDigit: true }), 'iccid', /Luhn/);
  rejects(() => normaliseIccid('894401240100001002', { allowNoCheckDigit: true }), 'iccid', /Luhn/);
});

test('keys: 32 hex digits, case-insensitive, returned lower-case', () => {
  assert.equal(normaliseKey('ki', KI.toUpperCase()), KI);
  assert.equal(normaliseKey('opc', ` ${OPC}\t`), OPC);
  assert.equal(normaliseKey('op', 'CDC202D5123E20F62B6D676AC72CB318'), 'cdc202d5123e20f62b6d676ac72cb318');
});

test('keys: 31 chars, 33 chars, non-hex, separators and all-zero are refused without echoing the key', () => {
  rejects(() => normaliseKey('ki', KI.slice(1)), 'ki', /expected 32 hex digits \(16 bytes\), got 31 characters/);
  rejects(() => normaliseKey('ki', KI + '0'), 'ki', /got 33 characters/);
  rejects(() => normaliseKey('opc', OPC.slice(0, 31) + 'g'), 'opc', /non-hex character at position 32/);
  rejects(() => normaliseKey('ki', '46:5b:5c:e8:b1:99:b4:9f:aa:5f:0a:2e:e2:38:a6:bc'), 'ki', /got 47 characters/);
  rejects(() => normaliseKey('ki', '465b5ce8 b199b49f aa5f0a2e e238a'), 'ki', /non-hex character at position 9/);
  rejects(() => normaliseKey('op', '0'.repeat(32)), 'op', /all zeros/);
  rejects(() => normaliseKey('ki', ''), 'ki', /required/);
  try {
    normaliseKey('ki', KI.slice(0, 31) + 'z');
  } catch (e) {
    assert.ok(!(e as Error).message.includes(KI.slice(0, 31)), 'the key is not echoed in the message');
  }
});

test('AMF: 4 hex digits', () => {
  assert.equal(normaliseAmf('8000'), '8000');
  assert.equal(normaliseAmf('B9B9'), 'b9b9');
  rejects(() => normaliseAmf('800'), 'amf', /4 hex digits/);
  rejects(() => normaliseAmf('80000'), 'amf', /4 hex digits/);
  rejects(() => normaliseAmf('80g0'), 'amf', /4 hex digits/);
  rejects(() => normaliseAmf(''), 'amf', /4 hex digits/);
});

test('SQN: 12 hex digits, defaulting to zero; bigint conversions', () => {
  assert.equal(normaliseSqn(), DEFAULT_SQN);
  assert.equal(normaliseSqn(undefined), '000000000000');
  assert.equal(normaliseSqn(''), '000000000000');
  assert.equal(normaliseSqn('FF9BB4D0B607'), 'ff9bb4d0b607');
  rejects(() => normaliseSqn('12345'), 'sqn', /12 hex digits/);
  rejects(() => normaliseSqn('ff9bb4d0b6070'), 'sqn', /12 hex digits/);
  rejects(() => normaliseSqn('ff9bb4d0b60x'), 'sqn', /12 hex digits/);
  assert.equal(sqnToHex(0n), '000000000000');
  assert.equal(sqnToHex(32n), '000000000020');
  assert.equal(sqnToHex((1n << 48n) - 1n), 'ffffffffffff');
  rejects(() => sqnToHex(1n << 48n), 'sqn', /0 to 2\^48-1/);
  rejects(() => sqnToHex(-1n), 'sqn', /0 to 2\^48-1/);
  assert.equal(sqnFromHex('ff9bb4d0b607'), 0xff9bb4d0b607n);
  for (const n of [0n, 1n, 0x20n, 0xff9bb4d0b607n]) assert.equal(sqnFromHex(sqnToHex(n)), n);
});

test('MSISDN: optional, 3-15 digits with an optional leading +', () => {
  assert.equal(normaliseMsisdn(undefined), undefined);
  assert.equal(normaliseMsisdn(''), undefined);
  assert.equal(normaliseMsisdn('+447700900001'), '+447700900001');
  assert.equal(normaliseMsisdn(' 07700900001 '), '07700900001');
  assert.equal(normaliseMsisdn('112'), '112');
  rejects(() => normaliseMsisdn('12'), 'msisdn', /3 to 15 digits, got 2/);
  rejects(() => normaliseMsisdn('+1234567890123456'), 'msisdn', /3 to 15 digits, got 16/);
  rejects(() => normaliseMsisdn('+44 7700 900001'), 'msisdn', /digits only/);
  rejects(() => normaliseMsisdn('++447700900001'), 'msisdn', /digits only/);
});

test('checkKiOpc refuses OPc equal to Ki (hex in any case, or bytes)', () => {
  assert.doesNotThrow(() => checkKiOpc(KI, OPC));
  rejects(() => checkKiOpc(KI, KI), 'opc', /equals ki/);
  rejects(() => checkKiOpc(KI, KI.toUpperCase()), 'opc', /equals ki/);
  rejects(() => checkKiOpc(Buffer.from(KI, 'hex'), Buffer.from(KI, 'hex')), 'opc', /equals ki/);
  rejects(() => checkKiOpc(KI, Buffer.from(KI, 'hex')), 'opc', /equals ki/);
  assert.doesNotThrow(() => checkKiOpc(Buffer.from(KI, 'hex'), Buffer.from(OPC, 'hex')));
});
