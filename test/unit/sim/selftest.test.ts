// The bundled vectors are the 3GPP sets unchanged, and the self-test both passes and can fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MILENAGE_TEST_SETS } from '../../../src/core/sim/milenage-vectors.js';
import { runSelftest } from '../../../src/core/sim/selftest.js';
import { createKeyReader } from '../../../src/core/sim/key-input.js';
import { UsageError } from '../../../src/core/errors.js';

const FIELDS = ['id', 'k', 'rand', 'sqn', 'amf', 'op', 'opc', 'f1', 'f1star', 'f2', 'f3', 'f4', 'f5', 'f5star'] as const;

// SHA-256 of the sets' fields (JSON of [[id, k, rand, …, f5star], …]) as they were in the project's
// original vector file (3GPP TS 35.208 §4.3 sets 1-20, TS 35.207 set 2, each cross-checked against
// independent public implementations); checked identical to this copy on 2026-12-06. A changed
// digit in the bundled copy changes this digest.
const ORIGINAL_SHA256 = 'fcaad749f2fd61f9d01ea8b70c51ab46cd8c547497c7acead53fa6cc05f4fadb';

test('the bundled test sets are the 3GPP sets, unchanged: 20 of TS 35.208 and set 2 of TS 35.207', () => {
  assert.equal(MILENAGE_TEST_SETS.length, 21);
  assert.deepEqual(
    MILENAGE_TEST_SETS.map((s) => s.id),
    [...Array.from({ length: 20 }, (_, i) => `ts35208-set${i + 1}`), 'ts35207-set2'],
  );
  const fields = MILENAGE_TEST_SETS.map((s) => FIELDS.map((f) => (s as unknown as Record<string, string>)[f]));
  assert.equal(createHash('sha256').update(JSON.stringify(fields)).digest('hex'), ORIGINAL_SHA256);
});

test('selftest passes every set', () => {
  const r = runSelftest();
  assert.equal(r.ok, true);
  assert.equal(r.passed, 21);
  assert.equal(r.failed, 0);
  assert.ok(r.sets.every((s) => s.ok && s.failed.length === 0));
});

test('selftest reports a wrong expectation as a failure naming the function', () => {
  const bad = { ...MILENAGE_TEST_SETS[3], f3: '00'.repeat(16), opc: MILENAGE_TEST_SETS[4].opc };
  const r = runSelftest([MILENAGE_TEST_SETS[0], bad]);
  assert.equal(r.ok, false);
  assert.equal(r.passed, 1);
  assert.deepEqual(r.sets[1].failed.slice(0, 2), ['opc', 'f1']);
  assert.ok(r.sets[1].failed.includes('f3'));
  assert.equal(runSelftest([]).ok, false, 'no sets is no pass');
});

test('key reader: flag, file (trimmed), stdin once, unreadable/empty files are usage errors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sipctl-keys-'));
  const p = join(dir, 'ki.hex');
  writeFileSync(p, '  465B5CE8B199B49FAA5F0A2EE238A6BC\r\n', { mode: 0o600 });
  chmodSync(p, 0o600);
  let stdinReads = 0;
  const r = createKeyReader(async () => { stdinReads++; return 'cdc202d5123e20f62b6d676ac72cb318\n'; });
  assert.equal(await r.read({ field: 'ki', flag: '--ki', value: 'abc' }), 'abc');
  // A key given as a flag value works, with a warning naming the flag (never the value): ps shows it.
  assert.equal(r.warnings.length, 1);
  assert.match(r.warnings[0], /^--ki: the value is visible to other users in the process list/);
  assert.ok(!r.warnings[0].includes('abc'));
  r.warnings.length = 0;
  assert.equal(await r.read({ field: 'ki', flag: '--ki', file: p }), '465B5CE8B199B49FAA5F0A2EE238A6BC');
  assert.deepEqual(r.warnings, [], 'a file (or stdin, or the prompt) warns of nothing');
  assert.equal(await r.read({ field: 'ki', flag: '--ki' }), undefined);
  assert.equal(await r.read({ field: 'op', flag: '--op', file: '-' }), 'cdc202d5123e20f62b6d676ac72cb318');
  await assert.rejects(r.read({ field: 'opc', flag: '--opc', file: '-' }), (e: unknown) => e instanceof UsageError && /--opc-file -: standard input is already used by --op-file -/.test(e.message));
  assert.equal(stdinReads, 1);
  await assert.rejects(r.read({ field: 'ki', flag: '--ki', file: join(dir, 'nope') }), (e: unknown) => e instanceof UsageError && /--ki-file: cannot read .*nope \(ENOENT\)/.test(e.message));
  await assert.rejects(r.read({ field: 'ki', flag: '--ki', file: dir }), /cannot read/);
  const empty = join(dir, 'empty');
  writeFileSync(empty, '\n', { mode: 0o600 });
  await assert.rejects(r.read({ field: 'ki', flag: '--ki', file: empty }), /ki: .*holds no value/);
  await assert.rejects(r.read({ field: 'ki', flag: '--ki', value: 'a', file: p }), /one way only/);
  const open = join(dir, 'open');
  writeFileSync(open, 'aa');
  chmodSync(open, 0o644);
  await r.read({ field: 'ki', flag: '--ki', file: open });
  assert.match(r.warnings[0], /can be read by other users/);
  const taken = createKeyReader(async () => '', { stdinTaken: 'the import file (-)' });
  await assert.rejects(taken.read({ field: 'op', flag: '--op', file: '-' }), /already used by the import file/);
});
