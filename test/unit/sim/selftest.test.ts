// The bundled vectors are the shared 3GPP file, and the self-test both passes and can fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MILENAGE_TEST_SETS } from '../../../src/core/sim/milenage-vectors.js';
import { runSelftest } from '../../../src/core/sim/selftest.js';
import { createKeyReader } from '../../../src/core/sim/key-input.js';
import { UsageError } from '../../../src/core/errors.js';

const FIELDS = ['id', 'k', 'rand', 'sqn', 'amf', 'op', 'opc', 'f1', 'f1star', 'f2', 'f3', 'f4', 'f5', 'f5star'] as const;

test('the bundled test sets are exactly the shared 3GPP vector file', () => {
  const shared = JSON.parse(readFileSync(new URL('../../../../shared/milenage-vectors.json', import.meta.url), 'utf8')) as Array<Record<string, string>>;
  assert.equal(MILENAGE_TEST_SETS.length, shared.length);
  assert.equal(MILENAGE_TEST_SETS.length, 21);
  shared.forEach((s, i) => {
    for (const f of FIELDS) assert.equal((MILENAGE_TEST_SETS[i] as unknown as Record<string, string>)[f], s[f], `${s.id} ${f}`);
  });
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
  assert.equal(await r.read({ field: 'ki', flag: '--ki', file: p }), '465B5CE8B199B49FAA5F0A2EE238A6BC');
  assert.deepEqual(r.warnings, []);
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
