// The uafilter module (issue 13 rule 2) in process, on a real SQLite database: patterns loaded
// and compiled, an invalid one skipped, scoping by group ('' = everyone), no patterns = no
// effect, reload swapping the rules in; and the CLI-side validation of patterns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ModuleRegistry } from '../../../src/daemon/kernel/module-registry.js';
import { createUafilterModule, type UafilterApi } from '../../../src/daemon/modules/uafilter/uafilter-module.js';
import { addUaRule, checkUserAgent, compileUaRule, listUaRules, removeUaRule } from '../../../src/core/uafilter/uafilter.js';
import { ValidationError } from '../../../src/core/errors.js';
import { createTestDb } from '../../helpers/db.js';

const REFUSED = { status: 403, reason: 'User-Agent not allowed' };

test('uafilter: group-scoped allow patterns, invalid pattern skipped, no patterns no effect, reload', async () => {
  const tdb = await createTestDb('sqlite');
  const db = await tdb.open();
  try {
    await db.execute("INSERT INTO grp (username, domain, grp) VALUES ('alice', 'example.com', 'phones'), ('carol', 'example.com', 'softphones')");
    await db.execute("INSERT INTO sipd_ua_allow (grp, pattern, description) VALUES ('phones', '^Yealink SIP-T4[0-9]', 'desk phones'), ('phones', '^Polycom', ''), ('phones', '([bad', 'invalid'), ('softphones', 'Linphone', '')");
    const mod = createUafilterModule({ db });
    const reg = new ModuleRegistry();
    reg.register(mod);
    await reg.initAll();
    const api = mod.api as UafilterApi;
    const list = (await mod.rpc!['uafilter.list'].handler({} as never)) as Array<{ id: number; pattern: string }>;
    assert.deepEqual(list.map((r) => r.pattern), ['^Yealink SIP-T4[0-9]', '^Polycom', 'Linphone'], 'the invalid pattern is skipped at load');
    assert.equal(api.check('alice', 'Yealink SIP-T46S 66.85.0.5', 'REGISTER', '192.0.2.1'), undefined, 'matches its group');
    assert.equal(api.check('alice', 'Polycom/5.9', 'INVITE'), undefined, 'any pattern of the group');
    assert.deepEqual(api.check('alice', 'friendly-scanner', 'REGISTER', '192.0.2.1'), REFUSED);
    assert.deepEqual(api.check('alice', 'Linphone/5.0', 'INVITE'), REFUSED, 'another group\'s pattern does not count');
    assert.deepEqual(api.check('alice', '', 'REGISTER'), REFUSED, 'no User-Agent at all: refused');
    assert.equal(api.check('carol', 'Linphone/5.0 (belle-sip)', 'REGISTER'), undefined);
    assert.equal(api.check('bob', 'anything', 'REGISTER'), undefined, 'in no group with patterns: no effect');
    const rpcCheck = (await mod.rpc!['uafilter.check'].handler({ ua: 'sipvicious', user: 'alice' } as never)) as { allowed: boolean; applicable: number[] };
    assert.equal(rpcCheck.allowed, false);
    assert.equal(rpcCheck.applicable.length, 2);
    // '' = every subscriber
    await db.execute("INSERT INTO sipd_ua_allow (grp, pattern, description) VALUES ('', '^Acme', 'house brand')");
    await api.reload();
    assert.deepEqual(api.check('bob', 'anything', 'REGISTER'), REFUSED, 'a pattern for everyone now applies to bob');
    assert.equal(api.check('bob', 'Acme 1.0', 'REGISTER'), undefined);
    assert.equal(api.check('alice', 'Acme 1.0', 'REGISTER'), undefined, 'everyone\'s patterns add to the group\'s');
    await db.execute('DELETE FROM sipd_ua_allow');
    await api.reload();
    assert.equal(api.check('alice', 'friendly-scanner', 'REGISTER'), undefined, 'no patterns: no effect');
    await reg.destroyAll();
  } finally {
    await db.close();
    await tdb.drop();
  }
});

test('uafilter core: invalid regular expressions refused (exit 2), add/list/rm', async () => {
  assert.throws(() => compileUaRule({ id: 1, grp: '', pattern: '([bad', description: '' }), (e: unknown) => e instanceof ValidationError && e.exitCode === 2);
  assert.throws(() => compileUaRule({ id: 1, grp: '', pattern: '', description: '' }), ValidationError);
  const rules = [compileUaRule({ id: 1, grp: 'g', pattern: 'X', description: '' })];
  assert.deepEqual(checkUserAgent(rules, new Set(['g']), 'aXb'), { allowed: true, applicable: [1], matched: 1 });
  assert.deepEqual(checkUserAgent(rules, new Set(), 'zzz'), { allowed: true, applicable: [] });
  const tdb = await createTestDb('sqlite');
  const db = await tdb.open();
  try {
    await assert.rejects(addUaRule(db, { grp: 'phones', pattern: '(' }), ValidationError);
    assert.deepEqual(await listUaRules(db), [], 'nothing written on a bad pattern');
    const r = await addUaRule(db, { grp: 'phones', pattern: '^Yealink', description: 'desk' });
    assert.deepEqual(await listUaRules(db), [{ id: r.id, grp: 'phones', pattern: '^Yealink', description: 'desk' }]);
    await removeUaRule(db, r.id);
    assert.deepEqual(await listUaRules(db), []);
    await assert.rejects(removeUaRule(db, r.id), (e: unknown) => (e as { exitCode?: number }).exitCode === 3);
  } finally {
    await db.close();
    await tdb.drop();
  }
});
