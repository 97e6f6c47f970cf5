// The dialplan table (src/core/dialplan/) on SQLite and MariaDB, and the PCRE check.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDb, forEachEngine } from '../../helpers/db.js';
import type { Database } from '../../../src/core/db/database.js';
import { addDialplan, listDialplan, removeDialplan, validateDialplan } from '../../../src/core/dialplan/dialplan.js';
import { checkPcre } from '../../../src/core/dialplan/pcre.js';
import { SipctlError } from '../../../src/core/errors.js';

const code = (c: string, cat = 'usage') => (e: unknown) => e instanceof SipctlError && e.code === c && e.category === cat;

test('checkPcre: the common subset passes with its group count; PCRE-only, JS-only and broken patterns are refused', () => {
  assert.equal(checkPcre('match_exp', '^00([1-9][0-9]+)$'), 1);
  assert.equal(checkPcre('match_exp', '^(\\+|00)?(49)([[:digit:]]{3,})$'), 3);
  assert.equal(checkPcre('match_exp', '^(?:0|\\+49)(?=1)(\\d+)$'), 1);
  assert.equal(checkPcre('match_exp', '911'), 0);
  for (const bad of ['^\\d++$', '(?>ab)', '(?i)abc', '\\Aabc\\Z', '(?<=a+)b', '\\x{41}', '\\u0041', '(?R)', '^(a', '[9-0]', 'a{2,1}', '\\Qa.b\\E']) {
    assert.throws(() => checkPcre('match_exp', bad), code('INVALID_MATCH_EXP'), bad);
  }
});

test('validateDialplan: defaults, back-references need their group, lengths', () => {
  assert.deepEqual(validateDialplan({ dpid: 1, match: '^00(.*)$', replace: '+\\1' }), { dpid: 1, pr: 0, matchOp: 'regexp', matchExp: '^00(.*)$', matchLen: 0, substExp: '^00(.*)$', replExp: '+\\1', attrs: '' });
  assert.deepEqual(validateDialplan({ dpid: '2', match: '911', replace: '112', matchOp: 'equal', priority: '3', attrs: 'sos' }), { dpid: 2, pr: 3, matchOp: 'equal', matchExp: '911', matchLen: 3, substExp: '', replExp: '112', attrs: 'sos' });
  assert.throws(() => validateDialplan({ dpid: 1, match: '^00.*$', replace: '+\\1' }), code('INVALID_REPL_EXP'));
  assert.throws(() => validateDialplan({ dpid: 1, match: '^00(.*)$', replace: '+\\2' }), code('INVALID_REPL_EXP'));
  assert.throws(() => validateDialplan({ dpid: 1, match: 'x'.repeat(65), replace: '' }), code('INVALID_MATCH_EXP'));
  assert.throws(() => validateDialplan({ dpid: 1, match: '', replace: '' }), code('INVALID_MATCH_EXP'));
  assert.throws(() => validateDialplan({ dpid: 'x', match: 'a', replace: '' }), code('INVALID_DPID'));
  assert.throws(() => validateDialplan({ dpid: 1, match: 'a', replace: '', matchOp: 'glob' }), code('INVALID_MATCH_OP'));
  assert.throws(() => validateDialplan({ dpid: 1, match: '^a', replace: '', subst: '(?i)a' }), code('INVALID_SUBST_EXP'));
});

forEachEngine('dialplan table', (engine, track) => {
  let db: Database;
  before(async () => {
    db = await track(await createTestDb(engine)).open();
  });
  after(async () => db?.close());

  test('add, conflict, dry run, list in priority order, rm one, rm all, rm of missing', async () => {
    await addDialplan(db, { dpid: 1, match: '^0([1-9][0-9]+)$', replace: '+49\\1', priority: 2 });
    await addDialplan(db, { dpid: 1, match: '^00([1-9][0-9]+)$', replace: '+\\1', priority: 1, attrs: 'intl' });
    await assert.rejects(addDialplan(db, { dpid: 1, match: '^00([1-9][0-9]+)$', replace: 'x', priority: 1 }), code('DIALPLAN_EXISTS', 'conflict'));
    await addDialplan(db, { dpid: 2, match: '911', replace: '112', matchOp: 'equal' }, { dryRun: true });
    const rows = await listDialplan(db);
    assert.deepEqual(rows.map((r) => [r.dpid, r.pr, r.matchOp, r.matchExp, r.replExp, r.attrs]), [[1, 1, 'regexp', '^00([1-9][0-9]+)$', '+\\1', 'intl'], [1, 2, 'regexp', '^0([1-9][0-9]+)$', '+49\\1', '']]);
    assert.equal((await removeDialplan(db, 1, '^0([1-9][0-9]+)$')).entries.length, 1);
    await assert.rejects(removeDialplan(db, 1, '^0([1-9][0-9]+)$'), code('DIALPLAN_NOT_FOUND', 'not-found'));
    assert.equal((await removeDialplan(db, 1, undefined, { dryRun: true })).entries.length, 1);
    await removeDialplan(db, 1, undefined);
    assert.deepEqual(await listDialplan(db, { dpid: 1 }), []);
  });
});
